//! Group memberships, key `group:<group>/member:<email>`: `grant`ed and `revoke`d. A declared
//! member who is not yet an organization member waits for their invite (listed as deferred
//! there). Undeclared live members follow `policy.unmanaged.group_members`.

use std::collections::BTreeSet;

use serde_json::json;

use super::context::{Context, Draft, Membership, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};

const KIND: ResourceKind = ResourceKind::GroupMember;

/// Group members.
pub(crate) struct GroupMemberKind;

impl Kind for GroupMemberKind {
    fn title(&self) -> &'static str {
        "Group members"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for group in &ctx.desired.groups {
            let live_group = ctx.live.groups.iter().find(|g| g.name == group.name);
            let desired: BTreeSet<&String> = group.members.iter().collect();
            let live: BTreeSet<&String> = live_group
                .map(|g| when_managed(&group.members, &g.members).iter().collect())
                .unwrap_or_default();
            for email in desired.union(&live) {
                let key = keys::group_member(&group.name, email);
                let parents = [keys::group(&group.name), keys::user(email)];
                let view = json!({ "group": group.name, "email": email });
                match (desired.contains(email), live.contains(email)) {
                    (true, false) if ctx.membership(email) == Membership::Member => out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Grant,
                            Operation::AddGroupMember {
                                group: group.name.clone(),
                                email: (*email).clone(),
                            },
                        )
                        .after(Some(view))
                        .parents(parents),
                    ),
                    (false, true) => out.unmanaged(
                        ctx.desired.policy.unmanaged.group_members,
                        KIND,
                        &key,
                        view.clone(),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Revoke,
                                Operation::RemoveGroupMember {
                                    group: group.name.clone(),
                                    email: (*email).clone(),
                                },
                            )
                            .before(Some(view))
                            .parents(parents)
                        },
                    ),
                    _ => {}
                }
            }
        }
    }
}
