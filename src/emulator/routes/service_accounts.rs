//! Project service accounts: list (style A), create (with a one-time API key unless
//! `create_service_account_only`), retrieve, update (name, role), delete, and extra API keys
//! (`POST .../service_accounts/{id}/api_keys`, secret returned once).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find_active, find_active_mut, reject_default};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, OptionalJsonBody, PageParams, PageRequest,
    QueryParams, ok, page_a,
};
use crate::emulator::rules;
use crate::emulator::state::{KeyOwner, OrgState, ProjectApiKey, ServiceAccount};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/projects/{project_id}/service_accounts",
            get(list).post(create),
        )
        .route(
            "/organization/projects/{project_id}/service_accounts/{service_account_id}",
            get(retrieve).post(update).delete(remove),
        )
        .route(
            "/organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys",
            post(create_key),
        )
}

pub fn service_account_json(sa: &ServiceAccount) -> Value {
    json!({
        "object": "organization.project.service_account",
        "id": sa.id,
        "name": sa.name,
        "role": sa.role,
        "created_at": sa.created_at,
    })
}

/// `ProjectServiceAccountApiKey` / `ServiceAccountApiKeyBody`: the only time `value` exists.
/// `expires_at` and `spend_limit` are the SDK's (3.63.0 `APIKeyCreateResponse`).
fn secret_key_json(key: &ProjectApiKey, value: &str) -> Value {
    json!({
        "object": "organization.project.service_account.api_key",
        "value": value,
        "name": key.name,
        "created_at": key.created_at,
        "id": key.id,
        "expires_at": key.expires_at,
        "spend_limit": key_spend_limit_json(key.spend_limit),
    })
}

/// `ProjectAPIKeySpendLimit` (SDK 3.63.0), or `null` when the key has none.
pub fn key_spend_limit_json(cents: Option<i64>) -> Value {
    match cents {
        Some(cents) => json!({
            "threshold_amount": cents,
            "currency": "USD",
            "interval": "month",
            "enforcement": {"status": "inactive"},
        }),
        None => Value::Null,
    }
}

/// The SDK's `spend_limit` on a new key (`{threshold_amount, currency, interval}`).
#[derive(Debug, Deserialize)]
struct KeySpendLimit {
    threshold_amount: i64,
    currency: String,
    interval: String,
}

/// The SDK's key options (3.63.0 `ServiceAccountCreateParams`, `APIKeyCreateParams`):
/// `expires_in_seconds` at least 1, a spend limit of at least 1 cent in USD per month.
fn key_options(
    expires_in_seconds: Option<i64>,
    spend_limit: Option<KeySpendLimit>,
) -> Result<(Option<i64>, Option<i64>), ApiError> {
    if let Some(seconds) = expires_in_seconds
        && seconds < 1
    {
        return Err(ApiError::invalid_param(
            "expires_in_seconds",
            format!("Invalid 'expires_in_seconds': {seconds}. It must be at least 1."),
        ));
    }
    let cents = match spend_limit {
        Some(limit) => {
            super::spend::check_money(limit.threshold_amount, 1, &limit.currency, &limit.interval)
                .map_err(|e| e.with_param("spend_limit.threshold_amount"))?;
            Some(limit.threshold_amount)
        }
        None => None,
    };
    Ok((expires_in_seconds, cents))
}

/// Sets the options [`key_options`] checked on a key just made.
fn with_options(
    mut key: ProjectApiKey,
    (expires_in, cents): (Option<i64>, Option<i64>),
) -> ProjectApiKey {
    key.expires_at = expires_in.map(|s| key.created_at.saturating_add(s));
    key.spend_limit = cents;
    key
}

fn find<'a>(
    org: &'a OrgState,
    project_id: &str,
    sa_id: &str,
) -> Result<&'a ServiceAccount, ApiError> {
    find_active(org, project_id)?
        .service_accounts
        .get(sa_id)
        .ok_or_else(|| ApiError::not_found("service account", sa_id))
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
    let org = app.org();
    let p = find_active(&org, &project_id)?;
    ok(page_a(
        &p.service_accounts,
        |_| true,
        &req,
        service_account_json,
    )?)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    create_service_account_only: Option<bool>,
    /// SDK only: the initial key's lifetime.
    #[serde(default)]
    expires_in_seconds: Option<i64>,
    /// SDK only: the initial key's monthly hard spend limit.
    #[serde(default)]
    spend_limit: Option<KeySpendLimit>,
}

async fn create(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let name = body.name.trim().to_string();
    if name.is_empty() {
        return Err(ApiError::invalid_param(
            "name",
            "The service account name must not be empty",
        ));
    }
    let only = body.create_service_account_only.unwrap_or(false);
    // "A non-null value cannot be used when `create_service_account_only` is true."
    if only && body.expires_in_seconds.is_some() {
        return Err(ApiError::invalid_param(
            "expires_in_seconds",
            "'expires_in_seconds' cannot be used when 'create_service_account_only' is true",
        ));
    }
    if only && body.spend_limit.is_some() {
        return Err(ApiError::invalid_param(
            "spend_limit",
            "'spend_limit' cannot be used when 'create_service_account_only' is true",
        ));
    }
    let options = key_options(body.expires_in_seconds, body.spend_limit)?;
    let mut org = app.org();
    reject_default(find_active(&org, &project_id)?, "service accounts")?;
    // "Accounts created with `create_service_account_only` have role `none`."
    let role = if only { "none" } else { "member" };
    let (sa, key) = org
        .add_service_account(&project_id, &name, role, !only)
        .ok_or_else(|| ApiError::not_found("project", &project_id))?;
    let key = key.map(|(k, value)| (with_options(k, options), value));
    if let Some((k, _)) = &key {
        find_active_mut(&mut org, &project_id)?
            .api_keys
            .insert(k.id.clone(), k.clone());
    }
    let mut rendered = service_account_json(&sa);
    rendered["api_key"] = match &key {
        Some((k, value)) => secret_key_json(k, value),
        None => Value::Null,
    };
    audit(
        &mut org,
        &actor,
        "service_account.created",
        &sa.id,
        json!({"id": sa.id, "data": {"role": role}}),
    );
    if let Some((k, _)) = &key {
        audit(
            &mut org,
            &actor,
            "api_key.created",
            &k.id,
            json!({"id": k.id, "data": {"scopes": k.scopes}}),
        );
    }
    ok(rendered)
}

async fn retrieve(
    State(app): State<AppState>,
    Path((project_id, sa_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    ok(service_account_json(find(&org, &project_id, &sa_id)?))
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

async fn update(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, sa_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    if let Some(role) = &body.role
        && !matches!(role.as_str(), "owner" | "member")
    {
        return Err(ApiError::invalid_param(
            "role",
            format!("Invalid role '{role}': must be 'owner' or 'member'"),
        ));
    }
    let mut org = app.org();
    find(&org, &project_id, &sa_id)?;
    if let Some(name) = &body.name
        && name.trim().is_empty()
    {
        return Err(ApiError::invalid_param(
            "name",
            "The service account name must not be empty",
        ));
    }
    let p = find_active_mut(&mut org, &project_id)?;
    let sa = p
        .service_accounts
        .get_mut(&sa_id)
        .ok_or_else(|| ApiError::not_found("service account", &sa_id))?;
    if let Some(name) = &body.name {
        sa.name = name.trim().to_string();
    }
    if let Some(role) = &body.role {
        sa.role = role.clone();
    }
    let rendered = service_account_json(sa);
    let role = sa.role.clone();
    audit(
        &mut org,
        &actor,
        "service_account.updated",
        &sa_id,
        json!({"id": sa_id, "changes_requested": {"role": role}}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, sa_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    find(&org, &project_id, &sa_id)?;
    find_active_mut(&mut org, &project_id)?
        .service_accounts
        .shift_remove(&sa_id);
    rules::on_service_account_removed(&mut org, &project_id, &sa_id);
    audit(
        &mut org,
        &actor,
        "service_account.deleted",
        &sa_id,
        json!({"id": sa_id}),
    );
    ok(
        json!({"object": "organization.project.service_account.deleted", "id": sa_id, "deleted": true}),
    )
}

#[derive(Debug, Default, Deserialize)]
struct CreateKeyBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// SDK only (3.63.0 `APIKeyCreateParams`).
    #[serde(default)]
    expires_in_seconds: Option<i64>,
    #[serde(default)]
    spend_limit: Option<KeySpendLimit>,
}

async fn create_key(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, sa_id)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<CreateKeyBody>,
) -> ApiResult {
    let body = body.unwrap_or_default();
    let options = key_options(body.expires_in_seconds, body.spend_limit)?;
    let mut org = app.org();
    find(&org, &project_id, &sa_id)?;
    let name = body.name.unwrap_or_else(|| "Secret key".to_string());
    let (key, value) = org.new_project_key(
        KeyOwner::ServiceAccount(sa_id.clone()),
        &name,
        body.scopes.unwrap_or_default(),
    );
    let key = with_options(key, options);
    find_active_mut(&mut org, &project_id)?
        .api_keys
        .insert(key.id.clone(), key.clone());
    audit(
        &mut org,
        &actor,
        "api_key.created",
        &key.id,
        json!({"id": key.id, "data": {"scopes": key.scopes}}),
    );
    ok(secret_key_json(&key, &value))
}
