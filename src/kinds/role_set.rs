//! The shared shape of the four "role set of a principal" kinds: grant what is declared and
//! missing, hand what is live and undeclared to the unmanaged policy. Revocations of a
//! principal wait for its grants (no lockout window), see `order.rs`.

use std::collections::BTreeSet;

use serde_json::json;

use super::context::{Draft, Output};
use super::keys;
use super::{Action, Operation, ResourceKind};
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
    let live: BTreeSet<&String> = super::context::when_managed(set.desired, set.live)
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
