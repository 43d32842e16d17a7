//! [`Kind`]: everything orgops knows about one kind of object, implemented once per kind in
//! its own module and listed once in the registry (`kinds/mod.rs`). The stages (read, plan,
//! apply, export, drift, render) ask the kind through this trait; none of them names a kind.

use super::context::{Context, Output};

/// One kind of object (a registry entry). Object-safe: the registry hands out
/// `&'static dyn Kind`.
pub trait Kind: Sync {
    /// What people read where changes are grouped (section titles, the order graph): the
    /// OpenAI dashboard's words, not the plan's kind name.
    fn title(&self) -> &'static str;

    /// Desired against live, both normalised ([`Context`]): the changes of this kind, the
    /// live objects the file does not declare (reported or removed per `policy.unmanaged`),
    /// and refusals of what the file asks that the API cannot do. Whether a change is
    /// destructive is decided here, on the draft, once: every rendering and every gate
    /// reads `Change::destructive`.
    fn diff(&self, ctx: &Context<'_>, out: &mut Output);
}
