//! Custom project roles of a group in a project, key
//! `project:<project>/group:<group>/role:<role>`: `grant`ed and `revoke`d (see `role_set`).
//! Undeclared ones follow `policy.unmanaged.role_assignments`.

use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, Select, Source, one_page};
use crate::api::role_assignments::Principal as ReadPrincipal;
use crate::api::types::{GroupId as ReadGroupId, ProjectId as ReadProjectId};
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
use super::keys::refs::{group, project, project_role};
use crate::api::role_assignments::Principal;
use crate::api::safe::remove;
use crate::api::types::{GroupId, ProjectId, RoleId};

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AssignProjectGroupRole {
        project: String,
        group: String,
        role: String,
    },
    UnassignProjectGroupRole {
        project: String,
        group: String,
        role: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Project roles of groups.
pub(crate) struct ProjectGroupRoleKind;

impl Kind for ProjectGroupRoleKind {
    fn title(&self) -> &'static str {
        "Project roles of groups"
    }

    /// A deleted or renamed role changes the lists that hold it.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(super::incremental::pages_of::<
            crate::api::types::AssignedRole,
        >(&[
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
        super::active_projects(doc).any(|p| p.groups.iter().any(|g| g.roles.is_managed()))
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
                .groups
                .iter_mut()
                .for_each(|g| g.roles.unmanage_if_empty());
        }
        Ok(())
    }

    /// A custom project role given to or taken from a group (all its members).
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::AssignProjectGroupRole {
                project,
                group,
                role,
            } => Some(super::Attention::new(
                group,
                format!("group gets role {role} in project {project}, for every member"),
            )),
            Op::UnassignProjectGroupRole {
                project,
                group,
                role,
            } => Some(super::Attention::new(
                group,
                format!("group loses role {role} in project {project}"),
            )),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired_project, live_project) in ctx.child_projects() {
            let project = desired_project.name.clone();
            if ctx.is_default_project(&project) {
                continue;
            }
            for group in &desired_project.groups {
                let live =
                    live_project.and_then(|p| p.groups.iter().find(|g| g.name == group.name));
                let name = group.name.clone();
                role_set::diff(
                    RoleSet {
                        kind: ResourceKind::ProjectGroupRole,
                        principal: keys::project_group(&project, &group.name),
                        desired: &group.roles,
                        live: live.map(|g| g.roles.as_slice()).unwrap_or_default(),
                        role_key: &|r| keys::project_role(&project, r),
                        grant: &|r| {
                            Op::AssignProjectGroupRole {
                                project: project.clone(),
                                group: name.clone(),
                                role: r.to_string(),
                            }
                            .into()
                        },
                        revoke: &|r| {
                            Op::UnassignProjectGroupRole {
                                project: project.clone(),
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
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::AssignProjectGroupRole {
                project: p,
                group: g,
                role,
            }
            | Op::UnassignProjectGroupRole {
                project: p,
                group: g,
                role,
            } => {
                vec![project(p), group(g), project_role(p, role)]
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
                Op::AssignProjectGroupRole {
                    project: p,
                    group: g,
                    role,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let gid = GroupId::from(cx.need(&group(g))?);
                    let rid = RoleId::from(cx.need(&project_role(p, role))?);
                    cx.assign(Principal::ProjectGroup(&pid, &gid), &rid).await
                }
                Op::UnassignProjectGroupRole {
                    project: p,
                    group: g,
                    role,
                } => {
                    let Some([pid, gid, rid]) =
                        cx.have([project(p), group(g), project_role(p, role)])
                    else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (pid, gid, rid) =
                        (ProjectId::from(pid), GroupId::from(gid), RoleId::from(rid));
                    let removal =
                        remove(|| c.unassign_role(Principal::ProjectGroup(&pid, &gid), &rid))
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
            Op::AssignProjectGroupRole {
                project: p,
                group,
                role,
            } => {
                for g in project(s, p).groups.iter_mut().filter(|g| &g.name == group) {
                    g.roles.push(role.clone());
                }
            }
            Op::UnassignProjectGroupRole {
                project: p,
                group,
                role,
            } => {
                for g in project(s, p).groups.iter_mut().filter(|g| &g.name == group) {
                    g.roles.retain(|r| r != role);
                }
            }
        }
    }

    /// Read for every group of a project whose groups are read, whatever the file says of
    /// the group's custom roles: the list carries the group's project role itself.
    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::ProjectGroup))
    }

    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::all_if(
            doc.projects
                .iter()
                .any(|p| !p.archived && p.groups.is_managed()),
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
            let group = ReadGroupId::from(ids.get(1).cloned().unwrap_or_default());
            let principal = ReadPrincipal::ProjectGroup(&project, &group);
            one_page(&pages, client.list_role_assignments(principal).await?);
            Ok(())
        })
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                p.groups.iter().flat_map(|g| {
                    let principal = keys::project_group(&p.name, &g.name);
                    g.roles.iter().map(move |r| keys::assignment(&principal, r))
                })
            })
            .collect()
    }
}
