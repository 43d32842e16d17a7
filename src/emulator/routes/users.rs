//! Organization users: `GET /organization/users` (style A, `emails` filter), retrieve,
//! modify (org role), delete. Users are never created here: they arrive by accepting an
//! invite (see `invites.rs` and `POST /_emulator/invites/accept`).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, PageParams, PageRequest, QueryParams, ok, page_a,
};
use crate::emulator::rules;
use crate::emulator::state::{OrgState, PREDEFINED_ORG_ROLES, User};

pub fn router() -> Router<AppState> {
    Router::new().route("/organization/users", get(list)).route(
        "/organization/users/{user_id}",
        get(retrieve).post(modify).delete(remove),
    )
}

/// The `User` object.
pub fn user_json(user: &User) -> Value {
    json!({
        "object": "organization.user",
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "added_at": user.added_at,
    })
}

pub fn find<'a>(org: &'a OrgState, user_id: &str) -> Result<&'a User, ApiError> {
    org.users
        .get(user_id)
        .ok_or_else(|| ApiError::not_found("user", user_id))
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: None,
    before: false,
    opaque_cursor: false,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let emails: Vec<String> = q
        .list("emails")
        .iter()
        .map(|e| crate::model::normalize_email(e))
        .collect();
    let org = app.org();
    let keep =
        |u: &User| emails.is_empty() || emails.contains(&crate::model::normalize_email(&u.email));
    ok(page_a(&org.users, keep, &req, user_json)?)
}

async fn retrieve(State(app): State<AppState>, Path(user_id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(user_json(find(&org, &user_id)?))
}

#[derive(Debug, Deserialize)]
struct ModifyBody {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    role_id: Option<String>,
    #[serde(default)]
    technical_level: Option<String>,
    #[serde(default)]
    developer_persona: Option<String>,
}

/// `owner`/`reader` from either `role` or a predefined organization `role_id`.
fn requested_role(body: &ModifyBody) -> Result<Option<String>, ApiError> {
    if let Some(role) = &body.role {
        return match role.as_str() {
            "owner" | "reader" => Ok(Some(role.clone())),
            other => Err(ApiError::invalid_param(
                "role",
                format!("Invalid role '{other}': must be 'owner' or 'reader'"),
            )),
        };
    }
    if let Some(role_id) = &body.role_id {
        return PREDEFINED_ORG_ROLES
            .iter()
            .find(|(id, _, _)| id == role_id)
            .map(|(_, name, _)| Some(name.to_string()))
            .ok_or_else(|| {
                ApiError::invalid_param(
                    "role_id",
                    format!("Invalid role_id '{role_id}': not a predefined organization role"),
                )
            });
    }
    Ok(None)
}

async fn modify(
    State(app): State<AppState>,
    actor: Actor,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<ModifyBody>,
) -> ApiResult {
    let role = requested_role(&body)?;
    let mut org = app.org();
    let current = find(&org, &user_id)?.role.clone();
    if role.as_deref() == Some("reader")
        && current == "owner"
        && rules::would_remove_last_owner(&org, &user_id)
    {
        return Err(ApiError::invalid_param(
            "role",
            "Cannot demote the last owner of the organization",
        ));
    }
    let user = org
        .users
        .get_mut(&user_id)
        .ok_or_else(|| ApiError::not_found("user", &user_id))?;
    if let Some(role) = &role {
        user.role = role.clone();
    }
    if body.technical_level.is_some() {
        user.technical_level = body.technical_level.clone();
    }
    if body.developer_persona.is_some() {
        user.developer_persona = body.developer_persona.clone();
    }
    let rendered = user_json(user);
    let changes = match &role {
        Some(r) => json!({"role": r}),
        None => json!({}),
    };
    audit(
        &mut org,
        &actor,
        "user.updated",
        &user_id,
        json!({"id": user_id, "changes_requested": changes}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path(user_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    find(&org, &user_id)?;
    if rules::would_remove_last_owner(&org, &user_id) {
        return Err(ApiError::bad_request(
            "Cannot remove the last owner of the organization",
        ));
    }
    org.remove_user(&user_id);
    audit(
        &mut org,
        &actor,
        "user.deleted",
        &user_id,
        json!({"id": user_id}),
    );
    ok(json!({"object": "organization.user.deleted", "id": user_id, "deleted": true}))
}
