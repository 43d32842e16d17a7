//! `orgops drift` against the emulator: classification (changed, missing, unmanaged) and
//! attribution from the audit log after another admin changed the org over `/v1`.

use std::path::{Path, PathBuf};

use orgops::emulator::{EmulatorOptions, RunningEmulator};
use serde_json::{Value, json};

use crate::support::cli::{Run, root, run};
use crate::support::org::{self, ACTOR, ORG};

/// The file: [`ORG`] as it is, with the policy the drift report needs.
const POLICY: &str = r#"
policy:
  unmanaged:
    project_members: report
    # The emulator's own admin key is not declared here.
    admin_api_keys: ignore
"#;

fn write_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("orgops.yaml");
    std::fs::write(&path, format!("{ORG}{POLICY}")).expect("write the file");
    path
}

fn item<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["key"] == json!(key))
        .unwrap_or_else(|| panic!("{key} is reported: {report:#}"))
}

#[test]
fn in_sync_exits_0_and_says_so() {
    let emu = org::start(ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(&dir);
    let out = org::orgops(&emu)
        .args(["drift", "-f"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("In sync"));
}

#[test]
fn drift_is_classified_and_attributed_to_the_admin_who_caused_it() {
    let emu = org::start(ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(&dir);
    let bob = org::user_id(&emu, "bob@example.com");
    let carol = org::user_id(&emu, "carol@example.com");
    let search = org::project_id(&emu, "Search");
    // Changed: bob promoted to owner. Missing: bob removed from Search. Unmanaged: carol
    // added to Search.
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    org::call(
        &emu,
        reqwest::Method::DELETE,
        &format!("/organization/projects/{search}/users/{bob}"),
        None,
    );
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "member"})),
    );

    let out = org::orgops(&emu)
        .args(["drift", "--format", "json", "-f"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["in_sync"], json!(false));
    assert_eq!(
        report["summary"],
        json!({"total": 3, "changed": 1, "missing": 1, "unmanaged": 1, "informational": 1})
    );
    assert_eq!(report["audit"]["status"], json!("read"));

    let changed = item(&report, "user:bob@example.com");
    assert_eq!(changed["class"], json!("changed"));
    assert_eq!(changed["action"], json!("update"));
    assert_eq!(changed["attribution"]["actor"], json!(ACTOR));
    assert_eq!(changed["attribution"]["event"], json!("user.updated"));

    let missing = item(&report, "project:Search/member:bob@example.com");
    assert_eq!(missing["class"], json!("missing"));
    assert_eq!(missing["action"], json!("grant"));
    assert_eq!(missing["attribution"]["actor"], json!(ACTOR));
    assert_eq!(missing["attribution"]["event"], json!("user.deleted"));

    let unmanaged = item(&report, "project:Search/member:carol@example.com");
    assert_eq!(unmanaged["class"], json!("unmanaged"));
    assert_eq!(
        unmanaged["action"],
        Value::Null,
        "policy report: nothing to apply"
    );
    assert_eq!(unmanaged["informational"], json!(true));
    assert_eq!(unmanaged["attribution"]["actor"], json!(ACTOR));
    assert_eq!(unmanaged["attribution"]["event"], json!("user.added"));

    // The report validates against its documented schema.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/drift.schema.json"
        ))
        .expect("schema file"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // Text and markdown name the actor too.
    for format in ["text", "markdown"] {
        let out = org::orgops(&emu)
            .args(["drift", "--format", format, "-f"])
            .arg(&file)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2));
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains(ACTOR), "{format}: {shown}");
        assert!(shown.contains("user.deleted"), "{format}: {shown}");
        // carol's membership is listed, but only for information (policy `report`).
        assert!(
            shown.contains("Drift: 1 changed, 1 missing, 0 unmanaged."),
            "{format}: {shown}"
        );
        assert!(
            shown.contains("1 more undeclared object is listed for information"),
            "{format}: {shown}"
        );
    }
}

#[test]
fn audit_log_requests_are_batched_not_per_object() {
    let emu = org::start(ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(&dir);
    let search = org::project_id(&emu, "Search");
    for email in ["bob@example.com", "carol@example.com"] {
        let id = org::user_id(&emu, email);
        org::call(
            &emu,
            reqwest::Method::POST,
            &format!("/organization/users/{id}"),
            Some(json!({"role": "owner"})),
        );
    }
    let carol = org::user_id(&emu, "carol@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "member"})),
    );
    let out = org::orgops(&emu)
        .args(["drift", "--format", "json", "-f"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["summary"]["total"], json!(3));
    assert_eq!(
        report["audit"]["requests"],
        json!(1),
        "three drifted objects, one audit-log request"
    );
}

#[test]
fn an_invalid_file_exits_1_with_a_location() {
    let emu = org::start(ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(
        &file,
        "version: 1\nusers:\n  - {email: a@example.com, role: ownr}\n",
    )
    .expect("write");
    let out = org::orgops(&emu)
        .args(["drift", "-f"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("orgops.yaml:3:"));
}

// --- drift means "apply would change something" (issue 9) ----------------------------------

/// The key the agreement fixtures run with (the emulator lists it as "orgops emulator key").
const EXAMPLE_KEY: &str = "sk-admin-drift-agreement";
const EXAMPLE_KEY_ITEM: &str = "admin_api_key:orgops emulator key";

/// An emulator seeded from a state file or directory of this repository, its one admin key
/// owned by `owner`.
fn start_example(state: &str, owner: &str) -> RunningEmulator {
    let (doc, pems) =
        orgops::emulator::seed::load_state_file(&root().join(state)).expect("example state loads");
    let options = EmulatorOptions {
        admin_keys: vec![(EXAMPLE_KEY.to_string(), Some(owner.to_string()))],
        certificate_pems: pems,
        ..EmulatorOptions::default()
    };
    orgops::emulator::start_in_background(doc, options).expect("emulator starts")
}

/// Every `sink: {command: ...}` under `value` replaced by one that discards the key.
fn discard_command_sinks(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(command) = map.get_mut("sink").and_then(|s| s.get_mut("command")) {
                *command = json!(["sh", "-c", "cat > /dev/null"]);
            }
            map.values_mut().for_each(discard_command_sinks);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_command_sinks),
        _ => {}
    }
}

/// Copies an example (a file or a directory of `*.yaml`, with its `certs/`) into `dir`, every
/// command sink replaced by one that discards the key (file sinks land under `dir`).
pub(crate) fn copy_example(example: &str, dir: &Path) -> PathBuf {
    let source = root().join(example);
    let (yaml_dir, files): (PathBuf, Vec<PathBuf>) = if source.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
            .expect("example directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        (source.clone(), files)
    } else {
        let parent = source.parent().expect("parent").to_path_buf();
        (parent, vec![source.clone()])
    };
    let certs = yaml_dir.join("certs");
    if certs.is_dir() {
        std::fs::create_dir_all(dir.join("certs")).expect("certs dir");
        for entry in std::fs::read_dir(&certs).expect("certs") {
            let path = entry.expect("entry").path();
            std::fs::copy(
                &path,
                dir.join("certs").join(path.file_name().expect("name")),
            )
            .expect("copy cert");
        }
    }
    for file in &files {
        let text = std::fs::read_to_string(file).expect("example file");
        let mut doc: Value = serde_saphyr::from_str(&text).expect("example YAML");
        discard_command_sinks(&mut doc);
        let text = serde_saphyr::to_string(&doc).expect("YAML");
        std::fs::write(dir.join(file.file_name().expect("name")), text).expect("write copy");
    }
    if source.is_dir() {
        dir.to_path_buf()
    } else {
        dir.join(source.file_name().expect("name"))
    }
}

/// The binary pointed at `emu` with its admin key.
fn against(emu: &RunningEmulator) -> assert_cmd::Command {
    let mut cmd = crate::support::cli::orgops();
    cmd.env("OPENAI_ADMIN_KEY", emu.admin_key())
        .env("OPENAI_BASE_URL", emu.url());
    cmd
}

/// Runs `plan --detailed-exitcode` and `drift --format json` on `file`, asserts they exit
/// alike, and returns that exit code and the drift report.
fn plan_and_drift_agree(emu: &RunningEmulator, file: &Path, label: &str) -> (i32, Value) {
    let plan: Run = run(against(emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(file));
    let drift: Run = run(against(emu)
        .args(["drift", "--format", "json", "-f"])
        .arg(file));
    assert!(
        matches!(plan.code, 0 | 2),
        "{label}: plan failed ({}): {}{}",
        plan.code,
        plan.stdout,
        plan.stderr
    );
    assert_eq!(
        drift.code, plan.code,
        "{label}: `drift` exits {} where `plan --detailed-exitcode` exits {}\nplan:\n{}\ndrift:\n{}{}",
        drift.code, plan.code, plan.stdout, drift.stdout, drift.stderr
    );
    let report: Value = serde_json::from_str(&drift.stdout).expect("drift JSON");
    (drift.code, report)
}

fn apply(emu: &RunningEmulator, file: &Path, label: &str) {
    let applied = run(against(emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(file));
    assert_eq!(
        applied.code, 0,
        "{label}: apply failed:\n{}{}",
        applied.stdout, applied.stderr
    );
}

/// Items the report lists that apply would not touch (policy `report`).
fn reported_only(report: &Value) -> Vec<String> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["action"].is_null())
        .map(|i| i["key"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Before apply both say "changes" (2); after a successful apply both say "in sync" (0), even
/// though undeclared objects under `report` (and the admin key in use) are still there.
fn assert_agreement_across_apply(emu: &RunningEmulator, file: &Path, label: &str) -> Value {
    let (before, _) = plan_and_drift_agree(emu, file, label);
    assert_eq!(before, 2, "{label}: the fixture starts with changes");
    apply(emu, file, label);
    let (after, report) = plan_and_drift_agree(emu, file, label);
    assert_eq!(after, 0, "{label}: after apply nothing is left to change");
    assert!(
        !reported_only(&report).is_empty(),
        "{label}: the fixture keeps undeclared objects under `report`: {report:#}"
    );
    report
}

#[test]
fn after_apply_drift_exits_like_plan_on_the_quickstart_example() {
    let emu = start_example("examples/quickstart/live.yaml", "root@acme.example");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = copy_example("examples/quickstart/orgops.yaml", dir.path());
    let report = assert_agreement_across_apply(&emu, &file, "quickstart");
    // eve (an undeclared member) and `Marketing Experiments` are listed for information.
    let listed = reported_only(&report);
    assert!(
        listed.contains(&"user:eve@acme.example".to_string()),
        "{listed:?}"
    );
    assert_eq!(report["in_sync"], json!(true), "{report:#}");
}

#[test]
fn after_apply_drift_exits_like_plan_on_the_enterprise_example() {
    let emu = start_example("examples/enterprise", "amara@globex.example");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = copy_example("examples/enterprise", dir.path());
    // Another admin demotes an owner (changed) and adds an undeclared service account to
    // Payments (unmanaged, policy `report`).
    let chen = {
        let users = call_as(
            &emu,
            reqwest::Method::GET,
            "/organization/users?limit=100",
            None,
        );
        users["data"]
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["email"] == json!("chen@globex.example"))
            .and_then(|u| u["id"].as_str())
            .expect("chen is a member")
            .to_string()
    };
    call_as(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{chen}"),
        Some(json!({"role": "reader"})),
    );
    let projects = call_as(
        &emu,
        reqwest::Method::GET,
        "/organization/projects?limit=100",
        None,
    );
    let payments = projects["data"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["name"] == json!("Payments"))
        .and_then(|p| p["id"].as_str())
        .expect("Payments exists")
        .to_string();
    call_as(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{payments}/service_accounts"),
        Some(json!({"name": "someones-laptop", "create_service_account_only": true})),
    );
    let report = assert_agreement_across_apply(&emu, &file, "enterprise");
    let listed = reported_only(&report);
    assert!(
        listed.contains(&"project:Payments/service_account:someones-laptop".to_string()),
        "{listed:?}"
    );
}

#[test]
fn after_apply_drift_exits_like_plan_on_a_generated_org_with_unmanaged_objects() {
    let spec = "users=40,projects=3,project_members=6,groups=2,group_members=5,service_accounts=2"
        .parse()
        .expect("generate spec");
    let org = orgops::emulator::generate::generate(spec, 11);
    let emu = orgops::emulator::start_state_in_background(
        org,
        vec![(EXAMPLE_KEY.to_string(), None)],
        EmulatorOptions::default(),
    )
    .expect("emulator starts");
    let exported = run(against(&emu).arg("export"));
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let mut doc: Value = serde_saphyr::from_str(&exported.stdout).expect("export is YAML");

    // The file declares less than the org has: users in no group or project, one member of a
    // project, one service account (all under `report`); a group member under `remove`; and
    // one role change. The admin key in use is not declared.
    doc.as_object_mut()
        .expect("a mapping")
        .remove("admin_api_keys");
    doc["policy"] = json!({
        "unmanaged": {
            "users": "report",
            "project_members": "report",
            "service_accounts": "report",
            "group_members": "remove",
        },
        "max_removals": 100,
    });
    let mut referenced: Vec<String> = vec!["user000000@example.com".into()];
    for list in ["groups", "projects"] {
        for container in doc[list].as_array().cloned().unwrap_or_default() {
            for m in container["members"].as_array().cloned().unwrap_or_default() {
                let email = m["email"].as_str().or(m.as_str()).unwrap_or_default();
                referenced.push(email.to_string());
            }
        }
    }
    let users = doc["users"].as_array_mut().expect("users");
    let before = users.len();
    users.retain(|u| {
        referenced
            .iter()
            .any(|r| Some(r.as_str()) == u["email"].as_str())
    });
    assert!(users.len() < before, "some users are left undeclared");
    if let Some(reader) = users.iter_mut().find(|u| u["role"] == json!("reader")) {
        reader["role"] = json!("owner");
    }
    let projects = doc["projects"].as_array_mut().expect("projects");
    let generated: Vec<&mut Value> = projects
        .iter_mut()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("project-"))
        })
        .collect();
    let mut generated = generated.into_iter();
    let first = generated.next().expect("a generated project");
    first["members"].as_array_mut().expect("members").pop();
    let second = generated.next().expect("a second generated project");
    second["service_accounts"]
        .as_array_mut()
        .expect("service accounts")
        .pop();
    doc["groups"][0]["members"]
        .as_array_mut()
        .expect("group members")
        .pop();

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(&file, serde_saphyr::to_string(&doc).expect("YAML")).expect("write");
    let report = assert_agreement_across_apply(&emu, &file, "generated");
    let listed = reported_only(&report);
    assert!(
        listed.iter().any(|k| k.starts_with("user:")),
        "undeclared users are listed: {listed:?}"
    );
    assert!(
        listed.iter().any(|k| k.contains("/member:")),
        "an undeclared project member is listed: {listed:?}"
    );

    // `--fail-on-unmanaged` makes what `report` lists count as drift again.
    let strict = run(against(&emu)
        .args(["drift", "--fail-on-unmanaged", "-f"])
        .arg(&file));
    assert_eq!(strict.code, 2, "{}{}", strict.stdout, strict.stderr);
}

#[test]
fn the_admin_key_in_use_is_shown_once_as_in_use_never_as_unmanaged() {
    let emu = start_example("examples/quickstart/live.yaml", "root@acme.example");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = copy_example("examples/quickstart/orgops.yaml", dir.path());
    for policy in ["report", "remove"] {
        let text = std::fs::read_to_string(&file).expect("copy");
        // The quickstart spells out every kind of `policy.unmanaged`.
        assert!(text.contains("admin_api_keys: report\n"), "{text}");
        let text = text.replace(
            "admin_api_keys: report\n",
            &format!("admin_api_keys: {policy}\n"),
        );
        let path = dir.path().join(format!("orgops-{policy}.yaml"));
        std::fs::write(&path, text).expect("write");
        let drift = run(against(&emu)
            .args(["drift", "--format", "json", "-f"])
            .arg(&path));
        let report: Value = serde_json::from_str(&drift.stdout).expect("JSON");
        let keys: Vec<&str> = report["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["key"].as_str())
            .collect();
        assert!(
            !keys.contains(&EXAMPLE_KEY_ITEM),
            "{policy}: the key in use is listed as drift: {keys:?}"
        );
        assert_eq!(
            report["in_use"],
            json!([EXAMPLE_KEY_ITEM]),
            "{policy}: {report:#}"
        );
        let text = run(against(&emu).args(["drift", "-f"]).arg(&path));
        assert_eq!(
            text.stdout.matches("orgops emulator key").count(),
            1,
            "{policy}: shown once:\n{}",
            text.stdout
        );
        assert!(text.stdout.contains("in use"), "{}", text.stdout);
        // Under `remove`, the plan does not delete it either.
        let plan = run(against(&emu).args(["plan", "-f"]).arg(&path));
        assert!(
            !plan.stdout.contains("orgops emulator key"),
            "{policy}: {}",
            plan.stdout
        );
    }
}

/// Sends one `/v1` request with the emulator's own key.
fn call_as(
    emu: &RunningEmulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    org::call_with_key(emu, emu.admin_key(), method, path, body)
}

// --- attribution only when the event explains the object (issue 9) -------------------------

const SHARED_LIVE: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: carol@example.com, role: reader}
groups:
  - name: ml
    members: [ada@example.com, bob@example.com]
projects:
  - name: Search
    members:
      - {email: ada@example.com, role: member}
      - {email: bob@example.com, role: member}
"#;

const SHARED_FILE: &str = r#"
version: 1
policy:
  unmanaged:
    group_members: report
    project_members: report
    admin_api_keys: ignore
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: owner}
  - {email: carol@example.com, role: reader}
groups:
  - name: ml
    members: [ada@example.com]
projects:
  - name: Search
    members:
      - {email: ada@example.com, role: member}
"#;

#[test]
fn an_event_about_the_same_user_that_does_not_explain_the_object_is_not_chosen() {
    let emu = org::start(SHARED_LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(&file, SHARED_FILE).expect("write");
    // The apply changes bob's organization role: `user.updated` naming bob, by ada.
    let applied = run(org::orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    // Another admin adds carol to the group and to the project.
    let carol = org::user_id(&emu, "carol@example.com");
    let ml = {
        let groups = org::call(
            &emu,
            reqwest::Method::GET,
            "/organization/groups?limit=100",
            None,
        );
        groups["data"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["name"] == json!("ml"))
            .and_then(|g| g["id"].as_str())
            .expect("ml exists")
            .to_string()
    };
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/groups/{ml}/users"),
        Some(json!({"user_id": carol})),
    );
    let search = org::project_id(&emu, "Search");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "member"})),
    );

    let out = run(org::orgops(&emu)
        .args(["drift", "--format", "json", "-f"])
        .arg(&file));
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    // bob's memberships predate the window's events about them: the only event naming bob is
    // the apply's `user.updated` of his organization role, which explains neither.
    for key in [
        "group:ml/member:bob@example.com",
        "project:Search/member:bob@example.com",
    ] {
        let bob = item(&report, key);
        assert_eq!(bob["class"], json!("unmanaged"));
        assert_eq!(
            bob["attribution"],
            Value::Null,
            "{key} is attributed to an event that does not explain it: {bob:#}"
        );
    }
    let text = run(org::orgops(&emu).args(["drift", "-f"]).arg(&file));
    assert!(
        text.stdout.contains("no audit event found"),
        "{}",
        text.stdout
    );
    // carol's memberships are explained by the events that made them.
    let group = item(&report, "group:ml/member:carol@example.com");
    assert_eq!(group["attribution"]["event"], json!("group.updated"));
    assert_eq!(group["attribution"]["actor"], json!(ACTOR));
    let project = item(&report, "project:Search/member:carol@example.com");
    assert_eq!(project["attribution"]["event"], json!("user.added"));
}
