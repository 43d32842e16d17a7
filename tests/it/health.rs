//! Health alert rules (issue 22, SDK 3.63.0): organization and project rules by name, every
//! verb, `expected_version` (a rule changed since it was read is never overwritten), and the
//! emulator's routes as the SDK calls them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::support::cli::run;
use crate::support::loopback::Loopback;
use crate::support::org::{self, ADMIN_KEY, actions, orgops, plan_json, send_with_key, write};

const LIVE: &str = "users:
  - {email: ada@example.com, role: owner}
settings:
  health_alert_rules:
    - {name: keep, condition: {type: prompt_cache_hit_rate, threshold: 0.4}}
    - {name: tune, condition: {type: error_rate, threshold: 0.05, window_seconds: 300, status_class: 5xx}, notifications: {email: {addresses: [a@example.com], enabled: true}}}
    - {name: retype, condition: {type: prompt_cache_hit_rate, threshold: 0.2}}
    - {name: stray, condition: {type: service_tier_fallback_rate, threshold: 0.1}}
projects:
  - name: Search
    health_alert_rules:
      - {name: tpm, condition: {type: rate_limit_utilization, metric: tpm}, filters: {models: [gpt-4o]}}
";

const DESIRED: &str = "version: 1
policy:
  unmanaged:
    health_alert_rules: remove
users:
  - {email: ada@example.com, role: owner}
settings:
  health_alert_rules:
    - {name: keep, condition: {type: prompt_cache_hit_rate, threshold: 0.4}}
    - name: tune
      enabled: false
      condition: {type: error_rate, threshold: 0.1, window_seconds: 900}
      filters: {service_tiers: [priority, default], observability_tags: [checkout]}
      notifications: {email: {addresses: [B@example.com, a@example.com]}, webhook: {enabled: true}}
    - {name: retype, condition: {type: rate_limit_utilization, metric: rpm, consecutive_minutes: 3, threshold: 0.8}}
    - {name: fresh, condition: {type: service_tier_fallback_rate, threshold: 0.2, source_tier: fast}}
projects:
  - name: Search
    health_alert_rules:
      - {name: tpm, condition: {type: rate_limit_utilization, metric: tpm, consecutive_minutes: 10}, filters: {models: [gpt-4o, gpt-4o-mini]}}
      - {name: errors, condition: {type: error_rate, threshold: 0.02, window_seconds: 1800, status_codes: [503, 500]}, notifications: {email: {project_owners: true, enabled: true}}}
";

fn rules(emu: &::orgops::emulator::RunningEmulator, path: &str) -> Vec<Value> {
    org::call(emu, M::GET, path, None)["data"]
        .as_array()
        .expect("a list")
        .clone()
}

fn rule(emu: &::orgops::emulator::RunningEmulator, path: &str, name: &str) -> Value {
    rules(emu, path)
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("rule {name} at {path}"))
}

const ORG_RULES: &str = "/organization/health/alert_rules?limit=100";

#[test]
fn health_alert_rules_every_verb_apply_converges_and_export_round_trips() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "orgops.yaml", DESIRED);
    let got = actions(&plan_json(&emu, &file));
    let want: BTreeMap<String, (String, bool)> = [
        ("health_alert_rule:tune", ("update", false)),
        ("health_alert_rule:retype", ("replace", true)),
        ("health_alert_rule:fresh", ("create", false)),
        ("health_alert_rule:stray", ("delete", true)),
        ("project:Search/health_alert_rule:tpm", ("update", false)),
        ("project:Search/health_alert_rule:errors", ("create", false)),
    ]
    .into_iter()
    .map(|(k, (a, d))| (k.to_string(), (a.to_string(), d)))
    .collect();
    assert_eq!(got, want);

    let apply = run(orgops(&emu)
        .args(["apply", "--auto-approve", "--allow-removals", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&file));
    assert_eq!(replan.code, 0, "{}{}", replan.stdout, replan.stderr);

    // The update sent what the file writes and kept the rest (status_class), at version 2.
    let tune = rule(&emu, ORG_RULES, "tune");
    assert_eq!(tune["version"], 2, "{tune}");
    assert_eq!(tune["enabled"], false);
    assert_eq!(
        tune["condition"],
        json!({"type": "error_rate", "threshold": 0.1, "window_seconds": 900,
               "status_class": "5xx", "status_codes": null})
    );
    assert_eq!(
        tune["notifications"],
        json!({"email": {"addresses": ["a@example.com", "b@example.com"], "enabled": true,
                         "org_owners": false, "project_owners": false},
               "webhook": {"enabled": true}})
    );
    let names: Vec<String> = rules(&emu, ORG_RULES)
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!names.contains(&"stray".to_string()), "{names:?}");
    assert_eq!(
        rule(&emu, ORG_RULES, "retype")["condition"]["type"],
        "rate_limit_utilization"
    );
    let search = org::project_id(&emu, "Search");
    let project_rules = format!("/organization/projects/{search}/health/alert_rules");
    assert_eq!(
        rule(&emu, &project_rules, "errors")["condition"]["status_codes"],
        json!([500, 503])
    );

    let exported = dir.path().join("export.yaml");
    let export = run(orgops(&emu).args(["export", "-o"]).arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let text = std::fs::read_to_string(&exported).expect("export");
    assert!(text.contains("health_alert_rules:"), "{text}");
    assert!(text.contains("name: errors"), "{text}");
    let replan = run(orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&exported));
    assert_eq!(replan.code, 0, "{}{}", replan.stdout, replan.stderr);
}

/// An update out of band, as someone in the dashboard would: the rule's current version.
fn change_out_of_band(base: &str, path: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let current: Value = client
            .get(format!("{base}{path}"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("json");
        let status = client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({"expected_version": current["version"], "condition":
                          {"type": "error_rate", "threshold": 0.5, "window_seconds": 1800}}))
            .send()
            .await
            .expect("update")
            .status();
        assert!(status.is_success(), "out-of-band update: {status}");
    });
}

const ONE_RULE: &str = "users:
  - {email: ada@example.com, role: owner}
settings:
  health_alert_rules:
    - {name: tune, condition: {type: error_rate, threshold: 0.05, window_seconds: 300}}
";

const ONE_RULE_DESIRED: &str = "version: 1
users:
  - {email: ada@example.com, role: owner}
settings:
  health_alert_rules:
    - {name: tune, condition: {type: error_rate, threshold: 0.1, window_seconds: 300}}
";

/// The rule as someone else left it: threshold 0.5 over 30 minutes, version 2.
fn assert_left_as_changed(emu: &::orgops::emulator::RunningEmulator) {
    let tune = rule(emu, ORG_RULES, "tune");
    assert_eq!(tune["version"], 2, "{tune}");
    assert_eq!(tune["condition"]["threshold"], 0.5, "{tune}");
    assert_eq!(tune["condition"]["window_seconds"], 1800, "{tune}");
}

/// Plan, someone changes the rule, apply the saved plan: its update carries the version
/// the plan read, so the plan is stale (exit 4, the rule named) and nothing is written.
#[test]
fn a_rule_changed_after_its_plan_was_saved_is_stale_and_left_as_changed() {
    let emu = org::start(ONE_RULE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "orgops.yaml", ONE_RULE_DESIRED);
    let saved = dir.path().join("plan.json");
    let plan = run(orgops(&emu)
        .args(["plan", "--out"])
        .arg(&saved)
        .arg("-f")
        .arg(&file));
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let id = rule(&emu, ORG_RULES, "tune")["id"]
        .as_str()
        .expect("id")
        .to_string();
    change_out_of_band(
        &emu.url(),
        &format!("/organization/health/alert_rules/{id}"),
    );
    let apply = run(orgops(&emu)
        .args(["apply", "--plan"])
        .arg(&saved)
        .arg("-f")
        .arg(&file));
    assert_eq!(apply.code, 4, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply.stderr.contains("health_alert_rule:tune") && apply.stderr.contains("plan again"),
        "{}",
        apply.stderr
    );
    assert_left_as_changed(&emu);
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    fired: Arc<AtomicBool>,
}

/// Forwards to the emulator; before the first update of a health alert rule reaches it,
/// changes that rule out of band (someone in the dashboard between apply's read and write).
async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let client = reqwest::Client::new();
    if method == Method::POST
        && path.contains("/health/alert_rules/")
        && !proxy.fired.swap(true, Ordering::SeqCst)
    {
        let current: Value = client
            .get(format!("{}{path}", proxy.upstream))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("json");
        client
            .post(format!("{}{path}", proxy.upstream))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({"expected_version": current["version"], "condition":
                          {"type": "error_rate", "threshold": 0.5, "window_seconds": 1800}}))
            .send()
            .await
            .expect("out-of-band update");
    }
    let mut request = client
        .request(method, format!("{}{path}{query}", proxy.upstream))
        .body(body.to_vec());
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    let answer = request.send().await.expect("upstream answers");
    let status = answer.status();
    let mut out_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if ["content-type", "openai-organization", "x-should-retry"].contains(&name.as_str()) {
            out_headers.insert(name.clone(), value.clone());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    (status, out_headers, bytes.to_vec()).into_response()
}

/// The rule changes between apply's own read and its update: the API refuses the version
/// (409), apply re-reads the rule and stops that change with the conflict named (exit 1),
/// never writing over the other change.
#[test]
fn a_rule_changed_between_apply_read_and_write_is_a_conflict_never_overwritten() {
    let emu = org::start(ONE_RULE);
    let proxy = Loopback::serve(axum::Router::new().fallback(forward).with_state(Proxy {
        upstream: emu.url(),
        fired: Arc::new(AtomicBool::new(false)),
    }));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "orgops.yaml", ONE_RULE_DESIRED);
    let apply = run(orgops(&emu)
        .env("OPENAI_BASE_URL", &proxy.url)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains("health alert rule `tune` of the organization was changed by someone else since it was read (version 1 read, version 2 now)")
            && said.contains("run `orgops plan` again"),
        "{said}"
    );
    assert_left_as_changed(&emu);
}

#[test]
fn the_emulator_refuses_unknown_fields_and_stale_versions_and_pages_by_token() {
    let emu = org::start("users:\n  - {email: ada@example.com, role: owner}\n");
    let (status, body) = send_with_key(
        &emu,
        ADMIN_KEY,
        M::POST,
        "/organization/health/alert_rules",
        Some(
            json!({"name": "r", "condition": {"type": "prompt_cache_hit_rate", "threshold": 0.5, "windw": 3}}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["message"],
        "Unrecognized request argument supplied: condition.windw"
    );
    let (status, body) = send_with_key(
        &emu,
        ADMIN_KEY,
        M::POST,
        "/organization/health/alert_rules",
        Some(
            json!({"name": "r", "bogus_field": 1, "condition": {"type": "prompt_cache_hit_rate", "threshold": 0.5}}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "bogus_field");
    for i in 0..5 {
        org::call(
            &emu,
            M::POST,
            "/organization/health/alert_rules",
            Some(
                json!({"name": format!("r{i}"), "condition": {"type": "prompt_cache_hit_rate", "threshold": 0.5}}),
            ),
        );
    }
    // Token pages: `next` goes back as `page`.
    let mut seen = Vec::new();
    let mut page = String::new();
    loop {
        let answer = org::call(
            &emu,
            M::GET,
            &format!("/organization/health/alert_rules?limit=2&page={page}"),
            None,
        );
        for r in answer["data"].as_array().expect("data") {
            seen.push(r["name"].as_str().unwrap_or_default().to_string());
        }
        if answer["has_more"] != true {
            break;
        }
        page = answer["next"].as_str().expect("next").to_string();
    }
    assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4"]);
    let r0 = rule(&emu, ORG_RULES, "r0");
    let path = format!(
        "/organization/health/alert_rules/{}",
        r0["id"].as_str().expect("id")
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (status, retry, body) = runtime.block_on(async {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", emu.url()))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({"expected_version": 7, "enabled": false}))
            .send()
            .await
            .expect("answer");
        let retry = answer
            .headers()
            .get("x-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = answer.status().as_u16();
        (status, retry, answer.json::<Value>().await.expect("json"))
    });
    assert_eq!(status, 409, "{body}");
    assert_eq!(retry.as_deref(), Some("false"), "the SDK must not retry it");
    assert_eq!(body["error"]["code"], "version_conflict");
    let (status, body) = send_with_key(
        &emu,
        ADMIN_KEY,
        M::DELETE,
        &format!("{path}?expected_version=1"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": r0["id"], "object": "health.alert_rule.deleted", "deleted": true})
    );
}
