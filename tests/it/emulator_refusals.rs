//! The emulator refuses what the API refuses (issue 13, item 8): bodies that are not JSON
//! objects, usage/costs query parameters outside the spec, `expires_in_seconds: null`,
//! unbounded control-plane values, oversized `--generate` specs and non-UTF-8 paths. Over
//! HTTP against `start_in_background`, and through the real `orgops emulator` command.

use std::time::Duration;

use orgops::emulator::{EmulatorOptions, RunningEmulator, start_in_background};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ORG: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
"#;

fn start() -> RunningEmulator {
    let doc = orgops::emulator::seed::parse_state(ORG).expect("test state parses");
    start_in_background(doc, EmulatorOptions::default()).expect("emulator starts")
}

/// Sends `method /v1{path}` with the admin key and a raw body; returns status and JSON.
async fn send(
    emu: &RunningEmulator,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", emu.url()))
        .bearer_auth(emu.admin_key());
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.expect("request reaches the emulator");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path} → {status}: not JSON ({e}): {text}"));
    (status, value)
}

/// The spec's error envelope, with `param` when one is expected.
fn assert_400(answer: &(StatusCode, Value), param: Option<&str>) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
    if let Err(errors) = crate::support::openapi::spec().validate_component("ErrorResponse", body) {
        panic!("not the spec's error envelope: {errors:?}: {body}");
    }
    let error = body["error"].as_object().expect("error object");
    assert_eq!(error.len(), 4, "{body}");
    if let Some(param) = param {
        assert_eq!(error["param"], json!(param), "{body}");
    }
}

async fn user_id(emu: &RunningEmulator, email: &str) -> String {
    let (_, users) = send(emu, Method::GET, "/organization/users?limit=100", None).await;
    users["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|u| u["email"] == json!(email))
        .and_then(|u| u["id"].as_str())
        .expect("user listed")
        .to_string()
}

#[tokio::test]
async fn a_json_array_body_is_refused_and_changes_nothing() {
    let emu = start();
    let bob = user_id(&emu, "bob@example.com").await;
    let path = format!("/organization/users/{bob}");
    let answer = send(&emu, Method::POST, &path, Some(r#"["owner"]"#)).await;
    assert_400(&answer, None);
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("JSON object")),
        "{}",
        answer.1
    );
    let (_, user) = send(&emu, Method::GET, &path, None).await;
    assert_eq!(user["role"], "reader", "the array promoted the user");
    // Other non-object bodies too, on an optional-body route as well.
    for body in ["\"owner\"", "42", "null", "true"] {
        assert_400(&send(&emu, Method::POST, &path, Some(body)).await, None);
    }
    let projects = send(
        &emu,
        Method::POST,
        "/organization/projects",
        Some(r#"["Search"]"#),
    )
    .await;
    assert_400(&projects, None);
}

#[tokio::test]
async fn usage_and_costs_check_every_query_parameter_of_the_spec() {
    let emu = start();
    let usage = "/organization/usage/completions?start_time=0";
    let costs = "/organization/costs?start_time=0";
    for (query, param) in [
        (format!("{usage}&limit=0"), "limit"),
        (format!("{usage}&limit=32"), "limit"),
        (format!("{usage}&bucket_width=1h&limit=169"), "limit"),
        (format!("{usage}&bucket_width=2d"), "bucket_width"),
        (format!("{usage}&group_by=colour"), "group_by"),
        (
            format!("{usage}&group_by[]=model&group_by[]=size"),
            "group_by",
        ),
        (format!("{usage}&end_time=soon"), "end_time"),
        (format!("{usage}&batch=maybe"), "batch"),
        (format!("{costs}&limit=181"), "limit"),
        (format!("{costs}&bucket_width=1h"), "bucket_width"),
        (format!("{costs}&group_by=model"), "group_by"),
        (
            "/organization/usage/images?start_time=0&sizes=3x3".to_string(),
            "sizes",
        ),
        (
            "/organization/usage/web_search_calls?start_time=0&context_levels=huge".to_string(),
            "context_levels",
        ),
        (
            "/organization/costs?start_time=later".to_string(),
            "start_time",
        ),
    ] {
        let answer = send(&emu, Method::GET, &query, None).await;
        assert_400(&answer, Some(param));
    }
    for fine in [
        format!("{usage}&bucket_width=1m&limit=1440&group_by[]=model&group_by[]=batch&end_time=60"),
        format!("{costs}&limit=180&group_by=line_item&project_ids[]=proj_1"),
    ] {
        let (status, body) = send(&emu, Method::GET, &fine, None).await;
        assert_eq!(status, StatusCode::OK, "{fine}: {body}");
    }
}

#[tokio::test]
async fn a_null_expiry_is_refused() {
    let emu = start();
    let answer = send(
        &emu,
        Method::POST,
        "/organization/admin_api_keys",
        Some(r#"{"name": "ci", "expires_in_seconds": null}"#),
    )
    .await;
    assert_400(&answer, Some("expires_in_seconds"));
}

#[tokio::test]
async fn a_non_utf8_path_answers_the_error_envelope() {
    let emu = start();
    for path in [
        "/organization/users/%FF%FE",
        "/organization/projects/%C3%28/users",
    ] {
        let (status, body) = send(&emu, Method::GET, path, None).await;
        assert!(status.is_client_error(), "{path}: {status} {body}");
        let error = body["error"].as_object().expect("error envelope");
        assert_eq!(error.len(), 4, "{body}");
    }
}

#[tokio::test]
async fn control_plane_values_are_bounded() {
    let emu = start();
    let http = reqwest::Client::new();
    let faults = format!("{}/_emulator/faults", emu.base_url());
    for body in [
        json!({"latency_ms": u64::MAX}),
        json!({"latency_ms": 3_600_000u64}),
        json!({"rate_limit_rpm": 0}),
        json!({"fault_rate": 1.5}),
    ] {
        let resp = http
            .post(&faults)
            .json(&body)
            .send()
            .await
            .expect("control request");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    // The emulator still answers promptly afterwards: nothing was set.
    let (status, _) = send(&emu, Method::GET, "/organization/users", None).await;
    assert_eq!(status, StatusCode::OK);
}

/// `orgops emulator ARGS`: exit code, stdout and stderr. A refused start exits at once; the
/// guard only turns the old behaviour (serving forever after printing the URL) into a failure.
fn emulator_command(args: &[&str]) -> (i32, String, String) {
    let out = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
        .arg("emulator")
        .args(args)
        .env_remove("OPENAI_ADMIN_KEY")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("orgops runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn bad_control_values_are_refused_before_the_url_is_printed() {
    for (args, needle) in [
        (vec!["--rate-limit-rpm", "0"], "rate_limit_rpm"),
        (vec!["--fault-rate", "1.5"], "fault_rate"),
        (vec!["--fault-rate", "NaN"], "fault_rate"),
        (vec!["--latency-ms", "18446744073709551615"], "latency_ms"),
        (
            vec!["--generate", "users=100000000000000"],
            "--generate users",
        ),
        (
            vec![
                "--generate",
                "users=1000,projects=10000,service_accounts=10000",
            ],
            "--generate",
        ),
    ] {
        let (code, stdout, stderr) = emulator_command(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}: a URL was printed");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("memory allocation"), "{stderr}");
    }
}
