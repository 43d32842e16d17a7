//! Custom project roles, key `project:<project>/role:<name>`; same fields as organization
//! roles (see `role.rs`). Undeclared ones follow `policy.unmanaged.project_roles`.

use std::collections::BTreeMap;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::role::{update, view};
use super::{Action, Operation, ResourceKind};
use crate::model::Role;

const KIND: ResourceKind = ResourceKind::ProjectRole;

/// Project custom roles.
pub(crate) struct ProjectRoleKind;

impl Kind for ProjectRoleKind {
    fn title(&self) -> &'static str {
        "Project custom roles"
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
                            Operation::CreateProjectRole {
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
                                    Operation::UpdateProjectRole {
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
                                Operation::DeleteProjectRole {
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
}
