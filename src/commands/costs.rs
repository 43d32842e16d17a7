//! `orgops costs [-f FILE] [--month YYYY-MM] [--format text|markdown|json]`: each project's
//! cost this month beside its spend limit and alerts. Glue over [`crate::ops::costs`]; the
//! sums and renderings are in [`crate::costs`]. Exit 0, or 1 on error.

use crate::cli::{CostsArgs, PlanFormat};
use crate::exit::ExitStatus;
use crate::ops::costs::{self as op, CostsFailure, CostsOptions};
use crate::printer::Printer;

pub fn run(args: CostsArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let options = CostsOptions {
        file: args.file.clone(),
        load: crate::config::LoadOptions {
            allow_sink_outside: true,
            max_file_bytes: args.max_file_size,
        },
        month: args.month.clone(),
        page_size: args.page_size,
    };
    let report = match op::costs(&options, &args.target.connect(), printer) {
        Ok(report) => report,
        Err(CostsFailure::Invalid(diagnostics)) => {
            eprint!("{}", diagnostics.render_human(printer.stderr_color));
            return ExitStatus::Failure;
        }
        Err(CostsFailure::Other(e)) => {
            eprintln!(
                "error: {}",
                crate::text::escape::text_lines(&format!("{e:#}"))
            );
            return ExitStatus::Failure;
        }
    };
    let rendered = match args.format {
        PlanFormat::Text => crate::costs::text(&report),
        PlanFormat::Markdown => crate::costs::markdown(&report),
        PlanFormat::Json => crate::costs::json(&report),
    };
    crate::out!("{rendered}");
    ExitStatus::Success
}
