//! What every kind must satisfy, checked through the real binary against the emulator.
//!
//! Destructiveness is decided once, by the kind: the JSON flag, the text rendering's verbs and
//! `(destructive)` marks, the markdown "Destructive changes" section (every line of which GitHub
//! colours: `-` or `!`) and the red nodes of the markdown's order graph (which shows only the
//! changes that wait or are waited for) must name the same changes.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::cli::{QUICKSTART, QUICKSTART_LIVE, orgops_run};

/// Verbs that take something away by themselves (`docs/plan.md`, "Honest verbs").
const DESTRUCTIVE_VERBS: &[&str] = &[
    "replace",
    "revoke",
    "deactivate",
    "remove",
    "delete",
    "unset",
    "archive",
];

/// `<symbol> <verb> <key>[  (note)]` -> (verb, key, note).
fn change_line(line: &str) -> Option<(String, String, String)> {
    let mut chars = line.chars();
    let symbol = chars.next()?;
    if !"+~-±!".contains(symbol) || chars.next() != Some(' ') {
        return None;
    }
    let rest = chars.as_str().trim_start();
    let (verb, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let (key, note) = match rest.split_once("  (") {
        Some((key, note)) => (key, note.trim_end_matches(')')),
        None => (rest, ""),
    };
    Some((verb.to_string(), key.to_string(), note.to_string()))
}

/// The keys each rendering presents as destructive: (json, text, markdown section, graph).
pub fn destructive_keys(
    plan_args: &[&str],
) -> (
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
) {
    let run = |format: &str| {
        let mut args: Vec<&str> = plan_args.to_vec();
        args.extend(["--format", format]);
        let out = orgops_run(&args);
        assert!(
            out.code == 0 || out.code == 2 || out.code == 3,
            "{args:?} exited {}: {}",
            out.code,
            out.stderr
        );
        out.stdout
    };
    let json: Value = serde_json::from_str(&run("json")).expect("a JSON plan");
    let from_json: BTreeSet<String> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["destructive"] == Value::Bool(true))
        .filter_map(|c| c["key"].as_str().map(str::to_string))
        .collect();

    let text = run("text");
    let from_text: BTreeSet<String> = text
        .lines()
        .filter_map(change_line)
        .filter(|(verb, _, note)| {
            DESTRUCTIVE_VERBS.contains(&verb.as_str()) || note == "destructive"
        })
        .map(|(_, key, _)| key)
        .collect();

    let markdown = run("markdown");
    let mut from_section = BTreeSet::new();
    if let Some(start) = markdown.find("#### Destructive changes") {
        let section = &markdown[start..];
        let section = &section[..section[4..]
            .find("\n#### ")
            .map_or(section.len(), |e| e + 4)];
        for line in section.lines() {
            if let Some((_, key, _)) = change_line(line) {
                from_section.insert(key);
            }
        }
    }
    // Graph nodes are `n<i>`, `i` the change's position in the plan (the JSON's order).
    let keys: Vec<String> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["key"].as_str().map(str::to_string))
        .collect();
    let mut drawn = BTreeSet::new();
    let mut red = BTreeSet::new();
    for line in markdown.lines().map(str::trim) {
        if let Some((node, _)) = line.split_once("[\"")
            && let Some(i) = node.strip_prefix('n').and_then(|i| i.parse::<usize>().ok())
        {
            drawn.insert(keys[i].clone());
        }
        if let Some(list) = line
            .strip_prefix("class ")
            .and_then(|l| l.strip_suffix(" destructive"))
        {
            red.extend(
                list.split(',')
                    .filter_map(|n| n.strip_prefix('n')?.parse::<usize>().ok())
                    .map(|i| keys[i].clone()),
            );
        }
    }
    // Every drawn destructive change is red, and only those.
    let drawn_destructive: BTreeSet<String> = drawn.intersection(&from_json).cloned().collect();
    assert_eq!(red, drawn_destructive, "the graph's red nodes");
    let from_graph = red;
    (from_json, from_text, from_section, from_graph)
}

#[test]
fn destructiveness_is_the_same_in_every_rendering() {
    let (json, text, markdown, graph) =
        destructive_keys(&["plan", "-f", QUICKSTART, "--emulator", QUICKSTART_LIVE]);
    // Written from the quickstart's files: what takes something away from someone.
    let expected: BTreeSet<String> = [
        // A lowered limit: requests start failing sooner.
        "project:Production/rate_limit:text-embedding-3-small",
        // An owner demoted to reader loses the organization's administration.
        "user:bob@acme.example",
        "project:Production/member:eve@acme.example",
        "invite:frank@acme.example",
        "project:Legacy Chatbot",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(json, expected, "JSON `destructive`");
    assert_eq!(text, expected, "text verbs and `(destructive)` marks");
    assert_eq!(markdown, expected, "markdown's Destructive changes");
    // The graph draws the changes that wait or are waited for: here the demotion (it waits
    // for the grants of the same person).
    assert_eq!(
        graph,
        BTreeSet::from(["user:bob@acme.example".to_string()]),
        "the order graph's red nodes"
    );
}
