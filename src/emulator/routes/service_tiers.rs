//! Project service tier settings (the official SDK's `ProjectServiceTierSettings`,
//! `openai==3.63.0`): retrieve and a partial update, no delete. Reads work on archived
//! projects, updates do not (see `rules`). Updates are audited as
//! `rules::PROJECT_SETTINGS_EVENT` with `changes_requested.service_tier_settings`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find, find_active_mut};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{ApiError, ApiResult, JsonBody, ok};
use crate::emulator::rules;
use crate::emulator::state::ServiceTiers;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/organization/projects/{project_id}/service_tier_settings",
        get(retrieve).post(update),
    )
}

/// `default`'s values.
pub const DEFAULT_TIERS: &[&str] = &["standard", "fast", "scale"];
/// `ProjectOptionalServiceTier`: what `enabled_tiers` may list.
pub const OPTIONAL_TIERS: &[&str] = &["flex", "fast", "ultrafast"];

pub fn to_json(t: &ServiceTiers) -> Value {
    json!({
        "object": "project.service_tier_settings",
        "default": t.default,
        "enabled_tiers": match &t.enabled {
            None => json!("all"),
            Some(list) => json!(list),
        },
    })
}

/// `ServiceTierSettingUpdateParams`: both fields optional.
#[derive(Debug, Deserialize)]
struct UpdateBody {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    enabled_tiers: Option<Value>,
}

fn invalid(param: &str, value: &Value, expected: &[&str]) -> ApiError {
    ApiError::invalid_param(
        param,
        format!(
            "Invalid '{param}': {value}. Expected one of {}.",
            expected.join(", ")
        ),
    )
}

/// `"all"` -> `None`; a list of optional tiers -> the list, once each.
fn enabled(value: &Value) -> Result<Option<Vec<String>>, ApiError> {
    let expected = ["all", "a list of flex, fast, ultrafast"];
    match value {
        Value::String(s) if s == "all" => Ok(None),
        Value::Array(items) => {
            let mut tiers: Vec<String> = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(t) if OPTIONAL_TIERS.contains(&t) => {
                        if !tiers.iter().any(|x| x == t) {
                            tiers.push(t.to_string());
                        }
                    }
                    _ => return Err(invalid("enabled_tiers", item, OPTIONAL_TIERS)),
                }
            }
            Ok(Some(tiers))
        }
        other => Err(invalid("enabled_tiers", other, &expected)),
    }
}

async fn retrieve(State(app): State<AppState>, Path(project_id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(to_json(&find(&org, &project_id)?.service_tiers))
}

async fn update(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    if let Some(d) = &body.default
        && !DEFAULT_TIERS.contains(&d.as_str())
    {
        return Err(invalid("default", &json!(d), DEFAULT_TIERS));
    }
    let enabled = body.enabled_tiers.as_ref().map(enabled).transpose()?;
    let mut org = app.org();
    let project = find_active_mut(&mut org, &project_id)?;
    if let Some(d) = body.default {
        project.service_tiers.default = d;
    }
    if let Some(e) = enabled {
        project.service_tiers.enabled = e;
    }
    let rendered = to_json(&project.service_tiers);
    audit(
        &mut org,
        &actor,
        rules::PROJECT_SETTINGS_EVENT,
        &project_id,
        json!({"id": project_id, "changes_requested": {"service_tier_settings": rendered}}),
    );
    ok(rendered)
}
