//! `orgops export [-o FILE]`: the live organization as a desired-state file (stdout by
//! default). With `-o`, certificate PEMs are written beside the file under `certs/`; on stdout
//! they cannot be, and a note on stderr says so.

use crate::cli::ExportArgs;
use crate::exit::ExitStatus;
use crate::ops::{self, target::Target};
use crate::printer::Printer;

pub fn run(args: ExportArgs) -> ExitStatus {
    match export(&args) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Failure
        }
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let printer = Printer::from_env();
    let target = Target::open_with(args.target.emulator.as_deref(), args.target.concurrency)?;
    let options = ops::export::ExportOptions {
        skip_role_assignments: args.skip_role_assignments,
    };
    let export = ops::export::export(&target, options, printer)?;
    match &args.output {
        Some(output) => {
            ops::export::write(&export, output)?;
            eprintln!(
                "exported {} users, {} projects to {}",
                export.doc.users.len(),
                export.doc.projects.len(),
                output.display()
            );
        }
        None => {
            crate::out!("{}", ops::export::to_yaml(&export.doc)?);
            if !export.certificate_files.is_empty() {
                eprintln!(
                    "note: {} certificate file(s) were not written (use -o FILE to write them beside the export)",
                    export.certificate_files.len()
                );
            }
        }
    }
    Ok(())
}
