//! Group memberships, key `group:<group>/member:<email>`: `grant`ed and `revoke`d. A declared
//! member who is not yet an organization member waits for their invite (listed as deferred
//! there). Undeclared live members follow `policy.unmanaged.group_members`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::keys::refs;
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::groups::GroupUser;
use crate::api::types::GroupId as ReadGroupId;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::BTreeSet as ReadSet;

use std::collections::BTreeSet;

use serde_json::json;

use super::context::{Context, Draft, Membership, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, membership, removed};
use super::keys::refs::{group, user};
use crate::api::safe::{create_or_find, remove};
use crate::api::types::{GroupId, UserId};

const KIND: ResourceKind = ResourceKind::GroupMember;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AddGroupMember { group: String, email: String },
    RemoveGroupMember { group: String, email: String },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Group members.
pub(crate) struct GroupMemberKind;

impl Kind for GroupMemberKind {
    fn title(&self) -> &'static str {
        "Group members"
    }

    /// A person removed from the organization leaves every group.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(super::incremental::pages_of::<GroupUser>(&[(
            "user.deleted",
            Reach::Held,
        )]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "group.updated", GroupUser("user_added")),
            rule(Missing, "group.updated", GroupUser("user_removed")),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "group_members",
            removes: "remove",
            list: "groups[].members",
            restorable: true,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.groups.iter().any(|g| g.members.is_managed())
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
                            Op::AddGroupMember {
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
                                Op::RemoveGroupMember {
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

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::AddGroupMember { group: g, email } | Op::RemoveGroupMember { group: g, email } => {
                vec![group(g), user(email)]
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
                Op::AddGroupMember { group: g, email } => {
                    let gid = GroupId::from(cx.need(&group(g))?);
                    let uid = UserId::from(cx.need(&user(email))?);
                    let created = create_or_find(
                        || c.add_group_user(&gid, &uid),
                        || async {
                            let members = c.list_group_users(&gid).await?;
                            Ok(members.into_iter().find(|m| m.id == uid).map(|m| m.id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    Ok(membership(created, "already a member of the group"))
                }
                Op::RemoveGroupMember { group: g, email } => {
                    let Some([gid, uid]) = cx.have([group(g), user(email)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (gid, uid) = (GroupId::from(gid), UserId::from(uid));
                    let removal = remove(|| c.remove_group_user(&gid, &uid))
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
            Op::AddGroupMember { group: g, email } => group(s, g).members.push(email.clone()),
            Op::RemoveGroupMember { group: g, email } => {
                group(s, g).members.retain(|m| !same_email(m, email))
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Group))
    }

    /// The members of the groups whose `members` list the file writes.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::only_if(
            doc.groups.iter().any(|g| g.members.is_managed()),
            doc.groups
                .iter()
                .filter(|g| g.members.is_managed())
                .map(|g| keys::group(&g.name)),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = ReadGroupId::from(parent.map(Parent::id).unwrap_or_default());
            one_page(&pages, client.list_group_users(&id).await?);
            Ok(())
        })
    }

    /// Members by email (through the users list when the row has none).
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        if !raw.was_read(KIND) {
            return;
        }
        let emails = super::user::emails_by_id(raw);
        for group in state.org.groups.iter_mut() {
            let Some(id) = state.ids.get(&refs::group(&group.name)) else {
                continue;
            };
            let Some(users) = raw.for_parent_ids::<GroupUser>(KIND, std::slice::from_ref(id))
            else {
                continue;
            };
            let members: ReadSet<String> = users
                .iter()
                .filter_map(|u| {
                    super::user::resolve_email(&emails, u.id.as_str(), u.email.as_deref())
                })
                .collect();
            *group.members = members.into_iter().collect();
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.groups
            .iter()
            .flat_map(|g| g.members.iter().map(|e| keys::group_member(&g.name, e)))
            .collect()
    }
}
