//! The machine rendering, versioned and documented by `schema/plan.schema.json`:
//! `{"format_version": 1, "summary": {...}, "changes": [...], "unmanaged": [...],
//! "refusals": [...], "waiting": [...], "targets": [...]}` (`waiting`: what waits for
//! invites to be accepted; `targets`: the `--target` patterns of a partial plan, empty for a
//! whole plan). Every action appears in `summary.by_action`, with 0 when absent, so
//! the shape never depends on the plan.

use serde_json::{Map, Value, json};

use crate::plan::{Action, Plan};

/// Version of this JSON format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The plan as a JSON value.
pub fn to_value(plan: &Plan) -> Value {
    let summary = plan.summary();
    let mut by_action = Map::new();
    for action in Action::ALL {
        by_action.insert(
            action.as_str().into(),
            json!(summary.by_action.get(&action).copied().unwrap_or(0)),
        );
    }
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "kind": c.kind,
                "key": c.key,
                "action": c.action,
                "destructive": c.destructive,
                "before": c.before,
                "after": c.after,
                "fields": c.fields,
                "depends_on": c.depends_on,
                "operation": c.op,
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "summary": {
            "total": plan.changes.len(),
            "add": summary.add,
            "change": summary.change,
            "replace": summary.replace,
            "remove": summary.remove,
            "archive": summary.archive,
            "destructive": plan.destructive_count(),
            "by_action": by_action,
        },
        "changes": changes,
        "unmanaged": plan.unmanaged,
        "refusals": plan.refusals,
        "waiting": plan.waiting,
        "targets": plan.targets,
    })
}

/// The plan as pretty JSON with a trailing newline.
pub fn render(plan: &Plan) -> String {
    let mut text = crate::text::escape::json_pretty(&to_value(plan));
    text.push('\n');
    text
}
