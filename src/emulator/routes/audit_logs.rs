//! Audit logs: `GET /organization/audit_logs`, newest first (style A with `after`/`before`),
//! with every documented filter: `effective_at[gt|gte|lt|lte]`, `project_ids[]`,
//! `event_types[]`, `actor_ids[]` (admin key id or user id), `actor_emails[]`,
//! `resource_ids[]`, `tenant_only`. Events are appended by every mutation (`routes::audit`).
//! An `event_types[]` value outside the spec's `AuditLogEventType` enum is a 400.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, LIMIT_1_100_20, Order, PageParams, PageRequest, QueryParams, ok, page_a,
};
use crate::emulator::state::AuditEvent;

pub fn router() -> Router<AppState> {
    Router::new().route("/organization/audit_logs", get(list))
}

pub fn audit_json(e: &AuditEvent) -> Value {
    let mut v =
        json!({"id": e.id, "type": e.event_type, "effective_at": e.effective_at, "actor": e.actor});
    if let Some((id, name)) = &e.project {
        v["project"] = json!({"id": id, "name": name});
    }
    v[e.event_type.as_str()] = e.details.clone();
    v
}

/// Ids and emails an event's actor can be found by.
fn actor_ids(actor: &Value) -> Vec<&str> {
    [
        &actor["api_key"]["id"],
        &actor["api_key"]["user"]["id"],
        &actor["api_key"]["service_account"]["id"],
        &actor["session"]["user"]["id"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .collect()
}

fn actor_emails(actor: &Value) -> Vec<String> {
    [
        &actor["api_key"]["user"]["email"],
        &actor["session"]["user"]["email"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .map(crate::model::normalize_email)
    .collect()
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: None,
    before: true,
    opaque_cursor: false,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let mut req = PageRequest::from_query(&q, PAGE)?;
    req.order = Order::Desc;
    let gt = q.object_int("effective_at", "gt")?;
    let gte = q.object_int("effective_at", "gte")?;
    let lt = q.object_int("effective_at", "lt")?;
    let lte = q.object_int("effective_at", "lte")?;
    let project_ids = q.list("project_ids[]");
    let event_types = q.list("event_types[]");
    // The spec's `AuditLogEventType` enum (and the SDK's two additions): anything else is a
    // 400, as the API answers, never a silent empty list.
    if let Some(unknown) = event_types
        .iter()
        .find(|t| !crate::api::audit_logs::EVENT_TYPES.contains(&t.as_str()))
    {
        return Err(ApiError::invalid_param(
            "event_types[]",
            format!("Invalid 'event_types[]': '{unknown}' is not an audit log event type."),
        ));
    }
    let ids = q.list("actor_ids[]");
    let emails: Vec<String> = q
        .list("actor_emails[]")
        .iter()
        .map(|e| crate::model::normalize_email(e))
        .collect();
    let resource_ids = q.list("resource_ids[]");
    let tenant_only = q.bool("tenant_only")?.unwrap_or(false);
    if tenant_only && event_types.iter().any(|t| !t.starts_with("tenant.")) {
        return Err(ApiError::invalid_param(
            "event_types[]",
            "With tenant_only=true, every event type must be tenant-scoped",
        ));
    }
    let keep = |e: &AuditEvent| {
        // The emulator records no tenant-scoped events.
        !tenant_only
            && gt.is_none_or(|t| e.effective_at > t)
            && gte.is_none_or(|t| e.effective_at >= t)
            && lt.is_none_or(|t| e.effective_at < t)
            && lte.is_none_or(|t| e.effective_at <= t)
            && (project_ids.is_empty()
                || e.project
                    .as_ref()
                    .is_some_and(|(id, _)| project_ids.contains(id)))
            && (event_types.is_empty() || event_types.contains(&e.event_type))
            && (ids.is_empty()
                || actor_ids(&e.actor)
                    .iter()
                    .any(|a| ids.iter().any(|i| i == a)))
            && (emails.is_empty() || actor_emails(&e.actor).iter().any(|a| emails.contains(a)))
            && (resource_ids.is_empty() || resource_ids.contains(&e.resource_id))
    };
    let org = app.org();
    ok(page_a(&org.audit_log, keep, &req, audit_json)?)
}
