//! Organization groups, key `group:<name>`. Only created or deleted (a rename is a new
//! natural key); members and roles are their own kinds. Undeclared groups follow
//! `policy.unmanaged.groups`; their members and roles are not examined.

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};

const KIND: ResourceKind = ResourceKind::Group;

/// Groups.
pub(crate) struct GroupKind;

impl Kind for GroupKind {
    fn title(&self) -> &'static str {
        "Groups"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let desired: BTreeMap<String, ()> = ctx
            .desired
            .groups
            .iter()
            .map(|g| (g.name.clone(), ()))
            .collect();
        let live: BTreeMap<String, &crate::model::Group> =
            when_managed(&ctx.desired.groups, &ctx.live.groups)
                .iter()
                .map(|g| (g.name.clone(), g))
                .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::group(name);
            let view = json!({ "name": name });
            match (d, l) {
                (Some(()), None) => out.push(
                    Draft::new(
                        KIND,
                        key,
                        Action::Create,
                        Operation::CreateGroup { name: name.clone() },
                    )
                    .after(Some(view)),
                ),
                (None, Some(_)) => {
                    // The group's own fields only (its members and roles are read only where the
                    // file manages them).
                    out.unmanaged(
                        ctx.desired.policy.unmanaged.groups,
                        KIND,
                        &key,
                        view.clone(),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Operation::DeleteGroup { name: name.clone() },
                            )
                            .before(Some(view))
                        },
                    )
                }
                _ => {}
            }
        }
    }
}
