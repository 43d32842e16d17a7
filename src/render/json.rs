//! The machine rendering, versioned and documented by `schema/plan.schema.json`:
//! `{"format_version": 1, "summary": {...}, "changes": [...], "unmanaged": [...],
//! "refusals": [...], "waiting": [...], "targets": [...]}` (`waiting`: what waits for
//! invites to be accepted; `targets`: the `--target` patterns of a partial plan, empty for a
//! whole plan). Every action appears in `summary.by_action`, with 0 when absent, so
//! the shape never depends on the plan.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::Value;

use crate::plan::{Action, Change, ChangeId, Plan, Refusal, UnmanagedObject, Waiting};

/// Version of this JSON format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The document, borrowed from the plan: serialized straight to its writer (a large plan is
/// never held twice, as a `Value` tree or as text).
#[derive(Serialize)]
struct PlanView<'a> {
    format_version: u32,
    summary: SummaryView,
    changes: Changes<'a>,
    unmanaged: &'a [UnmanagedObject],
    refusals: &'a [Refusal],
    waiting: &'a [Waiting],
    targets: &'a [String],
}

#[derive(Serialize)]
struct SummaryView {
    total: usize,
    add: usize,
    change: usize,
    replace: usize,
    remove: usize,
    archive: usize,
    destructive: usize,
    by_action: ByAction,
}

/// Every action, in [`Action::ALL`] order, with 0 when absent.
struct ByAction(Vec<(Action, usize)>);

impl Serialize for ByAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (action, count) in &self.0 {
            map.serialize_entry(action.as_str(), count)?;
        }
        map.end()
    }
}

struct Changes<'a>(&'a [Change]);

impl Serialize for Changes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for change in self.0 {
            seq.serialize_element(&ChangeView::from(change))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct ChangeView<'a> {
    id: &'a ChangeId,
    kind: crate::plan::ResourceKind,
    key: &'a str,
    action: Action,
    destructive: bool,
    before: &'a Option<Value>,
    after: &'a Option<Value>,
    fields: &'a [crate::plan::FieldChange],
    depends_on: &'a [ChangeId],
    operation: &'a crate::plan::Operation,
}

impl<'a> From<&'a Change> for ChangeView<'a> {
    fn from(c: &'a Change) -> Self {
        ChangeView {
            id: &c.id,
            kind: c.kind,
            key: &c.key,
            action: c.action,
            destructive: c.destructive,
            before: &c.before,
            after: &c.after,
            fields: &c.fields,
            depends_on: &c.depends_on,
            operation: &c.op,
        }
    }
}

impl<'a> PlanView<'a> {
    fn new(plan: &'a Plan) -> Self {
        let summary = plan.summary();
        let by_action = Action::ALL
            .iter()
            .map(|a| (*a, summary.by_action.get(a).copied().unwrap_or(0)))
            .collect();
        PlanView {
            format_version: FORMAT_VERSION,
            summary: SummaryView {
                total: plan.changes.len(),
                add: summary.add,
                change: summary.change,
                replace: summary.replace,
                remove: summary.remove,
                archive: summary.archive,
                destructive: plan.destructive_count(),
                by_action: ByAction(by_action),
            },
            changes: Changes(&plan.changes),
            unmanaged: &plan.unmanaged,
            refusals: &plan.refusals,
            waiting: &plan.waiting,
            targets: &plan.targets,
        }
    }
}

/// The plan as a JSON value (the pull-request view nests it).
pub fn to_value(plan: &Plan) -> Value {
    // Plain data with string keys: cannot fail.
    serde_json::to_value(PlanView::new(plan)).expect("plans serialize to JSON")
}

/// The plan as pretty JSON with a trailing newline.
pub fn render(plan: &Plan) -> String {
    let mut text = crate::text::escape::json_pretty(&PlanView::new(plan));
    text.push('\n');
    text
}

/// [`render`] written to `writer` as it is produced.
pub fn write(plan: &Plan, mut writer: impl std::io::Write) -> std::io::Result<()> {
    crate::text::escape::write_json(&mut writer, &PlanView::new(plan), true)?;
    writer.write_all(b"\n")
}
