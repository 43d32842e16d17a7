//! The live organization as the Admin API reports it, in the model's own types.
//!
//! - [`ReadScope`] (in `kinds::read`): what a read lists, each kind's own answer for a file
//!   (`Kind::scope`), or everything.
//! - `read.rs`: [`read`], the concurrent listing of those collections over the registry; each
//!   kind turns what it read into the [`LiveState`] (`Kind::normalize`, where the rules are
//!   written).
//! - `progress.rs`: [`Progress`] and the stderr display.

mod progress;
mod read;
pub mod snapshot;

pub use crate::kinds::wire::{default_project, project_role_of};
pub use crate::kinds::{IdIndex, LiveDuplicate, LiveState, ReadScope, Select};
pub use progress::{CountingProgress, NoProgress, Progress, StderrProgress};
pub use read::{
    AssignmentReads, ListsRead, Prefetch, Reuse, read, read_announcing, read_prefetched,
    read_reusing,
};
