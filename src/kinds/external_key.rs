//! Customer-managed encryption keys (EKM), `settings.external_keys[]`, key
//! `external_key:<name>`, and a project's key by name, `projects[].external_key`, key
//! `project:<name>/external_key`. Shapes from the official SDK (`openai==3.63.0`,
//! `types/admin/organization/external_key*.py`): `GET`/`POST /organization/external_keys`,
//! `GET`/`DELETE /organization/external_keys/{id}`, `POST .../{id}/validate` (`{status}`).
//!
//! A key is declared by name with its provider's fields, flat, as the create call takes them
//! (`type: aws` with `kms_arn`, `role_arn`, `external_id`; `gcp`, `azure`, `oci` likewise;
//! `purpose` `ekm` by default). The API has no update: a declared key whose fields differ
//! from the live one is replaced (deleted, created again), which is destructive, counted by
//! `max_removals` and refused for a name in `policy.protect.external_keys`. An optional
//! provider field the file leaves out is not compared. Live keys the file does not declare
//! follow `policy.unmanaged.external_keys` (report by default). None of these fields is a
//! secret (the SDK returns every one of them): they name a key and the role that reaches it.
//!
//! **Validation.** Orgops never relies on a key that does not validate: the live read of the
//! keys asks `validate` of each, and a project the plan would put on a key that does not
//! validate is a located error before anything is planned or written
//! ([`Kind::check_live`]); a key the plan creates (or replaces) is validated right after, and
//! its failure fails that change, so the projects waiting for it are skipped.
//!
//! **A project's key by name.** `projects[].external_key: <name>` names a key of
//! `settings.external_keys` (or a live one); apply validates it and sets the project's
//! `external_key_id` to its ID. The live read writes a project's key by name where it knows
//! it (so `export` writes names), and `external_key_id` keeps working for an ID; a project
//! may write one of the two.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::context::{Context, Draft, GateFacts, Output};
use super::kind::{FieldPlace, Finding, Kind};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use super::{Action, IdRef, LiveState, Operation, ResourceKind};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::pagination::{MAX_PAGE_A, Style};
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::api::types::ProjectId;
use crate::api::{Client, Error};
use crate::model::{Document, KindFields, Project};

const KIND: ResourceKind = ResourceKind::ExternalKey;
const BINDING: ResourceKind = ResourceKind::ProjectExternalKey;
/// `settings.external_keys`.
pub const FIELD: &str = "external_keys";
/// `projects[].external_key`.
pub const PROJECT_FIELD: &str = "external_key";

const ROUTE: &str = "/organization/external_keys";
const ONE: &str = "/organization/external_keys/{external_key_id}";
const VALIDATE: &str = "/organization/external_keys/{external_key_id}/validate";

/// Per provider `type`: the fields its create call requires, then those it may take
/// (`V1OrganizationExternalKeysPostRequest{Aws,Gcp,Azure,Oci}`).
pub const PROVIDERS: &[(&str, &[&str], &[&str])] = &[
    ("aws", &["kms_arn", "role_arn", "external_id"], &[]),
    (
        "gcp",
        &[
            "kms_project_id",
            "kms_key_location",
            "kms_key_ring_name",
            "kms_key_name",
            "audience",
            "workload_identity_pool_id",
            "workload_identity_project_number",
            "workload_identity_provider_id",
        ],
        &["kms_key_version"],
    ),
    (
        "azure",
        &["tenant_id", "vault_uri", "key_name"],
        &["key_version"],
    ),
    (
        "oci",
        &["region", "vault_ocid", "key_ocid"],
        &["key_version_ocid"],
    ),
];
/// `purpose`'s values; absent means `ekm`.
pub const PURPOSES: &[&str] = &["ekm", "psp_decryption"];
/// What `validate` answers for a key that works.
const VALID: &[&str] = &["valid", "validated"];

fn provider(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    PROVIDERS
        .iter()
        .find(|(t, _, _)| *t == kind)
        .map(|(_, required, optional)| (*required, *optional))
}

/// The natural key of a key.
pub fn key(name: &str) -> String {
    format!("external_key:{name}")
}

fn reference(name: &str) -> IdRef {
    IdRef::new(KIND, key(name))
}

fn project_ref(name: &str) -> IdRef {
    super::keys::refs::project(name)
}

/// One key in the file's shape, canonical: `name`, `type`, `purpose` (left out when `ekm`),
/// then the provider's fields in the table's order; `None` when it is not one (a wrong type,
/// a missing or non-text field, an unknown field).
fn canonical(v: &Value, strict: bool) -> Option<Map<String, Value>> {
    let o = v.as_object()?;
    let name = o.get("name")?.as_str()?;
    let kind = o.get("type")?.as_str()?;
    let (required, optional) = provider(kind)?;
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("type".into(), json!(kind));
    match o.get("purpose") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if PURPOSES.contains(&p.as_str()) => {
            if p != "ekm" {
                out.insert("purpose".into(), json!(p));
            }
        }
        Some(_) => return None,
    }
    for field in required {
        out.insert(field.to_string(), json!(o.get(*field)?.as_str()?));
    }
    for field in optional {
        match o.get(*field) {
            Some(Value::String(s)) => {
                out.insert(field.to_string(), json!(s));
            }
            None | Some(Value::Null) => {}
            Some(_) => return None,
        }
    }
    if strict {
        let known = |k: &str| {
            ["name", "type", "purpose"].contains(&k)
                || required.contains(&k)
                || optional.contains(&k)
        };
        if o.keys().any(|k| !known(k)) {
            return None;
        }
    }
    Some(out)
}

/// Why a value of `settings.external_keys` is not a list of keys, if it is not.
fn list_error(value: &Value) -> Option<String> {
    let Some(items) = value.as_array() else {
        return Some("a list of keys".into());
    };
    for (i, item) in items.iter().enumerate() {
        if canonical(item, true).is_none() {
            return Some(format!(
                "item {i} is not a key: `name`, `type` ({}) and that provider's fields",
                PROVIDERS
                    .iter()
                    .map(|(t, _, _)| *t)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    None
}

/// The keys the file declares (`None`: `settings.external_keys` not written).
fn declared(doc: &Document) -> Option<Vec<Map<String, Value>>> {
    let items = doc.settings.fields.get(FIELD)?.as_array()?;
    Some(items.iter().filter_map(|v| canonical(v, false)).collect())
}

/// The key a project names (`projects[].external_key`).
fn named(fields: &KindFields) -> Option<&str> {
    fields.get(PROJECT_FIELD)?.as_str()
}

/// Whether `live` is what `desired` asks for: every field of `desired` has its value in
/// `live`, and `live` has no required field or purpose `desired` lacks (an optional field the
/// file leaves out is not compared).
fn same(desired: &Map<String, Value>, live: &Map<String, Value>) -> bool {
    let kind = desired.get("type").and_then(Value::as_str).unwrap_or("");
    let optional = provider(kind).map(|(_, o)| o).unwrap_or(&[]);
    desired.iter().all(|(k, v)| live.get(k) == Some(v))
        && live
            .keys()
            .all(|k| desired.contains_key(k) || optional.contains(&k.as_str()))
}

/// A live key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    pub id: String,
    pub created_at: i64,
    /// In the file's shape (`canonical`).
    pub spec: Map<String, Value>,
    /// Why `validate` refused it (its status, or the API's error), if it did.
    pub invalid: Option<String>,
}

impl LiveKey {
    fn name(&self) -> &str {
        self.spec.get("name").and_then(Value::as_str).unwrap_or("")
    }
}

/// `POST .../validate`: `None` when the key validates, or why not.
async fn validate(client: &Client, id: &str) -> Result<Option<String>, Error> {
    let path = VALIDATE.replace("{external_key_id}", &seg(id));
    let call = Call::post(VALIDATE, path, RequestKind::Idempotent, json!({}));
    match client.execute::<Value>(&call).await {
        Ok(body) => {
            let status = body.get("status").and_then(Value::as_str).unwrap_or("");
            Ok((!VALID.contains(&status))
                .then(|| format!("its validation answered status `{status}`")))
        }
        Err(e) if matches!(e.status(), Some(400 | 409 | 422)) => Ok(Some(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Every live key, each validated.
async fn read(client: &Client) -> Result<Vec<LiveKey>, Error> {
    let items: Vec<Value> = client
        .list_all(
            Call::get(ROUTE, ROUTE.to_string()),
            Style::LastId,
            MAX_PAGE_A,
        )
        .await?;
    let mut keys = Vec::new();
    for item in &items {
        let id = item.get("id").and_then(Value::as_str);
        let spec = canonical(item, false);
        let (Some(id), Some(spec)) = (id, spec) else {
            return Err(Error::unexpected(ROUTE, "external key", item));
        };
        keys.push(LiveKey {
            id: id.to_string(),
            created_at: item.get("created_at").and_then(Value::as_i64).unwrap_or(0),
            spec,
            invalid: retry_transient(|| validate(client, id)).await?,
        });
    }
    Ok(keys)
}

/// A key's ID, by name, once the live read or this run knows it.
fn need_key(cx: &ApplyContext, name: &str) -> Result<String, String> {
    cx.ids
        .get(&reference(name))
        .ok_or_else(|| format!("external key {name:?} has no known ID"))
}

/// Creates the key and validates it: a key that does not validate fails the change (it
/// stays, so the next plan shows it unchanged and the projects that would use it refused).
async fn create(cx: &ApplyContext, spec: &Value) -> Step {
    let c = &cx.client;
    let name = spec.get("name").and_then(Value::as_str).unwrap_or("");
    let call = Call::post(ROUTE, ROUTE.to_string(), RequestKind::Create, spec.clone());
    let created = create_or_find(
        || c.execute::<Value>(&call),
        || super::named::id_by_name(c, ROUTE, name),
    )
    .await
    .map_err(api)?;
    let id = cx.record_json(
        &reference(name),
        &created,
        &format!("external key `{name}`"),
    )?;
    match retry_transient(|| validate(c, &id)).await.map_err(api)? {
        None => Ok(Done::Applied(Some("validated".into()))),
        Some(why) => Err(format!(
            "external key `{name}` was created but does not validate ({why}): nothing uses it; \
             fix the provider's access (the role, the key's policy) and apply again"
        )),
    }
}

/// What apply does for a key (the plan's `operation`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `spec`: the create call's body (the file's shape).
    CreateExternalKey { name: String, spec: Value },
    /// Delete the live key, create `spec`.
    ReplaceExternalKey { name: String, spec: Value },
    /// `id`: this key exactly (an extra live key of the name).
    DeleteExternalKey {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Puts `project` on the key `name` (validated first).
    SetProjectExternalKey { project: String, name: String },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Customer-managed keys (`settings.external_keys`).
pub(crate) struct ExternalKeyKind;
/// A project's key by name (`projects[].external_key`).
pub(crate) struct ProjectExternalKeyKind;

fn view(spec: &Map<String, Value>) -> Value {
    Value::Object(spec.clone())
}

impl Kind for ExternalKeyKind {
    fn title(&self) -> &'static str {
        "External keys"
    }

    /// A key registered (`external_key.registered`) or removed (`external_key.removed`),
    /// named by its id.
    fn attribution(&self) -> Vec<super::attribution::Rule> {
        use super::attribution::{DriftClass::*, Names::*, rule};
        vec![
            rule(Unmanaged, "external_key.registered", Id),
            rule(Missing, "external_key.removed", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "external_keys",
            removes: "remove",
            list: "settings.external_keys",
            restorable: false,
        })
    }

    fn manages(&self, doc: &Document) -> bool {
        doc.settings.fields.contains_key(FIELD)
    }

    /// A key decides who can read a project's data: every change is shown.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let what = match change.op.decode::<Op>().ok()? {
            Op::CreateExternalKey { name, .. } => (name, "new customer-managed key"),
            Op::ReplaceExternalKey { name, .. } => (
                name,
                "customer-managed key replaced (deleted and created again): projects that use it must be put on the new one",
            ),
            Op::DeleteExternalKey { name, .. } => (
                name,
                "customer-managed key deleted: data encrypted with it can no longer be read",
            ),
            Op::SetProjectExternalKey { .. } => return None,
        };
        Some(super::Attention::new(what.0, what.1))
    }

    fn file_field(&self) -> Option<(FieldPlace, &'static str)> {
        Some((FieldPlace::Settings, FIELD))
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        list_error(value)
    }

    /// Keys canonical (see [`canonical`]) and sorted by name.
    fn canonical_field(&self, value: Value) -> Value {
        super::named::sorted_by_name(value, |item| canonical(item, true))
    }

    fn check(&self, doc: &Document) -> Vec<Finding> {
        let Some(items) = doc.settings.fields.get(FIELD).and_then(Value::as_array) else {
            return Vec::new();
        };
        super::named::declared_twice(
            items,
            &format!("/settings/{FIELD}"),
            |name| format!("external key {name:?}"),
            "give each key its own name",
        )
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        declared(doc)
            .unwrap_or_default()
            .iter()
            .filter_map(|k| k.get("name").and_then(Value::as_str).map(key))
            .collect()
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        match change.op.decode::<Op>() {
            Ok(Op::ReplaceExternalKey { name, .. }) | Ok(Op::DeleteExternalKey { name, .. }) => {
                GateFacts {
                    protected: ctx.desired.policy.protect.external_keys.contains(&name),
                    ..GateFacts::default()
                }
            }
            _ => GateFacts::default(),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Read where the file declares keys, or a project names one.
    fn scope(&self, doc: &Document) -> Select<String> {
        Select::all_if(
            doc.settings.fields.contains_key(FIELD)
                || doc
                    .projects
                    .iter()
                    .filter(|p| !p.archived)
                    .any(|p| p.fields.contains_key(PROJECT_FIELD)),
        )
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, read(client).await?);
            Ok(())
        })
    }

    /// The keys, oldest first (the oldest of a name is the one its name resolves to), into
    /// `settings.external_keys` (written when there is one); each live project's
    /// `external_key_id` that is one of them becomes its `external_key` by name.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(keys) = raw.organization::<LiveKey>(KIND) else {
            return;
        };
        let mut keys: Vec<LiveKey> = keys.into_iter().cloned().collect();
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut listed: BTreeMap<String, Value> = BTreeMap::new();
        for k in &keys {
            let name = k.name().to_string();
            if let std::collections::btree_map::Entry::Vacant(slot) = listed.entry(name.clone()) {
                state.ids.set(reference(&name), k.id.clone());
                names.insert(k.id.clone(), name);
                slot.insert(view(&k.spec));
            }
        }
        if !listed.is_empty() {
            let list: Vec<Value> = listed.into_values().collect();
            state
                .org
                .settings
                .fields
                .insert(FIELD.into(), Value::Array(list));
        }
        for project in state.org.projects.iter_mut() {
            let Some(name) = project
                .external_key_id
                .as_ref()
                .and_then(|id| names.get(id))
            else {
                continue;
            };
            project.fields.insert(PROJECT_FIELD.into(), json!(name));
            project.external_key_id = None;
        }
        state.external_keys = keys;
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let Some(desired) = declared(&ctx.desired) else {
            return;
        };
        let desired: BTreeMap<String, Map<String, Value>> = desired
            .into_iter()
            .filter_map(|k| Some((k.get("name")?.as_str()?.to_string(), k)))
            .collect();
        let mut live: BTreeMap<String, &LiveKey> = BTreeMap::new();
        let mut extras: Vec<&LiveKey> = Vec::new();
        for k in &ctx.state.external_keys {
            if live.contains_key(k.name()) {
                extras.push(k);
            } else {
                live.insert(k.name().to_string(), k);
            }
        }
        for (name, want) in &desired {
            let spec = Value::Object(want.clone());
            match live.get(name) {
                None => out.push(
                    Draft::new(
                        KIND,
                        key(name),
                        Action::Create,
                        Op::CreateExternalKey {
                            name: name.clone(),
                            spec: spec.clone(),
                        },
                    )
                    .after(Some(spec))
                    .diffed(&["name"]),
                ),
                Some(have) if !same(want, &have.spec) => out.push(
                    Draft::new(
                        KIND,
                        key(name),
                        Action::Replace,
                        Op::ReplaceExternalKey {
                            name: name.clone(),
                            spec: spec.clone(),
                        },
                    )
                    .before(Some(view(&have.spec)))
                    .after(Some(spec))
                    .diffed(&["name"]),
                ),
                Some(_) => {}
            }
        }
        let policy = ctx.desired.policy.unmanaged.external_keys;
        let undeclared = live
            .iter()
            .filter(|(name, _)| !desired.contains_key(*name))
            .map(|(name, k)| (key(name), *k, None))
            .chain(extras.iter().map(|k| {
                (
                    format!("{}#{}", key(k.name()), k.id),
                    *k,
                    Some(k.id.clone()),
                )
            }));
        for (plan_key, k, id) in undeclared {
            let object = view(&k.spec);
            let draft_key = plan_key.clone();
            let op = Op::DeleteExternalKey {
                name: k.name().to_string(),
                id,
            };
            out.unmanaged(policy, KIND, &plan_key, object.clone(), || {
                Draft::new(KIND, draft_key, Action::Delete, op).before(Some(object))
            });
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode::<Op>() {
            Ok(Op::ReplaceExternalKey { name, .. })
            | Ok(Op::DeleteExternalKey { name, id: None }) => {
                vec![reference(&name)]
            }
            _ => Vec::new(),
        }
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let c = &cx.client;
            match op.decode::<Op>()? {
                Op::CreateExternalKey { spec, .. } => create(cx, &spec).await,
                Op::ReplaceExternalKey { name, spec } => {
                    if let Some(id) = cx.ids.get(&reference(&name)) {
                        let gone = Call::delete(ONE, ONE.replace("{external_key_id}", &seg(&id)));
                        remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                        cx.ids.forget(&reference(&name));
                    }
                    create(cx, &spec).await
                }
                Op::DeleteExternalKey { name, id: extra } => {
                    let Some(id) = extra.clone().or_else(|| cx.ids.get(&reference(&name))) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let gone = Call::delete(ONE, ONE.replace("{external_key_id}", &seg(&id)));
                    let removal = remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                    if extra.is_none() {
                        cx.ids.forget(&reference(&name));
                    }
                    Ok(removed(removal))
                }
                Op::SetProjectExternalKey { .. } => {
                    Err("a project's key is set by its own kind".into())
                }
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        let mut keys: Vec<Value> = s
            .org
            .settings
            .fields
            .get(FIELD)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match op {
            Op::CreateExternalKey { spec, .. } => keys.push(spec),
            Op::ReplaceExternalKey { name, spec } => {
                keys.retain(|k| k.get("name").and_then(Value::as_str) != Some(&name));
                keys.push(spec);
            }
            Op::DeleteExternalKey { name, .. } => {
                keys.retain(|k| k.get("name").and_then(Value::as_str) != Some(&name))
            }
            Op::SetProjectExternalKey { .. } => return,
        }
        s.external_keys = keys
            .iter()
            .filter_map(|k| canonical(k, false))
            .enumerate()
            .map(|(i, spec)| LiveKey {
                id: format!("ek_{i}"),
                created_at: i as i64,
                spec,
                invalid: None,
            })
            .collect();
        s.org
            .settings
            .fields
            .insert(FIELD.into(), Value::Array(keys));
    }
}

/// The names `doc` declares, for checks.
fn declared_names(doc: &Document) -> Option<BTreeSet<String>> {
    Some(
        declared(doc)?
            .iter()
            .filter_map(|k| k.get("name").and_then(Value::as_str).map(str::to_string))
            .collect(),
    )
}

/// The declared keys the plan replaces (their live fields differ).
fn replaced(doc: &Document, live: &LiveState) -> BTreeSet<String> {
    declared(doc)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|want| {
            let name = want.get("name")?.as_str()?.to_string();
            let have = live.external_keys.iter().find(|k| k.name() == name)?;
            (!same(&want, &have.spec)).then_some(name)
        })
        .collect()
}

/// The project's live key ID where the live read wrote it by name (`external_key`): what
/// `external_key_id` in a file is compared with.
pub(crate) fn live_key_id(project: &Project, live: &LiveState) -> Option<String> {
    project
        .external_key_id
        .clone()
        .or_else(|| named(&project.fields).and_then(|name| live.ids.get(&reference(name)).cloned()))
}

impl Kind for ProjectExternalKeyKind {
    fn title(&self) -> &'static str {
        "Project external keys"
    }

    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        match change.op.decode::<Op>().ok()? {
            Op::SetProjectExternalKey { project, name } => Some(super::Attention::new(
                project,
                format!("project data encrypted with customer-managed key `{name}`"),
            )),
            _ => None,
        }
    }

    fn file_field(&self) -> Option<(FieldPlace, &'static str)> {
        Some((FieldPlace::Project, PROJECT_FIELD))
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        match value.as_str() {
            Some(s) if !s.trim().is_empty() => None,
            _ => Some("the name of a key of `settings.external_keys`".into()),
        }
    }

    /// Both ways of naming a key, or a name the file's keys do not have.
    fn check(&self, doc: &Document) -> Vec<Finding> {
        let names = declared_names(doc);
        let mut out = Vec::new();
        for (i, p) in doc.projects.iter().enumerate() {
            let Some(name) = named(&p.fields) else {
                continue;
            };
            let pointer = format!("/projects/{i}/{PROJECT_FIELD}");
            if p.external_key_id.is_some() {
                out.push(Finding {
                    pointer: pointer.clone(),
                    error: true,
                    at_key: true,
                    message: format!(
                        "project {:?} writes both `external_key` and `external_key_id`",
                        p.name
                    ),
                    hint: Some(
                        "keep one: `external_key` (a key's name) or `external_key_id`".into(),
                    ),
                });
            }
            if let Some(names) = &names
                && !names.contains(name)
            {
                out.push(Finding {
                    pointer,
                    error: true,
                    at_key: false,
                    message: format!("no key named {name:?} in `settings.external_keys`"),
                    hint: Some(match names.iter().next() {
                        Some(_) => format!(
                            "declare it there, or name one of: {}",
                            names.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        None => "declare it under `settings.external_keys`".into(),
                    }),
                });
            }
        }
        out
    }

    /// A key nobody has, or one the project would be put on that does not validate: found
    /// before anything is planned or written.
    fn check_live(&self, doc: &Document, live: &LiveState) -> Vec<Finding> {
        let names = declared_names(doc);
        let replaced = replaced(doc, live);
        let mut out = Vec::new();
        for (i, p) in doc.projects.iter().enumerate() {
            let Some(name) = named(&p.fields) else {
                continue;
            };
            if p.archived {
                continue;
            }
            let pointer = format!("/projects/{i}/{PROJECT_FIELD}");
            let have = live.external_keys.iter().find(|k| k.name() == name);
            let declared = names.as_ref().is_some_and(|n| n.contains(name));
            let already = live
                .org
                .projects
                .iter()
                .any(|lp| lp.name == p.name && named(&lp.fields) == Some(name));
            match have {
                None if !declared => out.push(Finding {
                    pointer,
                    error: true,
                    at_key: false,
                    message: format!("project {:?} names external key {name:?}, which the organization does not have", p.name),
                    hint: Some("declare it under `settings.external_keys`, or name an existing key".into()),
                }),
                Some(k) if !already && !replaced.contains(name) => {
                    if let Some(why) = &k.invalid {
                        out.push(Finding {
                            pointer,
                            error: true,
                            at_key: false,
                            message: format!(
                                "external key {name:?} does not validate ({why}): project {:?} is not put on it",
                                p.name
                            ),
                            hint: Some("fix the provider's access to the key (its role and policy), then plan again".into()),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        doc.projects
            .iter()
            .filter(|p| named(&p.fields).is_some())
            .map(|p| format!("project:{}/{PROJECT_FIELD}", p.name))
            .collect()
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired, live) in ctx.child_projects() {
            let Some(name) = named(&desired.fields) else {
                continue;
            };
            let have = live.and_then(|l| named(&l.fields));
            // A key being replaced gets a new ID: its projects are put on it again.
            if have == Some(name) && !replaced(&ctx.desired, ctx.state).contains(name) {
                continue;
            }
            let before = live.map(|l| match named(&l.fields) {
                Some(n) => json!({"external_key": n}),
                None => match &l.external_key_id {
                    Some(id) => json!({"external_key_id": id}),
                    None => json!({}),
                },
            });
            let action = if before
                .as_ref()
                .is_some_and(|b| b.as_object().is_some_and(|o| !o.is_empty()))
            {
                Action::Update
            } else {
                Action::Set
            };
            out.push(
                Draft::new(
                    BINDING,
                    format!("project:{}/{PROJECT_FIELD}", desired.name),
                    action,
                    Op::SetProjectExternalKey {
                        project: desired.name.clone(),
                        name: name.to_string(),
                    },
                )
                .before(before)
                .after(Some(json!({"external_key": name})))
                .diffed(&[])
                .parents([super::keys::project(&desired.name), key(name)]),
            );
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode::<Op>() {
            Ok(Op::SetProjectExternalKey { project, name }) => {
                vec![project_ref(&project), reference(&name)]
            }
            _ => Vec::new(),
        }
    }

    /// Validates the key, then sets the project's `external_key_id` to it.
    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let Op::SetProjectExternalKey { project, name } = op.decode::<Op>()? else {
                return Err("not a project's key".into());
            };
            let c = &cx.client;
            let key_id = need_key(cx, &name)?;
            if let Some(why) = retry_transient(|| validate(c, &key_id))
                .await
                .map_err(api)?
            {
                return Err(format!(
                    "external key `{name}` does not validate ({why}): project `{project}` was not put on it"
                ));
            }
            let pid = ProjectId::from(cx.need(&project_ref(&project))?);
            retry_transient(|| c.modify_project(&pid, None, Some(&key_id)))
                .await
                .map_err(api)?;
            Ok(Done::Applied(None))
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut LiveState) {
        if let Ok(Op::SetProjectExternalKey { project, name }) = op.decode::<Op>()
            && let Some(p) = s.org.projects.iter_mut().find(|p| p.name == project)
        {
            p.fields.insert(PROJECT_FIELD.into(), json!(name));
            p.external_key_id = None;
        }
    }
}
