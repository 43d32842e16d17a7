//! Project API keys managed (issue 22 item 5): a key's monthly spend limit and expiry kept
//! from the file (`projects[].api_keys[] {name, spend_limit, expires_at}`, SDK 3.63.0
//! `projects.api_keys.update`), and a spend limit on the key a service account is created
//! with. The binary against the emulator over HTTP; results checked on the emulator's own
//! answers, not orgops's read.

use serde_json::{Value, json};

use crate::support::cli::run;
use crate::support::org::{self, actions, orgops, plan_json, project_id, write};

const LIVE: &str = r#"
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
    api_keys:
      - {name: ci, spend_limit: {amount_cents: 5000}}
      - deploy
      - {name: capped, spend_limit: {amount_cents: 700}}
"#;

/// The emulator's own view of Search's keys, by name.
fn keys(emu: &::orgops::emulator::RunningEmulator) -> std::collections::BTreeMap<String, Value> {
    let pid = project_id(emu, "Search");
    let list = org::call(
        emu,
        reqwest::Method::GET,
        &format!("/organization/projects/{pid}/api_keys?limit=100"),
        None,
    );
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap_or_default().to_string(),
                k.clone(),
            )
        })
        .collect()
}

#[test]
fn key_spend_limits_and_expiry_update_converge_and_export_round_trips() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "orgops.yaml",
        r#"version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
    api_keys:
      - {name: ci, spend_limit: {amount_cents: 2000}, expires_at: "2099-01-01"}
      - {name: deploy, spend_limit: {amount_cents: 100}}
      - {name: capped, spend_limit: null}
"#,
    );
    let plan = plan_json(&emu, &file);
    let got = actions(&plan);
    let update = |destructive| Some(("update".to_string(), destructive));
    assert_eq!(
        got.get("project:Search/api_key:ci"),
        update(true).as_ref(),
        "lowered: {got:?}"
    );
    assert_eq!(
        got.get("project:Search/api_key:deploy"),
        update(true).as_ref(),
        "first limit: {got:?}"
    );
    assert_eq!(
        got.get("project:Search/api_key:capped"),
        update(false).as_ref(),
        "limit removed: {got:?}"
    );
    assert_eq!(got.len(), 3, "{got:?}");

    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let live = keys(&emu);
    assert_eq!(live["ci"]["spend_limit"]["threshold_amount"], json!(2000));
    let expiry = ::orgops::text::time::parse_utc("2099-01-01").expect("a date");
    let at = live["ci"]["expires_at"].as_i64().expect("ci expires");
    assert!(
        (at - expiry).abs() <= 300,
        "expires_at {at}, declared {expiry}"
    );
    assert_eq!(
        live["deploy"]["spend_limit"]["threshold_amount"],
        json!(100)
    );
    assert_eq!(live["capped"]["spend_limit"], Value::Null);

    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&file));
    assert_eq!(replan.code, 0, "{}", replan.stdout);
    let export_file = dir.path().join("export.yaml");
    let export = run(orgops(&emu).args(["export", "-o"]).arg(&export_file));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let text = std::fs::read_to_string(&export_file).expect("export");
    assert!(text.contains("amount_cents: 2000"), "{text}");
    assert!(text.contains("expires_at:"), "{text}");
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&export_file));
    assert_eq!(replan.code, 0, "{}", replan.stdout);
}

#[test]
fn a_bad_expiry_or_limit_is_a_located_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "orgops.yaml",
        "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: Search\n    api_keys:\n      - {name: ci, expires_at: next week}\n",
    );
    let out = run(crate::support::cli::orgops()
        .args(["validate", "-f"])
        .arg(&file));
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("orgops.yaml:7:"), "{}", out.stderr);
    assert!(out.stderr.contains("is not a date"), "{}", out.stderr);
    assert!(out.stderr.contains("YYYY-MM-DD"), "{}", out.stderr);
}

#[test]
fn a_service_account_key_is_created_with_its_spend_limit() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "orgops.yaml",
        r#"version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
    service_accounts:
      - {name: bot, role: member, sink: {file: keys/bot.key}, key_spend_limit: {amount_cents: 1500}}
"#,
    );
    let plan = run(orgops(&emu)
        .args(["plan", "--format", "markdown", "-f"])
        .arg(&file));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("capped at $15.00 per month"),
        "{}",
        plan.stdout
    );
    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let live = keys(&emu);
    let bot = live
        .values()
        .find(|k| k["owner"]["service_account"]["name"] == json!("bot"))
        .unwrap_or_else(|| panic!("bot's key is listed: {live:?}"));
    assert_eq!(bot["spend_limit"]["threshold_amount"], json!(1500));

    let no_sink = write(
        dir.path(),
        "nosink.yaml",
        "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: Search\n    service_accounts:\n      - {name: bot, role: member, key_spend_limit: {amount_cents: 1500}}\n",
    );
    let out = run(crate::support::cli::orgops()
        .args(["validate", "-f"])
        .arg(&no_sink));
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("nosink.yaml:7:"), "{}", out.stderr);
    assert!(out.stderr.contains("no sink"), "{}", out.stderr);
}

#[test]
fn the_emulator_refuses_what_the_update_does_not_allow() {
    let emu = org::start(
        "users:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: Search\n    members:\n      - {email: ada@example.com, role: owner}\n    api_keys: [ci, {name: old, expires_at: '2001-01-01'}]\n",
    );
    let pid = project_id(&emu, "Search");
    let live = keys(&emu);
    let path = |name: &str| {
        format!(
            "/organization/projects/{pid}/api_keys/{}",
            live[name]["id"].as_str().expect("an id")
        )
    };
    let send = |name: &str, body: Value| {
        org::send_with_key(
            &emu,
            org::ADMIN_KEY,
            reqwest::Method::POST,
            &path(name),
            Some(body),
        )
    };
    let (status, body) = send("ci", json!({"scopes": ["api.all.read"], "bogus": 1}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], json!("bogus"), "{body}");
    let (status, body) = send("ci", json!({}));
    assert_eq!(status, 400, "{body}");
    let (status, body) = send("ci", json!({"expires_in_seconds": null}));
    assert_eq!(status, 400, "{body}");
    let (status, body) = send("old", json!({"spend_limit": null}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("Expired keys cannot be updated"),
        "{body}"
    );
    let (status, body) = send(
        "ci",
        json!({"expires_in_seconds": 3600, "spend_limit": {"threshold_amount": 10, "currency": "USD", "interval": "month"}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], json!("organization.project.api_key"));
    assert_eq!(body["spend_limit"]["threshold_amount"], json!(10));
}

/// Drift on a key's settings and on customer-managed keys is attributed from the audit log
/// (`api_key.updated`, `external_key.registered`), like every other kind's: who did it and
/// when, not "no audit event found". (A deleted key is missing; the event names only its
/// id, which no read after the deletion knows: it stays unattributed, as for other kinds
/// known by their own id.)
#[test]
fn key_drift_is_attributed_to_who_changed_it() {
    let emu = org::start(
        r#"
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
settings:
  external_keys:
    - {name: gone, type: aws, kms_arn: 'arn:aws:kms:us-east-1:1:key/g', role_arn: 'arn:aws:iam::1:role/r', external_id: e}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
    api_keys:
      - {name: ci, spend_limit: {amount_cents: 5000}}
"#,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "orgops.yaml",
        r#"version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
settings:
  external_keys:
    - {name: gone, type: aws, kms_arn: 'arn:aws:kms:us-east-1:1:key/g', role_arn: 'arn:aws:iam::1:role/r', external_id: e}
projects:
  - name: Search
    members:
      - {email: bob@example.com, role: member}
    api_keys:
      - {name: ci, spend_limit: {amount_cents: 5000}}
"#,
    );
    let pid = project_id(&emu, "Search");
    let ci = keys(&emu)["ci"]["id"].as_str().expect("an id").to_string();
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{pid}/api_keys/{ci}"),
        Some(
            json!({"spend_limit": {"threshold_amount": 100, "currency": "USD", "interval": "month"}}),
        ),
    );
    let listed = org::call(
        &emu,
        reqwest::Method::GET,
        "/organization/external_keys",
        None,
    );
    let gone = listed["data"][0]["id"].as_str().expect("an id").to_string();
    org::call(
        &emu,
        reqwest::Method::DELETE,
        &format!("/organization/external_keys/{gone}"),
        None,
    );
    org::call(
        &emu,
        reqwest::Method::POST,
        "/organization/external_keys",
        Some(
            json!({"name": "stray", "type": "aws", "kms_arn": "a", "role_arn": "r", "external_id": "e"}),
        ),
    );
    let out = run(orgops(&emu)
        .args(["drift", "--format", "json", "-f"])
        .arg(&file));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let item = |key: &str| {
        report["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["key"] == json!(key))
            .unwrap_or_else(|| panic!("{key} drifted: {report:#}"))
            .clone()
    };
    for (key, class, event) in [
        ("project:Search/api_key:ci", "changed", "api_key.updated"),
        ("external_key:stray", "unmanaged", "external_key.registered"),
    ] {
        let got = item(key);
        assert_eq!(got["class"], json!(class), "{key}: {got:#}");
        assert_eq!(got["attribution"]["event"], json!(event), "{key}: {got:#}");
        assert_eq!(
            got["attribution"]["actor"],
            json!(org::ACTOR),
            "{key}: {got:#}"
        );
    }
}

/// Two live groups of one name (the API allows it; the emulator now does too): the second is
/// a finding of the plan like a second project or service account, never silently dropped;
/// `policy.unmanaged.groups: remove` deletes exactly that one, and the kept group's members
/// stay.
#[test]
fn two_live_groups_of_one_name_are_a_finding_and_remove_deletes_the_extra_one() {
    let emu = org::start(
        "users:\n  - {email: ada@example.com, role: owner}\n  - {email: bob@example.com, role: reader}\ngroups:\n  - name: eng\n    members: [bob@example.com]\n",
    );
    let created = org::call(
        &emu,
        reqwest::Method::POST,
        "/organization/groups",
        Some(json!({"name": "eng"})),
    );
    let extra = created["id"].as_str().expect("a second eng").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n  - {email: bob@example.com, role: reader}\ngroups:\n  - name: eng\n    members: [bob@example.com]\n";
    let file = write(dir.path(), "orgops.yaml", body);
    let plan = plan_json(&emu, &file);
    let findings: Vec<&Value> = plan["unmanaged"]
        .as_array()
        .expect("unmanaged")
        .iter()
        .filter(|u| u["object"]["duplicate_of"].is_string())
        .collect();
    assert_eq!(findings.len(), 1, "{plan:#}");
    assert_eq!(
        findings[0]["object"]["id"],
        json!(extra),
        "the newer one is the extra: {plan:#}"
    );
    assert_eq!(
        findings[0]["key"],
        json!(format!("group:eng (duplicate {extra})"))
    );

    let file = write(
        dir.path(),
        "orgops.yaml",
        &format!("{body}policy:\n  unmanaged:\n    groups: remove\n"),
    );
    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let groups = org::call(
        &emu,
        reqwest::Method::GET,
        "/organization/groups?limit=100",
        None,
    );
    let left: Vec<&Value> = groups["data"].as_array().expect("groups").iter().collect();
    assert_eq!(left.len(), 1, "{groups:#}");
    assert_ne!(
        left[0]["id"],
        json!(extra),
        "the extra one was deleted: {groups:#}"
    );
    let kept = left[0]["id"].as_str().expect("an id");
    let members = org::call(
        &emu,
        reqwest::Method::GET,
        &format!("/organization/groups/{kept}/users?limit=100"),
        None,
    );
    assert_eq!(
        members["data"].as_array().map(Vec::len),
        Some(1),
        "{members:#}"
    );
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&file));
    assert_eq!(replan.code, 0, "{}", replan.stdout);
}
