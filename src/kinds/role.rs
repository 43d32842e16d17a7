//! Custom organization roles, key `role:<name>`. Fields: `permissions` (a set), `description`.
//! Updated in place; undeclared ones follow `policy.unmanaged.roles`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::RoleUpdate;
use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::Role;

const KIND: ResourceKind = ResourceKind::Role;

/// Shared with `project_role`: a role's diffable view.
pub(super) fn view(role: &Role) -> Value {
    let mut v = json!({ "name": role.name, "permissions": role.permissions });
    if let Some(d) = &role.description {
        v["description"] = json!(d);
    }
    v
}

/// Shared with `project_role`: what an update writes, `None` when nothing differs.
pub(super) fn update(desired: &Role, live: &Role) -> Option<RoleUpdate> {
    let update = RoleUpdate {
        permissions: (desired.permissions != live.permissions).then(|| desired.permissions.clone()),
        description: (desired.description != live.description).then(|| desired.description.clone()),
    };
    (update != RoleUpdate::default()).then_some(update)
}

/// Organization custom roles.
pub(crate) struct RoleKind;

impl Kind for RoleKind {
    fn title(&self) -> &'static str {
        "Organization custom roles"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let desired: BTreeMap<String, &Role> = ctx
            .desired
            .roles
            .iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let live: BTreeMap<String, &Role> = when_managed(&ctx.desired.roles, &ctx.live.roles)
            .iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::role(name);
            match (d, l) {
                (Some(d), None) => out.push(
                    Draft::new(
                        KIND,
                        key,
                        Action::Create,
                        Operation::CreateRole {
                            name: name.clone(),
                            permissions: d.permissions.clone(),
                            description: d.description.clone(),
                        },
                    )
                    .after(Some(view(d)))
                    .diffed(&["name"]),
                ),
                (Some(d), Some(l)) => {
                    if let Some(update) = update(d, l) {
                        out.push(
                            Draft::new(
                                KIND,
                                key,
                                Action::Update,
                                Operation::UpdateRole {
                                    name: name.clone(),
                                    update,
                                },
                            )
                            .before(Some(view(l)))
                            .after(Some(view(d)))
                            .diffed(&["name"]),
                        );
                    }
                }
                (None, Some(l)) => out.unmanaged(
                    ctx.desired.policy.unmanaged.roles,
                    KIND,
                    &key,
                    view(l),
                    || {
                        Draft::new(
                            KIND,
                            key.clone(),
                            Action::Delete,
                            Operation::DeleteRole { name: name.clone() },
                        )
                        .before(Some(view(l)))
                    },
                ),
                (None, None) => {}
            }
        }
    }
}
