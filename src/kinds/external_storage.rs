//! A project's external storage, `projects[].external_storage`, key
//! `project:<name>/external_storage`: where the project's data is kept in the customer's own
//! bucket. Shapes from the official SDK (`openai==3.63.0`,
//! `types/admin/organization/external_storage*.py` and the `*_external_storage_provider.py`
//! models): `GET`/`POST /organization/external_storage` (`{project_id, provider}`), `GET`/
//! `DELETE /organization/external_storage/{id}`, `POST .../{id}/validate` (the
//! configuration, with `status` `pending`, `validated`, `degraded` or `unhealthy`).
//!
//! The API stores no name: a configuration is known by its project. The file writes the
//! create call's `provider`, flat (`type: aws` with `bucket` and `role_arn`; `azure`, `gcp`,
//! `oci` likewise), or `null` for none. The API has no update: a change is a replace
//! (deleted, created again), destructive, counted by `max_removals`, refused for a project in
//! `policy.protect.external_storage`; `null` deletes. What the API adds on a read
//! (`account_id`, `external_id`, `region` for AWS, `audience` for GCP) is not compared. More
//! than one live configuration on a project whose `external_storage` is written: the oldest
//! is the project's, the others follow `policy.unmanaged.external_storage`. A created (or
//! replaced) configuration is validated at once; one that does not validate fails its
//! change. None of these fields is a secret (the SDK returns every one of them: access goes
//! through a role or a workload identity, never a stored credential).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::context::{Context, Draft, GateFacts, Output};
use super::kind::{FieldPlace, Kind};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use super::{Action, IdRef, LiveState, Operation, ResourceKind};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::pagination::{MAX_PAGE_A, Style};
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::api::{Client, Error};
use crate::model::Document;

const KIND: ResourceKind = ResourceKind::ExternalStorage;
/// `projects[].external_storage`.
pub const FIELD: &str = "external_storage";

const ROUTE: &str = "/organization/external_storage";
const ONE: &str = "/organization/external_storage/{external_storage_id}";
const VALIDATE: &str = "/organization/external_storage/{external_storage_id}/validate";

/// Per provider `type`: the fields its create call requires (`Provider{Aws,Azure,Gcp,Oci}`).
pub const PROVIDERS: &[(&str, &[&str])] = &[
    ("aws", &["bucket", "role_arn"]),
    (
        "azure",
        &[
            "tenant_id",
            "subscription_id",
            "resource_group",
            "account_name",
            "container",
        ],
    ),
    (
        "gcp",
        &[
            "bucket",
            "workload_identity_pool_id",
            "workload_identity_project_number",
            "workload_identity_provider_id",
        ],
    ),
    ("oci", &["tenancy_ocid", "region", "bucket"]),
];

fn key(project: &str) -> String {
    format!("project:{project}/{FIELD}")
}

fn reference(project: &str) -> IdRef {
    IdRef::new(KIND, key(project))
}

/// A provider in the file's shape, canonical: `type`, then its fields in the table's order;
/// `None` when it is not one. `strict`: no other field (the file; a read has more).
fn canonical(v: &Value, strict: bool) -> Option<Map<String, Value>> {
    let o = v.as_object()?;
    let kind = o.get("type")?.as_str()?;
    let (_, fields) = PROVIDERS.iter().find(|(t, _)| *t == kind)?;
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    for field in *fields {
        out.insert(field.to_string(), json!(o.get(*field)?.as_str()?));
    }
    if strict
        && o.keys()
            .any(|k| k != "type" && !fields.contains(&k.as_str()))
    {
        return None;
    }
    Some(out)
}

/// A live configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStorage {
    pub id: String,
    pub project_id: String,
    pub created_at: i64,
    /// The provider in the file's shape (`canonical`).
    pub spec: Map<String, Value>,
    pub status: String,
}

/// What a project writes: `Some(None)` for `null` (none), `None` when not written.
fn declared(fields: &crate::model::KindFields) -> Option<Option<Map<String, Value>>> {
    match fields.get(FIELD)? {
        Value::Null => Some(None),
        v => canonical(v, false).map(Some),
    }
}

fn decode_error(item: &Value) -> Error {
    Error::unexpected(ROUTE, "external storage configuration", item)
}

fn live(item: &Value) -> Result<LiveStorage, Error> {
    let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(id), Some(project_id), Some(spec)) = (
        text("id"),
        text("project_id"),
        item.get("provider").and_then(|p| canonical(p, false)),
    ) else {
        return Err(decode_error(item));
    };
    Ok(LiveStorage {
        id,
        project_id,
        created_at: item.get("created_at").and_then(Value::as_i64).unwrap_or(0),
        spec,
        status: text("status").unwrap_or_default(),
    })
}

async fn list(client: &Client, project_id: Option<&str>) -> Result<Vec<LiveStorage>, Error> {
    let mut call = Call::get(ROUTE, ROUTE.to_string());
    if let Some(p) = project_id {
        call = call.query("project_id", p);
    }
    let items: Vec<Value> = client.list_all(call, Style::LastId, MAX_PAGE_A).await?;
    items.iter().map(live).collect()
}

fn path(template: &str, id: &str) -> String {
    template.replace("{external_storage_id}", &seg(id))
}

/// Creates the project's configuration and validates it.
async fn create(cx: &ApplyContext, project: &str, provider: &Value) -> Step {
    let c = &cx.client;
    let pid = cx.need(&super::keys::refs::project(project))?;
    let body = json!({"project_id": pid, "provider": provider});
    let call = Call::post(ROUTE, ROUTE.to_string(), RequestKind::Create, body);
    let created = create_or_find(
        || c.execute::<Value>(&call),
        || async {
            let mut all = list(c, Some(&pid)).await?;
            all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(all.into_iter().next().map(|s| s.id))
        },
    )
    .await
    .map_err(api)?;
    let id = cx.record_json(
        &reference(project),
        &created,
        &format!("the external storage of project `{project}`"),
    )?;
    let call = Call::post(
        VALIDATE,
        path(VALIDATE, &id),
        RequestKind::Idempotent,
        json!({}),
    );
    let checked: Value = retry_transient(|| c.execute::<Value>(&call))
        .await
        .map_err(api)?;
    match checked.get("status").and_then(Value::as_str) {
        Some("validated") => Ok(Done::Applied(Some("validated".into()))),
        status => Err(format!(
            "the external storage of project `{project}` was created but does not validate (status `{}`): \
             fix the provider's access (the role, the bucket's policy) and apply again",
            status.unwrap_or("?")
        )),
    }
}

/// What apply does (the plan's `operation`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `provider`: the create call's (the file's shape).
    CreateExternalStorage { project: String, provider: Value },
    /// Delete the project's configuration, create `provider`.
    ReplaceExternalStorage { project: String, provider: Value },
    /// `id`: this configuration exactly (one beside the project's own).
    DeleteExternalStorage {
        project: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// External storage (`projects[].external_storage`).
pub(crate) struct ExternalStorageKind;

impl Kind for ExternalStorageKind {
    fn title(&self) -> &'static str {
        "External storage"
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "external_storage",
            removes: "remove",
            list: "projects[].external_storage",
            restorable: false,
        })
    }

    fn manages(&self, doc: &Document) -> bool {
        super::active_projects(doc).any(|p| p.fields.contains_key(FIELD))
    }

    /// Where a project's data lives: every change is shown.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let (project, what) = match change.op.decode::<Op>().ok()? {
            Op::CreateExternalStorage { project, .. } => {
                (project, "project data kept in customer-managed storage")
            }
            Op::ReplaceExternalStorage { project, .. } => (
                project,
                "external storage replaced (deleted and created again)",
            ),
            Op::DeleteExternalStorage { project, .. } => {
                (project, "external storage configuration deleted")
            }
        };
        Some(super::Attention::new(project, what))
    }

    fn file_field(&self) -> Option<(FieldPlace, &'static str)> {
        Some((FieldPlace::Project, FIELD))
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        if value.is_null() || canonical(value, true).is_some() {
            return None;
        }
        Some(format!(
            "`null`, or `type` ({}) and that provider's fields",
            PROVIDERS
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    fn canonical_field(&self, value: Value) -> Value {
        match canonical(&value, true) {
            Some(spec) => Value::Object(spec),
            None => value,
        }
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        doc.projects
            .iter()
            .filter(|p| p.fields.contains_key(FIELD))
            .map(|p| key(&p.name))
            .collect()
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        match change.op.decode::<Op>() {
            Ok(Op::ReplaceExternalStorage { project, .. })
            | Ok(Op::DeleteExternalStorage { project, .. }) => GateFacts {
                protected: ctx
                    .desired
                    .policy
                    .protect
                    .external_storage
                    .contains(&project),
                ..GateFacts::default()
            },
            _ => GateFacts::default(),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Read (once, for the whole organization) where a project writes `external_storage`.
    fn scope(&self, doc: &Document) -> Select<String> {
        Select::all_if(
            doc.projects
                .iter()
                .filter(|p| !p.archived)
                .any(|p| p.fields.contains_key(FIELD)),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, list(client, None).await?);
            Ok(())
        })
    }

    /// By project (through the projects' IDs), oldest first; the oldest into the project's
    /// `external_storage`.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(all) = raw.organization::<LiveStorage>(KIND) else {
            return;
        };
        let names: BTreeMap<String, String> = state
            .ids
            .of(ResourceKind::Project)
            .filter_map(|(k, id)| Some((id.clone(), k.strip_prefix("project:")?.to_string())))
            .collect();
        let mut by_project: BTreeMap<String, Vec<LiveStorage>> = BTreeMap::new();
        for s in all {
            if let Some(name) = names.get(&s.project_id) {
                by_project.entry(name.clone()).or_default().push(s.clone());
            }
        }
        for (name, list) in by_project.iter_mut() {
            list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            if let Some(first) = list.first() {
                state.ids.set(reference(name), first.id.clone());
                if let Some(p) = state.org.projects.iter_mut().find(|p| &p.name == name) {
                    p.fields
                        .insert(FIELD.into(), Value::Object(first.spec.clone()));
                }
            }
        }
        state.external_storage = by_project;
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let policy = ctx.desired.policy.unmanaged.external_storage;
        for (desired, live) in ctx.child_projects() {
            let Some(want) = declared(&desired.fields) else {
                continue;
            };
            let project = desired.name.clone();
            let parents = vec![super::keys::project(&project)];
            let have: &[LiveStorage] = match live {
                Some(_) => ctx
                    .state
                    .external_storage
                    .get(&project)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
                None => &[],
            };
            let (first, extras) = match have.split_first() {
                Some((first, extras)) => (Some(first), extras),
                None => (None, &[][..]),
            };
            match (&want, first) {
                (Some(want), None) => out.push(
                    Draft::new(
                        KIND,
                        key(&project),
                        Action::Create,
                        Op::CreateExternalStorage {
                            project: project.clone(),
                            provider: Value::Object(want.clone()),
                        },
                    )
                    .after(Some(Value::Object(want.clone())))
                    .diffed(&[])
                    .parents(parents.clone()),
                ),
                (Some(want), Some(first)) if *want != first.spec => out.push(
                    Draft::new(
                        KIND,
                        key(&project),
                        Action::Replace,
                        Op::ReplaceExternalStorage {
                            project: project.clone(),
                            provider: Value::Object(want.clone()),
                        },
                    )
                    .before(Some(Value::Object(first.spec.clone())))
                    .after(Some(Value::Object(want.clone())))
                    .diffed(&[])
                    .parents(parents.clone()),
                ),
                (None, Some(first)) => out.push(
                    Draft::new(
                        KIND,
                        key(&project),
                        Action::Delete,
                        Op::DeleteExternalStorage {
                            project: project.clone(),
                            id: None,
                        },
                    )
                    .before(Some(Value::Object(first.spec.clone())))
                    .parents(parents.clone()),
                ),
                _ => {}
            }
            for extra in extras {
                let plan_key = format!("{}#{}", key(&project), extra.id);
                let object = Value::Object(extra.spec.clone());
                let op = Op::DeleteExternalStorage {
                    project: project.clone(),
                    id: Some(extra.id.clone()),
                };
                let draft_key = plan_key.clone();
                let parents = parents.clone();
                out.unmanaged(policy, KIND, &plan_key, object.clone(), || {
                    Draft::new(KIND, draft_key, Action::Delete, op)
                        .before(Some(object))
                        .parents(parents)
                });
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode::<Op>() {
            Ok(Op::CreateExternalStorage { project, .. }) => {
                vec![super::keys::refs::project(&project)]
            }
            Ok(Op::ReplaceExternalStorage { project, .. }) => {
                vec![super::keys::refs::project(&project), reference(&project)]
            }
            Ok(Op::DeleteExternalStorage { project, id: None }) => vec![reference(&project)],
            _ => Vec::new(),
        }
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let c = &cx.client;
            match op.decode::<Op>()? {
                Op::CreateExternalStorage { project, provider } => {
                    create(cx, &project, &provider).await
                }
                Op::ReplaceExternalStorage { project, provider } => {
                    if let Some(id) = cx.ids.get(&reference(&project)) {
                        let gone = Call::delete(ONE, path(ONE, &id));
                        remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                        cx.ids.forget(&reference(&project));
                    }
                    create(cx, &project, &provider).await
                }
                Op::DeleteExternalStorage { project, id: extra } => {
                    let Some(id) = extra.clone().or_else(|| cx.ids.get(&reference(&project)))
                    else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let gone = Call::delete(ONE, path(ONE, &id));
                    let removal = remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                    if extra.is_none() {
                        cx.ids.forget(&reference(&project));
                    }
                    Ok(removed(removal))
                }
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        let (project, provider) = match op {
            Op::CreateExternalStorage { project, provider }
            | Op::ReplaceExternalStorage { project, provider } => (project, Some(provider)),
            Op::DeleteExternalStorage { project, id: None } => (project, None),
            Op::DeleteExternalStorage { .. } => return,
        };
        let list = s.external_storage.entry(project.clone()).or_default();
        list.clear();
        let p = s.org.projects.iter_mut().find(|p| p.name == project);
        match provider.as_ref().and_then(|v| canonical(v, false)) {
            Some(spec) => {
                list.push(LiveStorage {
                    id: format!("es_{project}"),
                    project_id: String::new(),
                    created_at: 0,
                    spec: spec.clone(),
                    status: "validated".into(),
                });
                if let Some(p) = p {
                    p.fields.insert(FIELD.into(), Value::Object(spec));
                }
            }
            None => {
                if let Some(p) = p {
                    p.fields.shift_remove(FIELD);
                }
            }
        }
    }
}
