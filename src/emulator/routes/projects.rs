//! Projects: list (style A, `include_archived`), create, retrieve, modify, archive.
//!
//! Projects are never deleted; archive is irreversible. The default project cannot be
//! modified or archived (400). Helpers here ([`find`], [`find_active`]) are shared by every
//! project sub-resource family.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, PageParams, PageRequest, QueryParams, ok, page_a,
};
use crate::emulator::rules;
use crate::emulator::state::{OrgState, Project, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/projects", get(list).post(create))
        .route(
            "/organization/projects/{project_id}",
            get(retrieve).post(modify),
        )
        .route("/organization/projects/{project_id}/archive", post(archive))
}

/// The residency values: the spec's `PublicProjectResidency` and the three the SDK adds
/// (3.63.0 `ProjectResidency`: `JP_`, `IN_`, `AU_STORAGE_PROCESSING`).
pub const RESIDENCIES: &[&str] = &[
    "GLOBAL",
    "US_STORAGE_PROCESSING",
    "EU_STORAGE_PROCESSING",
    "JP_STORAGE",
    "JP_STORAGE_PROCESSING",
    "KR_STORAGE",
    "CA_STORAGE",
    "SG_STORAGE",
    "IN_STORAGE",
    "IN_STORAGE_PROCESSING",
    "AU_STORAGE",
    "AU_STORAGE_PROCESSING",
    "GB_STORAGE",
    "AE_STORAGE",
    "AE_STORAGE_PROCESSING",
];

/// The deprecated `geography` (SDK 3.63.0 `ProjectCreateParams`, `ProjectUpdateParams`: a
/// free string, "use `residency` instead"): kept on the project, never answered (the SDK's
/// `Project` has no such field). Blank is a 400.
fn checked_geography(geography: Option<&str>) -> Result<Option<String>, ApiError> {
    match geography.map(str::trim) {
        Some("") => Err(ApiError::invalid_param(
            "geography",
            "Invalid 'geography': it must not be empty.",
        )),
        other => Ok(other.map(str::to_string)),
    }
}

pub fn project_json(p: &Project) -> Value {
    let mut v = json!({
        "id": p.id,
        "object": "organization.project",
        "name": p.name,
        "created_at": p.created_at,
        "archived_at": p.archived_at,
        "status": p.status(),
        "external_key_id": p.external_key_id,
    });
    if let Some(r) = &p.residency {
        v["residency"] = json!(r);
    }
    v
}

pub fn find<'a>(org: &'a OrgState, project_id: &str) -> Result<&'a Project, ApiError> {
    org.projects
        .get(project_id)
        .ok_or_else(|| ApiError::not_found("project", project_id))
}

pub fn find_mut<'a>(org: &'a mut OrgState, project_id: &str) -> Result<&'a mut Project, ApiError> {
    org.projects
        .get_mut(project_id)
        .ok_or_else(|| ApiError::not_found("project", project_id))
}

/// 404 if missing, 400 if archived ("archived projects cannot be used or updated").
pub fn find_active<'a>(org: &'a OrgState, project_id: &str) -> Result<&'a Project, ApiError> {
    let p = find(org, project_id)?;
    if p.is_archived() {
        return Err(ApiError::bad_request(format!(
            "Project '{project_id}' is archived"
        )));
    }
    Ok(p)
}

pub fn find_active_mut<'a>(
    org: &'a mut OrgState,
    project_id: &str,
) -> Result<&'a mut Project, ApiError> {
    find_active(org, project_id)?;
    find_mut(org, project_id)
}

/// 400 for the default project, which has no explicit members or service accounts.
pub fn reject_default(p: &Project, what: &str) -> Result<(), ApiError> {
    if p.is_default {
        return Err(ApiError::bad_request(format!(
            "The default project cannot have {what}"
        )));
    }
    Ok(())
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: None,
    before: false,
    opaque_cursor: false,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let include_archived = q.bool("include_archived")?.unwrap_or(false);
    let org = app.org();
    ok(page_a(
        &org.projects,
        |p| include_archived || !p.is_archived(),
        &req,
        project_json,
    )?)
}

async fn retrieve(State(app): State<AppState>, Path(project_id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(project_json(find(&org, &project_id)?))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    residency: Option<String>,
    #[serde(default)]
    external_key_id: Option<String>,
    /// SDK only, deprecated.
    #[serde(default)]
    geography: Option<String>,
}

async fn create(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let name = body.name.trim().to_string();
    if name.is_empty() {
        return Err(ApiError::invalid_param(
            "name",
            "The project name must not be empty",
        ));
    }
    if let Some(r) = &body.residency
        && !RESIDENCIES.contains(&r.as_str())
    {
        return Err(ApiError::invalid_param(
            "residency",
            format!("Invalid residency '{r}'"),
        ));
    }
    let geography = checked_geography(body.geography.as_deref())?;
    // "Do not provide both `geography` and `residency`."
    if geography.is_some() && body.residency.is_some() {
        return Err(ApiError::invalid_param(
            "geography",
            "Do not provide both 'geography' and 'residency'; 'geography' is deprecated, use 'residency'.",
        ));
    }
    let mut org = app.org();
    let id = org.add_project(&name, false, body.residency, body.external_key_id);
    find_mut(&mut org, &id)?.geography = geography;
    let rendered = project_json(find(&org, &id)?);
    audit(
        &mut org,
        &actor,
        "project.created",
        &id,
        json!({"id": id, "data": {"name": name, "title": name}}),
    );
    ok(rendered)
}

#[derive(Debug, Deserialize)]
struct ModifyBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    external_key_id: Option<String>,
    /// SDK only, deprecated ("retained for backward compatibility").
    #[serde(default)]
    geography: Option<String>,
}

async fn modify(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<ModifyBody>,
) -> ApiResult {
    let geography = checked_geography(body.geography.as_deref())?;
    let mut org = app.org();
    let p = find_active(&org, &project_id)?;
    if p.is_default {
        return Err(ApiError::bad_request(
            "The default project cannot be modified",
        ));
    }
    if let Some(name) = &body.name
        && name.trim().is_empty()
    {
        return Err(ApiError::invalid_param(
            "name",
            "The project name must not be empty",
        ));
    }
    let p = find_mut(&mut org, &project_id)?;
    if let Some(name) = &body.name {
        p.name = name.trim().to_string();
    }
    if body.external_key_id.is_some() {
        p.external_key_id = body.external_key_id.clone();
    }
    if geography.is_some() {
        p.geography = geography;
    }
    let rendered = project_json(p);
    let changes = match &body.name {
        Some(n) => json!({"title": n.trim()}),
        None => json!({}),
    };
    audit(
        &mut org,
        &actor,
        "project.updated",
        &project_id,
        json!({"id": project_id, "changes_requested": changes}),
    );
    ok(rendered)
}

async fn archive(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    let p = find_mut(&mut org, &project_id)?;
    if p.is_default && !rules::DEFAULT_PROJECT_ARCHIVABLE {
        return Err(ApiError::bad_request(
            "The default project cannot be archived",
        ));
    }
    if p.is_archived() {
        // Archiving is idempotent: the project stays as it was archived.
        return ok(project_json(p));
    }
    p.archived_at = Some(now());
    rules::on_project_archived(p);
    let rendered = project_json(p);
    audit(
        &mut org,
        &actor,
        "project.archived",
        &project_id,
        json!({"id": project_id}),
    );
    ok(rendered)
}
