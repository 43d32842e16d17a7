//! The emulator over HTTP: auth, error envelope, pagination, lifecycle rules, faults and the
//! control plane, driven with reqwest against `start_in_background`.

use orgops::emulator::{EmulatorOptions, RunningEmulator, start_in_background};
use orgops::model::Document;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A small org: two owners-to-be, one reader, one project.
const ORG: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
projects:
  - name: Search
    members: [{email: bob@example.com, role: member}]
"#;

fn doc(yaml: &str) -> Document {
    orgops::emulator::seed::parse_state(yaml).expect("test state parses")
}

fn start(yaml: &str) -> RunningEmulator {
    start_in_background(doc(yaml), EmulatorOptions::default()).expect("emulator starts")
}

/// A client for one emulator, authenticated with its admin key.
struct Api<'a> {
    emu: &'a RunningEmulator,
    http: reqwest::Client,
    key: String,
}

fn api(emu: &RunningEmulator) -> Api<'_> {
    Api {
        emu,
        http: reqwest::Client::new(),
        key: emu.admin_key().to_string(),
    }
}

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{}", self.emu.url(), path);
        let mut req = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request reaches the emulator");
        let status = resp.status();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }
    fn ok(&self, (status, body): (StatusCode, Value)) -> Value {
        assert_eq!(status, StatusCode::OK, "unexpected answer: {body}");
        body
    }
    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/_emulator{}", self.emu.base_url(), path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .expect("control request reaches the emulator");
        (
            resp.status(),
            resp.json::<Value>().await.unwrap_or(Value::Null),
        )
    }
}

fn assert_envelope(body: &Value) {
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object in {body}"));
    assert_eq!(error.len(), 4, "exactly message/type/param/code: {body}");
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(
        error["param"].is_string() || error["param"].is_null(),
        "{body}"
    );
    assert!(
        error["code"].is_string() || error["code"].is_null(),
        "{body}"
    );
}

#[tokio::test]
async fn missing_or_unknown_key_is_401_with_envelope() {
    let emu = start(ORG);
    let http = reqwest::Client::new();
    let url = format!("{}/organization/users", emu.url());
    let resp = http.get(&url).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_envelope(&resp.json().await.expect("json body"));
    let resp = http
        .get(&url)
        .bearer_auth("sk-admin-wrong")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.expect("json body");
    assert_envelope(&body);
    assert!(
        !body.to_string().contains("sk-admin-wrong"),
        "the key is never echoed"
    );
    let resp = http
        .get(&url)
        .bearer_auth(emu.admin_key())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn errors_use_the_envelope() {
    let emu = start(ORG);
    let a = api(&emu);
    let (status, body) = a.get("/organization/users/user_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body);
    let (status, body) = a.get("/organization/users?limit=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body);
    assert_eq!(body["error"]["param"], "limit");
    let (status, body) = a.get("/organization/users?after=user_unknown").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body);
    let (status, body) = a.get("/organization/no_such_thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body);
    // A malformed body is a 400, not a framework error page.
    let resp = a
        .http
        .post(format!("{}/organization/invites", emu.url()))
        .bearer_auth(&a.key)
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&resp.json().await.expect("json"));
    let (status, body) = a
        .post("/organization/invites", json!({"role": "reader"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "email");
}

#[tokio::test]
async fn control_plane_counts_requests_by_route_template() {
    let emu = start(ORG);
    let a = api(&emu);
    a.ok(a.get("/organization/users").await);
    let users = a.ok(a.get("/organization/users?limit=1").await);
    let id = users["data"][0]["id"].as_str().expect("id").to_string();
    a.ok(a.get(&format!("/organization/users/{id}")).await);
    let (_, _) = a.delete("/organization/invites/invite-nope").await;
    let (status, stats) = a.control(reqwest::Method::GET, "/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["by_route"]["GET /organization/users"], 2);
    assert_eq!(stats["by_route"]["GET /organization/users/{user_id}"], 1);
    assert_eq!(
        stats["by_route"]["DELETE /organization/invites/{invite_id}"],
        1
    );
    a.control(reqwest::Method::POST, "/stats/reset", None).await;
    let (_, stats) = a.control(reqwest::Method::GET, "/stats", None).await;
    assert_eq!(stats, json!({"total": 0, "by_route": {}}));
}
