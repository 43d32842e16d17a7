//! Shared helpers for the integration tests.

pub mod cli;
pub mod config;
pub mod contract_client;
pub mod control;
pub mod github_fake;
pub mod loopback;
pub mod markdown;
pub mod openapi;
pub mod org;

/// Asserts that a response body satisfies the spec for `method path` with `status`, panicking
/// with every violation (not just the first) so one failing run shows the whole mismatch.
#[track_caller]
pub fn assert_valid_response(method: &str, path: &str, status: u16, body: &serde_json::Value) {
    if let Err(errors) = openapi::validate_response(method, path, status, body) {
        panic!(
            "{method} {path} → {status}: the body violates the OpenAPI spec:\n  {}\nbody: {body:#}",
            errors.join("\n  ")
        );
    }
}

/// Asserts that a request body satisfies the spec for `method path`, panicking with every
/// violation.
#[track_caller]
pub fn assert_valid_request(method: &str, path: &str, body: &serde_json::Value) {
    if let Err(errors) = openapi::validate_request(method, path, body) {
        panic!(
            "{method} {path}: the request body violates the OpenAPI spec:\n  {}\nbody: {body:#}",
            errors.join("\n  ")
        );
    }
}
