//! Project API keys (reference §3.12), inventory and pruning: `projects[].api_keys: [name...]`
//! lists the keys to keep, key `project:<name>/api_key:<key name>` (with `#<id>` when several
//! live keys share a name). Keys cannot be created through the Admin API, so a declared name
//! plans nothing; a live key whose name is not declared follows
//! `policy.unmanaged.project_api_keys`: `report` lists it with its owner and last use,
//! `remove` deletes it (`delete`, counted by `max_removals`), `ignore` says nothing. A key
//! owned by a service account is only ever reported: the spec refuses its delete (it goes
//! with its account, `policy.unmanaged.service_accounts`). `policy.protect.project_api_keys`
//! refuses a plan that would delete a listed key. Read (one list per managed project, 100
//! per page) only where `projects[].api_keys` is written.

use super::LiveState;
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::model::Document as ReadDocument;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::context::{Context, Draft, Output};
use super::keys::refs;
use super::kind::Kind;
use super::{Action, IdRef, Operation, RefusalRule, ResourceKind, UnmanagedObject, ValueOp};
use crate::api::client::{Call, seg};
use crate::api::pagination::{MAX_PAGE_A, Style};
use crate::api::safe::remove;
use crate::api::{Client, Error};
use crate::model::{Document, ServiceAccountRef, UnmanagedAction};

pub const NAME: &str = "project_api_key";
/// The file's key: `projects[].api_keys`.
const FIELD: &str = "api_keys";

/// The key names a project's `api_keys` lists (`None`: not written, not managed).
fn declared(project: &crate::model::Project) -> Option<Vec<String>> {
    serde_json::from_value(project.fields.get(FIELD)?.clone()).ok()
}

const LIST_ROUTE: &str = "/organization/projects/{project_id}/api_keys";
const ONE_ROUTE: &str = "/organization/projects/{project_id}/api_keys/{api_key_id}";

/// A live key as the plan shows it (never its value: only the API's redacted form).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct LiveKey {
    pub id: String,
    pub name: String,
    pub redacted_value: Option<String>,
    pub created_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// `user:<email>` or `service_account:<name>`.
    pub owner: Option<String>,
    pub service_account: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireKey {
    id: String,
    name: Option<String>,
    redacted_value: Option<String>,
    created_at: Option<i64>,
    last_used_at: Option<i64>,
    owner: Option<Value>,
}

fn to_live(wire: WireKey) -> LiveKey {
    let owner = wire.owner.as_ref();
    let kind = owner.and_then(|o| o.get("type")).and_then(Value::as_str);
    let service_account = kind == Some("service_account");
    let label = match kind {
        Some("user") => owner
            .and_then(|o| o.pointer("/user/email"))
            .and_then(Value::as_str)
            .map(|e| format!("user:{}", crate::model::normalize_email(e))),
        Some("service_account") => owner
            .and_then(|o| o.pointer("/service_account/name"))
            .and_then(Value::as_str)
            .map(|n| format!("service_account:{n}")),
        _ => None,
    };
    LiveKey {
        name: wire.name.unwrap_or_default(),
        id: wire.id,
        redacted_value: wire.redacted_value,
        created_at: wire.created_at,
        last_used_at: wire.last_used_at,
        owner: label,
        service_account,
    }
}

/// The projects whose keys a plan of `doc` reads: those that write `api_keys`.
pub fn managed(doc: &Document) -> Select<String> {
    let names: BTreeSet<String> = doc
        .projects
        .iter()
        .filter(|p| !p.archived && declared(p).is_some())
        .map(|p| super::keys::project(&p.name))
        .collect();
    if names.is_empty() {
        Select::Nothing
    } else {
        Select::Only(names)
    }
}

/// Lists a project's keys, every owner's (`owner_project_access=any`), 100 per page.
pub async fn read(client: &Client, project_id: &str) -> Result<Vec<LiveKey>, Error> {
    let call = Call::get(
        LIST_ROUTE,
        LIST_ROUTE.replace("{project_id}", &seg(project_id)),
    )
    .query("owner_project_access", "any");
    let keys: Vec<WireKey> = client.list_all(call, Style::LastId, MAX_PAGE_A).await?;
    Ok(keys.into_iter().map(to_live).collect())
}

/// Deletes one key; a key already gone is done.
/// One DELETE; the executor runs it through `apply::safe::remove` (404 = already gone).
pub async fn delete(client: &Client, project_id: &str, id: &str) -> Result<Value, Error> {
    let call = Call::delete(
        ONE_ROUTE,
        ONE_ROUTE
            .replace("{project_id}", &seg(project_id))
            .replace("{api_key_id}", &seg(id)),
    );
    client.execute::<Value>(&call).await
}

/// A timestamp as RFC 3339 (UTC), for people.
fn when(seconds: Option<i64>) -> Value {
    seconds.map_or(Value::Null, |s| {
        Value::String(crate::text::time::format_utc(s))
    })
}

fn view(key: &LiveKey) -> Value {
    json!({
        "name": key.name,
        "id": key.id,
        "redacted_value": key.redacted_value,
        "owner": key.owner,
        "created_at": when(key.created_at),
        "last_used_at": when(key.last_used_at),
    })
}

/// Project API keys.
const KIND: ResourceKind = ResourceKind::ProjectApiKey;

pub(crate) struct ProjectApiKeyKind;

impl Kind for ProjectApiKeyKind {
    fn title(&self) -> &'static str {
        "Project API keys"
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "project_api_keys",
            removes: "remove",
            list: "projects[].api_keys",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        super::active_projects(doc).any(|p| p.fields.contains_key("api_keys"))
    }

    /// A deleted key: whatever sends requests with it starts failing.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let super::ValueOp::Kind {
            project: Some(project),
            value: None,
            ..
        } = &change.op.decode::<super::ValueOp>().ok()?
        else {
            return None;
        };
        let name = super::attention::before_str(change, "name").unwrap_or(&change.key);
        Some(super::Attention::new(
            name,
            format!("API key of project {project} deleted: requests with it fail"),
        ))
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let policy = ctx.desired.policy.unmanaged.project_api_keys;
        let protected: BTreeSet<&ServiceAccountRef> =
            ctx.desired.policy.protect.project_api_keys.iter().collect();
        for (desired, live) in ctx.child_projects() {
            let Some(names) = declared(desired) else {
                continue;
            };
            if live.is_none() {
                continue;
            }
            let project = &desired.name;
            let Some(keys) = ctx.state.project_api_keys.get(project) else {
                continue;
            };
            let keep: BTreeSet<&str> = names.iter().map(String::as_str).collect();
            let mut by_name: BTreeMap<&str, Vec<&LiveKey>> = BTreeMap::new();
            for key in keys.iter().filter(|k| !keep.contains(k.name.as_str())) {
                by_name.entry(key.name.as_str()).or_default().push(key);
            }
            for (name, mut same) in by_name {
                same.sort_by(|a, b| a.id.cmp(&b.id));
                let shared = same.len() > 1;
                for key in same {
                    let plan_key = if shared {
                        format!("project:{project}/api_key:{name}#{}", key.id)
                    } else {
                        format!("project:{project}/api_key:{name}")
                    };
                    let object = view(key);
                    if key.service_account {
                        if policy != UnmanagedAction::Ignore {
                            out.unmanaged.push(UnmanagedObject {
                                kind: ResourceKind::ProjectApiKey,
                                key: plan_key,
                                object,
                                note: Some(
                                    "a service account's key: it goes with its account".to_string(),
                                ),
                            });
                        }
                        continue;
                    }
                    if policy == UnmanagedAction::Remove
                        && protected.contains(&ServiceAccountRef {
                            project: project.clone(),
                            name: name.to_string(),
                        })
                    {
                        out.refuse(
                        RefusalRule::Protect,
                        format!("project API key {name:?} of {project:?} is protected"),
                        vec![plan_key.clone()],
                        "add the key's name to the project's `api_keys`, or take it out of `policy.protect.project_api_keys`",
                    );
                    }
                    let (draft_key, project_name) = (plan_key.clone(), project.clone());
                    let view_before = object.clone();
                    out.unmanaged(
                        policy,
                        ResourceKind::ProjectApiKey,
                        &plan_key,
                        object,
                        || {
                            Draft::new(
                                ResourceKind::ProjectApiKey,
                                draft_key,
                                Action::Delete,
                                ValueOp::Kind {
                                    kind: NAME.to_string(),
                                    project: Some(project_name.clone()),
                                    id: Some(key.id.clone()),
                                    value: None,
                                },
                            )
                            .before(Some(view_before))
                            .parents([format!("project:{project_name}")])
                        },
                    );
                }
            }
        }
    }

    fn id_refs(&self, _op: &Operation) -> Vec<IdRef> {
        // A key that is gone (its project archived or deleted) is already satisfied.
        Vec::new()
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let ValueOp::Kind { project, id, .. } = op.decode()?;
            let (Some(p), Some(key_id)) = (project, id) else {
                return Err("deleting a project API key needs its project and ID".into());
            };
            let Some(pid) = cx.ids.get(&refs::project(&p)) else {
                return Ok(Done::Already(GONE.into()));
            };
            let removal = remove(|| delete(&cx.client, &pid, &key_id))
                .await
                .map_err(api)?;
            Ok(removed(removal))
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut crate::kinds::LiveState) {
        if let Ok(ValueOp::Kind {
            project: Some(project),
            id: Some(id),
            ..
        }) = op.decode()
            && let Some(keys) = s.project_api_keys.get_mut(&project)
        {
            keys.retain(|k| k.id != id);
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Project))
    }

    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        managed(doc)
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let keys = read(client, parent.map(Parent::id).unwrap_or_default()).await?;
            one_page(&pages, keys);
            Ok(())
        })
    }

    /// The keys' names into the live document (for export), and the keys themselves (with
    /// their IDs) apart. A project with no key is left unmanaged, so `export` does not make
    /// every later plan list an empty collection per project.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        for (i, _, keys) in super::read::project_lists::<LiveKey>(raw, KIND, state) {
            let mut kept: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
            kept.sort();
            kept.dedup();
            let project = &mut state.org.projects[i];
            if !kept.is_empty() {
                project
                    .fields
                    .insert(FIELD.to_string(), serde_json::json!(kept));
            }
            let name = project.name.clone();
            state
                .project_api_keys
                .insert(name, keys.into_iter().cloned().collect());
        }
    }

    fn file_field(&self) -> Option<(super::FieldPlace, &'static str)> {
        Some((super::FieldPlace::Project, FIELD))
    }

    fn field_error(&self, value: &serde_json::Value) -> Option<String> {
        serde_json::from_value::<Vec<String>>(value.clone())
            .err()
            .map(|e| e.to_string())
    }

    /// Names sorted, once each.
    fn canonical_field(&self, value: serde_json::Value) -> serde_json::Value {
        match serde_json::from_value::<Vec<String>>(value.clone()) {
            Ok(mut names) => {
                names.sort();
                names.dedup();
                serde_json::json!(names)
            }
            Err(_) => value,
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                declared(p)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| format!("project:{}/api_key:{k}", p.name))
            })
            .collect()
    }
}
