//! Projects, key `project:<name>`. Fields: `residency` (fixed at creation), `external_key_id`
//! (managed only when given), `archived` (one way: `archive` is irreversible).
//!
//! Undeclared live projects follow `policy.unmanaged.projects` (report | archive | ignore);
//! archived projects and the default project are never reported. A declared default project
//! may set rate limits but not members, groups or service accounts, and is never archived.

use super::attribution::{Rule, rule};
use super::keys::refs;
use super::read::{PageSink, Parent, RawPage, RawStore, Select, Source, page_items};
use super::{LiveDuplicate, LiveState};
use crate::api::projects::Project as WireProject;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::BTreeMap;
use std::collections::BTreeMap as ReadMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, GateFacts, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, RefusalRule, ResourceKind};
use crate::model::Project;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api};
use super::keys::refs::project;
use crate::api::projects::NewProject;
use crate::api::safe::{create_or_find, retry_transient};
use crate::api::types::ProjectId;

const KIND: ResourceKind = ResourceKind::Project;

fn view(project: &Project) -> Value {
    let mut v = json!({ "name": project.name });
    if let Some(r) = &project.residency {
        v["residency"] = json!(r);
    }
    if let Some(g) = &project.geography {
        v["geography"] = json!(g);
    }
    if let Some(k) = &project.external_key_id {
        v["external_key_id"] = json!(k);
    }
    if project.archived {
        v["archived"] = json!(true);
    }
    v
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    CreateProject {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        residency: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_key_id: Option<String>,
        /// Deprecated by the API; sent only here (never read back, never compared).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        geography: Option<String>,
    },
    /// `external_key_id: None` clears it.
    UpdateProject {
        name: String,
        external_key_id: Option<String>,
    },
    /// Irreversible. `id`: this project exactly (an extra live duplicate of the name),
    /// instead of the one the name resolves to.
    ArchiveProject {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Projects.
pub(crate) struct ProjectKind;

impl Kind for ProjectKind {
    fn title(&self) -> &'static str {
        "Projects"
    }

    /// The projects list: every project event is one of its rules.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        Some(super::incremental::pages_of::<WireProject>(&[]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "project.created", Id),
            rule(Missing, "project.archived", Id),
            rule(Missing, "project.deleted", Id),
            rule(Changed, "project.updated", Id),
            rule(Changed, "project.archived", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "projects",
            removes: "archive",
            list: "projects",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.projects.is_managed()
    }

    /// Archiving ends every access to the project at once, and cannot be undone.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::ArchiveProject { name, .. } => Some(super::Attention::new(
                name,
                "project archived: every member, group, service account and API key loses access (irreversible)",
            )),
            _ => None,
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        use crate::model::{UnmanagedAction, UnmanagedProjectAction};
        let extras = super::duplicates::Extras {
            kind: ResourceKind::Project,
            // An extra project is archived, as an undeclared one would be.
            policy: match ctx.desired.policy.unmanaged.projects {
                UnmanagedProjectAction::Report => UnmanagedAction::Report,
                UnmanagedProjectAction::Archive => UnmanagedAction::Remove,
                UnmanagedProjectAction::Ignore => UnmanagedAction::Ignore,
            },
            key: &|dup| keys::project(&dup.name),
            removal: &|dup, key, _| {
                Draft::new(
                    ResourceKind::Project,
                    key,
                    Action::Archive,
                    Op::ArchiveProject {
                        name: dup.name.clone(),
                        id: Some(dup.extra.clone()),
                    },
                )
            },
        };
        super::duplicates::diff(extras, ctx, out);
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
                            Op::CreateProject {
                                name: desired.name.clone(),
                                residency: desired.residency.clone(),
                                external_key_id: desired.external_key_id.clone(),
                                geography: desired.geography.clone(),
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
            // The live read writes a key it knows by name (`super::external_key`).
            if let Some(external_key_id) = &desired.external_key_id
                && super::external_key::live_key_id(live, ctx.state).as_ref()
                    != Some(external_key_id)
            {
                let mut after = live.clone();
                after.external_key_id = Some(external_key_id.clone());
                out.push(
                    Draft::new(
                        KIND,
                        key.clone(),
                        Action::Update,
                        Op::UpdateProject {
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

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::CreateProject { .. } => vec![],
            Op::ArchiveProject { id: Some(_), .. } => vec![],
            Op::UpdateProject { name, .. } | Op::ArchiveProject { name, id: None } => {
                vec![project(name)]
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
                Op::CreateProject {
                    name,
                    residency,
                    external_key_id,
                    geography,
                } => {
                    let new = NewProject {
                        name,
                        residency: residency.as_deref(),
                        external_key_id: external_key_id.as_deref(),
                        geography: geography.as_deref(),
                    };
                    let created = create_or_find(
                        || c.create_project(&new),
                        || async { Ok(landed_as(&c.list_projects(false).await?, name)) },
                    )
                    .await
                    .map_err(api)?;
                    Ok(cx.record(&project(name), created, |p| p.id.to_string()))
                }
                Op::UpdateProject {
                    name,
                    external_key_id,
                } => {
                    let id = ProjectId::from(cx.need(&project(name))?);
                    // An empty value clears the key (live reads it as absent).
                    let key = external_key_id.as_deref().unwrap_or("");
                    retry_transient(|| c.modify_project(&id, None, Some(key)))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::ArchiveProject { name, id } => {
                    // An extra live duplicate is archived by its own ID.
                    let Some(id) = id.clone().or_else(|| cx.ids.get(&project(name))) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = ProjectId::from(id);
                    retry_transient(|| c.archive_project(&id))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
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
            Op::CreateProject {
                name,
                residency,
                external_key_id,
                ..
            } => {
                s.org.projects.push(Project {
                    name: name.clone(),
                    archived: false,
                    residency: residency.clone(),
                    external_key_id: external_key_id.clone(),
                    members: vec![].into(),
                    groups: vec![].into(),
                    roles: vec![].into(),
                    service_accounts: vec![].into(),
                    rate_limits: Default::default(),
                    certificates: vec![].into(),
                    ..Default::default()
                });
                s.ids.set(
                    crate::kinds::keys::refs::project(name),
                    format!("proj_{name}"),
                );
            }
            Op::UpdateProject {
                name,
                external_key_id,
            } => project(s, name).external_key_id = external_key_id.clone(),
            Op::ArchiveProject { name, .. } => project(s, name).archived = true,
        }
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        match change.op.decode::<Op>() {
            Ok(Op::ArchiveProject { name, .. }) => GateFacts {
                protected: ctx.desired.policy.protect.projects.contains(&name),
                default_project: ctx.is_default_project(&name),
                ..GateFacts::default()
            },
            _ => GateFacts::default(),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Projects are read when the file manages them, or users (invites name projects), or
    /// a federation rule names one (its ID resolves by name).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::all_if(
            doc.projects.is_managed()
                || doc.users.is_managed()
                || !super::workload_identity_provider::rule_projects(doc).is_empty(),
        )
    }

    fn read_early_for(&self) -> &'static [&'static str] {
        &["users", "projects"]
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Archived ones too: a name they hold is reported, never silently reused.
        Box::pin(client.list_projects_by_page(true, move |page| {
            // The reader outlives the list; a closed channel means it gave up on it.
            let _ = pages.send(Box::new(page));
        }))
    }

    /// Active projects (an archived one has no members or accounts: the API answers 400).
    fn parents(&self, _of: Option<&Parent>, page: &RawPage) -> Vec<Parent> {
        page_items::<WireProject>(page)
            .iter()
            .filter(|p| !p.is_archived())
            .filter_map(|p| {
                let name = p.name.clone()?;
                Some(Parent {
                    key: keys::project(&name),
                    names: vec![name],
                    ids: vec![p.id.to_string()],
                })
            })
            .collect()
    }

    /// Every named project, once per name: an active one wins a name over archived ones, the
    /// oldest active one over other active ones (those are duplicates). The default project
    /// (`wire::default_project`).
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(projects) = raw.organization::<WireProject>(KIND) else {
            return;
        };
        let mut ordered: Vec<&WireProject> = projects
            .iter()
            .copied()
            .filter(|p| p.name.is_some())
            .collect();
        ordered.sort_by_key(|p| (p.is_archived(), p.created_at, p.id.clone()));
        let mut out: ReadMap<String, Project> = BTreeMap::new();
        for project in ordered {
            let name = project.name.clone().unwrap_or_default();
            match state.ids.get(&refs::project(&name)) {
                // Two active projects of one name (an archived one of a reused name is not).
                Some(kept) if !project.is_archived() => {
                    state.duplicates.push(LiveDuplicate {
                        kind: ResourceKind::Project,
                        project: Some(name.clone()),
                        name: name.clone(),
                        kept: kept.clone(),
                        extra: project.id.to_string(),
                    });
                }
                Some(_) => {}
                None => {
                    state.ids.set(refs::project(&name), project.id.to_string());
                }
            }
            out.entry(name.clone()).or_insert_with(|| Project {
                name,
                archived: project.is_archived(),
                residency: project.residency.clone(),
                external_key_id: project.external_key_id.clone(),
                members: Vec::new().into(),
                groups: Vec::new().into(),
                roles: Vec::new().into(),
                service_accounts: Vec::new().into(),
                rate_limits: BTreeMap::new(),
                certificates: Vec::new().into(),
                ..Project::default()
            });
        }
        state.default_project =
            super::wire::default_project(&projects).and_then(|p| p.name.clone());
        state.org.projects = out.into_values().collect();
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .map(|p| keys::project(&p.name))
            .collect()
    }
}

fn archive(live: &Project, key: String) -> Draft {
    let mut after = live.clone();
    after.archived = true;
    Draft::new(
        KIND,
        key,
        Action::Archive,
        Op::ArchiveProject {
            name: live.name.clone(),
            id: None,
        },
    )
    .before(Some(view(live)))
    .after(Some(view(&after)))
    .diffed(&["name"])
}

/// Every named live project's name, by ID (archived ones and duplicates too).
pub(crate) fn names_by_id(raw: &RawStore) -> ReadMap<String, String> {
    raw.items::<WireProject>(KIND)
        .filter_map(|(_, p)| Some((p.id.to_string(), p.name.clone()?)))
        .collect()
}

/// The project a create of `name` whose outcome is unknown landed as: the newest active
/// project of that name. An archived one never is (the create did not happen, and adopting it
/// would send the project's members and keys to an archived project); the plan creates a
/// project only when no active one has its name, so a newer active one is this create's.
fn landed_as(projects: &[WireProject], name: &str) -> Option<String> {
    projects
        .iter()
        .filter(|p| p.name.as_deref() == Some(name) && !p.is_archived())
        .max_by_key(|p| p.created_at)
        .map(|p| p.id.to_string())
}

#[cfg(test)]
mod landed_tests {
    use super::*;

    fn wire(id: &str, status: &str, created_at: i64) -> WireProject {
        WireProject {
            id: id.into(),
            name: Some("Search".into()),
            status: Some(status.into()),
            created_at: Some(created_at),
            ..WireProject::default()
        }
    }

    #[test]
    fn a_create_of_unknown_outcome_never_lands_as_an_archived_project() {
        // The create did not happen: only last year's archived Search exists.
        assert_eq!(
            landed_as(&[wire("proj_old", "archived", 1)], "Search"),
            None
        );
        // It did: the new active one, whatever is archived beside it.
        assert_eq!(
            landed_as(
                &[
                    wire("proj_old", "archived", 1),
                    wire("proj_new", "active", 2)
                ],
                "Search"
            ),
            Some("proj_new".to_string())
        );
    }
}
