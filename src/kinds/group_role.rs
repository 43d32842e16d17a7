//! Custom organization roles granted to a group, key `group:<group>/role:<role>`: `grant`ed
//! and `revoke`d (see `role_set`). Undeclared ones follow `policy.unmanaged.role_assignments`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::role_assignments::Principal as ReadPrincipal;
use crate::api::types::{AssignedRole, GroupId as ReadGroupId};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;

use super::context::{Context, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs;
use super::keys::refs::{group, role as org_role};
use crate::api::role_assignments::Principal;
use crate::api::safe::remove;
use crate::api::types::{GroupId, RoleId};

const KIND: ResourceKind = ResourceKind::GroupRole;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AssignGroupRole { group: String, role: String },
    UnassignGroupRole { group: String, role: String },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Organization roles of groups.
pub(crate) struct GroupRoleKind;

impl Kind for GroupRoleKind {
    fn title(&self) -> &'static str {
        "Organization roles of groups"
    }

    /// Only the group an assignment event names; a deleted or renamed role changes the lists that hold it.
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
        doc.groups.iter().any(|g| g.roles.is_managed())
    }

    fn leave_out(&self, doc: &mut crate::model::Document) {
        doc.groups
            .iter_mut()
            .for_each(|g| g.roles = crate::model::ManagedList::default());
    }

    /// Where no custom role exists to assign, the export leaves the empty lists out, so its
    /// plan reads no per-principal lists.
    fn export(
        &self,
        doc: &mut crate::model::Document,
        _files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        if doc.roles.is_empty() {
            doc.groups
                .iter_mut()
                .for_each(|g| g.roles.unmanage_if_empty());
        }
        Ok(())
    }

    /// A custom organization role given to or taken from a group (all its members).
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::AssignGroupRole { group, role } => Some(super::Attention::new(
                group,
                format!("group gets organization role {role}, for every member"),
            )),
            Op::UnassignGroupRole { group, role } => Some(super::Attention::new(
                group,
                format!("group loses organization role {role}"),
            )),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for group in &ctx.desired.groups {
            let live = ctx.live.groups.iter().find(|g| g.name == group.name);
            let name = group.name.clone();
            role_set::diff(
                RoleSet {
                    kind: ResourceKind::GroupRole,
                    principal: keys::group(&group.name),
                    desired: &group.roles,
                    live: live.map(|g| g.roles.as_slice()).unwrap_or_default(),
                    role_key: &|r| keys::role(r),
                    grant: &|r| {
                        Op::AssignGroupRole {
                            group: name.clone(),
                            role: r.to_string(),
                        }
                        .into()
                    },
                    revoke: &|r| {
                        Op::UnassignGroupRole {
                            group: name.clone(),
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
            Op::AssignGroupRole { group: g, role } | Op::UnassignGroupRole { group: g, role } => {
                vec![group(g), refs::role(role)]
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
                Op::AssignGroupRole { group: g, role } => {
                    let gid = GroupId::from(cx.need(&group(g))?);
                    let rid = RoleId::from(cx.need(&org_role(role))?);
                    cx.assign(Principal::Group(&gid), &rid).await
                }
                Op::UnassignGroupRole { group: g, role } => {
                    let Some([gid, rid]) = cx.have([group(g), org_role(role)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (gid, rid) = (GroupId::from(gid), RoleId::from(rid));
                    let removal = remove(|| c.unassign_role(Principal::Group(&gid), &rid))
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
            Op::AssignGroupRole { group: g, role } => group(s, g).roles.push(role.clone()),
            Op::UnassignGroupRole { group: g, role } => group(s, g).roles.retain(|r| r != role),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source {
            parent: Some(ResourceKind::Group),
            deferred: true,
            announced_as: Some("groups"),
        })
    }

    /// The custom roles of the groups whose `roles` list the file writes.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::only_if(
            doc.groups.iter().any(|g| g.roles.is_managed()),
            doc.groups
                .iter()
                .filter(|g| g.roles.is_managed())
                .map(|g| keys::group(&g.name)),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = ReadGroupId::from(parent.map(Parent::id).unwrap_or_default());
            one_page(
                &pages,
                client
                    .list_role_assignments(ReadPrincipal::Group(&id))
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
        for group in state.org.groups.iter_mut() {
            let Some(id) = state.ids.get(&refs::group(&group.name)) else {
                continue;
            };
            if let Some(assigned) =
                raw.for_parent_ids::<AssignedRole>(KIND, std::slice::from_ref(id))
            {
                *group.roles = super::wire::custom_names(Some(&assigned));
            }
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.groups
            .iter()
            .flat_map(|g| {
                let principal = keys::group(&g.name);
                g.roles.iter().map(move |r| keys::assignment(&principal, r))
            })
            .collect()
    }
}
