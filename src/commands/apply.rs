//! `orgops apply`: show the plan, confirm, execute, report.
//!
//! Output: the plan and the outcome report are the command's result (stdout); progress,
//! the confirmation prompt and errors go to stderr. With `--format json` stdout carries only
//! the outcome report as JSON (the `-o` file's content) and the plan and text report move to
//! stderr. No key value is ever printed: generated
//! keys go only to their sinks (see `apply::secrets`).
//!
//! Exit status: 0 every change applied (or already satisfied), 1 an error or a partial
//! apply, 3 the plan is refused by a safety gate, 4 the saved plan is stale.
//!
//! `--target KEY` applies a partial plan (the targets and what they depend on); a saved
//! plan carries its own targets, so `--target` beside `--plan` is refused.

use std::io::{BufRead, IsTerminal, Write};

use crate::apply::report::{ApplyProgress, NoApplyProgress, StderrApplyProgress};
use crate::cli::{ApplyArgs, OutcomeFormat};
use crate::config::{self, LoadMode};
use crate::exit::ExitStatus;
use crate::ops::apply as op;
use crate::ops::target::Target;
use crate::plan::PlanOptions;
use crate::plan::saved::Staleness;
use crate::printer::Printer;
use crate::render;

pub fn run(args: ApplyArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let desired = match config::load_with(
        &args.desired.file,
        LoadMode::Desired,
        args.desired.load_options(),
    ) {
        Ok(state) => state,
        Err(diagnostics) => {
            eprint!("{}", diagnostics.render_human(printer.stderr_color));
            eprintln!(
                "error: {} is not a valid desired state",
                args.desired.file.display()
            );
            return ExitStatus::Failure;
        }
    };
    if !desired.warnings.is_empty() {
        eprint!("{}", desired.warnings.render_human(printer.stderr_color));
    }
    let targets = &args.targets.targets;
    if args.plan.is_some() && !targets.is_empty() {
        eprintln!(
            "error: --target cannot be combined with --plan: a saved plan is applied exactly as saved, with the targets it was planned with (`orgops plan --target KEY --out PLAN`)"
        );
        return ExitStatus::Failure;
    }
    if let Err(e) = crate::plan::target::check_patterns(targets) {
        eprintln!("error: {e}");
        return ExitStatus::Failure;
    }
    let interactive = std::io::stdin().is_terminal();
    if args.plan.is_none() && !args.auto_approve && !interactive {
        eprintln!(
            "error: refusing to apply without confirmation: standard input is not a terminal. \
             Pass --auto-approve, or apply a reviewed plan with --plan FILE (from `orgops plan --out FILE`)."
        );
        return ExitStatus::Failure;
    }
    let saved = match args.plan.as_deref().map(op::read_saved_plan).transpose() {
        Ok(saved) => saved,
        Err(e) => return fail(e),
    };
    let target = match Target::open(args.target.emulator.as_deref()) {
        Ok(target) => target,
        Err(e) => return fail(e),
    };
    let runtime = match crate::ops::runtime() {
        Ok(runtime) => runtime,
        Err(e) => return fail(e),
    };
    // One apply at a time per organization: taken before the live read the plan is made
    // from, held until the process ends.
    let _lock = match crate::ops::lock::for_target(
        &target,
        std::time::Duration::from_secs(args.lock_timeout),
    ) {
        Ok(lock) => lock,
        Err(e) => return fail(e),
    };
    let mut scope = crate::live::ReadScope::for_document(&desired.doc);
    let partial = match &saved {
        Some(saved) => &saved.targets,
        None => targets,
    };
    crate::plan::target::narrow_scope(&mut scope, partial);
    let live = match crate::ops::plan::read_live(&runtime, &target, &scope, printer) {
        Ok(live) => live,
        Err(e) => return fail(e),
    };
    // What the live organization cannot do is refused before anything is written.
    if let Err(failure) = crate::ops::plan::check_live(&desired, &live, args.desired.load_options())
    {
        super::report_plan_failure(failure, printer);
        eprintln!("error: nothing was applied");
        return ExitStatus::Failure;
    }
    // The gates run under this command's options, for a saved plan too: what the file says
    // about them is not trusted.
    let options = PlanOptions {
        allow_removals: args.gates.allow_removals,
        max_removals: args.gates.max_removals,
        baseline: None,
    };
    let plan = match &saved {
        Some(saved) => match op::check_saved_plan(saved, &live, &desired, &target, &options) {
            Ok(plan) => plan,
            Err(stale) => return report_stale(&stale),
        },
        None => {
            match crate::ops::plan::plan_against(&desired.doc, &live, &options).and_then(|plan| {
                crate::plan::target::restrict(plan, &desired.doc, &live, &options, targets)
                    .map_err(anyhow::Error::from)
            }) {
                Ok(plan) => plan,
                Err(e) => return fail(e),
            }
        }
    };
    // With `--format json` stdout is the outcome report alone; the plan goes to stderr.
    let json = args.format == OutcomeFormat::Json;
    if json {
        eprint!("{}", render::text::render(&plan, printer.stderr_color));
    } else {
        crate::out!("{}", render::text::render(&plan, printer.stdout_color));
        let _ = std::io::stdout().flush();
    }
    if plan.is_refused() {
        let rules: Vec<&str> = plan.refusals.iter().map(|r| r.rule.as_str()).collect();
        eprintln!(
            "error: the plan is refused by safety gate(s): {}; nothing was applied",
            rules.join(", ")
        );
        return ExitStatus::Refused;
    }
    if plan.is_empty() {
        let report = crate::apply::ApplyReport::default();
        if json {
            crate::out!("{}", report.to_json());
        }
        return write_report(&args, &report);
    }
    if saved.is_none() && !args.auto_approve && !confirm(plan.changes.len(), &target) {
        eprintln!("Apply cancelled: nothing was changed.");
        return ExitStatus::Failure;
    }
    let stderr_progress;
    let progress: &dyn ApplyProgress = if printer.progress {
        stderr_progress = StderrApplyProgress::new(printer.stderr_is_tty);
        &stderr_progress
    } else {
        &NoApplyProgress
    };
    let report = op::execute(&runtime, &target, &desired, &live, &plan.changes, progress);
    if json {
        eprint!("\n{}", report.render_text());
        crate::out!("{}", report.to_json());
    } else {
        crate::out!("\n{}", report.render_text());
    }
    let _ = std::io::stdout().flush();
    match write_report(&args, &report) {
        ExitStatus::Success if report.all_succeeded() => ExitStatus::Success,
        _ => ExitStatus::Failure,
    }
}

fn fail(error: anyhow::Error) -> ExitStatus {
    eprintln!("error: {error:#}");
    ExitStatus::Failure
}

fn report_stale(stale: &Staleness) -> ExitStatus {
    let reason = serde_json::to_value(stale.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    eprintln!(
        "error: the saved plan is stale ({reason}): {}",
        stale.message
    );
    for object in &stale.objects {
        eprintln!("  - {object}");
    }
    eprintln!("nothing was applied");
    ExitStatus::Stale
}

/// Asks on the terminal; only `yes` goes ahead.
fn confirm(count: usize, target: &Target) -> bool {
    let org = target.identity().unwrap_or_else(|_| {
        crate::plan::saved::OrgIdentity::from_base_url(target.client.base_url(), None)
    });
    eprint!(
        "\n{} Only 'yes' is accepted: ",
        confirmation_question(count, &org)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) => answer.trim() == "yes",
        Err(_) => false,
    }
}

/// The question names the organization the changes go to: the one the API named on its
/// responses (`openai-organization`; no endpoint of the Admin API names it otherwise), else
/// says whose it is.
fn confirmation_question(count: usize, org: &crate::plan::saved::OrgIdentity) -> String {
    let changes = if count == 1 {
        "Apply this change".to_string()
    } else {
        format!("Apply these {count} changes")
    };
    let endpoint = crate::text::escape::text(&org.endpoint);
    match (org.endpoint.as_str(), org.org_id.as_deref()) {
        ("emulator", Some(state)) => format!(
            "{changes} to the emulator seeded from {}?",
            crate::text::escape::text(state)
        ),
        (_, Some(org_id)) => format!(
            "{changes} to organization {} at {endpoint}?",
            crate::text::escape::text(org_id)
        ),
        (_, None) => format!(
            "{changes} to the organization of OPENAI_ADMIN_KEY at {endpoint} (the API named \
             none)?"
        ),
    }
}

fn write_report(args: &ApplyArgs, report: &crate::apply::ApplyReport) -> ExitStatus {
    let Some(path) = &args.report else {
        return ExitStatus::Success;
    };
    match super::write_file(path, report.to_json().as_bytes()) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::confirmation_question;
    use crate::plan::saved::OrgIdentity;

    #[test]
    fn the_question_names_the_organization() {
        let org = |endpoint: &str, id: Option<&str>| OrgIdentity {
            endpoint: endpoint.to_string(),
            org_id: id.map(str::to_string),
        };
        assert_eq!(
            confirmation_question(1, &org("https://api.openai.com/v1", Some("org-acme"))),
            "Apply this change to organization org-acme at https://api.openai.com/v1?"
        );
        assert_eq!(
            confirmation_question(3, &org("emulator", Some("live.yaml"))),
            "Apply these 3 changes to the emulator seeded from live.yaml?"
        );
        assert!(
            confirmation_question(2, &org("https://api.openai.com/v1", None))
                .contains("of OPENAI_ADMIN_KEY at https://api.openai.com/v1 (the API named none)")
        );
    }
}
