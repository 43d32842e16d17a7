//! The drift operation: the plan of the file against the live org, framed as a report of
//! what differs and, from the audit log, who caused it.

use std::path::Path;

use crate::drift::{self, CostStatus, DriftReport};
use crate::ops::plan::{PlanFailure, Planned};
use crate::ops::target::Connect;
use crate::plan::PlanOptions;
use crate::printer::Printer;

/// A drift report and the plan it was derived from.
pub struct Drifted {
    pub planned: Planned,
    pub report: DriftReport,
}

/// Plans `file` against the target and attributes every drifted object from the audit log
/// since `since` (Unix seconds). With `fail_on_unmanaged`, objects the plan only reports
/// (policy `report`) count as drift too.
pub fn drift(
    file: &Path,
    load: crate::config::LoadOptions,
    target: &Connect,
    since: i64,
    fail_on_unmanaged: bool,
    cost_threshold: u32,
    printer: Printer,
) -> Result<Drifted, PlanFailure> {
    let planned = crate::ops::plan::plan(file, load, target, &PlanOptions::default(), printer)?;
    let mut items = drift::classify(&planned.plan, &planned.desired.doc, &planned.live.ids);
    let runtime = crate::ops::runtime()?;
    let audit = runtime.block_on(drift::attribute_from_audit_log(
        &planned.target.client,
        &mut items,
        since,
    ));
    let costs = runtime.block_on(costs_over(&planned, file, cost_threshold));
    let in_use = planned
        .live
        .admin_keys_in_use
        .iter()
        .map(|name| format!("admin_api_key:{name}"))
        .collect();
    Ok(Drifted {
        planned,
        report: DriftReport {
            items,
            audit,
            in_use,
            fail_on_unmanaged,
            costs,
        },
    })
}

/// This month's projects over `threshold` percent of the spend limit the file declares:
/// read only when the file declares a project spend limit.
async fn costs_over(planned: &Planned, file: &Path, threshold: u32) -> CostStatus {
    let doc = &planned.desired.doc;
    if !doc
        .projects
        .iter()
        .any(|p| p.fields.get("spend_limit").is_some())
    {
        return CostStatus::Skipped;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let read = async {
        let range = crate::ops::costs::month_range(None, now)?;
        crate::ops::costs::read(
            &planned.target.client,
            Some((doc, file.display().to_string())),
            range,
            crate::api::usage::MAX_COST_BUCKETS,
        )
        .await
    };
    match read.await {
        Ok(report) => CostStatus::from_report(&report, threshold),
        Err(e) => CostStatus::Unavailable {
            error: format!("{e:#}"),
        },
    }
}
