//! The executor: turns a plan's changes into Admin API calls, in dependency order, as fast
//! as the shared rate-limit controller allows, convergent under faults.
//!
//! - [`executor`]: walks the plan's DAG (`depends_on`). Independent changes run concurrently
//!   (bounded); a change starts only when everything it depends on succeeded; the dependents
//!   of a failed change are skipped with the reason; independent branches go on.
//! - [`Ids`]: server IDs by natural key — what the live read found plus what earlier
//!   changes of this run created.
//! - `perform`: one change = its kind's `perform` (the API calls of its operation).
//! - [`crate::api::safe`]: the write protocol. A create whose outcome is unknown
//!   ([`crate::api::Error::is_ambiguous`]) is followed by a re-read of its collection by
//!   natural key and retried only if the object is not there; a create refused because the
//!   object already exists, a removal of something already gone (404) and an invite to
//!   someone already invited count as success. Idempotent writes and reads are retried on
//!   transient failures beyond the client's own retries.
//! - [`secrets`]: generated keys (service-account keys, admin API keys) go only to their
//!   declared sink — a file created 0600 next to the declaring YAML file, or a command's
//!   stdin — and nowhere else.
//! - [`report`]: each change's outcome as text and JSON, and progress on stderr.
//!
//! `docs/apply.md` describes the behaviour for users.

pub mod executor;
mod perform;
pub mod report;

pub mod secrets;

pub use crate::kinds::apply::Ids;
pub use executor::{ExecuteOptions, Executor};
pub use report::{ApplyReport, ChangeReport, NoApplyProgress, Outcome, StderrApplyProgress};
pub use secrets::Sinks;
