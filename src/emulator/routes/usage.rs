//! Usage and costs: seeded, deterministic buckets with real `next_page` paging. Every query
//! parameter the spec declares is checked as the spec types it, with a 400 in the error
//! envelope naming the parameter:
//!
//! - `start_time` (required) and `end_time`: integers;
//! - `bucket_width`: `1m`, `1h` or `1d` (costs: only `1d`);
//! - `limit`: 1 to the maximum of the bucket width (usage: `1d` 31, `1h` 168, `1m` 1440;
//!   costs: 180), defaulting as the spec says (`1d` 7, `1h` 24, `1m` 60; costs 7);
//! - `group_by` and the enumerated filters (`sources`, `sizes`, `context_levels`): each value
//!   one the endpoint lists; `batch`: a boolean;
//! - `page`: only a `next_page` this emulator issued for the same query (else 400).
//!
//! **What is served** is derived from the emulator's state, not seeded separately: every
//! project of the organization (archived ones and the default project included) has, for
//! every bucket that started before now, a cost of $1.00 to $49.99 a day and usage counts of
//! 1 to 1000 a bucket, each a hash of the project's name and the bucket's start, so the same
//! state answers the same numbers on every run and machine. Buckets are aligned to the width
//! (days start at 00:00 UTC) from `start_time` to `end_time` (default: now), never past now.
//! Grouped by `project_id`, a bucket has one result per project (filtered by `project_ids`);
//! otherwise one result, their sum. Other `group_by` fields are answered `null`.
//!
//! Free-form filters other than `project_ids` (`user_ids`, `api_key_ids`, `models`,
//! `vector_store_ids`) take any string and filter nothing.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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
    /// The result's `object` and its counters (the spec's required integer fields); costs
    /// have an `amount` instead ([`COSTS`]).
    result: (&'static str, &'static [&'static str]),
}

/// The costs endpoint's result object.
const COSTS: &str = "organization.costs.result";

const USAGE_BUCKETS: &[(&str, i64)] = &[("1d", 31), ("1h", 168), ("1m", 1440)];
const COSTS_BUCKETS: &[(&str, i64)] = &[("1d", 180)];
const BY_USER_KEY_MODEL: &[&str] = &["project_id", "user_id", "api_key_id", "model"];

const fn usage(
    path: &'static str,
    group_by: &'static [&'static str],
    result: (&'static str, &'static [&'static str]),
) -> Endpoint {
    Endpoint {
        path,
        buckets: USAGE_BUCKETS,
        group_by,
        enums: &[],
        batch: false,
        result,
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
        result: (
            "organization.usage.completions.result",
            &["input_tokens", "output_tokens", "num_model_requests"],
        ),
    },
    usage(
        "/organization/usage/embeddings",
        BY_USER_KEY_MODEL,
        (
            "organization.usage.embeddings.result",
            &["input_tokens", "num_model_requests"],
        ),
    ),
    usage(
        "/organization/usage/moderations",
        BY_USER_KEY_MODEL,
        (
            "organization.usage.moderations.result",
            &["input_tokens", "num_model_requests"],
        ),
    ),
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
        result: (
            "organization.usage.images.result",
            &["images", "num_model_requests"],
        ),
    },
    usage(
        "/organization/usage/audio_speeches",
        BY_USER_KEY_MODEL,
        (
            "organization.usage.audio_speeches.result",
            &["characters", "num_model_requests"],
        ),
    ),
    usage(
        "/organization/usage/audio_transcriptions",
        BY_USER_KEY_MODEL,
        (
            "organization.usage.audio_transcriptions.result",
            &["seconds", "num_model_requests"],
        ),
    ),
    usage(
        "/organization/usage/vector_stores",
        &["project_id"],
        ("organization.usage.vector_stores.result", &["usage_bytes"]),
    ),
    usage(
        "/organization/usage/code_interpreter_sessions",
        &["project_id"],
        (
            "organization.usage.code_interpreter_sessions.result",
            &["num_sessions"],
        ),
    ),
    usage(
        "/organization/usage/file_search_calls",
        &["project_id", "user_id", "api_key_id", "vector_store_id"],
        ("organization.usage.file_searches.result", &["num_requests"]),
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
        result: (
            "organization.usage.web_searches.result",
            &["num_model_requests", "num_requests"],
        ),
    },
    Endpoint {
        path: "/organization/costs",
        buckets: COSTS_BUCKETS,
        group_by: &["project_id", "line_item", "api_key_id"],
        enums: &[],
        batch: false,
        result: (COSTS, &[]),
    },
];

/// The usage endpoints the official SDK has and the spec subset does not (3.63.0
/// `usage.decisions`: `UsageDecisionsParams`, results `organization.usage.decisions.result`).
const SDK_ONLY_ENDPOINTS: &[Endpoint] = &[Endpoint {
    path: "/organization/usage/decisions",
    buckets: USAGE_BUCKETS,
    group_by: &[
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
        "api_source",
    ],
    enums: &[],
    batch: true,
    result: (
        "organization.usage.decisions.result",
        &["input_tokens", "output_tokens", "num_model_requests"],
    ),
}];

pub fn router() -> Router<AppState> {
    ENDPOINTS
        .iter()
        .chain(SDK_ONLY_ENDPOINTS)
        .fold(Router::new(), |r, endpoint| {
            r.route(
                endpoint.path,
                get(
                    move |State(app): State<AppState>, q: QueryParams| async move {
                        page(&app, endpoint, &q)
                    },
                ),
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

/// A checked query: the range, the bucket width in seconds, the page size, the grouping and
/// the project filter.
struct Query {
    start: i64,
    end: Option<i64>,
    width: i64,
    limit: i64,
    by_project: bool,
    project_ids: Vec<String>,
    /// What a `next_page` token of this query is bound to (everything but `page`, `limit`).
    fingerprint: String,
}

/// The spec's default page size for a width.
fn default_limit(endpoint: &Endpoint, width: &str) -> i64 {
    match (endpoint.result.0, width) {
        (COSTS, _) | (_, "1d") => 7,
        (_, "1h") => 24,
        _ => 60,
    }
}

/// Checks the query as the spec declares it for `endpoint`.
fn check(endpoint: &Endpoint, q: &QueryParams) -> Result<Query, ApiError> {
    let Some(start) = q.int("start_time")? else {
        return Err(ApiError::invalid_param(
            "start_time",
            "Missing required parameter: 'start_time'",
        ));
    };
    let end = q.int("end_time")?;
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
    let limit = match q.int("limit")? {
        Some(limit) if !(1..=max_limit).contains(&limit) => {
            return Err(ApiError::invalid_param(
                "limit",
                format!(
                    "Invalid 'limit': {limit}. With bucket_width={width} the limit ranges from 1 to {max_limit}."
                ),
            ));
        }
        Some(limit) => limit,
        None => default_limit(endpoint, width),
    };
    let mut group_by = q.list("group_by");
    one_of("group_by", &group_by, endpoint.group_by)?;
    for (param, allowed) in endpoint.enums {
        one_of(param, &q.list(param), allowed)?;
    }
    if endpoint.batch {
        q.bool("batch")?;
    }
    let mut project_ids = q.list("project_ids");
    group_by.sort();
    project_ids.sort();
    let fingerprint = format!(
        "{}|{start}|{end:?}|{width}|{}|{}",
        endpoint.path,
        group_by.join(","),
        project_ids.join(",")
    );
    Ok(Query {
        start,
        end,
        width: match width {
            "1m" => 60,
            "1h" => 3_600,
            _ => 86_400,
        },
        limit,
        by_project: group_by.iter().any(|g| g == "project_id"),
        project_ids,
        fingerprint,
    })
}

/// A number from 0 to `modulo - 1` fixed by `parts` (the first eight bytes of their SHA-256).
fn hashed(parts: &str, modulo: u64) -> u64 {
    let digest = Sha256::digest(parts.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % modulo
}

/// The `next_page` token for the bucket starting at `next`: the start and a check bound to
/// the query, so a token of another query, or one the emulator never issued, is refused.
fn token(query: &Query, next: i64) -> String {
    let check = hashed(&format!("{}|{next}", query.fingerprint), u64::MAX);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("page:{next}:{check:016x}"))
}

/// The bucket start a `page` token stands for, if this query's.
fn untoken(query: &Query, raw: &str) -> Result<i64, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|text| {
            let next = text
                .strip_prefix("page:")?
                .split(':')
                .next()?
                .parse()
                .ok()?;
            (token(query, next) == raw).then_some(next)
        })
        .ok_or_else(|| {
            ApiError::invalid_param(
                "page",
                "Invalid 'page': not a next_page this endpoint issued for this query.",
            )
        })
}

/// One project's (name, id) result for one bucket.
fn result(endpoint: &Endpoint, bucket: i64, projects: &[(&str, &str)], grouped: bool) -> Value {
    let (object, counters) = endpoint.result;
    let mut v = json!({"object": object});
    if object == COSTS {
        let cents: u64 = projects
            .iter()
            .map(|(name, _)| 100 + hashed(&format!("cost|{name}|{bucket}"), 4_900))
            .sum();
        v["amount"] = json!({"value": cents as f64 / 100.0, "currency": "usd"});
        v["line_item"] = Value::Null;
        v["api_key_id"] = Value::Null;
    } else {
        for counter in counters {
            let n: u64 = projects
                .iter()
                .map(|(name, _)| 1 + hashed(&format!("{object}|{counter}|{name}|{bucket}"), 1_000))
                .sum();
            v[*counter] = json!(n);
        }
    }
    v["project_id"] = match projects {
        [(_, id)] if grouped => json!(id),
        _ => Value::Null,
    };
    v
}

fn page(app: &AppState, endpoint: &Endpoint, q: &QueryParams) -> ApiResult {
    let query = check(endpoint, q)?;
    let first = query.start - query.start.rem_euclid(query.width);
    let from = match q.get("page") {
        Some(raw) => untoken(&query, raw)?,
        None => first,
    };
    let now = crate::emulator::state::now();
    let stop = query.end.map_or(now, |end| end.min(now));
    let org = app.org();
    let projects: Vec<(&str, &str)> = org
        .projects
        .values()
        .filter(|p| query.project_ids.is_empty() || query.project_ids.contains(&p.id))
        .map(|p| (p.name.as_str(), p.id.as_str()))
        .collect();
    let mut data = Vec::new();
    let mut bucket = from;
    while bucket < stop && (data.len() as i64) < query.limit {
        let results: Vec<Value> = if projects.is_empty() {
            Vec::new()
        } else if query.by_project {
            projects
                .iter()
                .map(|p| result(endpoint, bucket, std::slice::from_ref(p), true))
                .collect()
        } else {
            vec![result(endpoint, bucket, &projects, false)]
        };
        data.push(json!({
            "object": "bucket",
            "start_time": bucket,
            "end_time": bucket + query.width,
            "results": results,
        }));
        bucket += query.width;
    }
    let next_page = (bucket < stop).then(|| token(&query, bucket));
    ok(json!({
        "object": "page",
        "data": data,
        "has_more": next_page.is_some(),
        "next_page": next_page,
    }))
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
