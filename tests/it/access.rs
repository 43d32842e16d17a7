//! `orgops access` (issue 23, "who can reach what"): on the enterprise example, from the file
//! and from the live organization (the emulator seeded with the example's live state), the
//! output matches an independent computation written here from `docs/access.md` and
//! `docs/configuration.md`: the YAML is read as plain data, no orgops code is called.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::cli::{orgops_run, root};

const ENTERPRISE: &str = "examples/enterprise";
const ENTERPRISE_LIVE: &str = "examples/enterprise-live/live.yaml";

/// A grant as docs/access.md states it: project, principal type, principal, role, custom
/// roles (sorted), how (`direct`, `group:NAME`, `invite`).
type Row = (String, String, String, String, Vec<String>, String);

/// The YAML files of `path` (a file, or a directory's `*.yaml` in name order) merged as
/// docs/configuration.md says: top-level lists concatenated.
fn read_merged(path: &str) -> Value {
    let path = root().join(path); // an absolute `path` stays itself
    let mut files: Vec<_> = if path.is_dir() {
        std::fs::read_dir(&path)
            .expect("example dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect()
    } else {
        vec![path]
    };
    files.sort();
    let mut merged = serde_json::Map::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("example file");
        let doc: Value = serde_saphyr::from_str(&text).expect("example is YAML");
        for (key, value) in doc.as_object().expect("a mapping").clone() {
            match (merged.get_mut(&key), value) {
                (Some(Value::Array(list)), Value::Array(more)) => list.extend(more),
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
    }
    Value::Object(merged)
}

fn list<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn string(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = list(value, key)
        .iter()
        .filter_map(|v| v.as_str().map(str::to_lowercase))
        .collect();
    out.sort();
    out
}

/// The grants the docs' rules give for `org` (invites only when `live`).
fn expected_grants(org: &Value, live: bool) -> BTreeSet<Row> {
    let group_members: BTreeMap<String, Vec<String>> = list(org, "groups")
        .iter()
        .map(|g| (string(g, "name"), strings(g, "members")))
        .collect();
    let mut rows = BTreeSet::new();
    let mut archived = BTreeSet::new();
    for project in list(org, "projects") {
        let name = string(project, "name");
        if project.get("archived").and_then(Value::as_bool) == Some(true) {
            archived.insert(name);
            continue;
        }
        for member in list(project, "members") {
            rows.insert((
                name.clone(),
                "user".into(),
                string(member, "email").to_lowercase(),
                string(member, "role"),
                strings(member, "roles"),
                "direct".into(),
            ));
        }
        for group in list(project, "groups") {
            let group_name = string(group, "name");
            let (role, roles) = (string(group, "role"), strings(group, "roles"));
            rows.insert((
                name.clone(),
                "group".into(),
                group_name.clone(),
                role.clone(),
                roles.clone(),
                "direct".into(),
            ));
            for email in group_members.get(&group_name).into_iter().flatten() {
                rows.insert((
                    name.clone(),
                    "user".into(),
                    email.clone(),
                    role.clone(),
                    roles.clone(),
                    format!("group:{group_name}"),
                ));
            }
        }
        for account in list(project, "service_accounts") {
            rows.insert((
                name.clone(),
                "service_account".into(),
                string(account, "name"),
                string(account, "role"),
                vec![],
                "direct".into(),
            ));
        }
    }
    if live {
        for invite in list(org, "invites") {
            let status = invite
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending");
            if status != "pending" {
                continue;
            }
            for project in list(invite, "projects") {
                let name = string(project, "name");
                if archived.contains(&name) {
                    continue;
                }
                rows.insert((
                    name,
                    "user".into(),
                    string(invite, "email").to_lowercase(),
                    string(project, "role"),
                    vec![],
                    "invite".into(),
                ));
            }
        }
    }
    rows
}

fn archived(org: &Value) -> Vec<String> {
    let mut names: Vec<String> = list(org, "projects")
        .iter()
        .filter(|p| p.get("archived").and_then(Value::as_bool) == Some(true))
        .map(|p| string(p, "name"))
        .collect();
    names.sort();
    names
}

/// Each person's custom organization roles: their own, and their groups' (`via group:NAME`).
fn expected_roles(org: &Value) -> BTreeMap<String, BTreeSet<(String, Option<String>)>> {
    let mut held: BTreeMap<String, BTreeSet<(String, Option<String>)>> = BTreeMap::new();
    for user in list(org, "users") {
        let email = string(user, "email").to_lowercase();
        let entry = held.entry(email).or_default();
        for role in strings(user, "roles") {
            entry.insert((role, None));
        }
    }
    for group in list(org, "groups") {
        for email in strings(group, "members") {
            for role in strings(group, "roles") {
                held.entry(email.clone())
                    .or_default()
                    .insert((role, Some(format!("group:{}", string(group, "name")))));
            }
        }
    }
    held
}

fn grants_of(json: &Value) -> BTreeSet<Row> {
    list(json, "grants")
        .iter()
        .map(|g| {
            (
                string(g, "project"),
                string(g, "principal_type"),
                string(g, "principal"),
                string(g, "role"),
                strings(g, "custom_roles"),
                g.get("via")
                    .and_then(Value::as_str)
                    .unwrap_or("direct")
                    .to_string(),
            )
        })
        .collect()
}

fn roles_of(json: &Value) -> BTreeMap<String, BTreeSet<(String, Option<String>)>> {
    list(json, "people")
        .iter()
        .map(|p| {
            let roles = list(p, "custom_roles")
                .iter()
                .map(|r| {
                    (
                        string(r, "role"),
                        r.get("via").and_then(Value::as_str).map(str::to_string),
                    )
                })
                .collect();
            (string(p, "email"), roles)
        })
        .collect()
}

fn access_json(args: &[&str]) -> Value {
    let mut all = vec!["access", "--format", "json"];
    all.extend_from_slice(args);
    let run = orgops_run(&all);
    assert_eq!(run.code, 0, "{all:?}: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("access --format json is JSON")
}

/// From the file: every grant, every person's custom roles, the admin keys (their owner not
/// in a file) and the archived projects, as the docs' rules give them.
#[test]
fn access_from_the_enterprise_file_matches_the_docs_rules() {
    let org = read_merged(ENTERPRISE);
    let json = access_json(&["-f", ENTERPRISE]);
    assert_eq!(json["source"], "file");
    let expected = expected_grants(&org, false);
    assert!(expected.len() > 20, "the example grants something");
    assert_eq!(grants_of(&json), expected);
    let roles = expected_roles(&org);
    assert_eq!(roles_of(&json), roles);
    assert_eq!(
        json["archived_projects"],
        serde_json::json!(archived(&org)),
        "{json}"
    );
    let keys: Vec<String> = list(&org, "admin_api_keys")
        .iter()
        .map(|k| string(k, "name"))
        .collect();
    let listed: Vec<(String, Value)> = list(&json, "admin_api_keys")
        .iter()
        .map(|k| (string(k, "name"), k["owner"].clone()))
        .collect();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(
        listed,
        sorted_keys
            .into_iter()
            .map(|k| (k, Value::Null))
            .collect::<Vec<_>>()
    );
    let owners: Vec<String> = list(&org, "users")
        .iter()
        .filter(|u| string(u, "role") == "owner")
        .map(|u| string(u, "email").to_lowercase())
        .collect();
    assert_eq!(json["organization_owners"], serde_json::json!(owners));

    // The CSV carries the same rows (no cell of this example needs quoting).
    let csv = orgops_run(&["access", "-f", ENTERPRISE, "--format", "csv"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("project,principal_type,principal,role,custom_roles,via")
    );
    let csv_rows: BTreeSet<Row> = lines
        .map(|line| line.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|cells| cells[1] != "admin_api_key")
        .map(|c| {
            let roles = if c[4].is_empty() {
                vec![]
            } else {
                c[4].split(';').map(str::to_string).collect()
            };
            (
                c[0].clone(),
                c[1].clone(),
                c[2].clone(),
                c[3].clone(),
                roles,
                c[5].clone(),
            )
        })
        .collect();
    assert_eq!(csv_rows, expected);
}

/// From the live organization (the emulator seeded with the enterprise live state): the same
/// rules plus pending invites; each admin key's owner is the state's first owner
/// (docs/emulator.md), and the emulator's own key is one of them.
#[test]
fn access_from_the_live_enterprise_matches_the_docs_rules() {
    let org = read_merged(ENTERPRISE_LIVE);
    let json = access_json(&["--emulator", ENTERPRISE_LIVE]);
    assert_eq!(json["source"], "live");
    assert_eq!(grants_of(&json), expected_grants(&org, true));
    assert_eq!(roles_of(&json), expected_roles(&org));
    let first_owner = list(&org, "users")
        .iter()
        .find(|u| string(u, "role") == "owner")
        .map(|u| format!("user:{}", string(u, "email").to_lowercase()))
        .expect("an owner");
    let keys = list(&json, "admin_api_keys");
    for declared in list(&org, "admin_api_keys") {
        let name = string(declared, "name");
        let key = keys
            .iter()
            .find(|k| string(k, "name") == name)
            .unwrap_or_else(|| panic!("admin key {name} listed: {json}"));
        assert_eq!(key["owner"], first_owner.as_str(), "{json}");
    }

    // Invites: a pending one grants its projects (not an archived one's), an expired one
    // nothing.
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = dir.path().join("live.yaml");
    std::fs::write(
        &seed,
        "version: 1\nusers:\n  - {email: ada@x.example, role: owner}\nprojects:\n  - name: Search\n    \
         members: [{email: ada@x.example, role: owner}]\n  - {name: Old, archived: true}\ninvites:\n  \
         - {email: Dee@x.example, role: reader, status: pending, projects: [{name: Search, role: member}, \
         {name: Old, role: owner}]}\n  - {email: eve@x.example, role: reader, status: expired, projects: \
         [{name: Search, role: owner}]}\n",
    )
    .expect("write");
    let seed = seed.to_str().expect("utf-8");
    let json = access_json(&["--emulator", seed]);
    let expected = expected_grants(&read_merged(seed), true);
    assert!(
        expected.iter().any(|r| r.5 == "invite"),
        "the seed has an invite's grant"
    );
    assert_eq!(grants_of(&json), expected);
    assert_eq!(json["archived_projects"], serde_json::json!(["Old"]));
}

/// "Who can use Payments" and "what can ines reach": the narrowed views keep exactly the
/// rows the docs say; an unknown name is an error with a did-you-mean.
#[test]
fn access_narrows_to_a_project_or_a_person() {
    let org = read_merged(ENTERPRISE);
    let all = expected_grants(&org, false);
    let payments = access_json(&["-f", ENTERPRISE, "--project", "Payments"]);
    let want: BTreeSet<Row> = all.iter().filter(|r| r.0 == "Payments").cloned().collect();
    assert_eq!(grants_of(&payments), want);
    let ines = access_json(&["-f", ENTERPRISE, "--user", "Ines@globex.example"]);
    let want: BTreeSet<Row> = all
        .iter()
        .filter(|r| r.1 == "user" && r.2 == "ines@globex.example")
        .cloned()
        .collect();
    assert!(want.len() >= 2, "ines is a direct owner and in a group");
    assert_eq!(grants_of(&ines), want);

    let typo = orgops_run(&["access", "-f", ENTERPRISE, "--project", "Paymnts"]);
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains("\"Paymnts\"") && typo.stderr.contains("did you mean \"Payments\"?"),
        "{}",
        typo.stderr
    );
}

/// Text and markdown say how each grant comes (direct or through which group), and escape
/// what came from outside; mermaid draws user → group → project for a small scope and
/// refuses a picture too large, naming the flags that narrow it.
#[test]
fn access_renders_text_markdown_and_a_bounded_mermaid_map() {
    let text = orgops_run(&["access", "-f", ENTERPRISE, "--project", "Payments"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for line in [
        "project:Payments",
        "user:chen@globex.example       via group:sre",
        "user:chen@globex.example       direct",
        "service_account:ledger-writer  direct",
    ] {
        assert!(text.stdout.contains(line), "{line:?} in:\n{}", text.stdout);
    }
    let markdown = orgops_run(&["access", "-f", ENTERPRISE, "--format", "markdown"]);
    assert!(
        markdown
            .stdout
            .contains("| `Payments` | `member` | `user:chen@globex.example` | `via group:sre` |"),
        "{}",
        markdown.stdout
    );

    let mermaid = orgops_run(&[
        "access",
        "-f",
        ENTERPRISE,
        "--user",
        "chen@globex.example",
        "--format",
        "mermaid",
    ]);
    assert_eq!(mermaid.code, 0, "{}", mermaid.stderr);
    assert_eq!(
        mermaid.stdout,
        "flowchart LR\n  n0[[\"project:Payments\"]]\n  n1[\"user:chen@globex.example\"]\n  \
         n2([\"group:sre\"])\n  n1 -->|\"owner\"| n0\n  n1 -->|\"member of\"| n2\n  \
         n2 -->|\"member\"| n0\n"
    );

    // A large organization: the picture is refused, not drawn unreadable.
    let dir = tempfile::tempdir().expect("temp dir");
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, crate::support::config::generate_org(300, 10)).expect("write");
    let big = big.to_str().expect("utf-8");
    let refused = orgops_run(&["access", "-f", big, "--format", "mermaid"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stdout.is_empty());
    assert!(
        refused.stderr.contains("--project NAME") && refused.stderr.contains("--user EMAIL"),
        "{}",
        refused.stderr
    );
}

/// Names from outside are escaped per rendering: a `|` never splits a markdown cell, a
/// formula never runs in a spreadsheet, a quote never ends a mermaid label, markup stays
/// text (control characters never get that far: names with them are refused when read).
#[test]
fn access_escapes_names_from_outside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(
        &file,
        "version: 1\nusers:\n  - {email: ada@x.example, role: owner}\nprojects:\n  - name: \
         \"=cmd|x \\\"q\\\" <b>#\"\n    members:\n      - {email: ada@x.example, role: owner}\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8");
    for format in ["text", "markdown", "csv", "json", "mermaid"] {
        let run = orgops_run(&["access", "-f", file, "--format", format]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
    }
    let csv = orgops_run(&["access", "-f", file, "--format", "csv"]);
    assert!(
        csv.stdout.contains("\"'=cmd|x \"\"q\"\" "),
        "{}",
        csv.stdout
    );
    let markdown = orgops_run(&["access", "-f", file, "--format", "markdown"]);
    let row = markdown
        .stdout
        .lines()
        .find(|l| l.contains("ada@x.example") && l.starts_with('|'))
        .expect("a grant row");
    assert_eq!(
        row.matches(" | ").count(),
        3,
        "four cells, the name's '|' escaped: {row}"
    );
    let mermaid = orgops_run(&["access", "-f", file, "--format", "mermaid"]);
    let node = mermaid
        .stdout
        .lines()
        .find(|l| l.contains("project:"))
        .expect("a project node");
    assert_eq!(node.matches('"').count(), 2, "{node}");
    assert!(!node.contains("<b>"), "{node}");
}

/// The block after `$ COMMAND` (a console block) or the first mermaid block after `marker`.
fn docs_block(page: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(root().join(page)).expect("docs page");
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {page}"));
    let rest = &text[start..];
    let body = rest
        .find("```mermaid\n")
        .filter(|_| !marker.starts_with('$'))
        .map(|at| &rest[at + "```mermaid\n".len()..])
        .unwrap_or_else(|| &rest[rest.find('\n').expect("a line") + 1..]);
    body[..body.find("```").expect("the block ends")].to_string()
}

/// The examples in docs/access.md and docs/plan.md are what the commands print.
#[test]
fn the_docs_examples_are_the_output() {
    let text = orgops_run(&["access", "-f", ENTERPRISE, "--project", "Payments"]);
    assert_eq!(
        docs_block(
            "docs/access.md",
            "$ orgops access -f examples/enterprise --project Payments\n"
        ),
        text.stdout
    );
    let mermaid = orgops_run(&[
        "access",
        "-f",
        ENTERPRISE,
        "--project",
        "Payments",
        "--format",
        "mermaid",
    ]);
    assert_eq!(
        docs_block("docs/access.md", "The same with `--format mermaid`"),
        mermaid.stdout
    );
    // The plan's graph in the docs is cut to the changes with an edge: each of its lines is
    // a line of the real graph.
    let graph = orgops_run(&[
        "graph",
        "-f",
        "examples/quickstart/orgops.yaml",
        "--emulator",
        "examples/quickstart/live.yaml",
        "--format",
        "mermaid",
    ]);
    assert_eq!(graph.code, 0, "{}", graph.stderr);
    let real: BTreeSet<&str> = graph.stdout.lines().collect();
    let documented = docs_block("docs/plan.md", "## The dependency graph: `orgops graph`");
    for line in documented.lines() {
        assert!(
            real.contains(line),
            "docs/plan.md: {line:?} not in:\n{}",
            graph.stdout
        );
    }
}
