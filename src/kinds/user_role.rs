//! Custom organization roles of a user, key `user:<email>/role:<role>`: `grant`ed and
//! `revoke`d (see `role_set`). Only for organization members: an invited user's roles wait
//! for acceptance (listed as deferred in the invite). Undeclared ones follow
//! `policy.unmanaged.role_assignments`.

use super::context::{Context, Output};
use super::keys;
use super::kind::Kind;
use super::role_set::{self, RoleSet};
use super::{Operation, ResourceKind};

/// Organization roles of members.
pub(crate) struct UserRoleKind;

impl Kind for UserRoleKind {
    fn title(&self) -> &'static str {
        "Organization roles of members"
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
                    grant: &|r| Operation::AssignUserRole {
                        email: email.clone(),
                        role: r.to_string(),
                    },
                    revoke: &|r| Operation::UnassignUserRole {
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
