//! `orgops drift`: what differs between the live org and the file, and who changed it.
//!
//! The report goes to stdout in the chosen format. Exit codes: 0 in sync, 2 drift, 1 error.
//! Drift means "apply would change something": exactly when `plan --detailed-exitcode` exits
//! 2. Objects under `policy.unmanaged: report` are listed for information and count only
//! with `--fail-on-unmanaged`.

use crate::cli::{DriftArgs, PlanFormat};
use crate::drift::render;
use crate::exit::ExitStatus;
use crate::ops;
use crate::printer::Printer;

pub fn run(args: DriftArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let since = match super::audit_window(&args.window) {
        Ok(since) => since,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Failure;
        }
    };
    let drifted = match ops::drift::drift(
        &args.desired.file,
        args.desired.load_options(),
        &args.target.connect(),
        since,
        args.fail_on_unmanaged,
        args.cost_threshold,
        printer,
    ) {
        Ok(drifted) => drifted,
        Err(failure) => return super::report_plan_failure(failure, printer),
    };
    let report = &drifted.report;
    let rendered = match args.format {
        PlanFormat::Text => render::text(report),
        PlanFormat::Markdown => render::markdown(report),
        PlanFormat::Json => render::json(report),
    };
    crate::out!("{rendered}");
    if report.in_sync() {
        ExitStatus::Success
    } else {
        ExitStatus::Changes
    }
}
