//! Group members: list (style B, 0–1000, default 100, `order` default **desc**), add (the
//! user must be an organization member: 400 naming `user_id` otherwise), retrieve
//! (`GroupMemberUser`) and remove. Membership changes are audited as
//! `rules::GROUP_MEMBERSHIP_EVENT`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::groups::find;
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_1000_100, Order, PageParams, PageRequest, QueryParams,
    ok, page_b,
};
use crate::emulator::rules;
use crate::emulator::state::{OrgState, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/groups/{group_id}/users", get(list).post(add))
        .route(
            "/organization/groups/{group_id}/users/{user_id}",
            get(retrieve).delete(remove),
        )
}

/// The `GroupUser` list item.
fn group_user_json(org: &OrgState, user_id: &str) -> Value {
    let user = org.users.get(user_id);
    json!({
        "id": user_id,
        "name": user.map(|u| u.name.clone()).unwrap_or_default(),
        "email": user.map(|u| u.email.clone()),
    })
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_1000_100,
    order: Some(Order::Desc),
    before: false,
    opaque_cursor: true,
};

async fn list(
    State(app): State<AppState>,
    Path(group_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let g = find(&org, &group_id)?;
    ok(page_b(
        &g.members,
        |_| true,
        &req,
        |user_id, _| group_user_json(&org, user_id),
    )?)
}

#[derive(Debug, Deserialize)]
struct AddBody {
    user_id: String,
}

async fn add(
    State(app): State<AppState>,
    actor: Actor,
    Path(group_id): Path<String>,
    JsonBody(body): JsonBody<AddBody>,
) -> ApiResult {
    let mut org = app.org();
    let g = find(&org, &group_id)?;
    if !org.users.contains_key(&body.user_id) {
        return Err(ApiError::invalid_param(
            "user_id",
            format!(
                "User '{}' is not a member of the organization; only members can join groups",
                body.user_id
            ),
        ));
    }
    if g.members.contains_key(&body.user_id) {
        return Err(ApiError::duplicate(
            "user_id",
            format!("User '{}' is already in this group", body.user_id),
        ));
    }
    if let Some(g) = org.groups.get_mut(&group_id) {
        g.members.insert(body.user_id.clone(), now());
    }
    audit(
        &mut org,
        &actor,
        rules::GROUP_MEMBERSHIP_EVENT,
        &group_id,
        json!({"id": group_id, "changes_requested": {"user_added": body.user_id}}),
    );
    ok(json!({"object": "group.user", "user_id": body.user_id, "group_id": group_id}))
}

async fn retrieve(
    State(app): State<AppState>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    let g = find(&org, &group_id)?;
    if !g.members.contains_key(&user_id) {
        return Err(ApiError::not_found("group user", &user_id));
    }
    let user = org.users.get(&user_id);
    ok(json!({
        "id": user_id,
        "name": user.map(|u| u.name.clone()).unwrap_or_default(),
        "email": user.map(|u| u.email.clone()),
        "picture": null,
        "is_service_account": false,
        "user_type": "user",
    }))
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path((group_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    if !find(&org, &group_id)?.members.contains_key(&user_id) {
        return Err(ApiError::not_found("group user", &user_id));
    }
    if let Some(g) = org.groups.get_mut(&group_id) {
        g.members.shift_remove(&user_id);
    }
    audit(
        &mut org,
        &actor,
        rules::GROUP_MEMBERSHIP_EVENT,
        &group_id,
        json!({"id": group_id, "changes_requested": {"user_removed": user_id}}),
    );
    ok(json!({"object": "group.user.deleted", "deleted": true}))
}
