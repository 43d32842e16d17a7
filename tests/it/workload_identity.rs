//! Workload identity providers and their federation rules
//! (`settings.workload_identity_providers[].federation_rules`), issue 22 item 3: the binary
//! against the emulator over HTTP. Every verb, a rule moved to another service account
//! replaced (counted by `max_removals`, refused by `protect`), a provider deleted after its
//! rules and created before them, the export round trip, and the emulator's refusals.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::cli::run;
use crate::support::org::{self, ADMIN_KEY, actions, orgops, plan_json, write};

/// Search has two service accounts; `github` has two rules, `stray` one.
const LIVE: &str = r#"
users:
  - {email: ada@example.com, role: owner}
settings:
  workload_identity_providers:
    - name: github
      issuer: 'https://token.actions.githubusercontent.com'
      audience: 'https://github.com/acme'
      federation_rules:
        - {name: main, project: Search, service_account: deployer, attribute_matchers: {repository: acme/infra}}
        - {name: docs, project: Search, service_account: deployer, attribute_matchers: {repository: acme/docs}}
    - name: stray
      issuer: 'https://gitlab.com'
      audience: 'https://gitlab.com/acme'
      federation_rules:
        - {name: one, project: Search, service_account: deployer, attribute_matchers: {project_path: acme/a}}
        - {name: two, project: Search, service_account: reader, attribute_matchers: {project_path: acme/b}}
projects:
  - name: Search
    service_accounts:
      - {name: deployer, role: member}
      - {name: reader, role: member}
"#;

/// `github` updated, `main` moved to `reader` (a replace), `docs` updated, `ci` created on
/// a service account the same plan creates, `azure` created with a rule; `stray` deleted
/// with its rules.
const DESIRED: &str = r#"
version: 1
policy:
  unmanaged:
    workload_identity_providers: remove
users:
  - {email: ada@example.com, role: owner}
settings:
  workload_identity_providers:
    - name: github
      issuer: 'https://token.actions.githubusercontent.com'
      audience: 'https://github.com/acme-v2'
      description: GitHub Actions
      federation_rules:
        - {name: main, project: Search, service_account: reader, attribute_matchers: {repository: acme/infra}}
        - {name: docs, project: Search, service_account: deployer, attribute_matchers: {repository: acme/docs, ref: refs/heads/main}, enabled: false}
        - {name: ci, project: Search, service_account: builder, attribute_matchers: {repository: acme/ci}, permissions: {type: restricted, scopes: [api.model.request]}}
    - name: azure
      issuer: 'https://sts.windows.net/tenant/'
      audience: 'api://openai'
      verification: {type: uploaded_jwks, jwks: {keys: []}}
      federation_rules:
        - {name: aks, project: Search, service_account: builder, attribute_matchers: {sub: 'system:serviceaccount:ci:runner'}}
projects:
  - name: Search
    service_accounts:
      - {name: deployer, role: member}
      - {name: reader, role: member}
      - {name: builder, role: member}
"#;

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

/// Where each change's key sits in the plan's order.
fn positions(plan: &Value) -> BTreeMap<String, usize> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c["key"].as_str()?.to_string(), i)))
        .collect()
}

const GITHUB: &str = "workload_identity_provider:github";
const STRAY: &str = "workload_identity_provider:stray";
const AZURE: &str = "workload_identity_provider:azure";

fn rule(provider: &str, name: &str) -> String {
    format!("workload_identity_provider:{provider}/federation_rule:{name}")
}

#[test]
fn workload_identity_every_verb_in_order_apply_converges_and_export_round_trips() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "orgops.yaml", DESIRED);
    let plan = plan_json(&emu, &file);
    let got = actions(&plan);
    let want: BTreeMap<String, (String, bool)> = [
        (GITHUB.to_string(), ("update", false)),
        (AZURE.to_string(), ("create", false)),
        (STRAY.to_string(), ("delete", true)),
        (rule("github", "main"), ("replace", true)),
        (rule("github", "docs"), ("update", false)),
        (rule("github", "ci"), ("create", false)),
        (rule("azure", "aks"), ("create", false)),
        (rule("stray", "one"), ("delete", true)),
        (rule("stray", "two"), ("delete", true)),
        (
            "project:Search/service_account:builder".to_string(),
            ("create", false),
        ),
    ]
    .into_iter()
    .map(|(k, (a, d))| (k, (a.to_string(), d)))
    .collect();
    assert_eq!(got, want);

    // Rules before their provider on delete; provider (and service account) before the
    // rules on create.
    let at = positions(&plan);
    assert!(at[&rule("stray", "one")] < at[STRAY], "{at:?}");
    assert!(at[&rule("stray", "two")] < at[STRAY], "{at:?}");
    assert!(at[AZURE] < at[&rule("azure", "aks")], "{at:?}");
    assert!(
        at["project:Search/service_account:builder"] < at[&rule("github", "ci")],
        "{at:?}"
    );
    let changes = plan["changes"].as_array().expect("changes");
    let by_key = |k: &str| {
        changes
            .iter()
            .find(|c| c["key"] == k)
            .unwrap_or_else(|| panic!("{k}"))
    };
    let stray_deps = by_key(STRAY)["depends_on"].to_string();
    assert!(
        stray_deps.contains("federation_rule:one") && stray_deps.contains("federation_rule:two"),
        "the provider's delete depends on its rules' deletes: {stray_deps}"
    );
    // The update sends only what changed.
    assert_eq!(
        by_key(GITHUB)["operation"]["fields"],
        json!({"audience": "https://github.com/acme-v2", "description": "GitHub Actions"})
    );

    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&file));
    assert_eq!(replan.code, 0, "{}{}", replan.stdout, replan.stderr);

    // In the API: `main` is a new rule on `reader`; `stray` and its rules are gone.
    let providers = org::call(
        &emu,
        reqwest::Method::GET,
        "/organization/workload_identity_providers",
        None,
    );
    let names: Vec<&str> = providers["data"]
        .as_array()
        .expect("providers")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["github", "azure"], "{providers}");
    let github = providers["data"][0]["id"].as_str().expect("id");
    let rules = org::call(
        &emu,
        reqwest::Method::GET,
        &format!("/organization/workload_identity_providers/{github}/federation_rules"),
        None,
    );
    let main = rules["data"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == "main")
        .expect("main");
    let accounts = org::call(
        &emu,
        reqwest::Method::GET,
        &format!(
            "/organization/projects/{}/service_accounts",
            org::project_id(&emu, "Search")
        ),
        None,
    );
    let reader = accounts["data"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["name"] == "reader")
        .expect("reader");
    assert_eq!(main["service_account_id"], reader["id"]);

    let exported = dir.path().join("export.yaml");
    let export = run(orgops(&emu).args(["export", "-o"]).arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let text = std::fs::read_to_string(&exported).expect("export");
    assert!(text.contains("workload_identity_providers:"), "{text}");
    assert!(text.contains("service_account: builder"), "{text}");
    assert!(text.contains("type: uploaded_jwks"), "{text}");
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&exported));
    assert_eq!(replan.code, 0, "{}{}", replan.stdout, replan.stderr);
}

#[test]
fn a_rule_moved_to_another_service_account_is_a_replace_counted_and_protected() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let moved = "version: 1\nsettings:\n  workload_identity_providers:\n    - name: github\n      issuer: 'https://token.actions.githubusercontent.com'\n      audience: 'https://github.com/acme'\n      federation_rules:\n        - {name: main, project: Search, service_account: reader, attribute_matchers: {repository: acme/infra}}\n        - {name: docs, project: Search, service_account: deployer, attribute_matchers: {repository: acme/docs}}\n";
    let got = actions(&plan_json(&emu, &write(dir.path(), "moved.yaml", moved)));
    assert_eq!(
        got,
        [(rule("github", "main"), ("replace".to_string(), true))].into()
    );
    let capped = write(
        dir.path(),
        "capped.yaml",
        &moved.replace("version: 1\n", "version: 1\npolicy:\n  max_removals: 0\n"),
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
        &moved.replace(
            "version: 1\n",
            "version: 1\npolicy:\n  protect:\n    workload_identity_providers: [github]\n",
        ),
    );
    let refused = run(orgops(&emu).args(["plan", "-f"]).arg(&protected));
    assert_eq!(refused.code, 3, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stdout.contains("[protect]"), "{}", refused.stdout);

    // Unmanaged by default: `stray` is reported, never touched.
    let plan = plan_json(
        &emu,
        &write(
            dir.path(),
            "same.yaml",
            &moved.replace("reader", "deployer"),
        ),
    );
    assert_eq!(actions(&plan), BTreeMap::new());
    let unmanaged: Vec<&str> = plan["unmanaged"]
        .as_array()
        .expect("unmanaged")
        .iter()
        .filter_map(|u| u["key"].as_str())
        .collect();
    assert_eq!(unmanaged, [STRAY], "report by default");
}

#[test]
fn the_emulator_refuses_what_the_sdk_types_do_not_allow_on_workload_identity() {
    let emu = org::start(LIVE);
    let post = reqwest::Method::POST;
    let route = "/organization/workload_identity_providers";
    let (status, body) = raw(
        &emu,
        post.clone(),
        route,
        json!({"name": "x", "type": "oidc", "issuer": "i", "audience": "a", "bogus_field": 1}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "bogus_field", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Unrecognized request argument supplied: bogus_field")),
        "{body}"
    );
    let (status, body) = raw(
        &emu,
        post.clone(),
        route,
        json!({"name": "x", "type": "saml", "issuer": "i", "audience": "a"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "type", "{body}");
    let (status, created) = raw(
        &emu,
        post.clone(),
        route,
        json!({"name": "x", "type": "oidc", "issuer": "i", "audience": "a"}),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("id");
    // The update params have no `type`; the rule update params no service account.
    let (status, body) = raw(
        &emu,
        post.clone(),
        &format!("{route}/{id}"),
        json!({"type": "oidc"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "type", "{body}");
    let search = org::project_id(&emu, "Search");
    let (status, body) = raw(
        &emu,
        post.clone(),
        &format!("{route}/{id}/federation_rules"),
        json!({"project_id": search, "service_account_id": "svc_acct_nope", "attribute_matchers": {"a": "b"}}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "service_account_id", "{body}");
    let (status, body) = raw(
        &emu,
        post,
        &format!("{route}/{id}/federation_rules"),
        json!({"project_id": search, "attribute_matchers": {"a": "b"}, "bogus": true}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "bogus", "{body}");
}
