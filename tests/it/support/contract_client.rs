//! An HTTP client for the emulator that checks every answer against the OpenAPI spec: each
//! response body is validated with [`super::assert_valid_response`], each successful request
//! body with [`super::assert_valid_request`], and every route (method + spec template) that
//! answered 2xx is remembered so a suite can prove it exercised the whole spec.

use std::collections::BTreeSet;
use std::sync::Mutex;

use orgops::emulator::{EmulatorOptions, RunningEmulator, start_in_background};
use reqwest::Method;
use serde_json::Value;

pub struct ContractClient {
    pub emu: RunningEmulator,
    http: reqwest::Client,
    /// Routes (`"GET /organization/groups"`) that answered 2xx.
    succeeded: Mutex<BTreeSet<String>>,
}

impl ContractClient {
    /// An emulator seeded from `yaml` (a desired-state document) and a client for it.
    pub fn start(yaml: &str) -> ContractClient {
        let doc = orgops::emulator::seed::parse_state(yaml).expect("test state parses");
        let emu = start_in_background(doc, EmulatorOptions::default()).expect("emulator starts");
        ContractClient {
            emu,
            http: reqwest::Client::new(),
            succeeded: Mutex::new(BTreeSet::new()),
        }
    }

    /// Sends `method path` (path relative to `/v1`, query allowed) with the admin key, or
    /// without any key when `key` is `None`; validates the answer against the spec.
    pub async fn send_as(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.emu.url(), path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = &body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request reaches the emulator");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("response body is readable");
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path} → {status}: not JSON ({e}): {text}"));
        super::assert_valid_response(method.as_str(), path, status, &json);
        if (200..300).contains(&status) {
            let template = super::openapi::spec()
                .path_template(path)
                .unwrap_or_else(|| panic!("{path} matches no spec path"));
            self.succeeded
                .lock()
                .expect("no test thread panicked holding the set")
                .insert(format!("{method} {template}"));
        }
        (status, json)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let key = self.emu.admin_key().to_string();
        self.send_as(Some(&key), method, path, body).await
    }

    /// A call that must succeed with 200; its request body must follow the spec too.
    #[track_caller]
    pub fn ok<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<Value>,
    ) -> impl std::future::Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            super::assert_valid_request(
                method.as_str(),
                path,
                body.as_ref().unwrap_or(&Value::Null),
            );
            let (status, json) = self.send(method.clone(), path, body).await;
            assert_eq!(
                status, 200,
                "{method} {path} (at {caller}) answered {status}: {json}"
            );
            json
        }
    }

    /// A call that must fail with `status` and the four-key error envelope.
    #[track_caller]
    pub fn fails<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<Value>,
        status: u16,
    ) -> impl std::future::Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let (got, json) = self.send(method.clone(), path, body).await;
            assert_eq!(
                got, status,
                "{method} {path} (at {caller}) answered {got}, expected {status}: {json}"
            );
            let error = json["error"]
                .as_object()
                .unwrap_or_else(|| panic!("no error object: {json}"));
            for key in ["message", "type", "param", "code"] {
                assert!(error.contains_key(key), "error lacks {key}: {json}");
            }
            json
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }
    /// A POST without a body (archive).
    pub async fn post_empty(&self, path: &str) -> Value {
        self.ok(Method::POST, path, None).await
    }
    pub async fn delete(&self, path: &str) -> Value {
        self.ok(Method::DELETE, path, None).await
    }

    /// Routes that answered 2xx so far.
    pub fn succeeded(&self) -> BTreeSet<String> {
        self.succeeded
            .lock()
            .expect("no test thread panicked holding the set")
            .clone()
    }

    /// `GET /_emulator/stats` (control plane, not part of the spec).
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/stats", self.emu.base_url()))
            .send()
            .await
            .expect("stats answer")
            .json()
            .await
            .expect("stats are JSON")
    }

    /// `POST /_emulator/invites/accept` for one email.
    pub async fn accept_invite(&self, email: &str) {
        let resp = self
            .http
            .post(format!("{}/_emulator/invites/accept", self.emu.base_url()))
            .json(&serde_json::json!({"email": email}))
            .send()
            .await
            .expect("accept answers");
        assert!(resp.status().is_success(), "accepting {email} failed");
    }

    /// Every item of a list, page by page with `limit`: style A follows `last_id`, style B
    /// follows `next`. Checks each page's size and cursor fields on the way.
    pub async fn collect(&self, path: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        for _page in 0..10_000 {
            let url = match &after {
                None => format!("{path}{sep}limit={limit}"),
                Some(a) => format!("{path}{sep}limit={limit}&after={a}"),
            };
            let page = self.get(&url).await;
            let data = page["data"].as_array().expect("a list has data").clone();
            assert!(data.len() <= limit, "{url}: {} items > limit", data.len());
            let has_more = page["has_more"].as_bool().expect("has_more is a bool");
            items.extend(data.iter().cloned());
            if !has_more {
                return items;
            }
            assert_eq!(data.len(), limit, "{url}: a short page claims has_more");
            let cursor = if page.get("next").is_some() && page.get("first_id").is_none() {
                page["next"].as_str()
            } else {
                page["last_id"].as_str()
            };
            after = Some(cursor.expect("has_more comes with a cursor").to_string());
        }
        panic!("{path}: pagination never ended");
    }
}
