//! Organization members, key `user:<email>`. Users cannot be created (see `invite.rs`);
//! a member's organization role (`owner` | `reader`) is updated in place, and a demotion
//! waits for every promotion of the same plan (the organization never has fewer owners than
//! needed on the way). Undeclared members follow `policy.unmanaged.users` (`remove`).

use super::LiveState;
use super::attribution::{Rule, rule};
use super::keys::refs;
use super::read::{PageSink, Parent, RawPage, RawStore, Select, Source, one_page, page_items};
use crate::api::types::WireOrgRole;
use crate::api::users::User as WireUser;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use crate::model::User;
use crate::model::normalize_email;
use std::collections::BTreeMap;
use std::collections::BTreeMap as ReadMap;

use serde_json::json;

use super::context::{Context, Draft, GateFacts, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::OrgRole;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs::user;
use crate::api::safe::{remove, retry_transient};
use crate::api::types::UserId;

const KIND: ResourceKind = ResourceKind::User;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    UpdateUserRole { email: String, role: OrgRole },
    RemoveUser { email: String },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Organization members.
pub(crate) struct UserKind;

impl Kind for UserKind {
    fn title(&self) -> &'static str {
        "Organization members"
    }

    /// People join by accepting an invite (or through SCIM); `user.added` is read as a join too.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(
            super::incremental::pages_of::<WireUser>(&[
                ("invite.accepted", Reach::Any),
                // Its `id` is the person added (the spec's `AuditLogUserAdded`).
                ("user.added", Reach::Item),
                ("scim.enabled", Reach::Any),
                ("scim.disabled", Reach::Any),
            ])
            .with_item(
                |client, id| {
                    Box::pin(async move {
                        let user = client.retrieve_user(&id.as_str().into()).await?;
                        Ok(user.and_then(|u| serde_json::to_value(u).ok()))
                    })
                },
                crate::api::pagination::MAX_PAGE_A as usize,
            ),
        )
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Missing, "user.deleted", Id),
            rule(Changed, "user.updated", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "users",
            removes: "remove",
            list: "users",
            restorable: true,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.users.is_managed()
    }

    /// A change of organization role (naming the person, promoted or demoted) and a
    /// removal from the organization.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        use super::attention::{after_str, before_str, role_change};
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::UpdateUserRole { email, .. } => Some(super::Attention::new(
                email,
                format!(
                    "organization role {}",
                    role_change(
                        before_str(change, "role")?,
                        after_str(change, "role")?,
                        "owner"
                    )
                ),
            )),
            Op::RemoveUser { email } => Some(super::Attention::new(
                email,
                "removed from the organization: loses every project, group and role",
            )),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let mut promotions = Vec::new();
        let mut demotions = Vec::new();
        for user in &ctx.desired.users {
            let Some(live) = ctx.live_user(&user.email) else {
                continue;
            };
            if live.role == user.role {
                continue;
            }
            let draft = Draft::new(
                KIND,
                keys::user(&user.email),
                Action::Update,
                Op::UpdateUserRole {
                    email: user.email.clone(),
                    role: user.role,
                },
            )
            .before(Some(json!({ "email": live.email, "role": live.role })))
            .after(Some(json!({ "email": user.email, "role": user.role })))
            .diffed(&["email"]);
            if user.role == OrgRole::Owner {
                promotions.push(draft)
            } else {
                // An owner demoted to reader loses the organization's administration.
                demotions.push(draft.destructive(true))
            }
        }
        let promotion_ids: Vec<_> = promotions.iter().map(Draft::id).collect();
        for mut demotion in demotions {
            demotion.after_changes.extend(promotion_ids.iter().cloned());
            out.push(demotion);
        }
        for promotion in promotions {
            out.push(promotion);
        }

        for live in when_managed(&ctx.desired.users, &ctx.live.users) {
            if ctx.desired_user(&live.email).is_some() {
                continue;
            }
            let key = keys::user(&live.email);
            // The member's own fields only: their custom roles are read only where the file
            // manages them, and a plan must not depend on what the read scope skipped.
            let view = json!({ "email": live.email, "role": live.role });
            out.unmanaged(
                ctx.desired.policy.unmanaged.users,
                KIND,
                &key,
                view.clone(),
                || {
                    Draft::new(
                        KIND,
                        key.clone(),
                        Action::Remove,
                        Op::RemoveUser {
                            email: live.email.clone(),
                        },
                    )
                    .before(Some(view))
                },
            );
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::UpdateUserRole { email, .. } | Op::RemoveUser { email } => {
                vec![user(email)]
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
                Op::UpdateUserRole { email, role } => {
                    let id = UserId::from(cx.need(&user(email))?);
                    retry_transient(|| c.modify_user_role(&id, *role))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::RemoveUser { email } => {
                    let Some(id) = cx.ids.get(&user(email)) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = UserId::from(id);
                    let removal = remove(|| c.delete_user(&id)).await.map_err(api)?;
                    cx.ids.forget(&user(email));
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
            Op::UpdateUserRole { email, role } => {
                for u in s
                    .org
                    .users
                    .iter_mut()
                    .filter(|u| same_email(&u.email, email))
                {
                    u.role = *role;
                }
            }
            Op::RemoveUser { email } => {
                s.org.users.retain(|u| !same_email(&u.email, email));
                for g in &mut s.org.groups {
                    g.members.retain(|m| !same_email(m, email));
                }
                for p in &mut s.org.projects {
                    p.members.retain(|m| !same_email(&m.email, email));
                }
            }
        }
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        let Ok(op) = change.op.decode::<Op>() else {
            return GateFacts::default();
        };
        let email = match &op {
            Op::RemoveUser { email } | Op::UpdateUserRole { email, .. } => email,
        };
        let was_owner = ctx
            .live_user(email)
            .is_some_and(|u| u.role == OrgRole::Owner);
        let protected = ctx.desired.policy.protect.users.contains(email);
        let key_owner = ctx.key_owner.as_deref() == Some(email.as_str());
        match op {
            Op::RemoveUser { .. } => GateFacts {
                protected,
                key_owner,
                owner_lost: was_owner,
                ..GateFacts::default()
            },
            Op::UpdateUserRole {
                role: OrgRole::Reader,
                ..
            } if was_owner => GateFacts {
                protected,
                key_owner,
                owner_lost: true,
                ..GateFacts::default()
            },
            Op::UpdateUserRole {
                role: OrgRole::Owner,
                ..
            } if !was_owner => GateFacts {
                owner_gained: true,
                ..GateFacts::default()
            },
            Op::UpdateUserRole { .. } => GateFacts::default(),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Users are read where the file manages them, or names them as group or project
    /// members (emails resolve to user IDs).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let projects = || doc.projects.iter().filter(|p| !p.archived);
        Select::all_if(
            doc.users.is_managed()
                || doc.groups.iter().any(|g| g.members.is_managed())
                || projects().any(|p| p.members.is_managed()),
        )
    }

    fn read_early_for(&self) -> &'static [&'static str] {
        &["users"]
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, client.list_users().await?);
            Ok(())
        })
    }

    /// People with an email (users flagged `is_service_account` are not people).
    fn parents(&self, _of: Option<&Parent>, page: &RawPage) -> Vec<Parent> {
        page_items::<WireUser>(page)
            .iter()
            .filter(|u| u.is_service_account != Some(true))
            .filter_map(|u| {
                let email = u
                    .email
                    .as_deref()
                    .filter(|e| !e.trim().is_empty())
                    .map(normalize_email)?;
                Some(Parent {
                    key: keys::user(&email),
                    names: vec![email],
                    ids: vec![u.id.to_string()],
                })
            })
            .collect()
    }

    /// Emails are lower-cased; a member without an email, and users flagged
    /// `is_service_account`, are left out; a role other than `owner` reads as `reader`; of
    /// two users of one email the first is kept.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(users) = raw.organization::<WireUser>(KIND) else {
            return;
        };
        let mut by_email: ReadMap<String, User> = BTreeMap::new();
        for user in users {
            if user.is_service_account == Some(true) {
                continue;
            }
            let Some(email) = user
                .email
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(normalize_email)
            else {
                tracing::warn!(user = %user.id, "live user without an email is left out");
                continue;
            };
            if by_email.contains_key(&email) {
                tracing::warn!(%email, "two live users share this email; keeping the first");
                continue;
            }
            let role = match user.role {
                Some(WireOrgRole::Owner) => OrgRole::Owner,
                _ => OrgRole::Reader,
            };
            state.ids.set(refs::user(&email), user.id.to_string());
            by_email.insert(
                email.clone(),
                User {
                    email,
                    role,
                    roles: Vec::new().into(),
                },
            );
        }
        state.org.users = by_email.into_values().collect();
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.users.iter().map(|u| keys::user(&u.email)).collect()
    }
}

/// Every person's email by user ID, for lists that name members by ID only.
pub(crate) fn emails_by_id(raw: &RawStore) -> ReadMap<String, String> {
    raw.items::<WireUser>(KIND)
        .filter(|(_, u)| u.is_service_account != Some(true))
        .filter_map(|(_, u)| {
            let email = u.email.as_deref().filter(|e| !e.trim().is_empty())?;
            Some((u.id.to_string(), normalize_email(email)))
        })
        .collect()
}

/// A member's email: the row's own, else the users list's.
pub(crate) fn resolve_email(
    emails: &ReadMap<String, String>,
    id: &str,
    email: Option<&str>,
) -> Option<String> {
    email
        .filter(|e| !e.trim().is_empty())
        .map(normalize_email)
        .or_else(|| emails.get(id).cloned())
}
