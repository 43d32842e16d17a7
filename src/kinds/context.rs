//! What every kind's diff reads ([`Context`]: both sides normalised, with lookups) and
//! writes ([`Output`]: draft changes, reported objects, refusals).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::LiveState;
use super::normalize::normalize_document;
use super::{
    Action, ChangeId, FieldChange, Operation, Refusal, RefusalRule, ResourceKind, UnmanagedObject,
};
use crate::model::{
    Document, Invite, InviteStatus, ManagedList, Project, UnmanagedAction, User, normalize_email,
};

/// Top-level field differences between two JSON objects, in the order the fields appear in
/// `after` then `before`. Absent and `null` are the same.
pub(crate) fn diff_fields(
    before: Option<&Value>,
    after: Option<&Value>,
    skip: &[&str],
) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut names: Vec<&String> = a.keys().collect();
    for k in b.keys() {
        if !a.contains_key(k) {
            names.push(k);
        }
    }
    let present = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    names
        .into_iter()
        .filter(|n| !skip.contains(&n.as_str()))
        .filter_map(|n| {
            let (bv, av) = (present(b.get(n)), present(a.get(n)));
            (bv != av).then(|| FieldChange {
                field: n.clone(),
                before: bv,
                after: av,
            })
        })
        .collect()
}

/// A change before ordering.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: ResourceKind,
    pub key: String,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub fields: Vec<FieldChange>,
    pub op: Operation,
    /// Keys of the objects this one lives in or refers to: an addition waits for their
    /// creation, their removal waits for this one's removal.
    pub parents: Vec<String>,
    /// The principal whose role set this change edits: its revocations wait for its grants.
    pub principal: Option<String>,
    /// Further changes that must run first.
    pub after_changes: Vec<ChangeId>,
    /// Destructive although its action is not (a lowered spend limit, zero data retention
    /// turned on): counted by `max_removals`, shown first.
    pub destructive: bool,
}

impl Draft {
    pub fn new(kind: ResourceKind, key: String, action: Action, op: impl Into<Operation>) -> Draft {
        Draft {
            kind,
            key,
            action,
            before: None,
            after: None,
            fields: Vec::new(),
            op: op.into(),
            parents: Vec::new(),
            principal: None,
            after_changes: Vec::new(),
            destructive: false,
        }
    }

    pub fn destructive(mut self, destructive: bool) -> Draft {
        self.destructive = destructive;
        self
    }

    /// What `max_removals` counts.
    pub fn is_destructive(&self) -> bool {
        self.destructive || self.action.is_destructive()
    }

    pub fn before(mut self, value: Option<Value>) -> Draft {
        self.before = value;
        self
    }

    pub fn after(mut self, value: Option<Value>) -> Draft {
        self.after = value;
        self
    }

    /// Fields from `before`/`after`, skipping the natural-key fields.
    pub fn diffed(mut self, skip: &[&str]) -> Draft {
        self.fields = diff_fields(self.before.as_ref(), self.after.as_ref(), skip);
        self
    }

    pub fn parents<I: IntoIterator<Item = String>>(mut self, parents: I) -> Draft {
        self.parents.extend(parents);
        self
    }

    pub fn principal(mut self, principal: String) -> Draft {
        self.principal = Some(principal);
        self
    }

    pub fn id(&self) -> ChangeId {
        ChangeId::new(self.kind, self.action, &self.key)
    }
}

/// What a change means for the whole-plan safety gates (`Kind::gate_facts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateFacts {
    /// Removes, demotes or archives an object `policy.protect` names.
    pub protected: bool,
    /// Removes or demotes the owner of the admin key in use.
    pub key_owner: bool,
    /// Takes an organization owner away (a removal or a demotion).
    pub owner_lost: bool,
    /// Makes an organization owner (a promotion).
    pub owner_gained: bool,
    /// Archives the organization's default project.
    pub default_project: bool,
}

/// Where a user stands with respect to the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// In `/organization/users`.
    Member,
    /// Not a member (yet): anything that needs membership waits for the invite.
    NotMember,
}

/// Both sides, normalised, with lookups by natural key.
pub struct Context<'a> {
    pub desired: Document,
    pub live: Document,
    pub state: &'a LiveState,
    pub key_owner: Option<String>,
    desired_users: BTreeMap<String, usize>,
    live_users: BTreeMap<String, usize>,
    desired_projects: BTreeMap<String, usize>,
    live_projects: BTreeMap<String, usize>,
    /// Per email: the live invite that decides the lifecycle (pending over expired over
    /// accepted; ties broken by the normalised sort).
    live_invites: BTreeMap<String, usize>,
    /// Models each (project, model) the baseline managed.
    baseline_rate_limits: Option<BTreeSet<(String, String)>>,
}

fn index<T>(items: &[T], key: impl Fn(&T) -> String) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        map.entry(key(item)).or_insert(i);
    }
    map
}

impl<'a> Context<'a> {
    /// `baseline`: the desired document last applied (`PlanOptions::baseline`), if known.
    pub fn new(
        desired: &Document,
        state: &'a LiveState,
        baseline: Option<&Document>,
    ) -> Context<'a> {
        let desired = normalize_document(desired, &state.ids);
        let live = normalize_document(&state.org, &state.ids);
        let mut live_invites = BTreeMap::new();
        let rank = |invite: &Invite| match invite.status {
            InviteStatus::Pending => 0,
            InviteStatus::Expired => 1,
            InviteStatus::Accepted => 2,
        };
        for (i, invite) in live.invites.iter().enumerate() {
            let slot = live_invites.entry(invite.email.clone()).or_insert(i);
            if rank(invite) < rank(&live.invites[*slot]) {
                *slot = i;
            }
        }
        let baseline_rate_limits = baseline.map(|base| {
            base.projects
                .iter()
                .flat_map(|p| {
                    p.rate_limits
                        .keys()
                        .map(move |m| (p.name.clone(), m.clone()))
                })
                .collect()
        });
        Context {
            desired_users: index(&desired.users, |u| u.email.clone()),
            live_users: index(&live.users, |u| u.email.clone()),
            desired_projects: index(&desired.projects, |p| p.name.clone()),
            live_projects: index(&live.projects, |p| p.name.clone()),
            live_invites,
            baseline_rate_limits,
            key_owner: state.key_owner.as_deref().map(normalize_email),
            desired,
            live,
            state,
        }
    }

    pub fn desired_user(&self, email: &str) -> Option<&User> {
        self.desired_users
            .get(email)
            .map(|&i| &self.desired.users[i])
    }

    pub fn live_user(&self, email: &str) -> Option<&User> {
        self.live_users.get(email).map(|&i| &self.live.users[i])
    }

    pub fn live_invite(&self, email: &str) -> Option<&Invite> {
        self.live_invites.get(email).map(|&i| &self.live.invites[i])
    }

    pub fn desired_project(&self, name: &str) -> Option<&Project> {
        self.desired_projects
            .get(name)
            .map(|&i| &self.desired.projects[i])
    }

    pub fn live_project(&self, name: &str) -> Option<&Project> {
        self.live_projects
            .get(name)
            .map(|&i| &self.live.projects[i])
    }

    /// How many organization owners there are now.
    pub fn live_owner_count(&self) -> usize {
        self.live
            .users
            .iter()
            .filter(|u| u.role == crate::model::OrgRole::Owner)
            .count()
    }

    pub fn membership(&self, email: &str) -> Membership {
        if self.live_user(email).is_some() {
            Membership::Member
        } else {
            Membership::NotMember
        }
    }

    pub fn is_default_project(&self, name: &str) -> bool {
        self.state.default_project.as_deref() == Some(name)
    }

    /// Declared projects whose children are diffed: not declared `archived` (archiving ends
    /// every access at once, so an archived project's children are not managed), and either
    /// existing live and active or created by this plan. With the live project, if any.
    pub fn child_projects(&self) -> Vec<(&Project, Option<&Project>)> {
        self.desired
            .projects
            .iter()
            .filter(|desired| !desired.archived)
            .filter_map(|desired| {
                let live = self.live_project(&desired.name);
                match live {
                    Some(l) if l.archived => None,
                    _ => Some((desired, live)),
                }
            })
            .collect()
    }

    /// Whether the baseline (if given) already managed this rate limit.
    pub fn baseline_manages_rate_limit(&self, project: &str, model: &str) -> Option<bool> {
        self.baseline_rate_limits
            .as_ref()
            .map(|set| set.contains(&(project.to_string(), model.to_string())))
    }
}

/// What the kinds produce.
#[derive(Default)]
pub struct Output {
    pub drafts: Vec<Draft>,
    pub unmanaged: Vec<UnmanagedObject>,
    pub refusals: Vec<Refusal>,
    pub waiting: Vec<super::Waiting>,
}

impl Output {
    pub fn push(&mut self, draft: Draft) {
        self.drafts.push(draft);
    }

    /// A live object the file does not declare: report it, plan its removal, or say nothing.
    pub fn unmanaged(
        &mut self,
        policy: UnmanagedAction,
        kind: ResourceKind,
        key: &str,
        object: Value,
        removal: impl FnOnce() -> Draft,
    ) {
        match policy {
            UnmanagedAction::Report => self.unmanaged.push(UnmanagedObject {
                kind,
                key: key.to_string(),
                object,
                note: None,
            }),
            UnmanagedAction::Remove => self.push(removal()),
            UnmanagedAction::Ignore => {}
        }
    }

    pub fn refuse(&mut self, rule: RefusalRule, message: String, objects: Vec<String>, hint: &str) {
        self.refusals.push(Refusal {
            rule,
            message,
            objects,
            override_hint: hint.to_string(),
        });
    }
}

/// The live objects of a list, or none when the file does not manage that list: a list the
/// file leaves out is neither compared nor reported (see [`ManagedList`]). Every kind reads
/// its live side through this, so the plan never depends on what the read scope skipped.
pub(crate) fn when_managed<'x, D, T>(desired: &ManagedList<D>, live: &'x [T]) -> &'x [T] {
    if desired.is_managed() { live } else { &[] }
}

/// Union of the keys of two maps, sorted, with what each side has.
pub(crate) fn pair_up<'x, D, L>(
    desired: &'x BTreeMap<String, D>,
    live: &'x BTreeMap<String, L>,
) -> Vec<(&'x String, Option<&'x D>, Option<&'x L>)> {
    let keys: BTreeSet<&String> = desired.keys().chain(live.keys()).collect();
    keys.into_iter()
        .map(|k| (k, desired.get(k), live.get(k)))
        .collect()
}
