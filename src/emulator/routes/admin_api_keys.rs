//! Admin API keys: list (style A, `order` default asc), create (the secret `value` is in the
//! create response only, and the new key authenticates at once), retrieve, delete.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_a,
};
use crate::emulator::state::{AdminKey, OrgState, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/admin_api_keys", get(list).post(create))
        .route(
            "/organization/admin_api_keys/{key_id}",
            get(retrieve).delete(remove),
        )
}

/// Documented bounds of `expires_in_seconds`.
const MAX_EXPIRES_IN_SECONDS: i64 = 31_536_000;

pub fn admin_key_json(org: &OrgState, key: &AdminKey) -> Value {
    let owner = match key
        .owner_user_id
        .as_deref()
        .and_then(|id| org.users.get(id))
    {
        Some(u) => json!({
            "type": "user",
            "object": "organization.user",
            "id": u.id,
            "name": u.name,
            "created_at": u.added_at,
            "role": u.role,
        }),
        None => json!({}),
    };
    json!({
        "object": "organization.admin_api_key",
        "id": key.id,
        "name": key.name,
        "redacted_value": key.redacted_value,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "owner": owner,
    })
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: false,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    ok(page_a(
        &org.admin_keys,
        |_| true,
        &req,
        |k| admin_key_json(&org, k),
    )?)
}

async fn retrieve(State(app): State<AppState>, Path(key_id): Path<String>) -> ApiResult {
    let org = app.org();
    let key = org
        .admin_keys
        .get(&key_id)
        .ok_or_else(|| ApiError::not_found("admin API key", &key_id))?;
    ok(admin_key_json(&org, key))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    /// Absent: `None`; `null`: `Some(None)`, which the spec does not allow (the field is an
    /// integer, not nullable).
    #[serde(default, deserialize_with = "present")]
    expires_in_seconds: Option<Option<i64>>,
}

/// Keeps `null` apart from an absent field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

async fn create(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid_param(
            "name",
            "The key name must not be empty",
        ));
    }
    let expires_in_seconds = match body.expires_in_seconds {
        None => None,
        Some(None) => {
            return Err(ApiError::invalid_param(
                "expires_in_seconds",
                "Invalid 'expires_in_seconds': null. Expected an integer (omit the field for a key that does not expire).",
            ));
        }
        Some(Some(seconds)) => Some(seconds),
    };
    if let Some(s) = expires_in_seconds
        && !(1..=MAX_EXPIRES_IN_SECONDS).contains(&s)
    {
        return Err(ApiError::invalid_param(
            "expires_in_seconds",
            format!("expires_in_seconds must be between 1 and {MAX_EXPIRES_IN_SECONDS}"),
        ));
    }
    let mut org = app.org();
    let expires = expires_in_seconds.map(|s| now() + s);
    let key = org.add_admin_key(Some(body.name.clone()), None, actor.user_id(), expires);
    let mut rendered = admin_key_json(&org, &key);
    rendered["value"] = json!(key.value);
    audit(
        &mut org,
        &actor,
        "api_key.created",
        &key.id,
        json!({"id": key.id, "data": {"scopes": []}}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path(key_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    org.remove_admin_key(&key_id)
        .ok_or_else(|| ApiError::not_found("admin API key", &key_id))?;
    audit(
        &mut org,
        &actor,
        "api_key.deleted",
        &key_id,
        json!({"id": key_id}),
    );
    ok(json!({"id": key_id, "object": "organization.admin_api_key.deleted", "deleted": true}))
}
