//! One file per resource kind: its natural-key format, the fields it diffs, and the
//! [`Operation`](super::Operation)s it emits. [`diff_all`] runs them all; the order here does
//! not matter (`order.rs` decides the plan's order), it is fixed only for determinism.

use super::context::{Context, Output};

mod admin_api_key;
mod certificate;
mod certificate_activation;
mod duplicates;
mod group;
mod group_member;
mod group_role;
mod invite;
mod project;
mod project_group;
mod project_group_role;
mod project_member;
mod project_member_role;
mod project_role;
mod rate_limit;
mod role;
mod service_account;
mod user;
mod user_role;

/// Every kind's diff, in [`ResourceKind`](super::ResourceKind) order.
pub(crate) fn diff_all(ctx: &Context<'_>, out: &mut Output) {
    project::diff(ctx, out);
    role::diff(ctx, out);
    group::diff(ctx, out);
    certificate::diff(ctx, out);
    admin_api_key::diff(ctx, out);
    invite::diff(ctx, out);
    user::diff(ctx, out);
    user_role::diff(ctx, out);
    group_member::diff(ctx, out);
    group_role::diff(ctx, out);
    project_role::diff(ctx, out);
    project_member::diff(ctx, out);
    project_member_role::diff(ctx, out);
    project_group::diff(ctx, out);
    project_group_role::diff(ctx, out);
    service_account::diff(ctx, out);
    rate_limit::diff(ctx, out);
    certificate_activation::diff(ctx, out);
    crate::kinds::diff(ctx, out);
    crate::kinds::project_api_keys::diff(ctx, out);
    crate::kinds::spend_alerts::diff(ctx, out);
    duplicates::diff(ctx, out);
}

/// Natural keys, one format per kind; every key is unique across the whole plan.
pub(crate) mod keys {
    pub fn project(name: &str) -> String {
        format!("project:{name}")
    }
    pub fn user(email: &str) -> String {
        format!("user:{email}")
    }
    pub fn invite(email: &str) -> String {
        format!("invite:{email}")
    }
    pub fn group(name: &str) -> String {
        format!("group:{name}")
    }
    pub fn role(name: &str) -> String {
        format!("role:{name}")
    }
    pub fn certificate(name: &str) -> String {
        format!("certificate:{name}")
    }
    pub fn admin_api_key(name: &str) -> String {
        format!("admin_api_key:{name}")
    }
    /// A role assignment of a principal (any of the keys above or below).
    pub fn assignment(principal: &str, role: &str) -> String {
        format!("{principal}/role:{role}")
    }
    pub fn group_member(group: &str, email: &str) -> String {
        format!("group:{group}/member:{email}")
    }
    pub fn project_member(project: &str, email: &str) -> String {
        format!("project:{project}/member:{email}")
    }
    pub fn project_group(project: &str, group: &str) -> String {
        format!("project:{project}/group:{group}")
    }
    pub fn project_role(project: &str, role: &str) -> String {
        format!("project:{project}/role:{role}")
    }
    pub fn service_account(project: &str, name: &str) -> String {
        format!("project:{project}/service_account:{name}")
    }
    pub fn rate_limit(project: &str, model: &str) -> String {
        format!("project:{project}/rate_limit:{model}")
    }
    pub fn org_certificate_activation(name: &str) -> String {
        format!("certificate:{name}/scope:organization")
    }
    pub fn project_certificate_activation(project: &str, name: &str) -> String {
        format!("project:{project}/certificate:{name}")
    }
}

/// The shared shape of the four "role set of a principal" kinds: grant what is declared and
/// missing, hand what is live and undeclared to the unmanaged policy. Revocations of a
/// principal wait for its grants (no lockout window), see `order.rs`.
pub(crate) mod role_set {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::super::context::{Draft, Output};
    use super::super::{Action, Operation, ResourceKind};
    use super::keys;
    use crate::model::{ManagedList, UnmanagedAction};

    pub struct RoleSet<'a> {
        pub kind: ResourceKind,
        /// Key of the principal (`user:..`, `group:..`, `project:P/member:..`).
        pub principal: String,
        /// The declared roles; when the file leaves the list out, nothing is granted or
        /// reported.
        pub desired: &'a ManagedList<String>,
        pub live: &'a [String],
        /// Key of a role name (`role:..` or `project:P/role:..`).
        pub role_key: &'a dyn Fn(&str) -> String,
        pub grant: &'a dyn Fn(&str) -> Operation,
        pub revoke: &'a dyn Fn(&str) -> Operation,
        pub policy: UnmanagedAction,
    }

    pub fn diff(set: RoleSet<'_>, out: &mut Output) {
        let desired: BTreeSet<&String> = set.desired.iter().collect();
        let live: BTreeSet<&String> = super::super::context::when_managed(set.desired, set.live)
            .iter()
            .collect();
        for role in desired.union(&live) {
            let key = keys::assignment(&set.principal, role);
            let parents = [set.principal.clone(), (set.role_key)(role)];
            let view = json!({ "role": role });
            match (desired.contains(role), live.contains(role)) {
                (true, false) => out.push(
                    Draft::new(set.kind, key, Action::Grant, (set.grant)(role))
                        .after(Some(view))
                        .diffed(&[])
                        .parents(parents)
                        .principal(set.principal.clone()),
                ),
                (false, true) => {
                    let principal = set.principal.clone();
                    out.unmanaged(set.policy, set.kind, &key, view.clone(), || {
                        Draft::new(set.kind, key.clone(), Action::Revoke, (set.revoke)(role))
                            .before(Some(view))
                            .parents(parents)
                            .principal(principal)
                    })
                }
                _ => {}
            }
        }
    }
}
