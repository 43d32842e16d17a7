//! Customer-managed keys (`settings.external_keys`, `projects[].external_key`) and external
//! storage (`projects[].external_storage`), issue 22 items 1 and 2: the binary against the
//! emulator over HTTP. Every verb, replaces counted by `max_removals` and refused by
//! `protect`, a key that does not validate stopping apply before any write, the export round
//! trip, and the emulator's refusals of what the SDK's types do not allow.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::cli::run;
use crate::support::org::{self, ADMIN_KEY, actions, orgops, plan_json, write};

const AWS_OLD: &str = "{type: aws, kms_arn: 'arn:aws:kms:us-east-1:111122223333:key/old', role_arn: 'arn:aws:iam::111122223333:role/ekm', external_id: ext-1}";

fn live() -> String {
    format!(
        r#"
users:
  - {{email: ada@example.com, role: owner}}
settings:
  external_keys:
    - {{name: old, {inner}}}
    - {{name: stray, type: azure, tenant_id: t-1, vault_uri: 'https://v.vault.azure.net', key_name: k}}
projects:
  - name: Search
    external_key: old
    external_storage: {{type: aws, bucket: search-data, role_arn: 'arn:aws:iam::111122223333:role/store'}}
  - name: Docs
"#,
        inner = &AWS_OLD[1..AWS_OLD.len() - 1]
    )
}

/// Every verb: a key created, a key replaced (its ARN changed), a stray key reported; a
/// project put on the new key; storage replaced on one project and created on another.
const DESIRED: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
settings:
  external_keys:
    - name: old
      type: aws
      kms_arn: 'arn:aws:kms:us-east-1:111122223333:key/rotated'
      role_arn: 'arn:aws:iam::111122223333:role/ekm'
      external_id: ext-1
    - name: prod
      type: gcp
      kms_project_id: kms-prj
      kms_key_location: global
      kms_key_ring_name: ring
      kms_key_name: prod
      audience: aud
      workload_identity_pool_id: pool
      workload_identity_project_number: '123'
      workload_identity_provider_id: prov
projects:
  - name: Search
    external_key: prod
    external_storage: {type: aws, bucket: search-data-v2, role_arn: 'arn:aws:iam::111122223333:role/store'}
  - name: Docs
    external_storage: {type: oci, tenancy_ocid: 'ocid1.tenancy.oc1..a', region: us-ashburn-1, bucket: docs}
"#;

/// `GET /_emulator/state`: the org as desired-state YAML.
fn state(emu: &::orgops::emulator::RunningEmulator) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        reqwest::get(format!("{}/_emulator/state", emu.base_url()))
            .await
            .expect("state")
            .text()
            .await
            .expect("state text")
    })
}

/// One `/v1` request whatever its answer: (status, body).
fn raw(
    emu: &::orgops::emulator::RunningEmulator,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", emu.url()))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .expect("request reaches the emulator");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn external_keys_and_storage_every_verb_apply_converges_and_export_round_trips() {
    let emu = org::start(&live());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "orgops.yaml", DESIRED);
    let plan = plan_json(&emu, &file);
    let got = actions(&plan);
    let want: BTreeMap<String, (String, bool)> = [
        ("external_key:old", ("replace", true)),
        ("external_key:prod", ("create", false)),
        ("project:Search/external_key", ("update", false)),
        ("project:Search/external_storage", ("replace", true)),
        ("project:Docs/external_storage", ("create", false)),
    ]
    .into_iter()
    .map(|(k, (a, d))| (k.to_string(), (a.to_string(), d)))
    .collect();
    assert_eq!(got, want);
    let unmanaged: Vec<&str> = plan["unmanaged"]
        .as_array()
        .expect("unmanaged")
        .iter()
        .filter_map(|u| u["key"].as_str())
        .collect();
    assert_eq!(unmanaged, ["external_key:stray"], "report by default");

    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&file));
    assert_eq!(replan.code, 0, "{}{}", replan.stdout, replan.stderr);

    // The project is on the new key, by its ID; storage validated.
    let keys = org::call(
        &emu,
        reqwest::Method::GET,
        "/organization/external_keys",
        None,
    );
    let prod = keys["data"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["name"] == "prod")
        .expect("prod created");
    let search = org::project_id(&emu, "Search");
    assert_eq!(prod["api_project_ids"], json!([search]));
    let storage = org::call(
        &emu,
        reqwest::Method::GET,
        &format!("/organization/external_storage?project_id={search}"),
        None,
    );
    let data = storage["data"].as_array().expect("storage");
    assert_eq!(data.len(), 1, "{storage}");
    assert_eq!(data[0]["provider"]["bucket"], "search-data-v2");
    assert_eq!(data[0]["status"], "validated");

    // The state dump names the key; the export round-trips to an empty plan.
    let dumped = state(&emu);
    assert!(dumped.contains("external_key: prod"), "{dumped}");
    assert!(dumped.contains("bucket: search-data-v2"), "{dumped}");
    let exported = dir.path().join("export.yaml");
    let export = run(orgops(&emu).args(["export", "-o"]).arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let text = std::fs::read_to_string(&exported).expect("export");
    assert!(text.contains("external_key: prod"), "{text}");
    assert!(text.contains("external_keys:"), "{text}");
    assert!(text.contains("bucket: docs"), "{text}");
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&exported));
    assert_eq!(replan.code, 0, "{}{}", replan.stdout, replan.stderr);
}

#[test]
fn a_replaced_key_counts_against_max_removals_and_protect_refuses_it() {
    let emu = org::start(&live());
    let dir = tempfile::tempdir().expect("tempdir");
    let rotated = "version: 1\nsettings:\n  external_keys:\n    - {name: old, type: aws, kms_arn: 'arn:aws:kms:us-east-1:111122223333:key/rotated', role_arn: 'arn:aws:iam::111122223333:role/ekm', external_id: ext-1}\n    - {name: stray, type: azure, tenant_id: t-1, vault_uri: 'https://v.vault.azure.net', key_name: k}\n";
    let capped = write(
        dir.path(),
        "capped.yaml",
        &rotated.replace("version: 1\n", "version: 1\npolicy:\n  max_removals: 0\n"),
    );
    let refused = run(orgops(&emu).args(["plan", "-f"]).arg(&capped));
    assert_eq!(refused.code, 3, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains("max_removals"),
        "{}",
        refused.stdout
    );

    let protected = write(
        dir.path(),
        "protected.yaml",
        &rotated.replace(
            "version: 1\n",
            "version: 1\npolicy:\n  protect:\n    external_keys: [old]\n",
        ),
    );
    let refused = run(orgops(&emu).args(["plan", "-f"]).arg(&protected));
    assert_eq!(refused.code, 3, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stdout.contains("[protect]"), "{}", refused.stdout);

    // `remove` deletes the stray key; protected, it stays.
    let prune = write(
        dir.path(),
        "prune.yaml",
        &format!(
            "version: 1\npolicy:\n  unmanaged: {{external_keys: remove}}\nsettings:\n  external_keys:\n    - {{name: old, {}}}\n",
            &AWS_OLD[1..AWS_OLD.len() - 1]
        ),
    );
    let got = actions(&plan_json(&emu, &prune));
    assert_eq!(
        got,
        [(
            "external_key:stray".to_string(),
            ("delete".to_string(), true)
        )]
        .into()
    );
}

#[test]
fn a_key_that_does_not_validate_stops_apply_before_any_write() {
    let emu = org::start(
        "users:\n  - {email: ada@example.com, role: owner}\nsettings:\n  external_keys:\n    - {name: broken, type: oci, region: us-ashburn-1, vault_ocid: 'ocid1.vault.unreachable', key_ocid: 'ocid1.key.a'}\nprojects:\n  - name: Search\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "orgops.yaml",
        "version: 1\ngroups:\n  - name: new-team\nprojects:\n  - name: Search\n    external_key: broken\n  - name: Fresh\n",
    );
    let before = state(&emu);
    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stderr
            .contains("external key \"broken\" does not validate"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("orgops.yaml:"),
        "located: {}",
        apply.stderr
    );
    assert_eq!(state(&emu), before, "nothing was written");
    let plan = run(orgops(&emu).args(["plan", "-f"]).arg(&file));
    assert_eq!(
        plan.code, 1,
        "plan says so too: {}{}",
        plan.stdout, plan.stderr
    );
}

#[test]
fn a_project_naming_an_unknown_key_or_both_ways_is_a_located_error() {
    let emu = org::start("users:\n  - {email: ada@example.com, role: owner}\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let both = write(
        dir.path(),
        "both.yaml",
        "version: 1\nsettings:\n  external_keys: []\nprojects:\n  - name: A\n    external_key: nope\n    external_key_id: ek_1\n",
    );
    let out = run(orgops(&emu).args(["validate", "-f"]).arg(&both));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("both `external_key` and `external_key_id`"),
        "{text}"
    );
    assert!(text.contains("no key named \"nope\""), "{text}");
    let live_only = write(
        dir.path(),
        "live.yaml",
        "version: 1\nprojects:\n  - name: A\n    external_key: nope\n",
    );
    let out = run(orgops(&emu).args(["plan", "-f"]).arg(&live_only));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("which the organization does not have"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_emulator_refuses_what_the_sdk_types_do_not_allow() {
    let emu = org::start(
        "users:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: Search\n",
    );
    let post = reqwest::Method::POST;
    let (status, body) = raw(
        &emu,
        post.clone(),
        "/organization/external_keys",
        json!({"name": "k", "type": "aws", "kms_arn": "a", "role_arn": "r", "external_id": "e", "bogus_field": 1}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "bogus_field", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let (status, body) = raw(
        &emu,
        post.clone(),
        "/organization/external_keys",
        json!({"name": "k", "type": "aws", "kms_arn": "a", "role_arn": "r"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "external_id", "{body}");
    let (status, body) = raw(
        &emu,
        post.clone(),
        "/organization/external_keys",
        json!({"name": "k", "type": "vault", "kms_arn": "a"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "type", "{body}");
    let search = org::project_id(&emu, "Search");
    let (status, body) = raw(
        &emu,
        post.clone(),
        "/organization/external_storage",
        json!({"project_id": search, "provider": {"type": "gcp", "bucket": "b"}}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["param"], "provider.workload_identity_pool_id",
        "{body}"
    );
    let (status, body) = raw(
        &emu,
        post,
        "/organization/external_storage",
        json!({"project_id": "proj_missing", "provider": {"type": "aws", "bucket": "b", "role_arn": "arn:aws:iam::1:role/r"}}),
    );
    assert_eq!(status, 404, "{body}");
}
