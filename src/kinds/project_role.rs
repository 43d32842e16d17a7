//! Custom project roles, key `project:<project>/role:<name>`; same fields as organization
//! roles (see `role.rs`). Undeclared ones follow `policy.unmanaged.project_roles`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::keys::refs;
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::types::{ProjectId as ReadProjectId, Role as WireRole};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;

use std::collections::BTreeMap;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::role::{update, view};
use super::{Action, Operation, ResourceKind};
use crate::model::Role;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs::{project, project_role};
use super::role::{RoleUpdate, role_update};
use crate::api::roles::RoleSpec;
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::api::types::{ProjectId, RoleId};

const KIND: ResourceKind = ResourceKind::ProjectRole;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    CreateProjectRole {
        project: String,
        name: String,
        permissions: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    UpdateProjectRole {
        project: String,
        name: String,
        update: RoleUpdate,
    },
    DeleteProjectRole {
        project: String,
        name: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Project custom roles.
pub(crate) struct ProjectRoleKind;

impl Kind for ProjectRoleKind {
    fn title(&self) -> &'static str {
        "Project custom roles"
    }

    /// A project role's events name the project or the role.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        // `role.created` names the project a project role is created in (`resource_id`);
        // one naming no project is an organization role's.
        Some(super::incremental::pages_of::<WireRole>(&[(
            "role.created",
            Reach::Named,
        )]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "role.created", Id),
            rule(Missing, "role.deleted", Id),
            rule(Changed, "role.updated", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "project_roles",
            removes: "remove",
            list: "projects[].roles",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        super::active_projects(doc).any(|p| p.roles.is_managed())
    }

    /// Permissions a project's custom role gains or loses (naming the role and the
    /// project), and its deletion.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::UpdateProjectRole { project, name, .. } => Some(super::Attention::new(
                name,
                format!(
                    "role of project {project} {}",
                    super::attention::permissions_change(change)?
                ),
            )),
            Op::DeleteProjectRole { project, name } => Some(super::Attention::new(
                name,
                format!(
                    "role of project {project} deleted: whoever holds it loses its permissions"
                ),
            )),
            _ => None,
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            let desired: BTreeMap<String, &Role> = desired_project
                .roles
                .iter()
                .map(|r| (r.name.clone(), r))
                .collect();
            let live: BTreeMap<String, &Role> = live_project
                .map(|p| {
                    when_managed(&desired_project.roles, &p.roles)
                        .iter()
                        .map(|r| (r.name.clone(), r))
                        .collect()
                })
                .unwrap_or_default();
            for (name, d, l) in pair_up(&desired, &live) {
                let key = keys::project_role(project, name);
                let parents = [keys::project(project)];
                match (d, l) {
                    (Some(d), None) => out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Create,
                            Op::CreateProjectRole {
                                project: project.clone(),
                                name: name.clone(),
                                permissions: d.permissions.clone(),
                                description: d.description.clone(),
                            },
                        )
                        .after(Some(view(d)))
                        .diffed(&["name"])
                        .parents(parents),
                    ),
                    (Some(d), Some(l)) => {
                        if let Some(update) = update(d, l) {
                            out.push(
                                Draft::new(
                                    KIND,
                                    key,
                                    Action::Update,
                                    Op::UpdateProjectRole {
                                        project: project.clone(),
                                        name: name.clone(),
                                        update,
                                    },
                                )
                                .before(Some(view(l)))
                                .after(Some(view(d)))
                                .diffed(&["name"])
                                .parents(parents),
                            );
                        }
                    }
                    (None, Some(l)) => out.unmanaged(
                        ctx.desired.policy.unmanaged.project_roles,
                        KIND,
                        &key,
                        view(l),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Op::DeleteProjectRole {
                                    project: project.clone(),
                                    name: name.clone(),
                                },
                            )
                            .before(Some(view(l)))
                            .parents(parents)
                        },
                    ),
                    (None, None) => {}
                }
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::CreateProjectRole { project: p, .. } => vec![project(p)],
            Op::UpdateProjectRole {
                project: p, name, ..
            }
            | Op::DeleteProjectRole { project: p, name } => {
                vec![project(p), project_role(p, name)]
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
                Op::CreateProjectRole {
                    project: p,
                    name,
                    permissions,
                    description,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let spec = RoleSpec {
                        name: Some(name),
                        permissions: Some(permissions),
                        description: description.as_deref(),
                    };
                    let created = create_or_find(
                        || c.create_project_role(&pid, &spec),
                        || async {
                            let all = c.list_project_roles(&pid).await?;
                            Ok(all
                                .into_iter()
                                .find(|r| !r.predefined_role && &r.name == name)
                                .map(|r| r.id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    Ok(cx.record(&project_role(p, name), created, |r| r.id.to_string()))
                }
                Op::UpdateProjectRole {
                    project: p,
                    name,
                    update,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let id = RoleId::from(cx.need(&project_role(p, name))?);
                    let spec = role_update(update);
                    retry_transient(|| c.update_project_role(&pid, &id, &spec))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::DeleteProjectRole { project: p, name } => {
                    let Some([pid, id]) = cx.have([project(p), project_role(p, name)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (pid, id) = (ProjectId::from(pid), RoleId::from(id));
                    let removal = remove(|| c.delete_project_role(&pid, &id))
                        .await
                        .map_err(api)?;
                    cx.ids.forget(&project_role(p, name));
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
            Op::CreateProjectRole {
                project: p,
                name,
                permissions,
                description,
            } => project(s, p)
                .roles
                .push(new_role(name, permissions, description)),
            Op::UpdateProjectRole {
                project: p,
                name,
                update,
            } => {
                for r in project(s, p).roles.iter_mut().filter(|r| &r.name == name) {
                    apply_update(r, update);
                }
            }
            Op::DeleteProjectRole { project: p, name } => {
                project(s, p).roles.retain(|r| &r.name != name)
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Project))
    }

    /// A project's custom roles are read where the file manages them, or assigns project
    /// roles to its members or groups (their IDs resolve the names).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let wanted = |p: &&crate::model::Project| {
            !p.archived
                && (p.roles.is_managed()
                    || p.members.iter().any(|m| m.roles.is_managed())
                    || p.groups.iter().any(|g| g.roles.is_managed()))
        };
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
            one_page(&pages, client.list_project_roles(&id).await?);
            Ok(())
        })
    }

    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        for (i, _, roles) in super::read::project_lists::<WireRole>(raw, KIND, state) {
            let name = state.org.projects[i].name.clone();
            for (role, id) in super::wire::custom_roles(&roles) {
                state.ids.set(refs::project_role(&name, &role.name), id);
                state.org.projects[i].roles.push(role);
            }
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| p.roles.iter().map(|r| keys::project_role(&p.name, &r.name)))
            .collect()
    }
}

/// Whether the project (by ID) has a custom project role, as read.
pub(crate) fn custom_role_exists(raw: &RawStore, project_id: &str) -> bool {
    raw.for_parent_ids::<WireRole>(KIND, &[project_id.to_string()])
        .is_some_and(|roles| roles.iter().any(|r| !r.predefined_role))
}
