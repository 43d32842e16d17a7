//! [`Kind`]: everything orgops knows about one kind of object, implemented once per kind in
//! its own module and listed once in the registry (`kinds/mod.rs`). The stages (read, plan,
//! apply, export, drift, render) ask the kind through this trait; none of them names a kind.

use super::apply::{ApplyContext, BoxFuture, Step};
use super::context::{Context, Draft, GateFacts, Output};
use super::{IdRef, Operation};

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

    /// What the whole-plan safety gates (`plan::policy`) need to know about a change of this
    /// kind: whether it removes, demotes or archives something `policy.protect` names, the
    /// admin key's owner, an organization owner, or the default project. Asked of every
    /// change of a plan, and again of the changes `apply --plan` is about to run.
    fn gate_facts(&self, _ctx: &Context<'_>, _change: &Draft) -> GateFacts {
        GateFacts::default()
    }

    /// Every server ID `op` (an operation of this kind) needs, by natural key: the executor
    /// resolves them, and a saved plan fingerprints them (a plan whose objects were
    /// recreated since is stale). IDs of objects created earlier in the same plan are not
    /// live; the executor takes them from what it created.
    fn id_refs(&self, op: &Operation) -> Vec<IdRef>;

    /// The API calls of `op`, through the write protocol of [`crate::api::safe`]: a create
    /// whose outcome is unknown is re-read before it is retried; a removal of what is gone is
    /// done. Objects it creates are recorded in `cx.ids` for the changes that depend on them.
    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step>;

    /// What the API does with `op`, as a pure model on a live state (tests of convergence).
    #[cfg(test)]
    fn simulate(&self, op: &Operation, state: &mut super::LiveState);
}
