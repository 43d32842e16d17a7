//! One file per subcommand; each is glue over one operation and returns an [`ExitStatus`].

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::printer::Printer;

pub mod access;
pub mod apply;
pub mod audit;
pub mod completions;
pub mod costs;
pub mod drift;
pub mod emulator;
pub mod export;
pub mod fmt;
pub mod github;
pub mod graph;
pub mod plan;
pub mod show;
pub mod validate;

pub fn run(mut cli: Cli) -> ExitStatus {
    if let Some(dir) = &cli.directory
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!(
            "error: -C {}: cannot change to that directory: {e}",
            dir.display()
        );
        return ExitStatus::Failure;
    }
    if let Command::Github(args) = &cli.command
        && let Err(status) = github::check_environment(&args.command)
    {
        return status;
    }
    if let Some(desired) = cli.command.desired_mut()
        && let Err(e) = desired.resolve()
    {
        eprintln!("error: {e:#}");
        return ExitStatus::Failure;
    }
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Export(args) => export::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Drift(args) => drift::run(args),
        Command::Github(args) => github::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Show(args) => show::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Access(args) => access::run(args),
        Command::Costs(args) => costs::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}

impl Command {
    /// The desired-state arguments of a command that reads the desired state: their file
    /// (`-f`, or discovered) is resolved before the command runs.
    fn desired_mut(&mut self) -> Option<&mut crate::cli::DesiredArgs> {
        use crate::cli::GithubCommand;
        match self {
            Command::Validate(args) => Some(&mut args.desired),
            Command::Plan(args) => Some(&mut args.desired),
            Command::Apply(args) => Some(&mut args.desired),
            Command::Drift(args) => Some(&mut args.desired),
            Command::Github(args) => match &mut args.command {
                GithubCommand::Plan(args) => Some(&mut args.desired),
                GithubCommand::Apply(args) => Some(&mut args.desired),
                GithubCommand::Drift(args) => Some(&mut args.desired),
            },
            Command::Export(_)
            | Command::Emulator(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Audit(_)
            | Command::Show(_)
            | Command::Fmt(_)
            // Each resolves its file only when it reads one (`--source file`, no `--plan`).
            | Command::Access(_)
            | Command::Costs(_)
            | Command::Graph(_) => None,
        }
    }
}

/// Prints why planning stopped (located diagnostics for an invalid file) and picks the exit
/// status: 1 either way.
fn report_plan_failure(failure: crate::ops::plan::PlanFailure, printer: Printer) -> ExitStatus {
    match failure {
        crate::ops::plan::PlanFailure::Invalid(diagnostics) => {
            eprint!("{}", diagnostics.render_human(printer.stderr_color));
        }
        crate::ops::plan::PlanFailure::Other(error) => eprintln!("error: {error:#}"),
    }
    ExitStatus::Failure
}

/// Where drift's audit-log search starts (Unix seconds): `--since WHEN` as `audit --since`
/// reads it (default 30 days back), or the deprecated `--since-days N`, with a warning.
fn audit_window(window: &crate::cli::AuditWindowArgs) -> Result<i64, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Some(days) = window.since_days {
        eprintln!("warning: --since-days is deprecated: write --since {days}d");
        return Ok(now - i64::from(days) * 86_400);
    }
    let since = window.since.as_deref().unwrap_or("30d");
    crate::audit::parse_time(since, now).map_err(|e| format!("--since: {e}"))
}

/// Writes a command's output file, naming it in the error.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
