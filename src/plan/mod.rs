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
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::live::LiveState;
use crate::model::Document;

pub(crate) mod context;
mod kinds;
/// The natural-key format of each kind (also how `orgops audit` names objects).
pub(crate) use kinds::keys;
pub mod digest;
pub mod normalize;
mod operation;
pub mod order;
mod policy;
pub mod saved;
pub mod target;

#[cfg(test)]
mod simulate;
#[cfg(test)]
mod tests;

pub use operation::{CertificateScope, IdRef, Operation, RoleUpdate};

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

/// The kinds of objects a plan changes, in the order their changes are listed when nothing
/// else decides (parents before children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Project,
    Role,
    Group,
    Certificate,
    AdminApiKey,
    Invite,
    User,
    UserRole,
    GroupMember,
    GroupRole,
    ProjectRole,
    ProjectMember,
    ProjectMemberRole,
    ProjectGroup,
    ProjectGroupRole,
    ServiceAccount,
    RateLimit,
    CertificateActivation,
    // Settings kinds (`crate::kinds`).
    OrganizationDataRetention,
    OrganizationSpendLimit,
    ProjectDataRetention,
    ProjectSpendLimit,
    ProjectModelPermissions,
    ProjectHostedTools,
    ProjectApiKey,
    OrganizationSpendAlert,
    ProjectSpendAlert,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 27] = [
        ResourceKind::Project,
        ResourceKind::Role,
        ResourceKind::Group,
        ResourceKind::Certificate,
        ResourceKind::AdminApiKey,
        ResourceKind::Invite,
        ResourceKind::User,
        ResourceKind::UserRole,
        ResourceKind::GroupMember,
        ResourceKind::GroupRole,
        ResourceKind::ProjectRole,
        ResourceKind::ProjectMember,
        ResourceKind::ProjectMemberRole,
        ResourceKind::ProjectGroup,
        ResourceKind::ProjectGroupRole,
        ResourceKind::ServiceAccount,
        ResourceKind::RateLimit,
        ResourceKind::CertificateActivation,
        ResourceKind::OrganizationDataRetention,
        ResourceKind::OrganizationSpendLimit,
        ResourceKind::ProjectDataRetention,
        ResourceKind::ProjectSpendLimit,
        ResourceKind::ProjectModelPermissions,
        ResourceKind::ProjectHostedTools,
        ResourceKind::ProjectApiKey,
        ResourceKind::OrganizationSpendAlert,
        ResourceKind::ProjectSpendAlert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Project => "project",
            ResourceKind::Role => "role",
            ResourceKind::Group => "group",
            ResourceKind::Certificate => "certificate",
            ResourceKind::AdminApiKey => "admin_api_key",
            ResourceKind::Invite => "invite",
            ResourceKind::User => "user",
            ResourceKind::UserRole => "user_role",
            ResourceKind::GroupMember => "group_member",
            ResourceKind::GroupRole => "group_role",
            ResourceKind::ProjectRole => "project_role",
            ResourceKind::ProjectMember => "project_member",
            ResourceKind::ProjectMemberRole => "project_member_role",
            ResourceKind::ProjectGroup => "project_group",
            ResourceKind::ProjectGroupRole => "project_group_role",
            ResourceKind::ServiceAccount => "service_account",
            ResourceKind::RateLimit => "rate_limit",
            ResourceKind::CertificateActivation => "certificate_activation",
            ResourceKind::OrganizationDataRetention => "organization_data_retention",
            ResourceKind::OrganizationSpendLimit => "organization_spend_limit",
            ResourceKind::ProjectDataRetention => "project_data_retention",
            ResourceKind::ProjectSpendLimit => "project_spend_limit",
            ResourceKind::ProjectModelPermissions => "project_model_permissions",
            ResourceKind::ProjectHostedTools => "project_hosted_tools",
            ResourceKind::ProjectApiKey => "project_api_key",
            ResourceKind::OrganizationSpendAlert => "organization_spend_alert",
            ResourceKind::ProjectSpendAlert => "project_spend_alert",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change does, named for what the API really does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A new object.
    Create,
    /// A new invite for a declared user who is not a member.
    Invite,
    /// An expired invite is deleted and sent again.
    Reinvite,
    /// A membership or role assignment is added.
    Grant,
    /// A certificate is activated at a scope.
    Activate,
    /// First management of a pre-existing object (rate limits).
    Adopt,
    /// A setting is written where the API's default was in force (first management).
    Set,
    /// Fields of an existing object change in place.
    Update,
    /// Delete + create (an invite whose role or projects changed).
    Replace,
    /// A membership or role assignment is taken away.
    Revoke,
    /// A certificate is deactivated at a scope.
    Deactivate,
    /// A user leaves the organization.
    Remove,
    /// An object is deleted.
    Delete,
    /// A setting is deleted (the API's default applies again).
    Unset,
    /// A project is archived: irreversible, there is no unarchive.
    Archive,
}

/// The summary buckets of the text and markdown renderings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActionClass {
    Add,
    Change,
    Replace,
    Remove,
    Archive,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::Create,
        Action::Invite,
        Action::Reinvite,
        Action::Grant,
        Action::Activate,
        Action::Adopt,
        Action::Set,
        Action::Update,
        Action::Replace,
        Action::Revoke,
        Action::Deactivate,
        Action::Remove,
        Action::Delete,
        Action::Unset,
        Action::Archive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Invite => "invite",
            Action::Reinvite => "reinvite",
            Action::Grant => "grant",
            Action::Activate => "activate",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Revoke => "revoke",
            Action::Deactivate => "deactivate",
            Action::Remove => "remove",
            Action::Delete => "delete",
            Action::Unset => "unset",
            Action::Archive => "archive",
            Action::Set => "set",
        }
    }

    pub fn class(self) -> ActionClass {
        match self {
            Action::Create | Action::Invite | Action::Grant | Action::Activate => ActionClass::Add,
            Action::Adopt | Action::Set | Action::Update => ActionClass::Change,
            Action::Reinvite | Action::Replace => ActionClass::Replace,
            Action::Revoke
            | Action::Deactivate
            | Action::Remove
            | Action::Delete
            | Action::Unset => ActionClass::Remove,
            Action::Archive => ActionClass::Archive,
        }
    }

    /// The Terraform-like marker of the text rendering.
    pub fn symbol(self) -> &'static str {
        match self.class() {
            ActionClass::Add => "+",
            ActionClass::Change => "~",
            ActionClass::Replace => "±",
            ActionClass::Remove | ActionClass::Archive => "-",
        }
    }

    /// Takes something away (access, an object, an invite): what `max_removals` counts.
    /// A re-invite only replaces an invite that no longer works, so it is not destructive.
    /// An `unset` removes a setting (a spend limit, a model allow list): counted too. A `set`
    /// or `update` of a setting can also be destructive (a lowered spend limit, zero data
    /// retention turned on): the kind says so per change (`Change::destructive`).
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Action::Replace
                | Action::Revoke
                | Action::Deactivate
                | Action::Remove
                | Action::Delete
                | Action::Unset
                | Action::Archive
        )
    }

    /// Removal phase of the ordering: children go before their parents.
    pub fn is_removal(self) -> bool {
        matches!(
            self,
            Action::Revoke
                | Action::Deactivate
                | Action::Remove
                | Action::Delete
                | Action::Unset
                | Action::Archive
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stable change identifier: `<kind>:<action>:<key>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChangeId(pub String);

impl ChangeId {
    pub fn new(kind: ResourceKind, action: Action, key: &str) -> ChangeId {
        ChangeId(format!("{}:{}:{}", kind.as_str(), action.as_str(), key))
    }
}

impl fmt::Display for ChangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One field of a change, `before -> after` (absent on one side for creates and removals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: ChangeId,
    pub kind: ResourceKind,
    /// The natural key, unique across the whole plan.
    pub key: String,
    pub action: Action,
    /// The object as live has it (normalised), when it exists.
    pub before: Option<serde_json::Value>,
    /// The object as it will be, when it remains.
    pub after: Option<serde_json::Value>,
    /// The fields that differ (for creates: every field set; for removals: none).
    pub fields: Vec<FieldChange>,
    /// Ids of the changes that must complete first; all appear earlier in the plan.
    pub depends_on: Vec<ChangeId>,
    /// Counted by `max_removals`; see [`Action::is_destructive`].
    pub destructive: bool,
    /// What the apply step executes.
    pub op: Operation,
}

/// A live object the file does not declare, listed because its kind's policy is `report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmanagedObject {
    pub kind: ResourceKind,
    pub key: String,
    pub object: serde_json::Value,
    /// Why it is listed, when it is not simply "not in the file" (e.g. `no longer managed`:
    /// a setting removed from the file that the API cannot delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The safety rule a refusal invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalRule {
    /// `policy.protect` names an object the plan would remove, demote or archive.
    Protect,
    /// The plan would remove or demote the owner of the admin key in use.
    KeyOwner,
    /// The plan would leave fewer organization owners than `policy.min_owners`.
    MinOwners,
    /// The plan removes more objects than `policy.max_removals`.
    MaxRemovals,
    /// The default project cannot be archived or given members or service accounts.
    DefaultProject,
    /// The file wants an archived project active again; the API cannot unarchive.
    Unarchive,
    /// A field that is fixed at creation (project residency) differs.
    Immutable,
    /// A rate limit for a model the project has no rate limit for: they cannot be created.
    UnknownRateLimit,
}

impl RefusalRule {
    /// Whether [`gates`] decides this rule from the changes: a plan narrowed or rebuilt from
    /// part of its changes runs the gates again and keeps only the other refusals.
    pub fn is_gate(self) -> bool {
        matches!(
            self,
            RefusalRule::Protect
                | RefusalRule::KeyOwner
                | RefusalRule::MinOwners
                | RefusalRule::MaxRemovals
                | RefusalRule::DefaultProject
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalRule::Protect => "protect",
            RefusalRule::KeyOwner => "key_owner",
            RefusalRule::MinOwners => "min_owners",
            RefusalRule::MaxRemovals => "max_removals",
            RefusalRule::DefaultProject => "default_project",
            RefusalRule::Unarchive => "unarchive",
            RefusalRule::Immutable => "immutable",
            RefusalRule::UnknownRateLimit => "unknown_rate_limit",
        }
    }
}

/// Why the plan must not be applied: the rule, the objects, and how to override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub rule: RefusalRule,
    pub message: String,
    /// Natural keys of the objects concerned, sorted.
    pub objects: Vec<String>,
    /// What the user can do about it.
    #[serde(rename = "override")]
    pub override_hint: String,
}

/// What a declared person gets once they accept their invite (group memberships, custom
/// roles): not a change of this plan, planned by the first run after acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub email: String,
    /// Key of the invite (`invite:EMAIL`).
    pub invite: String,
    /// The change of this plan that sends the invite; `None` when a pending invite already
    /// matches the file (nothing to do until it is accepted).
    pub change: Option<ChangeId>,
    /// Keys of what waits, sorted.
    pub deferred: Vec<String>,
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
    let ctx = context::Context::new(desired, live, options);
    let mut out = context::Output::default();
    kinds::diff_all(&ctx, &mut out);
    policy::apply_gates(&ctx, options, &mut out);
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
    let ctx = context::Context::new(desired, live, options);
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
