//! `orgops github plan|apply|drift`: glue over [`crate::github`]. Outputs go to
//! `GITHUB_OUTPUT`, annotations to stdout, the markdown to the job summary.
//!
//! Exit codes: plan 0 (planned, or validated only without an admin key), 1 error or invalid,
//! 3 refused; apply 0 applied, 1 error, 3 refused, 4 the plan changed since approval; drift 0
//! (drift is reported through the issue and the outputs), 1 error. Outside GitHub Actions
//! (the runner's variables missing) each refuses at once with exit 1, naming them.

use crate::cli::{GithubArgs, GithubCommand};
use crate::exit::ExitStatus;
use crate::github::{self, RunOptions};
use crate::plan::PlanOptions;
use crate::printer::Printer;

/// What the three runs share; the flags a run does not have take their neutral value.
struct Common<'a> {
    desired: &'a crate::cli::DesiredArgs,
    target: &'a crate::cli::TargetArgs,
    gates: Option<&'a crate::cli::GateArgs>,
    base: Option<String>,
    pull_request: Option<u64>,
    window: Option<&'a crate::cli::AuditWindowArgs>,
    fail_on_unmanaged: bool,
    /// Plan and drift read incrementally; apply always reads the whole organization.
    snapshot: Option<&'a crate::cli::SnapshotArgs>,
}

fn common(command: &GithubCommand) -> Common<'_> {
    match command {
        GithubCommand::Plan(a) => Common {
            desired: &a.desired,
            target: &a.target,
            gates: Some(&a.gates),
            base: a.base.clone(),
            pull_request: a.pull_request,
            window: None,
            fail_on_unmanaged: false,
            snapshot: Some(&a.snapshot),
        },
        GithubCommand::Apply(a) => Common {
            desired: &a.desired,
            target: &a.target,
            gates: Some(&a.gates),
            base: a.base.clone(),
            pull_request: a.pull_request,
            window: None,
            fail_on_unmanaged: false,
            snapshot: None,
        },
        GithubCommand::Drift(a) => Common {
            desired: &a.desired,
            target: &a.target,
            gates: None,
            base: None,
            pull_request: None,
            window: Some(&a.window),
            fail_on_unmanaged: a.fail_on_unmanaged,
            snapshot: Some(&a.snapshot),
        },
    }
}

fn options(command: &GithubCommand) -> Result<RunOptions, String> {
    let args = common(command);
    let since = match args.window {
        Some(window) => super::audit_window(window)?,
        None => 0,
    };
    Ok(RunOptions {
        file: args.desired.file.clone(),
        load: args.desired.load_options(),
        target: crate::ops::target::Connect {
            snapshot: args.snapshot.and_then(crate::cli::SnapshotArgs::options),
            ..args.target.connect()
        },
        base: args.base,
        pull_request: args.pull_request,
        plan_options: PlanOptions {
            allow_removals: args.gates.is_some_and(|g| g.allow_removals),
            max_removals: args.gates.and_then(|g| g.max_removals),
            baseline: None,
        },
        since,
        fail_on_unmanaged: args.fail_on_unmanaged,
    })
}

/// The variables a run cannot do without, all set by the Actions runner; `orgops github`
/// outside Actions is refused naming the missing ones rather than half-running.
pub fn missing_environment(command: &GithubCommand) -> Vec<&'static str> {
    let mut needed = vec![
        "GITHUB_EVENT_PATH",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_REPOSITORY",
    ];
    if matches!(command, GithubCommand::Apply(_) | GithubCommand::Drift(_)) {
        // Apply reads the approved plan, drift files the issue: both need the API.
        needed.push("GITHUB_TOKEN");
    }
    needed
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none_or(|v| v.is_empty()))
        .collect()
}

/// Refuses a run outside GitHub Actions: exit 1 naming what is missing and the command to
/// run instead.
pub fn check_environment(command: &GithubCommand) -> Result<(), ExitStatus> {
    let missing = missing_environment(command);
    if missing.is_empty() {
        return Ok(());
    }
    let name = match command {
        GithubCommand::Plan(_) => "plan",
        GithubCommand::Apply(_) => "apply",
        GithubCommand::Drift(_) => "drift",
    };
    eprintln!(
        "error: `orgops github {name}` runs inside GitHub Actions, and these environment \
         variables are not set: {}. Outside Actions, run `orgops {name}` instead.",
        missing.join(", ")
    );
    Err(ExitStatus::Failure)
}

/// Runs after [`check_environment`] (see `commands::run`).
pub fn run(args: GithubArgs) -> ExitStatus {
    let printer = Printer {
        // A runner's log is not a terminal; plain progress lines only.
        progress: false,
        ..Printer::from_env()
    };
    let options = match options(&args.command) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Failure;
        }
    };
    let (status, _outputs) = match &args.command {
        GithubCommand::Plan(_) => github::plan(&options, printer),
        GithubCommand::Apply(_) => github::apply(&options, printer),
        GithubCommand::Drift(_) => github::drift(&options, printer),
    };
    status
}
