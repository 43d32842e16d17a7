//! Project API keys: list (style A, `owner_project_access`), retrieve, update (SDK 3.63.0
//! `projects.api_keys.update`: `expires_in_seconds`, `scopes`, `spend_limit`), delete. There
//! is no create (user keys are made in the dashboard; service-account keys through
//! `service_accounts.rs`). Deleting a service-account-owned key is a 400 unless
//! `EmulatorOptions::allow_service_account_key_delete` (spec vs newer SDK, see `rules`).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::Map;
use serde_json::{Value, json};

use super::projects::find;
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, PageParams, PageRequest, QueryParams, ok, page_a,
};
use crate::emulator::state::{KeyOwner, OrgState, Project, ProjectApiKey};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/projects/{project_id}/api_keys", get(list))
        .route(
            "/organization/projects/{project_id}/api_keys/{api_key_id}",
            get(retrieve).post(update).delete(remove),
        )
}

/// A key's owner has project access while they are a member (users) or exist (accounts).
fn owner_active(p: &Project, key: &ProjectApiKey) -> bool {
    match &key.owner {
        KeyOwner::User(uid) => p.users.contains_key(uid),
        KeyOwner::ServiceAccount(sid) => p.service_accounts.contains_key(sid),
    }
}

pub fn api_key_json(org: &OrgState, p: &Project, key: &ProjectApiKey) -> Value {
    let owner = match &key.owner {
        KeyOwner::User(uid) => {
            let user = org.users.get(uid);
            json!({"type": "user", "user": {
                "id": uid,
                "email": user.map(|u| u.email.clone()).unwrap_or_default(),
                "name": user.map(|u| u.name.clone()).unwrap_or_default(),
                "created_at": user.map(|u| u.added_at).unwrap_or(key.created_at),
                "role": p.users.get(uid).map(|m| m.role.clone()).unwrap_or_else(|| "member".to_string()),
            }})
        }
        KeyOwner::ServiceAccount(sid) => {
            let sa = p.service_accounts.get(sid);
            json!({"type": "service_account", "service_account": {
                "id": sid,
                "name": sa.map(|s| s.name.clone()).unwrap_or_default(),
                "created_at": sa.map(|s| s.created_at).unwrap_or(key.created_at),
                "role": sa.map(|s| s.role.clone()).unwrap_or_else(|| "member".to_string()),
            }})
        }
    };
    json!({
        "object": "organization.project.api_key",
        "redacted_value": key.redacted_value,
        "name": key.name,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "id": key.id,
        "owner_project_access": if owner_active(p, key) { "active" } else { "inactive" },
        "owner": owner,
        "expires_at": key.expires_at,
        "spend_limit": super::service_accounts::key_spend_limit_json(key.spend_limit),
    })
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: None,
    before: false,
    opaque_cursor: false,
};

async fn list(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    // Omitted = every key (the emulator has no hidden visibility rules).
    let access = q.get("owner_project_access").unwrap_or("any").to_string();
    if !matches!(access.as_str(), "active" | "inactive" | "any") {
        return Err(ApiError::invalid_param(
            "owner_project_access",
            format!("Invalid owner_project_access '{access}'"),
        ));
    }
    let org = app.org();
    let p = find(&org, &project_id)?;
    let keep = |k: &ProjectApiKey| match access.as_str() {
        "active" => owner_active(p, k),
        "inactive" => !owner_active(p, k),
        _ => true,
    };
    ok(page_a(&p.api_keys, keep, &req, |k| {
        api_key_json(&org, p, k)
    })?)
}

async fn retrieve(
    State(app): State<AppState>,
    Path((project_id, key_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    let p = find(&org, &project_id)?;
    let key = p
        .api_keys
        .get(&key_id)
        .ok_or_else(|| ApiError::not_found("API key", &key_id))?;
    ok(api_key_json(&org, p, key))
}

/// `POST .../api_keys/{id}` (SDK `APIKeyUpdateParams`): at least one of `expires_in_seconds`
/// (at least 1, from now; not null), `scopes` (replaces them; not null) and `spend_limit`
/// (`null` removes it); "Expired keys cannot be updated". Answers the key.
async fn update(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, key_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult {
    crate::emulator::http::reject_unknown(
        &body,
        &["expires_in_seconds", "scopes", "spend_limit"],
        "",
    )?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "Provide at least one of 'expires_in_seconds', 'scopes' or 'spend_limit'",
        ));
    }
    let expires_in = match body.get("expires_in_seconds") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(s) if s >= 1 => Some(s),
            _ => {
                return Err(ApiError::invalid_param(
                    "expires_in_seconds",
                    format!(
                        "Invalid 'expires_in_seconds': {v}. It must be an integer of at least 1."
                    ),
                ));
            }
        },
    };
    let scopes = match body.get("scopes") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<Vec<String>>(v.clone()).map_err(|_| {
                ApiError::invalid_param(
                    "scopes",
                    format!("Invalid 'scopes': {v}. Expected an array of strings."),
                )
            })?,
        ),
    };
    let spend_limit = match body.get("spend_limit") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => {
            let text = |f: &str| {
                v.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let cents = v
                .get("threshold_amount")
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        "spend_limit.threshold_amount",
                        "Missing required parameter: 'spend_limit.threshold_amount'.",
                    )
                })?;
            super::spend::check_money(cents, 1, &text("currency"), &text("interval"))
                .map_err(|e| e.with_param("spend_limit.threshold_amount"))?;
            Some(Some(cents))
        }
    };
    let mut org = app.org();
    let now = crate::emulator::state::now();
    let p = super::projects::find_mut(&mut org, &project_id)?;
    let key = p
        .api_keys
        .get_mut(&key_id)
        .ok_or_else(|| ApiError::not_found("API key", &key_id))?;
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_request("Expired keys cannot be updated"));
    }
    if let Some(seconds) = expires_in {
        key.expires_at = Some(now.saturating_add(seconds));
    }
    if let Some(scopes) = &scopes {
        key.scopes.clone_from(scopes);
    }
    if let Some(cents) = spend_limit {
        key.spend_limit = cents;
    }
    let mut changes = json!({});
    if let Some(scopes) = scopes {
        changes["scopes"] = json!(scopes);
    }
    audit(
        &mut org,
        &actor,
        "api_key.updated",
        &key_id,
        json!({"id": key_id, "changes_requested": changes}),
    );
    let p = find(&org, &project_id)?;
    let key = p
        .api_keys
        .get(&key_id)
        .ok_or_else(|| ApiError::not_found("API key", &key_id))?;
    ok(api_key_json(&org, p, key))
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, key_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let p = find(&org, &project_id)?;
    let key = p
        .api_keys
        .get(&key_id)
        .ok_or_else(|| ApiError::not_found("API key", &key_id))?;
    if matches!(key.owner, KeyOwner::ServiceAccount(_))
        && !app.behaviour.allow_service_account_key_delete
    {
        return Err(ApiError::bad_request(
            "API keys owned by a service account cannot be deleted; delete the service account instead",
        ));
    }
    super::projects::find_mut(&mut org, &project_id)?
        .api_keys
        .shift_remove(&key_id);
    audit(
        &mut org,
        &actor,
        "api_key.deleted",
        &key_id,
        json!({"id": key_id}),
    );
    ok(json!({"object": "organization.project.api_key.deleted", "id": key_id, "deleted": true}))
}
