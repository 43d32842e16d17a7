//! Data retention controls: organization and project singletons (retrieve, update; no
//! delete). Project reads work on archived projects, updates do not (see `rules`). Updates are audited as
//! `rules::ORG_SETTINGS_EVENT` / `rules::PROJECT_SETTINGS_EVENT`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::projects::{find, find_active_mut};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{ApiError, ApiResult, JsonBody, ok};
use crate::emulator::rules;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/data_retention",
            get(retrieve_org).post(update_org),
        )
        .route(
            "/organization/projects/{project_id}/data_retention",
            get(retrieve_project).post(update_project),
        )
}

/// Organization retention types (`UpdateOrganizationDataRetentionBody.retention_type`).
pub const ORG_RETENTION_TYPES: &[&str] = &[
    "zero_data_retention",
    "modified_abuse_monitoring",
    "enhanced_zero_data_retention",
    "enhanced_modified_abuse_monitoring",
];

/// Project retention types: the organization's plus `organization_default` and `none`.
pub const PROJECT_RETENTION_TYPES: &[&str] = &[
    "organization_default",
    "none",
    "zero_data_retention",
    "modified_abuse_monitoring",
    "enhanced_zero_data_retention",
    "enhanced_modified_abuse_monitoring",
];

#[derive(Debug, Deserialize)]
struct UpdateBody {
    retention_type: String,
}

fn check(value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ApiError::invalid_param(
        "retention_type",
        format!(
            "Invalid 'retention_type': '{value}'. Expected one of {}.",
            allowed.join(", ")
        ),
    ))
}

async fn retrieve_org(State(app): State<AppState>) -> ApiResult {
    let org = app.org();
    ok(json!({"object": "organization.data_retention", "type": org.data_retention}))
}

async fn update_org(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    check(&body.retention_type, ORG_RETENTION_TYPES)?;
    let mut org = app.org();
    org.data_retention = body.retention_type.clone();
    audit(
        &mut org,
        &actor,
        rules::ORG_SETTINGS_EVENT,
        rules::ORGANIZATION_ID,
        json!({"id": rules::ORGANIZATION_ID,
               "changes_requested": {"data_retention": body.retention_type}}),
    );
    ok(json!({"object": "organization.data_retention", "type": body.retention_type}))
}

async fn retrieve_project(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
) -> ApiResult {
    let org = app.org();
    let p = find(&org, &project_id)?;
    ok(json!({"object": "project.data_retention", "type": p.data_retention}))
}

async fn update_project(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    check(&body.retention_type, PROJECT_RETENTION_TYPES)?;
    let mut org = app.org();
    find_active_mut(&mut org, &project_id)?.data_retention = body.retention_type.clone();
    audit(
        &mut org,
        &actor,
        rules::PROJECT_SETTINGS_EVENT,
        &project_id,
        json!({"id": project_id,
               "changes_requested": {"data_retention": body.retention_type}}),
    );
    ok(json!({"object": "project.data_retention", "type": body.retention_type}))
}
