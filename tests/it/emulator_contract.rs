//! The contract suite: drives every operation of the OpenAPI subset against the emulator over
//! HTTP, happy paths and the documented error cases, validating every response body against
//! the operation's schema (`support::contract_client`). The last step proves that every
//! operation of the spec was exercised, from the emulator's own request counters and from the
//! client's record of 2xx answers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::contract_client::ContractClient;
use crate::support::openapi::spec;

const ORG: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: carol@example.com, role: reader}
projects:
  - name: Search
    members: [{email: bob@example.com, role: member}]
"#;

/// A syntactically valid PEM certificate (the emulator does not parse the DER).
pub const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUYmFzZTY0Y29udGVudGZvcnRlc3Rz\n-----END CERTIFICATE-----";

/// What the scenario steps share: ids found or created along the way.
#[derive(Debug, Default)]
struct Ids {
    ada: String,
    bob: String,
    carol: String,
    search: String,
    default_project: String,
}

async fn user_id(c: &ContractClient, email: &str) -> String {
    let page = c
        .get(&format!("/organization/users?emails[]={email}"))
        .await;
    page["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{email} is a member: {page}"))
        .to_string()
}

async fn project_named(c: &ContractClient, name: &str) -> String {
    let page = c
        .get("/organization/projects?limit=100&include_archived=true")
        .await;
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("project {name} exists: {page}"))
        .to_string()
}

fn spend_alert_body(amount: i64) -> Value {
    json!({
        "threshold_amount": amount,
        "currency": "USD",
        "interval": "month",
        "notification_channel": {"type": "email", "recipients": ["ops@example.com"], "subject_prefix": "[spend]"},
    })
}

async fn users_invites_and_admin_keys(c: &ContractClient, ids: &Ids) {
    let users = c.get("/organization/users").await;
    assert_eq!(users["data"].as_array().map(Vec::len), Some(3));
    let bob = c.get(&format!("/organization/users/{}", ids.bob)).await;
    assert_eq!(bob["email"], "bob@example.com");
    let carol = c
        .post(
            &format!("/organization/users/{}", ids.carol),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(carol["role"], "owner");

    let invite = c
        .post(
            "/organization/invites",
            json!({"email": "dave@example.com", "role": "reader",
                   "projects": [{"id": ids.search, "role": "member"}]}),
        )
        .await;
    let invite_id = invite["id"].as_str().expect("invite id").to_string();
    c.get("/organization/invites").await;
    c.get(&format!("/organization/invites/{invite_id}")).await;
    c.accept_invite("dave@example.com").await;
    // An accepted invite cannot be deleted.
    c.fails(
        Method::DELETE,
        &format!("/organization/invites/{invite_id}"),
        None,
        400,
    )
    .await;
    let pending = c
        .post(
            "/organization/invites",
            json!({"email": "erin@example.com", "role": "reader"}),
        )
        .await;
    let deleted = c
        .delete(&format!(
            "/organization/invites/{}",
            pending["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(deleted["deleted"], true);

    let key = c
        .post("/organization/admin_api_keys", json!({"name": "ci"}))
        .await;
    let key_id = key["id"].as_str().expect("key id").to_string();
    assert!(
        key["value"].is_string(),
        "the value is returned on creation"
    );
    c.get("/organization/admin_api_keys").await;
    let fetched = c
        .get(&format!("/organization/admin_api_keys/{key_id}"))
        .await;
    assert!(fetched.get("value").is_none(), "the value is returned once");
    c.delete(&format!("/organization/admin_api_keys/{key_id}"))
        .await;
}

async fn projects_members_and_machines(c: &ContractClient, ids: &Ids) {
    c.get("/organization/projects").await;
    let created = c
        .post("/organization/projects", json!({"name": "Contract"}))
        .await;
    let contract = created["id"].as_str().expect("project id").to_string();
    c.get(&format!("/organization/projects/{contract}")).await;
    let renamed = c
        .post(
            &format!("/organization/projects/{contract}"),
            json!({"name": "Contract 2"}),
        )
        .await;
    assert_eq!(renamed["name"], "Contract 2");
    // The default project cannot be modified.
    c.fails(
        Method::POST,
        &format!("/organization/projects/{}", ids.default_project),
        Some(json!({"name": "Renamed"})),
        400,
    )
    .await;

    let users = format!("/organization/projects/{}/users", ids.search);
    c.post(&users, json!({"user_id": ids.carol, "role": "member"}))
        .await;
    c.get(&users).await;
    c.get(&format!("{users}/{}", ids.carol)).await;
    c.post(&format!("{users}/{}", ids.carol), json!({"role": "owner"}))
        .await;

    let sas = format!("/organization/projects/{}/service_accounts", ids.search);
    let sa = c.post(&sas, json!({"name": "bot"})).await;
    let sa_id = sa["id"].as_str().expect("sa id").to_string();
    let sa_key = sa["api_key"]["id"].as_str().expect("sa key id").to_string();
    c.get(&sas).await;
    c.get(&format!("{sas}/{sa_id}")).await;
    c.post(&format!("{sas}/{sa_id}"), json!({"name": "bot-2"}))
        .await;
    c.post(&format!("{sas}/{sa_id}/api_keys"), json!({"name": "extra"}))
        .await;

    let keys = format!("/organization/projects/{}/api_keys", ids.search);
    c.get(&keys).await;
    c.get(&format!("{keys}/{sa_key}")).await;
    // Service-account keys cannot be deleted through the project key endpoint (spec).
    c.fails(Method::DELETE, &format!("{keys}/{sa_key}"), None, 400)
        .await;
    // A user-owned key (only the dashboard makes these; put one in directly).
    let user_key = {
        let mut org = c.emu.state().org();
        let (key, _secret) = org.new_project_key(
            orgops::emulator::state::KeyOwner::User(ids.bob.clone()),
            "bob's key",
            Vec::new(),
        );
        let id = key.id.clone();
        org.projects
            .get_mut(&ids.search)
            .expect("Search exists")
            .api_keys
            .insert(id.clone(), key);
        id
    };
    c.delete(&format!("{keys}/{user_key}")).await;
    c.delete(&format!("{sas}/{sa_id}")).await;

    let limits = format!("/organization/projects/{}/rate_limits", ids.search);
    c.get(&limits).await;
    let updated = c
        .post(
            &format!("{limits}/rl-gpt-4o"),
            json!({"max_requests_per_1_minute": 500}),
        )
        .await;
    assert_eq!(updated["max_requests_per_1_minute"], 500);

    // Archive, then every member, group and service-account operation is a 400.
    let doomed = c
        .post("/organization/projects", json!({"name": "Doomed"}))
        .await;
    let doomed = doomed["id"].as_str().expect("id").to_string();
    let archived = c
        .post_empty(&format!("/organization/projects/{doomed}/archive"))
        .await;
    assert_eq!(archived["status"], "archived");
    let base = format!("/organization/projects/{doomed}");
    for (method, path, body) in [
        (Method::GET, format!("{base}/users"), None),
        (
            Method::POST,
            format!("{base}/users"),
            Some(json!({"user_id": ids.bob, "role": "member"})),
        ),
        (
            Method::POST,
            format!("{base}/service_accounts"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("{base}/groups"), None),
        (
            Method::POST,
            format!("{base}/groups"),
            Some(json!({"group_id": "group_x", "role": "role-api-project-member"})),
        ),
        (
            Method::POST,
            format!("{base}/certificates/activate"),
            Some(json!({"certificate_ids": ["cert_x"]})),
        ),
        (
            Method::POST,
            format!("/projects/{doomed}/roles"),
            Some(json!({"role_name": "x", "permissions": []})),
        ),
        (
            Method::POST,
            format!("{base}/spend_limit"),
            Some(json!({"threshold_amount": 100, "currency": "USD", "interval": "month"})),
        ),
        (
            Method::POST,
            base.clone(),
            Some(json!({"name": "Alive again"})),
        ),
    ] {
        c.fails(method, &path, body, 400).await;
    }
}

async fn groups_and_roles(c: &ContractClient, ids: &Ids) {
    // Groups.
    let group = c.post("/organization/groups", json!({"name": "eng"})).await;
    let gid = group["id"].as_str().expect("group id").to_string();
    c.get("/organization/groups").await;
    c.get(&format!("/organization/groups/{gid}")).await;
    let renamed = c
        .post(
            &format!("/organization/groups/{gid}"),
            json!({"name": "engineering"}),
        )
        .await;
    assert_eq!(renamed["name"], "engineering");
    // Group names are not unique: a second "engineering" is a second group.
    let second = c
        .post("/organization/groups", json!({"name": "engineering"}))
        .await;
    assert_ne!(second["id"], renamed["id"]);

    // Group users.
    let members = format!("/organization/groups/{gid}/users");
    let added = c.post(&members, json!({"user_id": ids.bob})).await;
    assert_eq!(added["group_id"], gid.as_str());
    c.get(&members).await;
    let member = c.get(&format!("{members}/{}", ids.bob)).await;
    assert_eq!(member["email"], "bob@example.com");
    c.fails(
        Method::POST,
        &members,
        Some(json!({"user_id": "user_nobody"})),
        400,
    )
    .await;

    // Organization roles and their assignments.
    c.get("/organization/roles").await;
    let role = c
        .post(
            "/organization/roles",
            json!({"role_name": "auditor", "permissions": ["api.groups.read"]}),
        )
        .await;
    let rid = role["id"].as_str().expect("role id").to_string();
    c.get(&format!("/organization/roles/{rid}")).await;
    c.post(
        &format!("/organization/roles/{rid}"),
        json!({"permissions": ["api.groups.read", "api.groups.write"]}),
    )
    .await;
    for (who, path) in [
        ("user", format!("/organization/users/{}/roles", ids.bob)),
        ("group", format!("/organization/groups/{gid}/roles")),
    ] {
        let assigned = c.post(&path, json!({"role_id": rid})).await;
        assert_eq!(assigned["object"], format!("{who}.role"));
        let list = c.get(&path).await;
        assert_eq!(list["data"][0]["id"], rid.as_str());
        c.get(&format!("{path}/{rid}")).await;
    }

    // Project roles and their assignments.
    let proles = format!("/projects/{}/roles", ids.search);
    c.get(&proles).await;
    let prole = c
        .post(
            &proles,
            json!({"role_name": "deployer", "permissions": ["api.model.request"]}),
        )
        .await;
    let prid = prole["id"].as_str().expect("project role id").to_string();
    c.get(&format!("{proles}/{prid}")).await;
    c.post(
        &format!("{proles}/{prid}"),
        json!({"role_name": "deployers"}),
    )
    .await;

    let pgroups = format!("/organization/projects/{}/groups", ids.search);
    let granted = c
        .post(
            &pgroups,
            json!({"group_id": gid, "role": "role-api-project-member"}),
        )
        .await;
    assert_eq!(granted["group_name"], "engineering");
    c.get(&pgroups).await;
    c.get(&format!("{pgroups}/{gid}?group_type=group")).await;

    for (who, path) in [
        (
            "user",
            format!("/projects/{}/users/{}/roles", ids.search, ids.bob),
        ),
        (
            "group",
            format!("/projects/{}/groups/{gid}/roles", ids.search),
        ),
    ] {
        let assigned = c.post(&path, json!({"role_id": prid})).await;
        assert_eq!(assigned["object"], format!("{who}.role"));
        c.get(&path).await;
        c.get(&format!("{path}/{prid}")).await;
        let gone = c.delete(&format!("{path}/{prid}")).await;
        assert_eq!(gone["deleted"], true);
    }
    for path in [
        format!("/organization/users/{}/roles", ids.bob),
        format!("/organization/groups/{gid}/roles"),
    ] {
        c.delete(&format!("{path}/{rid}")).await;
    }

    // Removals.
    let gone = c.delete(&format!("{pgroups}/{gid}")).await;
    assert_eq!(gone["object"], "project.group.deleted");
    c.delete(&format!("{members}/{}", ids.bob)).await;
    c.delete(&format!("{proles}/{prid}")).await;
    c.delete(&format!("/organization/roles/{rid}")).await;
    let gone = c.delete(&format!("/organization/groups/{gid}")).await;
    assert_eq!(gone["object"], "group.deleted");
}

async fn certificates(c: &ContractClient, ids: &Ids) {
    let cert = c
        .post(
            "/organization/certificates",
            json!({"name": "edge", "certificate": PEM}),
        )
        .await;
    let cid = cert["id"].as_str().expect("certificate id").to_string();
    let listed = c.get("/organization/certificates").await;
    assert_eq!(listed["data"][0]["active"], false, "not auto-activated");
    let fetched = c
        .get(&format!(
            "/organization/certificates/{cid}?include[]=content"
        ))
        .await;
    assert_eq!(fetched["certificate_details"]["content"], PEM);
    assert!(fetched.get("active").is_none(), "active is not returned");
    c.post(
        &format!("/organization/certificates/{cid}"),
        json!({"name": "edge-2"}),
    )
    .await;
    let on = json!({"certificate_ids": [cid]});
    let activated = c
        .post("/organization/certificates/activate", on.clone())
        .await;
    assert_eq!(activated["data"][0]["active"], true);
    let project = format!("/organization/projects/{}/certificates", ids.search);
    c.post(&format!("{project}/activate"), on.clone()).await;
    let plist = c.get(&project).await;
    assert_eq!(plist["data"][0]["active"], true);
    c.fails(
        Method::DELETE,
        &format!("/organization/certificates/{cid}"),
        None,
        400,
    )
    .await;
    c.post("/organization/certificates/deactivate", on.clone())
        .await;
    // Still active in the project.
    c.fails(
        Method::DELETE,
        &format!("/organization/certificates/{cid}"),
        None,
        400,
    )
    .await;
    c.post(&format!("{project}/deactivate"), on).await;
    let ids11: Vec<String> = (0..11).map(|_| cid.clone()).collect();
    c.fails(
        Method::POST,
        "/organization/certificates/activate",
        Some(json!({"certificate_ids": ids11})),
        400,
    )
    .await;
    let deleted = c.delete(&format!("/organization/certificates/{cid}")).await;
    assert_eq!(deleted["object"], "certificate.deleted");
}

async fn settings(c: &ContractClient, ids: &Ids) {
    c.get("/organization/data_retention").await;
    let org_dr = c
        .post(
            "/organization/data_retention",
            json!({"retention_type": "modified_abuse_monitoring"}),
        )
        .await;
    assert_eq!(org_dr["type"], "modified_abuse_monitoring");
    let p = format!("/organization/projects/{}", ids.search);
    c.get(&format!("{p}/data_retention")).await;
    c.post(
        &format!("{p}/data_retention"),
        json!({"retention_type": "none"}),
    )
    .await;

    let unset = c.get(&format!("{p}/model_permissions")).await;
    assert_eq!(unset["mode"], "deny_list");
    c.post(
        &format!("{p}/model_permissions"),
        json!({"mode": "allow_list", "model_ids": ["gpt-4o"]}),
    )
    .await;
    c.delete(&format!("{p}/model_permissions")).await;

    c.get(&format!("{p}/hosted_tool_permissions")).await;
    let tools = c
        .post(
            &format!("{p}/hosted_tool_permissions"),
            json!({"web_search": {"enabled": false}}),
        )
        .await;
    assert_eq!(tools["web_search"]["enabled"], false);
    assert_eq!(tools["file_search"]["enabled"], true);

    for base in [
        "/organization/spend_alerts".to_string(),
        format!("{p}/spend_alerts"),
    ] {
        let alert = c.post(&base, spend_alert_body(1000)).await;
        let aid = alert["id"].as_str().expect("alert id").to_string();
        c.get(&base).await;
        c.get(&format!("{base}/{aid}")).await;
        let updated = c
            .post(&format!("{base}/{aid}"), spend_alert_body(2000))
            .await;
        assert_eq!(updated["threshold_amount"], 2000);
        c.delete(&format!("{base}/{aid}")).await;
    }

    for base in [
        "/organization/spend_limit".to_string(),
        format!("{p}/spend_limit"),
    ] {
        c.fails(Method::GET, &base, None, 404).await;
        let limit = json!({"threshold_amount": 50_000, "currency": "USD", "interval": "month"});
        c.post(&base, limit).await;
        let got = c.get(&base).await;
        assert_eq!(got["threshold_amount"], 50_000);
        c.delete(&base).await;
    }
}

async fn audit_usage_and_removals(c: &ContractClient, ids: &Ids) {
    let events = c
        .get("/organization/audit_logs?event_types[]=group.created&limit=5")
        .await;
    assert_eq!(events["data"][0]["type"], "group.created");
    c.get("/organization/audit_logs").await;
    for op in spec().operations() {
        if op.template.starts_with("/organization/usage/") || op.template == "/organization/costs" {
            c.get(&format!("{}?start_time=1730419200", op.template))
                .await;
        }
    }
    c.delete(&format!(
        "/organization/projects/{}/users/{}",
        ids.search, ids.carol
    ))
    .await;
    c.delete(&format!("/organization/users/{}", ids.carol))
        .await;
    assert_ne!(ids.ada, ids.carol);
}

async fn not_found_and_unauthorized(c: &ContractClient, ids: &Ids) {
    for path in [
        "/organization/groups/group_nope".to_string(),
        "/organization/roles/role_nope".to_string(),
        "/organization/certificates/cert_nope".to_string(),
        "/organization/spend_alerts/alert_nope".to_string(),
        "/organization/projects/proj_nope".to_string(),
        format!("/projects/{}/roles/role_nope", ids.search),
        format!("/organization/projects/{}/groups/group_nope", ids.search),
        format!("/organization/users/{}/roles/role_nope", ids.ada),
    ] {
        let body = c.fails(Method::GET, &path, None, 404).await;
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let (status, body) = c
        .send_as(None, Method::GET, "/organization/groups", None)
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = c
        .send_as(
            Some("sk-admin-wrong"),
            Method::GET,
            "/organization/roles",
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_operation_of_the_spec_is_served_and_valid() {
    let c = ContractClient::start(ORG);
    let mut ids = Ids {
        ada: user_id(&c, "ada@example.com").await,
        bob: user_id(&c, "bob@example.com").await,
        carol: user_id(&c, "carol@example.com").await,
        ..Ids::default()
    };
    ids.search = project_named(&c, "Search").await;
    ids.default_project = project_named(&c, "Default project").await;

    users_invites_and_admin_keys(&c, &ids).await;
    projects_members_and_machines(&c, &ids).await;
    groups_and_roles(&c, &ids).await;
    certificates(&c, &ids).await;
    settings(&c, &ids).await;
    not_found_and_unauthorized(&c, &ids).await;
    audit_usage_and_removals(&c, &ids).await;

    // Coverage: every operation reached the emulator (its counters use the spec's templates)
    // and answered 2xx at least once.
    let stats = c.stats().await;
    let by_route = stats["by_route"].as_object().expect("by_route object");
    let succeeded = c.succeeded();
    let mut never_called = Vec::new();
    let mut never_succeeded = Vec::new();
    for op in spec().operations() {
        let route = op.route();
        if !by_route.contains_key(&route) {
            never_called.push(route.clone());
        }
        if !succeeded.contains(&route) {
            never_succeeded.push(route);
        }
    }
    assert!(
        never_called.is_empty(),
        "operations the suite never exercised: {never_called:#?}"
    );
    assert!(
        never_succeeded.is_empty(),
        "operations that never answered 2xx: {never_succeeded:#?}"
    );
    // And the emulator serves nothing the spec does not know.
    for route in by_route.keys() {
        assert!(
            spec().operations().any(|op| &op.route() == route),
            "{route} is not an operation of the spec"
        );
    }
}
