//! Project groups: list (style B, 0–100, default 20, `order` default asc, in grant order),
//! add (`{group_id, role}` where `role` is a project role id of the project), retrieve
//! (`group_type` query, default `group`) and remove. No update: a different role is remove +
//! add, or the project group-role endpoints.
//!
//! Archived projects answer 400 (they have no groups); the default project cannot be granted
//! to groups (`rules::DEFAULT_PROJECT_TAKES_GROUPS`). Grants are audited as
//! `role.assignment.created` / `role.assignment.deleted` of the membership role.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find_active, find_active_mut, reject_default};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_b,
};
use crate::emulator::rules;
use crate::emulator::state::{OrgState, ProjectGroup, RoleAssignment, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/projects/{project_id}/groups",
            get(list).post(add),
        )
        .route(
            "/organization/projects/{project_id}/groups/{group_id}",
            get(retrieve).delete(remove),
        )
}

/// The `ProjectGroup` object.
fn project_group_json(org: &OrgState, project_id: &str, group_id: &str, g: &ProjectGroup) -> Value {
    json!({
        "object": "project.group",
        "project_id": project_id,
        "group_id": group_id,
        "group_name": org.groups.get(group_id).map(|g| g.name.clone()).unwrap_or_default(),
        "group_type": "group",
        "created_at": g.created_at,
    })
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_100_20,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: true,
};

async fn list(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let p = find_active(&org, &project_id)?;
    ok(page_b(
        &p.groups,
        |_| true,
        &req,
        |group_id, g| project_group_json(&org, &project_id, group_id, g),
    )?)
}

#[derive(Debug, Deserialize)]
struct AddBody {
    group_id: String,
    role: String,
}

async fn add(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<AddBody>,
) -> ApiResult {
    let mut org = app.org();
    let p = find_active(&org, &project_id)?;
    if !rules::DEFAULT_PROJECT_TAKES_GROUPS {
        reject_default(p, "groups")?;
    }
    if !org.groups.contains_key(&body.group_id) {
        return Err(ApiError::invalid_param(
            "group_id",
            format!("No such group: '{}'", body.group_id),
        ));
    }
    if !p.roles.contains_key(&body.role) {
        return Err(ApiError::invalid_param(
            "role",
            format!("'{}' is not a role of this project", body.role),
        ));
    }
    if p.groups.contains_key(&body.group_id) {
        return Err(ApiError::duplicate(
            "group_id",
            format!(
                "Group '{}' already has access to this project",
                body.group_id
            ),
        ));
    }
    // The role given here is the group's first role assignment in the project: listed by
    // `GET /projects/{id}/groups/{group}/roles` (see `rules`).
    let created_at = now();
    let grant = ProjectGroup {
        created_at,
        roles: [(
            body.role.clone(),
            RoleAssignment {
                created_at,
                created_by: actor.user_id(),
            },
        )]
        .into_iter()
        .collect(),
    };
    find_active_mut(&mut org, &project_id)?
        .groups
        .insert(body.group_id.clone(), grant.clone());
    let rendered = project_group_json(&org, &project_id, &body.group_id, &grant);
    audit(
        &mut org,
        &actor,
        "role.assignment.created",
        &body.role,
        json!({"id": body.role, "principal_id": body.group_id, "principal_type": "group",
               "resource_id": project_id, "resource_type": "api.project"}),
    );
    ok(rendered)
}

async fn retrieve(
    State(app): State<AppState>,
    Path((project_id, group_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult {
    match q.get("group_type") {
        None | Some("group") => {}
        // Tenant groups do not exist in the emulated organization.
        Some("tenant_group") => return Err(ApiError::not_found("project group", &group_id)),
        Some(other) => {
            return Err(ApiError::invalid_param(
                "group_type",
                format!("Invalid 'group_type': '{other}'. Expected 'group' or 'tenant_group'."),
            ));
        }
    }
    let org = app.org();
    let p = find_active(&org, &project_id)?;
    let g = p
        .groups
        .get(&group_id)
        .ok_or_else(|| ApiError::not_found("project group", &group_id))?;
    ok(project_group_json(&org, &project_id, &group_id, g))
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, group_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let grant = find_active_mut(&mut org, &project_id)?
        .groups
        .shift_remove(&group_id)
        .ok_or_else(|| ApiError::not_found("project group", &group_id))?;
    audit(
        &mut org,
        &actor,
        "role.assignment.deleted",
        grant.membership_role(),
        json!({"id": grant.membership_role(), "principal_id": group_id, "principal_type": "group",
               "resource_id": project_id, "resource_type": "api.project"}),
    );
    ok(json!({"object": "project.group.deleted", "deleted": true}))
}
