//! Custom project roles of a project member, key `project:<project>/member:<email>/role:<role>`:
//! `grant`ed and `revoke`d (see `role_set`), for organization members only (an invited
//! user's roles wait for acceptance). Undeclared ones follow
//! `policy.unmanaged.role_assignments`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::keys::refs;
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page, page_items};
use crate::api::role_assignments::Principal as ReadPrincipal;
use crate::api::types::{AssignedRole, ProjectId as ReadProjectId, UserId as ReadUserId};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use crate::model::normalize_email;
use std::collections::BTreeMap as ReadMap;

use super::context::{Context, Membership, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs::{project, project_role, user};
use crate::api::role_assignments::Principal;
use crate::api::safe::remove;
use crate::api::types::{ProjectId, RoleId, UserId};

const KIND: ResourceKind = ResourceKind::ProjectMemberRole;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AssignProjectUserRole {
        project: String,
        email: String,
        role: String,
    },
    UnassignProjectUserRole {
        project: String,
        email: String,
        role: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Project roles of members.
pub(crate) struct ProjectMemberRoleKind;

impl Kind for ProjectMemberRoleKind {
    fn title(&self) -> &'static str {
        "Project roles of members"
    }

    /// Only the member an assignment event names; a deleted or renamed role changes the lists that hold it.
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
        super::active_projects(doc).any(|p| p.members.iter().any(|m| m.roles.is_managed()))
    }

    fn leave_out(&self, doc: &mut crate::model::Document) {
        for project in doc.projects.iter_mut() {
            project
                .members
                .iter_mut()
                .for_each(|m| m.roles = crate::model::ManagedList::default());
        }
    }

    /// Where no custom role exists to assign, the export leaves the empty lists out, so its
    /// plan reads no per-principal lists.
    fn export(
        &self,
        doc: &mut crate::model::Document,
        _files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        for project in doc.projects.iter_mut().filter(|p| p.roles.is_empty()) {
            project
                .members
                .iter_mut()
                .for_each(|m| m.roles.unmanage_if_empty());
        }
        Ok(())
    }

    /// A custom project role given to or taken from a person.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::AssignProjectUserRole {
                project,
                email,
                role,
            } => Some(super::Attention::new(
                email,
                format!("gets role {role} in project {project}"),
            )),
            Op::UnassignProjectUserRole {
                project,
                email,
                role,
            } => Some(super::Attention::new(
                email,
                format!("loses role {role} in project {project}"),
            )),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired_project, live_project) in ctx.child_projects() {
            let project = desired_project.name.clone();
            if ctx.is_default_project(&project) {
                continue;
            }
            for member in &desired_project.members {
                if ctx.membership(&member.email) != Membership::Member {
                    continue;
                }
                let live =
                    live_project.and_then(|p| p.members.iter().find(|m| m.email == member.email));
                let email = member.email.clone();
                role_set::diff(
                    RoleSet {
                        kind: ResourceKind::ProjectMemberRole,
                        principal: keys::project_member(&project, &member.email),
                        desired: &member.roles,
                        live: live.map(|m| m.roles.as_slice()).unwrap_or_default(),
                        role_key: &|r| keys::project_role(&project, r),
                        grant: &|r| {
                            Op::AssignProjectUserRole {
                                project: project.clone(),
                                email: email.clone(),
                                role: r.to_string(),
                            }
                            .into()
                        },
                        revoke: &|r| {
                            Op::UnassignProjectUserRole {
                                project: project.clone(),
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
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::AssignProjectUserRole {
                project: p,
                email,
                role,
            }
            | Op::UnassignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                vec![project(p), user(email), project_role(p, role)]
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
                Op::AssignProjectUserRole {
                    project: p,
                    email,
                    role,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let uid = UserId::from(cx.need(&user(email))?);
                    let rid = RoleId::from(cx.need(&project_role(p, role))?);
                    cx.assign(Principal::ProjectUser(&pid, &uid), &rid).await
                }
                Op::UnassignProjectUserRole {
                    project: p,
                    email,
                    role,
                } => {
                    let Some([pid, uid, rid]) =
                        cx.have([project(p), user(email), project_role(p, role)])
                    else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (pid, uid, rid) =
                        (ProjectId::from(pid), UserId::from(uid), RoleId::from(rid));
                    let removal =
                        remove(|| c.unassign_role(Principal::ProjectUser(&pid, &uid), &rid))
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
            Op::AssignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                for m in project(s, p)
                    .members
                    .iter_mut()
                    .filter(|m| same_email(&m.email, email))
                {
                    m.roles.push(role.clone());
                }
            }
            Op::UnassignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                for m in project(s, p)
                    .members
                    .iter_mut()
                    .filter(|m| same_email(&m.email, email))
                {
                    m.roles.retain(|r| r != role);
                }
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source {
            parent: Some(ResourceKind::ProjectMember),
            deferred: true,
            announced_as: Some("project members"),
        })
    }

    /// The custom project roles of the members whose `roles` list the file writes.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let projects = || doc.projects.iter().filter(|p| !p.archived);
        Select::only_if(
            projects().any(|p| p.members.iter().any(|m| m.roles.is_managed())),
            projects().flat_map(|p| {
                p.members
                    .iter()
                    .filter(|m| m.roles.is_managed())
                    .map(|m| keys::project_member(&p.name, &normalize_email(&m.email)))
            }),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ids = parent.map(|p| p.ids.clone()).unwrap_or_default();
            let project = ReadProjectId::from(ids.first().cloned().unwrap_or_default());
            let user = ReadUserId::from(ids.get(1).cloned().unwrap_or_default());
            let principal = ReadPrincipal::ProjectUser(&project, &user);
            one_page(&pages, client.list_role_assignments(principal).await?);
            Ok(())
        })
    }

    /// Only in projects with a custom project role to assign.
    fn worth_reading(&self, raw: &RawStore, parent: &Parent) -> bool {
        parent
            .ids
            .first()
            .is_some_and(|project| super::project_role::custom_role_exists(raw, project))
    }

    /// A member's custom roles by name. The IDs of roles seen here are remembered: the
    /// project's role list is read only when the file manages project roles, but revoking a
    /// role that is assigned live (and not declared) still needs its ID.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let position: ReadMap<String, usize> = state
            .org
            .projects
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        for list in raw.lists(KIND) {
            let Some(parent) = &list.parent else { continue };
            let (Some(project), Some(email)) = (parent.names.first(), parent.names.get(1)) else {
                continue;
            };
            // The kept project's lists only (not an extra live duplicate's).
            let kept = state.ids.get(&refs::project(project));
            if kept.map(String::as_str) != parent.ids.first().map(String::as_str) {
                continue;
            }
            let assigned: Vec<&AssignedRole> = list
                .pages
                .iter()
                .flat_map(page_items::<AssignedRole>)
                .collect();
            super::wire::remember_project_role_ids(&mut state.ids, project, Some(&assigned));
            let Some(member) = position.get(project).and_then(|&i| {
                state.org.projects[i]
                    .members
                    .iter_mut()
                    .find(|m| &m.email == email)
            }) else {
                continue;
            };
            *member.roles = super::wire::custom_names(Some(&assigned));
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                p.members.iter().flat_map(|m| {
                    let principal = keys::project_member(&p.name, &m.email);
                    m.roles.iter().map(move |r| keys::assignment(&principal, r))
                })
            })
            .collect()
    }
}
