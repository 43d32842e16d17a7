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
//! Every kind of object (users, groups, projects, service accounts, settings, ...) is one
//! module under [`kinds`], implementing [`kinds::Kind`], listed once in the registry
//! (`kinds/mod.rs`). The stages iterate the registry and ask the kind; none names a kind.
//!
//! # Layers
//!
//! Each top-level module belongs to a layer and imports only from earlier layers (a test,
//! `tests/it/architecture.rs`, reads this list and every `crate::` path of `src/` and fails on
//! an import against it). The emulator stands beside the layers: the stand-in for the API,
//! started by `ops` and `commands` only.
//!
//! 1. `exit`, `printer`, `input`, `text`: the exit status, where output goes, the bounded
//!    reader of user-named files, escaping and dates.
//! 2. `model`: the file format ([`model::Document`], also the emulator seed and the export),
//!    with the fields kind modules own held as data ([`model::KindFields`]).
//! 3. `api`: the Admin API client: pagination, rate control, retries, decoded errors, the
//!    write protocol ([`api::safe`]); one module per endpoint family.
//! 4. `kinds`: the [`kinds::Kind`] trait, the registry, the vocabulary every stage shares
//!    (`Change`, `Action`, `Operation`, `ReadScope`, `LiveState`, `Context`), and one module per
//!    kind: its key, read scope, fetch and normalisation, diff, destructiveness and gate facts,
//!    API writes, export field, checks and declared keys.
//! 5. `config`, `live`: the desired state from files (schema, semantic checks, `fmt`); the
//!    live state from the API (one dataflow over the registry), whole or from a sealed
//!    snapshot and the audit log since (`live::snapshot`).
//! 6. `git`, `plan`: the file at another revision; the pure plan: every kind's diff, the
//!    whole-plan gates, the order, `--target`, saved plans and their digests.
//! 7. `render`, `apply`, `costs`: text, markdown and JSON renderings; the executor; costs
//!    per project beside their declared limits (`orgops costs`, and `drift`'s cost lines).
//! 8. `drift`, `access`: the plan as drift, attributed from the audit log; who can reach
//!    what, computed from a document (the file's or the live organization's).
//! 9. `audit`: `orgops audit`, the audit log as a query.
//! 10. `ops`: one workflow each (plan, apply, drift, export, the pull-request view, the lock),
//!     with its own option types.
//! 11. `cli`: the clap model and nothing else.
//! 12. `github`: the GitHub Actions integration.
//! 13. `commands`: one thin file per subcommand, glue over `ops`.
//!
//! # Adding a kind
//!
//! 1. A module `src/kinds/<kind>.rs` with a unit struct implementing [`kinds::Kind`]: its
//!    title, what it reads (`source`, `scope`, `fetch`, `parents`, `normalize`), its diff (with
//!    destructiveness decided on the draft), what a reviewer must see (`attention`), its
//!    operations (`Op`, `id_refs`, `perform`), the audit events that explain its drift
//!    (`attribution`) and, when they reveal every change of its lists, that it can be read
//!    from a snapshot (`incremental`, with `Incremental::item` when the API serves one object
//!    by its id; leave it out and it is always read in full), its
//!    `policy.unmanaged` key (`unmanaged_policy`, `manages`), and, for a
//!    field of `settings` or of a project, `file_field`. A settings singleton is a
//!    [`kinds::SettingKind`] value instead (its route, field and value shape); project
//!    service tiers (`kinds/service_tiers.rs`) are the smallest complete example.
//! 2. One line in the registry (`kinds/mod.rs`), and `mod <kind>;` beside it.
//! 3. Its entry in `schema/orgops.schema.json` (and its name in the `kind` enums of
//!    `schema/plan.schema.json` and `schema/saved-plan.schema.json`, which a test compares
//!    with the registry), a row in `docs/configuration.md`.
//! 4. Its route in the emulator (`src/emulator/routes/`), which plays the API, not orgops.
//!
//! The conformance suite (`tests/it/conformance.rs`) then runs it through the same life as
//! every registered kind, and fails naming it until its documents there have a sample.
//!
//! # Modules
//!
//! - [`model`], [`config`], [`api`], [`live`], [`plan`], [`kinds`]: as above.
//! - [`render`]: text, markdown and JSON renderings of a plan.
//! - [`costs`]: `orgops costs`, month-to-date cost per project beside its declared spend
//!   limit and alerts (summed from `/organization/costs`), and `drift`'s lines for projects
//!   near their limit.
//! - [`audit`]: `orgops audit`, the audit log as a query (filters resolved with a minimal
//!   read, pages streamed, objects named by their orgops keys).
//! - [`access`]: `orgops access`, who can reach what (grants direct and through groups,
//!   service accounts, admin keys' owners) computed from a [`model::Document`], the file's or
//!   the live organization's, with its renderings (text, markdown, CSV, JSON, mermaid).
//! - [`drift`]: the plan classified as drift (changed, missing, unmanaged) and attributed
//!   from the audit log.
//! - [`git`]: the desired state at another revision (`plan --base REF`), over the git CLI.
//! - [`github`]: the GitHub Actions integration (plan comments, apply on merge, drift issues).
//! - [`emulator`]: a local, stateful Admin API (axum), the ground the tests, benchmarks and
//!   sandbox run on. Product code: it must behave like the OpenAPI subset in `openapi/`.
//! - [`commands`]: one thin file per subcommand, glue over [`ops`].
//! - [`input`]: the one bounded reader of user-named files (regular files only, 64 MiB cap;
//!   `--max-file-size` for desired-state files).
//! - [`cli`]: the clap model and nothing else; [`printer`]: where output goes;
//!   [`exit`]: the one exit-status type.

/// The version `--version` prints: the package version, and the git commit when built from
/// a checkout (see `build.rs`).
pub const VERSION: &str = env!("ORGOPS_VERSION");

pub mod access;
pub mod api;
pub mod apply;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod costs;
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
