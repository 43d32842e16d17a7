//! `orgops plan`: print what it would take to make the live org match the file.
//!
//! The plan goes to stdout in the chosen format; progress, the request count and errors go to
//! stderr. Exit codes: 0 ok (no changes, or changes without `--detailed-exitcode`), 2 changes
//! with `--detailed-exitcode`, 3 refused by a safety gate, 1 error.

use crate::cli::{PlanArgs, PlanFormat};
use crate::exit::ExitStatus;
use crate::ops;
use crate::plan::{PlanOptions, saved};
use crate::printer::Printer;
use crate::render;

pub fn run(args: PlanArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let options = PlanOptions {
        allow_removals: args.gates.allow_removals,
        max_removals: args.gates.max_removals,
        baseline: None,
    };
    let planned = match ops::plan::plan(&args.desired.file, &args.target, &options, printer) {
        Ok(planned) => planned,
        Err(failure) => return super::report_plan_failure(failure, printer),
    };
    let plan = &planned.plan;
    let started = std::time::Instant::now();
    let rendered = match args.format {
        PlanFormat::Text => render::text::render(plan, printer.stdout_color),
        PlanFormat::Markdown => render::markdown::render(plan),
        PlanFormat::Json => render::json::render(plan),
    };
    tracing::info!(
        render_ms = started.elapsed().as_secs_f64() * 1000.0,
        bytes = rendered.len(),
        "rendered"
    );
    print!("{rendered}");
    if plan.is_refused() {
        eprintln!(
            "error: the plan is refused by a safety gate (see above); nothing was saved or applied"
        );
        return ExitStatus::Refused;
    }
    if let Some(out) = &args.out {
        let saved = saved::save(
            plan,
            &planned.desired.doc,
            &planned.live,
            planned.target.org.clone(),
        );
        if let Err(e) = super::write_file(out, saved::to_json(&saved).as_bytes()) {
            eprintln!("error: {e:#}");
            return ExitStatus::Failure;
        }
        eprintln!("saved the plan to {}", out.display());
    }
    if args.detailed_exitcode && !plan.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    }
}
