//! `orgops access [--project NAME] [--user EMAIL] [--source live|file] [--format ...]`: who
//! can reach what, from the live organization (default) or the file. Glue over
//! [`crate::ops::access`]; the rules are in [`crate::access`]. Exit 0, or 1 on error (an
//! unknown project or person is an error with a did-you-mean; a mermaid picture of too large
//! a scope too, naming the flags that narrow it).

use crate::access::{Filter, render};
use crate::cli::{AccessArgs, AccessFormat, AccessSource};
use crate::exit::ExitStatus;
use crate::ops::access::{self as op, AccessFailure};
use crate::printer::Printer;

pub fn run(args: AccessArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let source = args.source.unwrap_or(if args.file.is_some() {
        AccessSource::File
    } else {
        AccessSource::Live
    });
    let access = match source {
        AccessSource::Live => {
            if let Some(file) = &args.file {
                return fail(&format!(
                    "-f {} reads the file, and --source live the organization: drop one",
                    file.display()
                ));
            }
            op::live(&args.target.connect(), args.skip_role_assignments, printer)
                .map_err(AccessFailure::Other)
        }
        AccessSource::File => {
            if args.target.emulator.is_some() {
                return fail(
                    "--emulator names an organization to read, and --source file the file: drop one",
                );
            }
            let file = match &args.file {
                Some(file) => file.clone(),
                None => match crate::config::discover::in_current_dir() {
                    Ok(file) => file,
                    Err(e) => return fail(&format!("{e:#}")),
                },
            };
            let load = crate::config::LoadOptions {
                allow_sink_outside: true,
                max_file_bytes: args.max_file_size,
            };
            op::file(&file, load)
        }
    };
    let access = match access {
        Ok(access) => access,
        Err(AccessFailure::Invalid(diagnostics)) => {
            eprint!("{}", diagnostics.render_human(printer.stderr_color));
            return ExitStatus::Failure;
        }
        Err(AccessFailure::Other(e)) => return fail(&format!("{e:#}")),
    };
    let filter = Filter {
        projects: args.project.clone(),
        users: args.user.clone(),
    };
    let access = match access.filtered(&filter) {
        Ok(access) => access,
        Err(e) => return fail(&crate::text::escape::text(&e.to_string())),
    };
    let rendered = match args.format {
        AccessFormat::Text => render::text(&access),
        AccessFormat::Markdown => render::markdown(&access),
        AccessFormat::Csv => render::csv(&access),
        AccessFormat::Json => render::json(&access),
        AccessFormat::Mermaid => match render::mermaid(&access) {
            Ok(graph) => graph,
            Err(edges) => {
                return fail(&format!(
                    "the map has {edges} edges, more than a picture shows (at most {}): narrow it with --project NAME or --user EMAIL",
                    render::MAX_MERMAID_EDGES
                ));
            }
        },
    };
    crate::out!("{rendered}");
    ExitStatus::Success
}

fn fail(message: &str) -> ExitStatus {
    eprintln!("error: {message}");
    ExitStatus::Failure
}
