//! Renderings cannot hide a change (issue 13 item 4). Names come from the file and from the
//! live organization, so a hostile name can reach every rendering: the text plan must show
//! control characters as escapes, and the markdown (plan, drift) must not let a name close a
//! code block, open an HTML comment or inject HTML. The property: whatever the names, removing
//! every HTML comment from the markdown (as GitHub does when it displays it) still leaves every
//! change key of the JSON plan visible.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::org;

/// How a rendering shows a name: control characters, line and paragraph separators and
/// bidirectional controls as `\u{…}` escapes (written here independently of orgops).
fn shown(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let u = c as u32;
        if c.is_control()
            || (0x202A..=0x202E).contains(&u)
            || (0x2066..=0x2069).contains(&u)
            || u == 0x2028
            || u == 0x2029
        {
            out.push_str(&format!("\\u{{{u:x}}}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// How markdown shows a name in code: as [`shown`], and `<` as `\u{3c}` so no name can start
/// an HTML comment or tag, whatever the context.
fn shown_in_markdown(text: &str) -> String {
    shown(text).replace('<', "\\u{3c}")
}

/// The markdown with every HTML comment removed; an unterminated one hides everything after.
fn strip_html_comments(markdown: &str) -> String {
    let mut out = String::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start + 4..].find("-->") {
            Some(end) => rest = &rest[start + 4 + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| *c != '\n' && (c.is_control() || ('\u{202A}'..='\u{202E}').contains(c)))
        .collect()
}

/// A name that closes the code block, opens an HTML comment, clears the screen and ends in
/// NUL.
const HOSTILE: &str = "A\u{1b}[2J\u{0}\n```\n</details><!-- the rest is hidden `x`";

/// An emulator whose organization has live projects `names` (made through the API, so no
/// file check stands in the way), and a directory whose `orgops.yaml` declares none of them
/// under `unmanaged.projects: archive`: every rendering shows each name.
fn live_projects_to_archive(
    names: &[&str],
) -> (orgops::emulator::RunningEmulator, tempfile::TempDir) {
    let emu = org::start("version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n");
    for name in names {
        org::call(
            &emu,
            reqwest::Method::POST,
            "/organization/projects",
            Some(json!({ "name": name })),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orgops.yaml"),
        "version: 1\npolicy:\n  max_removals: 10\n  unmanaged:\n    projects: archive\n    admin_api_keys: ignore\nusers:\n  - {email: ada@example.com, role: owner}\nprojects: []\n",
    )
    .expect("write");
    (emu, dir)
}

#[test]
fn a_hostile_live_project_name_hides_nothing_in_any_rendering() {
    let (emu, dir) = live_projects_to_archive(&[HOSTILE, "Zeta"]);
    let run = |args: &[&str]| {
        let out = org::orgops(&emu)
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("orgops runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plan: Value = serde_json::from_str(&run(&["plan", "--format", "json"])).expect("JSON");
    let keys: Vec<String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["key"].as_str().expect("key").to_string())
        .collect();
    assert!(keys.contains(&format!("project:{HOSTILE}")), "{keys:?}");
    assert!(keys.contains(&"project:Zeta".to_string()), "{keys:?}");

    let text = run(&["plan", "--format", "text"]);
    assert_eq!(raw_controls(&text), Vec::<char>::new(), "{text:?}");
    assert!(
        text.contains("project:A\\u{1b}[2J\\u{0}\\u{a}```"),
        "{text}"
    );

    // The plan: in fenced blocks nothing is markup, so `<` shows as it is there.
    let markdown = run(&["plan", "--format", "markdown"]);
    assert_eq!(raw_controls(&markdown), Vec::<char>::new(), "{markdown:?}");
    let visible = crate::support::markdown::visible(&markdown)
        .unwrap_or_else(|html| panic!("raw HTML {html:?} in:\n{markdown}"));
    assert!(visible.contains("project:Zeta"), "{visible}");
    assert!(
        visible.contains(&shown(&format!("project:{HOSTILE}"))),
        "{visible}"
    );
    // The drift report: names in code spans only, `<` escaped there.
    let markdown = run(&["drift", "--format", "markdown"]);
    assert!(!markdown.contains("<!--"), "{markdown}");
    assert_eq!(raw_controls(&markdown), Vec::<char>::new(), "{markdown:?}");
    let visible = strip_html_comments(&markdown);
    assert!(visible.contains("project:Zeta"), "{visible}");
    assert!(
        visible.contains(&shown_in_markdown(&format!("project:{HOSTILE}"))),
        "{visible}"
    );
    let drift_text = run(&["drift", "--format", "text"]);
    assert_eq!(
        raw_controls(&drift_text),
        Vec::<char>::new(),
        "{drift_text:?}"
    );
}

#[test]
fn validate_refuses_control_characters_in_names_with_their_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orgops.yaml"),
        "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: \"Search\\e[2J\"\n  - name: \"ok\"\ngroups:\n  - name: \"a\\nb\"\n",
    )
    .expect("write");
    let out = crate::support::cli::orgops()
        .current_dir(dir.path())
        .args(["validate", "-f", "orgops.yaml"])
        .output()
        .expect("orgops runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("orgops.yaml:5:"), "{all}");
    assert!(all.contains("U+001B"), "{all}");
    assert!(all.contains("orgops.yaml:8:"), "{all}");
    assert!(all.contains("U+000A"), "{all}");
    assert_eq!(raw_controls(&all), Vec::<char>::new(), "{all:?}");
}

// ------------------------------------------------------------------------- property

fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "plain",
        "Search",
        " ",
        "\n",
        "\r",
        "\r\n",
        "\t",
        "`",
        "``",
        "```",
        "````",
        "~~~",
        "</details>",
        "<details>",
        "<summary>",
        "<!--",
        "-->",
        "<",
        ">",
        "&lt;",
        "\u{1b}[31m",
        "\u{0}",
        "\u{7f}",
        "\u{85}",
        "\u{202e}",
        "\u{2028}",
        "|",
        "\\",
        "*",
        "_",
        "[x](https://e.example)",
        "#",
        "%0A",
        "::",
        ",",
        "\"",
    ])
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..6).prop_map(|pieces| pieces.concat())
}

fn plan_for(names: &[String]) -> (orgops::plan::Plan, orgops::model::Document) {
    // The first half is declared (created), the second lives unmanaged (archived).
    let half = names.len() / 2;
    let project = |n: &String| json!({ "name": n });
    let desired: orgops::model::Document = serde_json::from_value(json!({
        "version": 1,
        "policy": { "max_removals": 100, "unmanaged": { "projects": "archive" } },
        "projects": names[..half].iter().map(project).collect::<Vec<_>>(),
        "groups": names[..half].iter().map(|n| json!({ "name": format!("g{n}") })).collect::<Vec<_>>(),
    }))
    .expect("desired");
    let live_org: orgops::model::Document = serde_json::from_value(json!({
        "version": 1,
        "projects": names[half..].iter().map(project).collect::<Vec<_>>(),
    }))
    .expect("live");
    let live = orgops::live::LiveState {
        org: live_org,
        ..orgops::live::LiveState::default()
    };
    let plan =
        orgops::plan::plan(&desired, &live, &orgops::plan::PlanOptions::default()).expect("plan");
    (plan, desired)
}

/// The mermaid block of a markdown plan, if any, holds only `flowchart LR`, nodes `nI["…"]`
/// (or `gI`) whose label has no quote, backtick or `<` but the line breaks `<br>` orgops
/// writes, edges `nI --> nJ` and class lines; and the block is closed.
fn graph_is_well_formed(markdown: &str) -> bool {
    let Some(start) = markdown.find("```mermaid\n") else {
        return true;
    };
    let rest = &markdown[start + "```mermaid\n".len()..];
    let Some(end) = rest.find("\n```\n") else {
        return false;
    };
    let id = |s: &str| {
        s.strip_prefix(['n', 'g'])
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    };
    rest[..end].lines().enumerate().all(|(i, line)| {
        if i == 0 {
            return line == "flowchart LR";
        }
        let line = line.trim_start_matches(' ');
        if let Some((from, to)) = line.split_once(" --> ") {
            return id(from) && id(to);
        }
        if line.starts_with("classDef ") || line.starts_with("class ") {
            return !line.contains(['"', '`', '<', '[']);
        }
        match line.split_once("[\"") {
            Some((node, label)) => {
                id(node)
                    && label
                        .strip_suffix("\"]")
                        .is_some_and(|l| !l.replace("<br>", "").contains(['"', '`', '<']))
            }
            None => false,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_name_hides_a_change_key_from_the_markdown(
        names in prop::collection::btree_set(name(), 2..6)
    ) {
        let names: Vec<String> = names.into_iter().collect();
        let (plan, desired) = plan_for(&names);
        let json: Value = serde_json::from_str(&orgops::render::json::render(&plan)).expect("JSON");
        let keys: Vec<String> = json["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| c["key"].as_str().expect("key").to_string())
            .collect();
        prop_assert!(!keys.is_empty());

        let markdown = orgops::render::markdown::render(&plan);
        prop_assert_eq!(raw_controls(&markdown), Vec::<char>::new());
        let visible = crate::support::markdown::visible(&markdown);
        prop_assert!(visible.is_ok(), "raw HTML {:?} in:\n{}", visible, markdown);
        let visible = visible.unwrap_or_default();
        for key in &keys {
            prop_assert!(
                visible.contains(&shown(key)),
                "{:?} is not visible in:\n{}", key, visible
            );
        }

        prop_assert!(graph_is_well_formed(&markdown), "{}", markdown);

        let text = orgops::render::text::render(&plan, false);
        prop_assert_eq!(raw_controls(&text), Vec::<char>::new());
        for key in &keys {
            // (A line's trailing spaces are trimmed.)
            prop_assert!(text.contains(shown(key).trim_end()), "{:?} is not in:\n{}", key, text);
        }

        let report = orgops::drift::DriftReport {
            items: orgops::drift::classify(&plan, &desired, &Default::default()),
            audit: orgops::drift::AuditStatus::Skipped,
            in_use: vec!["key\u{1b}[2J<!--".to_string()],
            fail_on_unmanaged: false,
            costs: orgops::drift::CostStatus::Skipped,
        };
        let drift_md = orgops::drift::render::markdown(&report);
        prop_assert!(!drift_md.contains("<!--"), "{}", drift_md);
        prop_assert_eq!(raw_controls(&drift_md), Vec::<char>::new());
        let drift_visible = strip_html_comments(&drift_md);
        for item in &report.items {
            prop_assert!(
                drift_visible.contains(&shown_in_markdown(&item.key).replace('|', "\\|")),
                "{:?} is not visible in:\n{}", item.key, drift_visible
            );
        }
        prop_assert_eq!(raw_controls(&orgops::drift::render::text(&report)), Vec::<char>::new());
    }
}

/// Issue 21 item 13: JSON outputs, saved plans and exported YAML carry no raw C1 control
/// or bidirectional override from a live name: JSON escapes them as `\u009b` / `\u202e`
/// (the same string once decoded), YAML as a double-quoted `\u202E`.
#[test]
fn json_outputs_saved_plans_and_exports_escape_c1_and_bidi_characters() {
    const NAME: &str = "Evil\u{9b}31m\u{202e}gpj.exe";
    let (emu, dir) = live_projects_to_archive(&[NAME]);
    let run = |args: &[&str]| {
        let out = org::orgops(&emu)
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("orgops runs");
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let raw = |text: &str| -> Vec<char> {
        text.chars()
            .filter(|&c| {
                ('\u{80}'..='\u{9f}').contains(&c) || ('\u{202a}'..='\u{202e}').contains(&c)
            })
            .collect()
    };
    let mut outputs = vec![
        ("plan json", run(&["plan", "--format", "json"])),
        ("drift json", run(&["drift", "--format", "json"])),
        ("audit json", run(&["audit", "--format", "json"])),
    ];
    run(&["plan", "--out", "saved.json"]);
    let saved = std::fs::read_to_string(dir.path().join("saved.json")).expect("saved plan");
    outputs.push((
        "show json",
        run(&["show", "--format", "json", "saved.json"]),
    ));
    outputs.push(("saved plan", saved));
    for (what, text) in &outputs {
        assert_eq!(raw(text), Vec::<char>::new(), "{what}: {text}");
        let value: Value = serde_json::from_str(text).expect("still JSON");
        assert!(
            !value.is_null() && text.contains("\\u009b"),
            "{what}: the name is still there, escaped: {text}"
        );
    }
    let plan: Value = serde_json::from_str(&outputs[0].1).expect("JSON");
    assert!(
        plan["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["key"] == json!(format!("project:{NAME}"))),
        "the JSON decodes to the very name: {plan:#}"
    );

    run(&["export", "-o", "export.yaml"]);
    let yaml = std::fs::read_to_string(dir.path().join("export.yaml")).expect("export");
    assert_eq!(raw(&yaml), Vec::<char>::new(), "{yaml}");
    assert!(yaml.contains("\\u202E"), "{yaml}");
}
