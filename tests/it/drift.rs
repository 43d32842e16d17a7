//! `orgops drift` against the emulator: classification (changed, missing, unmanaged) and
//! attribution from the audit log after another admin changed the org over `/v1`.

use serde_json::{Value, json};

use crate::support::org::{self, ACTOR};

const ORG: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: carol@example.com, role: reader}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
"#;

const FILE: &str = r#"
version: 1
policy:
  unmanaged:
    project_members: report
    # The emulator's own admin key is not declared here.
    admin_api_keys: ignore
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: carol@example.com, role: reader}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
"#;

fn write_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("orgops.yaml");
    std::fs::write(&path, FILE).expect("write the file");
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
        json!({"total": 3, "changed": 1, "missing": 1, "unmanaged": 1})
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
        assert!(
            shown.contains("1 changed, 1 missing, 1 unmanaged"),
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
