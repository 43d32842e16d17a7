//! Renderings of a [`DriftReport`]: text for terminals, markdown for issues and job
//! summaries, JSON (documented by `schema/drift.schema.json`). Pure functions of the report.
//! Names, actors and API errors come from the live organization and its audit log: the text
//! shows control characters as escapes, the markdown holds them in escaped code spans and
//! escaped prose ([`escape`]).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{AuditStatus, DriftClass, DriftItem, DriftReport};
use crate::render::LineTag;
use crate::render::markdown::MAX_CHARS;
use crate::text::escape;
use crate::text::time::format_utc;

/// Version of the JSON format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// What an object no audit event explains says, in text and markdown alike.
const UNATTRIBUTED: &str = "no audit event found";

fn who(item: &DriftItem) -> String {
    match &item.attribution {
        Some(a) => format!("{} via {} at {}", a.actor, a.event, format_utc(a.at)),
        None => UNATTRIBUTED.to_string(),
    }
}

/// What to do about the drift listed: revert it with apply, or accept it by editing the
/// file (per class present), and what the objects only reported are waiting for.
fn next_steps(report: &DriftReport) -> Vec<String> {
    let mut steps = Vec::new();
    let counted: Vec<&DriftItem> = report.items.iter().filter(|i| report.counts(i)).collect();
    let has = |class: DriftClass| counted.iter().any(|i| i.class == class);
    if counted.iter().any(|i| !i.informational()) {
        steps.push(
            "To revert: `orgops apply` (same `-f`) makes the organization match the file, doing what each object above says apply would.".to_string(),
        );
        let mut edits = Vec::new();
        if has(DriftClass::Changed) {
            edits.push("set changed fields to their (live) values");
        }
        if has(DriftClass::Missing) {
            edits.push("remove what is missing");
        }
        if has(DriftClass::Unmanaged) {
            edits.push("declare what is unmanaged");
        }
        steps.push(format!(
            "To accept what the organization has instead: `orgops drift --write` (same `-f`) edits the file ({}), keeping its comments; commit it and drift then reports it in sync.",
            edits.join(", ")
        ));
    }
    if report.items.iter().any(DriftItem::informational) {
        steps.push(
            "Objects only listed (policy `report`) stay as they are: declare them to manage them, or set `policy.unmanaged.<kind>: remove` for apply to remove them.".to_string(),
        );
    }
    steps
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary_sentence(report: &DriftReport) -> String {
    let listed = report.informational();
    if report.items.is_empty() {
        return "In sync: the organization matches the file.".to_string();
    }
    if report.in_sync() {
        return format!(
            "In sync: apply would change nothing. {} listed for information (policy `report`; `--fail-on-unmanaged` counts them as drift).",
            plural(listed, "undeclared object is", "undeclared objects are")
        );
    }
    let s = report.drift_summary();
    let mut sentence = format!(
        "Drift: {} changed, {} missing, {} unmanaged.",
        s.changed, s.missing, s.unmanaged
    );
    if !report.fail_on_unmanaged && listed > 0 {
        sentence.push_str(&format!(
            " {} listed for information (policy `report`).",
            plural(
                listed,
                "more undeclared object is",
                "more undeclared objects are"
            )
        ));
    }
    sentence
}

/// What apply would do about the item, for the table.
fn apply_would(item: &DriftItem) -> &'static str {
    item.action
        .map_or("nothing (policy `report`)", |a| a.as_str())
}

const IN_USE_NOTE: &str = "the admin key this run authenticates with; never reported as unmanaged";

fn audit_note(report: &DriftReport) -> Option<String> {
    match &report.audit {
        AuditStatus::Read { since, .. } => Some(format!(
            "attribution from the audit log since {}",
            format_utc(*since)
        )),
        AuditStatus::Skipped => None,
        AuditStatus::Unavailable { error, .. } => Some(format!(
            "the audit log could not be read, drift is unattributed: {error}"
        )),
    }
}

fn field_text(item: &DriftItem) -> Vec<String> {
    item.fields
        .iter()
        .flat_map(|field| crate::render::field_lines_between(field, Some(("live", "file"))))
        .map(|line| match line.tag {
            LineTag::Plain => line.text,
            LineTag::Added => format!("+ {}", line.text),
            LineTag::Removed => format!("- {}", line.text),
            LineTag::Unchanged => format!("  {}", line.text),
        })
        .collect()
}

/// One block per drifted object, a summary line last.
pub fn text(report: &DriftReport) -> String {
    let mut out = String::new();
    for item in &report.items {
        let what = match item.action {
            Some(action) => format!("apply would {}", action.as_str()),
            None => "for information: apply leaves it, policy `report`".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<9} {}  ({what})",
            item.class.as_str(),
            escape::text(&item.key)
        );
        for line in field_text(item) {
            let _ = writeln!(out, "    {}", escape::text(&line));
        }
        let _ = writeln!(out, "    by: {}", escape::text(&who(item)));
    }
    for key in &report.in_use {
        let _ = writeln!(
            out,
            "{:<9} {}  ({IN_USE_NOTE})",
            "in use",
            escape::text(key)
        );
    }
    for line in report.costs.lines() {
        let _ = writeln!(out, "{:<9} {}", "cost", escape::text(&line));
    }
    if !report.items.is_empty() || !report.in_use.is_empty() || !report.costs.lines().is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary_sentence(report));
    if let Some(note) = audit_note(report) {
        let _ = writeln!(out, "({})", escape::text(&note));
    }
    for step in next_steps(report) {
        let _ = writeln!(out, "{step}");
    }
    out
}

fn cell(text: &str) -> String {
    escape::table_code_span(text)
}

/// A summary, then one table row per object (class, object, what apply would do, who, when,
/// event), cut to fit a GitHub issue body with a note saying how many rows were left out.
pub fn markdown(report: &DriftReport) -> String {
    markdown_with_limit(report, MAX_CHARS)
}

pub fn markdown_with_limit(report: &DriftReport, max_chars: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### orgops drift\n");
    let _ = writeln!(out, "**{}**\n", summary_sentence(report));
    if let Some(note) = audit_note(report) {
        let _ = writeln!(out, "_{}_\n", escape::prose(&note));
    }
    for key in &report.in_use {
        let _ = writeln!(out, "In use: {} ({IN_USE_NOTE}).\n", cell(key));
    }
    let costs = report.costs.lines();
    if !costs.is_empty() {
        let _ = writeln!(out, "Costs near their limit (reported, not drift):\n");
        for line in &costs {
            let _ = writeln!(out, "- {}", escape::prose(line));
        }
        out.push('\n');
    }
    let steps = next_steps(report);
    if !steps.is_empty() {
        // Before the table, which may be cut to fit: always shown.
        for step in &steps {
            let _ = writeln!(out, "- {step}");
        }
        out.push('\n');
    }
    if report.items.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "| drift | object | apply would | changed by | when | event |\n|---|---|---|---|---|---|"
    );
    let budget = max_chars.saturating_sub(500);
    let mut left = 0usize;
    for item in &report.items {
        let (actor, when, event) = match &item.attribution {
            Some(a) => (cell(&a.actor), format_utc(a.at), cell(&a.event)),
            None => (format!("_{UNATTRIBUTED}_"), String::new(), String::new()),
        };
        let mut details: Vec<String> = field_text(item);
        details.truncate(5);
        let object = if details.is_empty() {
            cell(&item.key)
        } else {
            format!(
                "{}<br>{}",
                cell(&item.key),
                details
                    .iter()
                    .map(|d| cell(d))
                    .collect::<Vec<_>>()
                    .join("<br>")
            )
        };
        let row = format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            item.class.as_str(),
            object,
            apply_would(item),
            actor,
            when,
            event
        );
        if left > 0 || out.chars().count() + row.chars().count() > budget {
            left += 1;
            continue;
        }
        out.push_str(&row);
    }
    if left > 0 {
        let _ = writeln!(
            out,
            "\n> [!NOTE]\n> {left} more drifted object{} left out to fit; run `orgops drift` to see all of them.",
            if left == 1 { " is" } else { "s are" }
        );
    }
    out
}

/// The report as a JSON value (see `schema/drift.schema.json`).
pub fn to_value(report: &DriftReport) -> Value {
    let s = report.summary();
    let items: Vec<Value> = report
        .items
        .iter()
        .map(|i| {
            json!({
                "kind": i.kind,
                "key": i.key,
                "class": i.class,
                "action": i.action,
                "fields": i.fields,
                "live": i.live,
                "informational": i.informational(),
                "attribution": i.attribution.as_ref().map(|a| json!({
                    "actor": a.actor,
                    "actor_type": a.actor_type,
                    "event": a.event,
                    "event_id": a.event_id,
                    "at": a.at,
                    "at_utc": format_utc(a.at),
                })),
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "in_sync": report.in_sync(),
        "fail_on_unmanaged": report.fail_on_unmanaged,
        "summary": {
            "total": s.total(),
            "changed": s.changed,
            "missing": s.missing,
            "unmanaged": s.unmanaged,
            "informational": report.informational(),
        },
        "in_use": report.in_use,
        "audit": report.audit,
        "costs": report.costs,
        "items": items,
    })
}

pub fn json(report: &DriftReport) -> String {
    let mut text = escape::json_pretty(&to_value(report));
    text.push('\n');
    text
}
