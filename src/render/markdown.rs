//! The pull-request rendering (GitHub-flavoured markdown), in the order a reviewer reads it:
//! the title and the counts (with how many changes are destructive), a note when the plan is
//! too long for one comment (saying what was left out, per section), any refusal, then
//! **Needs attention** (every change that grants or removes access or money, one line each,
//! with the person, role or project named, as each kind decides: [`Kind::attention`]), the
//! table of counts, the destructive changes (unfolded, with their diffs), the changes waiting
//! for invites, the order (a mermaid flowchart of the changes that wait or are waited for,
//! left to right, drawn only when it fits the comment box at 100 %), one folded `<details>`
//! section per kind (named in words: "Project roles of members") with every other change as
//! a `diff` block, then the reported unmanaged objects.
//!
//! GitHub colours only the lines of a `diff` block that start with `-`, `+` or `!`: a
//! destructive change that does not start with `-` (a lowered limit, zero retention turned
//! on, a demotion: `~`) starts with `!`, which GitHub shows orange. Amounts of money read
//! `$60,000.00 → $50,000.00 per month` and numbers have thousands separators.
//!
//! A GitHub comment holds at most 65,536 characters. The rendering never exceeds
//! [`MAX_CHARS`]: when everything does not fit, the order graph gives way to a note first,
//! then sections are kept by priority (needs attention and refusals first, then destructive
//! changes, the pull request's own changes, waiting, the order, the kinds, unmanaged objects,
//! the drift), each cut at a change boundary and saying `(671 of 1,230 shown)`, and a note at
//! the top says what was left out and where to see it all. Needs attention is cut only when
//! it alone does not fit in a comment.
//!
//! Nothing a name contains is markup here ([`escape`]): names are shown in code spans and
//! fenced blocks whose delimiters outlast any backtick run, with control characters as
//! `\u{…}` escapes (and `<` in code spans); in fenced blocks nothing is markup, so `<` shows as
//! it is. Text inside `<summary>` is HTML-escaped; refusal messages are prose with every
//! markdown character escaped, their `` `code` `` as code spans; graph labels are quoted with
//! numeric `#60;`-style entities and no backtick, `<` or line break ([`mermaid_label`]). So no
//! name can close a block, open an HTML comment or inject HTML that hides a change.
//!
//! [`Kind::attention`]: crate::kinds::Kind::attention

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{LineTag, change_lines, kind_title, shown_first};
use crate::plan::{Action, Change, Plan, RefusalRule, ResourceKind};
use crate::text::escape;
use crate::text::words::thousands;

/// GitHub's limit for a comment body, in characters.
pub const MAX_CHARS: usize = 65_536;

/// Room kept at the top for the note of a cut rendering.
const NOTE_RESERVE: usize = 2_500;

/// Objects named per refusal, one per line, before "and N more".
const MAX_REFUSAL_OBJECTS: usize = 10;

/// Up to this many changes that wait or are waited for, the order graph has one node per
/// change; past it, one per kind and phase.
pub const MAX_GRAPH_NODES: usize = 20;

/// The order graph is left out (with a note) when its block is longer than this.
const MAX_GRAPH_CHARS: usize = 20_000;

/// Characters of a graph label's line: mermaid wraps a label wider than 200 px, inside names
/// (`gpt-`/`4o-mini`); 20 characters of its 16-px font stay under that.
const MAX_LABEL_LINE: usize = 20;

/// Lines of a name in a graph label before it is shortened with `…`.
const MAX_LABEL_LINES: usize = 3;

/// The width a flowchart may take in GitHub's comment box (782 px, less its padding) and
/// still be drawn at 100 %.
const BOX_WIDTH: f64 = 750.0;

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

/// Which sections a cut keeps first (lower first).
pub(crate) mod priority {
    /// Refusals, needs attention, the counts: cut only when they alone do not fit.
    pub const ALWAYS: u8 = 0;
    pub const DESTRUCTIVE: u8 = 1;
    /// The pull request's own changes (`--base`).
    pub const INTRODUCED: u8 = 2;
    pub const WAITING: u8 = 3;
    pub const ORDER: u8 = 4;
    pub const KINDS: u8 = 5;
    pub const UNMANAGED: u8 = 6;
    /// The drift merging also corrects (`--base`).
    pub const DRIFT: u8 = 7;
}

/// The heading of a section that shows `shown` of its items.
pub(crate) type CutOpen = Box<dyn Fn(usize) -> String>;

/// A section that can be cut between items.
pub(crate) struct Section {
    pub open: String,
    pub items: Vec<String>,
    pub close: String,
    pub what: Items,
    /// Shown instead of the whole section when the rendering does not fit (the order graph).
    pub fallback: Option<String>,
    /// Kept before sections of a higher number when the comment is cut.
    pub priority: u8,
    /// What the note of a cut rendering calls the section, and its heading when cut.
    pub cut: Option<(String, CutOpen)>,
}

impl Section {
    /// A section without items (a heading, a table, a note), kept whole or left out.
    pub(crate) fn fixed(open: String, priority: u8) -> Section {
        Section {
            open,
            items: vec![],
            close: String::new(),
            what: Items::Other,
            fallback: None,
            priority,
            cut: None,
        }
    }
}

/// Where a change of the pull request's net plan comes from, shown after its heading.
pub(crate) type Origin<'a> = &'a dyn Fn(&Change) -> Option<&'static str>;

/// The first character of a change's line in a `diff` block: its symbol, except that a
/// destructive change not starting with `-` starts with `!` (GitHub colours `!` lines).
pub(crate) fn marker(change: &Change) -> &'static str {
    let symbol = change.action.symbol();
    if change.destructive && symbol != "-" {
        "!"
    } else {
        symbol
    }
}

/// One change as lines of a `diff` block, with an optional note after its heading.
pub(crate) fn change_block(change: &Change, note: Option<&str>) -> String {
    let mut block = String::new();
    let mark = if change.action == Action::Archive {
        "  (irreversible)"
    } else if change.destructive && !change.action.is_destructive() {
        "  (destructive)"
    } else {
        ""
    };
    let note = note.map(|n| format!("  ({n})")).unwrap_or_default();
    let _ = writeln!(
        block,
        "{} {} {}{mark}{note}",
        marker(change),
        change.action.as_str(),
        escape::fenced(&change.key),
    );
    for line in change_lines(change, "→") {
        let line_text = escape::fenced(&line.text);
        let text = match line.tag {
            LineTag::Plain => format!("    {line_text}"),
            LineTag::Added => format!("+     {line_text}"),
            LineTag::Removed => format!("-     {line_text}"),
            LineTag::Unchanged => format!("      {line_text}"),
        };
        let _ = writeln!(block, "{text}");
    }
    block
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

/// A section of diff blocks inside one fence; `folded` puts it in a `<details>` whose
/// `<summary>` is `summary` (HTML: the caller escapes it), else under the markdown `title`.
/// When cut, a folded section's summary says `(671 of 1,230 shown)`.
pub(crate) fn diff_section(
    title: &str,
    folded: Option<&str>,
    items: Vec<String>,
    what: Items,
    priority: u8,
) -> Section {
    // Longer than any backtick run of the block (names are escaped, but not backticks).
    let fence = escape::fence(&items.concat());
    let total = items.len();
    let (open, close, cut): (String, String, CutOpen) = match folded {
        Some(summary) => {
            let summary = summary.to_string();
            let fence2 = fence.clone();
            (
                format!(
                    "<details><summary>{summary} ({})</summary>\n\n{fence}diff\n",
                    plural(total, "change", "changes")
                ),
                format!("{fence}\n\n</details>\n\n"),
                Box::new(move |shown| {
                    format!(
                        "<details><summary>{summary} ({} of {} shown)</summary>\n\n{fence2}diff\n",
                        thousands(shown as u64),
                        thousands(total as u64)
                    )
                }),
            )
        }
        None => {
            let title = title.to_string();
            let fence2 = fence.clone();
            (
                format!("{title}\n\n{fence}diff\n"),
                format!("{fence}\n\n"),
                Box::new(move |shown| {
                    format!(
                        "{title}\n\n({} of {} shown)\n\n{fence2}diff\n",
                        thousands(shown as u64),
                        thousands(total as u64)
                    )
                }),
            )
        }
    };
    let name = match folded {
        Some(summary) => summary.to_string(),
        None => title
            .lines()
            .next()
            .unwrap_or(title)
            .trim_start_matches(['#', ' '])
            .to_string(),
    };
    Section {
        open,
        items,
        close,
        what,
        fallback: None,
        priority,
        cut: Some((name, cut)),
    }
}
/// The keys of changes that changes of `plan` carry (`Kind::carried_keys`: an invite's
/// project memberships and the grants it defers to acceptance).
pub(crate) fn carried_keys(plan: &Plan) -> BTreeSet<String> {
    plan.changes
        .iter()
        .flat_map(|c| c.kind.def().carried_keys(c))
        .collect()
}

/// One line of a graph label as a quoted mermaid string: hidden characters as `\u{…}`
/// escapes, and every character mermaid or HTML reads (`#`, `"`, `&`, `<`, `>`, backtick,
/// `%`) as a numeric mermaid entity (`#35;`; mermaid shows `#gt;` literally), so the label
/// can neither end its node nor carry markup.
pub fn mermaid_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in escape::text(s).chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#34;"),
            '&' => out.push_str("#38;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '`' => out.push_str("#96;"),
            '%' => out.push_str("#37;"),
            c => out.push(c),
        }
    }
    out
}

/// A key as label lines of at most [`MAX_LABEL_LINE`] characters, broken after `/` and `:`
/// (never inside a name when the name fits a line), at most [`MAX_LABEL_LINES`] of them, the
/// last shortened with `…` when the key is longer.
fn label_lines(key: &str) -> Vec<String> {
    // Pieces: the key split after each `/` and `:`.
    let mut pieces: Vec<String> = Vec::new();
    let mut piece = String::new();
    for c in key.chars() {
        piece.push(c);
        if c == '/' || c == ':' {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        if chars(&line) + chars(&piece) <= MAX_LABEL_LINE {
            line.push_str(&piece);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = piece.as_str();
        while chars(rest) > MAX_LABEL_LINE {
            let cut = rest
                .char_indices()
                .nth(MAX_LABEL_LINE)
                .map_or(rest.len(), |(i, _)| i);
            lines.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        line.push_str(rest);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > MAX_LABEL_LINES {
        lines.truncate(MAX_LABEL_LINES);
        if let Some(last) = lines.last_mut() {
            let kept: String = last.chars().take(MAX_LABEL_LINE - 1).collect();
            *last = format!("{kept}…");
        }
    }
    lines
}

/// A label from its lines: each escaped, joined with `<br>`.
fn label(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| mermaid_label(l))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The order graph of a plan, as [`mermaid`] draws it.
#[derive(Debug, Clone, PartialEq)]
pub enum Graph {
    /// No change waits for another: nothing to draw.
    Nothing,
    /// `flowchart LR` of the changes that wait or are waited for; `nodes` changes are in it
    /// (grouped by kind and phase when `grouped`).
    Drawn {
        mermaid: String,
        nodes: usize,
        grouped: bool,
    },
    /// The flowchart would be wider than the comment box (so scaled below 100 %).
    TooWide,
}

/// The width of a `flowchart LR` as mermaid (dagre) lays it out with its defaults (16-px
/// labels, 15-px padding, 50 px between ranks), with a generous 9 px per character: the
/// ranks side by side, each as wide as its widest node.
fn estimated_width(widths: &[f64], edges: &BTreeSet<(usize, usize)>) -> f64 {
    let mut rank = vec![0usize; widths.len()];
    // The longest path to each node (at most one pass per node; a cycle between groups
    // makes the graph as wide as its nodes, and so too wide).
    for _ in 0..widths.len() {
        let mut moved = false;
        for (from, to) in edges.iter().filter(|(a, b)| a != b) {
            if rank[*to] < rank[*from] + 1 && rank[*from] < widths.len() {
                rank[*to] = rank[*from] + 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let rank: Vec<usize> = rank.into_iter().map(|r| r.min(widths.len())).collect();
    let ranks = rank.iter().max().map_or(0, |m| m + 1);
    let mut widest = vec![0f64; ranks];
    for (node, width) in widths.iter().enumerate() {
        widest[rank[node]] = widest[rank[node]].max(*width);
    }
    widest.iter().sum::<f64>() + 50.0 * ranks.saturating_sub(1) as f64 + 16.0
}

fn node_width(lines: &[String]) -> f64 {
    lines.iter().map(|l| chars(l)).max().unwrap_or(0) as f64 * 9.0 + 30.0
}

/// The order apply runs the changes in, as a mermaid `flowchart LR` of `depends_on`: only the
/// changes that wait or are waited for, one node per change (ids `n<i>`, `i` the change's
/// position in the plan) up to [`MAX_GRAPH_NODES`] of them, else one node per kind and phase
/// (ids `g<i>`). Labels are the verb and the key, broken into lines that mermaid does not
/// wrap. [`Graph::TooWide`] when it would not fit the comment box at 100 %.
pub fn mermaid(plan: &Plan) -> Graph {
    let edges = super::graph::edges(plan);
    if edges.is_empty() {
        return Graph::Nothing;
    }
    let linked: BTreeSet<usize> = edges.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let mut out = String::from("flowchart LR\n");
    let mut destructive = Vec::new();
    let grouped = linked.len() > MAX_GRAPH_NODES;
    let (widths, graph_edges, nodes) = if !grouped {
        let position: BTreeMap<usize, usize> =
            linked.iter().enumerate().map(|(p, i)| (*i, p)).collect();
        let mut widths = Vec::new();
        for &i in &linked {
            let change = &plan.changes[i];
            let mut lines = vec![format!(
                "{} {}",
                change.action.symbol(),
                change.action.as_str()
            )];
            lines.extend(label_lines(&change.key));
            widths.push(node_width(&lines));
            let _ = writeln!(out, "  n{i}[\"{}\"]", label(&lines));
            if shown_first(change) {
                destructive.push(format!("n{i}"));
            }
        }
        for (from, to) in &edges {
            let _ = writeln!(out, "  n{from} --> n{to}");
        }
        let graph_edges = edges
            .iter()
            .map(|(a, b)| (position[a], position[b]))
            .collect();
        (widths, graph_edges, linked.len())
    } else {
        // Groups in order of first appearance: (kind, removal phase).
        let mut groups: Vec<((ResourceKind, bool), Vec<&Change>)> = Vec::new();
        let mut group_of: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in &linked {
            let change = &plan.changes[i];
            let key = (change.kind, change.action.is_removal());
            let at = match groups.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[at].1.push(change);
            group_of.insert(i, at);
        }
        let mut widths = Vec::new();
        for (g, ((kind, removal), changes)) in groups.iter().enumerate() {
            let mut actions: Vec<&str> = changes.iter().map(|c| c.action.as_str()).collect();
            actions.sort_unstable();
            actions.dedup();
            let mut lines = label_lines(kind_title(*kind));
            lines.push(plural(changes.len(), "change", "changes"));
            lines.extend(label_lines(&actions.join(", ")));
            widths.push(node_width(&lines));
            let _ = writeln!(out, "  g{g}[\"{}\"]", label(&lines));
            if *removal || changes.iter().any(|c| shown_first(c)) {
                destructive.push(format!("g{g}"));
            }
        }
        let group_edges: BTreeSet<(usize, usize)> = edges
            .iter()
            .map(|(a, b)| (group_of[a], group_of[b]))
            .collect();
        for (from, to) in &group_edges {
            let _ = writeln!(out, "  g{from} --> g{to}");
        }
        (widths, group_edges, linked.len())
    };
    if !destructive.is_empty() {
        let _ = writeln!(out, "  classDef destructive stroke:#c00,stroke-width:3px");
        let _ = writeln!(out, "  class {} destructive", destructive.join(","));
    }
    if estimated_width(&widths, &graph_edges) > BOX_WIDTH {
        return Graph::TooWide;
    }
    Graph::Drawn {
        mermaid: out,
        nodes,
        grouped,
    }
}

/// The refusals of `plan` as a caution block: each rule with its message (the admin key's
/// owner named), the objects one per line (up to [`MAX_REFUSAL_OBJECTS`]; the destructive
/// changes of `max_removals` are the section below, not listed again) and the override.
pub(crate) fn refusals_block(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.refusals.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "> [!CAUTION]\n> **Refused: this plan must not be applied.**"
    );
    for refusal in &plan.refusals {
        let message = match refusal.rule {
            RefusalRule::KeyOwner => {
                let people: Vec<String> = refusal
                    .objects
                    .iter()
                    .map(|o| escape::code_span(o.strip_prefix("user:").unwrap_or(o)))
                    .collect();
                format!(
                    "the plan would remove or demote {}, the owner of the admin key in use",
                    people.join(", ")
                )
            }
            _ => escape::prose_with_code(&refusal.message),
        };
        let _ = writeln!(out, ">\n> - **{}**: {message}", refusal.rule.as_str());
        match refusal.rule {
            RefusalRule::KeyOwner => {}
            RefusalRule::MaxRemovals => {
                let _ = writeln!(
                    out,
                    ">\n>   Objects: the {} listed under Destructive changes.",
                    plural(refusal.objects.len(), "change", "changes")
                );
            }
            _ if refusal.objects.len() <= 3 => {
                let shown: Vec<String> = refusal
                    .objects
                    .iter()
                    .map(|o| escape::code_span(o))
                    .collect();
                let _ = writeln!(out, ">\n>   Objects: {}.", shown.join(", "));
            }
            _ => {
                let _ = writeln!(out, ">\n>   Objects:\n>");
                for object in refusal.objects.iter().take(MAX_REFUSAL_OBJECTS) {
                    let _ = writeln!(out, ">   - {}", escape::code_span(object));
                }
                let more = refusal.objects.len().saturating_sub(MAX_REFUSAL_OBJECTS);
                if more > 0 {
                    let _ = writeln!(out, ">   - and {} more", thousands(more as u64));
                }
            }
        }
        let _ = writeln!(
            out,
            ">\n>   To override: {}",
            escape::prose_with_code(&refusal.override_hint)
        );
    }
    out.push('\n');
    out
}

/// How many changes are destructive, in words for the summary: `8 destructive (4 removals
/// and 4 changes that take something away in place)`. `None` when there are none.
pub(crate) fn destructive_phrase(plan: &Plan) -> Option<String> {
    let destructive: Vec<&Change> = plan.changes.iter().filter(|c| shown_first(c)).collect();
    if destructive.is_empty() {
        return None;
    }
    let removals = destructive
        .iter()
        .filter(|c| c.action.is_destructive())
        .count();
    let in_place = destructive.len() - removals;
    let n = thousands(destructive.len() as u64);
    let in_place_words = format!(
        "{} that {} something away in place",
        plural(in_place, "change", "changes"),
        if in_place == 1 { "takes" } else { "take" }
    );
    Some(match (removals, in_place) {
        (_, 0) => format!("{n} destructive"),
        (0, _) => format!("{n} destructive ({in_place_words})"),
        _ => format!(
            "{n} destructive ({} and {in_place_words})",
            plural(removals, "removal", "removals"),
        ),
    })
}

/// The table of counts per action, with how many of each are destructive.
pub(crate) fn counts_table(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| action | count | destructive |\n|---|---:|---:|");
    for (action, count) in &plan.summary().by_action {
        let destructive = plan
            .changes
            .iter()
            .filter(|c| c.action == *action && shown_first(c))
            .count();
        let destructive = if destructive > 0 {
            thousands(destructive as u64)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} {} | {} | {destructive} |",
            action.symbol(),
            action.as_str(),
            thousands(*count as u64)
        );
    }
    let all = plan.changes.iter().filter(|c| shown_first(c)).count();
    let _ = writeln!(
        out,
        "| **total** | **{}** | **{}** |\n",
        thousands(plan.changes.len() as u64),
        thousands(all as u64)
    );
    out
}

/// What a line of Needs attention says after its description: destructive, refused by
/// `key_owner`, where it comes from.
fn attention_flags(change: &Change, key_owner: &BTreeSet<&str>, origin: Origin<'_>) -> String {
    let mut flags = String::new();
    if key_owner.contains(change.key.as_str()) {
        flags.push_str(" · **the owner of the admin key in use**: refused by `key_owner`");
    }
    if change.destructive {
        flags.push_str(" · **destructive**");
    }
    if let Some(origin) = origin(change) {
        let _ = write!(flags, " · {origin}");
    }
    flags
}

/// Needs attention: every change whose kind says it grants or removes access or money, in
/// apply order, one line each (`- `bob@…`: organization role owner → reader (demoted)`);
/// changes that say the same of several subjects (50 promotions) share one line naming
/// them all.
pub(crate) fn attention_section(plan: &Plan, origin: Origin<'_>) -> Option<Section> {
    let key_owner: BTreeSet<&str> = plan
        .refusals
        .iter()
        .filter(|r| r.rule == RefusalRule::KeyOwner)
        .flat_map(|r| r.objects.iter().map(String::as_str))
        .collect();
    // (what, flags) -> subjects, in order of first appearance.
    let mut lines: Vec<((String, String), Vec<String>)> = Vec::new();
    let mut at: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut n = 0usize;
    for change in &plan.changes {
        let Some(attention) = change.kind.def().attention(change) else {
            continue;
        };
        n += 1;
        let key = (
            escape::prose(&attention.what),
            attention_flags(change, &key_owner, origin),
        );
        let i = *at.entry(key.clone()).or_insert_with(|| {
            lines.push((key, Vec::new()));
            lines.len() - 1
        });
        lines[i].1.push(escape::code_span(&attention.subject));
    }
    if lines.is_empty() {
        return None;
    }
    let items: Vec<String> = lines
        .into_iter()
        .map(|((what, flags), subjects)| match subjects.as_slice() {
            [one] => format!("- {one}: {what}{flags}\n"),
            many => format!(
                "- {what}{flags}, {}: {}\n",
                thousands(many.len() as u64),
                many.join(", ")
            ),
        })
        .collect();
    let open = move |shown: Option<usize>| {
        format!(
            "#### Needs attention ({})\n\nWho gets or loses access, and what changes about money, limits and data, in the order apply runs it.\n\n",
            match shown {
                None => thousands(n as u64),
                Some(shown) => format!(
                    "{} of {} lines shown",
                    thousands(shown as u64),
                    thousands(n as u64)
                ),
            }
        )
    };
    Some(Section {
        open: open(None),
        items,
        close: "\n".into(),
        what: Items::Other,
        fallback: None,
        priority: priority::ALWAYS,
        cut: Some((
            "Needs attention".into(),
            Box::new(move |shown| open(Some(shown))),
        )),
    })
}

/// The sections of a plan: refusals, needs attention, the counts, `after_counts` (the pull
/// request's own changes), destructive changes (unfolded), waiting for invites, the order
/// graph, one folded section per kind, unmanaged. `origin` annotates each change.
pub(crate) fn plan_sections(
    plan: &Plan,
    origin: Origin<'_>,
    after_counts: Vec<Section>,
) -> Vec<Section> {
    let mut sections = Vec::new();
    if !plan.refusals.is_empty() {
        sections.push(Section::fixed(refusals_block(plan), priority::ALWAYS));
    }
    sections.extend(attention_section(plan, origin));
    if !plan.changes.is_empty() {
        sections.push(Section::fixed(counts_table(plan), priority::ALWAYS));
    }
    sections.extend(after_counts);
    let first: Vec<&Change> = plan.changes.iter().filter(|c| shown_first(c)).collect();
    if !first.is_empty() {
        sections.push(diff_section(
            &format!(
                "#### Destructive changes ({})\n\nRemovals, archives, revocations, demotions, lowered limits and zero retention turned on, in the order apply runs them.",
                thousands(first.len() as u64)
            ),
            None,
            first.iter().map(|c| change_block(c, origin(c))).collect(),
            Items::Changes,
            priority::DESTRUCTIVE,
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
            priority: priority::WAITING,
            cut: None,
        });
    }
    let note = "#### Order\n\nThe order graph is left out: it does not fit in this comment. `orgops plan --format json` lists each change's `depends_on`.\n\n";
    match mermaid(plan) {
        Graph::Nothing => {}
        Graph::TooWide => sections.push(Section::fixed(
            "#### Order\n\nThe order graph is not drawn: it would be too wide to read in this comment. `orgops plan --format json` lists each change's `depends_on`; apply runs every change after the ones it waits for.\n\n"
                .to_string(),
            priority::ORDER,
        )),
        Graph::Drawn {
            mermaid,
            nodes,
            grouped,
        } => {
            let rest = plan.changes.len() - nodes;
            let open = format!(
                "#### Order\n\nApply runs a change only after the changes it waits for: an arrow points to the change that waits{}.{}\n\n",
                if grouped {
                    format!(" (grouped by kind: {} changes wait or are waited for)", thousands(nodes as u64))
                } else {
                    String::new()
                },
                if rest > 0 {
                    format!(
                        " The other {} wait for nothing.",
                        plural(rest, "change", "changes")
                    )
                } else {
                    String::new()
                }
            );
            if chars(&mermaid) > MAX_GRAPH_CHARS {
                sections.push(Section::fixed(note.to_string(), priority::ORDER));
            } else {
                sections.push(Section {
                    open,
                    items: vec![format!("```mermaid\n{mermaid}```\n\n")],
                    close: String::new(),
                    what: Items::Other,
                    fallback: Some(note.to_string()),
                    priority: priority::ORDER,
                    cut: None,
                });
            }
        }
    }
    let mut by_kind: BTreeMap<ResourceKind, Vec<&Change>> = BTreeMap::new();
    for change in plan.changes.iter().filter(|c| !shown_first(c)) {
        by_kind.entry(change.kind).or_default().push(change);
    }
    for (kind, changes) in by_kind {
        sections.push(diff_section(
            "",
            Some(&format!("<b>{}</b>", escape::html(kind_title(kind)))),
            changes.iter().map(|c| change_block(c, origin(c))).collect(),
            Items::Changes,
            priority::KINDS,
        ));
    }
    if !plan.unmanaged.is_empty() {
        let n = plan.unmanaged.len();
        let all: Vec<_> = plan.unmanaged.iter().collect();
        let lines: Vec<String> = super::removal_lines(&all)
            .into_iter()
            .map(|(line, n)| format!("`{line}` ({n})"))
            .collect();
        let close = if lines.is_empty() {
            "\n</details>\n\n".to_string()
        } else {
            format!(
                "\nApply leaves them. To remove them instead, set in the file ({}): {}.\n\n</details>\n\n",
                super::POLICY_PLACE,
                lines.join(", ")
            )
        };
        sections.push(Section {
            open: format!(
                "<details><summary><b>Not in the file</b> ({}, reported, not changed)</summary>\n\n",
                thousands(n as u64)
            ),
            items: plan
                .unmanaged
                .iter()
                .map(|u| match &u.note {
                    Some(note) => format!(
                        "- {} ({}; {})\n",
                        escape::code_span(&u.key),
                        kind_title(u.kind),
                        escape::prose_with_code(note)
                    ),
                    None => format!("- {} ({})\n", escape::code_span(&u.key), kind_title(u.kind)),
                })
                .collect(),
            close,
            what: Items::Unmanaged,
            fallback: None,
            priority: priority::UNMANAGED,
            cut: Some((
                "Not in the file".into(),
                Box::new(move |shown| {
                    format!(
                        "<details><summary><b>Not in the file</b> ({} of {} shown, reported, not changed)</summary>\n\n",
                        thousands(shown as u64),
                        thousands(n as u64)
                    )
                }),
            )),
        });
    }
    sections
}

fn section_chars(section: &Section) -> usize {
    chars(&section.open)
        + chars(&section.close)
        + section.items.iter().map(|i| chars(i)).sum::<usize>()
}

/// `head` then `sections`, in at most `max_chars` characters. When everything does not fit:
/// the order graph gives way to its note, then the sections are kept by priority (lower
/// first; the smaller first within one priority), each cut at an item boundary,
/// and a note right after `head` says what was left out, per section.
pub(crate) fn fit(head: String, mut sections: Vec<Section>, max_chars: usize) -> String {
    let whole = |head: String, sections: &[Section]| {
        let total = chars(&head) + sections.iter().map(section_chars).sum::<usize>();
        (total <= max_chars).then(|| {
            let mut out = head;
            for section in sections {
                out.push_str(&section.open);
                out.extend(section.items.iter().map(String::as_str));
                out.push_str(&section.close);
            }
            out
        })
    };
    if let Some(out) = whole(head.clone(), &sections) {
        return out;
    }
    for section in &mut sections {
        if let Some(note) = section.fallback.take() {
            section.open = note;
            section.items.clear();
            section.close.clear();
        }
    }
    if let Some(out) = whole(head.clone(), &sections) {
        return out;
    }
    let budget = max_chars
        .saturating_sub(NOTE_RESERVE)
        .saturating_sub(chars(&head));
    // By priority; within one, the smaller sections first, so that one long section (1,230
    // invites) is cut rather than every section after it.
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|&i| (sections[i].priority, section_chars(&sections[i])));
    let mut taken = vec![0usize; sections.len()];
    let mut kept = vec![false; sections.len()];
    let mut used = 0usize;
    for &i in &order {
        let section = &sections[i];
        // The heading of a cut section is a little longer ("(671 of 1,230 shown)").
        let fixed = chars(&section.open) + chars(&section.close) + 24;
        if used + fixed > budget {
            continue;
        }
        let mut size = fixed;
        let mut n = 0;
        for item in &section.items {
            let len = chars(item);
            if used + size + len > budget {
                break;
            }
            size += len;
            n += 1;
        }
        if n == 0 && !section.items.is_empty() {
            continue;
        }
        kept[i] = true;
        taken[i] = n;
        used += size;
    }

    let mut left: Vec<String> = Vec::new();
    let mut changes_left = 0usize;
    let mut unmanaged_left = 0usize;
    let mut explanations_left = 0usize;
    for (i, section) in sections.iter().enumerate() {
        let missing = section.items.len() - taken[i];
        if missing == 0 && (kept[i] || !section.items.is_empty()) {
            continue;
        }
        match section.what {
            Items::Changes => changes_left += missing,
            Items::Unmanaged => unmanaged_left += missing,
            Items::Explanations => explanations_left += missing,
            Items::Other => {}
        }
        if let Some((name, _)) = &section.cut {
            left.push(format!(
                "{} ({} of {} shown)",
                name,
                thousands(taken[i] as u64),
                thousands(section.items.len() as u64)
            ));
        }
    }
    let mut parts = Vec::new();
    for (n, one, many) in [
        (changes_left, "change", "changes"),
        (unmanaged_left, "unmanaged object", "unmanaged objects"),
        (
            explanations_left,
            "change of the explanations",
            "changes of the explanations",
        ),
    ] {
        if n > 0 {
            parts.push(plural(n, one, many));
        }
    }
    if parts.is_empty() {
        parts.push("some rows repeating what the sections below show".into());
    }
    let mut listed = String::new();
    for (i, entry) in left.iter().enumerate() {
        if chars(&listed) + chars(entry) > NOTE_RESERVE - 600 {
            let _ = write!(listed, "; and {} more sections", left.len() - i);
            break;
        }
        if !listed.is_empty() {
            listed.push_str("; ");
        }
        listed.push_str(entry);
    }
    let mut out = head;
    let _ = writeln!(
        out,
        "> [!NOTE]\n> **This plan is too long for one comment: {} left out here.** {}{}Run `orgops plan --format text` (or `--format json`) to see all of it.\n",
        parts.join(" and "),
        if listed.is_empty() {
            String::new()
        } else {
            format!("Cut: {listed}. ")
        },
        if sections
            .iter()
            .enumerate()
            .any(|(i, s)| s.priority == priority::ALWAYS && s.items.len() > taken[i])
        {
            "Even what needs attention does not fit: "
        } else {
            "Everything that needs attention is shown. "
        }
    );
    for (i, section) in sections.iter().enumerate() {
        if !kept[i] {
            continue;
        }
        match &section.cut {
            Some((_, cut)) if taken[i] < section.items.len() => out.push_str(&cut(taken[i])),
            _ => out.push_str(&section.open),
        }
        out.extend(section.items[..taken[i]].iter().map(String::as_str));
        out.push_str(&section.close);
    }
    out
}

/// Render `plan` as markdown of at most `max_chars` characters (use [`MAX_CHARS`]).
pub fn render_with_limit(plan: &Plan, max_chars: usize) -> String {
    fit(
        head(plan),
        plan_sections(plan, &|_| None, vec![]),
        max_chars,
    )
}

/// The title and the summary sentence.
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
        let destructive = destructive_phrase(plan)
            .map(|d| format!(" {d}."))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "**Plan: {}.{destructive}**\n",
            super::counts_phrase(plan)
        );
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
            "a#34;b#96;c#60;!--d#62;e#35;f#38;g#37;h\\u{a}\\u{1b}]"
        );
        for bad in ['"', '`', '<', '>', '\n', '\u{1b}'] {
            assert!(!label.contains(bad), "{bad:?} in {label}");
        }
    }

    #[test]
    fn label_lines_break_between_names_and_fit_mermaids_wrapping_width() {
        assert_eq!(
            label_lines("project:Research/rate_limit:gpt-4o-mini"),
            vec!["project:Research/", "rate_limit:", "gpt-4o-mini"]
        );
        let long = label_lines(&format!("project:{}", "x".repeat(100)));
        assert_eq!(long.len(), MAX_LABEL_LINES);
        assert!(long.iter().all(|l| chars(l) <= MAX_LABEL_LINE), "{long:?}");
        assert!(long[MAX_LABEL_LINES - 1].ends_with('…'));
    }

    #[test]
    fn the_order_graph_has_the_changes_that_wait_then_one_node_per_kind() {
        let small = Plan {
            changes: vec![
                change(0, ResourceKind::Project, Action::Create, &[]),
                change(1, ResourceKind::Project, Action::Create, &[0]),
                change(2, ResourceKind::Project, Action::Create, &[]),
            ],
            ..Plan::default()
        };
        let Graph::Drawn {
            mermaid: graph,
            nodes,
            grouped,
        } = mermaid(&small)
        else {
            panic!("a graph")
        };
        assert_eq!((nodes, grouped), (2, false));
        assert_eq!(
            graph,
            "flowchart LR\n  n0[\"+ create<br>k0\"]\n  n1[\"+ create<br>k1\"]\n  n0 --> n1\n"
        );
        let mut changes: Vec<Change> = (0..30)
            .map(|i| change(i, ResourceKind::Project, Action::Create, &[]))
            .collect();
        changes.extend((30..50).map(|i| {
            let mut c = change(i, ResourceKind::RateLimit, Action::Update, &[]);
            c.depends_on = vec![ChangeId::new(
                ResourceKind::Project,
                Action::Create,
                &format!("k{}", i - 30),
            )];
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
        let Graph::Drawn {
            mermaid: graph,
            nodes,
            grouped,
        } = mermaid(&big)
        else {
            panic!("a graph")
        };
        assert_eq!((nodes, grouped), (40, true));
        assert_eq!(
            graph,
            "flowchart LR\n  g0[\"Projects<br>20 changes<br>create\"]\n  g1[\"Rate limits<br>20 changes<br>update\"]\n  g0 --> g1\n  classDef destructive stroke:#c00,stroke-width:3px\n  class g1 destructive\n"
        );
        assert_eq!(mermaid(&Plan::default()), Graph::Nothing);
        let unordered = Plan {
            changes: vec![change(0, ResourceKind::Project, Action::Create, &[])],
            ..Plan::default()
        };
        assert_eq!(mermaid(&unordered), Graph::Nothing);
    }

    #[test]
    fn a_chain_too_long_for_the_comment_box_is_not_drawn() {
        let changes: Vec<Change> = (0..6)
            .map(|i| {
                let deps: Vec<usize> = if i == 0 { vec![] } else { vec![i - 1] };
                let mut c = change(i, ResourceKind::Project, Action::Create, &deps);
                c.key = format!("project:{}", "long name ".repeat(2));
                c.id = ChangeId::new(c.kind, c.action, &format!("k{i}"));
                c
            })
            .collect();
        let plan = Plan {
            changes,
            ..Plan::default()
        };
        assert_eq!(mermaid(&plan), Graph::TooWide);
        let markdown = render(&plan);
        assert!(!markdown.contains("```mermaid"), "{markdown}");
        assert!(
            markdown.contains("The order graph is not drawn"),
            "{markdown}"
        );
    }

    #[test]
    fn the_order_graph_gives_way_to_a_note_when_the_comment_is_full() {
        let changes: Vec<Change> = (0..10)
            .map(|i| {
                change(
                    i,
                    ResourceKind::Project,
                    Action::Create,
                    if i == 0 { &[] } else { &[0] },
                )
            })
            .collect();
        let plan = Plan {
            changes,
            ..Plan::default()
        };
        let full = render_with_limit(&plan, MAX_CHARS);
        assert!(full.contains("```mermaid\nflowchart LR\n"), "{full}");
        // One character short: the graph goes first, and nothing else needs to.
        let tight = render_with_limit(&plan, chars(&full) - 1);
        assert!(!tight.contains("```mermaid"), "{tight}");
        assert!(tight.contains("The order graph is left out"), "{tight}");
        assert!(!tight.contains("too long for one comment"), "{tight}");
        assert!(tight.contains("+ create k9"), "{tight}");
    }

    #[test]
    fn a_cut_keeps_sections_by_priority_and_says_so_at_the_top() {
        let mut changes: Vec<Change> = (0..400)
            .map(|i| {
                let mut c = change(i, ResourceKind::Invite, Action::Create, &[]);
                c.fields = vec![FieldChange {
                    field: "role".into(),
                    before: None,
                    after: Some(json!("reader")),
                }];
                c
            })
            .collect();
        changes.push(change(400, ResourceKind::Project, Action::Archive, &[]));
        let plan = Plan {
            changes,
            ..Plan::default()
        };
        let cut = render_with_limit(&plan, 6_000);
        assert!(chars(&cut) <= 6_000, "{}", chars(&cut));
        let note = cut.find("too long for one comment").expect("a note");
        assert!(
            note < cut.find("#### Destructive changes").expect("kept"),
            "{cut}"
        );
        assert!(cut.contains("- archive k400"), "{cut}");
        assert!(cut.contains(" of 400 shown)</summary>"), "{cut}");
        assert!(cut.contains("Invites</b> ("), "{cut}");
    }
}
