//! Roles: organization roles (`/organization/roles`) and project roles
//! (`/projects/{project_id}/roles`). Both lists are style B (0–1000, default 1000, `order`
//! default asc, creation order with the predefined roles first); create, retrieve, update in
//! place (`role_name`, `permissions`, `description`) and delete custom roles.
//!
//! Predefined roles cannot be modified or deleted and role names are unique per scope
//! (`rules`). Deleting a role removes its assignments (`rules::on_org_role_removed`,
//! `rules::on_project_role_removed`). The renderers here ([`role_json`],
//! [`assigned_role_json`]) are shared with the role-assignment endpoints.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find, find_active};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_1000_1000, Order, PageParams, PageRequest, QueryParams,
    ok, page_b,
};
use crate::emulator::rules;
use crate::emulator::state::{OrgState, Role, RoleAssignment, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/roles", get(list_org).post(create_org))
        .route(
            "/organization/roles/{role_id}",
            get(retrieve_org).post(update_org).delete(delete_org),
        )
        .route(
            "/projects/{project_id}/roles",
            get(list_project).post(create_project),
        )
        .route(
            "/projects/{project_id}/roles/{role_id}",
            get(retrieve_project)
                .post(update_project)
                .delete(delete_project),
        )
}

/// The `Role` object.
pub fn role_json(r: &Role) -> Value {
    json!({
        "object": "role",
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "permissions": r.permissions,
        "resource_type": r.resource_type,
        "predefined_role": r.predefined,
    })
}

/// The `AssignedRoleDetails` row of a role assigned to a principal (`principal_type` `user`
/// or `group`). Its timestamps and creator are the role's; `assignment_sources` names the
/// principal the role was assigned to directly.
pub fn assigned_role_json(
    org: &OrgState,
    r: &Role,
    principal_type: &str,
    principal_id: &str,
) -> Value {
    let created_by_user = r.created_by.as_ref().and_then(|id| {
        org.users
            .get(id)
            .map(|u| json!({"id": u.id, "email": u.email, "name": u.name}))
    });
    json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "permissions": r.permissions,
        "resource_type": r.resource_type,
        "predefined_role": r.predefined,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "created_by": r.created_by,
        "created_by_user_obj": created_by_user,
        "metadata": null,
        "assignment_sources": [{"principal_id": principal_id, "principal_type": principal_type}],
    })
}

/// Style B page of the roles a principal holds (`assignments`, keyed by role id), rendered
/// from `roles` (the scope's roles).
pub fn assignments_page(
    org: &OrgState,
    assignments: &IndexMap<String, RoleAssignment>,
    roles: &IndexMap<String, Role>,
    req: &PageRequest,
    principal_type: &str,
    principal_id: &str,
) -> Result<Value, ApiError> {
    page_b(
        assignments,
        |_| true,
        req,
        |role_id, _| match roles.get(role_id) {
            Some(r) => assigned_role_json(org, r, principal_type, principal_id),
            // Deleting a role removes its assignments; a dangling one cannot occur.
            None => json!({"id": role_id}),
        },
    )
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_1000_1000,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: true,
};

#[derive(Debug, Deserialize)]
struct CreateBody {
    role_name: String,
    permissions: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    #[serde(default)]
    role_name: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

fn clean_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid_param(
            "role_name",
            "The role name must not be empty",
        ));
    }
    Ok(name.to_string())
}

/// Role names are unique within their scope (documented: "Unique name").
fn check_unique(
    roles: &IndexMap<String, Role>,
    name: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    if roles
        .values()
        .any(|r| r.name == name && Some(r.id.as_str()) != except)
    {
        return Err(ApiError::duplicate(
            "role_name",
            format!("A role named '{name}' already exists"),
        ));
    }
    Ok(())
}

fn find_role<'a>(roles: &'a IndexMap<String, Role>, role_id: &str) -> Result<&'a Role, ApiError> {
    roles
        .get(role_id)
        .ok_or_else(|| ApiError::not_found("role", role_id))
}

fn check_mutable(r: &Role, action: &str) -> Result<(), ApiError> {
    if !rules::role_is_mutable(r) {
        return Err(ApiError::bad_request(format!(
            "Predefined role '{}' cannot be {action}",
            r.id
        )));
    }
    Ok(())
}

/// Applies an update to `r`; returns the `changes_requested` audit details.
fn apply_update(r: &mut Role, body: &UpdateBody, name: Option<String>) -> Value {
    let mut changes = json!({});
    if let Some(name) = name {
        changes["role_name"] = json!(name);
        r.name = name;
    }
    if let Some(perms) = &body.permissions {
        let added: Vec<&String> = perms
            .iter()
            .filter(|p| !r.permissions.contains(p))
            .collect();
        let removed: Vec<&String> = r
            .permissions
            .iter()
            .filter(|p| !perms.contains(p))
            .collect();
        changes["permissions_added"] = json!(added);
        changes["permissions_removed"] = json!(removed);
        r.permissions = perms.clone();
    }
    if let Some(d) = &body.description {
        changes["description"] = json!(d);
        r.description = Some(d.clone());
    }
    r.updated_at = now();
    changes
}

// --- organization roles ---------------------------------------------------------------

async fn list_org(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    ok(page_b(&org.roles, |_| true, &req, |_, r| role_json(r))?)
}

async fn create_org(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let name = clean_name(&body.role_name)?;
    let mut org = app.org();
    check_unique(&org.roles, &name, None)?;
    let role = org.new_role(
        &name,
        body.permissions,
        body.description,
        "api.organization",
        actor.user_id(),
    );
    org.roles.insert(role.id.clone(), role.clone());
    audit(
        &mut org,
        &actor,
        "role.created",
        &role.id,
        json!({"id": role.id, "role_name": role.name, "permissions": role.permissions,
               "resource_type": role.resource_type, "resource_id": rules::ORGANIZATION_ID}),
    );
    ok(role_json(&role))
}

async fn retrieve_org(State(app): State<AppState>, Path(role_id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(role_json(find_role(&org.roles, &role_id)?))
}

async fn update_org(
    State(app): State<AppState>,
    actor: Actor,
    Path(role_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    let mut org = app.org();
    check_mutable(find_role(&org.roles, &role_id)?, "modified")?;
    let name = body.role_name.as_deref().map(clean_name).transpose()?;
    if let Some(name) = &name {
        check_unique(&org.roles, name, Some(&role_id))?;
    }
    let r = org
        .roles
        .get_mut(&role_id)
        .ok_or_else(|| ApiError::not_found("role", &role_id))?;
    let mut changes = apply_update(r, &body, name);
    changes["resource_type"] = json!("api.organization");
    let rendered = role_json(r);
    audit(
        &mut org,
        &actor,
        "role.updated",
        &role_id,
        json!({"id": role_id, "changes_requested": changes}),
    );
    ok(rendered)
}

async fn delete_org(
    State(app): State<AppState>,
    actor: Actor,
    Path(role_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    check_mutable(find_role(&org.roles, &role_id)?, "deleted")?;
    org.roles.shift_remove(&role_id);
    rules::on_org_role_removed(&mut org, &role_id);
    audit(
        &mut org,
        &actor,
        "role.deleted",
        &role_id,
        json!({"id": role_id}),
    );
    ok(json!({"object": "role.deleted", "id": role_id, "deleted": true}))
}

// --- project roles --------------------------------------------------------------------

async fn list_project(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let p = find(&org, &project_id)?;
    ok(page_b(&p.roles, |_| true, &req, |_, r| role_json(r))?)
}

async fn create_project(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let name = clean_name(&body.role_name)?;
    let mut org = app.org();
    check_unique(&find_active(&org, &project_id)?.roles, &name, None)?;
    let role = org.new_role(
        &name,
        body.permissions,
        body.description,
        "api.project",
        actor.user_id(),
    );
    super::projects::find_mut(&mut org, &project_id)?
        .roles
        .insert(role.id.clone(), role.clone());
    audit(
        &mut org,
        &actor,
        "role.created",
        &role.id,
        json!({"id": role.id, "role_name": role.name, "permissions": role.permissions,
               "resource_type": role.resource_type, "resource_id": project_id}),
    );
    ok(role_json(&role))
}

async fn retrieve_project(
    State(app): State<AppState>,
    Path((project_id, role_id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    ok(role_json(find_role(
        &find(&org, &project_id)?.roles,
        &role_id,
    )?))
}

async fn update_project(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, role_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    let mut org = app.org();
    let p = find_active(&org, &project_id)?;
    check_mutable(find_role(&p.roles, &role_id)?, "modified")?;
    let name = body.role_name.as_deref().map(clean_name).transpose()?;
    if let Some(name) = &name {
        check_unique(&p.roles, name, Some(&role_id))?;
    }
    let r = super::projects::find_mut(&mut org, &project_id)?
        .roles
        .get_mut(&role_id)
        .ok_or_else(|| ApiError::not_found("role", &role_id))?;
    let mut changes = apply_update(r, &body, name);
    changes["resource_type"] = json!("api.project");
    changes["resource_id"] = json!(project_id);
    let rendered = role_json(r);
    audit(
        &mut org,
        &actor,
        "role.updated",
        &role_id,
        json!({"id": role_id, "changes_requested": changes}),
    );
    ok(rendered)
}

async fn delete_project(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, role_id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    check_mutable(
        find_role(&find_active(&org, &project_id)?.roles, &role_id)?,
        "deleted",
    )?;
    super::projects::find_mut(&mut org, &project_id)?
        .roles
        .shift_remove(&role_id);
    rules::on_project_role_removed(&mut org, &project_id, &role_id);
    audit(
        &mut org,
        &actor,
        "role.deleted",
        &role_id,
        json!({"id": role_id}),
    );
    ok(json!({"object": "role.deleted", "id": role_id, "deleted": true}))
}
