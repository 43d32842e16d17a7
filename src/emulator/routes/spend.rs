//! Spend alerts (organization and project: list style A with `after`/`before`, 0–100,
//! default 20, `order` default asc; create, retrieve, full-replace update, delete) and hard
//! spend limits (organization and project singletons: retrieve, create-or-replace, delete;
//! unset reads answer `rules::UNSET_SPEND_LIMIT_STATUS`).
//!
//! Project reads work on archived projects, writes do not. Changes are audited as
//! `rules::ORG_SETTINGS_EVENT` / `rules::PROJECT_SETTINGS_EVENT`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find, find_active_mut};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_a,
};
use crate::emulator::rules;
use crate::emulator::state::{IdKind, OrgState, SpendAlert, SpendLimit};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/spend_alerts",
            get(list_org_alerts).post(create_org_alert),
        )
        .route(
            "/organization/spend_alerts/{alert_id}",
            get(retrieve_org_alert)
                .post(update_org_alert)
                .delete(delete_org_alert),
        )
        .route(
            "/organization/projects/{project_id}/spend_alerts",
            get(list_project_alerts).post(create_project_alert),
        )
        .route(
            "/organization/projects/{project_id}/spend_alerts/{alert_id}",
            get(retrieve_project_alert)
                .post(update_project_alert)
                .delete(delete_project_alert),
        )
        .route(
            "/organization/spend_limit",
            get(retrieve_org_limit)
                .post(update_org_limit)
                .delete(delete_org_limit),
        )
        .route(
            "/organization/projects/{project_id}/spend_limit",
            get(retrieve_project_limit)
                .post(update_project_limit)
                .delete(delete_project_limit),
        )
}

/// Organization or project scope: names the objects and the audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Org,
    Project,
}

impl Scope {
    fn prefix(self) -> &'static str {
        match self {
            Scope::Org => "organization",
            Scope::Project => "project",
        }
    }
    fn event(self) -> &'static str {
        match self {
            Scope::Org => rules::ORG_SETTINGS_EVENT,
            Scope::Project => rules::PROJECT_SETTINGS_EVENT,
        }
    }
}

fn alert_json(a: &SpendAlert, scope: Scope) -> Value {
    json!({
        "id": a.id,
        "object": format!("{}.spend_alert", scope.prefix()),
        "threshold_amount": a.threshold_amount,
        "currency": a.currency,
        "interval": a.interval,
        "notification_channel": a.notification_channel,
    })
}

fn limit_json(l: &SpendLimit, scope: Scope) -> Value {
    json!({
        "object": format!("{}.spend_limit", scope.prefix()),
        "threshold_amount": l.threshold_amount,
        "currency": l.currency,
        "interval": l.interval,
        "enforcement": {"status": rules::SPEND_LIMIT_ENFORCEMENT_STATUS},
        "notification_channel": l.notification_channel,
    })
}

#[derive(Debug, Deserialize)]
struct Channel {
    #[serde(rename = "type")]
    kind: String,
    recipients: Vec<String>,
    #[serde(default)]
    subject_prefix: Option<String>,
}

/// `CreateSpendAlertBody` (create and full-replace update).
#[derive(Debug, Deserialize)]
struct AlertBody {
    threshold_amount: i64,
    currency: String,
    interval: String,
    notification_channel: Channel,
}

/// `UpdateOrganizationSpendLimitBody` / `UpdateProjectSpendLimitBody`, plus the SDK's
/// `notification_channel` (3.63.0 `SpendLimitUpdateParams`; not in the spec subset).
#[derive(Debug, Deserialize)]
struct LimitBody {
    threshold_amount: i64,
    currency: String,
    interval: String,
    /// `None`: left out (keep the current channel); `Some(Null)`: reset to owner-only.
    #[serde(default, deserialize_with = "present")]
    notification_channel: Option<Value>,
}

/// Tells a field sent as `null` (`Some(Value::Null)`) from one left out (`None`, the
/// `#[serde(default)]`), which `Option<Value>` alone cannot.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

pub(super) fn check_money(
    threshold: i64,
    min: i64,
    currency: &str,
    interval: &str,
) -> Result<(), ApiError> {
    if threshold < min {
        return Err(ApiError::invalid_param(
            "threshold_amount",
            format!("Invalid 'threshold_amount': {threshold}. It must be at least {min}."),
        ));
    }
    if currency != "USD" {
        return Err(ApiError::invalid_param(
            "currency",
            format!("Invalid 'currency': '{currency}'. Expected 'USD'."),
        ));
    }
    if interval != "month" {
        return Err(ApiError::invalid_param(
            "interval",
            format!("Invalid 'interval': '{interval}'. Expected 'month'."),
        ));
    }
    Ok(())
}

/// A validated alert (its id is given by the caller).
fn checked_alert(id: String, body: AlertBody) -> Result<SpendAlert, ApiError> {
    check_money(body.threshold_amount, 0, &body.currency, &body.interval)?;
    let channel = body.notification_channel;
    if channel.kind != "email" {
        return Err(ApiError::invalid_param(
            "notification_channel.type",
            format!(
                "Invalid 'notification_channel.type': '{}'. Expected 'email'.",
                channel.kind
            ),
        ));
    }
    if channel.recipients.iter().any(|r| !r.contains('@')) {
        return Err(ApiError::invalid_param(
            "notification_channel.recipients",
            "Every recipient must be an email address",
        ));
    }
    let mut notification_channel = json!({"type": "email", "recipients": channel.recipients});
    if let Some(prefix) = channel.subject_prefix {
        notification_channel["subject_prefix"] = json!(prefix);
    }
    Ok(SpendAlert {
        id,
        threshold_amount: body.threshold_amount,
        currency: body.currency,
        interval: body.interval,
        notification_channel,
    })
}

/// The limit `body` asks for over `current`: the SDK's rules for `notification_channel`
/// (left out keeps it, `null` resets it; inside it, `recipients` left out keeps them, `[]`
/// clears them, `subject_prefix` left out keeps it, `null` or `""` clears it).
fn checked_limit(body: LimitBody, current: Option<&SpendLimit>) -> Result<SpendLimit, ApiError> {
    check_money(body.threshold_amount, 1, &body.currency, &body.interval)?;
    let current_channel = current.and_then(|l| l.notification_channel.clone());
    let notification_channel = match body.notification_channel {
        None => current_channel,
        Some(Value::Null) => None,
        Some(channel) => Some(limit_channel(&channel, current_channel.as_ref())?),
    };
    Ok(SpendLimit {
        threshold_amount: body.threshold_amount,
        currency: body.currency,
        interval: body.interval,
        notification_channel,
    })
}

fn limit_channel(channel: &Value, current: Option<&Value>) -> Result<Value, ApiError> {
    let Some(fields) = channel.as_object() else {
        return Err(ApiError::invalid_param(
            "notification_channel",
            "Invalid 'notification_channel': expected an object or null.",
        ));
    };
    match fields.get("type").and_then(Value::as_str) {
        Some("email") => {}
        other => {
            return Err(ApiError::invalid_param(
                "notification_channel.type",
                format!(
                    "Invalid 'notification_channel.type': {}. Expected 'email'.",
                    other.map_or_else(|| "missing".to_string(), |t| format!("'{t}'"))
                ),
            ));
        }
    }
    let recipients = match fields.get("recipients") {
        None => current
            .and_then(|c| c.get("recipients").cloned())
            .unwrap_or_else(|| json!([])),
        Some(list) => {
            let emails: Option<Vec<&str>> = list
                .as_array()
                .and_then(|l| l.iter().map(Value::as_str).collect());
            match emails {
                Some(emails) if emails.iter().all(|r| r.contains('@')) => json!(emails),
                _ => {
                    return Err(ApiError::invalid_param(
                        "notification_channel.recipients",
                        "Every recipient must be an email address",
                    ));
                }
            }
        }
    };
    let subject_prefix = match fields.get("subject_prefix") {
        None => current
            .and_then(|c| c.get("subject_prefix").cloned())
            .unwrap_or(Value::Null),
        Some(Value::Null) => Value::Null,
        Some(Value::String(p)) if p.is_empty() => Value::Null,
        Some(Value::String(p)) => json!(p),
        Some(_) => {
            return Err(ApiError::invalid_param(
                "notification_channel.subject_prefix",
                "Invalid 'notification_channel.subject_prefix': expected a string or null.",
            ));
        }
    };
    Ok(json!({"type": "email", "recipients": recipients, "subject_prefix": subject_prefix}))
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_100_20,
    order: Some(Order::Asc),
    before: true,
    opaque_cursor: false,
};

/// The alerts of a scope for a write: the organization's, or an active project's.
fn alerts<'a>(
    org: &'a mut OrgState,
    project_id: Option<&str>,
) -> Result<&'a mut IndexMap<String, SpendAlert>, ApiError> {
    match project_id {
        None => Ok(&mut org.spend_alerts),
        Some(pid) => Ok(&mut find_active_mut(org, pid)?.spend_alerts),
    }
}

fn list_alerts(app: &AppState, project_id: Option<&str>, q: &QueryParams) -> ApiResult {
    let req = PageRequest::from_query(q, PAGE)?;
    let org = app.org();
    let (map, scope) = match project_id {
        None => (&org.spend_alerts, Scope::Org),
        Some(pid) => (&find(&org, pid)?.spend_alerts, Scope::Project),
    };
    ok(page_a(map, |_| true, &req, |a| alert_json(a, scope))?)
}

fn retrieve_alert(app: &AppState, project_id: Option<&str>, alert_id: &str) -> ApiResult {
    let org = app.org();
    let (map, scope) = match project_id {
        None => (&org.spend_alerts, Scope::Org),
        Some(pid) => (&find(&org, pid)?.spend_alerts, Scope::Project),
    };
    let a = map
        .get(alert_id)
        .ok_or_else(|| ApiError::not_found("spend alert", alert_id))?;
    ok(alert_json(a, scope))
}

fn scope_of(project_id: Option<&str>) -> (Scope, String) {
    match project_id {
        None => (Scope::Org, rules::ORGANIZATION_ID.to_string()),
        Some(pid) => (Scope::Project, pid.to_string()),
    }
}

fn create_alert(
    app: &AppState,
    actor: &Actor,
    project_id: Option<&str>,
    body: AlertBody,
) -> ApiResult {
    let mut org = app.org();
    alerts(&mut org, project_id)?;
    let id = org.ids.id(IdKind::SpendAlert);
    let alert = checked_alert(id.clone(), body)?;
    let (scope, resource) = scope_of(project_id);
    let rendered = alert_json(&alert, scope);
    alerts(&mut org, project_id)?.insert(id.clone(), alert);
    audit(
        &mut org,
        actor,
        scope.event(),
        &resource,
        json!({"id": resource, "changes_requested": {"spend_alert_created": rendered}}),
    );
    ok(rendered)
}

fn update_alert(
    app: &AppState,
    actor: &Actor,
    project_id: Option<&str>,
    alert_id: &str,
    body: AlertBody,
) -> ApiResult {
    let mut org = app.org();
    if !alerts(&mut org, project_id)?.contains_key(alert_id) {
        return Err(ApiError::not_found("spend alert", alert_id));
    }
    let alert = checked_alert(alert_id.to_string(), body)?;
    let (scope, resource) = scope_of(project_id);
    let rendered = alert_json(&alert, scope);
    alerts(&mut org, project_id)?.insert(alert_id.to_string(), alert);
    audit(
        &mut org,
        actor,
        scope.event(),
        &resource,
        json!({"id": resource, "changes_requested": {"spend_alert_updated": rendered}}),
    );
    ok(rendered)
}

fn delete_alert(
    app: &AppState,
    actor: &Actor,
    project_id: Option<&str>,
    alert_id: &str,
) -> ApiResult {
    let mut org = app.org();
    alerts(&mut org, project_id)?
        .shift_remove(alert_id)
        .ok_or_else(|| ApiError::not_found("spend alert", alert_id))?;
    let (scope, resource) = scope_of(project_id);
    audit(
        &mut org,
        actor,
        scope.event(),
        &resource,
        json!({"id": resource, "changes_requested": {"spend_alert_deleted": alert_id}}),
    );
    ok(json!({
        "id": alert_id,
        "object": format!("{}.spend_alert.deleted", scope.prefix()),
        "deleted": true,
    }))
}

fn limit_slot<'a>(
    org: &'a mut OrgState,
    project_id: Option<&str>,
) -> Result<&'a mut Option<SpendLimit>, ApiError> {
    match project_id {
        None => Ok(&mut org.spend_limit),
        Some(pid) => Ok(&mut find_active_mut(org, pid)?.spend_limit),
    }
}

fn unset_limit() -> ApiError {
    ApiError::new(
        rules::UNSET_SPEND_LIMIT_STATUS,
        "invalid_request_error",
        "No hard spend limit is set",
    )
    .with_code("not_found")
}

fn retrieve_limit(app: &AppState, project_id: Option<&str>) -> ApiResult {
    let org = app.org();
    let (limit, scope) = match project_id {
        None => (&org.spend_limit, Scope::Org),
        Some(pid) => (&find(&org, pid)?.spend_limit, Scope::Project),
    };
    ok(limit_json(limit.as_ref().ok_or_else(unset_limit)?, scope))
}

fn update_limit(
    app: &AppState,
    actor: &Actor,
    project_id: Option<&str>,
    body: LimitBody,
) -> ApiResult {
    let mut org = app.org();
    let slot = limit_slot(&mut org, project_id)?;
    let limit = checked_limit(body, slot.as_ref())?;
    let (scope, resource) = scope_of(project_id);
    let rendered = limit_json(&limit, scope);
    *slot = Some(limit);
    audit(
        &mut org,
        actor,
        scope.event(),
        &resource,
        json!({"id": resource, "changes_requested": {"spend_limit": rendered}}),
    );
    ok(rendered)
}

fn delete_limit(app: &AppState, actor: &Actor, project_id: Option<&str>) -> ApiResult {
    let mut org = app.org();
    limit_slot(&mut org, project_id)?
        .take()
        .ok_or_else(unset_limit)?;
    let (scope, resource) = scope_of(project_id);
    audit(
        &mut org,
        actor,
        scope.event(),
        &resource,
        json!({"id": resource, "changes_requested": {"spend_limit": null}}),
    );
    ok(json!({"object": format!("{}.spend_limit.deleted", scope.prefix()), "deleted": true}))
}

// --- handlers -------------------------------------------------------------------------

async fn list_org_alerts(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    list_alerts(&app, None, &q)
}

async fn create_org_alert(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<AlertBody>,
) -> ApiResult {
    create_alert(&app, &actor, None, body)
}

async fn retrieve_org_alert(
    State(app): State<AppState>,
    Path(alert_id): Path<String>,
) -> ApiResult {
    retrieve_alert(&app, None, &alert_id)
}

async fn update_org_alert(
    State(app): State<AppState>,
    actor: Actor,
    Path(alert_id): Path<String>,
    JsonBody(body): JsonBody<AlertBody>,
) -> ApiResult {
    update_alert(&app, &actor, None, &alert_id, body)
}

async fn delete_org_alert(
    State(app): State<AppState>,
    actor: Actor,
    Path(alert_id): Path<String>,
) -> ApiResult {
    delete_alert(&app, &actor, None, &alert_id)
}

async fn list_project_alerts(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    list_alerts(&app, Some(&project_id), &q)
}

async fn create_project_alert(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<AlertBody>,
) -> ApiResult {
    create_alert(&app, &actor, Some(&project_id), body)
}

async fn retrieve_project_alert(
    State(app): State<AppState>,
    Path((project_id, alert_id)): Path<(String, String)>,
) -> ApiResult {
    retrieve_alert(&app, Some(&project_id), &alert_id)
}

async fn update_project_alert(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, alert_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<AlertBody>,
) -> ApiResult {
    update_alert(&app, &actor, Some(&project_id), &alert_id, body)
}

async fn delete_project_alert(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, alert_id)): Path<(String, String)>,
) -> ApiResult {
    delete_alert(&app, &actor, Some(&project_id), &alert_id)
}

async fn retrieve_org_limit(State(app): State<AppState>) -> ApiResult {
    retrieve_limit(&app, None)
}

async fn update_org_limit(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<LimitBody>,
) -> ApiResult {
    update_limit(&app, &actor, None, body)
}

async fn delete_org_limit(State(app): State<AppState>, actor: Actor) -> ApiResult {
    delete_limit(&app, &actor, None)
}

async fn retrieve_project_limit(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
) -> ApiResult {
    retrieve_limit(&app, Some(&project_id))
}

async fn update_project_limit(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<LimitBody>,
) -> ApiResult {
    update_limit(&app, &actor, Some(&project_id), body)
}

async fn delete_project_limit(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
) -> ApiResult {
    delete_limit(&app, &actor, Some(&project_id))
}
