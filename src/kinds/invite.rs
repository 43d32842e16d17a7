//! Invites, key `invite:<email>`: the lifecycle of a declared user who is not a member.
//!
//! The invite carries the user's declared project memberships (`projects`, excluding the
//! default project; an empty list invites to no project at all). A pending invite with the
//! same role and projects satisfies the user; an expired one is re-sent (`reinvite`); a
//! pending one that differs is `replace`d; an accepted one is never touched (if the person
//! left since, a new invite is sent). What needs membership (group memberships, custom
//! roles) is listed under `deferred` and planned by a run after acceptance.
//!
//! Pending or expired invites for undeclared people follow `policy.unmanaged.invites`, except
//! that `report` does not list an expired one (it grants nothing; `remove` still deletes it).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Membership, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, ChangeId, Operation, ResourceKind, Waiting};
use crate::model::{InviteProject, InviteStatus, OrgRole, UnmanagedAction};

const KIND: ResourceKind = ResourceKind::Invite;

fn view(
    email: &str,
    role: OrgRole,
    projects: &[InviteProject],
    status: Option<InviteStatus>,
) -> Value {
    let mut v = json!({ "email": email, "role": role, "projects": projects });
    if let Some(status) = status {
        v["status"] = json!(status);
    }
    v
}

/// Per not-yet-member email: the project memberships its invite carries (sorted) and what
/// waits for acceptance (group memberships and custom roles, as plan keys, sorted). Built in
/// one pass over the declared projects and groups.
fn invite_contents<'c>(
    ctx: &'c Context<'_>,
) -> BTreeMap<&'c str, (Vec<InviteProject>, Vec<String>)> {
    let mut out: BTreeMap<&str, (Vec<InviteProject>, Vec<String>)> = BTreeMap::new();
    for user in &ctx.desired.users {
        if ctx.membership(&user.email) == Membership::NotMember {
            let principal = keys::user(&user.email);
            let roles = user
                .roles
                .iter()
                .map(|r| keys::assignment(&principal, r))
                .collect();
            out.insert(&user.email, (Vec::new(), roles));
        }
    }
    for group in &ctx.desired.groups {
        for email in &group.members {
            if let Some((_, deferred)) = out.get_mut(email.as_str()) {
                deferred.push(keys::group_member(&group.name, email));
            }
        }
    }
    for (project, _) in ctx.child_projects() {
        let carried = !project.archived && !ctx.is_default_project(&project.name);
        for member in &project.members {
            if let Some((projects, deferred)) = out.get_mut(member.email.as_str()) {
                if carried {
                    projects.push(InviteProject {
                        name: project.name.clone(),
                        role: member.role,
                    });
                }
                let principal = keys::project_member(&project.name, &member.email);
                deferred.extend(member.roles.iter().map(|r| keys::assignment(&principal, r)));
            }
        }
    }
    for (projects, deferred) in out.values_mut() {
        projects.sort();
        deferred.sort();
    }
    out
}

/// Invites.
pub(crate) struct InviteKind;

impl Kind for InviteKind {
    fn title(&self) -> &'static str {
        "Invites"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let contents = invite_contents(ctx);
        for user in &ctx.desired.users {
            let Some((projects, deferred)) = contents.get(user.email.as_str()) else {
                continue;
            };
            let email = &user.email;
            let key = keys::invite(email);
            let parents: Vec<String> = projects.iter().map(|p| keys::project(&p.name)).collect();
            let mut after = view(email, user.role, projects, Some(InviteStatus::Pending));
            if !deferred.is_empty() {
                after["deferred"] = json!(deferred);
            }
            let (role, projects_owned) = (user.role, projects.clone());
            let live = ctx.live_invite(email);
            let waiting = |change: Option<ChangeId>| Waiting {
                email: email.clone(),
                invite: keys::invite(email),
                change,
                deferred: deferred.clone(),
            };
            let draft = match live.map(|i| i.status) {
                Some(InviteStatus::Pending) => {
                    let live = live.expect("status came from this invite");
                    if live.role == user.role && &live.projects == projects {
                        if !deferred.is_empty() {
                            out.waiting.push(waiting(None));
                        }
                        continue;
                    }
                    Draft::new(
                        KIND,
                        key,
                        Action::Replace,
                        Operation::ReplaceInvite {
                            email: email.clone(),
                            role,
                            projects: projects_owned,
                        },
                    )
                    .before(Some(view(
                        email,
                        live.role,
                        &live.projects,
                        Some(live.status),
                    )))
                }
                Some(InviteStatus::Expired) => {
                    let live = live.expect("status came from this invite");
                    Draft::new(
                        KIND,
                        key,
                        Action::Reinvite,
                        Operation::ResendInvite {
                            email: email.clone(),
                            role,
                            projects: projects_owned,
                        },
                    )
                    .before(Some(view(
                        email,
                        live.role,
                        &live.projects,
                        Some(live.status),
                    )))
                }
                Some(InviteStatus::Accepted) | None => Draft::new(
                    KIND,
                    key,
                    Action::Invite,
                    Operation::SendInvite {
                        email: email.clone(),
                        role,
                        projects: projects_owned,
                    },
                ),
            };
            if !deferred.is_empty() {
                out.waiting.push(waiting(Some(draft.id())));
            }
            out.push(
                draft
                    .after(Some(after))
                    .diffed(&["email", "deferred"])
                    .parents(parents),
            );
        }

        // Invites are the lifecycle of `users`: managed exactly when `users` is.
        for invite in when_managed(&ctx.desired.users, &ctx.live.invites) {
            let email = &invite.email;
            // One decision per email (the invite `live_invite` picked); accepted invites are
            // history, and a declared user's invite is handled above. An open invite for an
            // undeclared person is unmanaged even if they are a member today: removing them
            // must not leave a way back in.
            let is_chosen = ctx
                .live_invite(email)
                .is_some_and(|chosen| std::ptr::eq(chosen, invite));
            if !is_chosen
                || invite.status == InviteStatus::Accepted
                || ctx.desired_user(email).is_some()
            {
                continue;
            }
            // An expired invite grants nothing and can no longer be accepted: `remove` cleans it
            // up, but `report` does not list it (an exported org would otherwise never be in
            // sync: export cannot declare it without the plan re-sending it).
            let policy = ctx.desired.policy.unmanaged.invites;
            if invite.status == InviteStatus::Expired && policy == UnmanagedAction::Report {
                continue;
            }
            let key = keys::invite(email);
            let v = view(email, invite.role, &invite.projects, Some(invite.status));
            out.unmanaged(policy, KIND, &key, v.clone(), || {
                Draft::new(
                    KIND,
                    key.clone(),
                    Action::Delete,
                    Operation::DeleteInvite {
                        email: email.clone(),
                    },
                )
                .before(Some(v))
            });
        }
    }
}
