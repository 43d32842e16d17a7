//! Group access to a project, key `project:<project>/group:<group>`. Field: `role`
//! (`owner` | `member`). The API has no update: a role change is one `update` whose operation
//! assigns the new predefined project role before unassigning the old one (no lockout).
//! Undeclared live ones follow `policy.unmanaged.project_groups`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawPage, RawStore, Select, Source, one_page, page_items};
use crate::api::groups::{Group as WireGroup, ProjectGroup as WireProjectGroup};
use crate::api::types::{AssignedRole, ProjectId as ReadProjectId};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::BTreeMap as ReadMap;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::{ProjectGroup, ProjectRole};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, membership, removed};
use super::keys::refs::{group, project};
use crate::api::role_assignments::Principal;
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::api::types::{GroupId, ProjectId, RoleId};

const KIND: ResourceKind = ResourceKind::ProjectGroup;

fn view(g: &ProjectGroup) -> Value {
    json!({ "group": g.name, "role": g.role })
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    AddProjectGroup {
        project: String,
        group: String,
        role: ProjectRole,
    },
    /// Assign `to`'s predefined project role, then unassign `from`'s (no lockout window).
    ChangeProjectGroupRole {
        project: String,
        group: String,
        from: ProjectRole,
        to: ProjectRole,
    },
    RemoveProjectGroup {
        project: String,
        group: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Groups in projects.
pub(crate) struct ProjectGroupKind;

impl Kind for ProjectGroupKind {
    fn title(&self) -> &'static str {
        "Groups in projects"
    }

    /// A group's rename or deletion changes the projects that list it.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(super::incremental::pages_of::<WireProjectGroup>(&[
            ("group.updated", Reach::Held),
            ("group.deleted", Reach::Held),
        ]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "role.assignment.created", ProjectGroupMembership),
            rule(Missing, "role.assignment.deleted", ProjectGroupMembership),
            rule(Changed, "role.assignment.created", ProjectGroupMembership),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "project_groups",
            removes: "remove",
            list: "projects[].groups",
            restorable: true,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        super::active_projects(doc).any(|p| p.groups.is_managed())
    }

    /// A group given access to a project (every member gets it), its role changed, its
    /// access taken away.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        use super::attention::role_change;
        let role = |r: &ProjectRole| match r {
            ProjectRole::Owner => "owner",
            ProjectRole::Member => "member",
        };
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::AddProjectGroup {
                project,
                group,
                role: r,
            } => Some(super::Attention::new(
                group,
                format!(
                    "group gets {} access to project {project}, for every member",
                    role(r)
                ),
            )),
            Op::ChangeProjectGroupRole {
                project,
                group,
                from,
                to,
            } => Some(super::Attention::new(
                group,
                format!(
                    "group's role in project {project} {}",
                    role_change(role(from), role(to), "owner")
                ),
            )),
            Op::RemoveProjectGroup { project, group } => Some(super::Attention::new(
                group,
                format!("group loses access to project {project}"),
            )),
        }
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
                            Op::AddProjectGroup {
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
                            Op::ChangeProjectGroupRole {
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
                                Op::RemoveProjectGroup {
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

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::AddProjectGroup {
                project: p,
                group: g,
                ..
            }
            | Op::ChangeProjectGroupRole {
                project: p,
                group: g,
                ..
            }
            | Op::RemoveProjectGroup {
                project: p,
                group: g,
            } => vec![project(p), group(g)],
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
                Op::AddProjectGroup {
                    project: p,
                    group: g,
                    role,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let gid = GroupId::from(cx.need(&group(g))?);
                    let rid = RoleId::from(role.predefined_role_id());
                    let created = create_or_find(
                        || c.add_project_group(&pid, &gid, &rid),
                        || async {
                            let grants = c.list_project_groups(&pid).await?;
                            Ok(grants
                                .into_iter()
                                .find(|x| x.group_id == gid)
                                .map(|x| x.group_id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    // The group's project role is read back from its role assignments; make sure
                    // the role given at grant time is among them (the API may keep it apart).
                    let principal = Principal::ProjectGroup(&pid, &gid);
                    let assigned = retry_transient(|| c.list_role_assignments(principal))
                        .await
                        .map_err(api)?;
                    if !assigned.iter().any(|r| r.id == rid) {
                        cx.assign(principal, &rid).await?;
                    }
                    Ok(membership(created, "the group already has access"))
                }
                Op::ChangeProjectGroupRole {
                    project: p,
                    group: g,
                    from,
                    to,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let gid = GroupId::from(cx.need(&group(g))?);
                    let principal = Principal::ProjectGroup(&pid, &gid);
                    // Grant the new role before taking the old one: no window without access.
                    cx.assign(principal, &RoleId::from(to.predefined_role_id()))
                        .await?;
                    let old = RoleId::from(from.predefined_role_id());
                    remove(|| c.unassign_role(principal, &old))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::RemoveProjectGroup {
                    project: p,
                    group: g,
                } => {
                    let Some([pid, gid]) = cx.have([project(p), group(g)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (pid, gid) = (ProjectId::from(pid), GroupId::from(gid));
                    let removal = remove(|| c.remove_project_group(&pid, &gid))
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
            Op::AddProjectGroup {
                project: p,
                group,
                role,
            } => project(s, p).groups.push(ProjectGroup {
                name: group.clone(),
                role: *role,
                roles: vec![].into(),
            }),
            Op::ChangeProjectGroupRole {
                project: p,
                group,
                to,
                ..
            } => {
                for g in project(s, p).groups.iter_mut().filter(|g| &g.name == group) {
                    g.role = *to;
                }
            }
            Op::RemoveProjectGroup { project: p, group } => {
                project(s, p).groups.retain(|g| &g.name != group)
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Project))
    }

    /// The groups of the projects whose `groups` list the file writes.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let wanted = |p: &&crate::model::Project| !p.archived && p.groups.is_managed();
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
            one_page(&pages, client.list_project_groups(&id).await?);
            Ok(())
        })
    }

    /// Every group with access: its role assignments carry its project role.
    fn parents(&self, of: Option<&Parent>, page: &RawPage) -> Vec<Parent> {
        let Some(project) = of else {
            return Vec::new();
        };
        page_items::<WireProjectGroup>(page)
            .iter()
            .map(|g| Parent {
                key: keys::project_group(project.name(), &g.group_name),
                names: vec![project.name().to_string(), g.group_name.clone()],
                ids: vec![project.id().to_string(), g.group_id.to_string()],
            })
            .collect()
    }

    /// Groups by their organization name (the row's own when the group list was not read).
    /// A project group object has no role: it comes from the group's role assignments
    /// (`project_group_role`'s lists), `owner` if a predefined owner role is assigned, else
    /// `member`; the custom roles there are its `roles`.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let group_names: ReadMap<String, String> = raw
            .items::<WireGroup>(ResourceKind::Group)
            .map(|(_, g)| (g.id.to_string(), g.name.clone()))
            .collect();
        for (i, id, rows) in super::read::project_lists::<WireProjectGroup>(raw, KIND, state) {
            let name = state.org.projects[i].name.clone();
            let mut groups: ReadMap<String, ProjectGroup> = BTreeMap::new();
            for row in rows {
                let group_name = group_names
                    .get(row.group_id.as_str())
                    .cloned()
                    .unwrap_or_else(|| row.group_name.clone());
                let assigned = raw
                    .for_parent_ids::<AssignedRole>(
                        ResourceKind::ProjectGroupRole,
                        &[id.clone(), row.group_id.to_string()],
                    )
                    .unwrap_or_default();
                super::wire::remember_project_role_ids(&mut state.ids, &name, Some(&assigned));
                let (role, roles) = super::wire::split_project_roles(&assigned);
                groups.entry(group_name.clone()).or_insert(ProjectGroup {
                    name: group_name,
                    role: role.unwrap_or(ProjectRole::Member),
                    roles: roles.into(),
                });
            }
            state.org.projects[i].groups = groups.into_values().collect();
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                p.groups
                    .iter()
                    .map(|g| keys::project_group(&p.name, &g.name))
            })
            .collect()
    }
}
