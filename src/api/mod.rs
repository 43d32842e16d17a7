//! The hand-written Admin API client (reqwest + rustls + tokio).
//!
//! One [`Client`] holds the key, the base URL and the one shared rate-limit controller every
//! request goes through. Endpoint methods are `impl Client` blocks, one file per family; each
//! method's doc line names the endpoint it wraps.
//!
//! | file | what |
//! |---|---|
//! | `client.rs` | [`Client`], [`ClientConfig`] (`OPENAI_ADMIN_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`), [`Secret`], the retrying request loop, [`RequestKind`]; no proxy for loopback, no cross-origin redirect, [`MAX_RESPONSE_BYTES`], the organization the server reports |
//! | `error.rs` | [`Error`]: decoded error envelope, HTTP, timeout, transport, redirect, too large, decode, pagination, too many pages, ambiguous create, config |
//! | `pagination.rs` | strict listing over the three pagination styles, at most [`MAX_PAGES`] a listing, [`PageObserver`] |
//! | `ratelimit.rs` | [`RateController`]: `Retry-After`/`Retry-After-Ms`, jittered backoff, per-route AIMD, global concurrency; [`Limits`] |
//! | `types.rs` | typed IDs, tolerant enums with `Other(String)`, roles, deletion payloads |
//! | `users.rs` | `GET /organization/users`, `POST|DELETE /organization/users/{user_id}` |
//! | `invites.rs` | `GET|POST /organization/invites`, `DELETE /organization/invites/{invite_id}` |
//! | `projects.rs` | `GET|POST /organization/projects`, `POST /organization/projects/{project_id}`, `POST .../{project_id}/archive` |
//! | `project_users.rs` | `GET|POST /organization/projects/{project_id}/users`, `POST|DELETE .../users/{user_id}` |
//! | `service_accounts.rs` | `GET|POST /organization/projects/{project_id}/service_accounts`, `POST|DELETE .../{service_account_id}`, `POST .../{service_account_id}/api_keys` |
//! | `api_keys.rs` | `GET /organization/projects/{project_id}/api_keys`, `DELETE .../api_keys/{api_key_id}` |
//! | `rate_limits.rs` | `GET /organization/projects/{project_id}/rate_limits`, `POST .../rate_limits/{rate_limit_id}` |
//! | `groups.rs` | `GET|POST /organization/groups`, `POST|DELETE .../{group_id}`, `GET|POST .../{group_id}/users`, `DELETE .../users/{user_id}`, `GET|POST /organization/projects/{project_id}/groups`, `DELETE .../groups/{group_id}` |
//! | `roles.rs` | `GET|POST /organization/roles`, `POST|DELETE .../{role_id}`, `GET|POST /projects/{project_id}/roles`, `POST|DELETE .../{role_id}` |
//! | `role_assignments.rs` | `GET|POST|DELETE` the `roles` of `/organization/users/{user_id}`, `/organization/groups/{group_id}`, `/projects/{project_id}/users/{user_id}`, `/projects/{project_id}/groups/{group_id}` |
//! | `certificates.rs` | `GET|POST /organization/certificates`, `POST|DELETE .../{certificate_id}`, `POST .../activate|deactivate`, `GET /organization/projects/{project_id}/certificates`, `POST .../activate|deactivate` |
//! | `admin_api_keys.rs` | `GET|POST /organization/admin_api_keys`, `DELETE .../{key_id}` |
//! | `audit_logs.rs` | `GET /organization/audit_logs` |
//! | `usage.rs` | `GET /organization/costs` (the usage/costs page style, for completeness) |
//!
//! Retries: reads and idempotent writes are retried on 429, 5xx, timeouts and transport
//! errors; creates only on 429 and connect failures. A create that may have landed fails
//! with [`Error::Ambiguous`] (see [`Error::is_ambiguous`]): re-read before retrying it.

pub mod admin_api_keys;
pub mod api_keys;
pub mod audit_logs;
pub mod certificates;
pub(crate) mod client;
mod error;
pub mod groups;
pub mod invites;
pub(crate) mod pagination;
pub mod project_users;
pub mod projects;
pub mod rate_limits;
mod ratelimit;
pub mod role_assignments;
pub mod roles;
pub mod safe;
pub mod service_accounts;
pub mod types;
pub mod usage;
pub mod users;

pub use client::{
    Client, ClientConfig, DEFAULT_BASE_URL, MAX_REDIRECTS, MAX_RESPONSE_BYTES,
    ReportedOrganization, RequestKind, Secret,
};
pub use error::{ApiError, Error};
pub use pagination::{MAX_PAGES, PageObserver, Pager};
pub use ratelimit::{Feedback, Limits, RateController};
