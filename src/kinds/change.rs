//! The vocabulary every kind speaks and every stage reads: what a change does ([`Action`]),
//! the change itself ([`Change`]), what a plan reports without changing ([`UnmanagedObject`]),
//! why a plan is refused ([`Refusal`]) and what waits for an invite ([`Waiting`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Operation, ResourceKind};

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
    /// Whether `gates` decides this rule from the changes: a plan narrowed or rebuilt from
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
