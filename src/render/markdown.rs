//! The pull-request rendering (GitHub-flavoured markdown): the summary table first, then any
//! refusal, then the destructive changes (removals, archives, revocations, demotions, lowered limits:
//! unfolded, with their diffs), then the changes waiting for invites, then the order as a
//! mermaid flowchart of the change DAG, then one folded `<details>` section per kind (named in
//! words: "Project roles of members") with every other change as a `diff` block, then the
//! reported unmanaged objects.
//!
//! A GitHub comment holds at most 65,536 characters. The rendering never exceeds
//! [`MAX_CHARS`]: when everything does not fit, the order graph is replaced by a note first;
//! then sections are added while they fit, the first one that does not is cut at a change
//! boundary, and a closing note says how many changes and unmanaged objects were left out and
//! where to see them all.
//!
//! Nothing a name contains is markup here ([`escape`]): names are shown in code spans and
//! fenced blocks whose delimiters outlast any backtick run, with control characters and `<`
//! as `\u{…}` escapes; refusal messages are prose with every markdown character escaped; graph
//! labels are quoted with `#quot;`-style entities and no backtick, `<` or line break
//! ([`mermaid_label`]). So no name can close a block, open an HTML comment or inject HTML that
//! hides a change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{LineTag, field_lines, kind_title, shown_first, summary_sentence};
use crate::plan::{Action, Change, Plan, ResourceKind};
use crate::text::escape;

/// GitHub's limit for a comment body, in characters.
pub const MAX_CHARS: usize = 65_536;

/// Room kept for the closing note of a cut rendering.
const NOTE_RESERVE: usize = 1_000;

/// Objects named per refusal before "and N more".
const MAX_REFUSAL_OBJECTS: usize = 20;

/// Up to this many changes the order graph has one node per change; past it, one per kind
/// and phase (changes, removals).
pub const MAX_GRAPH_NODES: usize = 40;

/// The order graph is left out (with a note) when its block is longer than this.
const MAX_GRAPH_CHARS: usize = 20_000;

/// Characters of a name shown in a graph label before it is shortened with `…`.
const MAX_LABEL_CHARS: usize = 80;

pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// What the items of a section are, for the note of a cut rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Items {
    /// Changes of the plan apply runs.
    Changes,
    /// Unmanaged objects.
    Unmanaged,
    /// Changes of an explanation (the pull request's own diff, the drift).
    Explanations,
    /// Anything else (rows repeating what other sections hold).
    Other,
}

/// A section that can be cut between items.
pub(crate) struct Section {
    pub open: String,
    pub items: Vec<String>,
    pub close: String,
    pub what: Items,
    /// Shown instead of the whole section when the rendering does not fit (the order graph).
    pub fallback: Option<String>,
}

/// Where a change of the pull request's net plan comes from, shown after its heading.
pub(crate) type Origin<'a> = &'a dyn Fn(&Change) -> Option<&'static str>;

/// One change as lines of a `diff` block, with an optional note after its heading.
pub(crate) fn change_block(change: &Change, note: Option<&str>) -> String {
    let mut block = String::new();
    let irreversible = if change.action == Action::Archive {
        "  (irreversible)"
    } else {
        ""
    };
    let note = note.map(|n| format!("  ({n})")).unwrap_or_default();
    let _ = writeln!(
        block,
        "{} {} {}{irreversible}{note}",
        change.action.symbol(),
        change.action.as_str(),
        escape::code(&change.key),
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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A section of diff blocks inside one fence; `folded` puts it in a `<details>`.
pub(crate) fn diff_section(title: &str, folded: bool, items: Vec<String>, what: Items) -> Section {
    // Longer than any backtick run of the block (names are escaped, but not backticks).
    let fence = escape::fence(&items.concat());
    let (open, close) = if folded {
        (
            format!("<details><summary>{title}</summary>\n\n{fence}diff\n"),
            format!("{fence}\n\n</details>\n\n"),
        )
    } else {
        (format!("{title}\n\n{fence}diff\n"), format!("{fence}\n\n"))
    };
    Section {
        open,
        items,
        close,
        what,
        fallback: None,
    }
}

/// The keys of changes an invite of `plan` carries or defers: its project memberships
/// (`project:P/member:EMAIL`) and its `deferred` list.
pub(crate) fn carried_by_invites(plan: &Plan) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for change in plan
        .changes
        .iter()
        .filter(|c| c.kind == ResourceKind::Invite)
    {
        let Some(after) = &change.after else { continue };
        let email = change.key.strip_prefix("invite:").unwrap_or(&change.key);
        for project in after
            .get("projects")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(name) = project.get("name").and_then(|n| n.as_str()) {
                keys.insert(format!("project:{name}/member:{email}"));
            }
        }
        for key in after
            .get("deferred")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(key) = key.as_str() {
                keys.insert(key.to_string());
            }
        }
    }
    keys
}

/// A name as a mermaid label: as [`escape::code`] (control characters and `<` as `\u{…}`),
/// shortened past [`MAX_LABEL_CHARS`], and every character mermaid or HTML reads (`#`, `"`,
/// `&`, `>`, backtick, `%`) as a mermaid entity (`#quot;`), so the label is one quoted string
/// that can neither end its node nor carry markup.
pub fn mermaid_label(s: &str) -> String {
    let shortened: String = if chars(s) > MAX_LABEL_CHARS {
        let mut t: String = s.chars().take(MAX_LABEL_CHARS - 1).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    };
    let mut out = String::with_capacity(shortened.len() + 8);
    for c in escape::code(&shortened).chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '&' => out.push_str("#amp;"),
            '>' => out.push_str("#gt;"),
            '<' => out.push_str("#lt;"),
            '`' => out.push_str("#96;"),
            '%' => out.push_str("#37;"),
            c => out.push(c),
        }
    }
    out
}

/// The order apply runs the changes in, as a mermaid flowchart of `depends_on`: one node per
/// change (ids `n0`, `n1`… in plan order) up to [`MAX_GRAPH_NODES`] changes, else one node
/// per kind and phase. `None` under two changes (nothing to order).
pub fn mermaid(plan: &Plan) -> Option<String> {
    if plan.changes.len() < 2 {
        return None;
    }
    let mut out = String::from("flowchart TD\n");
    let mut destructive = Vec::new();
    if plan.changes.len() <= MAX_GRAPH_NODES {
        let index: BTreeMap<&str, usize> = plan
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.0.as_str(), i))
            .collect();
        for (i, change) in plan.changes.iter().enumerate() {
            let label = format!(
                "{}. {} {} {}",
                i + 1,
                change.action.symbol(),
                change.action.as_str(),
                change.key
            );
            let _ = writeln!(out, "  n{i}[\"{}\"]", mermaid_label(&label));
            if shown_first(change) {
                destructive.push(format!("n{i}"));
            }
        }
        for (i, change) in plan.changes.iter().enumerate() {
            let deps: BTreeSet<usize> = change
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.0.as_str()).copied())
                .collect();
            for dep in deps {
                let _ = writeln!(out, "  n{dep} --> n{i}");
            }
        }
    } else {
        // Groups in order of first appearance: (kind, removal phase).
        let mut groups: Vec<((ResourceKind, bool), Vec<&Change>)> = Vec::new();
        let mut group_of: BTreeMap<&str, usize> = BTreeMap::new();
        for change in &plan.changes {
            let key = (change.kind, change.action.is_removal());
            let at = match groups.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[at].1.push(change);
            group_of.insert(change.id.0.as_str(), at);
        }
        for (i, ((kind, removal), changes)) in groups.iter().enumerate() {
            let mut actions: Vec<&str> = changes.iter().map(|c| c.action.as_str()).collect();
            actions.sort_unstable();
            actions.dedup();
            let label = format!(
                "{}: {} ({})",
                kind_title(*kind),
                plural(changes.len(), "change", "changes"),
                actions.join(", ")
            );
            let _ = writeln!(out, "  n{i}[\"{}\"]", mermaid_label(&label));
            if *removal || changes.iter().any(|c| shown_first(c)) {
                destructive.push(format!("n{i}"));
            }
        }
        let mut edges = BTreeSet::new();
        for change in &plan.changes {
            let Some(&to) = group_of.get(change.id.0.as_str()) else {
                continue;
            };
            for dep in &change.depends_on {
                if let Some(&from) = group_of.get(dep.0.as_str())
                    && from != to
                {
                    edges.insert((from, to));
                }
            }
        }
        for (from, to) in edges {
            let _ = writeln!(out, "  n{from} --> n{to}");
        }
    }
    if !destructive.is_empty() {
        let _ = writeln!(out, "  classDef destructive stroke:#c00,stroke-width:2px");
        let _ = writeln!(out, "  class {} destructive", destructive.join(","));
    }
    Some(out)
}

/// The sections of a plan's changes: destructive (unfolded), waiting for invites, the order
/// graph, one folded section per kind, unmanaged. `origin` annotates each change.
pub(crate) fn plan_sections(plan: &Plan, origin: Origin<'_>) -> Vec<Section> {
    let mut sections = Vec::new();
    let first: Vec<&Change> = plan.changes.iter().filter(|c| shown_first(c)).collect();
    if !first.is_empty() {
        sections.push(diff_section(
            &format!(
                "#### Destructive changes ({})\n\nRemovals, archives, revocations, demotions and lowered limits, in the order apply runs them.",
                first.len()
            ),
            false,
            first.iter().map(|c| change_block(c, origin(c))).collect(),
            Items::Changes,
        ));
    }
    let waiting = &plan.waiting;
    if !waiting.is_empty() {
        let total: usize = waiting.iter().map(|w| w.deferred.len()).sum();
        sections.push(Section {
            open: format!(
                "#### Waiting for invites ({})\n\nNot part of this apply: what these people get once they accept their invite, planned by the first run after that.\n\n",
                plural(total, "change", "changes")
            ),
            items: waiting
                .iter()
                .map(|w| {
                    let shown: Vec<String> =
                        w.deferred.iter().map(|k| escape::code_span(k)).collect();
                    format!(
                        "- {} ({}): {}\n",
                        escape::code_span(&w.email),
                        super::invite_state(plan, w),
                        shown.join(", ")
                    )
                })
                .collect(),
            close: "\n".into(),
            what: Items::Other,
            fallback: None,
        });
    }
    if let Some(graph) = mermaid(plan) {
        let grouped = plan.changes.len() > MAX_GRAPH_NODES;
        let open = format!(
            "#### Order\n\nApply runs the changes in this order; an arrow points to a change that waits for the one it comes from{}.\n\n",
            if grouped {
                format!(" (grouped by kind: more than {MAX_GRAPH_NODES} changes)")
            } else {
                String::new()
            }
        );
        let note = "#### Order\n\nThe order graph is left out: it does not fit in this comment. `orgops plan --format json` lists each change's `depends_on`.\n\n"
            .to_string();
        if chars(&graph) > MAX_GRAPH_CHARS {
            sections.push(Section {
                open: note,
                items: vec![],
                close: String::new(),
                what: Items::Other,
                fallback: None,
            });
        } else {
            sections.push(Section {
                open,
                items: vec![format!("```mermaid\n{graph}```\n\n")],
                close: String::new(),
                what: Items::Other,
                fallback: Some(note),
            });
        }
    }
    let mut by_kind: BTreeMap<ResourceKind, Vec<&Change>> = BTreeMap::new();
    for change in plan.changes.iter().filter(|c| !shown_first(c)) {
        by_kind.entry(change.kind).or_default().push(change);
    }
    for (kind, changes) in by_kind {
        sections.push(diff_section(
            &format!(
                "<b>{}</b> ({})",
                kind_title(kind),
                plural(changes.len(), "change", "changes")
            ),
            true,
            changes.iter().map(|c| change_block(c, origin(c))).collect(),
            Items::Changes,
        ));
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
                .map(|u| match &u.note {
                    Some(note) => format!(
                        "- {} ({}; {})\n",
                        escape::code_span(&u.key),
                        kind_title(u.kind),
                        escape::prose(note)
                    ),
                    None => format!("- {} ({})\n", escape::code_span(&u.key), kind_title(u.kind)),
                })
                .collect(),
            close: "\n</details>\n\n".into(),
            what: Items::Unmanaged,
            fallback: None,
        });
    }
    sections
}

/// `head` then `sections`, in at most `max_chars` characters: the order graph gives way to its
/// note first, then the first section that does not fit is cut at an item boundary, and a
/// note says what was left out.
pub(crate) fn fit(head: String, mut sections: Vec<Section>, max_chars: usize) -> String {
    let budget = max_chars.saturating_sub(NOTE_RESERVE);
    let total = chars(&head)
        + sections
            .iter()
            .map(|s| {
                chars(&s.open) + chars(&s.close) + s.items.iter().map(|i| chars(i)).sum::<usize>()
            })
            .sum::<usize>();
    if total > budget {
        for section in &mut sections {
            if let Some(note) = section.fallback.take() {
                section.open = note;
                section.items.clear();
                section.close.clear();
            }
        }
    }
    let mut out = head;
    let mut left = BTreeMap::<&str, usize>::new();
    let mut cut = false;
    for section in &sections {
        let name = match section.what {
            Items::Changes => "change",
            Items::Unmanaged => "unmanaged object",
            Items::Explanations => "change of the explanations",
            Items::Other => "",
        };
        if cut {
            *left.entry(name).or_default() += section.items.len();
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
        if taken < section.items.len() || (section.items.is_empty() && fixed > budget) {
            cut = true;
            *left.entry(name).or_default() += section.items.len() - taken;
        }
        if taken > 0 || (section.items.is_empty() && fixed <= budget) {
            out.push_str(&section.open);
            out.push_str(&body);
            out.push_str(&section.close);
        }
    }
    if cut {
        let mut parts = Vec::new();
        for (name, many) in [
            ("change", "changes"),
            ("unmanaged object", "unmanaged objects"),
            ("change of the explanations", "changes of the explanations"),
        ] {
            let n = left.get(name).copied().unwrap_or(0);
            if n > 0 {
                parts.push(plural(n, name, many));
            }
        }
        if parts.is_empty() {
            parts.push("some rows repeating what the sections above show".into());
        }
        let _ = writeln!(
            out,
            "\n> [!NOTE]\n> This plan is too long for one comment: {} left out here. Run `orgops plan --format text` (or `--format json`) to see all of it.",
            parts.join(" and ")
        );
    }
    out
}

/// Render `plan` as markdown of at most `max_chars` characters (use [`MAX_CHARS`]).
pub fn render_with_limit(plan: &Plan, max_chars: usize) -> String {
    fit(head(plan), plan_sections(plan, &|_| None), max_chars)
}

pub(crate) fn head(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### orgops plan\n");
    if plan.is_partial() {
        let targets: Vec<String> = plan.targets.iter().map(|t| escape::code_span(t)).collect();
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Partial plan** (`--target`): only the changes of these targets and what they depend on. Every other difference between the file and the organization is left out, and apply will not make it.\n>\n> Targets: {}\n",
            targets.join(", ")
        );
    }
    if plan.changes.is_empty() && !plan.is_partial() && plan.waiting.is_empty() {
        let _ = writeln!(out, "**No changes**: the organization matches the file.\n");
    } else if plan.changes.is_empty() {
        let _ = writeln!(out, "**{}**\n", super::no_changes(plan));
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

/// Render `plan` as markdown that fits a GitHub comment.
pub fn render(plan: &Plan) -> String {
    render_with_limit(plan, MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ChangeId, FieldChange, Operation};
    use serde_json::json;

    fn change(i: usize, kind: ResourceKind, action: Action, deps: &[usize]) -> Change {
        let key = format!("k{i}");
        Change {
            id: ChangeId::new(kind, action, &key),
            kind,
            key,
            action,
            before: None,
            after: None,
            fields: vec![],
            depends_on: deps
                .iter()
                .map(|d| ChangeId::new(kind, action, &format!("k{d}")))
                .collect(),
            destructive: action.is_destructive(),
            op: Operation(serde_json::Value::Null),
        }
    }

    #[test]
    fn mermaid_labels_are_one_quoted_string_without_markup() {
        let label = mermaid_label("a\"b`c<!--d>e#f&g%h\n\u{1b}]");
        assert_eq!(
            label,
            "a#quot;b#96;c\\u{3c}!--d#gt;e#35;f#amp;g#37;h\\u{a}\\u{1b}]"
        );
        for bad in ['"', '`', '<', '>', '\n', '\u{1b}'] {
            assert!(!label.contains(bad), "{bad:?} in {label}");
        }
        let long = mermaid_label(&"x".repeat(500));
        assert_eq!(long.chars().count(), MAX_LABEL_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn the_order_graph_has_a_node_per_change_then_per_kind() {
        let small = Plan {
            changes: vec![
                change(0, ResourceKind::Project, Action::Create, &[]),
                change(1, ResourceKind::Project, Action::Create, &[0]),
            ],
            ..Plan::default()
        };
        let graph = mermaid(&small).expect("a graph");
        assert_eq!(
            graph,
            "flowchart TD\n  n0[\"1. + create k0\"]\n  n1[\"2. + create k1\"]\n  n0 --> n1\n"
        );
        let mut changes: Vec<Change> = (0..30)
            .map(|i| change(i, ResourceKind::Project, Action::Create, &[]))
            .collect();
        changes.extend((30..50).map(|i| {
            let mut c = change(i, ResourceKind::RateLimit, Action::Update, &[]);
            c.depends_on = vec![ChangeId::new(ResourceKind::Project, Action::Create, "k0")];
            c.fields = vec![FieldChange {
                field: "max_requests_per_1_minute".into(),
                before: Some(json!(900)),
                after: Some(json!(600)),
            }];
            // A lowered limit: the kind marks it destructive.
            c.destructive = true;
            c
        }));
        let big = Plan {
            changes,
            ..Plan::default()
        };
        let graph = mermaid(&big).expect("a graph");
        assert_eq!(
            graph,
            "flowchart TD\n  n0[\"Projects: 30 changes (create)\"]\n  n1[\"Rate limits: 20 changes (update)\"]\n  n0 --> n1\n  classDef destructive stroke:#c00,stroke-width:2px\n  class n1 destructive\n"
        );
        assert!(mermaid(&Plan::default()).is_none());
    }

    #[test]
    fn the_order_graph_gives_way_to_a_note_when_the_comment_is_full() {
        let changes: Vec<Change> = (0..10)
            .map(|i| change(i, ResourceKind::Project, Action::Create, &[]))
            .collect();
        let plan = Plan {
            changes,
            ..Plan::default()
        };
        let full = render_with_limit(&plan, MAX_CHARS);
        assert!(full.contains("```mermaid\nflowchart TD\n"), "{full}");
        // One character short (the last 1,000 are kept for the cut note): the graph goes first.
        let tight = render_with_limit(&plan, chars(&full) + NOTE_RESERVE - 1);
        assert!(!tight.contains("```mermaid"), "{tight}");
        assert!(tight.contains("The order graph is left out"), "{tight}");
        assert!(!tight.contains("too long for one comment"), "{tight}");
        assert!(tight.contains("+ create k9"), "{tight}");
    }
}
