//! `orgops plan`: print what it would take to make the live org match the file.
//!
//! The plan goes to stdout in the chosen format; progress, the request count and errors go to
//! stderr. Exit codes: 0 ok (no changes, or changes without `--detailed-exitcode`), 2 changes
//! with `--detailed-exitcode`, 3 refused by a safety gate, 1 error. "Changes" are what apply
//! could do now: what waits for an invite to be accepted is shown but never counts.
//!
//! `--target KEY` keeps the targets' changes and their dependencies, and reads only what
//! they need ([`crate::plan::target`]).

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
    let targets = &args.targets.targets;
    if let Some(base) = &args.base {
        if !targets.is_empty() {
            eprintln!(
                "error: --target cannot be combined with --base: the pull-request view compares whole plans"
            );
            return ExitStatus::Failure;
        }
        return run_pull_request(&args, base, &options, printer);
    }
    let planned = match ops::plan::plan_targeted(
        &args.desired.file,
        args.desired.load_options(),
        &crate::ops::target::Connect {
            snapshot: args.snapshot.options(),
            ..args.target.connect()
        },
        &options,
        targets,
        printer,
    ) {
        Ok(planned) => planned,
        Err(failure) => return super::report_plan_failure(failure, printer),
    };
    let started = std::time::Instant::now();
    let bytes = print_plan(&planned.plan, args.format, printer);
    tracing::info!(
        render_ms = started.elapsed().as_secs_f64() * 1000.0,
        bytes,
        peak_rss_mib = ops::peak_rss_mib(),
        "rendered"
    );
    finish(&args, &planned)
}

/// Prints `plan` in `format` to stdout as it renders (text and JSON are streamed: memory
/// holds the plan, not also its rendering); returns the bytes printed.
pub(crate) fn print_plan(plan: &crate::plan::Plan, format: PlanFormat, printer: Printer) -> u64 {
    crate::printer::stream_stdout(|out| match format {
        PlanFormat::Text => {
            crate::printer::fmt_to_io(out, |f| render::text::write(plan, printer.stdout_color, f))
        }
        PlanFormat::Markdown => out.write_all(render::markdown::render(plan).as_bytes()),
        PlanFormat::Json => render::json::write(plan, out),
    })
}

/// `plan --base REF`: the pull-request view (see [`ops::pull_request`]).
fn run_pull_request(
    args: &PlanArgs,
    base: &str,
    options: &PlanOptions,
    printer: Printer,
) -> ExitStatus {
    let git = match crate::git::GitCli::discover(&args.desired.file) {
        Ok(git) => git,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitStatus::Failure;
        }
    };
    let pr = match ops::pull_request::plan_pull_request(
        &args.desired.file,
        args.desired.load_options(),
        base,
        &git,
        &crate::ops::target::Connect {
            snapshot: args.snapshot.options(),
            ..args.target.connect()
        },
        options,
        printer,
    ) {
        Ok(pr) => pr,
        Err(failure) => return super::report_plan_failure(failure, printer),
    };
    let rendered = match args.format {
        PlanFormat::Text => render::pull_request::text(&pr.view(), printer.stdout_color),
        PlanFormat::Markdown => render::pull_request::markdown_with_limit(
            &pr.view(),
            "orgops plan",
            render::markdown::MAX_CHARS,
        ),
        PlanFormat::Json => render::pull_request::json(&pr.view()),
    };
    crate::out!("{rendered}");
    finish(args, &pr.planned)
}

/// After the plan was printed: saves it when asked, and picks the exit status.
fn finish(args: &PlanArgs, planned: &ops::plan::Planned) -> ExitStatus {
    let plan = &planned.plan;
    if plan.is_refused() {
        eprintln!(
            "error: the plan is refused by a safety gate (see above); nothing was saved or applied"
        );
        return ExitStatus::Refused;
    }
    if let Some(out) = &args.out {
        let org = match planned.target.identity() {
            Ok(org) => org,
            Err(e) => {
                eprintln!("error: {e:#}; the plan was not saved");
                return ExitStatus::Failure;
            }
        };
        let saved = saved::save(plan, &planned.desired.doc, &planned.live, org);
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
