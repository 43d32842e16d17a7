//! `orgops validate`: load the desired state and print every diagnostic.
//!
//! Human diagnostics go to stderr; `--format github` and `--format json` are the command's
//! result and go to stdout (GitHub reads workflow commands from there). On success a one-line
//! summary goes to stderr.

use std::io::Write as _;

use crate::cli::{DiagnosticFormat, ValidateArgs};
use crate::config::{self, Diagnostics, LoadMode};
use crate::exit::ExitStatus;
use crate::printer::Printer;

pub fn run(args: ValidateArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let options = config::LoadOptions {
        allow_sink_outside: args.allow_sink_outside,
        max_file_bytes: args.max_file_size,
    };
    match config::load_with(&args.file, LoadMode::Desired, options) {
        Ok(state) => {
            report(&state.warnings, args.format, printer);
            let doc = &state.doc;
            let plural =
                |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            let files = state
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>();
            let source = if files.len() == 1 {
                files[0].clone()
            } else {
                format!("{} files in {}", files.len(), args.file.display())
            };
            let _ = writeln!(
                std::io::stderr(),
                "ok: {}, {}, {} ({source})",
                plural(doc.users.len(), "user"),
                plural(doc.groups.len(), "group"),
                plural(doc.projects.len(), "project"),
            );
            ExitStatus::Success
        }
        Err(diagnostics) => {
            report(&diagnostics, args.format, printer);
            if args.format == DiagnosticFormat::Human {
                let count = diagnostics.error_count();
                let _ = writeln!(
                    std::io::stderr(),
                    "invalid: {count} error{} in {}",
                    if count == 1 { "" } else { "s" },
                    args.file.display()
                );
            }
            ExitStatus::Failure
        }
    }
}

fn report(diagnostics: &Diagnostics, format: DiagnosticFormat, printer: Printer) {
    match format {
        DiagnosticFormat::Human => {
            if !diagnostics.is_empty() {
                let _ = std::io::stderr()
                    .write_all(diagnostics.render_human(printer.stderr_color).as_bytes());
            }
        }
        DiagnosticFormat::Github => {
            let _ = std::io::stdout().write_all(diagnostics.render_github().as_bytes());
        }
        DiagnosticFormat::Json => {
            let _ = std::io::stdout().write_all(diagnostics.render_json().as_bytes());
        }
    }
}
