//! Project model permissions (retrieve, full replace, delete) and hosted-tool permissions
//! (retrieve, partial update). An unset model permission reads as
//! `rules::unset_model_permissions()`. Reads work on archived projects, writes do not.
//! Changes are audited as `rules::PROJECT_SETTINGS_EVENT`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find, find_active, find_active_mut};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{ApiError, ApiResult, JsonBody, ok};
use crate::emulator::rules;
use crate::emulator::state::{HostedTools, ModelPermissions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/projects/{project_id}/model_permissions",
            get(retrieve_models)
                .post(update_models)
                .delete(delete_models),
        )
        .route(
            "/organization/projects/{project_id}/hosted_tool_permissions",
            get(retrieve_tools).post(update_tools),
        )
}

fn model_permissions_json(m: &ModelPermissions) -> Value {
    json!({"object": "project.model_permissions", "mode": m.mode, "model_ids": m.model_ids})
}

/// `ProjectHostedToolPermissions`: every tool, `{enabled}` each (no `object` field).
fn hosted_tools_json(t: &HostedTools) -> Value {
    json!({
        "file_search": {"enabled": t.file_search},
        "web_search": {"enabled": t.web_search},
        "image_generation": {"enabled": t.image_generation},
        "mcp": {"enabled": t.mcp},
        "code_interpreter": {"enabled": t.code_interpreter},
    })
}

async fn retrieve_models(State(app): State<AppState>, Path(project_id): Path<String>) -> ApiResult {
    let org = app.org();
    let p = find(&org, &project_id)?;
    let unset = rules::unset_model_permissions();
    ok(model_permissions_json(
        p.model_permissions.as_ref().unwrap_or(&unset),
    ))
}

#[derive(Debug, Deserialize)]
struct ModelsBody {
    mode: String,
    model_ids: Vec<String>,
}

async fn update_models(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<ModelsBody>,
) -> ApiResult {
    if body.mode != "allow_list" && body.mode != "deny_list" {
        return Err(ApiError::invalid_param(
            "mode",
            format!(
                "Invalid 'mode': '{}'. Expected 'allow_list' or 'deny_list'.",
                body.mode
            ),
        ));
    }
    let mut model_ids: Vec<String> = Vec::with_capacity(body.model_ids.len());
    for id in body.model_ids {
        if id.trim().is_empty() {
            return Err(ApiError::invalid_param(
                "model_ids",
                "Model ids must not be empty",
            ));
        }
        if !model_ids.contains(&id) {
            model_ids.push(id);
        }
    }
    let permissions = ModelPermissions {
        mode: body.mode,
        model_ids,
    };
    let mut org = app.org();
    find_active_mut(&mut org, &project_id)?.model_permissions = Some(permissions.clone());
    let rendered = model_permissions_json(&permissions);
    audit(
        &mut org,
        &actor,
        rules::PROJECT_SETTINGS_EVENT,
        &project_id,
        json!({"id": project_id, "changes_requested": {"model_permissions": rendered}}),
    );
    ok(rendered)
}

async fn delete_models(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    let was_set = find_active_mut(&mut org, &project_id)?
        .model_permissions
        .take()
        .is_some();
    if was_set {
        audit(
            &mut org,
            &actor,
            rules::PROJECT_SETTINGS_EVENT,
            &project_id,
            json!({"id": project_id, "changes_requested": {"model_permissions": null}}),
        );
    }
    ok(json!({"object": "project.model_permissions.deleted", "deleted": true}))
}

async fn retrieve_tools(State(app): State<AppState>, Path(project_id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(hosted_tools_json(&find(&org, &project_id)?.hosted_tools))
}

/// `HostedToolPermissionUpdate`; a `null` or missing tool leaves it unchanged.
#[derive(Debug, Deserialize)]
struct ToolUpdate {
    enabled: bool,
}

#[derive(Debug, Deserialize)]
struct ToolsBody {
    #[serde(default)]
    file_search: Option<ToolUpdate>,
    #[serde(default)]
    web_search: Option<ToolUpdate>,
    #[serde(default)]
    image_generation: Option<ToolUpdate>,
    #[serde(default)]
    mcp: Option<ToolUpdate>,
    #[serde(default)]
    code_interpreter: Option<ToolUpdate>,
}

async fn update_tools(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<ToolsBody>,
) -> ApiResult {
    let mut org = app.org();
    find_active(&org, &project_id)?;
    let p = find_active_mut(&mut org, &project_id)?;
    let mut changes = json!({});
    let tools = &mut p.hosted_tools;
    for (name, update, slot) in [
        ("file_search", &body.file_search, &mut tools.file_search),
        ("web_search", &body.web_search, &mut tools.web_search),
        (
            "image_generation",
            &body.image_generation,
            &mut tools.image_generation,
        ),
        ("mcp", &body.mcp, &mut tools.mcp),
        (
            "code_interpreter",
            &body.code_interpreter,
            &mut tools.code_interpreter,
        ),
    ] {
        if let Some(update) = update {
            *slot = update.enabled;
            changes[name] = json!({"enabled": update.enabled});
        }
    }
    let rendered = hosted_tools_json(&p.hosted_tools);
    audit(
        &mut org,
        &actor,
        rules::PROJECT_SETTINGS_EVENT,
        &project_id,
        json!({"id": project_id, "changes_requested": {"hosted_tool_permissions": changes}}),
    );
    ok(rendered)
}
