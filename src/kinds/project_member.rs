//! Project memberships of users, key `project:<project>/member:<email>`. Field: `role`
//! (`owner` | `member`, updated in place). A declared member who is not an organization
//! member is carried by their invite, not planned here. The default project has no members
//! (a declaration there is refused in `project.rs`). Undeclared live members follow
//! `policy.unmanaged.project_members`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawPage, RawStore, Select, Source, one_page, page_items};
use crate::api::project_users::ProjectUser as WireProjectUser;
use crate::api::types::{ProjectId as ReadProjectId, WireProjectRole};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use crate::model::normalize_email;
use std::collections::BTreeMap as ReadMap;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Membership, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::{ProjectMember, ProjectRole};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, membership, removed};
use super::keys::refs::{project, user};
use crate::api::safe::{Created, create_or_find, remove, retry_transient};
use crate::api::types::{ProjectId, UserId};

const KIND: ResourceKind = ResourceKind::ProjectMember;

fn view(m: &ProjectMember) -> Value {
    json!({ "email": m.email, "role": m.role })
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AddProjectUser {
        project: String,
        email: String,
        role: ProjectRole,
    },
    UpdateProjectUser {
        project: String,
        email: String,
        role: ProjectRole,
    },
    RemoveProjectUser {
        project: String,
        email: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Project members.
pub(crate) struct ProjectMemberKind;

impl Kind for ProjectMemberKind {
    fn title(&self) -> &'static str {
        "Project members"
    }

    /// `user.added` names no project, nor does `invite.accepted` (an invite with projects
    /// makes its person a member of them): either makes every project's list stale.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(super::incremental::pages_of::<WireProjectUser>(&[(
            "invite.accepted",
            Reach::Any,
        )]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "user.added", ProjectUser),
            rule(Missing, "user.deleted", ProjectUser),
            rule(Changed, "user.updated", ProjectOfUser),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "project_members",
            removes: "remove",
            list: "projects[].members",
            restorable: true,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        super::active_projects(doc).any(|p| p.members.is_managed())
    }

    /// Owner access to a project given, a project role changed, access taken away. Member
    /// access given to a person is ordinary and not listed.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        use super::attention::{after_str, before_str, role_change};
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::AddProjectUser {
                project,
                email,
                role: ProjectRole::Owner,
            } => Some(super::Attention::new(
                email,
                format!("gets owner access to project {project}"),
            )),
            Op::UpdateProjectUser { project, email, .. } => Some(super::Attention::new(
                email,
                format!(
                    "role in project {project} {}",
                    role_change(
                        before_str(change, "role")?,
                        after_str(change, "role")?,
                        "owner"
                    )
                ),
            )),
            Op::RemoveProjectUser { project, email } => Some(super::Attention::new(
                email,
                format!("loses access to project {project}"),
            )),
            _ => None,
        }
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
                            Op::AddProjectUser {
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
                            Op::UpdateProjectUser {
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
                                Op::RemoveProjectUser {
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

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::AddProjectUser {
                project: p, email, ..
            }
            | Op::UpdateProjectUser {
                project: p, email, ..
            }
            | Op::RemoveProjectUser { project: p, email } => vec![project(p), user(email)],
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
                Op::AddProjectUser {
                    project: p,
                    email,
                    role,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let uid = UserId::from(cx.need(&user(email))?);
                    let created = create_or_find(
                        || c.add_project_user(&pid, &uid, *role),
                        || async {
                            let members = c.list_project_users(&pid).await?;
                            Ok(members.into_iter().find(|m| m.id == uid).map(|m| m.id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    if matches!(created, Created::AlreadyThere(_)) {
                        // Someone else added them, perhaps with another role: set ours.
                        retry_transient(|| c.modify_project_user(&pid, &uid, *role))
                            .await
                            .map_err(api)?;
                    }
                    Ok(membership(created, "already a member of the project"))
                }
                Op::UpdateProjectUser {
                    project: p,
                    email,
                    role,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let uid = UserId::from(cx.need(&user(email))?);
                    retry_transient(|| c.modify_project_user(&pid, &uid, *role))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::RemoveProjectUser { project: p, email } => {
                    let Some([pid, uid]) = cx.have([project(p), user(email)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (pid, uid) = (ProjectId::from(pid), UserId::from(uid));
                    let removal = remove(|| c.remove_project_user(&pid, &uid))
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
            Op::AddProjectUser {
                project: p,
                email,
                role,
            } => project(s, p).members.push(ProjectMember {
                email: email.clone(),
                role: *role,
                roles: vec![].into(),
            }),
            Op::UpdateProjectUser {
                project: p,
                email,
                role,
            } => {
                for m in project(s, p)
                    .members
                    .iter_mut()
                    .filter(|m| same_email(&m.email, email))
                {
                    m.role = *role;
                }
            }
            Op::RemoveProjectUser { project: p, email } => project(s, p)
                .members
                .retain(|m| !same_email(&m.email, email)),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Project))
    }

    /// The members of the projects whose `members` list the file writes.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let wanted = |p: &&crate::model::Project| !p.archived && p.members.is_managed();
        Select::only_if(
            doc.projects.iter().any(|p| wanted(&p)),
            doc.projects
                .iter()
                .filter(wanted)
                .map(|p| keys::project(&p.name)),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = ReadProjectId::from(parent.map(Parent::id).unwrap_or_default());
            one_page(&pages, client.list_project_users(&id).await?);
            Ok(())
        })
    }

    /// Members with an email in their row (their custom roles are listed per member).
    fn parents(&self, of: Option<&Parent>, page: &RawPage) -> Vec<Parent> {
        let Some(project) = of else {
            return Vec::new();
        };
        page_items::<WireProjectUser>(page)
            .iter()
            .filter_map(|u| {
                let email = u.email.as_deref().map(normalize_email)?;
                Some(Parent {
                    key: keys::project_member(project.name(), &email),
                    names: vec![project.name().to_string(), email],
                    ids: vec![project.id().to_string(), u.id.to_string()],
                })
            })
            .collect()
    }

    /// Members by email (through the users list when the row has none; without one they are
    /// left out); `owner`/`member` and the predefined role IDs map to the project role.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let emails = super::user::emails_by_id(raw);
        for (i, _, users) in super::read::project_lists::<WireProjectUser>(raw, KIND, state) {
            let project = &mut state.org.projects[i];
            let mut members: ReadMap<String, ProjectMember> = BTreeMap::new();
            for user in users {
                let Some(email) =
                    super::user::resolve_email(&emails, user.id.as_str(), user.email.as_deref())
                else {
                    tracing::warn!(project = %project.name, user = %user.id, "project member without an email is left out");
                    continue;
                };
                let role = match &user.role {
                    WireProjectRole::Owner => ProjectRole::Owner,
                    WireProjectRole::Member => ProjectRole::Member,
                    other => {
                        super::wire::project_role_of(other.as_str()).unwrap_or(ProjectRole::Member)
                    }
                };
                members.entry(email.clone()).or_insert(ProjectMember {
                    email,
                    role,
                    roles: Vec::new().into(),
                });
            }
            project.members = members.into_values().collect();
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                p.members
                    .iter()
                    .map(|m| keys::project_member(&p.name, &m.email))
            })
            .collect()
    }
}
