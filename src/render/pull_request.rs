//! Renderings of the pull-request view ([`PullRequestPlan`]): the summary of what merging
//! will apply (and any refusal), then the changes the pull request introduces, then the drift
//! merging also corrects. Refusals are shown once, from the full plan, because that is the plan
//! that will be applied; the two parts are views of it.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{escape, json as plan_json, markdown, summary_sentence, text};
use crate::ops::pull_request::{BaseState, PullRequestPlan};
use crate::plan::Plan;

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

fn base_label(pr: &PullRequestPlan) -> String {
    format!("{} ({})", pr.base_ref, short(&pr.base_commit))
}

fn base_note(pr: &PullRequestPlan) -> Option<String> {
    match &pr.base {
        BaseState::Valid(_) => None,
        BaseState::Absent => Some(format!(
            "The file does not exist at {}: everything is introduced by this change.",
            base_label(pr)
        )),
        BaseState::Invalid(why) => Some(format!(
            "The file at {} is invalid, so the plan cannot be split into what this change introduces and pre-existing drift:\n{why}",
            base_label(pr)
        )),
    }
}

/// Terminal rendering.
pub fn text(pr: &PullRequestPlan, color: bool) -> String {
    let mut out = String::new();
    if let Some(note) = base_note(pr) {
        let _ = writeln!(out, "{}\n", escape::text_lines(&note));
    }
    let label = base_label(pr);
    let label = escape::text(&label);
    if let Some(introduced) = &pr.introduced {
        let _ = writeln!(
            out,
            "== Changes this change introduces (against {label}) =="
        );
        out.push_str(&text::render(&without_refusals(introduced), color));
        out.push('\n');
    }
    if let Some(pre) = &pr.pre_existing {
        let _ = writeln!(
            out,
            "== Drift that merging also corrects (live differs from {label}) =="
        );
        out.push_str(&text::render(&without_refusals(pre), color));
        out.push('\n');
    }
    let _ = writeln!(out, "== Merging and applying ==");
    out.push_str(&text::render(&pr.planned.plan, color));
    out
}

/// A part of the markdown rendering: the plan's own rendering with its title replaced.
fn part(title: &str, plan: &Plan, limit: usize) -> String {
    let rendered = markdown::render_with_limit(&without_refusals(plan), limit);
    let body = rendered
        .strip_prefix("### orgops plan\n\n")
        .unwrap_or(&rendered);
    format!("#### {title}\n\n{body}\n")
}

/// Markdown for a pull-request comment, at most `max_chars` characters. `title` is markdown
/// (the caller escapes what it puts in it).
pub fn markdown_with_limit(pr: &PullRequestPlan, title: &str, max_chars: usize) -> String {
    let full = &pr.planned.plan;
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    if full.is_empty() {
        let _ = writeln!(
            out,
            "**No changes**: after merging, the organization will match the file.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "**Merging and applying: {}**\n",
            summary_sentence(full)
        );
    }
    if full.is_refused() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **Refused: this plan must not be applied.**"
        );
        for refusal in &full.refusals {
            let _ = writeln!(
                out,
                ">\n> - **{}**: {}\n>   to override: {}",
                refusal.rule.as_str(),
                escape::prose(&refusal.message),
                escape::prose(&refusal.override_hint)
            );
        }
        out.push('\n');
    }
    if let Some(note) = base_note(pr) {
        let lines: Vec<String> = note.lines().map(escape::prose).collect();
        let _ = writeln!(out, "> [!NOTE]\n> {}\n", lines.join("\n> "));
    }
    let head_len = out.chars().count();
    let room = max_chars.saturating_sub(head_len + 200);
    match (&pr.introduced, &pr.pre_existing) {
        (Some(introduced), Some(pre)) => {
            let first = part(
                &format!(
                    "Changes this pull request introduces (against {})",
                    escape::code_span(&pr.base_ref)
                ),
                introduced,
                room * 2 / 3,
            );
            let left = room.saturating_sub(first.chars().count());
            out.push_str(&first);
            out.push_str(&part(
                &format!(
                    "Drift merging also corrects (live differs from {})",
                    escape::code_span(&pr.base_ref)
                ),
                pre,
                left,
            ));
        }
        (Some(introduced), None) => {
            out.push_str(&part(
                "Changes this pull request introduces",
                introduced,
                room,
            ));
        }
        _ => out.push_str(&part("Everything merging will apply", full, room)),
    }
    out
}

/// The JSON document: the full plan, its two parts, and what the base was.
pub fn to_value(pr: &PullRequestPlan) -> Value {
    let (state, error) = match &pr.base {
        BaseState::Valid(_) => ("valid", None),
        BaseState::Absent => ("absent", None),
        BaseState::Invalid(why) => ("invalid", Some(why.clone())),
    };
    json!({
        "format_version": FORMAT_VERSION,
        "base": {
            "ref": pr.base_ref,
            "commit": pr.base_commit,
            "state": state,
            "error": error,
        },
        "plan": plan_json::to_value(&pr.planned.plan),
        "introduced": pr.introduced.as_ref().map(|p| plan_json::to_value(&without_refusals(p))),
        "pre_existing": pr.pre_existing.as_ref().map(|p| plan_json::to_value(&without_refusals(p))),
    })
}

pub fn json(pr: &PullRequestPlan) -> String {
    // A JSON value always serializes.
    let mut out = serde_json::to_string_pretty(&to_value(pr)).expect("JSON values serialize");
    out.push('\n');
    out
}
