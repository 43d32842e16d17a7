//! Custom organization roles granted to a group, key `group:<group>/role:<role>`: `grant`ed
//! and `revoke`d (see `role_set`). Undeclared ones follow `policy.unmanaged.role_assignments`.

use super::context::{Context, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

/// Organization roles of groups.
pub(crate) struct GroupRoleKind;

impl Kind for GroupRoleKind {
    fn title(&self) -> &'static str {
        "Organization roles of groups"
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
                    grant: &|r| Operation::AssignGroupRole {
                        group: name.clone(),
                        role: r.to_string(),
                    },
                    revoke: &|r| Operation::UnassignGroupRole {
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
