//! A loopback fake of the GitHub REST endpoints orgops uses (issue comments list/create/
//! update, issues list/create/update, pull requests of a commit), recording every call so
//! tests can assert exactly what was sent.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::{get, patch};
use serde_json::{Value, json};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub calls: Vec<Call>,
    /// (issue number, comment id, body)
    pub comments: Vec<(u64, u64, String)>,
    /// number -> (title, body, state)
    pub issues: Vec<(u64, String, String, String)>,
    /// commit sha -> pull request numbers merged with it
    pub commit_pulls: Vec<(String, u64)>,
    pub next_id: u64,
    pub authorized: bool,
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, FakeState> {
    state.lock().expect("the fake's lock is not poisoned")
}

fn record(state: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: Value) {
    let mut s = lock(state);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    s.authorized = auth == "Bearer ghs_test_token";
    s.calls.push(Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        body,
    });
}

fn page<T: Clone>(items: &[T], q: &std::collections::HashMap<String, String>) -> Vec<T> {
    let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30);
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect()
}

async fn list_comments(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    record(&state, &method, &uri, &headers, Value::Null);
    let s = lock(&state);
    let all: Vec<Value> = s
        .comments
        .iter()
        .filter(|(n, _, _)| *n == number)
        .map(|(_, id, body)| json!({"id": id, "body": body, "html_url": format!("https://github.example/c/{id}")}))
        .collect();
    Json(Value::Array(page(&all, &q)))
}

async fn create_comment(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(&state, &method, &uri, &headers, body.clone());
    let mut s = lock(&state);
    s.next_id += 1;
    let id = 1000 + s.next_id;
    let text = body["body"].as_str().unwrap_or_default().to_string();
    s.comments.push((number, id, text.clone()));
    (StatusCode::CREATED, Json(json!({"id": id, "body": text})))
}

async fn update_comment(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_o, _r, id)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(&state, &method, &uri, &headers, body.clone());
    let mut s = lock(&state);
    let text = body["body"].as_str().unwrap_or_default().to_string();
    match s.comments.iter_mut().find(|(_, cid, _)| *cid == id) {
        Some(c) => {
            c.2 = text.clone();
            (StatusCode::OK, Json(json!({"id": id, "body": text})))
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))),
    }
}

fn issue_json(i: &(u64, String, String, String)) -> Value {
    json!({"number": i.0, "title": i.1, "body": i.2, "state": i.3})
}

async fn list_issues(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    record(&state, &method, &uri, &headers, Value::Null);
    let s = lock(&state);
    let wanted = q.get("state").cloned().unwrap_or_else(|| "open".into());
    // A pull request is listed among issues, as GitHub does.
    let mut all = vec![
        json!({"number": 1, "title": "a PR", "body": "", "state": "open", "pull_request": {}}),
    ];
    all.extend(
        s.issues
            .iter()
            .filter(|i| wanted == "all" || i.3 == wanted)
            .map(issue_json),
    );
    Json(Value::Array(page(&all, &q)))
}

async fn create_issue(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(&state, &method, &uri, &headers, body.clone());
    let mut s = lock(&state);
    let number = 100 + s.issues.len() as u64;
    let issue = (
        number,
        body["title"].as_str().unwrap_or_default().to_string(),
        body["body"].as_str().unwrap_or_default().to_string(),
        "open".to_string(),
    );
    s.issues.push(issue.clone());
    (StatusCode::CREATED, Json(issue_json(&issue)))
}

async fn update_issue(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(&state, &method, &uri, &headers, body.clone());
    let mut s = lock(&state);
    match s.issues.iter_mut().find(|i| i.0 == number) {
        Some(i) => {
            if let Some(b) = body["body"].as_str() {
                i.2 = b.to_string();
            }
            if let Some(st) = body["state"].as_str() {
                i.3 = st.to_string();
            }
            let out = issue_json(i);
            (StatusCode::OK, Json(out))
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))),
    }
}

async fn commit_pulls(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_o, _r, sha)): Path<(String, String, String)>,
) -> Json<Value> {
    record(&state, &method, &uri, &headers, Value::Null);
    let s = lock(&state);
    Json(Value::Array(
        s.commit_pulls
            .iter()
            .filter(|(c, _)| *c == sha)
            .map(|(c, n)| json!({"number": n, "merged_at": "2026-01-01T00:00:00Z", "merge_commit_sha": c}))
            .collect(),
    ))
}

/// The fake, serving on a background thread until dropped.
pub struct FakeGitHub {
    pub url: String,
    pub state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        let state: Shared = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new()
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(list_comments).post(create_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}",
                patch(update_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues",
                get(list_issues).post(create_issue),
            )
            .route("/repos/{owner}/{repo}/issues/{number}", patch(update_issue))
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/pulls",
                get(commit_pulls),
            )
            .with_state(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        FakeGitHub {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Calls so far as `METHOD /path`, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state)
            .calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    /// The JSON body of the last call.
    pub fn last_body(&self) -> Value {
        lock(&self.state)
            .calls
            .last()
            .map(|c| c.body.clone())
            .unwrap_or(Value::Null)
    }

    pub fn clear_calls(&self) {
        lock(&self.state).calls.clear();
    }

    pub fn comments(&self) -> Vec<(u64, u64, String)> {
        lock(&self.state).comments.clone()
    }

    pub fn issues(&self) -> Vec<(u64, String, String, String)> {
        lock(&self.state).issues.clone()
    }

    pub fn last_call_authorized(&self) -> bool {
        lock(&self.state).authorized
    }

    pub fn merge(&self, sha: &str, number: u64) {
        lock(&self.state)
            .commit_pulls
            .push((sha.to_string(), number));
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
