//! Health alert rules and alerts, as the official SDK has them (`openai==3.63.0`,
//! `resources/admin/organization/health/*.py` and `.../projects/health/*.py`, the
//! `HealthAlertRule`, `DeletedHealthAlertRule` and `HealthAlert` models): for the
//! organization (`/organization/health/...`) and for a project
//! (`/organization/projects/{project_id}/health/...`), list (token pages: `limit` 1–100,
//! default 20; `page=<next>`; filters `enabled` and `type`), create, retrieve, update and
//! delete of rules, and retrieve of an alert.
//!
//! Choices where the SDK is silent (UNVERIFIED against the real API):
//! - A rule starts at `version` 1; every update adds one. An update or delete whose
//!   `expected_version` is not the current version is a **409** (`code: version_conflict`,
//!   the current version in the message) with `x-should-retry: false`: the SDK retries a
//!   409 ("lock timeouts") unless told not to, and a retry cannot succeed.
//! - What a create leaves out: `enabled` true; `error_rate`'s `status_class` `all`;
//!   `rate_limit_utilization`'s `consecutive_minutes` 1 and `threshold` 0.9;
//!   `service_tier_fallback_rate`'s `source_tier` `fast`; empty filter lists; both
//!   notification channels disabled, no addresses, no owners.
//! - An update keeps what it omits, member by member (condition fields, filter lists,
//!   notification channels and their fields, as the SDK documents for notifications); an
//!   empty `notifications` object disables both channels (documented). A condition of
//!   another `type` is refused (documented: create a new rule).
//! - No traffic is evaluated, so no alert is ever raised: an alert's retrieve is a 404.
//! - Rules are seeded from `settings.health_alert_rules` and `projects[].health_alert_rules`
//!   (the file's shape is the create body) and dumped back there.
//!
//! Unknown fields, at any level of a body, are refused with a 400 naming them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::external_keys::required_text;

use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, PageRequest, QueryParams, decode_cursor, encode_cursor, ok,
    paginate,
};
use crate::emulator::rules;
use crate::emulator::state::{HealthAlertRule, IdKind, OrgState, now};
use crate::model::Document;

const TYPES: &[&str] = &[
    "error_rate",
    "prompt_cache_hit_rate",
    "rate_limit_utilization",
    "service_tier_fallback_rate",
];
const TIERS: &[&str] = &["default", "priority", "flex", "scale"];
const FIELD: &str = "health_alert_rules";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/health/alert_rules",
            get(list_org).post(create_org),
        )
        .route(
            "/organization/health/alert_rules/{alert_rule_id}",
            get(retrieve_org).post(update_org).delete(delete_org),
        )
        .route("/organization/health/alerts/{alert_id}", get(alert_org))
        .route(
            "/organization/projects/{project_id}/health/alert_rules",
            get(list_project).post(create_project),
        )
        .route(
            "/organization/projects/{project_id}/health/alert_rules/{alert_rule_id}",
            get(retrieve_project)
                .post(update_project)
                .delete(delete_project),
        )
        .route(
            "/organization/projects/{project_id}/health/alerts/{alert_id}",
            get(alert_project),
        )
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| {
        ApiError::invalid_param(
            field,
            format!("Invalid type for '{field}': expected an object, but got {v}."),
        )
    })
}

fn only(o: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), ApiError> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) if at.is_empty() => Err(ApiError::unrecognized(k)),
        Some(k) => Err(ApiError::unrecognized(&format!("{at}.{k}"))),
        None => Ok(()),
    }
}

fn number(o: &Map<String, Value>, field: &str, at: &str) -> Result<Option<Value>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => Ok(Some(v.clone())),
        Some(other) => Err(ApiError::invalid_param(
            &format!("{at}.{field}"),
            format!("Invalid '{at}.{field}': expected a number of 0 or more, but got {other}."),
        )),
    }
}

fn required_number(o: &Map<String, Value>, field: &str, at: &str) -> Result<Value, ApiError> {
    number(o, field, at)?.ok_or_else(|| {
        ApiError::invalid_param(
            &format!("{at}.{field}"),
            format!("Missing required parameter: '{at}.{field}'."),
        )
    })
}

fn one_of(
    o: &Map<String, Value>,
    field: &str,
    at: &str,
    values: &[&str],
) -> Result<Option<Value>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if values.contains(&s.as_str()) => Ok(Some(json!(s))),
        Some(other) => Err(ApiError::invalid_param(
            &format!("{at}.{field}"),
            format!(
                "Invalid '{at}.{field}': {other}. Expected one of {}.",
                values.join(", ")
            ),
        )),
    }
}

fn boolean(o: &Map<String, Value>, field: &str, at: &str) -> Result<Option<bool>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid_param(
            &format!("{at}{field}"),
            format!("Invalid type for '{at}{field}': expected a boolean, but got {other}."),
        )),
    }
}

fn strings(
    o: &Map<String, Value>,
    field: &str,
    at: &str,
    values: Option<&[&str]>,
) -> Result<Option<Value>, ApiError> {
    let bad = |other: &Value| {
        ApiError::invalid_param(
            &format!("{at}.{field}"),
            format!("Invalid '{at}.{field}': expected a list of strings, but got {other}."),
        )
    };
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) if values.is_none_or(|v| v.contains(&s)) => {}
                    _ => return Err(bad(item)),
                }
            }
            Ok(Some(Value::Array(items.clone())))
        }
        Some(other) => Err(bad(other)),
    }
}

/// A condition checked against the SDK's params; `current` (an update's) fills what it
/// omits, else the creation defaults do.
fn condition(
    v: &Value,
    current: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, ApiError> {
    let o = object(v, "condition")?;
    let at = "condition";
    let kind = match o.get("type") {
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_param(
                "condition.type",
                "Missing required parameter: 'condition.type'.",
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid_param(
                "condition.type",
                format!(
                    "Invalid 'condition.type': {other}. Expected one of {}.",
                    TYPES.join(", ")
                ),
            ));
        }
    };
    if let Some(cur) = current
        && cur.get("type").and_then(Value::as_str) != Some(kind.as_str())
    {
        return Err(ApiError::invalid_param(
            "condition.type",
            "The condition type of a rule cannot be changed: create a new alert rule.",
        ));
    }
    let keep = |field: &str, default: Value| {
        current
            .and_then(|c| c.get(field).cloned())
            .unwrap_or(default)
    };
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    match kind.as_str() {
        "error_rate" => {
            only(
                o,
                at,
                &[
                    "type",
                    "threshold",
                    "window_seconds",
                    "status_class",
                    "status_codes",
                ],
            )?;
            let threshold = match current {
                Some(_) => {
                    number(o, "threshold", at)?.unwrap_or_else(|| keep("threshold", json!(0)))
                }
                None => required_number(o, "threshold", at)?,
            };
            let window = match o.get("window_seconds") {
                Some(Value::Number(n)) if [300, 900, 1800].contains(&n.as_u64().unwrap_or(0)) => {
                    json!(n)
                }
                None | Some(Value::Null) if current.is_some() => keep("window_seconds", json!(300)),
                None | Some(Value::Null) => {
                    return Err(ApiError::invalid_param(
                        "condition.window_seconds",
                        "Missing required parameter: 'condition.window_seconds'.",
                    ));
                }
                Some(other) => {
                    return Err(ApiError::invalid_param(
                        "condition.window_seconds",
                        format!(
                            "Invalid 'condition.window_seconds': {other}. Must be 300, 900, or 1800."
                        ),
                    ));
                }
            };
            let class = one_of(o, "status_class", at, &["all", "4xx", "5xx"])?
                .unwrap_or_else(|| keep("status_class", json!("all")));
            let codes = match o.get("status_codes") {
                None => keep("status_codes", Value::Null),
                Some(Value::Null) => Value::Null,
                Some(Value::Array(items))
                    if items
                        .iter()
                        .all(|c| c.as_u64().is_some_and(|c| (400..600).contains(&c))) =>
                {
                    json!(items)
                }
                Some(other) => {
                    return Err(ApiError::invalid_param(
                        "condition.status_codes",
                        format!(
                            "Invalid 'condition.status_codes': {other}. Expected 4xx or 5xx status codes."
                        ),
                    ));
                }
            };
            out.insert("threshold".into(), threshold);
            out.insert("window_seconds".into(), window);
            out.insert("status_class".into(), class);
            out.insert("status_codes".into(), codes);
        }
        "prompt_cache_hit_rate" => {
            only(o, at, &["type", "threshold"])?;
            let threshold = match current {
                Some(_) => {
                    number(o, "threshold", at)?.unwrap_or_else(|| keep("threshold", json!(0)))
                }
                None => required_number(o, "threshold", at)?,
            };
            out.insert("threshold".into(), threshold);
        }
        "rate_limit_utilization" => {
            only(
                o,
                at,
                &["type", "metric", "consecutive_minutes", "threshold"],
            )?;
            let metric = match one_of(o, "metric", at, &["rpm", "tpm"])? {
                Some(m) => m,
                None if current.is_some() => keep("metric", json!("rpm")),
                None => {
                    return Err(ApiError::invalid_param(
                        "condition.metric",
                        "Missing required parameter: 'condition.metric'.",
                    ));
                }
            };
            let minutes = match o.get("consecutive_minutes") {
                None | Some(Value::Null) => keep("consecutive_minutes", json!(1)),
                Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => json!(n),
                Some(other) => {
                    return Err(ApiError::invalid_param(
                        "condition.consecutive_minutes",
                        format!(
                            "Invalid 'condition.consecutive_minutes': {other}. Expected a positive integer."
                        ),
                    ));
                }
            };
            let threshold =
                number(o, "threshold", at)?.unwrap_or_else(|| keep("threshold", json!(0.9)));
            out.insert("metric".into(), metric);
            out.insert("consecutive_minutes".into(), minutes);
            out.insert("threshold".into(), threshold);
        }
        _ => {
            only(o, at, &["type", "threshold", "source_tier"])?;
            let threshold = match current {
                Some(_) => {
                    number(o, "threshold", at)?.unwrap_or_else(|| keep("threshold", json!(0)))
                }
                None => required_number(o, "threshold", at)?,
            };
            let tier = one_of(o, "source_tier", at, &["fast"])?
                .unwrap_or_else(|| keep("source_tier", json!("fast")));
            out.insert("threshold".into(), threshold);
            out.insert("source_tier".into(), tier);
        }
    }
    Ok(out)
}

fn filters(v: &Value, current: Option<&Map<String, Value>>) -> Result<Value, ApiError> {
    let o = match v {
        Value::Null => &Map::new(),
        v => object(v, "filters")?,
    };
    only(
        o,
        "filters",
        &[
            "models",
            "observability_tags",
            "project_ids",
            "service_tiers",
        ],
    )?;
    let mut out = Map::new();
    for (field, values) in [
        ("models", None),
        ("observability_tags", None),
        ("project_ids", None),
        ("service_tiers", Some(TIERS)),
    ] {
        let value = match strings(o, field, "filters", values)? {
            Some(v) => v,
            None => current
                .and_then(|c| c.get(field).cloned())
                .unwrap_or_else(|| json!([])),
        };
        out.insert(field.into(), value);
    }
    Ok(Value::Object(out))
}

fn notifications(v: &Value, current: Option<&Map<String, Value>>) -> Result<Value, ApiError> {
    let o = match v {
        Value::Null => &Map::new(),
        v => object(v, "notifications")?,
    };
    only(o, "notifications", &["email", "webhook"])?;
    // An empty object resets both channels to disabled (the SDK's words).
    let reset = o.is_empty() && current.is_some();
    let cur = |channel: &str, field: &str| {
        current
            .and_then(|c| c.get(channel))
            .and_then(|c| c.get(field))
            .cloned()
    };
    let email = match o.get("email") {
        None | Some(Value::Null) => &Map::new(),
        Some(v) => object(v, "notifications.email")?,
    };
    only(
        email,
        "notifications.email",
        &["addresses", "enabled", "org_owners", "project_owners"],
    )?;
    let addresses = match strings(email, "addresses", "notifications.email", None)? {
        Some(v) => v,
        None => cur("email", "addresses").unwrap_or_else(|| json!([])),
    };
    let mut out_email = Map::new();
    out_email.insert("addresses".into(), addresses);
    for field in ["enabled", "org_owners", "project_owners"] {
        let value = match boolean(email, field, "notifications.email.")? {
            Some(b) => json!(b),
            None if reset && field == "enabled" => json!(false),
            None => cur("email", field).unwrap_or(json!(false)),
        };
        out_email.insert(field.into(), value);
    }
    let webhook = match o.get("webhook") {
        None | Some(Value::Null) => &Map::new(),
        Some(v) => object(v, "notifications.webhook")?,
    };
    only(webhook, "notifications.webhook", &["enabled"])?;
    let enabled = match boolean(webhook, "enabled", "notifications.webhook.")? {
        Some(b) => json!(b),
        None if reset => json!(false),
        None => cur("webhook", "enabled").unwrap_or(json!(false)),
    };
    Ok(json!({"email": out_email, "webhook": {"enabled": enabled}}))
}

/// A create body (also a seeded rule) checked against the SDK's params, complete.
fn checked(body: &Value) -> Result<Map<String, Value>, ApiError> {
    let Some(o) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    };
    only(
        o,
        "",
        &["name", "condition", "enabled", "filters", "notifications"],
    )?;
    let name = required_text(o, "name")?;
    let Some(cond) = o.get("condition").filter(|c| !c.is_null()) else {
        return Err(ApiError::invalid_param(
            "condition",
            "Missing required parameter: 'condition'.",
        ));
    };
    let mut rule = Map::new();
    rule.insert("name".into(), json!(name));
    rule.insert(
        "enabled".into(),
        json!(boolean(o, "enabled", "")?.unwrap_or(true)),
    );
    rule.insert("condition".into(), Value::Object(condition(cond, None)?));
    rule.insert(
        "filters".into(),
        filters(o.get("filters").unwrap_or(&Value::Null), None)?,
    );
    rule.insert(
        "notifications".into(),
        notifications(o.get("notifications").unwrap_or(&Value::Null), None)?,
    );
    Ok(rule)
}

/// The `HealthAlertRule` model.
fn to_json(r: &HealthAlertRule) -> Value {
    let mut v = json!({
        "id": r.id,
        "object": "health.alert_rule",
        "organization_id": rules::ORGANIZATION_ID,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "version": r.version,
    });
    for (k, value) in &r.rule {
        v[k] = value.clone();
    }
    v
}

fn add(
    org: &mut OrgState,
    project_id: Option<String>,
    rule: Map<String, Value>,
) -> HealthAlertRule {
    let at = now();
    let r = HealthAlertRule {
        id: org.ids.id(IdKind::HealthAlertRule),
        project_id,
        created_at: at,
        updated_at: at,
        version: 1,
        rule,
    };
    org.health_alert_rules.insert(r.id.clone(), r.clone());
    r
}

/// The project of a project route (404 when there is none).
fn project(org: &OrgState, id: &str) -> Result<Option<String>, ApiError> {
    if org.projects.contains_key(id) {
        Ok(Some(id.to_string()))
    } else {
        Err(ApiError::not_found("project", id))
    }
}

fn get_rule<'a>(
    org: &'a OrgState,
    scope: &Option<String>,
    id: &str,
) -> Result<&'a HealthAlertRule, ApiError> {
    org.health_alert_rules
        .get(id)
        .filter(|r| &r.project_id == scope)
        .ok_or_else(|| ApiError::not_found("health alert rule", id))
}

fn list(org: &OrgState, scope: Option<String>, q: &QueryParams) -> ApiResult {
    let limit = match q.int("limit")? {
        None => 20,
        Some(n @ 1..=100) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid_param(
                "limit",
                format!("Invalid 'limit': {n}. Limit must be between 1 and 100."),
            ));
        }
    };
    let enabled = q.bool("enabled")?;
    let kind = q.get("type").map(str::to_string);
    if let Some(t) = &kind
        && !TYPES.contains(&t.as_str())
    {
        return Err(ApiError::invalid_param(
            "type",
            format!(
                "Invalid 'type': '{t}'. Expected one of {}.",
                TYPES.join(", ")
            ),
        ));
    }
    let after = q.get("page").filter(|s| !s.is_empty()).map(decode_cursor);
    if let Some(a) = &after
        && !org.health_alert_rules.contains_key(a)
    {
        return Err(ApiError::invalid_param(
            "page",
            "Invalid 'page': not a page token of this list",
        ));
    }
    let req = PageRequest {
        limit,
        after,
        before: None,
        order: crate::emulator::http::Order::Asc,
    };
    let keep = |r: &HealthAlertRule| {
        r.project_id == scope
            && enabled.is_none_or(|e| r.rule.get("enabled") == Some(&json!(e)))
            && kind.as_deref().is_none_or(|t| {
                r.rule
                    .get("condition")
                    .and_then(|c| c.get("type"))
                    .and_then(Value::as_str)
                    == Some(t)
            })
    };
    let page = paginate(&org.health_alert_rules, keep, &req)?;
    let next = match (page.has_more, page.items.last()) {
        (true, Some((k, _))) => json!(encode_cursor(k)),
        _ => Value::Null,
    };
    let data: Vec<Value> = page.items.iter().map(|(_, r)| to_json(r)).collect();
    ok(json!({"object": "list", "data": data, "has_more": page.has_more, "next": next}))
}

fn create(org: &mut OrgState, scope: Option<String>, body: &Value) -> ApiResult {
    let rule = checked(body)?;
    let r = add(org, scope, rule);
    ok(to_json(&r))
}

/// A 409 for a version that is not the rule's, which the SDK must not retry.
fn version_conflict(expected: i64, current: u64) -> ApiResult {
    let mut response = ApiError::conflict(format!(
        "The alert rule has been modified: expected_version {expected} is not its current version {current}. Retrieve the rule and apply your change to it again."
    ))
    .with_param("expected_version")
    .with_code("version_conflict")
    .into_response();
    response
        .headers_mut()
        .insert("x-should-retry", HeaderValue::from_static("false"));
    Ok(response)
}

fn expected(v: Option<&Value>) -> Result<i64, ApiError> {
    match v {
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or(0)),
        None | Some(Value::Null) => Err(ApiError::invalid_param(
            "expected_version",
            "Missing required parameter: 'expected_version'.",
        )),
        Some(other) => Err(ApiError::invalid_param(
            "expected_version",
            format!("Invalid type for 'expected_version': expected an integer, but got {other}."),
        )),
    }
}

fn update(org: &mut OrgState, scope: Option<String>, id: &str, body: &Value) -> ApiResult {
    let current = get_rule(org, &scope, id)?.clone();
    let Some(o) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    };
    only(
        o,
        "",
        &[
            "expected_version",
            "condition",
            "enabled",
            "filters",
            "name",
            "notifications",
        ],
    )?;
    let expected = expected(o.get("expected_version"))?;
    let mut rule = current.rule.clone();
    if let Some(name) = o.get("name") {
        rule.insert("name".into(), json!(required_text(o, "name")?));
        let _ = name;
    }
    if let Some(b) = boolean(o, "enabled", "")? {
        rule.insert("enabled".into(), json!(b));
    }
    if let Some(c) = o.get("condition").filter(|c| !c.is_null()) {
        let cur = current.rule.get("condition").and_then(Value::as_object);
        rule.insert("condition".into(), Value::Object(condition(c, cur)?));
    }
    if let Some(f) = o.get("filters").filter(|f| !f.is_null()) {
        let cur = current.rule.get("filters").and_then(Value::as_object);
        rule.insert("filters".into(), filters(f, cur)?);
    }
    if let Some(n) = o.get("notifications").filter(|n| !n.is_null()) {
        let cur = current.rule.get("notifications").and_then(Value::as_object);
        rule.insert("notifications".into(), notifications(n, cur)?);
    }
    if expected != current.version as i64 {
        return version_conflict(expected, current.version);
    }
    let Some(r) = org.health_alert_rules.get_mut(id) else {
        return Err(ApiError::not_found("health alert rule", id));
    };
    r.rule = rule;
    r.version += 1;
    r.updated_at = now();
    ok(to_json(r))
}

fn delete(org: &mut OrgState, scope: Option<String>, id: &str, q: &QueryParams) -> ApiResult {
    let current = get_rule(org, &scope, id)?.version;
    let expected = match q.int("expected_version")? {
        Some(v) => v,
        None => {
            return Err(ApiError::invalid_param(
                "expected_version",
                "Missing required parameter: 'expected_version'.",
            ));
        }
    };
    if expected != current as i64 {
        return version_conflict(expected, current);
    }
    org.health_alert_rules.shift_remove(id);
    ok(json!({"id": id, "object": "health.alert_rule.deleted", "deleted": true}))
}

async fn list_org(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    list(&app.org(), None, &q)
}

async fn create_org(State(app): State<AppState>, JsonBody(body): JsonBody<Value>) -> ApiResult {
    create(&mut app.org(), None, &body)
}

async fn retrieve_org(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(to_json(get_rule(&org, &None, &id)?))
}

async fn update_org(
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    update(&mut app.org(), None, &id, &body)
}

async fn delete_org(
    State(app): State<AppState>,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    delete(&mut app.org(), None, &id, &q)
}

async fn alert_org(Path(id): Path<String>) -> ApiResult {
    Err(ApiError::not_found("health alert", &id))
}

async fn list_project(
    State(app): State<AppState>,
    Path(pid): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let org = app.org();
    let scope = project(&org, &pid)?;
    list(&org, scope, &q)
}

async fn create_project(
    State(app): State<AppState>,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let mut org = app.org();
    let scope = project(&org, &pid)?;
    create(&mut org, scope, &body)
}

async fn retrieve_project(
    State(app): State<AppState>,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    let scope = project(&org, &pid)?;
    ok(to_json(get_rule(&org, &scope, &id)?))
}

async fn update_project(
    State(app): State<AppState>,
    Path((pid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let mut org = app.org();
    let scope = project(&org, &pid)?;
    update(&mut org, scope, &id, &body)
}

async fn delete_project(
    State(app): State<AppState>,
    Path((pid, id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult {
    let mut org = app.org();
    let scope = project(&org, &pid)?;
    delete(&mut org, scope, &id, &q)
}

async fn alert_project(
    State(app): State<AppState>,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult {
    project(&app.org(), &pid)?;
    Err(ApiError::not_found("health alert", &id))
}

/// Seeds `settings.health_alert_rules` and each project's `health_alert_rules`, after the
/// projects.
pub fn seed(org: &mut OrgState, doc: &Document) -> anyhow::Result<()> {
    let mut scopes: Vec<(Option<String>, Value)> = Vec::new();
    if let Some(v) = doc.settings.fields.get(FIELD) {
        scopes.push((None, v.clone()));
    }
    for p in &doc.projects {
        if let Some(v) = p.fields.get(FIELD) {
            let Some(id) = org
                .projects
                .values()
                .find(|x| x.name == p.name)
                .map(|x| x.id.clone())
            else {
                anyhow::bail!("project {:?} is not seeded", p.name);
            };
            scopes.push((Some(id), v.clone()));
        }
    }
    for (scope, rules) in scopes {
        for rule in rules.as_array().cloned().unwrap_or_default() {
            let rule =
                checked(&rule).map_err(|e| anyhow::anyhow!("health alert rule: {}", e.message))?;
            add(org, scope.clone(), rule);
        }
    }
    Ok(())
}

/// Writes the rules (in the file's shape) to `settings.health_alert_rules` and each
/// project's `health_alert_rules`, where there are any.
pub fn dump(org: &OrgState, doc: &mut Document) {
    let mut by_scope: std::collections::BTreeMap<Option<String>, Vec<Value>> = Default::default();
    for r in org.health_alert_rules.values() {
        if let Some(live) = crate::kinds::health_alert_rules::from_api(&to_json(r))
            && let Ok(v) = serde_json::to_value(&live.rule)
        {
            by_scope.entry(r.project_id.clone()).or_default().push(v);
        }
    }
    for (scope, mut rules) in by_scope {
        rules.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let fields = match &scope {
            None => Some(&mut doc.settings.fields),
            Some(pid) => {
                let name = org.projects.get(pid).map(|p| p.name.clone());
                doc.projects
                    .iter_mut()
                    .find(|p| Some(&p.name) == name.as_ref())
                    .map(|p| &mut p.fields)
            }
        };
        if let Some(fields) = fields {
            fields.insert(FIELD.into(), Value::Array(rules));
        }
    }
}
