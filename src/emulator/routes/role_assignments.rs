//! Role assignments, by id: organization roles of users (`/organization/users/{id}/roles`)
//! and groups (`/organization/groups/{id}/roles`), project roles of project users
//! (`/projects/{p}/users/{id}/roles`) and project groups (`/projects/{p}/groups/{id}/roles`).
//!
//! Each has list (style B, 0–1000, default 100, `order` default asc, in assignment order),
//! assign (`{role_id}`; the role must exist in the scope, else 400 naming `role_id`), retrieve
//! (`AssignedRoleDetails`) and unassign. No update: changing a role is unassign + assign.
//! Project assignments need the project membership / group grant first and an active project
//! (a behaviour choice documented in `rules`). Every change is audited as
//! `role.assignment.created` / `role.assignment.deleted`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find_active, find_active_mut};
use super::roles::{assigned_role_json, assignments_page, role_json};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_ROLE_ASSIGNMENTS, Order, PageParams, PageRequest,
    QueryParams, ok,
};
use crate::emulator::rules;
use crate::emulator::state::{Group, OrgState, Role, RoleAssignment, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/users/{user_id}/roles",
            get(list_user).post(assign_user),
        )
        .route(
            "/organization/users/{user_id}/roles/{role_id}",
            get(retrieve_user).delete(unassign_user),
        )
        .route(
            "/organization/groups/{group_id}/roles",
            get(list_group).post(assign_group),
        )
        .route(
            "/organization/groups/{group_id}/roles/{role_id}",
            get(retrieve_group).delete(unassign_group),
        )
        .route(
            "/projects/{project_id}/users/{user_id}/roles",
            get(list_project_user).post(assign_project_user),
        )
        .route(
            "/projects/{project_id}/users/{user_id}/roles/{role_id}",
            get(retrieve_project_user).delete(unassign_project_user),
        )
        .route(
            "/projects/{project_id}/groups/{group_id}/roles",
            get(list_project_group).post(assign_project_group),
        )
        .route(
            "/projects/{project_id}/groups/{group_id}/roles/{role_id}",
            get(retrieve_project_group).delete(unassign_project_group),
        )
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_ROLE_ASSIGNMENTS,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: true,
};

#[derive(Debug, Deserialize)]
struct AssignBody {
    role_id: String,
}

/// The `Group` object embedded in `GroupRoleAssignment` (note `scim_managed`).
pub fn embedded_group_json(g: &Group) -> Value {
    json!({
        "object": "group",
        "id": g.id,
        "name": g.name,
        "created_at": g.created_at,
        "scim_managed": g.is_scim_managed,
    })
}

/// Where an assignment lives, for audit details.
struct Scope<'a> {
    principal_type: &'static str,
    principal_id: &'a str,
    resource_type: &'static str,
    resource_id: &'a str,
}

fn audit_assignment(
    org: &mut OrgState,
    actor: &Actor,
    event_type: &str,
    role_id: &str,
    s: &Scope<'_>,
) {
    audit(
        org,
        actor,
        event_type,
        role_id,
        json!({"id": role_id, "principal_id": s.principal_id, "principal_type": s.principal_type,
               "resource_id": s.resource_id, "resource_type": s.resource_type}),
    );
}

/// The role a body names: it must be one of `roles` (the scope's roles).
fn role_for_assignment<'a>(
    roles: &'a IndexMap<String, Role>,
    role_id: &str,
) -> Result<&'a Role, ApiError> {
    roles.get(role_id).ok_or_else(|| {
        ApiError::invalid_param(
            "role_id",
            format!("No such role in this scope: '{role_id}'"),
        )
    })
}

/// Adds `role_id` to `assignments`; 400 when already there.
fn insert_assignment(
    assignments: &mut IndexMap<String, RoleAssignment>,
    role_id: &str,
    actor: &Actor,
) -> Result<(), ApiError> {
    if assignments.contains_key(role_id) {
        return Err(ApiError::new(
            rules::DUPLICATE_ASSIGNMENT_STATUS,
            "invalid_request_error",
            format!("Role '{role_id}' is already assigned"),
        )
        .with_param("role_id"));
    }
    assignments.insert(
        role_id.to_string(),
        RoleAssignment {
            created_at: now(),
            created_by: actor.user_id(),
        },
    );
    Ok(())
}

fn assigned<'a>(
    assignments: &IndexMap<String, RoleAssignment>,
    roles: &'a IndexMap<String, Role>,
    role_id: &str,
) -> Result<&'a Role, ApiError> {
    if !assignments.contains_key(role_id) {
        return Err(ApiError::not_found("role assignment", role_id));
    }
    roles
        .get(role_id)
        .ok_or_else(|| ApiError::not_found("role", role_id))
}

fn find_group<'a>(org: &'a OrgState, group_id: &str) -> Result<&'a Group, ApiError> {
    org.groups
        .get(group_id)
        .ok_or_else(|| ApiError::not_found("group", group_id))
}

// --- users: organization roles --------------------------------------------------------

async fn list_user(
    State(app): State<AppState>,
    Path(user_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let user = super::users::find(&org, &user_id)?;
    ok(assignments_page(
        &org,
        &user.roles,
        &org.roles,
        &req,
        "user",
        &user_id,
    )?)
}

async fn assign_user(
    State(app): State<AppState>,
    actor: Actor,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    let mut org = app.org();
    super::users::find(&org, &user_id)?;
    let role = role_for_assignment(&org.roles, &body.role_id)?.clone();
    let user = org
        .users
        .get_mut(&user_id)
        .ok_or_else(|| ApiError::not_found("user", &user_id))?;
    insert_assignment(&mut user.roles, &role.id, &actor)?;
    let rendered = json!({
        "object": "user.role",
        "user": super::users::user_json(user),
        "role": role_json(&role),
    });
    let scope = Scope {
        principal_type: "user",
        principal_id: &user_id,
        resource_type: "api.organization",
        resource_id: rules::ORGANIZATION_ID,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.created",
        &role.id,
        &scope,
    );
    ok(rendered)
}

async fn retrieve_user(
    State(app): State<AppState>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    let user = super::users::find(&org, &user_id)?;
    let role = assigned(&user.roles, &org.roles, &role_id)?;
    ok(assigned_role_json(&org, role, "user", &user_id))
}

async fn unassign_user(
    State(app): State<AppState>,
    actor: Actor,
    Path((user_id, role_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let user = super::users::find(&org, &user_id)?;
    assigned(&user.roles, &org.roles, &role_id)?;
    if let Some(u) = org.users.get_mut(&user_id) {
        u.roles.shift_remove(&role_id);
    }
    let scope = Scope {
        principal_type: "user",
        principal_id: &user_id,
        resource_type: "api.organization",
        resource_id: rules::ORGANIZATION_ID,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.deleted",
        &role_id,
        &scope,
    );
    ok(json!({"object": "user.role.deleted", "deleted": true}))
}

// --- groups: organization roles -------------------------------------------------------

async fn list_group(
    State(app): State<AppState>,
    Path(group_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let group = find_group(&org, &group_id)?;
    ok(assignments_page(
        &org,
        &group.roles,
        &org.roles,
        &req,
        "group",
        &group_id,
    )?)
}

async fn assign_group(
    State(app): State<AppState>,
    actor: Actor,
    Path(group_id): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    let mut org = app.org();
    find_group(&org, &group_id)?;
    let role = role_for_assignment(&org.roles, &body.role_id)?.clone();
    let group = org
        .groups
        .get_mut(&group_id)
        .ok_or_else(|| ApiError::not_found("group", &group_id))?;
    insert_assignment(&mut group.roles, &role.id, &actor)?;
    let rendered = json!({
        "object": "group.role",
        "group": embedded_group_json(group),
        "role": role_json(&role),
    });
    let scope = Scope {
        principal_type: "group",
        principal_id: &group_id,
        resource_type: "api.organization",
        resource_id: rules::ORGANIZATION_ID,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.created",
        &role.id,
        &scope,
    );
    ok(rendered)
}

async fn retrieve_group(
    State(app): State<AppState>,
    Path((group_id, role_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    let group = find_group(&org, &group_id)?;
    let role = assigned(&group.roles, &org.roles, &role_id)?;
    ok(assigned_role_json(&org, role, "group", &group_id))
}

async fn unassign_group(
    State(app): State<AppState>,
    actor: Actor,
    Path((group_id, role_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let group = find_group(&org, &group_id)?;
    assigned(&group.roles, &org.roles, &role_id)?;
    if let Some(g) = org.groups.get_mut(&group_id) {
        g.roles.shift_remove(&role_id);
    }
    let scope = Scope {
        principal_type: "group",
        principal_id: &group_id,
        resource_type: "api.organization",
        resource_id: rules::ORGANIZATION_ID,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.deleted",
        &role_id,
        &scope,
    );
    ok(json!({"object": "group.role.deleted", "deleted": true}))
}

// --- project users: project roles -----------------------------------------------------

/// The project user's assignments; 400 on an archived project, 404 when the user is not a
/// member of the project.
fn project_user_roles<'a>(
    org: &'a OrgState,
    project_id: &str,
    user_id: &str,
) -> Result<&'a IndexMap<String, RoleAssignment>, ApiError> {
    let p = find_active(org, project_id)?;
    p.users
        .get(user_id)
        .map(|m| &m.roles)
        .ok_or_else(|| ApiError::not_found("project user", user_id))
}

async fn list_project_user(
    State(app): State<AppState>,
    Path((project_id, user_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let assignments = project_user_roles(&org, &project_id, &user_id)?;
    let roles = &find_active(&org, &project_id)?.roles;
    ok(assignments_page(
        &org,
        assignments,
        roles,
        &req,
        "user",
        &user_id,
    )?)
}

async fn assign_project_user(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    let mut org = app.org();
    project_user_roles(&org, &project_id, &user_id)?;
    let role = role_for_assignment(&find_active(&org, &project_id)?.roles, &body.role_id)?.clone();
    let member = find_active_mut(&mut org, &project_id)?
        .users
        .get_mut(&user_id)
        .ok_or_else(|| ApiError::not_found("project user", &user_id))?;
    insert_assignment(&mut member.roles, &role.id, &actor)?;
    let user = super::users::find(&org, &user_id)?;
    let rendered = json!({
        "object": "user.role",
        "user": super::users::user_json(user),
        "role": role_json(&role),
    });
    let scope = Scope {
        principal_type: "user",
        principal_id: &user_id,
        resource_type: "api.project",
        resource_id: &project_id,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.created",
        &role.id,
        &scope,
    );
    ok(rendered)
}

async fn retrieve_project_user(
    State(app): State<AppState>,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> ApiResult {
    let org = app.org();
    let assignments = project_user_roles(&org, &project_id, &user_id)?;
    let role = assigned(
        assignments,
        &find_active(&org, &project_id)?.roles,
        &role_id,
    )?;
    ok(assigned_role_json(&org, role, "user", &user_id))
}

async fn unassign_project_user(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let assignments = project_user_roles(&org, &project_id, &user_id)?;
    assigned(
        assignments,
        &find_active(&org, &project_id)?.roles,
        &role_id,
    )?;
    if let Some(m) = find_active_mut(&mut org, &project_id)?
        .users
        .get_mut(&user_id)
    {
        m.roles.shift_remove(&role_id);
    }
    let scope = Scope {
        principal_type: "user",
        principal_id: &user_id,
        resource_type: "api.project",
        resource_id: &project_id,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.deleted",
        &role_id,
        &scope,
    );
    ok(json!({"object": "user.role.deleted", "deleted": true}))
}

// --- project groups: project roles ----------------------------------------------------

/// The project group's assignments; 400 on an archived project, 404 when the group has not
/// been granted the project.
fn project_group_roles<'a>(
    org: &'a OrgState,
    project_id: &str,
    group_id: &str,
) -> Result<&'a IndexMap<String, RoleAssignment>, ApiError> {
    let p = find_active(org, project_id)?;
    p.groups
        .get(group_id)
        .map(|g| &g.roles)
        .ok_or_else(|| ApiError::not_found("project group", group_id))
}

async fn list_project_group(
    State(app): State<AppState>,
    Path((project_id, group_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let assignments = project_group_roles(&org, &project_id, &group_id)?;
    let roles = &find_active(&org, &project_id)?.roles;
    ok(assignments_page(
        &org,
        assignments,
        roles,
        &req,
        "group",
        &group_id,
    )?)
}

async fn assign_project_group(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, group_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    let mut org = app.org();
    project_group_roles(&org, &project_id, &group_id)?;
    let role = role_for_assignment(&find_active(&org, &project_id)?.roles, &body.role_id)?.clone();
    let grant = find_active_mut(&mut org, &project_id)?
        .groups
        .get_mut(&group_id)
        .ok_or_else(|| ApiError::not_found("project group", &group_id))?;
    insert_assignment(&mut grant.roles, &role.id, &actor)?;
    let group = find_group(&org, &group_id)?;
    let rendered = json!({
        "object": "group.role",
        "group": embedded_group_json(group),
        "role": role_json(&role),
    });
    let scope = Scope {
        principal_type: "group",
        principal_id: &group_id,
        resource_type: "api.project",
        resource_id: &project_id,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.created",
        &role.id,
        &scope,
    );
    ok(rendered)
}

async fn retrieve_project_group(
    State(app): State<AppState>,
    Path((project_id, group_id, role_id)): Path<(String, String, String)>,
) -> ApiResult {
    let org = app.org();
    let assignments = project_group_roles(&org, &project_id, &group_id)?;
    let role = assigned(
        assignments,
        &find_active(&org, &project_id)?.roles,
        &role_id,
    )?;
    ok(assigned_role_json(&org, role, "group", &group_id))
}

async fn unassign_project_group(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, group_id, role_id)): Path<(String, String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let assignments = project_group_roles(&org, &project_id, &group_id)?;
    assigned(
        assignments,
        &find_active(&org, &project_id)?.roles,
        &role_id,
    )?;
    if let Some(g) = find_active_mut(&mut org, &project_id)?
        .groups
        .get_mut(&group_id)
    {
        g.roles.shift_remove(&role_id);
    }
    let scope = Scope {
        principal_type: "group",
        principal_id: &group_id,
        resource_type: "api.project",
        resource_id: &project_id,
    };
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.deleted",
        &role_id,
        &scope,
    );
    ok(json!({"object": "group.role.deleted", "deleted": true}))
}
