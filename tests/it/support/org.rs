//! An emulator with a known admin key (owned by a known person) and a small client to
//! mutate it over `/v1` as another admin would, for drift and GitHub tests.

use orgops::emulator::{EmulatorOptions, RunningEmulator, start_in_background};
use serde_json::{Value, json};

/// The admin key the tests' "other admin" uses; its owner is [`ACTOR`].
pub const ADMIN_KEY: &str = "sk-admin-drift-test";
pub const ACTOR: &str = "ada@example.com";

/// A small org the drift and audit tests start from: [`ACTOR`] owns it, bob is a member of
/// Search, carol of nothing.
pub const ORG: &str = r#"
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

pub fn start(state_yaml: &str) -> RunningEmulator {
    let doc = orgops::emulator::seed::parse_state(state_yaml).expect("test state parses");
    let options = EmulatorOptions {
        admin_keys: vec![(ADMIN_KEY.to_string(), Some(ACTOR.to_string()))],
        ..EmulatorOptions::default()
    };
    start_in_background(doc, options).expect("emulator starts")
}

/// Sends one `/v1` request as [`ACTOR`]; panics on a non-2xx answer.
pub fn call(
    emu: &RunningEmulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    call_with_key(emu, ADMIN_KEY, method, path, body)
}

/// Sends one `/v1` request with `key`; panics on a non-2xx answer.
pub fn call_with_key(
    emu: &RunningEmulator,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, answer) = send_with_key(emu, key, method.clone(), path, body);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

/// Sends one `/v1` request with `key`; the status and the JSON answer (`null` when not JSON),
/// whatever the status.
pub fn send_with_key(
    emu: &RunningEmulator,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", emu.url()))
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request reaches the emulator");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

pub fn user_id(emu: &RunningEmulator, email: &str) -> String {
    let users = call(
        emu,
        reqwest::Method::GET,
        "/organization/users?limit=100",
        None,
    );
    users["data"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|u| u["email"] == json!(email))
        .and_then(|u| u["id"].as_str())
        .unwrap_or_else(|| panic!("{email} is a member"))
        .to_string()
}

pub fn project_id(emu: &RunningEmulator, name: &str) -> String {
    let projects = call(
        emu,
        reqwest::Method::GET,
        "/organization/projects?limit=100",
        None,
    );
    projects["data"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["name"] == json!(name))
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("project {name} exists"))
        .to_string()
}

/// The binary, pointed at `emu` with the test key.
pub fn orgops(emu: &RunningEmulator) -> assert_cmd::Command {
    let mut cmd = super::cli::orgops();
    cmd.env("OPENAI_ADMIN_KEY", ADMIN_KEY)
        .env("OPENAI_BASE_URL", emu.url());
    cmd
}

/// A PEM-shaped certificate file whose content says which certificate it is (`label`).
pub fn labelled_pem(label: &str) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(format!("certificate {label}"));
    format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// `plan --format json -f FILE`, which must exit 0.
pub fn plan_json(
    emu: &::orgops::emulator::RunningEmulator,
    file: &std::path::Path,
) -> serde_json::Value {
    let plan = crate::support::cli::run(
        orgops(emu)
            .args(["plan", "--format", "json", "-f"])
            .arg(file),
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    serde_json::from_str(&plan.stdout).expect("JSON plan")
}

/// Each change's key -> (action, destructive).
pub fn actions(plan: &serde_json::Value) -> std::collections::BTreeMap<String, (String, bool)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap_or_default().to_string(),
                (
                    c["action"].as_str().unwrap_or_default().to_string(),
                    c["destructive"].as_bool().unwrap_or(false),
                ),
            )
        })
        .collect()
}
