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

fn start_with(yaml: &str, options: EmulatorOptions) -> RunningEmulator {
    start_in_background(doc(yaml), options).expect("emulator starts")
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
#[tokio::test]
async fn invite_lifecycle_pending_accepted_undeletable() {
    let emu = start(ORG);
    let a = api(&emu);
    let projects = a.ok(a.get("/organization/projects").await);
    let search = projects["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|p| p["name"] == "Search")
        .expect("Search")["id"]
        .clone();
    let invite = a.ok(
        a.post("/organization/invites", json!({"email": "carol@example.com", "role": "reader", "projects": [{"id": search, "role": "owner"}]}))
            .await,
    );
    assert_eq!(invite["status"], "pending");
    assert_eq!(invite["object"], "organization.invite");
    // Not a member until accepted.
    let users = a.ok(a
        .get("/organization/users?emails[]=carol@example.com")
        .await);
    assert_eq!(users["data"].as_array().expect("data").len(), 0);
    // A second invite for the same email is refused.
    let (status, body) = a
        .post(
            "/organization/invites",
            json!({"email": "Carol@example.com", "role": "reader"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, accepted) = a
        .control(
            reqwest::Method::POST,
            "/invites/accept",
            Some(json!({"email": "carol@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(accepted["accepted"], json!(["carol@example.com"]));
    let invite_id = invite["id"].as_str().expect("id");
    let after = a.ok(a.get(&format!("/organization/invites/{invite_id}")).await);
    assert_eq!(after["status"], "accepted");
    assert!(after["accepted_at"].is_i64());
    let users = a.ok(a.get("/organization/users?emails=carol@example.com").await);
    let carol = &users["data"][0];
    assert_eq!(carol["role"], "reader");
    // The invite's project was granted on acceptance, with its role.
    let member = a.ok(a
        .get(&format!(
            "/organization/projects/{}/users/{}",
            search.as_str().expect("id"),
            carol["id"].as_str().expect("id")
        ))
        .await);
    assert_eq!(member["role"], "owner");
    // Accepted invites cannot be deleted; pending ones can.
    let (status, body) = a
        .delete(&format!("/organization/invites/{invite_id}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body);
    let pending = a.ok(a
        .post(
            "/organization/invites",
            json!({"email": "dan@example.com", "role": "owner", "projects": []}),
        )
        .await);
    assert_eq!(pending["projects"], json!([]));
    let deleted = a.ok(a
        .delete(&format!(
            "/organization/invites/{}",
            pending["id"].as_str().expect("id")
        ))
        .await);
    assert_eq!(
        deleted,
        json!({"object": "organization.invite.deleted", "id": pending["id"], "deleted": true})
    );
}

/// Follows style-A pages (`after=last_id`) to the end; returns every id in order.
async fn collect_a(a: &Api<'_>, path: &str, limit: usize) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let url = match &after {
            Some(c) => format!("{path}{sep}limit={limit}&after={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = a.ok(a.get(&url).await);
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= limit, "page larger than limit");
        ids.extend(
            data.iter()
                .map(|v| v["id"].as_str().expect("id").to_string()),
        );
        if data.is_empty() {
            assert_eq!(page["first_id"], Value::Null);
            assert_eq!(page["has_more"], false);
        } else {
            assert_eq!(page["first_id"], data[0]["id"]);
            assert_eq!(page["last_id"], data[data.len() - 1]["id"]);
        }
        if page["has_more"] != true {
            return ids;
        }
        after = Some(page["last_id"].as_str().expect("last_id").to_string());
    }
    panic!("pagination did not end");
}

fn assert_each_once(ids: &[String], n: usize) {
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an object appeared twice: {ids:?}");
    assert_eq!(ids.len(), n, "every object exactly once");
}

const LIMIT: usize = 3;
const SIZES: [usize; 5] = [0, 1, LIMIT, LIMIT + 1, 3 * LIMIT];

/// A seed with `n` users, `n` service accounts in project P, `n` members of P, `n` extra
/// projects, and `n` pending invites.
fn sized_org(n: usize) -> String {
    let mut y = String::from("version: 1\nusers:\n  - {email: owner@example.com, role: owner}\n");
    for i in 0..n {
        y.push_str(&format!("  - {{email: u{i}@example.com, role: reader}}\n"));
    }
    y.push_str("projects:\n  - name: P\n    members:\n");
    if n == 0 {
        y.push_str("      []\n");
    }
    for i in 0..n {
        y.push_str(&format!(
            "      - {{email: u{i}@example.com, role: member}}\n"
        ));
    }
    y.push_str("    service_accounts:\n");
    if n == 0 {
        y.push_str("      []\n");
    }
    for i in 0..n {
        y.push_str(&format!(
            "      - {{name: sa{i}, role: member, sink: {{file: k{i}}}}}\n"
        ));
    }
    for i in 0..n {
        y.push_str(&format!("  - name: Q{i}\n"));
    }
    if n > 0 {
        y.push_str("invites:\n");
    }
    for i in 0..n {
        y.push_str(&format!(
            "  - {{email: inv{i}@example.com, role: reader}}\n"
        ));
    }
    y
}

#[tokio::test]
async fn style_a_lists_return_each_object_once_in_creation_order() {
    for n in SIZES {
        let emu = start(&sized_org(n));
        let a = api(&emu);
        // Users: the owner plus n, in membership order.
        let users = collect_a(&a, "/organization/users", LIMIT).await;
        assert_each_once(&users, n + 1);
        let all = a.ok(a.get("/organization/users?limit=100").await);
        let order: Vec<_> = all["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|u| u["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(users, order, "pages concatenate to the one-page order");
        assert_each_once(&collect_a(&a, "/organization/invites", LIMIT).await, n);
        // Projects: default + P + n.
        let projects = collect_a(&a, "/organization/projects", LIMIT).await;
        assert_each_once(&projects, n + 2);
        let p = a.ok(a.get("/organization/projects?limit=100").await)["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|p| p["name"] == "P")
            .expect("P")["id"]
            .as_str()
            .expect("id")
            .to_string();
        assert_each_once(
            &collect_a(&a, &format!("/organization/projects/{p}/users"), LIMIT).await,
            n,
        );
        assert_each_once(
            &collect_a(
                &a,
                &format!("/organization/projects/{p}/service_accounts"),
                LIMIT,
            )
            .await,
            n,
        );
        assert_each_once(
            &collect_a(&a, &format!("/organization/projects/{p}/api_keys"), LIMIT).await,
            n,
        );
        let limits = collect_a(
            &a,
            &format!("/organization/projects/{p}/rate_limits"),
            LIMIT,
        )
        .await;
        assert_each_once(
            &limits,
            orgops::emulator::state::rate_limit_catalogue().len(),
        );
        // Admin keys: the emulator's key plus n created ones, creation order (asc default).
        for i in 0..n {
            a.ok(a
                .post(
                    "/organization/admin_api_keys",
                    json!({"name": format!("k{i}")}),
                )
                .await);
        }
        let keys = collect_a(&a, "/organization/admin_api_keys", LIMIT).await;
        assert_each_once(&keys, n + 1);
        let desc = collect_a(&a, "/organization/admin_api_keys?order=desc", LIMIT).await;
        assert_eq!(
            desc,
            keys.iter().rev().cloned().collect::<Vec<_>>(),
            "order=desc reverses"
        );
        // Audit log: one event per created admin key (plus the key's own create events).
        let events = collect_a(
            &a,
            "/organization/audit_logs?event_types[]=api_key.created",
            LIMIT,
        )
        .await;
        assert_each_once(&events, n);
    }
}

#[tokio::test]
async fn rate_limits_page_backwards_with_before() {
    let emu = start(ORG);
    let a = api(&emu);
    let p = project_id(&a, "Search").await;
    let all = a.ok(a
        .get(&format!("/organization/projects/{p}/rate_limits"))
        .await);
    let ids: Vec<_> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        ids.len(),
        orgops::emulator::state::rate_limit_catalogue().len()
    );
    let page = a.ok(a
        .get(&format!(
            "/organization/projects/{p}/rate_limits?limit=2&before={}",
            ids[5].as_str().expect("id")
        ))
        .await);
    assert_eq!(
        page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>(),
        ids[3..5].to_vec()
    );
    assert_eq!(page["has_more"], true);
}

async fn project_id(a: &Api<'_>, name: &str) -> String {
    let list = a.ok(a
        .get("/organization/projects?limit=100&include_archived=true")
        .await);
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|p| p["name"] == name)
        .expect("project exists")["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test]
async fn archive_is_irreversible_and_archived_projects_reject_members() {
    let emu = start(ORG);
    let a = api(&emu);
    let p = project_id(&a, "Search").await;
    let archived = a.ok(a
        .post(&format!("/organization/projects/{p}/archive"), json!({}))
        .await);
    assert_eq!(archived["status"], "archived");
    assert!(archived["archived_at"].is_i64());
    // Hidden from the default list, shown with include_archived.
    let listed = a.ok(a.get("/organization/projects").await);
    assert!(
        listed["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|x| x["id"] != p.as_str())
    );
    let listed = a.ok(a.get("/organization/projects?include_archived=true").await);
    assert!(
        listed["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|x| x["id"] == p.as_str())
    );
    for (status, body) in [
        a.get(&format!("/organization/projects/{p}/users")).await,
        a.get(&format!("/organization/projects/{p}/service_accounts"))
            .await,
        a.post(
            &format!("/organization/projects/{p}/service_accounts"),
            json!({"name": "x"}),
        )
        .await,
        a.post(
            &format!("/organization/projects/{p}/users"),
            json!({"email": "ada@example.com", "role": "member"}),
        )
        .await,
        a.post(
            &format!("/organization/projects/{p}"),
            json!({"name": "Renamed"}),
        )
        .await,
    ] {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_envelope(&body);
    }
    // Still archived after another archive call.
    let again = a.ok(a
        .post(&format!("/organization/projects/{p}/archive"), json!({}))
        .await);
    assert_eq!(again["archived_at"], archived["archived_at"]);
}

#[tokio::test]
async fn default_project_cannot_be_modified_archived_or_given_members() {
    let emu = start(ORG);
    let a = api(&emu);
    let d = project_id(&a, orgops::emulator::rules::DEFAULT_PROJECT_NAME).await;
    let (status, _) = a
        .post(
            &format!("/organization/projects/{d}"),
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a
        .post(&format!("/organization/projects/{d}/archive"), json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a
        .post(
            &format!("/organization/projects/{d}/users"),
            json!({"email": "ada@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a
        .post(
            &format!("/organization/projects/{d}/service_accounts"),
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Its rate limits can be configured.
    let rl = a.ok(a
        .post(
            &format!("/organization/projects/{d}/rate_limits/rl-gpt-4o"),
            json!({"max_requests_per_1_minute": 7}),
        )
        .await);
    assert_eq!(rl["max_requests_per_1_minute"], 7);
}

#[tokio::test]
async fn project_users_must_be_org_members() {
    let emu = start(ORG);
    let a = api(&emu);
    let p = project_id(&a, "Search").await;
    let (status, body) = a
        .post(
            &format!("/organization/projects/{p}/users"),
            json!({"email": "stranger@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "email");
    let added = a.ok(a
        .post(
            &format!("/organization/projects/{p}/users"),
            json!({"email": "ada@example.com", "role": "owner"}),
        )
        .await);
    assert_eq!(added["object"], "organization.project.user");
    assert_eq!(added["role"], "owner");
    let id = added["id"].as_str().expect("id");
    let changed = a.ok(a
        .post(
            &format!("/organization/projects/{p}/users/{id}"),
            json!({"role": "member"}),
        )
        .await);
    assert_eq!(changed["role"], "member");
    let removed = a.ok(a
        .delete(&format!("/organization/projects/{p}/users/{id}"))
        .await);
    assert_eq!(removed["deleted"], true);
    let (status, _) = a
        .get(&format!("/organization/projects/{p}/users/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_account_key_is_returned_once_unless_account_only() {
    let emu = start(ORG);
    let a = api(&emu);
    let p = project_id(&a, "Search").await;
    let sa = a.ok(a
        .post(
            &format!("/organization/projects/{p}/service_accounts"),
            json!({"name": "ci"}),
        )
        .await);
    assert_eq!(sa["role"], "member");
    let value = sa["api_key"]["value"].as_str().expect("one-time key value");
    assert!(value.starts_with("sk-"));
    let key_id = sa["api_key"]["id"].as_str().expect("key id");
    // Afterwards only the redacted form exists.
    let key = a.ok(a
        .get(&format!("/organization/projects/{p}/api_keys/{key_id}"))
        .await);
    assert_eq!(key["owner"]["type"], "service_account");
    assert!(key.get("value").is_none());
    assert!(!key.to_string().contains(value));
    assert!(
        !a.ok(a
            .get(&format!(
                "/organization/projects/{p}/service_accounts/{}",
                sa["id"].as_str().expect("id")
            ))
            .await)
            .to_string()
            .contains(value)
    );
    // Spec behaviour: a service account's key cannot be deleted through the project keys.
    let (status, _) = a
        .delete(&format!("/organization/projects/{p}/api_keys/{key_id}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let bare = a.ok(a
        .post(
            &format!("/organization/projects/{p}/service_accounts"),
            json!({"name": "bare", "create_service_account_only": true}),
        )
        .await);
    assert_eq!(bare["role"], "none");
    assert_eq!(bare["api_key"], Value::Null);
    let extra = a.ok(a
        .post(
            &format!(
                "/organization/projects/{p}/service_accounts/{}/api_keys",
                bare["id"].as_str().expect("id")
            ),
            json!({"name": "deploy"}),
        )
        .await);
    assert_eq!(
        extra["object"],
        "organization.project.service_account.api_key"
    );
    assert!(
        extra["value"]
            .as_str()
            .is_some_and(|v| v.starts_with("sk-"))
    );
    // Names are not unique (reference §6): a second "ci" is a second account.
    let (status, second) = a
        .post(
            &format!("/organization/projects/{p}/service_accounts"),
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
}

#[tokio::test]
async fn service_account_key_delete_is_switchable() {
    let emu = start_with(
        ORG,
        EmulatorOptions {
            allow_service_account_key_delete: true,
            ..Default::default()
        },
    );
    let a = api(&emu);
    let p = project_id(&a, "Search").await;
    let sa = a.ok(a
        .post(
            &format!("/organization/projects/{p}/service_accounts"),
            json!({"name": "ci"}),
        )
        .await);
    let key_id = sa["api_key"]["id"].as_str().expect("key id");
    let deleted = a.ok(a
        .delete(&format!("/organization/projects/{p}/api_keys/{key_id}"))
        .await);
    assert_eq!(deleted["object"], "organization.project.api_key.deleted");
    // The service account survives its key.
    a.ok(a
        .get(&format!(
            "/organization/projects/{p}/service_accounts/{}",
            sa["id"].as_str().expect("id")
        ))
        .await);
}

#[tokio::test]
async fn admin_key_value_once_and_usable() {
    let emu = start(ORG);
    let a = api(&emu);
    let created = a.ok(a
        .post(
            "/organization/admin_api_keys",
            json!({"name": "ci", "expires_in_seconds": 3600}),
        )
        .await);
    let value = created["value"]
        .as_str()
        .expect("value on create")
        .to_string();
    assert!(created["expires_at"].is_i64());
    assert_eq!(
        created["owner"]["role"], "owner",
        "owned by the caller's owner"
    );
    let id = created["id"].as_str().expect("id");
    let fetched = a.ok(a.get(&format!("/organization/admin_api_keys/{id}")).await);
    assert!(fetched.get("value").is_none());
    assert!(!fetched.to_string().contains(&value));
    // The new key authenticates.
    let b = Api {
        emu: &emu,
        http: reqwest::Client::new(),
        key: value.clone(),
    };
    b.ok(b.get("/organization/users").await);
    let (status, _) = a
        .post(
            "/organization/admin_api_keys",
            json!({"name": "x", "expires_in_seconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Deleted keys stop working.
    a.ok(a
        .delete(&format!("/organization/admin_api_keys/{id}"))
        .await);
    let (status, _) = b.get("/organization/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn mutations_are_audited_with_the_actor() {
    let emu = start(ORG);
    let a = api(&emu);
    let created = a.ok(a
        .post("/organization/projects", json!({"name": "Audit me"}))
        .await);
    let pid = created["id"].as_str().expect("id");
    a.ok(a
        .post(
            &format!("/organization/projects/{pid}"),
            json!({"name": "Audited"}),
        )
        .await);
    a.ok(a
        .post(&format!("/organization/projects/{pid}/archive"), json!({}))
        .await);
    let log = a.ok(a
        .get(&format!("/organization/audit_logs?resource_ids[]={pid}"))
        .await);
    let types: Vec<_> = log["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_string())
        .collect();
    assert_eq!(
        types,
        vec!["project.archived", "project.updated", "project.created"],
        "newest first"
    );
    let event = &log["data"][2];
    assert_eq!(event["project.created"]["id"], pid);
    assert_eq!(event["actor"]["type"], "api_key");
    assert_eq!(
        event["actor"]["api_key"]["user"]["email"], "ada@example.com",
        "owner defaults to the first owner"
    );
    // Filters: by actor email, event type, time window.
    let by_email = a.ok(a
        .get(
            "/organization/audit_logs?actor_emails[]=ada@example.com&event_types[]=project.updated",
        )
        .await);
    assert_eq!(by_email["data"].as_array().expect("data").len(), 1);
    let future = a.ok(a
        .get("/organization/audit_logs?effective_at[gt]=99999999999")
        .await);
    assert_eq!(future["data"].as_array().expect("data").len(), 0);
    let key_id = event["actor"]["api_key"]["id"].as_str().expect("key id");
    let by_key = a.ok(a
        .get(&format!(
            "/organization/audit_logs?actor_ids[]={key_id}&limit=100"
        ))
        .await);
    assert_eq!(by_key["data"].as_array().expect("data").len(), 3);
}

/// Outcome of one request for the fault-reproducibility test.
async fn outcome(http: &reqwest::Client, url: &str, key: &str) -> String {
    match http.get(url).bearer_auth(key).send().await {
        Ok(resp) => resp.status().as_u16().to_string(),
        Err(_) => "dropped".to_string(),
    }
}

#[tokio::test]
async fn same_seed_same_faults() {
    let options = EmulatorOptions {
        seed: 42,
        fault_rate: 0.5,
        ..Default::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emu = start_with(ORG, options.clone());
        // A fresh connection per request: a dropped one must not poison the next.
        let mut seq = Vec::new();
        for _ in 0..24 {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client");
            seq.push(
                outcome(
                    &http,
                    &format!("{}/organization/users", emu.url()),
                    emu.admin_key(),
                )
                .await,
            );
        }
        runs.push(seq);
    }
    assert_eq!(runs[0], runs[1], "same seed, same fault sequence");
    assert!(runs[0].iter().any(|o| o == "200"), "{:?}", runs[0]);
    assert!(runs[0].iter().any(|o| o != "200"), "{:?}", runs[0]);
    let other = start_with(
        ORG,
        EmulatorOptions {
            seed: 43,
            ..options
        },
    );
    let mut seq = Vec::new();
    for _ in 0..24 {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        seq.push(
            outcome(
                &http,
                &format!("{}/organization/users", other.url()),
                other.admin_key(),
            )
            .await,
        );
    }
    assert_ne!(seq, runs[0], "another seed, other faults");
}

#[tokio::test]
async fn rate_limit_answers_429_with_or_without_retry_after() {
    for retry_after in [false, true] {
        let emu = start_with(
            ORG,
            EmulatorOptions {
                rate_limit_rpm: Some(2),
                retry_after,
                ..Default::default()
            },
        );
        let a = api(&emu);
        a.ok(a.get("/organization/users").await);
        a.ok(a.get("/organization/users").await);
        let resp = a
            .http
            .get(format!("{}/organization/users", emu.url()))
            .bearer_auth(&a.key)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get("retry-after").is_some(), retry_after);
        assert_envelope(&resp.json().await.expect("json"));
        // Buckets are per route template.
        a.ok(a.get("/organization/invites").await);
    }
}

#[tokio::test]
async fn faults_change_at_run_time_and_state_round_trips() {
    let emu = start(ORG);
    let a = api(&emu);
    let (status, body) = a
        .control(
            reqwest::Method::POST,
            "/faults",
            Some(json!({"rate_limit_rpm": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    a.ok(a.get("/organization/projects").await);
    let (status, _) = a.get("/organization/projects").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = a
        .control(
            reqwest::Method::POST,
            "/faults",
            Some(json!({"rate_limit_rpm": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    a.ok(a.get("/organization/projects").await);
    let (status, _) = a
        .control(
            reqwest::Method::POST,
            "/faults",
            Some(json!({"fault_rate": 2.0})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // GET state is YAML the seed parser reads back; PUT replaces the org.
    let yaml = a
        .http
        .get(format!("{}/_emulator/state", emu.base_url()))
        .send()
        .await
        .expect("state")
        .text()
        .await
        .expect("text");
    let dumped = orgops::emulator::seed::parse_state(&yaml).expect("dump parses");
    assert_eq!(dumped.users.len(), 2);
    let replacement = "version: 1\nusers:\n  - {email: zoe@example.com, role: owner}\n";
    let resp = a
        .http
        .put(format!("{}/_emulator/state", emu.base_url()))
        .body(replacement)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    // The admin key still works and now belongs to the new first owner.
    let users = a.ok(a.get("/organization/users").await);
    assert_eq!(users["data"].as_array().expect("data").len(), 1);
    assert_eq!(users["data"][0]["email"], "zoe@example.com");
    let resp = a
        .http
        .put(format!("{}/_emulator/state", emu.base_url()))
        .body("users: [{email: x}]")
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// Kills the spawned emulator process when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn command_prints_url_first_and_serves_the_state_file() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("org.yaml");
    std::fs::write(&state, ORG).expect("write state");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
        .args(["emulator", "--state"])
        .arg(&state)
        .args(["--admin-key", "sk-admin-cli=bob@example.com", "--seed", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("orgops runs");
    let mut child = Child(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut first = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    let url = first.trim();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
        "{url}"
    );
    let http = reqwest::Client::new();
    let users: Value = http
        .get(format!("{url}/organization/users"))
        .bearer_auth("sk-admin-cli")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(users["data"].as_array().expect("data").len(), 2);
    // The key's owner is the one named on the command line.
    let keys: Value = http
        .get(format!("{url}/organization/admin_api_keys"))
        .bearer_auth("sk-admin-cli")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(keys["data"][0]["owner"]["role"], "reader");
}

#[tokio::test]
async fn command_rejects_a_bad_state_file_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("org.yaml");
    std::fs::write(&state, "users: [{email: a@x.example, role: emperor}]\n").expect("write state");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
        .args(["emulator", "--state"])
        .arg(&state)
        .output()
        .expect("orgops runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("org.yaml"), "{stderr}");
    assert!(out.stdout.is_empty(), "no URL when nothing is served");
}

#[tokio::test]
async fn last_owner_stays_and_omitted_invite_projects_mean_default() {
    let emu = start(ORG);
    let a = api(&emu);
    let users = a.ok(a.get("/organization/users?emails[]=ada@example.com").await);
    let ada = users["data"][0]["id"].as_str().expect("id").to_string();
    let (status, body) = a
        .post(
            &format!("/organization/users/{ada}"),
            json!({"role": "reader"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = a.delete(&format!("/organization/users/{ada}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bob = a.ok(a.get("/organization/users?emails=BOB@example.com").await)["data"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let promoted = a.ok(a
        .post(
            &format!("/organization/users/{bob}"),
            json!({"role": "owner"}),
        )
        .await);
    assert_eq!(promoted["role"], "owner");
    // With two owners, one can go; their project membership goes with them.
    let removed = a.ok(a.delete(&format!("/organization/users/{bob}")).await);
    assert_eq!(
        removed,
        json!({"object": "organization.user.deleted", "id": bob, "deleted": true})
    );
    let search = project_id(&a, "Search").await;
    let members = a.ok(a
        .get(&format!("/organization/projects/{search}/users"))
        .await);
    assert_eq!(members["data"], json!([]));

    let default = project_id(&a, orgops::emulator::rules::DEFAULT_PROJECT_NAME).await;
    let invite = a.ok(a
        .post(
            "/organization/invites",
            json!({"email": "eve@example.com", "role": "reader"}),
        )
        .await);
    assert_eq!(
        invite["projects"],
        json!([{"id": default, "role": "member"}])
    );
}
