//! `orgops apply` without the printing: read the live organization, plan (or check a saved
//! plan), execute. `commands/apply.rs` decides what is shown and asked.
//!
//! The live read runs on the same runtime as the execution: the client's pooled
//! connections belong to the runtime that opened them, so one runtime serves the whole
//! command (`ops::plan::read_live` makes its own, which is why it is not reused here).

use std::path::Path;

use anyhow::Context as _;

use crate::apply::report::ApplyProgress;
use crate::apply::{ApplyReport, ExecuteOptions, Executor, Sinks};
use crate::config::DesiredState;
use crate::live::{self, LiveState, NoProgress, Progress, ReadScope, StderrProgress};
use crate::plan::saved::{self, SavedPlan, Staleness};
use crate::plan::{Change, Plan, PlanOptions};
use crate::printer::Printer;

use super::target::Target;

/// Reads what the desired state manages from the target organization.
pub fn read_live(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    desired: &DesiredState,
    printer: Printer,
) -> anyhow::Result<LiveState> {
    let scope = ReadScope::for_document(&desired.doc);
    let stderr_progress;
    let progress: &dyn Progress = if printer.progress {
        stderr_progress = StderrProgress::new(printer.stderr_is_tty);
        &stderr_progress
    } else {
        &NoProgress
    };
    runtime
        .block_on(live::read(&target.client, &scope, progress))
        .context("reading the live organization")
}

/// A fresh plan of `desired` against `live`.
pub fn plan_fresh(
    desired: &DesiredState,
    live: &LiveState,
    options: &PlanOptions,
) -> anyhow::Result<Plan> {
    crate::plan::plan(&desired.doc, live, options)
        .map_err(|e| anyhow::anyhow!("planning failed (this is a bug in orgops): {e}"))
}

/// Reads a saved plan file.
pub fn read_saved_plan(path: &Path) -> anyhow::Result<SavedPlan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the saved plan {}", path.display()))?;
    saved::from_json(&text).with_context(|| format!("in {}", path.display()))
}

/// The saved plan's changes, as a plan, if it still fits the organization and the file.
pub fn check_saved_plan(
    saved: &SavedPlan,
    live: &LiveState,
    desired: &DesiredState,
    target: &Target,
) -> Result<Plan, Staleness> {
    saved::check_stale(saved, live, &desired.doc, &target.org)?;
    Ok(Plan {
        changes: saved::changes(saved),
        unmanaged: saved.unmanaged.clone(),
        refusals: saved.refusals.clone(),
    })
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
