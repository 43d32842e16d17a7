//! The pull-request rendering (GitHub-flavoured markdown): the summary table first, then any
//! refusal, then the destructive changes (unfolded), then one folded `<details>` section per
//! kind with every change as a `diff` block, then the reported unmanaged objects.
//!
//! A GitHub comment holds at most 65,536 characters. The rendering never exceeds
//! [`MAX_CHARS`]: sections are added while they fit, the first one that does not is cut at a
//! change boundary, and a closing note says how many changes and unmanaged objects were left
//! out and where to see them all.
//!
//! Nothing a name contains is markup here ([`escape`]): names are shown in code spans and
//! fenced blocks whose delimiters outlast any backtick run, with control characters and `<`
//! as `\u{…}` escapes; refusal messages are prose with every markdown character escaped. So
//! no name can close a block, open an HTML comment or inject HTML that hides a change.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{LineTag, escape, field_lines, summary_sentence};
use crate::plan::{Action, Change, Plan, ResourceKind};

/// GitHub's limit for a comment body, in characters.
pub const MAX_CHARS: usize = 65_536;

/// Room kept for the closing note of a cut rendering.
const NOTE_RESERVE: usize = 1_000;

/// Objects named per refusal before "and N more".
const MAX_REFUSAL_OBJECTS: usize = 20;

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A section that can be cut between items.
struct Section {
    open: String,
    items: Vec<String>,
    close: String,
    /// What one item is, for the cut note: true for changes, false for unmanaged objects.
    counts_changes: bool,
}

fn change_block(change: &Change) -> String {
    let mut block = String::new();
    let note = if change.action == Action::Archive {
        "  (irreversible)"
    } else {
        ""
    };
    let _ = writeln!(
        block,
        "{} {} {}{}",
        change.action.symbol(),
        change.action.as_str(),
        escape::code(&change.key),
        note
    );
    for field in &change.fields {
        for line in field_lines(field) {
            let line_text = escape::code(&line.text);
            let text = match line.tag {
                LineTag::Plain => format!("    {line_text}"),
                LineTag::Added => format!("+     {line_text}"),
                LineTag::Removed => format!("-     {line_text}"),
                LineTag::Unchanged => format!("      {line_text}"),
            };
            let _ = writeln!(block, "{text}");
        }
    }
    block
}

fn head(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### orgops plan\n");
    if plan.changes.is_empty() {
        let _ = writeln!(out, "**No changes**: the organization matches the file.\n");
    } else {
        let _ = writeln!(out, "**{}**\n", summary_sentence(plan));
        let _ = writeln!(out, "| action | count |\n|---|---:|");
        let summary = plan.summary();
        for (action, count) in &summary.by_action {
            let _ = writeln!(
                out,
                "| {} {} | {} |",
                action.symbol(),
                action.as_str(),
                count
            );
        }
        let _ = writeln!(out, "| **total** | **{}** |\n", plan.changes.len());
    }
    if !plan.refusals.is_empty() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **Refused: this plan must not be applied.**"
        );
        for refusal in &plan.refusals {
            let shown: Vec<String> = refusal
                .objects
                .iter()
                .take(MAX_REFUSAL_OBJECTS)
                .map(|o| escape::code_span(o))
                .collect();
            let more = refusal.objects.len().saturating_sub(MAX_REFUSAL_OBJECTS);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                ">\n> - **{}**: {}",
                refusal.rule.as_str(),
                escape::prose(&refusal.message)
            );
            let _ = writeln!(out, ">   objects: {}{more}", shown.join(", "));
            let _ = writeln!(
                out,
                ">   to override: {}",
                escape::prose(&refusal.override_hint)
            );
        }
        out.push('\n');
    }
    out
}

fn sections(plan: &Plan) -> Vec<Section> {
    let mut sections = Vec::new();
    let destructive: Vec<&Change> = plan.changes.iter().filter(|c| c.destructive).collect();
    if !destructive.is_empty() {
        sections.push(Section {
            open: format!(
                "#### Destructive changes ({})\n\n| | action | object |\n|---|---|---|\n",
                destructive.len()
            ),
            items: destructive
                .iter()
                .map(|c| {
                    format!(
                        "| {} | **{}** | {} |\n",
                        c.action.symbol(),
                        c.action.as_str(),
                        escape::table_code_span(&c.key)
                    )
                })
                .collect(),
            close: "\n".into(),
            counts_changes: false,
        });
    }
    let mut by_kind: BTreeMap<ResourceKind, Vec<&Change>> = BTreeMap::new();
    for change in &plan.changes {
        by_kind.entry(change.kind).or_default().push(change);
    }
    for (kind, mut changes) in by_kind {
        // Destructive first, otherwise plan order (a stable sort keeps it).
        changes.sort_by_key(|c| !c.destructive);
        let items: Vec<String> = changes.iter().map(|c| change_block(c)).collect();
        // Longer than any backtick run of the block (names are escaped, but not backticks).
        let fence = escape::fence(&items.concat());
        sections.push(Section {
            open: format!(
                "<details><summary><b>{}</b> ({} change{})</summary>\n\n{fence}diff\n",
                kind.as_str(),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            ),
            items,
            close: format!("{fence}\n\n</details>\n\n"),
            counts_changes: true,
        });
    }
    if !plan.unmanaged.is_empty() {
        sections.push(Section {
            open: format!(
                "<details><summary><b>Not in the file</b> ({}, reported, not changed)</summary>\n\n",
                plan.unmanaged.len()
            ),
            items: plan
                .unmanaged
                .iter()
                .map(|u| format!("- {} ({})\n", escape::code_span(&u.key), u.kind.as_str()))
                .collect(),
            close: "\n</details>\n".into(),
            counts_changes: false,
        });
    }
    sections
}

/// Render `plan` as markdown of at most `max_chars` characters (use [`MAX_CHARS`]).
pub fn render_with_limit(plan: &Plan, max_chars: usize) -> String {
    let mut out = head(plan);
    let budget = max_chars.saturating_sub(NOTE_RESERVE);
    let mut left_changes = 0usize;
    let mut left_unmanaged = 0usize;
    let mut cut = false;
    for section in sections(plan) {
        let is_unmanaged = !section.counts_changes && section.open.contains("Not in the file");
        let mut count_left = |n: usize| {
            if section.counts_changes {
                left_changes += n;
            } else if is_unmanaged {
                left_unmanaged += n;
            }
        };
        if cut {
            count_left(section.items.len());
            continue;
        }
        let mut body = String::new();
        let fixed = chars(&out) + chars(&section.open) + chars(&section.close);
        let mut used = 0usize;
        let mut taken = 0usize;
        for item in &section.items {
            let len = chars(item);
            if fixed + used + len > budget {
                break;
            }
            used += len;
            body.push_str(item);
            taken += 1;
        }
        if taken < section.items.len() {
            cut = true;
            count_left(section.items.len() - taken);
        }
        if taken > 0 {
            out.push_str(&section.open);
            out.push_str(&body);
            out.push_str(&section.close);
        }
    }
    if cut {
        let mut parts = Vec::new();
        if left_changes > 0 {
            parts.push(format!(
                "{left_changes} change{}",
                if left_changes == 1 { "" } else { "s" }
            ));
        }
        if left_unmanaged > 0 {
            parts.push(format!(
                "{left_unmanaged} unmanaged object{}",
                if left_unmanaged == 1 { "" } else { "s" }
            ));
        }
        if parts.is_empty() {
            parts
                .push("some destructive-change rows (all are listed in the sections above)".into());
        }
        let _ = writeln!(
            out,
            "\n> [!NOTE]\n> This plan is too long for one comment: {} left out here. Run `orgops plan --format text` (or `--format json`) to see all of it.",
            parts.join(" and ")
        );
    }
    out
}

/// Render `plan` as markdown that fits a GitHub comment.
pub fn render(plan: &Plan) -> String {
    render_with_limit(plan, MAX_CHARS)
}
