//! A loopback fake of the GitHub REST endpoints orgops uses (issue comments list/create/
//! update, issues list/create/update, pull requests of a commit, one pull request and its
//! reviews, the token's user), recording every call so tests can assert exactly what was sent.
//!
//! Like GitHub, it keeps who wrote each comment (`user.login`, `user.type`) and when it was
//! created and last edited, and each pull request's `state` and `merged_at`. Time is a logical
//! clock: every write moves it one second forward, so "edited after the merge" is exact.
//! The token the tests send belongs to [`BOT_LOGIN`] (a `Bot`), and `GET /user` answers 403
//! as it does for a `GITHUB_TOKEN`, unless [`FakeGitHub::set_token_user`] says otherwise.

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

/// The identity of the tests' token (`GITHUB_TOKEN` comments are written by it).
pub const BOT_LOGIN: &str = "github-actions[bot]";

/// One stored comment.
#[derive(Debug, Clone)]
pub struct StoredComment {
    pub issue: u64,
    pub id: u64,
    pub body: String,
    pub login: String,
    pub user_type: String,
    pub created_at: u64,
    pub updated_at: u64,
}

/// One submitted review of a pull request.
#[derive(Debug, Clone)]
pub struct StoredReview {
    pub pull: u64,
    pub login: String,
    pub user_type: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    /// `OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`, ...
    pub association: String,
    pub submitted_at: u64,
}

/// One pull request: `state` is `open` or `closed`; merged ones also have `merged_at`.
#[derive(Debug, Clone)]
pub struct StoredPull {
    pub number: u64,
    pub state: String,
    pub merged_at: Option<u64>,
    pub merge_commit_sha: Option<String>,
}

#[derive(Debug)]
pub struct FakeState {
    pub calls: Vec<Call>,
    pub comments: Vec<StoredComment>,
    pub pulls: Vec<StoredPull>,
    pub reviews: Vec<StoredReview>,
    /// Who the token writes as: (login, type).
    pub token_identity: (String, String),
    /// What `GET /user` answers: `None` is 403 (an installation token).
    pub token_user: Option<(String, String)>,
    /// The logical clock, in seconds since 2026-01-01T00:00:00Z.
    pub clock: u64,
    /// number -> (title, body, state)
    pub issues: Vec<(u64, String, String, String)>,
    /// commit sha -> pull request numbers merged with it
    pub commit_pulls: Vec<(String, u64)>,
    pub next_id: u64,
    pub authorized: bool,
}

impl Default for FakeState {
    fn default() -> FakeState {
        FakeState {
            calls: vec![],
            comments: vec![],
            pulls: vec![],
            reviews: vec![],
            token_identity: (BOT_LOGIN.to_string(), "Bot".to_string()),
            token_user: None,
            clock: 0,
            issues: vec![],
            commit_pulls: vec![],
            next_id: 0,
            authorized: false,
        }
    }
}

impl FakeState {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn pull(&mut self, number: u64) -> &mut StoredPull {
        if let Some(i) = self.pulls.iter().position(|p| p.number == number) {
            return &mut self.pulls[i];
        }
        self.pulls.push(StoredPull {
            number,
            state: "open".into(),
            merged_at: None,
            merge_commit_sha: None,
        });
        self.pulls.last_mut().expect("just pushed")
    }
}

/// A logical second as GitHub writes timestamps.
pub fn timestamp(seconds: u64) -> String {
    format!(
        "2026-01-01T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn comment_json(c: &StoredComment) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        "html_url": format!("https://github.example/c/{}", c.id),
        "user": {"login": c.login, "type": c.user_type},
        "created_at": timestamp(c.created_at),
        "updated_at": timestamp(c.updated_at),
    })
}

fn pull_json(p: &StoredPull) -> Value {
    json!({
        "number": p.number,
        "state": p.state,
        "merged": p.merged_at.is_some(),
        "merged_at": p.merged_at.map(timestamp),
        "merge_commit_sha": p.merge_commit_sha,
    })
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
        .filter(|c| c.issue == number)
        .map(comment_json)
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
    let (login, user_type) = s.token_identity.clone();
    let text = body["body"].as_str().unwrap_or_default().to_string();
    let comment = s.add_comment(number, &login, &user_type, &text);
    (StatusCode::CREATED, Json(comment_json(&comment)))
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
    let now = s.tick();
    match s.comments.iter_mut().find(|c| c.id == id) {
        // GitHub lets the token edit any comment of the repository; the author stays.
        Some(c) => {
            c.body = text;
            c.updated_at = now;
            (StatusCode::OK, Json(comment_json(c)))
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
            .filter_map(|(_, n)| s.pulls.iter().find(|p| p.number == *n))
            .map(pull_json)
            .collect(),
    ))
}

async fn get_pull(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_o, _r, number)): Path<(String, String, u64)>,
) -> Json<Value> {
    record(&state, &method, &uri, &headers, Value::Null);
    let mut s = lock(&state);
    Json(pull_json(s.pull(number)))
}

async fn list_reviews(
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
        .reviews
        .iter()
        .filter(|r| r.pull == number)
        .map(|r| {
            json!({
                "user": {"login": r.login, "type": r.user_type},
                "state": r.state,
                "author_association": r.association,
                "submitted_at": timestamp(r.submitted_at),
            })
        })
        .collect();
    Json(Value::Array(page(&all, &q)))
}

async fn token_user(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    record(&state, &method, &uri, &headers, Value::Null);
    let s = lock(&state);
    match &s.token_user {
        Some((login, user_type)) => (
            StatusCode::OK,
            Json(json!({"login": login, "type": user_type})),
        ),
        None => (
            StatusCode::FORBIDDEN,
            Json(json!({"message": "Resource not accessible by integration"})),
        ),
    }
}

impl FakeState {
    fn add_comment(
        &mut self,
        issue: u64,
        login: &str,
        user_type: &str,
        body: &str,
    ) -> StoredComment {
        let now = self.tick();
        self.next_id += 1;
        let comment = StoredComment {
            issue,
            id: 1000 + self.next_id,
            body: body.to_string(),
            login: login.to_string(),
            user_type: user_type.to_string(),
            created_at: now,
            updated_at: now,
        };
        self.comments.push(comment.clone());
        comment
    }
}

/// The fake, serving on a background thread until dropped.
pub struct FakeGitHub {
    pub url: String,
    pub state: Shared,
    _server: super::loopback::Loopback,
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
            .route("/repos/{owner}/{repo}/pulls/{number}", get(get_pull))
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/reviews",
                get(list_reviews),
            )
            .route("/user", get(token_user))
            .with_state(state.clone());
        let server = super::loopback::Loopback::serve(app);
        FakeGitHub {
            url: server.url.clone(),
            state,
            _server: server,
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

    /// (issue number, comment id, body) of every comment.
    pub fn comments(&self) -> Vec<(u64, u64, String)> {
        lock(&self.state)
            .comments
            .iter()
            .map(|c| (c.issue, c.id, c.body.clone()))
            .collect()
    }

    pub fn stored_comments(&self) -> Vec<StoredComment> {
        lock(&self.state).comments.clone()
    }

    /// A comment written by someone else than the token (a pull-request author, a bot
    /// impersonator); returns its id.
    pub fn post_comment_as(&self, issue: u64, login: &str, user_type: &str, body: &str) -> u64 {
        lock(&self.state)
            .add_comment(issue, login, user_type, body)
            .id
    }

    /// Who the token writes comments as (an app token's bot, say).
    pub fn set_token_identity(&self, login: &str, user_type: &str) {
        lock(&self.state).token_identity = (login.to_string(), user_type.to_string());
    }

    /// What `GET /user` answers (a personal access token's user); `None` for 403.
    pub fn set_token_user(&self, user: Option<(&str, &str)>) {
        lock(&self.state).token_user = user.map(|(l, t)| (l.to_string(), t.to_string()));
    }

    /// Closes pull request `number` without merging it.
    pub fn close(&self, number: u64) {
        let mut s = lock(&self.state);
        s.tick();
        s.pull(number).state = "closed".into();
    }

    pub fn issues(&self) -> Vec<(u64, String, String, String)> {
        lock(&self.state).issues.clone()
    }

    pub fn last_call_authorized(&self) -> bool {
        lock(&self.state).authorized
    }

    /// A review of pull request `number` submitted now by `login` (a person, `User`, with
    /// `association` to the repository) in `state` (`APPROVED`, ...).
    pub fn review(
        &self,
        number: u64,
        login: &str,
        user_type: &str,
        association: &str,
        state: &str,
    ) {
        let mut s = lock(&self.state);
        let now = s.tick();
        s.reviews.push(StoredReview {
            pull: number,
            login: login.to_string(),
            user_type: user_type.to_string(),
            state: state.to_string(),
            association: association.to_string(),
            submitted_at: now,
        });
    }

    /// A maintainer approves pull request `number` now.
    pub fn approve(&self, number: u64) {
        self.review(number, "maintainer", "User", "MEMBER", "APPROVED");
    }

    /// Edits comment `id` over HTTP with another token, as any workflow of the repository
    /// can (its `GITHUB_TOKEN` writes as the same `github-actions[bot]`): the author stays
    /// the bot, `updated_at` moves.
    pub fn edit_comment_with_token(&self, id: u64, body: &str, token: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let url = format!("{}/repos/acme/org-config/issues/comments/{id}", self.url);
        let status = runtime.block_on(async {
            reqwest::Client::new()
                .patch(url)
                .bearer_auth(token)
                .json(&json!({ "body": body }))
                .send()
                .await
                .expect("the fake answers")
                .status()
        });
        assert!(status.is_success(), "PATCH comment {id}: {status}");
    }

    /// Merges pull request `number` as commit `sha`, now.
    pub fn merge(&self, sha: &str, number: u64) {
        let mut s = lock(&self.state);
        let now = s.tick();
        let pull = s.pull(number);
        pull.state = "closed".into();
        pull.merged_at = Some(now);
        pull.merge_commit_sha = Some(sha.to_string());
        s.commit_pulls.push((sha.to_string(), number));
    }
}
