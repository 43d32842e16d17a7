//! `orgops github plan|apply|drift`: glue over [`crate::github`]. Outputs go to
//! `GITHUB_OUTPUT`, annotations to stdout, the markdown to the job summary.
//!
//! Exit codes: plan 0 (planned, or validated only without an admin key), 1 error or invalid,
//! 3 refused; apply 0 applied, 1 error, 3 refused, 4 the plan changed since approval; drift 0
//! (drift is reported through the issue and the outputs), 1 error.

use crate::cli::{GithubArgs, GithubCommand, GithubRunArgs};
use crate::exit::ExitStatus;
use crate::github::{self, RunOptions};
use crate::plan::PlanOptions;
use crate::printer::Printer;

fn options(args: &GithubRunArgs) -> RunOptions {
    RunOptions {
        file: args.desired.file.clone(),
        load: args.desired.load_options(),
        target: crate::cli::TargetArgs {
            emulator: args.target.emulator.clone(),
            concurrency: args.target.concurrency,
        },
        base: args.base.clone(),
        pull_request: args.pull_request,
        plan_options: PlanOptions {
            allow_removals: args.gates.allow_removals,
            max_removals: args.gates.max_removals,
            baseline: None,
        },
        since_days: args.since_days,
        fail_on_unmanaged: args.fail_on_unmanaged,
    }
}

pub fn run(args: GithubArgs) -> ExitStatus {
    let printer = Printer {
        // A runner's log is not a terminal; plain progress lines only.
        progress: false,
        ..Printer::from_env()
    };
    let (status, _outputs) = match &args.command {
        GithubCommand::Plan(a) => github::plan(&options(a), printer),
        GithubCommand::Apply(a) => github::apply(&options(a), printer),
        GithubCommand::Drift(a) => github::drift(&options(a), printer),
    };
    status
}
