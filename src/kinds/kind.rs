//! [`Kind`]: everything orgops knows about one kind of object, implemented once per kind in
//! its own module and listed once in the registry (`kinds/mod.rs`). The stages (read, plan,
//! apply, export, drift, render) ask the kind through this trait; none of them names a kind.

use super::Change;
use super::apply::{ApplyContext, BoxFuture, Step};
use super::context::{Context, Draft, GateFacts, Output};
use super::read::{PageSink, Parent, RawPage, RawStore, Select, Source};
use super::{IdRef, LiveState, Operation};
use crate::api::{Client, Error};
use crate::model::Document;

/// A problem `Kind::check` found in a file, at the JSON pointer of the value it concerns
/// (`/projects/3/model_permissions/models/0`); the loader turns the pointer into a file, line
/// and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub pointer: String,
    /// An error makes the file invalid; a warning does not.
    pub error: bool,
    /// Located at the key of the mapping entry `pointer` names (a model under
    /// `rate_limits`), not at its value.
    pub at_key: bool,
    pub message: String,
    pub hint: Option<String>,
}

/// Where a kind's own field sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldPlace {
    /// `settings.<key>`.
    Settings,
    /// `projects[].<key>`.
    Project,
}

/// What a reviewer must not miss about one change: someone or something gets or loses
/// access, or money and limits change. The pull-request comment lists every one of them
/// first, under "Needs attention", and never cuts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// Who or what it is about, as a name: a person's email, a role, a group, a project,
    /// `organization`. Shown as code.
    pub subject: String,
    /// What happens to it, in words (plain text: the rendering escapes it), with amounts of
    /// money and limits written for people (`$60,000.00 → $50,000.00 per month`).
    pub what: String,
}

impl Attention {
    pub fn new(subject: impl Into<String>, what: impl Into<String>) -> Attention {
        Attention {
            subject: subject.into(),
            what: what.into(),
        }
    }
}

/// What `policy.unmanaged` says about a kind's live objects the file does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmanagedPolicy {
    /// The key under `policy.unmanaged` (kinds may share one: `role_assignments`).
    pub key: &'static str,
    /// The value that removes them (`remove`; `archive` for projects).
    pub removes: &'static str,
    /// Where the file writes the list that makes them managed, in words.
    pub list: &'static str,
    /// A removal is undone by declaring the object again (nothing is destroyed: a member,
    /// a membership, a grant), so an export, which lists everything, removes what a file
    /// stops listing.
    pub restorable: bool,
}

/// One kind of object (a registry entry). Object-safe: the registry hands out
/// `&'static dyn Kind`.
pub trait Kind: Sync {
    /// What people read where changes are grouped (section titles, the order graph): the
    /// OpenAI dashboard's words, not the plan's kind name.
    fn title(&self) -> &'static str;

    /// The `policy.unmanaged` key that decides what becomes of live objects of this kind the
    /// file does not declare, and the value that removes them (`("users", "remove")`,
    /// `("projects", "archive")`): the line a plan that only reports such an object tells
    /// the reader to add. `None` (the default) for a kind never reported that way.
    fn unmanaged_policy(&self) -> Option<UnmanagedPolicy> {
        None
    }

    /// Whether the file manages some list of this kind (writes it, even empty): only then
    /// does its [`UnmanagedPolicy`] act. Children of projects declared `archived` are not
    /// managed (archiving ends them).
    fn manages(&self, _doc: &Document) -> bool {
        false
    }

    /// Leaves this kind's lists out of `doc` (unmanaged): what `export` does for a kind it
    /// did not read, since a list written empty would tell the plan to remove everything in
    /// it. The default, for kinds without lists of their own in the file, does nothing.
    fn leave_out(&self, _doc: &mut Document) {}

    /// Shapes this kind's part of an exported document (the live organization as a file),
    /// in registry order: what the file writes differently from what was read (pending
    /// invites become declared users), lists that cannot hold anything in this organization
    /// left out, and files the document refers to (`files`: relative path -> content).
    fn export(
        &self,
        _doc: &mut Document,
        _files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Where the file declares this kind when it is a field the kind owns
    /// (`model::KindFields`): on the organization's `settings` or on each project, under this
    /// key. The registry's order of these fields is the canonical order of a file.
    fn file_field(&self) -> Option<(FieldPlace, &'static str)> {
        None
    }

    /// Why a value of this kind's field is not one it reads (a wrong shape), if it is not.
    /// The schema refuses such values first; this keeps the model honest where no schema ran.
    fn field_error(&self, _value: &serde_json::Value) -> Option<String> {
        None
    }

    /// The canonical form of this kind's field value (sorted lists), as `fmt` and `export`
    /// write it.
    fn canonical_field(&self, value: serde_json::Value) -> serde_json::Value {
        value
    }

    /// Whether `change` (one of this kind's) grants or removes access or money, and how to
    /// say so with the person, role or project named: decided here once, read by every
    /// rendering. `None` (the default) for changes that do neither.
    fn attention(&self, change: &Change) -> Option<Attention> {
        let _ = change;
        None
    }

    /// Which audit-log events explain drift of this kind and how they name its objects
    /// (`drift` attributes by these alone). Empty (the default): its drift stays
    /// unattributed.
    fn attribution(&self) -> Vec<super::attribution::Rule> {
        Vec::new()
    }

    /// Whether the audit log reveals every change of this kind's lists, and how its pages are
    /// kept in a snapshot (`kinds::incremental`): then a plan with a snapshot re-reads only
    /// the lists an event since the snapshot can have changed. `None` (the default): read in
    /// full on every run. Declare it only when every write that can change the lists
    /// (including side effects of other kinds' writes) is an event type listed here or in
    /// `attribution`.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        None
    }

    /// The list this kind reads of its own, if any (`None`: its live side comes from other
    /// kinds' lists, or it is not read).
    fn source(&self) -> Option<Source> {
        None
    }

    /// What a plan of `doc` reads of this kind: the natural keys of the parents whose list
    /// is read (`Source::parent`), or for an organization list `All` (read it) or `Nothing`.
    /// Derived from what the file manages, next to the diff that relies on it, so the read
    /// never leaves out what the diff compares.
    fn scope(&self, _doc: &Document) -> Select<String> {
        Select::Nothing
    }

    /// Top-level keys of a file whose presence alone means this organization list is read
    /// (`scope` is `All`): `plan` starts it while the file still loads.
    fn read_early_for(&self) -> &'static [&'static str] {
        &[]
    }

    /// Fetches one list (for `parent`, per [`Kind::source`]), handing each page to `pages`
    /// as it arrives (a `Vec` of the kind's wire type), at the endpoint's largest page size.
    fn fetch<'a>(
        &'a self,
        _client: &'a Client,
        _parent: Option<&'a Parent>,
        _pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    /// The objects of one of this kind's pages whose own lists child kinds may read (active
    /// projects, users with an email), each with its natural key, names and IDs.
    fn parents(&self, _of: Option<&Parent>, _page: &RawPage) -> Vec<Parent> {
        Vec::new()
    }

    /// For a deferred list (`Source::deferred`): whether `parent` can hold anything, given
    /// what the rest of the read found (a custom role to be assigned).
    fn worth_reading(&self, _raw: &RawStore, _parent: &Parent) -> bool {
        true
    }

    /// What was read (this kind's lists, and any other kind's it needs) into the live state:
    /// the live document in the file's shape, server IDs, duplicates. Kinds run in registry
    /// order, so a kind finds its parents already there.
    fn normalize(&self, _raw: &RawStore, _state: &mut LiveState) {}

    /// What the schema cannot say about this kind in `doc` (a value allowed in one place but
    /// not another, a likely typo): findings located by the JSON pointer of the value.
    fn check(&self, _doc: &Document) -> Vec<Finding> {
        Vec::new()
    }

    /// What `doc` asks of this kind that the live organization cannot do (a rate limit for
    /// a model the project does not have), found after the live read and before anything is
    /// planned or written: findings located like [`Kind::check`]'s. An error stops `plan`
    /// and `apply` (exit 1) instead of a plan that would fail halfway through apply.
    fn check_live(&self, _doc: &Document, _live: &LiveState) -> Vec<Finding> {
        Vec::new()
    }

    /// The natural keys of the objects `doc` declares of this kind: what a `--target`
    /// pattern may name besides the plan's own keys.
    fn declared_keys(&self, _doc: &Document) -> Vec<String> {
        Vec::new()
    }

    /// Keys of other objects a change of this kind carries (an invite carries the project
    /// memberships it grants on acceptance): a target naming them selects the change.
    fn carried_keys(&self, _change: &super::Change) -> Vec<String> {
        Vec::new()
    }

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
