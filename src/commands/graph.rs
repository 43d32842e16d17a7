//! `orgops graph [-f PATH | --plan PLAN] [--format dot|mermaid]`: the plan's dependency graph
//! (the order apply runs the changes in), one node per change, outside the pull-request
//! comment. A fresh plan (read as `plan` reads, `--target` too) or a saved one, checked as
//! `show` checks it. Exit 0, 1 on error, 3 when the fresh plan is refused by a safety gate
//! (its graph is still printed), 4 for a saved plan of another orgops version.

use crate::cli::{GraphArgs, GraphFormat};
use crate::exit::ExitStatus;
use crate::plan::{Plan, PlanOptions};
use crate::printer::Printer;
use crate::render::graph;

pub fn run(mut args: GraphArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let plan = match &args.plan {
        Some(path) => {
            if !args.targets.targets.is_empty() {
                eprintln!(
                    "error: --target cannot be combined with --plan: a saved plan carries its own targets"
                );
                return ExitStatus::Failure;
            }
            match super::show::read(path) {
                Ok(plan) => plan,
                Err(status) => return status,
            }
        }
        None => {
            if let Err(e) = args.desired.resolve() {
                eprintln!("error: {e:#}");
                return ExitStatus::Failure;
            }
            match crate::ops::plan::plan_targeted(
                &args.desired.file,
                args.desired.load_options(),
                &args.target.connect(),
                &PlanOptions::default(),
                &args.targets.targets,
                printer,
            ) {
                Ok(planned) => planned.plan,
                Err(failure) => return super::report_plan_failure(failure, printer),
            }
        }
    };
    print(&plan, args.format)
}

fn print(plan: &Plan, format: GraphFormat) -> ExitStatus {
    let rendered = match format {
        GraphFormat::Dot => graph::dot(plan),
        GraphFormat::Mermaid => graph::mermaid(plan),
    };
    crate::out!("{rendered}");
    if plan.is_refused() {
        eprintln!(
            "error: the plan is refused by a safety gate (`orgops plan` says why); its graph is above"
        );
        return ExitStatus::Refused;
    }
    ExitStatus::Success
}
