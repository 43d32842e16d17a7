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
//!   or a list of located diagnostics (schema, semantic checks).
//! - [`api`]: the hand-written Admin API client: pagination, rate-limit control, retries,
//!   decoded error bodies. One module per endpoint family.
//! - [`live`]: reads the organization through [`api`] into a [`live::LiveState`].
//! - [`plan`]: pure diff of desired against live into an ordered [`plan::Plan`].
//! - [`render`]: text, markdown and JSON renderings of a plan.
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

pub mod api;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod drift;
pub mod emulator;
pub mod exit;
pub mod git;
pub mod github;
pub mod input;
pub mod live;
pub mod model;
pub mod ops;
pub mod plan;
pub mod printer;
pub mod render;
