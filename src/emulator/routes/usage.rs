//! Usage and costs: valid, empty pages (`{"object": "page", "data": [], "has_more": false,
//! "next_page": null}`). The emulator runs no models, so there is nothing to report; the
//! required `start_time` is still checked.

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::emulator::AppState;
use crate::emulator::http::{ApiError, ApiResult, QueryParams, ok};

/// Every usage endpoint of the subset, plus costs.
const PATHS: &[&str] = &[
    "/organization/usage/completions",
    "/organization/usage/embeddings",
    "/organization/usage/moderations",
    "/organization/usage/images",
    "/organization/usage/audio_speeches",
    "/organization/usage/audio_transcriptions",
    "/organization/usage/vector_stores",
    "/organization/usage/code_interpreter_sessions",
    "/organization/usage/file_search_calls",
    "/organization/usage/web_search_calls",
    "/organization/costs",
];

pub fn router() -> Router<AppState> {
    PATHS
        .iter()
        .fold(Router::new(), |r, path| r.route(path, get(empty_page)))
}

async fn empty_page(q: QueryParams) -> ApiResult {
    match q.int("start_time")? {
        Some(_) => ok(json!({"object": "page", "data": [], "has_more": false, "next_page": null})),
        None => Err(ApiError::invalid_param(
            "start_time",
            "Missing required parameter: 'start_time'",
        )),
    }
}
