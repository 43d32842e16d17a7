//! Project memberships of users, key `project:<project>/member:<email>`. Field: `role`
//! (`owner` | `member`, updated in place). A declared member who is not an organization
//! member is carried by their invite, not planned here. The default project has no members
//! (a declaration there is refused in `project.rs`). Undeclared live members follow
//! `policy.unmanaged.project_members`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Membership, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::{ProjectMember, ProjectRole};

const KIND: ResourceKind = ResourceKind::ProjectMember;

fn view(m: &ProjectMember) -> Value {
    json!({ "email": m.email, "role": m.role })
}

/// Project members.
pub(crate) struct ProjectMemberKind;

impl Kind for ProjectMemberKind {
    fn title(&self) -> &'static str {
        "Project members"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            if ctx.is_default_project(project) {
                continue;
            }
            let desired: BTreeMap<String, &ProjectMember> = desired_project
                .members
                .iter()
                .map(|m| (m.email.clone(), m))
                .collect();
            let live: BTreeMap<String, &ProjectMember> = live_project
                .map(|p| {
                    when_managed(&desired_project.members, &p.members)
                        .iter()
                        .map(|m| (m.email.clone(), m))
                        .collect()
                })
                .unwrap_or_default();
            for (email, d, l) in pair_up(&desired, &live) {
                let key = keys::project_member(project, email);
                let parents = [keys::project(project), keys::user(email)];
                match (d, l) {
                    (Some(d), None) if ctx.membership(email) == Membership::Member => out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Grant,
                            Operation::AddProjectUser {
                                project: project.clone(),
                                email: email.clone(),
                                role: d.role,
                            },
                        )
                        .after(Some(view(d)))
                        .diffed(&["email"])
                        .parents(parents),
                    ),
                    (Some(d), Some(l)) if d.role != l.role => out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Update,
                            Operation::UpdateProjectUser {
                                project: project.clone(),
                                email: email.clone(),
                                role: d.role,
                            },
                        )
                        .before(Some(view(l)))
                        .after(Some(view(d)))
                        .diffed(&["email"])
                        .destructive(l.role == ProjectRole::Owner)
                        .parents(parents),
                    ),
                    (None, Some(l)) => out.unmanaged(
                        ctx.desired.policy.unmanaged.project_members,
                        KIND,
                        &key,
                        view(l),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Revoke,
                                Operation::RemoveProjectUser {
                                    project: project.clone(),
                                    email: email.clone(),
                                },
                            )
                            .before(Some(view(l)))
                            .parents(parents)
                        },
                    ),
                    _ => {}
                }
            }
        }
    }
}
