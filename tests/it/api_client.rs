//! The Admin API client against a small scripted fake (axum on loopback), for the edge cases
//! only a fake can force: broken pagination, 429s with and without `Retry-After`, 5xx on
//! reads versus creates, dropped answers, odd payloads, and the key never leaking.
//! End-to-end reads against the real emulator live with the plan tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use orgops::api::types::WireOrgRole;
use orgops::api::{Client, ClientConfig, Error, Limits, Secret};
use orgops::live::{CountingProgress, ReadScope};
use orgops::model::{Document, OrgRole, ProjectRole};
use serde_json::{Value, json};

const KEY: &str = "sk-admin-CANARY-0123456789abcdef";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    authorization: Option<String>,
    organization: Option<String>,
    body: String,
}

/// What the fake answers: status, extra headers, body; or a delay before answering.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

fn status(code: u16, body: Value) -> Answer {
    Answer {
        status: code,
        headers: Vec::new(),
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

type Responder = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

#[derive(Clone)]
struct FakeState {
    log: Arc<Mutex<Vec<Seen>>>,
    responder: Arc<Responder>,
}

struct Fake {
    base_url: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    /// Starts a fake on 127.0.0.1:0 whose answers come from `responder(request, index)`.
    async fn start(responder: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Fake {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState {
            log: log.clone(),
            responder: Arc::new(responder),
        };
        let app = axum::Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake serves");
        });
        Fake {
            base_url: format!("http://{addr}/v1"),
            log,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("log lock").clone()
    }

    fn client(&self) -> Client {
        Client::new(config(&self.base_url)).expect("loopback client")
    }
}

fn config(base_url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, Secret::new(KEY));
    config.limits = Limits {
        max_concurrency: 4,
        attempt_timeout: Duration::from_millis(500),
        request_deadline: Duration::from_secs(20),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(400),
    };
    config
}

async fn handle(
    State(state): State<FakeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri
        .query()
        .map(|q| url_pairs(q).into_iter().collect::<BTreeMap<_, _>>())
        .unwrap_or_default();
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().trim_start_matches("/v1").to_string(),
        query,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        organization: headers
            .get("openai-organization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&body).to_string(),
    };
    let index = {
        let mut log = state.log.lock().expect("log lock");
        log.push(seen.clone());
        log.len() - 1
    };
    let answer = (state.responder)(&seen, index);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut response = (
        StatusCode::from_u16(answer.status).expect("valid status"),
        answer.body,
    )
        .into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    for (name, value) in answer.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    response
}

/// Minimal query decoding (the client only sends simple ASCII values here).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            (
                k.replace("%5B", "[").replace("%5D", "]"),
                v.replace("%40", "@"),
            )
        })
        .collect()
}

fn user(id: &str, email: &str) -> Value {
    json!({"object": "organization.user", "id": id, "email": email, "role": "reader", "added_at": 1})
}

/// Style A page of users `ids`, with `last_id` and `has_more` as given.
fn users_page(ids: &[&str], last_id: Option<&str>, has_more: bool) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| user(id, &format!("{id}@x.example")))
        .collect();
    json!({"object": "list", "data": data, "first_id": ids.first(), "last_id": last_id, "has_more": has_more})
}

#[tokio::test]
async fn style_a_follows_last_id_at_the_maximum_page_size() {
    let fake = Fake::start(|seen, _| match seen.query.get("after").map(String::as_str) {
        None => ok(users_page(&["u1", "u2"], Some("u2"), true)),
        Some("u2") => ok(users_page(&["u3", "u4"], Some("u4"), true)),
        Some("u4") => ok(users_page(&["u5"], Some("u5"), false)),
        Some(other) => status(400, json!({"error": {"message": format!("bad cursor {other}"), "type": "x", "param": null, "code": null}})),
    })
    .await;
    let users = fake.client().list_users().await.expect("three pages");
    let ids: Vec<_> = users.iter().map(|u| u.id.as_str().to_string()).collect();
    assert_eq!(ids, ["u1", "u2", "u3", "u4", "u5"]);
    let seen = fake.seen();
    assert_eq!(seen.len(), 3, "exactly one request per page");
    assert!(seen.iter().all(|s| s.path == "/organization/users"
        && s.query.get("limit").map(String::as_str) == Some("100")));
}

#[tokio::test]
async fn every_list_asks_for_its_endpoints_maximum_page_size() {
    let fake = Fake::start(|seen, _| {
        if seen.path.contains("/groups") || seen.path.contains("/roles") {
            ok(json!({"object": "list", "data": [], "has_more": false, "next": null}))
        } else {
            ok(json!({"object": "list", "data": [], "has_more": false, "first_id": null, "last_id": null}))
        }
    })
    .await;
    let client = fake.client();
    let project = orgops::api::types::ProjectId::from("proj_1");
    let group = orgops::api::types::GroupId::from("group_1");
    client.list_users().await.expect("users");
    client.list_invites().await.expect("invites");
    client.list_projects(true).await.expect("projects");
    client.list_groups().await.expect("groups");
    client.list_group_users(&group).await.expect("group users");
    client.list_org_roles().await.expect("roles");
    client
        .list_project_roles(&project)
        .await
        .expect("project roles");
    client
        .list_project_groups(&project)
        .await
        .expect("project groups");
    client
        .list_project_users(&project)
        .await
        .expect("project users");
    client
        .list_service_accounts(&project)
        .await
        .expect("service accounts");
    client
        .list_rate_limits(&project)
        .await
        .expect("rate limits");
    client.list_certificates().await.expect("certificates");
    client
        .list_project_certificates(&project)
        .await
        .expect("project certificates");
    client.list_admin_api_keys().await.expect("admin keys");
    client
        .list_role_assignments(orgops::api::role_assignments::Principal::ProjectGroup(
            &project, &group,
        ))
        .await
        .expect("project group roles");
    let limits: BTreeMap<String, String> = fake
        .seen()
        .into_iter()
        .map(|s| (s.path, s.query.get("limit").cloned().unwrap_or_default()))
        .collect();
    let expected = BTreeMap::from(
        [
            ("/organization/users", "100"),
            ("/organization/invites", "100"),
            ("/organization/projects", "100"),
            ("/organization/groups", "1000"),
            ("/organization/groups/group_1/users", "1000"),
            ("/organization/roles", "1000"),
            ("/projects/proj_1/roles", "1000"),
            ("/organization/projects/proj_1/groups", "100"),
            ("/organization/projects/proj_1/users", "100"),
            ("/organization/projects/proj_1/service_accounts", "100"),
            ("/organization/projects/proj_1/rate_limits", "100"),
            ("/organization/certificates", "100"),
            ("/organization/projects/proj_1/certificates", "100"),
            ("/organization/admin_api_keys", "100"),
            ("/projects/proj_1/groups/group_1/roles", "1000"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string())),
    );
    assert_eq!(limits, expected);
}

#[tokio::test]
async fn style_b_follows_next_and_admin_keys_follow_the_last_item() {
    let fake = Fake::start(|seen, _| match (seen.path.as_str(), seen.query.get("after").map(String::as_str)) {
        ("/organization/groups", None) => {
            ok(json!({"object": "list", "data": [{"id": "g1", "name": "a"}], "has_more": true, "next": "opaque-1"}))
        }
        ("/organization/groups", Some("opaque-1")) => {
            ok(json!({"object": "list", "data": [{"id": "g2", "name": "b"}], "has_more": false, "next": null}))
        }
        ("/organization/admin_api_keys", None) => ok(json!({"object": "list", "data": [{"id": "key_1"}], "has_more": true})),
        ("/organization/admin_api_keys", Some("key_1")) => {
            ok(json!({"object": "list", "data": [{"id": "key_2"}], "has_more": false}))
        }
        _ => status(404, json!({"error": {"message": "no", "type": "x", "param": null, "code": null}})),
    })
    .await;
    let client = fake.client();
    let groups = client.list_groups().await.expect("two pages");
    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let keys = client.list_admin_api_keys().await.expect("two pages");
    assert_eq!(keys.len(), 2);
}

#[tokio::test]
async fn a_repeated_cursor_is_an_error_not_a_loop() {
    // After a few pages the fake refuses, so a client that loops fails instead of hanging.
    let fake = Fake::start(|_, index| {
        if index < 5 {
            ok(users_page(&["u1"], Some("u1"), true))
        } else {
            status(
                400,
                json!({"error": {"message": "looping", "type": "x", "param": null, "code": null}}),
            )
        }
    })
    .await;
    let error = fake
        .client()
        .list_users()
        .await
        .expect_err("repeated cursor");
    assert!(matches!(error, Error::Pagination { .. }), "{error:?}");
    assert!(error.to_string().contains("returned twice"), "{error}");
    assert_eq!(fake.seen().len(), 2, "stops at the first repeat");
}

#[tokio::test]
async fn has_more_without_a_cursor_is_an_error() {
    let fake = Fake::start(|seen, _| {
        if seen.path == "/organization/groups" {
            ok(json!({"object": "list", "data": [{"id": "g1", "name": "a"}], "has_more": true, "next": null}))
        } else {
            ok(users_page(&["u1"], None, true))
        }
    })
    .await;
    let client = fake.client();
    let error = client.list_users().await.expect_err("missing last_id");
    assert!(
        matches!(&error, Error::Pagination { reason, .. } if reason.contains("last_id")),
        "{error:?}"
    );
    let error = client.list_groups().await.expect_err("missing next");
    assert!(
        matches!(&error, Error::Pagination { reason, .. } if reason.contains("next")),
        "{error:?}"
    );
}

fn rate_limited(headers: Vec<(&'static str, String)>) -> Answer {
    Answer {
        status: 429,
        headers,
        body: json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error", "param": null, "code": null}})
            .to_string(),
        delay: Duration::ZERO,
    }
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let fake = Fake::start(|_, index| {
        if index == 0 {
            rate_limited(vec![("retry-after", "1".into())])
        } else {
            ok(users_page(&["u1"], Some("u1"), false))
        }
    })
    .await;
    let started = Instant::now();
    let users = fake
        .client()
        .list_users()
        .await
        .expect("succeeds after the wait");
    assert_eq!(users.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn retry_after_ms_is_honoured_and_wins_over_seconds() {
    let fake = Fake::start(|_, index| {
        if index == 0 {
            rate_limited(vec![
                ("retry-after-ms", "300".into()),
                ("retry-after", "30".into()),
            ])
        } else {
            ok(users_page(&["u1"], Some("u1"), false))
        }
    })
    .await;
    let started = Instant::now();
    fake.client()
        .list_users()
        .await
        .expect("succeeds after the wait");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_secs(10),
        "waited {waited:?}"
    );
}

#[tokio::test]
async fn a_429_without_header_backs_off_and_slows_the_route() {
    let fake = Fake::start(|_, index| {
        if index < 2 {
            rate_limited(Vec::new())
        } else {
            ok(users_page(&["u1"], Some("u1"), false))
        }
    })
    .await;
    let client = fake.client();
    let started = Instant::now();
    client
        .list_users()
        .await
        .expect("succeeds after backing off");
    // 20 ms then 30 ms nominal backoff, each jittered by at most -25 %.
    assert!(
        started.elapsed() >= Duration::from_millis(37),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.seen().len(), 3);
    let (limit, interval) = client
        .controller()
        .route_state("GET /organization/users")
        .expect("route state");
    assert!(limit < 4.0, "concurrency lowered after 429s: {limit}");
    assert!(interval > Duration::ZERO, "route paced after 429s");
}

#[tokio::test]
async fn a_429_that_never_ends_fails_at_the_deadline_with_advice() {
    let fake = Fake::start(|_, _| rate_limited(vec![("retry-after", "5".into())])).await;
    let mut config = config(&fake.base_url);
    config.limits.request_deadline = Duration::from_secs(2);
    let client = Client::new(config).expect("client");
    let error = client.list_users().await.expect_err("never succeeds");
    assert_eq!(error.status(), Some(429));
    assert!(error.to_string().contains("kept rate-limiting"), "{error}");
    assert_eq!(
        fake.seen().len(),
        1,
        "does not retry when the stated wait passes the deadline"
    );
}

#[tokio::test]
async fn a_5xx_on_a_read_is_retried() {
    let fake = Fake::start(|_, index| {
        if index == 0 {
            status(503, json!({"error": {"message": "overloaded", "type": "server_error", "param": null, "code": null}}))
        } else {
            ok(users_page(&["u1"], Some("u1"), false))
        }
    })
    .await;
    fake.client()
        .list_users()
        .await
        .expect("second attempt succeeds");
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn a_5xx_on_a_create_is_not_retried_and_is_ambiguous() {
    let fake = Fake::start(|_, _| status(500, json!({"error": {"message": "oops", "type": "server_error", "param": null, "code": null}}))).await;
    let project = orgops::api::projects::NewProject {
        name: "Search",
        ..Default::default()
    };
    let error = fake
        .client()
        .create_project(&project)
        .await
        .expect_err("500");
    assert!(error.is_ambiguous(), "{error:?}");
    assert!(
        error.to_string().contains("Re-read the live state"),
        "{error}"
    );
    let seen = fake.seen();
    assert_eq!(
        seen.len(),
        1,
        "a create that may have landed is never retried"
    );
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        serde_json::from_str::<Value>(&seen[0].body).expect("json body"),
        json!({"name": "Search"})
    );
}

#[tokio::test]
async fn a_create_that_times_out_is_ambiguous_but_a_429_is_retried() {
    let fake = Fake::start(|seen, index| {
        if seen.path == "/organization/groups" {
            Answer { delay: Duration::from_secs(2), ..ok(json!({"id": "g1", "name": "x"})) }
        } else if index <= 1 {
            rate_limited(vec![("retry-after-ms", "10".into())])
        } else {
            ok(json!({"id": "invite-1", "email": "a@x.example", "role": "reader", "status": "pending", "projects": []}))
        }
    })
    .await;
    let client = fake.client();
    let invite = client
        .create_invite("a@x.example", OrgRole::Reader, &[])
        .await
        .expect("429 then created");
    assert_eq!(invite.id.as_str(), "invite-1");
    let error = client.create_group("x").await.expect_err("times out");
    assert!(error.is_ambiguous(), "{error:?}");
    let posts_to_groups = fake
        .seen()
        .iter()
        .filter(|s| s.path == "/organization/groups")
        .count();
    assert_eq!(posts_to_groups, 1);
}

#[tokio::test]
async fn a_refused_connection_is_reported_at_once_not_as_ambiguous() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = Client::new(config(&format!("http://127.0.0.1:{port}/v1"))).expect("client");
    let error = client.create_group("x").await.expect_err("nothing listens");
    assert!(
        matches!(error, Error::Refused { .. }),
        "refused never landed, so it is not ambiguous: {error:?}"
    );
    // Nothing listens there: waiting would not change that (issue 11).
    assert_eq!(client.attempts(), 1, "a refused connection is not retried");
    assert!(
        error
            .to_string()
            .contains(&format!("http://127.0.0.1:{port}/v1")),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_enum_values_and_fields_decode() {
    let fake = Fake::start(|_, _| {
        ok(json!({
            "object": "list",
            "data": [{"object": "organization.user", "id": "u1", "email": "a@x.example", "role": "superadmin",
                      "added_at": 1, "brand_new_field": {"nested": [1, 2]}, "name": null}],
            "first_id": "u1", "last_id": "u1", "has_more": false, "extra_envelope_field": true
        }))
    })
    .await;
    let users = fake.client().list_users().await.expect("tolerant decoding");
    assert_eq!(users[0].role, Some(WireOrgRole::Other("superadmin".into())));
    assert_eq!(users[0].name, None);
}

#[tokio::test]
async fn the_key_is_sent_but_never_shown() {
    let fake = Fake::start(|_, _| {
        status(
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error",
                             "param": null, "code": "invalid_api_key"}}),
        )
    })
    .await;
    let mut config = config(&fake.base_url);
    config.organization = Some("org_123".into());
    assert!(!format!("{config:?}").contains(KEY));
    let client = Client::new(config).expect("client");
    assert!(!format!("{client:?}").contains(KEY));
    let error = client.list_users().await.expect_err("401");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(KEY), "key leaked: {shown}");
    assert!(
        shown.contains("[redacted]") && shown.contains("Check OPENAI_ADMIN_KEY"),
        "{shown}"
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "a 401 is not retried");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(seen[0].organization.as_deref(), Some("org_123"));
}

#[tokio::test]
async fn error_bodies_are_decoded_or_excerpted() {
    let fake = Fake::start(|seen, _| {
        if seen.method == "DELETE" {
            status(404, json!({"error": {"message": "No such user", "type": "invalid_request_error", "param": "user_id", "code": null}}))
        } else {
            Answer { status: 502, headers: Vec::new(), body: "<html>Bad gateway</html>".into(), delay: Duration::ZERO }
        }
    })
    .await;
    let client = fake.client();
    let error = client.delete_user(&"user_x".into()).await.expect_err("404");
    assert!(error.is_not_found());
    let text = error.to_string();
    assert!(
        text.contains("DELETE /organization/users/{user_id}") && text.contains("No such user"),
        "{text}"
    );
    assert!(
        text.contains("[param: user_id]") && text.contains("re-run plan"),
        "{text}"
    );
    let error = client.list_invites().await.expect_err("502 every time");
    assert!(
        matches!(&error, Error::Http { status: 502, body_excerpt, .. } if body_excerpt.contains("Bad gateway")),
        "{error:?}"
    );
    assert_eq!(
        fake.seen()
            .iter()
            .filter(|s| s.path == "/organization/invites")
            .count(),
        3,
        "GET retried to max_attempts"
    );
}

#[test]
fn a_plain_http_base_url_off_loopback_is_refused() {
    let error = Client::new(ClientConfig::new(
        "http://api.example.com/v1",
        Secret::new(KEY),
    ))
    .expect_err("refused");
    assert!(matches!(error, Error::Config(_)));
    assert!(error.to_string().contains("unencrypted"));
    assert!(!error.to_string().contains(KEY));
    assert!(
        Client::new(ClientConfig::new(
            "https://api.example.com/v1",
            Secret::new(KEY)
        ))
        .is_ok()
    );
}

/// A tiny org: two users, a project with one member, a group with a member.
fn tiny_org(seen: &Seen) -> Answer {
    let list_a = |data: Value| json!({"object": "list", "data": data, "has_more": false, "first_id": null, "last_id": null});
    let list_b =
        |data: Value| json!({"object": "list", "data": data, "has_more": false, "next": null});
    match seen.path.as_str() {
        "/organization/users" => ok(list_a(json!([
            {"id": "user_1", "email": "Root@X.example", "role": "owner"},
            {"id": "user_2", "email": "bob@x.example", "role": "reader"}
        ]))),
        "/organization/invites" => ok(list_a(json!([
            {"id": "invite-1", "email": "new@x.example", "role": "reader", "status": "pending",
             "projects": [{"id": "proj_1", "role": "member"}]}
        ]))),
        "/organization/projects" => ok(list_a(json!([
            {"id": "proj_0", "name": "Default project", "created_at": 1, "status": "active"},
            {"id": "proj_1", "name": "Search", "created_at": 2, "status": "active"},
            {"id": "proj_2", "name": "Legacy", "created_at": 3, "status": "archived"}
        ]))),
        "/organization/projects/proj_1/users" => ok(list_a(
            json!([{"id": "user_2", "email": "bob@x.example", "role": "role-api-project-owner"}]),
        )),
        "/organization/groups" => ok(list_b(json!([{"id": "group_1", "name": "ml"}]))),
        "/organization/groups/group_1/users" => ok(list_b(
            json!([{"id": "user_2", "name": "Bob", "email": null}]),
        )),
        "/organization/admin_api_keys" => ok(list_a(json!([
            {"id": "key_1", "name": "ci", "redacted_value": "sk-admin...cdef", "owner": {"type": "user", "id": "user_1"}},
            {"id": "key_2", "name": "other", "redacted_value": "sk-admin...zzzz", "owner": {"type": "user", "id": "user_2"}}
        ]))),
        _ => status(
            404,
            json!({"error": {"message": "not in the fake", "type": "x", "param": null, "code": null}}),
        ),
    }
}

#[tokio::test]
async fn live_read_lists_each_needed_collection_once_and_normalises() {
    let fake = Fake::start(|seen, _| tiny_org(seen)).await;
    let doc: Document = serde_json::from_value(json!({
        "users": [{"email": "root@x.example", "role": "owner"}, {"email": "bob@x.example", "role": "reader"}],
        "groups": [{"name": "ml", "members": ["bob@x.example"]}],
        "projects": [{"name": "Search", "members": [{"email": "bob@x.example", "role": "member"}]},
                     {"name": "Legacy", "archived": true}]
    }))
    .expect("document");
    let scope = ReadScope::for_document(&doc);
    let progress = CountingProgress::default();
    let live = orgops::live::read(&fake.client(), &scope, &progress)
        .await
        .expect("live read");

    let mut paths: Vec<String> = fake
        .seen()
        .into_iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "GET /organization/admin_api_keys",
            "GET /organization/groups",
            "GET /organization/groups/group_1/users",
            "GET /organization/invites",
            "GET /organization/projects",
            "GET /organization/projects/proj_1/users",
            "GET /organization/users",
        ],
        "each needed collection once; nothing for archived or undeclared projects; no roles, certificates or rate limits"
    );
    assert_eq!(
        progress.counts(),
        (7, 7),
        "done and expected requests agree"
    );

    assert_eq!(live.key_owner.as_deref(), Some("root@x.example"));
    assert_eq!(live.default_project.as_deref(), Some("Default project"));
    assert_eq!(
        live.org
            .users
            .iter()
            .map(|u| u.email.as_str())
            .collect::<Vec<_>>(),
        ["bob@x.example", "root@x.example"]
    );
    let search = live
        .org
        .projects
        .iter()
        .find(|p| p.name == "Search")
        .expect("Search");
    assert_eq!(
        search.members[0].role,
        ProjectRole::Owner,
        "predefined role id normalised"
    );
    assert!(
        live.org
            .projects
            .iter()
            .any(|p| p.name == "Legacy" && p.archived)
    );
    assert_eq!(
        live.org.groups[0].members,
        vec!["bob@x.example".to_string()].into(),
        "member email resolved through the users list"
    );
    assert_eq!(live.org.invites[0].projects[0].name, "Search");
    assert_eq!(
        live.ids
            .get(&orgops::kinds::keys::refs::project("Search"))
            .map(String::as_str),
        Some("proj_1")
    );
    assert_eq!(
        live.ids
            .get(&orgops::kinds::keys::refs::group("ml"))
            .map(String::as_str),
        Some("group_1")
    );
}

#[tokio::test]
async fn audit_log_pages_stream_strictly_and_stop_when_asked() {
    // Page 1 points to page 2; page 2 says has_more without a cursor.
    let fake = Fake::start(|seen, _| match seen.query.get("after").map(String::as_str) {
        None => ok(json!({"object": "list", "data": [{"id": "a3", "type": "x", "effective_at": 3},
            {"id": "a2", "type": "x", "effective_at": 2}], "first_id": "a3", "last_id": "a2", "has_more": true})),
        Some("a2") => ok(json!({"object": "list", "data": [{"id": "a1", "type": "x", "effective_at": 1}],
            "first_id": "a1", "last_id": null, "has_more": true})),
        _ => status(400, json!({"error": {"message": "no", "type": "x", "param": null, "code": null}})),
    })
    .await;
    let client = fake.client();
    let query = orgops::api::audit_logs::AuditLogQuery {
        effective_at_gte: Some(1),
        effective_at_lte: Some(9),
        event_types: vec!["x".into()],
        actor_ids: vec!["user_1".into()],
        actor_emails: vec!["a@x.example".into()],
        ..Default::default()
    };
    let mut pages = client.audit_log_pages(&query, 2, None);
    let first = pages.next_page().await.expect("page 1").expect("items");
    assert_eq!(first.len(), 2);
    assert_eq!(fake.seen().len(), 1, "one request per page asked for");
    let second = pages
        .next_page()
        .await
        .expect("page 2 is returned")
        .expect("items");
    assert_eq!(second[0]["id"], "a1");
    let error = pages.next_page().await.expect_err("then the broken cursor");
    assert!(error.to_string().contains("no cursor (last_id)"), "{error}");
    assert_eq!(fake.seen().len(), 2, "no request after the broken page");
    let q = &fake.seen()[0].query;
    for (name, value) in [
        ("effective_at[gte]", "1"),
        ("effective_at[lte]", "9"),
        ("event_types[]", "x"),
        ("actor_ids[]", "user_1"),
        ("actor_emails[]", "a@x.example"),
        ("limit", "2"),
    ] {
        assert_eq!(
            q.get(name).map(String::as_str),
            Some(value),
            "{name}: {q:?}"
        );
    }
    // Starting after a cursor asks for the page after it.
    let mut pages = client.audit_log_pages(
        &query,
        2,
        Some(orgops::api::audit_logs::AuditCursor::After("a2".into())),
    );
    assert_eq!(
        pages.next_page().await.expect("page").expect("items").len(),
        1
    );
    assert_eq!(
        fake.seen()[2].query.get("after").map(String::as_str),
        Some("a2")
    );
}
