//! Group access to a project, key `project:<project>/group:<group>`. Field: `role`
//! (`owner` | `member`). The API has no update: a role change is one `update` whose operation
//! assigns the new predefined project role before unassigning the old one (no lockout).
//! Undeclared live ones follow `policy.unmanaged.project_groups`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::{ProjectGroup, ProjectRole};

const KIND: ResourceKind = ResourceKind::ProjectGroup;

fn view(g: &ProjectGroup) -> Value {
    json!({ "group": g.name, "role": g.role })
}

/// Groups in projects.
pub(crate) struct ProjectGroupKind;

impl Kind for ProjectGroupKind {
    fn title(&self) -> &'static str {
        "Groups in projects"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            if ctx.is_default_project(project) {
                continue;
            }
            let desired: BTreeMap<String, &ProjectGroup> = desired_project
                .groups
                .iter()
                .map(|g| (g.name.clone(), g))
                .collect();
            let live: BTreeMap<String, &ProjectGroup> = live_project
                .map(|p| {
                    when_managed(&desired_project.groups, &p.groups)
                        .iter()
                        .map(|g| (g.name.clone(), g))
                        .collect()
                })
                .unwrap_or_default();
            for (group, d, l) in pair_up(&desired, &live) {
                let key = keys::project_group(project, group);
                let parents = [keys::project(project), keys::group(group)];
                match (d, l) {
                    (Some(d), None) => out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Grant,
                            Operation::AddProjectGroup {
                                project: project.clone(),
                                group: group.clone(),
                                role: d.role,
                            },
                        )
                        .after(Some(view(d)))
                        .diffed(&["group"])
                        .parents(parents),
                    ),
                    (Some(d), Some(l)) if d.role != l.role => out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Update,
                            Operation::ChangeProjectGroupRole {
                                project: project.clone(),
                                group: group.clone(),
                                from: l.role,
                                to: d.role,
                            },
                        )
                        .before(Some(view(l)))
                        .after(Some(view(d)))
                        .diffed(&["group"])
                        .destructive(l.role == ProjectRole::Owner)
                        .parents(parents),
                    ),
                    (None, Some(l)) => out.unmanaged(
                        ctx.desired.policy.unmanaged.project_groups,
                        KIND,
                        &key,
                        view(l),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Revoke,
                                Operation::RemoveProjectGroup {
                                    project: project.clone(),
                                    group: group.clone(),
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
