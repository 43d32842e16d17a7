//! Custom project roles of a project member, key `project:<project>/member:<email>/role:<role>`:
//! `grant`ed and `revoke`d (see `role_set`), for organization members only (an invited
//! user's roles wait for acceptance). Undeclared ones follow
//! `policy.unmanaged.role_assignments`.

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
}
