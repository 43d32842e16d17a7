//! An emulator that cannot hide our bugs (issue 22): where it was kinder or stricter than the
//! API, a real bug could hide. Duplicate names are allowed where nothing says the API refuses
//! them; an unknown body field is a 400 naming it on every write route; an unknown audit event
//! type is a 400; every response carries an `x-request-id`; usage and costs serve seeded
//! buckets with real `next_page` paging and refuse a `page` token the emulator did not issue.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::contract_client::ContractClient;

const ORG: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
projects:
  - name: Search
  - name: Old
    archived: true
"#;

fn id_of(list: &Value, field: &str, value: &str) -> String {
    list["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|o| o[field] == json!(value))
        .and_then(|o| o["id"].as_str())
        .unwrap_or_else(|| panic!("no {field}={value} in {list}"))
        .to_string()
}

#[tokio::test]
async fn project_group_and_service_account_names_may_repeat_role_names_may_not() {
    let c = ContractClient::start(ORG);
    // A second active project of a name, and one of an archived project's name.
    for name in ["Search", "Old"] {
        let created = c
            .post("/organization/projects", json!({"name": name}))
            .await;
        assert_eq!(created["name"], json!(name), "{created}");
    }
    let all = c
        .get("/organization/projects?include_archived=true&limit=100")
        .await;
    let count = |name: &str| {
        all["data"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|p| p["name"] == json!(name))
            .count()
    };
    assert_eq!((count("Search"), count("Old")), (2, 2), "{all}");
    // Renaming onto a taken name is allowed too.
    let projects = c.get("/organization/projects?limit=100").await;
    let search = id_of(&projects, "name", "Search");
    for _ in 0..2 {
        c.post("/organization/groups", json!({"name": "ml"})).await;
        c.post(
            &format!("/organization/projects/{search}/service_accounts"),
            json!({"name": "ci"}),
        )
        .await;
    }
    let groups = c.get("/organization/groups").await;
    assert_eq!(groups["data"].as_array().map(Vec::len), Some(2), "{groups}");
    let accounts = c
        .get(&format!("/organization/projects/{search}/service_accounts"))
        .await;
    assert_eq!(
        accounts["data"].as_array().map(Vec::len),
        Some(2),
        "{accounts}"
    );
    // Role names are documented unique ("Unique name for the role").
    let body = json!({"role_name": "auditor", "permissions": []});
    c.post("/organization/roles", body.clone()).await;
    let refused = c
        .fails(Method::POST, "/organization/roles", Some(body), 400)
        .await;
    assert_eq!(refused["error"]["param"], "role_name", "{refused}");
}

/// A valid-looking body for a write route, with one field no API version has.
fn with_bogus(body: Value) -> Value {
    let mut body = body;
    body["bogus_field"] = json!(1);
    body
}

/// Every write operation of the spec that takes a body, and the SDK-only ones the emulator
/// serves, refuse an unknown field with the API's words, naming it, and change nothing.
#[tokio::test]
async fn an_unknown_body_field_is_refused_on_every_write_route() {
    let c = ContractClient::start(ORG);
    let mut routes: Vec<(String, String)> = crate::support::openapi::spec()
        .operations()
        .filter(|op| op.method != "GET" && op.definition.get("requestBody").is_some())
        .map(|op| {
            // Ids that exist nowhere: the body is refused before any lookup.
            let path = op
                .template
                .split('/')
                .map(|s| if s.starts_with('{') { "x_unknown" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            (op.method.clone(), path)
        })
        .collect();
    for sdk_only in [
        "/organization/external_keys",
        "/organization/external_storage",
        "/organization/projects/x_unknown/service_tier_settings",
        "/organization/projects/x_unknown/api_keys/x_unknown",
    ] {
        routes.push(("POST".into(), sdk_only.into()));
    }
    assert!(routes.len() > 30, "{routes:?}");
    let before = reqwest::get(format!("{}/_emulator/state", c.emu.base_url()))
        .await
        .expect("state")
        .text()
        .await
        .expect("state");
    let mut accepted = Vec::new();
    for (method, path) in &routes {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        // Raw: the SDK-only routes are not in the spec the contract client checks.
        let answer = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", c.emu.url()))
            .bearer_auth(c.emu.admin_key())
            .json(&with_bogus(json!({})))
            .send()
            .await
            .expect("an answer");
        let status = answer.status().as_u16();
        let answer: Value = answer.json().await.unwrap_or(Value::Null);
        let named = answer["error"]["message"]
            == json!("Unrecognized request argument supplied: bogus_field")
            && answer["error"]["param"] == json!("bogus_field");
        if status != 400 || !named {
            accepted.push(format!("{method} {path}: {status} {answer}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "not refused with a 400 naming bogus_field:\n{}",
        accepted.join("\n")
    );
    let after = reqwest::get(format!("{}/_emulator/state", c.emu.base_url()))
        .await
        .expect("state")
        .text()
        .await
        .expect("state");
    assert_eq!(before, after, "a refused body changed the organization");
    // The measured case of the issue, with a valid project name.
    let answer = c
        .fails(
            Method::POST,
            "/organization/projects",
            Some(json!({"name": "x", "bogus_field": 1})),
            400,
        )
        .await;
    assert_eq!(answer["error"]["param"], "bogus_field", "{answer}");
    // A field nested in a known object is named by its path.
    let answer = c
        .fails(
            Method::POST,
            "/organization/spend_alerts",
            Some(json!({"threshold_amount": 5, "notification_channel": {"type": "email", "recipients": ["a@b.c"], "bogus_field": 1}})),
            400,
        )
        .await;
    assert_eq!(
        answer["error"]["param"], "notification_channel.bogus_field",
        "{answer}"
    );
}

#[tokio::test]
async fn an_unknown_audit_event_type_is_refused_naming_it() {
    let c = ContractClient::start(ORG);
    let answer = c
        .fails(
            Method::GET,
            "/organization/audit_logs?event_types[]=project.created&event_types[]=bogus.type",
            None,
            400,
        )
        .await;
    assert_eq!(answer["error"]["param"], "event_types[]", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bogus.type")),
        "{answer}"
    );
    // Every value of the spec's enum is accepted (and the SDK's two additions).
    for known in [
        "project.created",
        "tenant.metadata.updated",
        "external_storage.registered",
    ] {
        let tenant = if known.starts_with("tenant.") {
            "&tenant_only=true"
        } else {
            ""
        };
        c.get(&format!(
            "/organization/audit_logs?event_types[]={known}{tenant}"
        ))
        .await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let c = ContractClient::start(ORG);
    let http = reqwest::Client::new();
    let key = c.emu.admin_key().to_string();
    let requests = [
        (Method::GET, "/organization/projects", Some(&key)),
        (Method::GET, "/organization/projects/nope", Some(&key)),
        (Method::GET, "/organization/projects", None),
        (Method::GET, "/organization/no_such_route", Some(&key)),
        (Method::POST, "/organization/projects", Some(&key)),
    ];
    let mut ids = Vec::new();
    for (method, path, key) in requests {
        let mut req = http.request(method.clone(), format!("{}{path}", c.emu.url()));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.expect("answer");
        let id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = resp.status();
        let id = id.unwrap_or_else(|| panic!("{method} {path} → {status}: no x-request-id"));
        assert!(id.starts_with("req_"), "{id}");
        ids.push(id);
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "request ids repeat: {ids:?}");
}

/// The first of the current month (UTC) and now, in Unix seconds.
fn month_to_date() -> (i64, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let day = now - now.rem_euclid(86_400);
    let (_, _, d) = civil(day / 86_400);
    (day - (d - 1) * 86_400, now)
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[tokio::test]
async fn costs_are_seeded_per_project_and_day_and_page_through_next_page() {
    let c = ContractClient::start(ORG);
    // Ten full days in the past: ten daily buckets, four pages of three.
    let (month_start, _) = month_to_date();
    let start = month_start - 40 * 86_400;
    let end = start + 10 * 86_400;
    let query = format!(
        "/organization/costs?start_time={start}&end_time={end}&group_by[]=project_id&limit=3"
    );
    let mut buckets = Vec::new();
    let mut pages = 0;
    let mut page = c.get(&query).await;
    loop {
        pages += 1;
        buckets.extend(page["data"].as_array().expect("data").iter().cloned());
        let Some(next) = page["next_page"].as_str().map(str::to_string) else {
            assert_eq!(page["has_more"], false, "{page}");
            break;
        };
        assert_eq!(page["has_more"], true, "{page}");
        page = c.get(&format!("{query}&page={next}")).await;
    }
    assert_eq!((pages, buckets.len()), (4, 10), "{buckets:?}");
    for (i, bucket) in buckets.iter().enumerate() {
        assert_eq!(bucket["start_time"], json!(start + i as i64 * 86_400));
        assert_eq!(bucket["end_time"], json!(start + (i as i64 + 1) * 86_400));
        let results = bucket["results"].as_array().expect("results");
        // Every project, archived ones and the default project included.
        assert_eq!(results.len(), 3, "{bucket}");
        for r in results {
            assert_eq!(r["object"], "organization.costs.result");
            assert!(r["project_id"].is_string(), "{r}");
            assert!(
                r["amount"]["value"].as_f64().is_some_and(|v| v > 0.0),
                "{r}"
            );
            assert_eq!(r["amount"]["currency"], "usd");
        }
    }
    // Deterministic: the same query answers the same buckets.
    assert_eq!(c.get(&query).await["data"], json!(buckets[..3]));
    // Without group_by, one result per bucket: the total.
    let total = c
        .get(&format!(
            "/organization/costs?start_time={start}&end_time={}",
            start + 86_400
        ))
        .await;
    let sum: f64 = buckets[0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["amount"]["value"].as_f64())
        .sum();
    let got = total["data"][0]["results"][0]["amount"]["value"]
        .as_f64()
        .expect("total");
    assert!((got - sum).abs() < 1e-6, "{got} != {sum}");
    // No bucket in the future.
    let future = c
        .get(&format!(
            "/organization/costs?start_time={}",
            month_start + 400 * 86_400
        ))
        .await;
    assert_eq!(future["data"], json!([]), "{future}");
}

#[tokio::test]
async fn usage_is_seeded_too_and_a_page_token_not_issued_is_refused() {
    let c = ContractClient::start(ORG);
    let (month_start, _) = month_to_date();
    let start = month_start - 40 * 86_400;
    let usage = c
        .get(&format!(
            "/organization/usage/completions?start_time={start}&end_time={}&bucket_width=1h&limit=5",
            start + 86_400
        ))
        .await;
    assert_eq!(usage["data"].as_array().map(Vec::len), Some(5), "{usage}");
    assert_eq!(usage["has_more"], true);
    let result = &usage["data"][0]["results"][0];
    assert_eq!(result["object"], "organization.usage.completions.result");
    assert!(
        result["input_tokens"].as_i64().is_some_and(|n| n > 0),
        "{result}"
    );
    for path in ["/organization/costs", "/organization/usage/completions"] {
        let answer = c
            .fails(
                Method::GET,
                &format!("{path}?start_time={start}&page=bogus"),
                None,
                400,
            )
            .await;
        assert_eq!(answer["error"]["param"], "page", "{answer}");
    }
    // A token of another query is not this query's.
    let next = usage["next_page"].as_str().expect("next_page");
    let answer = c
        .fails(
            Method::GET,
            &format!("/organization/costs?start_time={start}&page={next}"),
            None,
            400,
        )
        .await;
    assert_eq!(answer["error"]["param"], "page", "{answer}");
}
