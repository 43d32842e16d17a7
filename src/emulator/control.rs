//! The control plane under `/_emulator/` (no `/v1`, no auth, never part of the real API):
//!
//! - `GET /_emulator/state`: the org as desired-state YAML plus seed-only invites;
//!   `PUT /_emulator/state` replaces the org with one (YAML body).
//! - `GET /_emulator/stats`: `{"total": N, "by_route": {...}}`; `POST /_emulator/stats/reset`.
//! - `POST /_emulator/invites/accept`: `{"email": "..."}` accepts that pending invite as the
//!   invited person would; no body accepts every pending invite. Answers `{"accepted": [...]}`.
//! - `GET /_emulator/faults`, `POST /_emulator/faults`: read or change latency, rate limit,
//!   `Retry-After` and fault rate (fields given replace the current values).
//! - `GET /_emulator/audit_logging`, `POST /_emulator/audit_logging`: `{"enabled": bool}`;
//!   turned off, writes record no audit-log events (as when an organization's admins turn
//!   audit logging off); the log stays readable.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{ApiError, ApiResult, JsonBody, OptionalJsonBody, ok};
use super::{AppState, seed};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/state", get(get_state).put(put_state))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/invites/accept", post(accept_invites))
        .route("/faults", get(get_faults).post(set_faults))
        .route(
            "/audit_logging",
            get(get_audit_logging).post(set_audit_logging),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditLogging {
    enabled: bool,
}

async fn get_audit_logging(State(app): State<AppState>) -> ApiResult {
    ok(json!({"enabled": app.org().audit_logging}))
}

async fn set_audit_logging(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<AuditLogging>,
) -> ApiResult {
    app.org().audit_logging = body.enabled;
    ok(json!({"enabled": body.enabled}))
}

async fn get_state(State(app): State<AppState>) -> ApiResult {
    let doc = seed::to_document(&app.org());
    let yaml = serde_saphyr::to_string(&doc).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            format!("could not render the state: {e}"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response())
}

async fn put_state(State(app): State<AppState>, body: String) -> ApiResult {
    let doc = seed::parse_state(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid state: {e}")))?;
    let mut org = app.org();
    let pems = seed::certificate_pems(&org);
    let mut fresh = seed::from_document(&doc, &pems, app.seed)
        .map_err(|e| ApiError::bad_request(format!("invalid state: {e:#}")))?;
    // Keys that authenticated before still do: carry every admin key over, re-owned by the
    // same email when that person is still a member, else by the new first owner.
    let first_owner = fresh.first_owner().map(|u| u.id.clone());
    let carried: Vec<_> = org.admin_keys.values().cloned().collect();
    for key in carried {
        let email = key
            .owner_user_id
            .as_deref()
            .and_then(|id| org.users.get(id))
            .map(|u| u.email.clone());
        let owner = email
            .and_then(|e| fresh.user_by_email(&e).map(|u| u.id.clone()))
            .or_else(|| first_owner.clone());
        if fresh.admin_keys_by_value.contains_key(&key.value) {
            continue;
        }
        fresh.add_admin_key(
            key.name.clone(),
            Some(key.value.clone()),
            owner,
            key.expires_at,
        );
    }
    *org = fresh;
    ok(json!({"loaded": true, "users": org.users.len(), "projects": org.projects.len()}))
}

async fn stats(State(app): State<AppState>) -> ApiResult {
    let stats = app.faults.stats();
    ok(json!({"total": stats.total, "by_route": stats.by_route}))
}

async fn reset_stats(State(app): State<AppState>) -> ApiResult {
    app.faults.reset_stats();
    ok(json!({"reset": true}))
}

#[derive(Debug, Deserialize)]
struct AcceptBody {
    email: String,
}

async fn accept_invites(
    State(app): State<AppState>,
    OptionalJsonBody(body): OptionalJsonBody<AcceptBody>,
) -> ApiResult {
    let mut org = app.org();
    let wanted = body.map(|b| crate::model::normalize_email(&b.email));
    let pending: Vec<String> = org
        .invites
        .values()
        .filter(|i| i.status == super::state::InviteStatus::Pending)
        .filter(|i| {
            wanted
                .as_ref()
                .is_none_or(|w| &crate::model::normalize_email(&i.email) == w)
        })
        .map(|i| i.id.clone())
        .collect();
    if let Some(email) = &wanted
        && pending.is_empty()
    {
        return Err(ApiError::not_found("pending invite for", email));
    }
    let mut accepted = Vec::new();
    for id in pending {
        accepted.push(super::routes::invites::accept(&mut org, &id)?);
    }
    ok(json!({"accepted": accepted}))
}

async fn get_faults(State(app): State<AppState>) -> ApiResult {
    ok(serde_json::to_value(app.faults.settings()).unwrap_or(Value::Null))
}

async fn set_faults(State(app): State<AppState>, JsonBody(body): JsonBody<Value>) -> ApiResult {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    let mut merged = serde_json::to_value(app.faults.settings()).unwrap_or_else(|_| json!({}));
    for (k, v) in fields {
        merged[k] = v;
    }
    let settings: super::FaultSettings = serde_json::from_value(merged)
        .map_err(|e| ApiError::bad_request(format!("invalid fault settings: {e}")))?;
    settings.validate().map_err(ApiError::bad_request)?;
    app.faults.set(settings.clone());
    ok(serde_json::to_value(settings).unwrap_or(Value::Null))
}
