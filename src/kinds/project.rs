//! Projects, key `project:<name>`. Fields: `residency` (fixed at creation), `external_key_id`
//! (managed only when given), `archived` (one way: `archive` is irreversible).
//!
//! Undeclared live projects follow `policy.unmanaged.projects` (report | archive | ignore);
//! archived projects and the default project are never reported. A declared default project
//! may set rate limits but not members, groups or service accounts, and is never archived.

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, RefusalRule, ResourceKind};
use crate::model::{Project, UnmanagedProjectAction};

const KIND: ResourceKind = ResourceKind::Project;

fn view(project: &Project) -> Value {
    let mut v = json!({ "name": project.name });
    if let Some(r) = &project.residency {
        v["residency"] = json!(r);
    }
    if let Some(k) = &project.external_key_id {
        v["external_key_id"] = json!(k);
    }
    if project.archived {
        v["archived"] = json!(true);
    }
    v
}

/// Projects.
pub(crate) struct ProjectKind;

impl Kind for ProjectKind {
    fn title(&self) -> &'static str {
        "Projects"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        super::duplicates::diff(super::DuplicateKind::Project, ctx, out);
        for desired in &ctx.desired.projects {
            let key = keys::project(&desired.name);
            if ctx.is_default_project(&desired.name) {
                let mut objects: Vec<String> = Vec::new();
                objects.extend(
                    desired
                        .members
                        .iter()
                        .map(|m| keys::project_member(&desired.name, &m.email)),
                );
                objects.extend(
                    desired
                        .groups
                        .iter()
                        .map(|g| keys::project_group(&desired.name, &g.name)),
                );
                objects.extend(
                    desired
                        .service_accounts
                        .iter()
                        .map(|s| keys::service_account(&desired.name, &s.name)),
                );
                if !objects.is_empty() {
                    out.refuse(
                    RefusalRule::DefaultProject,
                    format!(
                        "the default project {:?} cannot be given members, groups or service accounts",
                        desired.name
                    ),
                    objects,
                    "remove them from the default project in the file (give them another project)",
                );
                }
            }
            let Some(live) = ctx.live_project(&desired.name) else {
                if !desired.archived {
                    out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Create,
                            Operation::CreateProject {
                                name: desired.name.clone(),
                                residency: desired.residency.clone(),
                                external_key_id: desired.external_key_id.clone(),
                            },
                        )
                        .after(Some(view(desired)))
                        .diffed(&["name"]),
                    );
                }
                continue;
            };
            if live.archived {
                if !desired.archived {
                    out.refuse(
                    RefusalRule::Unarchive,
                    format!(
                        "project {:?} is archived and the API cannot unarchive it",
                        desired.name
                    ),
                    vec![key],
                    "mark it `archived: true` in the file, or declare a project with a new name",
                );
                }
                continue;
            }
            if let Some(residency) = &desired.residency
                && live.residency.as_ref() != Some(residency)
            {
                out.refuse(
                RefusalRule::Immutable,
                format!(
                    "project {:?} has residency {} and residency is fixed at creation (the file asks for {residency})",
                    desired.name,
                    live.residency.as_deref().unwrap_or("(none)")
                ),
                vec![key.clone()],
                "set `residency` to the live value or remove it from the file",
            );
            }
            if let Some(external_key_id) = &desired.external_key_id
                && live.external_key_id.as_ref() != Some(external_key_id)
            {
                let mut after = live.clone();
                after.external_key_id = Some(external_key_id.clone());
                out.push(
                    Draft::new(
                        KIND,
                        key.clone(),
                        Action::Update,
                        Operation::UpdateProject {
                            name: desired.name.clone(),
                            external_key_id: Some(external_key_id.clone()),
                        },
                    )
                    .before(Some(view(live)))
                    .after(Some(view(&after)))
                    .diffed(&["name"]),
                );
            }
            if desired.archived {
                out.push(archive(live, key));
            }
        }

        for live in when_managed(&ctx.desired.projects, &ctx.live.projects) {
            if live.archived
                || ctx.desired_project(&live.name).is_some()
                || ctx.is_default_project(&live.name)
            {
                continue;
            }
            let key = keys::project(&live.name);
            match ctx.desired.policy.unmanaged.projects {
                UnmanagedProjectAction::Report => out.unmanaged.push(super::UnmanagedObject {
                    note: None,
                    kind: KIND,
                    key,
                    object: view(live),
                }),
                UnmanagedProjectAction::Archive => out.push(archive(live, key)),
                UnmanagedProjectAction::Ignore => {}
            }
        }
    }
}

fn archive(live: &Project, key: String) -> Draft {
    let mut after = live.clone();
    after.archived = true;
    Draft::new(
        KIND,
        key,
        Action::Archive,
        Operation::ArchiveProject {
            name: live.name.clone(),
            id: None,
        },
    )
    .before(Some(view(live)))
    .after(Some(view(&after)))
    .diffed(&["name"])
}
