//! Project users: list (style A), add (org members only), retrieve, change role, remove.
//! Archived projects answer 400 (they have no users); the default project has no explicit
//! members (adding one is a 400, listing it is empty).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find_active, find_active_mut, reject_default};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, PageParams, PageRequest, QueryParams, ok,
    paginate,
};
use crate::emulator::state::{OrgState, ProjectUser, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/projects/{project_id}/users",
            get(list).post(add),
        )
        .route(
            "/organization/projects/{project_id}/users/{user_id}",
            get(retrieve).post(modify).delete(remove),
        )
}

/// The `ProjectUser` object (name and email from the org member).
pub fn project_user_json(org: &OrgState, user_id: &str, m: &ProjectUser) -> Value {
    let user = org.users.get(user_id);
    json!({
        "object": "organization.project.user",
        "id": user_id,
        "name": user.map(|u| u.name.clone()),
        "email": user.map(|u| u.email.clone()),
        "role": m.role,
        "added_at": m.added_at,
    })
}

fn check_role(role: &str) -> Result<(), ApiError> {
    match role {
        "owner" | "member" => Ok(()),
        other => Err(ApiError::invalid_param(
            "role",
            format!("Invalid role '{other}': must be 'owner' or 'member'"),
        )),
    }
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
    let page = paginate(&p.users, |_| true, &req)?;
    let data = page
        .items
        .iter()
        .map(|(id, m)| project_user_json(&org, id, m))
        .collect();
    ok(crate::emulator::http::list_a(data, page.has_more))
}

#[derive(Debug, Deserialize)]
struct AddBody {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    role: String,
}

async fn add(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<AddBody>,
) -> ApiResult {
    check_role(&body.role)?;
    let mut org = app.org();
    reject_default(find_active(&org, &project_id)?, "members")?;
    let user_id = match (&body.user_id, &body.email) {
        (Some(id), _) => org.users.get(id).map(|u| u.id.clone()),
        (None, Some(email)) => org.user_by_email(email).map(|u| u.id.clone()),
        (None, None) => {
            return Err(ApiError::invalid_param(
                "user_id",
                "One of 'user_id' or 'email' is required",
            ));
        }
    };
    let Some(user_id) = user_id else {
        return Err(ApiError::invalid_param(
            if body.user_id.is_some() {
                "user_id"
            } else {
                "email"
            },
            "Users must already be members of the organization to be added to a project",
        ));
    };
    let p = find_active_mut(&mut org, &project_id)?;
    if p.users.contains_key(&user_id) {
        return Err(ApiError::duplicate(
            "user_id",
            format!("User '{user_id}' is already a member of this project"),
        ));
    }
    let member = ProjectUser {
        role: body.role.clone(),
        added_at: now(),
        roles: Default::default(),
    };
    p.users.insert(user_id.clone(), member.clone());
    let rendered = project_user_json(&org, &user_id, &member);
    audit(
        &mut org,
        &actor,
        "user.added",
        &user_id,
        json!({"id": user_id, "data": {"role": body.role}}),
    );
    ok(rendered)
}

fn member<'a>(
    org: &'a OrgState,
    project_id: &str,
    user_id: &str,
) -> Result<&'a ProjectUser, ApiError> {
    find_active(org, project_id)?
        .users
        .get(user_id)
        .ok_or_else(|| ApiError::not_found("project user", user_id))
}

async fn retrieve(
    State(app): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    let m = member(&org, &project_id, &user_id)?;
    ok(project_user_json(&org, &user_id, m))
}

#[derive(Debug, Deserialize)]
struct ModifyBody {
    #[serde(default)]
    role: Option<String>,
}

async fn modify(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ModifyBody>,
) -> ApiResult {
    if let Some(role) = &body.role {
        check_role(role)?;
    }
    let mut org = app.org();
    member(&org, &project_id, &user_id)?;
    let p = find_active_mut(&mut org, &project_id)?;
    let m = p
        .users
        .get_mut(&user_id)
        .ok_or_else(|| ApiError::not_found("project user", &user_id))?;
    if let Some(role) = &body.role {
        m.role = role.clone();
    }
    let m = m.clone();
    let rendered = project_user_json(&org, &user_id, &m);
    audit(
        &mut org,
        &actor,
        "user.updated",
        &user_id,
        json!({"id": project_id, "changes_requested": {"role": m.role}}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    member(&org, &project_id, &user_id)?;
    find_active_mut(&mut org, &project_id)?
        .users
        .shift_remove(&user_id);
    audit(
        &mut org,
        &actor,
        "user.deleted",
        &user_id,
        json!({"id": user_id}),
    );
    ok(json!({"object": "organization.project.user.deleted", "id": user_id, "deleted": true}))
}
