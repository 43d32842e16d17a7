//! `orgops completions SHELL` (clap_complete) and `orgops man [-o DIR]` (clap_mangen): both
//! generated from the clap model, so they never fall behind the flags.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs, ManArgs, Shell};
use crate::exit::ExitStatus;

pub fn completions(args: CompletionsArgs) -> ExitStatus {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "orgops", &mut script);
    finish(
        std::io::stdout()
            .write_all(&script)
            .context("writing to stdout"),
    )
}

pub fn man(args: ManArgs) -> ExitStatus {
    let result = match &args.out {
        Some(dir) => std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))
            .and_then(|()| {
                clap_mangen::generate_to(Cli::command(), dir)
                    .with_context(|| format!("writing the man pages into {}", dir.display()))
            })
            .and_then(|()| {
                let path = dir.join("orgops.1");
                std::fs::write(&path, root_page()?)
                    .with_context(|| format!("writing {}", path.display()))
            })
            .map(|()| {
                eprintln!(
                    "wrote orgops.1 and a page per subcommand to {}",
                    dir.display()
                )
            }),
        None => root_page().and_then(|page| {
            std::io::stdout()
                .write_all(&page)
                .context("writing to stdout")
        }),
    };
    finish(result)
}

/// orgops(1): clap_mangen's page, with the exit-code table (`after_help`) under EXIT STATUS,
/// where man pages keep it, instead of clap_mangen's EXTRA.
fn root_page() -> anyhow::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("rendering the man page")?;
    let page = String::from_utf8(page).context("the man page is not UTF-8")?;
    Ok(page
        .replacen(".SH EXTRA\nExit codes:\n", ".SH \"EXIT STATUS\"\n.nf\n", 1)
        .replacen("\n.SH VERSION\n", "\n.fi\n.SH VERSION\n", 1)
        .into_bytes())
}

fn finish(result: anyhow::Result<()>) -> ExitStatus {
    match result {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Failure
        }
    }
}
