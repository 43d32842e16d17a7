//! Usage and costs: valid, empty pages (`{"object": "page", "data": [], "has_more": false,
//! "next_page": null}`). The emulator runs no models, so there is nothing to report; every
//! query parameter the spec declares is still checked as the spec types it, with a 400 in
//! the error envelope naming the parameter:
//!
//! - `start_time` (required) and `end_time`: integers;
//! - `bucket_width`: `1m`, `1h` or `1d` (costs: only `1d`);
//! - `limit`: 1 to the maximum of the bucket width (usage: `1d` 31, `1h` 168, `1m` 1440;
//!   costs: 180);
//! - `group_by` and the enumerated filters (`sources`, `sizes`, `context_levels`): each value
//!   one the endpoint lists; `batch`: a boolean.
//!
//! Free-form filters (`project_ids`, `user_ids`, `api_key_ids`, `models`,
//! `vector_store_ids`) and the opaque `page` cursor take any string.

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::emulator::AppState;
use crate::emulator::http::{ApiError, ApiResult, QueryParams, ok};

/// What one usage/costs endpoint of the spec accepts.
struct Endpoint {
    path: &'static str,
    /// `(bucket_width, maximum limit)`; the first is the default width.
    buckets: &'static [(&'static str, i64)],
    group_by: &'static [&'static str],
    /// Array filters whose values are enumerated.
    enums: &'static [(&'static str, &'static [&'static str])],
    /// Whether the endpoint takes `batch` (completions).
    batch: bool,
}

const USAGE_BUCKETS: &[(&str, i64)] = &[("1d", 31), ("1h", 168), ("1m", 1440)];
const COSTS_BUCKETS: &[(&str, i64)] = &[("1d", 180)];
const BY_USER_KEY_MODEL: &[&str] = &["project_id", "user_id", "api_key_id", "model"];

const fn usage(path: &'static str, group_by: &'static [&'static str]) -> Endpoint {
    Endpoint {
        path,
        buckets: USAGE_BUCKETS,
        group_by,
        enums: &[],
        batch: false,
    }
}

/// Every usage endpoint of the subset, plus costs, as `openapi/` declares them.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        path: "/organization/usage/completions",
        buckets: USAGE_BUCKETS,
        group_by: &[
            "project_id",
            "user_id",
            "api_key_id",
            "model",
            "batch",
            "service_tier",
        ],
        enums: &[],
        batch: true,
    },
    usage("/organization/usage/embeddings", BY_USER_KEY_MODEL),
    usage("/organization/usage/moderations", BY_USER_KEY_MODEL),
    Endpoint {
        path: "/organization/usage/images",
        buckets: USAGE_BUCKETS,
        group_by: &[
            "project_id",
            "user_id",
            "api_key_id",
            "model",
            "size",
            "source",
        ],
        enums: &[
            (
                "sources",
                &["image.generation", "image.edit", "image.variation"],
            ),
            (
                "sizes",
                &["256x256", "512x512", "1024x1024", "1792x1792", "1024x1792"],
            ),
        ],
        batch: false,
    },
    usage("/organization/usage/audio_speeches", BY_USER_KEY_MODEL),
    usage(
        "/organization/usage/audio_transcriptions",
        BY_USER_KEY_MODEL,
    ),
    usage("/organization/usage/vector_stores", &["project_id"]),
    usage(
        "/organization/usage/code_interpreter_sessions",
        &["project_id"],
    ),
    usage(
        "/organization/usage/file_search_calls",
        &["project_id", "user_id", "api_key_id", "vector_store_id"],
    ),
    Endpoint {
        path: "/organization/usage/web_search_calls",
        buckets: USAGE_BUCKETS,
        group_by: &[
            "project_id",
            "user_id",
            "api_key_id",
            "model",
            "context_level",
        ],
        enums: &[("context_levels", &["low", "medium", "high"])],
        batch: false,
    },
    Endpoint {
        path: "/organization/costs",
        buckets: COSTS_BUCKETS,
        group_by: &["project_id", "line_item", "api_key_id"],
        enums: &[],
        batch: false,
    },
];

pub fn router() -> Router<AppState> {
    ENDPOINTS.iter().fold(Router::new(), |r, endpoint| {
        r.route(
            endpoint.path,
            get(move |q: QueryParams| async move { empty_page(endpoint, &q) }),
        )
    })
}

fn one_of(param: &str, values: &[String], allowed: &[&str]) -> Result<(), ApiError> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        None => Ok(()),
        Some(bad) => Err(ApiError::invalid_param(
            param,
            format!(
                "Invalid '{param}': '{bad}'. Expected one of: {}.",
                allowed.join(", ")
            ),
        )),
    }
}

/// Checks the query as the spec declares it for `endpoint`.
fn check(endpoint: &Endpoint, q: &QueryParams) -> Result<(), ApiError> {
    if q.int("start_time")?.is_none() {
        return Err(ApiError::invalid_param(
            "start_time",
            "Missing required parameter: 'start_time'",
        ));
    }
    q.int("end_time")?;
    let (width, max_limit) = match q.get("bucket_width") {
        None => endpoint.buckets[0],
        Some(given) => *endpoint
            .buckets
            .iter()
            .find(|(w, _)| *w == given)
            .ok_or_else(|| {
                let allowed: Vec<&str> = endpoint.buckets.iter().map(|(w, _)| *w).collect();
                ApiError::invalid_param(
                    "bucket_width",
                    format!(
                        "Invalid 'bucket_width': '{given}'. Expected one of: {}.",
                        allowed.join(", ")
                    ),
                )
            })?,
    };
    if let Some(limit) = q.int("limit")?
        && !(1..=max_limit).contains(&limit)
    {
        return Err(ApiError::invalid_param(
            "limit",
            format!(
                "Invalid 'limit': {limit}. With bucket_width={width} the limit ranges from 1 to {max_limit}."
            ),
        ));
    }
    one_of("group_by", &q.list("group_by"), endpoint.group_by)?;
    for (param, allowed) in endpoint.enums {
        one_of(param, &q.list(param), allowed)?;
    }
    if endpoint.batch {
        q.bool("batch")?;
    }
    Ok(())
}

fn empty_page(endpoint: &Endpoint, q: &QueryParams) -> ApiResult {
    check(endpoint, q)?;
    ok(json!({"object": "page", "data": [], "has_more": false, "next_page": null}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table agrees with the spec: same paths, same `group_by` values, same enums.
    #[test]
    fn endpoints_match_the_openapi_subset() {
        let text = include_str!("../../../openapi/openai-admin.openapi.yaml");
        let spec: serde_json::Value = serde_saphyr::from_str(text).expect("spec parses");
        for endpoint in ENDPOINTS {
            let params = spec["paths"][endpoint.path]["get"]["parameters"]
                .as_array()
                .unwrap_or_else(|| panic!("{} is in the spec", endpoint.path));
            let enum_of = |name: &str| -> Vec<String> {
                params
                    .iter()
                    .find(|p| p["name"] == name)
                    .and_then(|p| {
                        p["schema"]["items"]["enum"]
                            .as_array()
                            .or(p["schema"]["enum"].as_array())
                    })
                    .map(|values| {
                        values
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            assert_eq!(enum_of("group_by"), endpoint.group_by, "{}", endpoint.path);
            let widths: Vec<&str> = endpoint.buckets.iter().map(|(w, _)| *w).collect();
            let mut spec_widths = enum_of("bucket_width");
            spec_widths.sort();
            let mut ours: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
            ours.sort();
            assert_eq!(spec_widths, ours, "{}", endpoint.path);
            for (param, allowed) in endpoint.enums {
                assert_eq!(enum_of(param), *allowed, "{} {param}", endpoint.path);
            }
            let has_batch = params.iter().any(|p| p["name"] == "batch");
            assert_eq!(has_batch, endpoint.batch, "{}", endpoint.path);
        }
    }
}
