//! Custom project roles of a group in a project, key
//! `project:<project>/group:<group>/role:<role>`: `grant`ed and `revoke`d (see `role_set`).
//! Undeclared ones follow `policy.unmanaged.role_assignments`.

use super::context::{Context, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

/// Project roles of groups.
pub(crate) struct ProjectGroupRoleKind;

impl Kind for ProjectGroupRoleKind {
    fn title(&self) -> &'static str {
        "Project roles of groups"
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
                        grant: &|r| Operation::AssignProjectGroupRole {
                            project: project.clone(),
                            group: name.clone(),
                            role: r.to_string(),
                        },
                        revoke: &|r| Operation::UnassignProjectGroupRole {
                            project: project.clone(),
                            group: name.clone(),
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
