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

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::invites::Invite as WireInvite;
use crate::api::types::WireOrgRole;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use crate::model::Invite;
use std::collections::BTreeMap as ReadMap;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Membership, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, ChangeId, Operation, ResourceKind, Waiting};
use crate::model::{InviteProject, InviteStatus, OrgRole, UnmanagedAction};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs;
use super::keys::refs::project;
use crate::api::safe::{Created, create_or_find, remove, retry_transient};
use crate::api::types::{InviteId, ProjectId};
use crate::model::{ProjectRole, normalize_email};

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

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `projects` are granted on acceptance (an empty list: no project, not even the default).
    SendInvite {
        email: String,
        role: OrgRole,
        projects: Vec<InviteProject>,
    },
    /// Delete the expired invite (`IdRef::Invite`), then send a new one.
    ResendInvite {
        email: String,
        role: OrgRole,
        projects: Vec<InviteProject>,
    },
    /// Delete the pending invite that no longer matches, then send this one.
    ReplaceInvite {
        email: String,
        role: OrgRole,
        projects: Vec<InviteProject>,
    },
    DeleteInvite {
        email: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Invites.
pub(crate) struct InviteKind;

impl Kind for InviteKind {
    fn title(&self) -> &'static str {
        "Invites"
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "invite.sent", Id),
            rule(Missing, "invite.deleted", Id),
            rule(Changed, "invite.sent", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "invites",
            removes: "remove",
            list: "users",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.users.is_managed()
    }

    /// A pending invite is exported as a declared user with the invite's project
    /// memberships (a declared user with a matching pending invite is satisfied); expired
    /// and accepted invites are left out.
    fn export(
        &self,
        doc: &mut crate::model::Document,
        _files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        use crate::model::{InviteStatus, ProjectMember, User, normalize_email};
        for invite in std::mem::take(&mut doc.invites) {
            if invite.status != InviteStatus::Pending {
                continue;
            }
            let email = normalize_email(&invite.email);
            if doc.users.iter().any(|u| normalize_email(&u.email) == email) {
                continue;
            }
            doc.users.push(User {
                email: email.clone(),
                role: invite.role,
                roles: Vec::new().into(),
            });
            for granted in &invite.projects {
                if let Some(project) = doc.projects.iter_mut().find(|p| p.name == granted.name) {
                    project.members.push(ProjectMember {
                        email: email.clone(),
                        role: granted.role,
                        roles: Vec::new().into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// An invite that makes someone an owner (of the organization or of a project): an
    /// invite as a reader to member access is ordinary onboarding and not listed.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        let (email, role, projects) = match &op {
            Op::SendInvite {
                email,
                role,
                projects,
            }
            | Op::ResendInvite {
                email,
                role,
                projects,
            }
            | Op::ReplaceInvite {
                email,
                role,
                projects,
            } => (email, role, projects),
            _ => return None,
        };
        let mut parts = Vec::new();
        if *role == OrgRole::Owner {
            parts.push("invited as organization owner".to_string());
        }
        let owned: Vec<String> = projects
            .iter()
            .filter(|p| p.role == crate::model::ProjectRole::Owner)
            .map(|p| p.name.clone())
            .collect();
        if !owned.is_empty() {
            parts.push(format!(
                "invited as owner of {} {}",
                if owned.len() == 1 {
                    "project"
                } else {
                    "projects"
                },
                crate::text::words::list(&owned)
            ));
        }
        (!parts.is_empty()).then(|| super::Attention::new(email, parts.join("; ")))
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
                        Op::ReplaceInvite {
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
                        Op::ResendInvite {
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
                    Op::SendInvite {
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
                    Op::DeleteInvite {
                        email: email.clone(),
                    },
                )
                .before(Some(v))
            });
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::SendInvite { projects, .. } => projects.iter().map(|p| project(&p.name)).collect(),
            Op::ResendInvite {
                email, projects, ..
            }
            | Op::ReplaceInvite {
                email, projects, ..
            } => {
                let mut refs: Vec<IdRef> = projects.iter().map(|p| project(&p.name)).collect();
                refs.push(refs::invite(email));
                refs
            }
            Op::DeleteInvite { email } => vec![refs::invite(email)],
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
                Op::SendInvite {
                    email,
                    role,
                    projects,
                } => send_invite(cx, email, *role, projects).await,
                Op::ResendInvite {
                    email,
                    role,
                    projects,
                }
                | Op::ReplaceInvite {
                    email,
                    role,
                    projects,
                } => {
                    let old = crate::kinds::keys::refs::invite(email);
                    if let Some(id) = cx.ids.get(&old) {
                        let id = InviteId::from(id);
                        remove(|| c.delete_invite(&id)).await.map_err(api)?;
                        cx.ids.forget(&old);
                    }
                    match send_invite(cx, email, *role, projects).await? {
                        Done::Already(reason) => Ok(Done::Already(reason)),
                        Done::Applied(note) => Ok(Done::Applied(note)),
                    }
                }
                Op::DeleteInvite { email } => {
                    let reference = crate::kinds::keys::refs::invite(email);
                    let Some(id) = cx.ids.get(&reference) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = InviteId::from(id);
                    let removal = remove(|| c.delete_invite(&id)).await.map_err(api)?;
                    cx.ids.forget(&reference);
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
            Op::SendInvite {
                email,
                role,
                projects,
            }
            | Op::ResendInvite {
                email,
                role,
                projects,
            }
            | Op::ReplaceInvite {
                email,
                role,
                projects,
            } => {
                s.org.invites.retain(|i| {
                    !(same_email(&i.email, email) && i.status != InviteStatus::Accepted)
                });
                s.org.invites.push(Invite {
                    email: email.clone(),
                    role: *role,
                    status: InviteStatus::Pending,
                    projects: projects.clone(),
                });
            }
            Op::DeleteInvite { email } => s
                .org
                .invites
                .retain(|i| !(same_email(&i.email, email) && i.status != InviteStatus::Accepted)),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Invites are read where the file manages users.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::all_if(doc.users.is_managed())
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
            one_page(&pages, client.list_invites().await?);
            Ok(())
        })
    }

    /// Invites keep their status; their projects are named (an unknown project ID is kept as
    /// it is). The ID of an email is its most relevant invite: pending, then expired, then
    /// accepted, newest first.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(invites) = raw.organization::<WireInvite>(KIND) else {
            return;
        };
        let project_names = super::project::names_by_id(raw);
        let name_of_project = |id: &str| {
            project_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        };
        let mut best: ReadMap<String, (u8, i64, String)> = BTreeMap::new();
        let mut out: Vec<Invite> = Vec::new();
        for invite in invites {
            let email = normalize_email(&invite.email);
            let status = super::wire::invite_status(&invite.status);
            let role = match invite.role {
                WireOrgRole::Owner => OrgRole::Owner,
                _ => OrgRole::Reader,
            };
            let mut projects: Vec<InviteProject> = invite
                .projects
                .iter()
                .map(|p| InviteProject {
                    name: name_of_project(p.id.as_str()),
                    role: super::wire::project_role_of(p.role.as_str())
                        .unwrap_or(ProjectRole::Member),
                })
                .collect();
            projects.sort();
            let rank = match status {
                InviteStatus::Pending => 0,
                InviteStatus::Expired => 1,
                InviteStatus::Accepted => 2,
            };
            let created = invite.created_at.or(invite.invited_at).unwrap_or(0);
            let candidate = (rank, -created, invite.id.to_string());
            if best.get(&email).is_none_or(|current| candidate < *current) {
                best.insert(email.clone(), candidate);
            }
            out.push(Invite {
                email,
                role,
                status,
                projects,
            });
        }
        out.sort_by(|a, b| (&a.email, a.status).cmp(&(&b.email, b.status)));
        state.org.invites = out;
        for (email, (_, _, id)) in best {
            state.ids.set(refs::invite(&email), id);
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.users.iter().map(|u| keys::invite(&u.email)).collect()
    }

    /// The project memberships an invite grants on acceptance (`project:P/member:EMAIL`) and
    /// the grants it defers to acceptance (`deferred`).
    fn carried_keys(&self, change: &super::Change) -> Vec<String> {
        let email = change.key.strip_prefix("invite:").unwrap_or(&change.key);
        after_list(change, "projects")
            .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
            .map(|name| keys::project_member(name, email))
            .chain(
                after_list(change, "deferred")
                    .filter_map(|k| k.as_str())
                    .map(str::to_string),
            )
            .collect()
    }
}

/// The items of a list field of the change's `after`.
fn after_list<'c>(
    change: &'c super::Change,
    field: &str,
) -> impl Iterator<Item = &'c serde_json::Value> {
    change
        .after
        .as_ref()
        .and_then(|a| a.get(field))
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
}

async fn send_invite(
    cx: &ApplyContext,
    email: &str,
    role: OrgRole,
    projects: &[InviteProject],
) -> Step {
    let c = &cx.client;
    let grants = projects
        .iter()
        .map(|p| Ok((ProjectId::from(cx.need(&project(&p.name))?), p.role)))
        .collect::<Result<Vec<(ProjectId, ProjectRole)>, String>>()?;
    let email_key = normalize_email(email);
    let created = create_or_find(
        || c.create_invite(email, role, &grants),
        || async {
            let invites = c.list_invites().await?;
            Ok(invites
                .into_iter()
                .find(|i| normalize_email(&i.email) == email_key && i.status.as_str() == "pending")
                .map(|i| i.id.0))
        },
    )
    .await;
    let reference = crate::kinds::keys::refs::invite(&email_key);
    match created {
        Ok(Created::New(invite)) => {
            cx.ids.record(&reference, invite.id.as_str());
            Ok(Done::Applied(None))
        }
        Ok(Created::Landed(id)) => {
            cx.ids.record(&reference, &id);
            Ok(Done::Applied(None))
        }
        Ok(Created::AlreadyThere(id)) => {
            cx.ids.record(&reference, &id);
            Ok(Done::Already("already invited".into()))
        }
        Err(error) if error.status() == Some(400) => {
            // Someone who joined meanwhile needs no invite.
            let users = retry_transient(|| c.list_users()).await.map_err(api)?;
            let member = users
                .iter()
                .any(|u| u.email.as_deref().map(normalize_email).as_ref() == Some(&email_key));
            if member {
                Ok(Done::Already("already a member of the organization".into()))
            } else {
                Err(api(error))
            }
        }
        Err(error) => Err(api(error)),
    }
}
