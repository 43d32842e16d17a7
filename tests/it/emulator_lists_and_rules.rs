//! Pagination of the group, role, role-assignment, project-group, certificate and spend-alert
//! lists at the page boundaries, and the certificate and role rules, over HTTP. Every answer
//! is validated against the spec by `ContractClient`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::emulator_contract::PEM;
use crate::support::contract_client::ContractClient;

/// The page size the boundary tests request.
const LIMIT: usize = 3;
/// 0, 1, limit, limit + 1, 3 × limit.
const SIZES: [usize; 5] = [0, 1, LIMIT, LIMIT + 1, 3 * LIMIT];

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

fn yaml_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn roles_yaml(names: &[String]) -> String {
    yaml_list(
        &names
            .iter()
            .map(|n| format!("{{name: {n}, permissions: [api.groups.read]}}"))
            .collect::<Vec<_>>(),
    )
}

fn user_emails(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("u{i:04}@example.com")).collect()
}

fn users_yaml(emails: &[String]) -> String {
    let mut all = vec!["{email: owner@example.com, role: owner}".to_string()];
    all.extend(
        emails
            .iter()
            .map(|e| format!("{{email: {e}, role: reader}}")),
    );
    yaml_list(&all)
}

fn field(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|v| {
            v[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key} in {v}"))
                .to_string()
        })
        .collect()
}

/// The one project of a seeded org that is not the default project.
async fn project_p(c: &ContractClient) -> String {
    let page = c.get("/organization/projects").await;
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|p| p["name"] == "P")
        .and_then(|p| p["id"].as_str())
        .expect("project P exists")
        .to_string()
}

async fn group_id(c: &ContractClient, name: &str) -> String {
    let all = c.collect("/organization/groups", 1000).await;
    all.iter()
        .find(|g| g["name"] == name)
        .and_then(|g| g["id"].as_str())
        .expect("group exists")
        .to_string()
}

async fn user_id(c: &ContractClient, email: &str) -> String {
    let page = c.get(&format!("/organization/users?emails={email}")).await;
    page["data"][0]["id"].as_str().expect("member").to_string()
}

/// Asserts `got` is exactly `expected` (each once) in creation order, or reversed.
fn assert_order(what: &str, n: usize, got: &[String], expected: &[String], descending: bool) {
    let mut want = expected.to_vec();
    if descending {
        want.reverse();
    }
    assert_eq!(got, want.as_slice(), "{what} with {n} objects");
}

#[tokio::test]
async fn groups_and_group_users_page_at_the_boundaries() {
    for n in SIZES {
        let groups = names("g", n);
        let emails = user_emails(n);
        let yaml = format!(
            "version: 1\nusers: {}\ngroups: {}\n",
            users_yaml(&emails),
            yaml_list(
                &groups
                    .iter()
                    .map(|g| format!("{{name: {g}}}"))
                    .chain(std::iter::once(format!(
                        "{{name: zhost, members: {}}}",
                        yaml_list(&emails)
                    )))
                    .collect::<Vec<_>>()
            ),
        );
        let c = ContractClient::start(&yaml);
        let mut expected = groups.clone();
        expected.push("zhost".into());
        // Groups: asc by default; the host group is the (n+1)th object.
        let got = field(&c.collect("/organization/groups", LIMIT).await, "name");
        assert_order("groups", n + 1, &got, &expected, false);
        let got = field(
            &c.collect("/organization/groups?order=desc", LIMIT).await,
            "name",
        );
        assert_order("groups desc", n + 1, &got, &expected, true);

        // Group users: desc by default.
        let host = group_id(&c, "zhost").await;
        let path = format!("/organization/groups/{host}/users");
        let got = field(&c.collect(&path, LIMIT).await, "email");
        assert_order("group users", n, &got, &emails, true);
        let got = field(
            &c.collect(&format!("{path}?order=asc"), LIMIT).await,
            "email",
        );
        assert_order("group users asc", n, &got, &emails, false);
    }
}

#[tokio::test]
async fn roles_and_role_assignments_page_at_the_boundaries() {
    for n in SIZES {
        let roles = names("r", n);
        let proles = names("pr", n);
        let yaml = format!(
            "version: 1
roles: {roles}
users:
  - {{email: owner@example.com, role: owner, roles: {role_names}}}
  - {{email: host@example.com, role: reader}}
groups:
  - {{name: host, roles: {role_names}}}
projects:
  - name: P
    roles: {project_roles}
    members: [{{email: host@example.com, role: member, roles: {prole_names}}}]
    groups: [{{name: host, role: member, roles: {prole_names}}}]
",
            roles = roles_yaml(&roles),
            role_names = yaml_list(&roles),
            project_roles = roles_yaml(&proles),
            prole_names = yaml_list(&proles),
        );
        let c = ContractClient::start(&yaml);
        let owner = user_id(&c, "owner@example.com").await;
        let host_user = user_id(&c, "host@example.com").await;
        let host_group = group_id(&c, "host").await;
        let p = project_p(&c).await;

        // Role lists hold the predefined roles first, then the custom ones in creation order.
        let mut org_expected: Vec<String> = vec!["owner".into(), "reader".into()];
        org_expected.extend(roles.iter().cloned());
        let got = field(&c.collect("/organization/roles", LIMIT).await, "name");
        assert_order("org roles", n + 2, &got, &org_expected, false);
        let mut project_expected: Vec<String> =
            vec!["owner".into(), "member".into(), "viewer".into()];
        project_expected.extend(proles.iter().cloned());
        let got = field(
            &c.collect(&format!("/projects/{p}/roles"), LIMIT).await,
            "name",
        );
        assert_order("project roles", n + 3, &got, &project_expected, false);

        // A project group's list starts with the role it was added with (`member` in the
        // seed): an assignment like the custom ones.
        let project_group_expected: Vec<String> = std::iter::once("member".to_string())
            .chain(proles.iter().cloned())
            .collect();
        for (what, path, expected) in [
            (
                "user role assignments",
                format!("/organization/users/{owner}/roles"),
                &roles,
            ),
            (
                "group role assignments",
                format!("/organization/groups/{host_group}/roles"),
                &roles,
            ),
            (
                "project user role assignments",
                format!("/projects/{p}/users/{host_user}/roles"),
                &proles,
            ),
            (
                "project group role assignments",
                format!("/projects/{p}/groups/{host_group}/roles"),
                &project_group_expected,
            ),
        ] {
            let got = field(&c.collect(&path, LIMIT).await, "name");
            assert_order(what, n, &got, expected, false);
            let got = field(
                &c.collect(&format!("{path}?order=desc"), LIMIT).await,
                "name",
            );
            assert_order(what, n, &got, expected, true);
        }
    }
}

#[tokio::test]
async fn project_groups_page_at_the_boundaries() {
    for n in SIZES {
        let groups = names("g", n);
        let yaml = format!(
            "version: 1\ngroups: {}\nprojects:\n  - name: P\n    groups: {}\n",
            yaml_list(
                &groups
                    .iter()
                    .map(|g| format!("{{name: {g}}}"))
                    .collect::<Vec<_>>()
            ),
            yaml_list(
                &groups
                    .iter()
                    .map(|g| format!("{{name: {g}, role: member}}"))
                    .collect::<Vec<_>>()
            ),
        );
        let c = ContractClient::start(&yaml);
        let p = project_p(&c).await;
        let path = format!("/organization/projects/{p}/groups");
        let got = field(&c.collect(&path, LIMIT).await, "group_name");
        assert_order("project groups", n, &got, &groups, false);
        let got = field(
            &c.collect(&format!("{path}?order=desc"), LIMIT).await,
            "group_name",
        );
        assert_order("project groups desc", n, &got, &groups, true);
    }
}

#[tokio::test]
async fn certificates_and_spend_alerts_page_at_the_boundaries() {
    for n in SIZES {
        let c = ContractClient::start("version: 1\nprojects: [{name: P}]\n");
        let p = project_p(&c).await;
        let certs = names("c", n);
        let mut alerts_org = Vec::new();
        let mut alerts_project = Vec::new();
        for (i, name) in certs.iter().enumerate() {
            c.post(
                "/organization/certificates",
                json!({"name": name, "certificate": PEM}),
            )
            .await;
            let body = json!({"threshold_amount": i, "currency": "USD", "interval": "month",
                              "notification_channel": {"type": "email", "recipients": ["a@example.com"]}});
            let a = c.post("/organization/spend_alerts", body.clone()).await;
            alerts_org.push(a["id"].as_str().expect("id").to_string());
            let a = c
                .post(&format!("/organization/projects/{p}/spend_alerts"), body)
                .await;
            alerts_project.push(a["id"].as_str().expect("id").to_string());
        }
        // Certificates: newest first by default, in both scopes.
        let got = field(
            &c.collect("/organization/certificates", LIMIT).await,
            "name",
        );
        assert_order("certificates", n, &got, &certs, true);
        let got = field(
            &c.collect("/organization/certificates?order=asc", LIMIT)
                .await,
            "name",
        );
        assert_order("certificates asc", n, &got, &certs, false);
        let got = field(
            &c.collect(&format!("/organization/projects/{p}/certificates"), LIMIT)
                .await,
            "name",
        );
        assert_order("project certificates", n, &got, &certs, true);

        // Spend alerts: asc by default; `before` walks back from the last one.
        let got = field(&c.collect("/organization/spend_alerts", LIMIT).await, "id");
        assert_order("org spend alerts", n, &got, &alerts_org, false);
        let got = field(
            &c.collect(&format!("/organization/projects/{p}/spend_alerts"), LIMIT)
                .await,
            "id",
        );
        assert_order("project spend alerts", n, &got, &alerts_project, false);
        if let Some(last) = alerts_org.last() {
            let page = c
                .get(&format!(
                    "/organization/spend_alerts?limit={LIMIT}&before={last}"
                ))
                .await;
            let got = field(page["data"].as_array().expect("data"), "id");
            let start = (n - 1).saturating_sub(LIMIT);
            assert_eq!(got, alerts_org[start..n - 1].to_vec(), "before {last}");
            assert_eq!(page["has_more"], n - 1 > LIMIT);
        }
    }
}

#[tokio::test]
async fn default_page_sizes_are_the_documented_ones() {
    // Groups 100, project groups 20, roles 1000: one more than the default gives a full
    // first page that says more follow.
    let groups = names("g", 101);
    let roles = names("r", 999); // + 2 predefined = 1001
    let yaml = format!(
        "version: 1\nroles: {}\ngroups: {}\nprojects:\n  - name: P\n    groups: {}\n",
        roles_yaml(&roles),
        yaml_list(
            &groups
                .iter()
                .map(|g| format!("{{name: {g}}}"))
                .collect::<Vec<_>>()
        ),
        yaml_list(
            &groups[..21]
                .iter()
                .map(|g| format!("{{name: {g}, role: member}}"))
                .collect::<Vec<_>>()
        ),
    );
    let c = ContractClient::start(&yaml);
    let p = project_p(&c).await;
    for (path, default) in [
        ("/organization/groups".to_string(), 100),
        (format!("/organization/projects/{p}/groups"), 20),
        ("/organization/roles".to_string(), 1000),
    ] {
        let page = c.get(&path).await;
        assert_eq!(
            page["data"].as_array().map(Vec::len),
            Some(default),
            "{path}"
        );
        assert_eq!(page["has_more"], true, "{path}");
        assert!(page["next"].is_string(), "{path}");
    }
    // Out-of-range limits name the parameter.
    for path in [
        "/organization/groups?limit=1001",
        "/organization/roles?limit=-1",
        "/organization/certificates?limit=0",
        "/organization/spend_alerts?limit=101",
    ] {
        let body = c.fails(Method::GET, path, None, 400).await;
        assert_eq!(body["error"]["param"], "limit", "{path}");
    }
}

#[tokio::test]
async fn certificate_rules_limit_activation_and_deletion() {
    let c = ContractClient::start("version: 1\nprojects: [{name: P}]\n");
    let p = project_p(&c).await;

    // PEM is required.
    let body = c
        .fails(
            Method::POST,
            "/organization/certificates",
            Some(json!({"name": "bad", "certificate": "not a certificate"})),
            400,
        )
        .await;
    assert_eq!(body["error"]["param"], "certificate");

    // At most 50 per organization.
    let mut ids = Vec::new();
    for i in 0..50 {
        let cert = c
            .post(
                "/organization/certificates",
                json!({"name": format!("c{i}"), "certificate": PEM}),
            )
            .await;
        ids.push(cert["id"].as_str().expect("id").to_string());
    }
    c.fails(
        Method::POST,
        "/organization/certificates",
        Some(json!({"name": "c50", "certificate": PEM})),
        400,
    )
    .await;

    // 1 to 10 ids per call, in both scopes.
    for path in [
        "/organization/certificates/activate".to_string(),
        "/organization/certificates/deactivate".to_string(),
        format!("/organization/projects/{p}/certificates/activate"),
        format!("/organization/projects/{p}/certificates/deactivate"),
    ] {
        for bad in [Vec::new(), ids[..11].to_vec()] {
            let body = c
                .fails(
                    Method::POST,
                    &path,
                    Some(json!({"certificate_ids": bad})),
                    400,
                )
                .await;
            assert_eq!(body["error"]["param"], "certificate_ids", "{path}");
        }
    }
    let ten = json!({"certificate_ids": ids[..10]});
    let activated = c
        .post("/organization/certificates/activate", ten.clone())
        .await;
    assert_eq!(activated["object"], "organization.certificate.activation");
    assert_eq!(activated["data"].as_array().map(Vec::len), Some(10));

    // Atomic: one unknown id and nothing changes.
    let body = c
        .fails(
            Method::POST,
            "/organization/certificates/activate",
            Some(json!({"certificate_ids": [ids[10], "cert_unknown"]})),
            400,
        )
        .await;
    assert_eq!(body["error"]["param"], "certificate_ids");
    let listed = c.collect("/organization/certificates?order=asc", 100).await;
    let active: Vec<bool> = listed
        .iter()
        .map(|c| c["active"].as_bool().expect("active"))
        .collect();
    assert_eq!(active.iter().filter(|a| **a).count(), 10);
    assert!(!active[10], "the failed call changed nothing");

    // Idempotent: activating again answers the same and records no second event.
    let events_before = c
        .collect(
            "/organization/audit_logs?event_types[]=certificates.activated",
            100,
        )
        .await
        .len();
    let again = c
        .post("/organization/certificates/activate", ten.clone())
        .await;
    assert_eq!(again["data"], activated["data"]);
    let events_after = c
        .collect(
            "/organization/audit_logs?event_types[]=certificates.activated",
            100,
        )
        .await;
    assert_eq!(events_after.len(), events_before);
    assert_eq!(
        events_after[0]["certificates.activated"]["certificates"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );

    // Inactive everywhere before deletion.
    let one = json!({"certificate_ids": [ids[0]]});
    let project_certs = format!("/organization/projects/{p}/certificates");
    let activated = c
        .post(&format!("{project_certs}/activate"), one.clone())
        .await;
    assert_eq!(
        activated["object"],
        "organization.project.certificate.activation"
    );
    let delete = format!("/organization/certificates/{}", ids[0]);
    c.fails(Method::DELETE, &delete, None, 400).await;
    c.post("/organization/certificates/deactivate", one.clone())
        .await;
    c.fails(Method::DELETE, &delete, None, 400).await;
    let deactivated = c
        .post(&format!("{project_certs}/deactivate"), one.clone())
        .await;
    assert_eq!(deactivated["data"][0]["active"], false);
    // Deactivating again is idempotent too.
    c.post(&format!("{project_certs}/deactivate"), one).await;
    c.delete(&delete).await;
    c.fails(Method::GET, &delete, None, 404).await;

    // Only the name can be modified (content is refused as an unknown field); content is
    // returned only when asked for.
    let id = &ids[1];
    let refused = c
        .fails(
            Method::POST,
            &format!("/organization/certificates/{id}"),
            Some(json!({"name": "renamed", "certificate": "x"})),
            400,
        )
        .await;
    assert_eq!(refused["error"]["param"], "certificate");
    let renamed = c
        .post(
            &format!("/organization/certificates/{id}"),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(renamed["name"], "renamed");
    let plain = c.get(&format!("/organization/certificates/{id}")).await;
    assert!(plain["certificate_details"].get("content").is_none());
    let with = c
        .get(&format!("/organization/certificates/{id}?include=content"))
        .await;
    assert_eq!(with["certificate_details"]["content"], PEM);

    // A certificate active in a project that gets archived no longer blocks deletion.
    let doomed = c
        .post("/organization/projects", json!({"name": "Doomed"}))
        .await;
    let doomed = doomed["id"].as_str().expect("id").to_string();
    let two = json!({"certificate_ids": [ids[11]]});
    c.post(
        &format!("/organization/projects/{doomed}/certificates/activate"),
        two,
    )
    .await;
    c.post_empty(&format!("/organization/projects/{doomed}/archive"))
        .await;
    c.delete(&format!("/organization/certificates/{}", ids[11]))
        .await;
}

#[tokio::test]
async fn role_rules_predefined_immutable_names_unique_cascade() {
    let c = ContractClient::start(
        "version: 1\nusers: [{email: ada@example.com, role: owner}]\nprojects: [{name: P}]\n",
    );
    let p = project_p(&c).await;
    let ada = user_id(&c, "ada@example.com").await;

    // Predefined roles cannot be modified or deleted, at either scope.
    for (scope, id) in [
        ("/organization/roles", "role-api-organization-owner"),
        (
            &format!("/projects/{p}/roles") as &str,
            "role-api-project-member",
        ),
    ] {
        let path = format!("{scope}/{id}");
        let role = c.get(&path).await;
        assert_eq!(role["predefined_role"], true);
        c.fails(Method::POST, &path, Some(json!({"role_name": "mine"})), 400)
            .await;
        c.fails(Method::DELETE, &path, None, 400).await;
        assert_eq!(c.get(&path).await, role, "unchanged");
    }

    // Role names are unique per scope (predefined names included), not across scopes.
    let custom = c
        .post(
            "/organization/roles",
            json!({"role_name": "auditor", "permissions": ["api.groups.read"]}),
        )
        .await;
    let custom_id = custom["id"].as_str().expect("id").to_string();
    for name in ["auditor", "owner"] {
        let body = c
            .fails(
                Method::POST,
                "/organization/roles",
                Some(json!({"role_name": name, "permissions": []})),
                400,
            )
            .await;
        assert_eq!(body["error"]["param"], "role_name");
    }
    let project_auditor = c
        .post(
            &format!("/projects/{p}/roles"),
            json!({"role_name": "auditor", "permissions": []}),
        )
        .await;
    assert_eq!(project_auditor["resource_type"], "api.project");
    let other = c
        .post(
            "/organization/roles",
            json!({"role_name": "other", "permissions": []}),
        )
        .await;
    c.fails(
        Method::POST,
        &format!("/organization/roles/{}", other["id"].as_str().expect("id")),
        Some(json!({"role_name": "auditor"})),
        400,
    )
    .await;

    // Custom roles update in place.
    let updated = c
        .post(
            &format!("/organization/roles/{custom_id}"),
            json!({"permissions": ["api.groups.write"], "description": "reads audit"}),
        )
        .await;
    assert_eq!(updated["permissions"], json!(["api.groups.write"]));
    assert_eq!(updated["description"], "reads audit");

    // Assignments: the role must exist in the scope; twice is a 400; deleting the role
    // removes its assignments.
    let roles_of_ada = format!("/organization/users/{ada}/roles");
    let body = c
        .fails(
            Method::POST,
            &roles_of_ada,
            Some(json!({"role_id": project_auditor["id"]})),
            400,
        )
        .await;
    assert_eq!(body["error"]["param"], "role_id");
    c.post(&roles_of_ada, json!({"role_id": custom_id})).await;
    c.fails(
        Method::POST,
        &roles_of_ada,
        Some(json!({"role_id": custom_id})),
        400,
    )
    .await;
    c.delete(&format!("/organization/roles/{custom_id}")).await;
    let left = c.get(&roles_of_ada).await;
    assert_eq!(left["data"], json!([]));
    c.fails(
        Method::GET,
        &format!("{roles_of_ada}/{custom_id}"),
        None,
        404,
    )
    .await;

    // Every change was audited with the spec's event types.
    let events = c.collect("/organization/audit_logs", 100).await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    for t in [
        "role.created",
        "role.updated",
        "role.deleted",
        "role.assignment.created",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
}
