//! The planner: a pure function from (desired [`Document`], observed [`LiveState`]) to an
//! ordered [`Plan`]. No IO, no clock, no randomness: the same inputs give the same plan, byte
//! for byte, whatever order the input lists come in.
//!
//! # Semantics
//!
//! - **Natural keys.** Every object is identified by a key built from names and emails
//!   (`project:Search/member:bob@x.example`), never by a server ID. Emails are compared in
//!   their [`normalize_email`](crate::model::normalize_email) form. Role lists are compared as
//!   sets after role aliases (`role-api-project-member` for `member`, a project-scoped role ID
//!   for its name) are normalised on both sides ([`normalize`]), so an alias-only difference
//!   never becomes a change.
//! - **Invites are a lifecycle.** A declared user who is not a member gets an `invite` carrying
//!   their project memberships; a pending invite that matches (role and projects) satisfies
//!   the user and plans nothing; an expired one is re-sent (`reinvite`); a pending one that no
//!   longer matches is `replace`d; accepted invites are never deleted. Everything else a
//!   not-yet-member user needs (group memberships, custom roles) waits for acceptance: it is
//!   listed under `deferred` in the invite's `after` and planned by a later run; the plan
//!   lists it in [`Plan::waiting`] by email (also for an already pending invite, which plans
//!   nothing), and it is never a change.
//! - **Partial plans** ([`target`]): `--target` keeps the changes of matching keys and what
//!   they depend on; [`Plan::targets`] records the patterns.
//! - **Honest verbs** ([`Action`]): projects are `archive`d (irreversible), never deleted; rate
//!   limits pre-exist and are `adopt`ed (first management: the project is new in this plan, or
//!   [`PlanOptions::baseline`] did not manage that model) or `update`d, and only the fields the
//!   file gives are managed; memberships and role assignments are `grant`ed and `revoke`d;
//!   certificates are `activate`d and `deactivate`d per scope.
//! - **Unmanaged objects** (live, of a kind the file manages, not declared) follow
//!   `policy.unmanaged.<kind>`: `report` lists them in [`Plan::unmanaged`] and changes nothing,
//!   `remove` plans their removal, `ignore` says nothing. Children of an undeclared project or
//!   group are not examined (the parent is reported, archived or deleted as a whole); children
//!   of an archived project are never examined (the API has none).
//! - **Safety gates** (`policy.rs`): `protect`, `min_owners`, `max_removals`, never removing or
//!   demoting [`LiveState::key_owner`], never archiving or giving members to the default
//!   project, no unarchive, no residency change, no rate limit for a model the project does
//!   not have. A gate does not hide anything: the plan still lists every change, and carries
//!   [`Refusal`]s naming the rule, the objects and how to override. A plan with refusals must
//!   not be applied; the command exits 3 ([`Plan::is_refused`]).
//! - **Order** (`order.rs`): see [`order`]. Every change lists the ids of the changes that
//!   must run before it (`depends_on`), and the list is already in a valid order.
//!
//! # Adding a resource kind
//!
//! A kind lives in one file, `kinds/<kind>.rs`: its key format, its fields, its diff and the
//! [`Operation`]s it emits. Register it in `kinds/mod.rs` and [`ResourceKind`], document it in
//! `schema/plan.schema.json` (the `kind` enum) and in the module doc above.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::live::LiveState;
use crate::model::Document;

pub mod digest;
pub mod order;
mod policy;
pub mod saved;
pub mod target;

#[cfg(test)]
mod simulate;
#[cfg(test)]
mod tests;

pub use crate::kinds::{
    Action, ActionClass, CertificateScope, Change, ChangeId, FieldChange, IdRef, Operation,
    Refusal, RefusalRule, ResourceKind, RoleUpdate, UnmanagedObject, Waiting,
};
pub(crate) use crate::kinds::{context, keys, normalize};

/// Knobs from the command line; everything else comes from the file's `policy:`.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--allow-removals`: lift the `max_removals` gate for this run.
    pub allow_removals: bool,
    /// `--max-removals N`: replaces `policy.max_removals` for this run.
    pub max_removals: Option<u32>,
    /// The desired document last applied (e.g. the file at the pull request's base). Used
    /// only to tell `adopt` (a rate limit the baseline did not manage) from `update`.
    pub baseline: Option<Document>,
}

/// The result of planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// In a valid execution order (every `depends_on` appears earlier).
    pub changes: Vec<Change>,
    /// Reported, not changed; sorted by (kind, key).
    pub unmanaged: Vec<UnmanagedObject>,
    /// Non-empty means: do not apply (exit 3). Sorted by (rule, objects).
    pub refusals: Vec<Refusal>,
    /// What waits for invites to be accepted, by email. Not changes: they never make a plan
    /// non-empty (`--detailed-exitcode` 0 when nothing else is pending).
    #[serde(default)]
    pub waiting: Vec<Waiting>,
    /// `--target` patterns of a partial plan ([`target`]); empty for a whole plan.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// Counts per action, and per summary bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub by_action: BTreeMap<Action, usize>,
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub remove: usize,
    pub archive: usize,
}

impl Plan {
    /// Nothing apply could do now (reported unmanaged objects and what waits for an invite
    /// to be accepted are not changes).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Made with `--target`: only some objects and what they depend on.
    pub fn is_partial(&self) -> bool {
        !self.targets.is_empty()
    }

    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            *summary.by_action.entry(change.action).or_default() += 1;
            match change.action.class() {
                ActionClass::Add => summary.add += 1,
                ActionClass::Change => summary.change += 1,
                ActionClass::Replace => summary.replace += 1,
                ActionClass::Remove => summary.remove += 1,
                ActionClass::Archive => summary.archive += 1,
            }
        }
        summary
    }

    pub fn destructive_count(&self) -> usize {
        self.changes.iter().filter(|c| c.destructive).count()
    }
}

/// A plan that cannot be built at all (as opposed to a refused one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The dependency graph has a cycle: a bug in a kind's dependencies, never user input.
    #[error("the plan's dependencies form a cycle between: {}", .0.join(", "))]
    Cycle(Vec<String>),
}

/// Diff `desired` against `live` into an ordered plan. See the module doc for the semantics.
///
/// Returns `Err` only when the plan cannot be ordered (a dependency cycle, which names the
/// changes). Safety gates do not make this fail: they add [`Refusal`]s to the plan.
pub fn plan(
    desired: &Document,
    live: &LiveState,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let ctx = context::Context::new(desired, live, options.baseline.as_ref());
    let mut out = context::Output::default();
    crate::kinds::diff_all(&ctx, &mut out);
    policy::apply_gates(&ctx, options, &mut out);
    // The normalised copies of both sides are not needed to order: freed before the
    // drafts become changes (a large plan's peak).
    drop(ctx);
    let changes = order::order(out.drafts)?;
    let mut unmanaged = out.unmanaged;
    unmanaged.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    let mut refusals = out.refusals;
    for refusal in &mut refusals {
        refusal.objects.sort();
        refusal.objects.dedup();
    }
    refusals
        .sort_by(|a, b| (a.rule, &a.objects, &a.message).cmp(&(b.rule, &b.objects, &b.message)));
    let mut waiting = out.waiting;
    waiting.sort_by(|a, b| (&a.email, &a.invite).cmp(&(&b.email, &b.invite)));
    Ok(Plan {
        changes,
        unmanaged,
        refusals,
        waiting,
        targets: Vec::new(),
    })
}

/// The whole-plan safety gates (`protect`, key owner, `min_owners`, the default project,
/// `max_removals`) over `changes` alone: `apply --plan` re-checks them on the changes it is
/// about to run, whatever the saved file says. Sorted like [`Plan::refusals`].
pub fn gates(
    desired: &Document,
    live: &LiveState,
    options: &PlanOptions,
    changes: &[Change],
) -> Vec<Refusal> {
    let ctx = context::Context::new(desired, live, options.baseline.as_ref());
    let mut out = context::Output::default();
    for change in changes {
        out.push(
            context::Draft::new(
                change.kind,
                change.key.clone(),
                change.action,
                change.op.clone(),
            )
            .destructive(change.destructive),
        );
    }
    policy::apply_gates(&ctx, options, &mut out);
    let mut refusals = out.refusals;
    for refusal in &mut refusals {
        refusal.objects.sort();
        refusal.objects.dedup();
    }
    refusals
        .sort_by(|a, b| (a.rule, &a.objects, &a.message).cmp(&(b.rule, &b.objects, &b.message)));
    refusals
}
