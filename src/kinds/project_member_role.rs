//! Custom project roles of a project member, key `project:<project>/member:<email>/role:<role>`:
//! `grant`ed and `revoke`d (see `role_set`), for organization members only (an invited
//! user's roles wait for acceptance). Undeclared ones follow
//! `policy.unmanaged.role_assignments`.

use super::context::{Context, Membership, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

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
                        grant: &|r| Operation::AssignProjectUserRole {
                            project: project.clone(),
                            email: email.clone(),
                            role: r.to_string(),
                        },
                        revoke: &|r| Operation::UnassignProjectUserRole {
                            project: project.clone(),
                            email: email.clone(),
                            role: r.to_string(),
                        },
                        policy: ctx.desired.policy.unmanaged.role_assignments,
                    },
                    out,
                );
            }
        }
    }
}
