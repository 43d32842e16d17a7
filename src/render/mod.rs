//! Renderings of a [`Plan`](crate::plan::Plan): [`text`] for terminals, [`markdown`] for pull
//! request comments and job summaries, [`json`] for machines (documented by
//! `schema/plan.schema.json`), and [`graph`], the dependency graph alone as DOT or mermaid
//! (`orgops graph`). All are pure functions of the plan: the same plan gives the same bytes.
//!
//! The field-level lines shared by text and markdown live here: scalar fields read
//! `field: before -> after`; lists of strings (role permissions) and multi-line strings are
//! shown as a line diff (computed with `similar`), so a long list shows what moved.
//!
//! Names come from the file and from the live organization, so anything the API accepts can
//! reach a rendering; `escape` is how each rendering prints them (never raw).

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::plan::{Change, FieldChange, ResourceKind};

pub mod graph;
pub mod json;
pub mod markdown;
pub mod pull_request;
pub mod text;

/// What a field line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineTag {
    /// `field: before -> after`, or a heading for the lines below it.
    Plain,
    Added,
    Removed,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldLine {
    pub tag: LineTag,
    pub text: String,
}

/// Unchanged list items shown around a list diff before they are summarised.
const MAX_UNCHANGED_SHOWN: usize = 8;

/// A value as a reader wants it: strings bare, whole numbers with thousands separators
/// (`10,000,000`), `{name, role}` lists (invite projects) as `Search (member), Labs (owner)`,
/// everything else compact JSON.
pub(crate) fn show(value: &Value) -> String {
    let name_role = |v: &Value| {
        Some(format!(
            "{} ({})",
            v.get("name")?.as_str()?,
            v.get("role")?.as_str()?
        ))
    };
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.as_u64().is_some() => {
            crate::text::words::thousands(n.as_u64().unwrap_or_default())
        }
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|v| name_role(v).is_some()) =>
        {
            items
                .iter()
                .filter_map(name_role)
                .collect::<Vec<_>>()
                .join(", ")
        }
        other => other.to_string(),
    }
}

/// Lines of text a value diffs as, when it is a list of strings or a multi-line string.
fn as_lines(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        Value::String(s) if s.contains('\n') => Some(s.lines().map(str::to_string).collect()),
        _ => None,
    }
}

/// The lines of one field change, `before -> after` (the renderings use [`change_lines`] or
/// [`field_lines_between`]).
#[cfg(test)]
pub(crate) fn field_lines(field: &FieldChange) -> Vec<FieldLine> {
    field_lines_with(field, "->")
}

/// The fields of a spend limit or a spend alert shown as one line of money.
const MONEY_FIELDS: [&str; 4] = ["amount_cents", "threshold_cents", "currency", "interval"];

/// An amount of money in a change's object: `$60,000.00 per month`.
fn money_of(value: Option<&Value>, field: &str) -> Option<(String, String)> {
    let value = value?;
    let cents = value.get(field)?.as_u64()?;
    let currency = value
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("USD");
    let interval = value
        .get("interval")
        .and_then(Value::as_str)
        .unwrap_or("month");
    Some((
        crate::text::words::money(cents, currency),
        crate::text::words::per(interval),
    ))
}

/// The lines of a change's fields as people read them: an amount of money (a spend limit's
/// `amount_cents`, a spend alert's `threshold_cents`, with their currency and interval) as one
/// line, `amount: $60,000.00 → $50,000.00 per month`; numbers with thousands separators;
/// `arrow` between before and after.
pub(crate) fn change_lines(change: &Change, arrow: &str) -> Vec<FieldLine> {
    let money_field = ["amount_cents", "threshold_cents"].into_iter().find(|f| {
        change
            .fields
            .iter()
            .any(|c| MONEY_FIELDS.contains(&c.field.as_str()))
            && [&change.before, &change.after]
                .iter()
                .any(|v| v.as_ref().is_some_and(|v| v.get(*f).is_some()))
    });
    let mut lines = Vec::new();
    let mut money_shown = false;
    for field in &change.fields {
        if let Some(money_field) = money_field
            && MONEY_FIELDS.contains(&field.field.as_str())
        {
            if !money_shown {
                money_shown = true;
                let name = money_field.trim_end_matches("_cents");
                let before = money_of(change.before.as_ref(), money_field);
                let after = money_of(change.after.as_ref(), money_field);
                let text = match (before, after) {
                    (Some((b, bi)), Some((a, ai))) if bi == ai => {
                        format!("{name}: {b} {arrow} {a} {ai}")
                    }
                    (Some((b, bi)), Some((a, ai))) => format!("{name}: {b} {bi} {arrow} {a} {ai}"),
                    (None, Some((a, ai))) => format!("{name}: {a} {ai}"),
                    (Some((b, bi)), None) => format!("{name}: {b} {bi} {arrow} (none)"),
                    (None, None) => continue,
                };
                lines.push(FieldLine {
                    tag: LineTag::Plain,
                    text,
                });
            }
            continue;
        }
        lines.extend(field_lines_with(field, arrow));
    }
    lines
}

/// The lines of one field change, `before ARROW after`.
pub(crate) fn field_lines_with(field: &FieldChange, arrow: &str) -> Vec<FieldLine> {
    field_lines_sided(field, arrow, None)
}

/// [`field_lines`] with the two sides named (`Some(("live", "file"))` for drift):
/// `role: owner (live) -> reader (file)`, and a list diff's heading says which sign is
/// which (`permissions (- live, + file):`).
pub(crate) fn field_lines_between(
    field: &FieldChange,
    sides: Option<(&str, &str)>,
) -> Vec<FieldLine> {
    field_lines_sided(field, "->", sides)
}

/// The lines of one field change, `before ARROW after`, the sides named when `sides` is set.
fn field_lines_sided(
    field: &FieldChange,
    arrow: &str,
    sides: Option<(&str, &str)>,
) -> Vec<FieldLine> {
    let side = |value: String, which: usize| match sides {
        Some(names) => format!("{value} ({})", if which == 0 { names.0 } else { names.1 }),
        None => value,
    };
    let plain = |text: String| {
        vec![FieldLine {
            tag: LineTag::Plain,
            text,
        }]
    };
    match (&field.before, &field.after) {
        (Some(before), Some(after)) => match (as_lines(before), as_lines(after)) {
            (Some(old), Some(new)) => {
                let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
                let new_refs: Vec<&str> = new.iter().map(String::as_str).collect();
                let diff = TextDiff::from_slices(&old_refs, &new_refs);
                let heading = match sides {
                    Some((before, after)) => {
                        format!("{} (- {before}, + {after}):", field.field)
                    }
                    None => format!("{}:", field.field),
                };
                let mut lines = vec![FieldLine {
                    tag: LineTag::Plain,
                    text: heading,
                }];
                let mut unchanged = 0usize;
                for change in diff.iter_all_changes() {
                    let text = change.value().to_string();
                    match change.tag() {
                        ChangeTag::Insert => lines.push(FieldLine {
                            tag: LineTag::Added,
                            text,
                        }),
                        ChangeTag::Delete => lines.push(FieldLine {
                            tag: LineTag::Removed,
                            text,
                        }),
                        ChangeTag::Equal => {
                            unchanged += 1;
                            if unchanged <= MAX_UNCHANGED_SHOWN {
                                lines.push(FieldLine {
                                    tag: LineTag::Unchanged,
                                    text,
                                });
                            }
                        }
                    }
                }
                if unchanged > MAX_UNCHANGED_SHOWN {
                    lines.push(FieldLine {
                        tag: LineTag::Unchanged,
                        text: format!("({} more unchanged)", unchanged - MAX_UNCHANGED_SHOWN),
                    });
                }
                lines
            }
            _ => plain(format!(
                "{}: {} {arrow} {}",
                field.field,
                side(show(before), 0),
                side(show(after), 1)
            )),
        },
        (None, Some(after)) => plain(format!("{}: {}", field.field, show(after))),
        (Some(before), None) => plain(format!(
            "{}: {} {arrow} {}",
            field.field,
            side(show(before), 0),
            side("(none)".to_string(), 1)
        )),
        (None, None) => vec![],
    }
}

/// The counts of a plan in words: `3 to add, 2 to change, 1 to remove, 1 to archive`
/// (thousands separated: `1,281 to add`)
/// (`N to replace` appears only when there are replacements).
pub(crate) fn counts_phrase(plan: &crate::plan::Plan) -> String {
    let s = plan.summary();
    let n = |n: usize| crate::text::words::thousands(n as u64);
    let replace = if s.replace > 0 {
        format!(", {} to replace", n(s.replace))
    } else {
        String::new()
    };
    format!(
        "{} to add, {} to change{replace}, {} to remove, {} to archive",
        n(s.add),
        n(s.change),
        n(s.remove),
        n(s.archive)
    )
}

/// What a kind of change is called where people read it (section titles, the order graph):
/// the kind's own title.
pub fn kind_title(kind: ResourceKind) -> &'static str {
    kind.def().title()
}

/// Shown first and never folded in markdown: what takes something away. The kind decided it
/// ([`Change::destructive`]); no rendering decides it again.
pub(crate) fn shown_first(change: &Change) -> bool {
    change.destructive
}

/// The summary sentence shared by text and markdown: `Plan: 3 to add, 2 to change, 1 to
/// remove, 1 to archive.` (`N to replace` appears only when there are replacements).
/// The first line of a plan without changes.
pub(crate) fn no_changes(plan: &crate::plan::Plan) -> &'static str {
    match (plan.is_partial(), plan.waiting.is_empty()) {
        (false, true) => "No changes: the organization matches the file.",
        (false, false) => {
            "No changes apply can make now: the rest waits for invites to be accepted (below)."
        }
        (true, true) => "No changes for these targets: the organization matches the file there.",
        (true, false) => {
            "No changes apply can make now for these targets: the rest waits for invites to be accepted (below)."
        }
    }
}

/// Where the invite of a [`Waiting`](crate::plan::Waiting) entry stands, in words.
pub(crate) fn invite_state(
    plan: &crate::plan::Plan,
    waiting: &crate::plan::Waiting,
) -> &'static str {
    use crate::plan::Action;
    let Some(id) = &waiting.change else {
        return "invite pending";
    };
    match plan.changes.iter().find(|c| &c.id == id).map(|c| c.action) {
        Some(Action::Invite) => "invited by this plan",
        Some(Action::Reinvite) => "invite sent again by this plan",
        Some(Action::Replace) => "invite replaced by this plan",
        Some(_) => "invite changed by this plan",
        None => "its invite is outside these targets",
    }
}

/// The `policy.unmanaged` lines that would remove `objects` (reported objects a `remove`
/// or `archive` acts on: those without a note), each with how many of them it concerns, in
/// line order: what a plan that only reports them tells the reader to add.
pub(crate) fn removal_lines(objects: &[&crate::plan::UnmanagedObject]) -> Vec<(String, usize)> {
    let mut lines: std::collections::BTreeMap<String, usize> = Default::default();
    for object in objects.iter().filter(|o| o.note.is_none()) {
        if let Some(policy) = object.kind.def().unmanaged_policy() {
            *lines
                .entry(format!(
                    "policy.unmanaged.{}: {}",
                    policy.key, policy.removes
                ))
                .or_default() += 1;
        }
    }
    lines.into_iter().collect()
}

/// Where a `policy.unmanaged` line goes in the file, in words.
pub(crate) const POLICY_PLACE: &str = "under `policy:`, `unmanaged:`";

pub(crate) fn summary_sentence(plan: &crate::plan::Plan) -> String {
    format!("Plan: {}.", counts_phrase(plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permission_lists_render_as_a_line_diff() {
        let field = FieldChange {
            field: "permissions".into(),
            before: Some(json!(["a.read", "b.read"])),
            after: Some(json!(["a.read", "c.write"])),
        };
        let lines = field_lines(&field);
        let tags: Vec<(LineTag, &str)> = lines.iter().map(|l| (l.tag, l.text.as_str())).collect();
        assert_eq!(
            tags,
            vec![
                (LineTag::Plain, "permissions:"),
                (LineTag::Unchanged, "a.read"),
                (LineTag::Removed, "b.read"),
                (LineTag::Added, "c.write"),
            ]
        );
    }

    #[test]
    fn scalars_render_before_and_after() {
        let field = FieldChange {
            field: "role".into(),
            before: Some(json!("owner")),
            after: Some(json!("reader")),
        };
        assert_eq!(field_lines(&field)[0].text, "role: owner -> reader");
        let created = FieldChange {
            field: "max".into(),
            before: None,
            after: Some(json!(5)),
        };
        assert_eq!(field_lines(&created)[0].text, "max: 5");
    }
}
