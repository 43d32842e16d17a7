//! Organization members, key `user:<email>`. Users cannot be created (see `invite.rs`);
//! a member's organization role (`owner` | `reader`) is updated in place, and a demotion
//! waits for every promotion of the same plan (the organization never has fewer owners than
//! needed on the way). Undeclared members follow `policy.unmanaged.users` (`remove`).

use serde_json::json;

use super::context::{Context, Draft, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::OrgRole;

const KIND: ResourceKind = ResourceKind::User;

/// Organization members.
pub(crate) struct UserKind;

impl Kind for UserKind {
    fn title(&self) -> &'static str {
        "Organization members"
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
                Operation::UpdateUserRole {
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
                        Operation::RemoveUser {
                            email: live.email.clone(),
                        },
                    )
                    .before(Some(view))
                },
            );
        }
    }
}
