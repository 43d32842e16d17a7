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

/// A principal's assignments and the roles of its scope (organization or project).
type HeldRoles<'a> = (
    &'a IndexMap<String, RoleAssignment>,
    &'a IndexMap<String, Role>,
);

/// Where a principal's assignments live: the four families differ only in this.
#[derive(Clone, Copy)]
enum Holder<'a> {
    /// Organization roles of a user.
    User(&'a str),
    /// Organization roles of a group.
    Group(&'a str),
    /// Project roles of a project member (400 on an archived project, 404 when the user is
    /// not a member of it).
    ProjectUser { project: &'a str, user: &'a str },
    /// Project roles of a group granted the project (404 when it was not).
    ProjectGroup { project: &'a str, group: &'a str },
}

impl<'a> Holder<'a> {
    fn principal_type(self) -> &'static str {
        match self {
            Holder::User(_) | Holder::ProjectUser { .. } => "user",
            Holder::Group(_) | Holder::ProjectGroup { .. } => "group",
        }
    }

    fn principal_id(self) -> &'a str {
        match self {
            Holder::User(id) | Holder::Group(id) => id,
            Holder::ProjectUser { user, .. } => user,
            Holder::ProjectGroup { group, .. } => group,
        }
    }

    fn scope(self) -> Scope<'a> {
        let (resource_type, resource_id) = match self {
            Holder::User(_) | Holder::Group(_) => ("api.organization", rules::ORGANIZATION_ID),
            Holder::ProjectUser { project, .. } | Holder::ProjectGroup { project, .. } => {
                ("api.project", project)
            }
        };
        Scope {
            principal_type: self.principal_type(),
            principal_id: self.principal_id(),
            resource_type,
            resource_id,
        }
    }

    /// The principal's assignments and the roles of its scope, or why they are not there.
    fn read(self, org: &'a OrgState) -> Result<HeldRoles<'a>, ApiError> {
        Ok(match self {
            Holder::User(id) => (&super::users::find(org, id)?.roles, &org.roles),
            Holder::Group(id) => (&find_group(org, id)?.roles, &org.roles),
            Holder::ProjectUser { project, user } => {
                let p = find_active(org, project)?;
                let member = p
                    .users
                    .get(user)
                    .ok_or_else(|| ApiError::not_found("project user", user))?;
                (&member.roles, &p.roles)
            }
            Holder::ProjectGroup { project, group } => {
                let p = find_active(org, project)?;
                let grant = p
                    .groups
                    .get(group)
                    .ok_or_else(|| ApiError::not_found("project group", group))?;
                (&grant.roles, &p.roles)
            }
        })
    }

    fn assignments_mut(
        self,
        org: &mut OrgState,
    ) -> Result<&mut IndexMap<String, RoleAssignment>, ApiError> {
        Ok(match self {
            Holder::User(id) => {
                &mut org
                    .users
                    .get_mut(id)
                    .ok_or_else(|| ApiError::not_found("user", id))?
                    .roles
            }
            Holder::Group(id) => {
                &mut org
                    .groups
                    .get_mut(id)
                    .ok_or_else(|| ApiError::not_found("group", id))?
                    .roles
            }
            Holder::ProjectUser { project, user } => {
                &mut find_active_mut(org, project)?
                    .users
                    .get_mut(user)
                    .ok_or_else(|| ApiError::not_found("project user", user))?
                    .roles
            }
            Holder::ProjectGroup { project, group } => {
                &mut find_active_mut(org, project)?
                    .groups
                    .get_mut(group)
                    .ok_or_else(|| ApiError::not_found("project group", group))?
                    .roles
            }
        })
    }

    /// `UserRoleAssignment` / `GroupRoleAssignment` for `role`.
    fn assignment_json(self, org: &OrgState, role: &Role) -> Result<Value, ApiError> {
        Ok(match self {
            Holder::User(id) | Holder::ProjectUser { user: id, .. } => json!({
                "object": "user.role",
                "user": super::users::user_json(super::users::find(org, id)?),
                "role": role_json(role),
            }),
            Holder::Group(id) | Holder::ProjectGroup { group: id, .. } => json!({
                "object": "group.role",
                "group": embedded_group_json(find_group(org, id)?),
                "role": role_json(role),
            }),
        })
    }
}

async fn list(app: AppState, holder: Holder<'_>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let (assignments, roles) = holder.read(&org)?;
    ok(assignments_page(
        &org,
        assignments,
        roles,
        &req,
        holder.principal_type(),
        holder.principal_id(),
    )?)
}

async fn assign(app: AppState, actor: Actor, holder: Holder<'_>, body: AssignBody) -> ApiResult {
    let mut org = app.org();
    let (_, roles) = holder.read(&org)?;
    let role = role_for_assignment(roles, &body.role_id)?.clone();
    insert_assignment(holder.assignments_mut(&mut org)?, &role.id, &actor)?;
    let rendered = holder.assignment_json(&org, &role)?;
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.created",
        &role.id,
        &holder.scope(),
    );
    ok(rendered)
}

async fn retrieve(app: AppState, holder: Holder<'_>, role_id: &str) -> ApiResult {
    let org = app.org();
    let (assignments, roles) = holder.read(&org)?;
    let role = assigned(assignments, roles, role_id)?;
    ok(assigned_role_json(
        &org,
        role,
        holder.principal_type(),
        holder.principal_id(),
    ))
}

async fn unassign(app: AppState, actor: Actor, holder: Holder<'_>, role_id: &str) -> ApiResult {
    let mut org = app.org();
    let (assignments, roles) = holder.read(&org)?;
    assigned(assignments, roles, role_id)?;
    holder.assignments_mut(&mut org)?.shift_remove(role_id);
    audit_assignment(
        &mut org,
        &actor,
        "role.assignment.deleted",
        role_id,
        &holder.scope(),
    );
    ok(json!({"object": format!("{}.role.deleted", holder.principal_type()), "deleted": true}))
}

// --- the routes: path extraction only ---------------------------------------------------

async fn list_user(
    State(app): State<AppState>,
    Path(user): Path<String>,
    q: QueryParams,
) -> ApiResult {
    list(app, Holder::User(&user), q).await
}

async fn assign_user(
    State(app): State<AppState>,
    actor: Actor,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    assign(app, actor, Holder::User(&user), body).await
}

async fn retrieve_user(
    State(app): State<AppState>,
    Path((user, role)): Path<(String, String)>,
) -> ApiResult {
    retrieve(app, Holder::User(&user), &role).await
}

async fn unassign_user(
    State(app): State<AppState>,
    actor: Actor,
    Path((user, role)): Path<(String, String)>,
) -> ApiResult {
    unassign(app, actor, Holder::User(&user), &role).await
}

async fn list_group(
    State(app): State<AppState>,
    Path(group): Path<String>,
    q: QueryParams,
) -> ApiResult {
    list(app, Holder::Group(&group), q).await
}

async fn assign_group(
    State(app): State<AppState>,
    actor: Actor,
    Path(group): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    assign(app, actor, Holder::Group(&group), body).await
}

async fn retrieve_group(
    State(app): State<AppState>,
    Path((group, role)): Path<(String, String)>,
) -> ApiResult {
    retrieve(app, Holder::Group(&group), &role).await
}

async fn unassign_group(
    State(app): State<AppState>,
    actor: Actor,
    Path((group, role)): Path<(String, String)>,
) -> ApiResult {
    unassign(app, actor, Holder::Group(&group), &role).await
}

async fn list_project_user(
    State(app): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult {
    let holder = Holder::ProjectUser {
        project: &project,
        user: &user,
    };
    list(app, holder, q).await
}

async fn assign_project_user(
    State(app): State<AppState>,
    actor: Actor,
    Path((project, user)): Path<(String, String)>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    let holder = Holder::ProjectUser {
        project: &project,
        user: &user,
    };
    assign(app, actor, holder, body).await
}

async fn retrieve_project_user(
    State(app): State<AppState>,
    Path((project, user, role)): Path<(String, String, String)>,
) -> ApiResult {
    let holder = Holder::ProjectUser {
        project: &project,
        user: &user,
    };
    retrieve(app, holder, &role).await
}

async fn unassign_project_user(
    State(app): State<AppState>,
    actor: Actor,
    Path((project, user, role)): Path<(String, String, String)>,
) -> ApiResult {
    let holder = Holder::ProjectUser {
        project: &project,
        user: &user,
    };
    unassign(app, actor, holder, &role).await
}

async fn list_project_group(
    State(app): State<AppState>,
    Path((project, group)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult {
    let holder = Holder::ProjectGroup {
        project: &project,
        group: &group,
    };
    list(app, holder, q).await
}

async fn assign_project_group(
    State(app): State<AppState>,
    actor: Actor,
    Path((project, group)): Path<(String, String)>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult {
    let holder = Holder::ProjectGroup {
        project: &project,
        group: &group,
    };
    assign(app, actor, holder, body).await
}

async fn retrieve_project_group(
    State(app): State<AppState>,
    Path((project, group, role)): Path<(String, String, String)>,
) -> ApiResult {
    let holder = Holder::ProjectGroup {
        project: &project,
        group: &group,
    };
    retrieve(app, holder, &role).await
}

async fn unassign_project_group(
    State(app): State<AppState>,
    actor: Actor,
    Path((project, group, role)): Path<(String, String, String)>,
) -> ApiResult {
    let holder = Holder::ProjectGroup {
        project: &project,
        group: &group,
    };
    unassign(app, actor, holder, &role).await
}
