//! Renderings of the pull-request view (`PullRequestPlan`): the net plan apply will run
//! after the merge first (its counts, where each change comes from, any refusal, then its
//! changes), then, as explanations, the changes the pull request introduces and the drift
//! merging also corrects, each with counts that add up. Refusals are shown once, from the net
//! plan, because that is the plan that will be applied; the two parts are views of it.
//!
//! Changes are matched across the three plans by key (unique in a plan): a net change is
//! "from this pull request", "correcting drift" or "both"; a change of the pull request's own
//! diff is "in the plan above", "carried by an invite" (a project membership an invite
//! carries, or something it defers) or "already live"; a drift change not in the net plan is
//! one this pull request accepts (the file now matches live).

use std::fmt::Write as _;

use serde_json::{Value, json};

use std::collections::BTreeSet;

use super::markdown::{Items, Section};
use super::{counts_phrase, json as plan_json, markdown, text};
use crate::plan::{Change, Plan, UnmanagedObject};
use crate::text::escape;

/// What the base revision held, as the rendering needs it.
#[derive(Debug, Clone, Copy)]
pub enum BaseView<'a> {
    /// A valid desired state.
    Valid,
    /// The path did not exist at the base.
    Absent,
    /// The base's desired state was invalid (the message says why).
    Invalid(&'a str),
}

/// The pull-request view of a plan, as `ops::pull_request` computed it.
#[derive(Debug, Clone, Copy)]
pub struct PullRequestView<'a> {
    /// desired@HEAD against live: what applying after the merge does.
    pub plan: &'a Plan,
    /// The revision as given and the commit it names.
    pub base_ref: &'a str,
    pub base_commit: &'a str,
    pub base: BaseView<'a>,
    /// desired@HEAD against desired@base; `None` when the base was invalid.
    pub introduced: Option<&'a Plan>,
    /// desired@base against live; `None` when the base was absent or invalid.
    pub pre_existing: Option<&'a Plan>,
}

/// Version of the JSON document `plan --base --format json` prints.
pub const FORMAT_VERSION: u32 = 1;

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn without_refusals(plan: &Plan) -> Plan {
    Plan {
        refusals: vec![],
        ..plan.clone()
    }
}

fn base_label(pr: &PullRequestView<'_>) -> String {
    format!("{} ({})", pr.base_ref, short(pr.base_commit))
}

/// Declarations this pull request deletes that apply will leave in place: objects the net
/// plan only reports (the policy for their kind is `report`) that the pull request's own
/// diff reports too, which means the base declared them. Empty unless the base was valid.
fn deleted_but_kept<'p>(pr: &PullRequestView<'p>) -> Vec<&'p UnmanagedObject> {
    let (BaseView::Valid, Some(introduced)) = (&pr.base, pr.introduced) else {
        return Vec::new();
    };
    let deleted: BTreeSet<&str> = introduced
        .unmanaged
        .iter()
        .map(|u| u.key.as_str())
        .collect();
    pr.plan
        .unmanaged
        .iter()
        .filter(|u| deleted.contains(u.key.as_str()))
        .filter(|u| u.note.is_none() && u.kind.def().unmanaged_policy().is_some())
        .collect()
}

/// Keys listed in the deletion warning; the rest are counted.
const DELETED_SHOWN: usize = 20;

/// The warning about [`deleted_but_kept`].
struct DeletionWarning {
    /// Its first line (plain text).
    head: String,
    /// How many declarations.
    n: usize,
    /// At most [`DELETED_SHOWN`] keys, then how many more.
    keys: Vec<String>,
    more: Option<String>,
    /// The `policy.unmanaged` lines that would remove them.
    lines: Vec<String>,
}

fn deletion_warning(pr: &PullRequestView<'_>) -> Option<DeletionWarning> {
    let kept = deleted_but_kept(pr);
    if kept.is_empty() {
        return None;
    }
    let n = kept.len();
    let lines: Vec<String> = super::removal_lines(&kept)
        .into_iter()
        .map(|(line, _)| line)
        .collect();
    let policies: Vec<String> = lines
        .iter()
        .filter_map(|l| l.split_once(':').map(|(key, _)| key.to_string()))
        .collect();
    let head = format!(
        "this pull request deletes {} that apply will not remove: {} report, so the plan only lists {}",
        plural(n, "declaration", "declarations"),
        if policies.len() == 1 {
            format!("{} is", policies[0])
        } else {
            format!("{} are", policies.join(", "))
        },
        if n == 1 { "it" } else { "them" },
    );
    let keys = kept
        .iter()
        .take(DELETED_SHOWN)
        .map(|u| u.key.clone())
        .collect();
    let more = (n > DELETED_SHOWN).then(|| format!("and {} more", n - DELETED_SHOWN));
    Some(DeletionWarning {
        head,
        n,
        keys,
        more,
        lines,
    })
}

fn base_note(pr: &PullRequestView<'_>) -> Option<String> {
    match &pr.base {
        BaseView::Valid => None,
        BaseView::Absent => Some(format!(
            "The file does not exist at {}: everything is introduced by this change.",
            base_label(pr)
        )),
        BaseView::Invalid(why) => Some(format!(
            "The file at {} is invalid, so the plan cannot be split into what this change introduces and pre-existing drift:\n{why}",
            base_label(pr)
        )),
    }
}

/// Terminal rendering.
pub fn text(pr: &PullRequestView<'_>, color: bool) -> String {
    let mut out = String::new();
    if let Some(note) = base_note(pr) {
        let _ = writeln!(out, "{}\n", escape::text_lines(&note));
    }
    if let Some(w) = deletion_warning(pr) {
        let _ = writeln!(out, "Warning: {}:", escape::text(&w.head));
        for key in &w.keys {
            let _ = writeln!(out, "  ? {}", escape::text(key));
        }
        if let Some(more) = &w.more {
            let _ = writeln!(out, "  ... {more}");
        }
        let _ = writeln!(
            out,
            "To remove {}, set in the file ({}):",
            if w.n == 1 { "it" } else { "them" },
            super::POLICY_PLACE
        );
        for line in &w.lines {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    let label = base_label(pr);
    let label = escape::text(&label);
    let _ = writeln!(
        out,
        "== Merging and applying (the net plan apply will run) =="
    );
    out.push_str(&text::render(pr.plan, color));
    out.push('\n');
    if let Some(introduced) = pr.introduced {
        let _ = writeln!(
            out,
            "== Why: changes this pull request introduces (against {label}) =="
        );
        out.push_str(&text::render(&without_refusals(introduced), color));
        out.push('\n');
    }
    if let Some(pre) = pr.pre_existing {
        let _ = writeln!(
            out,
            "== Why: drift that merging also corrects (live differs from {label}) =="
        );
        out.push_str(&text::render(&without_refusals(pre), color));
    }
    out
}

/// Where each change of the net plan comes from, matched by key (keys are unique in a plan).
struct Explained {
    in_introduced: BTreeSet<String>,
    in_pre: BTreeSet<String>,
    net: BTreeSet<String>,
}

impl Explained {
    fn new(pr: &PullRequestView<'_>) -> Option<Explained> {
        let keys =
            |p: &Plan| -> BTreeSet<String> { p.changes.iter().map(|c| c.key.clone()).collect() };
        Some(Explained {
            in_introduced: keys(pr.introduced?),
            in_pre: keys(pr.pre_existing?),
            net: keys(pr.plan),
        })
    }

    fn origin(&self, change: &Change) -> Option<&'static str> {
        match (
            self.in_introduced.contains(&change.key),
            self.in_pre.contains(&change.key),
        ) {
            (true, false) => Some("this pull request"),
            (false, true) => Some("drift"),
            (true, true) => Some("this pull request and drift"),
            (false, false) => Some("neither: see the note above"),
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The head of the comment: the net plan apply will run, its counts (how many are
/// destructive) and where they come from, then the note about the base. The refusals, what
/// needs attention and the table follow as sections ([`markdown::plan_sections`]).
fn head(pr: &PullRequestView<'_>, title: &str, explained: Option<&Explained>) -> String {
    let full = pr.plan;
    let n = full.changes.len();
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    if full.is_empty() && deleted_but_kept(pr).is_empty() {
        let _ = writeln!(
            out,
            "**Apply after the merge: no changes**: after merging, the organization will match the file.\n"
        );
    } else if full.is_empty() {
        let _ = writeln!(
            out,
            "**Apply after the merge: no changes**: what this pull request deletes stays in the organization (below).\n"
        );
    } else {
        let destructive = markdown::destructive_phrase(full)
            .map(|d| format!(" {d}."))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "**Apply after the merge: {}**: {}.{destructive}\n",
            plural(n, "change", "changes"),
            counts_phrase(full)
        );
        match explained {
            Some(e) => {
                let count = |pr_side: bool, drift_side: bool| {
                    full.changes
                        .iter()
                        .filter(|c| {
                            e.in_introduced.contains(&c.key) == pr_side
                                && e.in_pre.contains(&c.key) == drift_side
                        })
                        .count()
                };
                let neither = count(false, false);
                let neither = if neither > 0 {
                    format!(
                        " + {neither} neither (the file at the base and this pull request agree, live differs in another way)"
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "{n} = {} from this pull request + {} correcting drift + {} both (changes this pull request makes to objects that also drifted){neither}\n",
                    count(true, false),
                    count(false, true),
                    count(true, true),
                );
            }
            None if matches!(pr.base, BaseView::Absent) => {
                let _ = writeln!(
                    out,
                    "All of them come from this pull request: the file is new.\n"
                );
            }
            None => {}
        }
    }
    if let Some(w) = deletion_warning(pr) {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **{}**:",
            escape::prose(&upper_first(&w.head))
        );
        for key in &w.keys {
            let _ = writeln!(out, "> - {}", escape::code_span(key));
        }
        if let Some(more) = &w.more {
            let _ = writeln!(out, "> - {more}");
        }
        let lines: Vec<String> = w.lines.iter().map(|l| escape::code_span(l)).collect();
        let _ = writeln!(
            out,
            ">\n> To remove {}, set in the file ({}): {}.\n",
            if w.n == 1 { "it" } else { "them" },
            super::POLICY_PLACE,
            lines.join(", ")
        );
    }
    if let Some(note) = base_note(pr) {
        let lines: Vec<String> = note.lines().map(escape::prose).collect();
        let _ = writeln!(out, "> [!NOTE]\n> {}\n", lines.join("\n> "));
    }
    out
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An explanation: a heading with its count, the sum of what became of its changes, and
/// its changes, each saying what became of it (those in the plan above first). `folded`:
/// in a `<details>` whose summary is `summary` (HTML), else unfolded under the heading.
fn explanation(
    heading: &str,
    summary: &str,
    plan: &Plan,
    fate: &dyn Fn(&Change) -> usize,
    fates: &[&str],
    folded: bool,
    priority: u8,
) -> Vec<Section> {
    let n = plan.changes.len();
    let mut counts = vec![0usize; fates.len()];
    for change in &plan.changes {
        counts[fate(change)] += 1;
    }
    let mut terms = vec![format!("{} {}", counts[0], fates[0])];
    for (count, name) in counts.iter().zip(fates).skip(1) {
        if *count > 0 {
            terms.push(format!("{count} {name}"));
        }
    }
    let top = format!(
        "#### {heading}: {}\n\n{n} = {}",
        plural(n, "change", "changes"),
        terms.join(" + ")
    );
    let mut ordered: Vec<&Change> = plan.changes.iter().collect();
    ordered.sort_by_key(|c| fate(c));
    let items: Vec<String> = ordered
        .iter()
        .map(|c| markdown::change_block(c, Some(fates[fate(c)])))
        .collect();
    if n == 0 {
        return vec![Section::fixed(format!("{top}\n\n"), priority)];
    }
    if !folded {
        return vec![markdown::diff_section(
            &top,
            None,
            items,
            Items::Explanations,
            priority,
        )];
    }
    vec![
        Section::fixed(format!("{top}\n\n"), priority),
        markdown::diff_section("", Some(summary), items, Items::Explanations, priority),
    ]
}

/// Markdown for a pull-request comment, at most `max_chars` characters. `title` is markdown
/// (the caller escapes what it puts in it). The net plan apply will run comes first (its
/// counts and where they come from, any refusal, what needs attention, the table), then what
/// this pull request introduces (unfolded: what the reviewer came for), then the rest of the
/// net plan (destructive changes, waiting for invites, the order graph, the rest folded by
/// kind), then the drift merging also corrects, folded. Each explanation has counts that
/// add up.
pub fn markdown_with_limit(pr: &PullRequestView<'_>, title: &str, max_chars: usize) -> String {
    let full = pr.plan;
    let explained = Explained::new(pr);
    let head = head(pr, title, explained.as_ref());
    let origin = |c: &Change| explained.as_ref().and_then(|e| e.origin(c));
    let base = escape::code_span(pr.base_ref);
    let base_html = format!("<code>{}</code>", escape::html(pr.base_ref));
    let mut introduced_sections = Vec::new();
    let mut drift_sections = Vec::new();
    if let (Some(introduced), Some(pre), Some(e)) = (pr.introduced, pr.pre_existing, &explained) {
        let carried = markdown::carried_keys(full);
        let fate = |c: &Change| {
            if e.net.contains(&c.key) {
                0
            } else if carried.contains(&c.key) {
                1
            } else {
                2
            }
        };
        introduced_sections = explanation(
            &format!("This pull request introduces (against {base})"),
            &format!("This pull request introduces (against {base_html})"),
            introduced,
            &fate,
            &["in the plan above", "carried by an invite", "already live"],
            false,
            markdown::priority::INTRODUCED,
        );
        drift_sections = explanation(
            &format!("Drift that merging also corrects (live differs from {base})"),
            &format!("Drift that merging also corrects (live differs from {base_html})"),
            pre,
            &fate,
            &[
                "in the plan above",
                "carried by an invite",
                "not applied: this pull request makes the file match live",
            ],
            true,
            markdown::priority::DRIFT,
        );
    }
    let mut sections = markdown::plan_sections(full, &origin, introduced_sections);
    sections.extend(drift_sections);
    markdown::fit(head, sections, max_chars)
}

/// The JSON document: the full plan, its two parts, and what the base was.
pub fn to_value(pr: &PullRequestView<'_>) -> Value {
    let (state, error) = match &pr.base {
        BaseView::Valid => ("valid", None),
        BaseView::Absent => ("absent", None),
        BaseView::Invalid(why) => ("invalid", Some(why.to_string())),
    };
    json!({
        "format_version": FORMAT_VERSION,
        "base": {
            "ref": pr.base_ref,
            "commit": pr.base_commit,
            "state": state,
            "error": error,
        },
        "plan": plan_json::to_value(pr.plan),
        "introduced": pr.introduced.map(|p| plan_json::to_value(&without_refusals(p))),
        "pre_existing": pr.pre_existing.map(|p| plan_json::to_value(&without_refusals(p))),
    })
}

pub fn json(pr: &PullRequestView<'_>) -> String {
    let mut out = escape::json_pretty(&to_value(pr));
    out.push('\n');
    out
}
