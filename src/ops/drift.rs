//! The drift operation: the plan of the file against the live org, framed as a report of
//! what differs and, from the audit log, who caused it.

use std::path::Path;

use crate::drift::{self, DriftReport};
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
        },
    })
}
