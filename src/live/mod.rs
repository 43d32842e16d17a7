//! The live organization as the Admin API reports it, in the model's own types.
//!
//! - `scope.rs`: [`ReadScope`], what a read lists (derived from the file, or everything).
//! - `read.rs`: [`read`], the concurrent listing of those collections.
//! - `normalize.rs`: raw listings -> [`LiveState`] (pure; the normalisation rules, the
//!   default-project rule and the key-owner rule are documented there).
//! - `progress.rs`: [`Progress`] and the stderr display.

mod normalize;
mod progress;
mod read;

pub use crate::kinds::{DuplicateKind, IdIndex, LiveDuplicate, LiveState, ReadScope, Select};
pub use normalize::{default_project, project_role_of};
pub use progress::{CountingProgress, NoProgress, Progress, StderrProgress};
pub use read::{AssignmentReads, Prefetch, PrefetchLists, read, read_announcing, read_prefetched};
