//! Groups: list (style B, 0–1000, default 100, `order` default asc), create, retrieve,
//! rename (answers `GroupResourceWithSuccess`, which has no `group_type`) and delete.
//!
//! Group names need not be unique (see `rules`); deleting a group removes its project grants
//! (`rules::on_group_removed`).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_1000_100, Order, PageParams, PageRequest, QueryParams,
    ok, page_b,
};
use crate::emulator::rules;
use crate::emulator::state::{Group, OrgState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/groups", get(list).post(create))
        .route(
            "/organization/groups/{group_id}",
            get(retrieve).post(update).delete(remove),
        )
}

/// The `GroupResponse` object (list, create, retrieve). The spec's examples also carry
/// `"object": "group"`, which the schema allows.
pub fn group_json(g: &Group) -> Value {
    json!({
        "object": "group",
        "id": g.id,
        "name": g.name,
        "created_at": g.created_at,
        "is_scim_managed": g.is_scim_managed,
        "group_type": "group",
    })
}

pub fn find<'a>(org: &'a OrgState, group_id: &str) -> Result<&'a Group, ApiError> {
    org.groups
        .get(group_id)
        .ok_or_else(|| ApiError::not_found("group", group_id))
}

/// The name of a create/update body: trimmed, 1–255 characters.
fn checked_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::invalid_param(
            "name",
            "The group name must be between 1 and 255 characters",
        ));
    }
    Ok(name.to_string())
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_1000_100,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: true,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    ok(page_b(&org.groups, |_| true, &req, |_, g| group_json(g))?)
}

#[derive(Debug, Deserialize)]
struct NameBody {
    name: String,
}

async fn create(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<NameBody>,
) -> ApiResult {
    let mut org = app.org();
    let name = checked_name(&body.name)?;
    let id = org.add_group(&name);
    let rendered = group_json(find(&org, &id)?);
    audit(
        &mut org,
        &actor,
        "group.created",
        &id,
        json!({"id": id, "data": {"group_name": name}}),
    );
    ok(rendered)
}

async fn retrieve(State(app): State<AppState>, Path(group_id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(group_json(find(&org, &group_id)?))
}

async fn update(
    State(app): State<AppState>,
    actor: Actor,
    Path(group_id): Path<String>,
    JsonBody(body): JsonBody<NameBody>,
) -> ApiResult {
    let mut org = app.org();
    find(&org, &group_id)?;
    let name = checked_name(&body.name)?;
    let g = org
        .groups
        .get_mut(&group_id)
        .ok_or_else(|| ApiError::not_found("group", &group_id))?;
    g.name = name.clone();
    let rendered = json!({
        "id": g.id,
        "name": g.name,
        "created_at": g.created_at,
        "is_scim_managed": g.is_scim_managed,
    });
    audit(
        &mut org,
        &actor,
        "group.updated",
        &group_id,
        json!({"id": group_id, "changes_requested": {"group_name": name}}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path(group_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    find(&org, &group_id)?;
    org.groups.shift_remove(&group_id);
    rules::on_group_removed(&mut org, &group_id);
    audit(
        &mut org,
        &actor,
        "group.deleted",
        &group_id,
        json!({"id": group_id}),
    );
    ok(json!({"object": "group.deleted", "id": group_id, "deleted": true}))
}
