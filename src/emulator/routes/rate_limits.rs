//! Project rate limits: list (style A with `before`, default limit 100) and update. Rows
//! exist for a fixed model catalogue (`state::rate_limit_catalogue`) and cannot be created
//! or deleted; updating a field the model does not have is a 400.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::projects::{find, find_active_mut};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_RATE_LIMITS, PageParams, PageRequest, QueryParams, ok,
    page_a, reject_unknown,
};
use crate::emulator::state::RateLimitRow;
use crate::model::RateLimit;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/projects/{project_id}/rate_limits", get(list))
        .route(
            "/organization/projects/{project_id}/rate_limits/{rate_limit_id}",
            post(update),
        )
}

/// `ProjectRateLimit`: the four optional fields only for models that have them.
pub fn rate_limit_json(r: &RateLimitRow) -> Value {
    let mut v = json!({
        "object": "project.rate_limit",
        "id": r.id,
        "model": r.model,
        "max_requests_per_1_minute": r.max_requests_per_1_minute,
        "max_tokens_per_1_minute": r.max_tokens_per_1_minute,
    });
    let optional = [
        ("max_images_per_1_minute", r.max_images_per_1_minute),
        (
            "max_audio_megabytes_per_1_minute",
            r.max_audio_megabytes_per_1_minute,
        ),
        ("max_requests_per_1_day", r.max_requests_per_1_day),
        (
            "batch_1_day_max_input_tokens",
            r.batch_1_day_max_input_tokens,
        ),
    ];
    for (field, value) in optional {
        if let Some(n) = value {
            v[field] = json!(n);
        }
    }
    v
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_RATE_LIMITS,
    order: None,
    before: true,
    opaque_cursor: false,
};

async fn list(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    ok(page_a(
        &find(&org, &project_id)?.rate_limits,
        |_| true,
        &req,
        rate_limit_json,
    )?)
}

const FIELDS: [&str; 6] = [
    "max_requests_per_1_minute",
    "max_tokens_per_1_minute",
    "max_images_per_1_minute",
    "max_audio_megabytes_per_1_minute",
    "max_requests_per_1_day",
    "batch_1_day_max_input_tokens",
];

/// The update body: only the six integer fields (any other is refused); each a non-negative
/// integer.
fn parse_update(body: &Map<String, Value>) -> Result<RateLimit, ApiError> {
    reject_unknown(body, &FIELDS, "")?;
    let mut limits = RateLimit::default();
    for field in FIELDS {
        let Some(v) = body.get(field) else { continue };
        let n = v.as_u64().ok_or_else(|| {
            ApiError::invalid_param(
                field,
                format!("Invalid '{field}': expected a non-negative integer, got {v}"),
            )
        })?;
        let slot = match field {
            "max_requests_per_1_minute" => &mut limits.max_requests_per_1_minute,
            "max_tokens_per_1_minute" => &mut limits.max_tokens_per_1_minute,
            "max_images_per_1_minute" => &mut limits.max_images_per_1_minute,
            "max_audio_megabytes_per_1_minute" => &mut limits.max_audio_megabytes_per_1_minute,
            "max_requests_per_1_day" => &mut limits.max_requests_per_1_day,
            _ => &mut limits.batch_1_day_max_input_tokens,
        };
        *slot = Some(n);
    }
    Ok(limits)
}

async fn update(
    State(app): State<AppState>,
    actor: Actor,
    Path((project_id, rl_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object",
        ));
    };
    let limits = parse_update(&fields)?;
    let mut org = app.org();
    let p = find_active_mut(&mut org, &project_id)?;
    let row = p
        .rate_limits
        .get_mut(&rl_id)
        .ok_or_else(|| ApiError::not_found("rate limit", &rl_id))?;
    let mut updated = row.clone();
    crate::emulator::seed::apply_rate_limit(&mut updated, &limits).map_err(|field| {
        ApiError::invalid_param(
            field,
            format!("Model '{}' has no '{field}' limit", row.model),
        )
    })?;
    *row = updated.clone();
    let changes: Map<String, Value> = FIELDS
        .iter()
        .filter_map(|f| fields.get(*f).map(|v| (f.to_string(), v.clone())))
        .collect();
    audit(
        &mut org,
        &actor,
        "rate_limit.updated",
        &rl_id,
        json!({"id": rl_id, "changes_requested": changes}),
    );
    ok(rate_limit_json(&updated))
}
