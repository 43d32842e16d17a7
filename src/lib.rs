//! orgops: an OpenAI organization managed as code.
//!
//! # Architecture map
//!
//! Data flows one way:
//!
//! ```text
//!   config (YAML -> DesiredState) ─┐
//!                                  ├─> plan (pure: diff + order + policy) ─> apply (executor)
//!   live   (API  -> LiveState)   ──┘                                      └─> render (text, markdown, json)
//! ```
//!
//! - [`model`]: the organization types shared by both sides ([`model::Document`] is the file
//!   format, the emulator seed and the export format at once).
//! - [`config`]: reads one file or a directory of files into a validated [`config::DesiredState`],
//!   or a list of located diagnostics (schema, semantic checks); [`config::format`] is the
//!   canonical form of a file (`orgops fmt`, `orgops export`).
//! - [`api`]: the hand-written Admin API client: pagination, rate-limit control, retries,
//!   decoded error bodies. One module per endpoint family.
//! - [`live`]: reads the organization through [`api`] into a [`live::LiveState`].
//! - [`plan`]: pure diff of desired against live into an ordered [`plan::Plan`].
//! - [`kinds`]: one module per kind added since issue 10 (data retention, spend limits, model
//!   and hosted-tool permissions as `SettingKind` descriptors the engine iterates; spend
//!   alerts and project API keys as collection modules): key, fields, read, normalise, diff,
//!   write, destructive marking in one file each. The older kinds still live spread over
//!   `api/`, `live/`, `plan/kinds/`, `apply/perform.rs` and `ops/export.rs`.
//! - [`render`]: text, markdown and JSON renderings of a plan.
//! - [`audit`]: `orgops audit`, the audit log as a query (filters resolved with a minimal
//!   read, pages streamed, objects named by their orgops keys).
//! - [`drift`]: the plan classified as drift (changed, missing, unmanaged) and attributed
//!   from the audit log.
//! - [`git`]: the desired state at another revision (`plan --base REF`), over the git CLI.
//! - [`github`]: the GitHub Actions integration (plan comments, apply on merge, drift issues).
//! - [`emulator`]: a local, stateful Admin API (axum), the ground the tests, benchmarks and
//!   sandbox run on. Product code: it must behave like the OpenAPI subset in `openapi/`.
//! - [`commands`]: one thin file per subcommand, glue over the modules above.
//! - [`input`]: the one bounded reader of user-named files (regular files only, 64 MiB cap;
//!   `--max-file-size` for desired-state files).
//! - [`cli`]: the clap model and nothing else; [`printer`]: where output goes;
//!   [`exit`]: the one exit-status type.

/// The version `--version` prints: the package version, and the git commit when built from
/// a checkout (see `build.rs`).
pub const VERSION: &str = env!("ORGOPS_VERSION");

pub mod api;
pub mod apply;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod drift;
pub mod emulator;
pub mod exit;
pub mod git;
pub mod github;
pub mod input;
pub mod kinds;
pub mod live;
pub mod model;
pub mod ops;
pub mod plan;
pub mod printer;
pub mod render;
pub mod text;
