//! `orgops apply` without the printing: read the live organization, plan (or check a saved
//! plan), execute. `commands/apply.rs` decides what is shown and asked.
//!
//! The live read (`ops::plan::read_live`) runs on the same runtime as the execution: the
//! client's pooled connections belong to the runtime that opened them, so one runtime serves
//! the whole command.

use std::path::Path;

use anyhow::Context as _;

use crate::apply::report::ApplyProgress;
use crate::apply::{ApplyReport, ExecuteOptions, Executor, Sinks};
use crate::config::DesiredState;
use crate::live::LiveState;
use crate::plan::saved::{self, SavedPlan, Staleness};
use crate::plan::{Change, Plan, PlanOptions};

use super::target::Target;

/// Reads a saved plan file and checks its structure (format version, ids, `depends_on`).
pub fn read_saved_plan(path: &Path) -> anyhow::Result<SavedPlan> {
    let text = crate::input::read_text(path, crate::input::MAX_INPUT_BYTES)
        .with_context(|| format!("reading the saved plan {}", path.display()))?;
    let plan = saved::from_json(&text).with_context(|| format!("in {}", path.display()))?;
    saved::check_structure(&plan).with_context(|| format!("in {}", path.display()))?;
    Ok(plan)
}

/// What a saved plan approves, rebuilt from a fresh plan against `live` (see
/// [`saved::verify`]): refused when stale or when its changes are not the fresh plan's;
/// the gates are re-checked under `options`.
pub fn check_saved_plan(
    saved: &SavedPlan,
    live: &LiveState,
    desired: &DesiredState,
    target: &Target,
    options: &PlanOptions,
) -> Result<Plan, Staleness> {
    let org = target.identity().map_err(|error| Staleness {
        reason: saved::StaleReason::OtherOrg,
        objects: vec![],
        message: format!("{error:#}"),
    })?;
    saved::verify(saved, live, &desired.doc, &org, options)
}

/// Executes `changes` against the target, with IDs from `live`, keys to the sinks of
/// `desired`.
pub fn execute(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    desired: &DesiredState,
    live: &LiveState,
    changes: &[Change],
    progress: &dyn ApplyProgress,
) -> ApplyReport {
    let executor = Executor::new(
        target.client.clone(),
        &live.ids,
        Sinks::from_desired(desired),
        desired.certificate_pems.clone(),
    );
    let options = ExecuteOptions::for_client(&target.client);
    runtime.block_on(executor.run(changes, &options, progress))
}
