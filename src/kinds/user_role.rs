//! Custom organization roles of a user, key `user:<email>/role:<role>`: `grant`ed and
//! `revoke`d (see `role_set`). Only for organization members: an invited user's roles wait
//! for acceptance (listed as deferred in the invite). Undeclared ones follow
//! `policy.unmanaged.role_assignments`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::role_assignments::Principal as ReadPrincipal;
use crate::api::types::{AssignedRole, UserId as ReadUserId};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use crate::model::normalize_email;

use super::context::{Context, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs;
use super::keys::refs::{role as org_role, user};
use crate::api::role_assignments::Principal;
use crate::api::safe::remove;
use crate::api::types::{RoleId, UserId};

const KIND: ResourceKind = ResourceKind::UserRole;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AssignUserRole { email: String, role: String },
    UnassignUserRole { email: String, role: String },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Organization roles of members.
pub(crate) struct UserRoleKind;

impl Kind for UserRoleKind {
    fn title(&self) -> &'static str {
        "Organization roles of members"
    }

    /// Only the principal an assignment event names; a deleted or renamed role changes the lists that hold it.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(super::incremental::pages_of::<AssignedRole>(&[
            ("role.deleted", Reach::Held),
            ("role.updated", Reach::Held),
        ]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "role.assignment.created", Assignment),
            rule(Missing, "role.assignment.deleted", Assignment),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "role_assignments",
            removes: "remove",
            list: "a `roles` list of a user, group or project member",
            restorable: true,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.users.iter().any(|u| u.roles.is_managed())
    }

    fn leave_out(&self, doc: &mut crate::model::Document) {
        doc.users
            .iter_mut()
            .for_each(|u| u.roles = crate::model::ManagedList::default());
    }

    /// Where no custom role exists to assign, the export leaves the empty lists out, so its
    /// plan reads no per-principal lists.
    fn export(
        &self,
        doc: &mut crate::model::Document,
        _files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        if doc.roles.is_empty() {
            doc.users
                .iter_mut()
                .for_each(|u| u.roles.unmanage_if_empty());
        }
        Ok(())
    }

    /// A custom organization role given to or taken from a person.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::AssignUserRole { email, role } => Some(super::Attention::new(
                email,
                format!("gets organization role {role}"),
            )),
            Op::UnassignUserRole { email, role } => Some(super::Attention::new(
                email,
                format!("loses organization role {role}"),
            )),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for user in &ctx.desired.users {
            let Some(live) = ctx.live_user(&user.email) else {
                continue;
            };
            let email = user.email.clone();
            role_set::diff(
                RoleSet {
                    kind: ResourceKind::UserRole,
                    principal: keys::user(&user.email),
                    desired: &user.roles,
                    live: &live.roles,
                    role_key: &|r| keys::role(r),
                    grant: &|r| {
                        Op::AssignUserRole {
                            email: email.clone(),
                            role: r.to_string(),
                        }
                        .into()
                    },
                    revoke: &|r| {
                        Op::UnassignUserRole {
                            email: email.clone(),
                            role: r.to_string(),
                        }
                        .into()
                    },
                    policy: ctx.desired.policy.unmanaged.role_assignments,
                },
                out,
            );
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::AssignUserRole { email, role } | Op::UnassignUserRole { email, role } => {
                vec![user(email), refs::role(role)]
            }
        };
        ids.sort();
        ids.dedup();
        ids
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let op: Op = op.decode()?;
            let c = &cx.client;
            match &op {
                Op::AssignUserRole { email, role } => {
                    let uid = UserId::from(cx.need(&user(email))?);
                    let rid = RoleId::from(cx.need(&org_role(role))?);
                    cx.assign(Principal::User(&uid), &rid).await
                }
                Op::UnassignUserRole { email, role } => {
                    let Some([uid, rid]) = cx.have([user(email), org_role(role)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (uid, rid) = (UserId::from(uid), RoleId::from(rid));
                    let removal = remove(|| c.unassign_role(Principal::User(&uid), &rid))
                        .await
                        .map_err(api)?;
                    Ok(removed(removal))
                }
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut crate::kinds::LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        use super::simulate::*;
        match &op {
            Op::AssignUserRole { email, role } => {
                for u in s
                    .org
                    .users
                    .iter_mut()
                    .filter(|u| same_email(&u.email, email))
                {
                    u.roles.push(role.clone());
                }
            }
            Op::UnassignUserRole { email, role } => {
                for u in s
                    .org
                    .users
                    .iter_mut()
                    .filter(|u| same_email(&u.email, email))
                {
                    u.roles.retain(|r| r != role);
                }
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source {
            parent: Some(ResourceKind::User),
            deferred: true,
            announced_as: Some("users"),
        })
    }

    /// The custom roles of the users whose `roles` list the file writes.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::only_if(
            doc.users.iter().any(|u| u.roles.is_managed()),
            doc.users
                .iter()
                .filter(|u| u.roles.is_managed())
                .map(|u| keys::user(&normalize_email(&u.email))),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = ReadUserId::from(parent.map(Parent::id).unwrap_or_default());
            one_page(
                &pages,
                client
                    .list_role_assignments(ReadPrincipal::User(&id))
                    .await?,
            );
            Ok(())
        })
    }

    /// Only where a custom organization role exists to be assigned.
    fn worth_reading(&self, raw: &RawStore, _parent: &Parent) -> bool {
        super::role::custom_role_exists(raw)
    }

    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        if !raw.was_read(KIND) {
            return;
        }
        for user in state.org.users.iter_mut() {
            let Some(id) = state.ids.get(&refs::user(&user.email)) else {
                continue;
            };
            if let Some(assigned) =
                raw.for_parent_ids::<AssignedRole>(KIND, std::slice::from_ref(id))
            {
                *user.roles = super::wire::custom_names(Some(&assigned));
            }
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.users
            .iter()
            .flat_map(|u| {
                let principal = keys::user(&u.email);
                u.roles.iter().map(move |r| keys::assignment(&principal, r))
            })
            .collect()
    }
}
