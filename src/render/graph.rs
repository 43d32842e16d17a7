//! `orgops graph`: the plan's dependency graph (`depends_on`, the order apply runs the changes
//! in) outside the pull-request comment: Graphviz DOT and mermaid, one node per change
//! (`N. symbol action key`, numbered in plan order, ids `n<N-1>`), one edge per dependency
//! (from the change that runs first), destructive changes outlined in red. Unlike the comment's
//! graph ([`super::markdown::mermaid`]), nothing is folded, grouped or cut: every change is a
//! node, the lone ones too.
//!
//! Keys come from the file and the organization: DOT labels are quoted strings with `"` and
//! `\` escaped and hidden characters shown as `\u{…}`; mermaid labels are the comment's
//! quoted labels (numeric entities for what mermaid or HTML reads). Same plan, same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::plan::{Change, Plan};

/// `N. symbol action key`, the label of the change at `index`.
fn label(index: usize, change: &Change) -> String {
    format!(
        "{}. {} {} {}",
        index + 1,
        change.action.symbol(),
        change.action.as_str(),
        change.key
    )
}

/// The dependency edges `(first, then)` by plan position, deduplicated and sorted (the
/// comment's graph draws them too).
pub(crate) fn edges(plan: &Plan) -> BTreeSet<(usize, usize)> {
    let index: BTreeMap<&str, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.0.as_str(), i))
        .collect();
    let mut edges = BTreeSet::new();
    for (i, change) in plan.changes.iter().enumerate() {
        for dep in &change.depends_on {
            if let Some(&from) = index.get(dep.0.as_str())
                && from != i
            {
                edges.insert((from, i));
            }
        }
    }
    edges
}

/// A DOT label: a quoted string that cannot end early, with no raw control character.
fn dot_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in crate::text::escape::text(s).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Graphviz digraph: `orgops graph | dot -Tsvg > plan.svg`.
pub fn dot(plan: &Plan) -> String {
    let mut out = String::from(
        "digraph orgops_plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for (i, change) in plan.changes.iter().enumerate() {
        let style = if super::shown_first(change) {
            ", color=\"#cc0000\", penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  n{i} [label={}{style}];",
            dot_label(&label(i, change))
        );
    }
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "  n{from} -> n{to};");
    }
    out.push_str("}\n");
    out
}

/// The mermaid flowchart (left to right), every change a node.
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut destructive = Vec::new();
    for (i, change) in plan.changes.iter().enumerate() {
        let _ = writeln!(
            out,
            "  n{i}[\"{}\"]",
            super::markdown::mermaid_label(&label(i, change))
        );
        if super::shown_first(change) {
            destructive.push(format!("n{i}"));
        }
    }
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "  n{from} --> n{to}");
    }
    if !destructive.is_empty() {
        let _ = writeln!(out, "  classDef destructive stroke:#c00,stroke-width:2px");
        let _ = writeln!(out, "  class {} destructive", destructive.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_labels_cannot_end_early() {
        assert_eq!(dot_label("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert!(!dot_label("x\ny\u{1b}").contains(['\n', '\u{1b}']));
    }
}
