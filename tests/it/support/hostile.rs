//! A hostile server on 127.0.0.1 (an Admin API that lies, a proxy that listens, a gateway
//! in front of the emulator): every request is recorded, and the test's closure answers it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::loopback::Loopback;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    #[allow(dead_code)] // Read by a test's closure when it needs it.
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(value: Value) -> Answer {
        Answer::status(200, value)
    }

    pub fn status(status: u16, value: Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// An empty page of any list (all three pagination styles say "no more").
pub fn empty_list() -> Answer {
    Answer::json(json!({
        "object": "list", "data": [], "first_id": null, "last_id": null,
        "has_more": false, "next": null, "next_page": null
    }))
}

type Respond = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Respond>,
}

/// A running hostile server; stopped on drop.
pub struct Hostile {
    loopback: Loopback,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    /// Serves every request with `respond(request, index of the request)`.
    pub fn serve(respond: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Hostile {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            log: log.clone(),
            respond: Arc::new(respond),
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        Hostile {
            loopback: Loopback::serve(app),
            log,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.loopback.url
    }

    /// `http://127.0.0.1:PORT/v1`, what `OPENAI_BASE_URL` takes.
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.loopback.url)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("log lock").clone()
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let seen = Seen {
        method: method.to_string(),
        uri: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    let index = {
        let mut log = shared.log.lock().expect("log lock");
        log.push(seen.clone());
        log.len() - 1
    };
    let answer = (shared.respond)(&seen, index);
    let mut response = (
        StatusCode::from_u16(answer.status).expect("a valid status"),
        answer.body,
    )
        .into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    response
}

/// A gateway in front of `upstream` (an emulator's `http://127.0.0.1:PORT`): forwards every
/// request whose path starts with one of `prefixes` (each mapped to `/v1`), and answers with
/// the upstream's response, its `openai-organization` header replaced by what `organization`
/// holds at that moment (none when it is empty).
pub struct Gateway {
    loopback: Loopback,
    organization: Arc<Mutex<String>>,
    refused: Arc<Mutex<Option<(String, u16)>>>,
}

#[derive(Clone)]
struct GatewayState {
    upstream: String,
    prefixes: Vec<String>,
    organization: Arc<Mutex<String>>,
    /// Requests whose path and query contain this text are answered with this status (an
    /// API error envelope) instead of being forwarded.
    refused: Arc<Mutex<Option<(String, u16)>>>,
    client: reqwest::Client,
}

impl Gateway {
    pub fn serve(upstream: &str, prefixes: &[&str], organization: &str) -> Gateway {
        let organization = Arc::new(Mutex::new(organization.to_string()));
        let refused = Arc::new(Mutex::new(None));
        let state = GatewayState {
            upstream: upstream.trim_end_matches('/').to_string(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            organization: organization.clone(),
            refused: refused.clone(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a client"),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        Gateway {
            loopback: Loopback::serve(app),
            organization,
            refused,
        }
    }

    /// From now on, requests whose path and query contain `text` are answered `status` with
    /// an error envelope (never forwarded).
    pub fn refuse(&self, text: &str, status: u16) {
        *self.refused.lock().expect("lock") = Some((text.to_string(), status));
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.loopback.url
    }

    /// From now on, the organization the gateway reports.
    pub fn report(&self, organization: &str) {
        *self.organization.lock().expect("lock") = organization.to_string();
    }
}

async fn forward(
    State(state): State<GatewayState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let Some(rest) = state
        .prefixes
        .iter()
        .find_map(|p| path_and_query.strip_prefix(p.as_str()))
    else {
        return (StatusCode::NOT_FOUND, "no such prefix").into_response();
    };
    let refused = state.refused.lock().expect("lock").clone();
    if let Some((text, status)) = refused
        && path_and_query.contains(&text)
    {
        let body = json!({"error": {"message": "refused by the test gateway", "type": "invalid_request_error", "param": null, "code": null}});
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
        return (status, axum::Json(body)).into_response();
    }
    let url = format!("{}/v1{rest}", state.upstream);
    let mut request = state.client.request(method, url).body(body.to_vec());
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    let upstream = match request.send().await {
        Ok(response) => response,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = upstream.status();
    let content_type = upstream.headers().get("content-type").cloned();
    let body = upstream.bytes().await.unwrap_or_default();
    let mut response = (status, body.to_vec()).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    let organization = state.organization.lock().expect("lock").clone();
    if !organization.is_empty() {
        response.headers_mut().insert(
            "openai-organization",
            organization.parse().expect("header value"),
        );
    }
    response
}
