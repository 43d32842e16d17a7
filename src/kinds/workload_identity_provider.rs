//! Workload identity providers, `settings.workload_identity_providers[]`, key
//! `workload_identity_provider:<name>`: the OIDC issuers whose tokens outside workloads (CI
//! jobs, clusters) exchange for access as a project's service account. Shapes from the
//! official SDK (`openai==3.63.0`, `types/admin/organization/workload_identity_provider*.py`,
//! `resources/admin/organization/workload_identity_providers/`): `GET`/`POST
//! /organization/workload_identity_providers` (cursor pages, `after` the last id), `GET`/
//! `POST`/`DELETE .../{id}`. The rules that bind tokens to service accounts are their own
//! kind, nested in the file under their provider (`federation_rules`, see
//! [`super::federation_rule`]); this module reads both, in one organization read.
//!
//! Declared under `settings`, beside `external_keys`: an organization-wide object by name,
//! not a project's. The create call's fields, as it takes them: `name`, `issuer`, `audience`
//! (required), `type` (`oidc`, the only one; written or not), `description`, `enabled`,
//! `attribute_transformations` (`{attribute, expression}`) and `verification`
//! (`{type: discovery, discovery_url}` or `{type: uploaded_jwks, jwks}`). Every one of them
//! can be updated in place (the update call takes them all), so a change is an update; `type`
//! is the only field it cannot change, and it has one value. An optional field the file
//! leaves out is not compared (export writes each that is not the API's default). Live
//! providers the file does not declare follow `policy.unmanaged.workload_identity_providers`
//! (report by default); removing one deletes its federation rules first (each its own
//! destructive change), and `policy.protect.workload_identity_providers` refuses that, as it
//! refuses deleting or replacing any rule of the provider. None of these fields is a secret
//! (the SDK returns all of them: a JWKS is public keys).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::attribution::{Rule, rule};
use super::context::{Context, Draft, GateFacts, Output};
use super::kind::{FieldPlace, Finding, Kind};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use super::{Action, IdRef, LiveState, Operation, ResourceKind};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::pagination::{MAX_PAGE_A, Style};
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::api::{Client, Error};
use crate::model::Document;

const KIND: ResourceKind = ResourceKind::WorkloadIdentityProvider;
/// `settings.workload_identity_providers`.
pub const FIELD: &str = "workload_identity_providers";
/// A provider's `federation_rules`.
pub const RULES: &str = "federation_rules";

pub(crate) const ROUTE: &str = "/organization/workload_identity_providers";
pub(crate) const ONE: &str =
    "/organization/workload_identity_providers/{workload_identity_provider_id}";
pub(crate) const RULES_ROUTE: &str =
    "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules";
pub(crate) const RULE_ROUTE: &str = "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules/{workload_identity_federation_rule_id}";

/// The only provider `type`.
const OIDC: &str = "oidc";
/// A provider's fields after its name, in the file's order; each can be updated in place.
pub const PROVIDER_FIELDS: &[&str] = &[
    "issuer",
    "audience",
    "description",
    "enabled",
    "attribute_transformations",
    "verification",
];
/// Of those, the ones the create call requires.
const REQUIRED: &[&str] = &["issuer", "audience"];
/// A rule's fields after its name, in the file's order.
pub const RULE_FIELDS: &[&str] = &[
    "project",
    "service_account",
    "attribute_matchers",
    "description",
    "enabled",
    "permissions",
];
/// Of those, the ones the API cannot change (a change replaces the rule).
pub const RULE_IMMUTABLE: &[&str] = &["project", "service_account"];

/// The natural key of a provider.
pub fn key(name: &str) -> String {
    super::keys::workload_identity_provider(name)
}

pub(crate) fn reference(name: &str) -> IdRef {
    super::keys::refs::workload_identity_provider(name)
}

pub(crate) fn path(template: &str, provider: &str) -> String {
    template.replace("{workload_identity_provider_id}", &seg(provider))
}

fn text(o: &Map<String, Value>, field: &str) -> Option<Option<String>> {
    match o.get(field) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    }
}

/// `attribute_transformations` canonical: `[{attribute, expression}]`.
fn transformations(v: &Value, strict: bool) -> Option<Value> {
    let mut out = Vec::new();
    for item in v.as_array()? {
        let o = item.as_object()?;
        let attribute = o.get("attribute")?.as_str()?;
        let expression = o.get("expression")?.as_str()?;
        if strict && o.keys().any(|k| k != "attribute" && k != "expression") {
            return None;
        }
        out.push(json!({"attribute": attribute, "expression": expression}));
    }
    Some(Value::Array(out))
}

/// `verification` canonical: `{type: discovery, discovery_url}` (the URL `null` when not
/// given) or `{type: uploaded_jwks, jwks}`.
fn verification(v: &Value, strict: bool) -> Option<Value> {
    let o = v.as_object()?;
    let (out, known): (Value, &[&str]) = match o.get("type")?.as_str()? {
        "discovery" => (
            json!({"type": "discovery", "discovery_url": text(o, "discovery_url")?}),
            &["type", "discovery_url"],
        ),
        "uploaded_jwks" => (
            json!({"type": "uploaded_jwks", "jwks": Value::Object(o.get("jwks")?.as_object()?.clone())}),
            &["type", "jwks"],
        ),
        _ => return None,
    };
    if strict && o.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    Some(out)
}

/// `permissions` canonical: `{type: service_account_default}` or `{type: restricted,
/// scopes}` (scopes sorted: the API keeps a set).
fn permissions(v: &Value, strict: bool) -> Option<Value> {
    let o = v.as_object()?;
    let (out, known): (Value, &[&str]) = match o.get("type")?.as_str()? {
        "service_account_default" => (json!({"type": "service_account_default"}), &["type"]),
        "restricted" => {
            let mut scopes: Vec<&str> = o
                .get("scopes")?
                .as_array()?
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()?;
            scopes.sort();
            scopes.dedup();
            (
                json!({"type": "restricted", "scopes": scopes}),
                &["type", "scopes"],
            )
        }
        _ => return None,
    };
    if strict && o.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    Some(out)
}

/// `attribute_matchers`: an object of text, booleans and numbers.
fn matchers(v: &Value) -> Option<Value> {
    let o = v.as_object()?;
    let ok = o
        .values()
        .all(|v| v.is_string() || v.is_boolean() || v.is_number());
    (ok && !o.is_empty()).then(|| Value::Object(o.clone()))
}

/// One rule in the file's shape, canonical: `name`, then [`RULE_FIELDS`] as written.
/// `strict`: no other field, and a name (the file; a read may have an unnamed rule).
pub(crate) fn canonical_rule(v: &Value, strict: bool) -> Option<Map<String, Value>> {
    let o = v.as_object()?;
    let mut out = Map::new();
    match text(o, "name")? {
        Some(name) if !name.is_empty() => {
            out.insert("name".into(), json!(name));
        }
        _ if strict => return None,
        _ => {}
    }
    for field in ["project", "service_account"] {
        out.insert(field.into(), json!(o.get(field)?.as_str()?));
    }
    out.insert(
        "attribute_matchers".into(),
        matchers(o.get("attribute_matchers")?)?,
    );
    if let Some(d) = text(o, "description")? {
        out.insert("description".into(), json!(d));
    }
    match o.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            out.insert("enabled".into(), json!(b));
        }
        Some(_) => return None,
    }
    if let Some(p) = o.get("permissions").filter(|p| !p.is_null()) {
        out.insert("permissions".into(), permissions(p, strict)?);
    }
    if strict {
        let known = |k: &str| k == "name" || RULE_FIELDS.contains(&k);
        if o.keys().any(|k| !known(k)) {
            return None;
        }
    }
    Some(out)
}

/// One provider in the file's shape, canonical: `name`, then [`PROVIDER_FIELDS`] as written,
/// then its `federation_rules` (sorted by name) when written. `type` is left out (`oidc`, the
/// only one). `strict`: no other field (the file).
pub(crate) fn canonical(v: &Value, strict: bool) -> Option<Map<String, Value>> {
    let o = v.as_object()?;
    let mut out = Map::new();
    out.insert(
        "name".into(),
        json!(text(o, "name")?.filter(|n| !n.is_empty())?),
    );
    match o.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == OIDC => {}
        Some(_) => return None,
    }
    for field in REQUIRED {
        out.insert(field.to_string(), json!(o.get(*field)?.as_str()?));
    }
    if let Some(d) = text(o, "description")? {
        out.insert("description".into(), json!(d));
    }
    match o.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            out.insert("enabled".into(), json!(b));
        }
        Some(_) => return None,
    }
    if let Some(t) = o.get("attribute_transformations").filter(|v| !v.is_null()) {
        out.insert(
            "attribute_transformations".into(),
            transformations(t, strict)?,
        );
    }
    if let Some(v) = o.get("verification").filter(|v| !v.is_null()) {
        out.insert("verification".into(), verification(v, strict)?);
    }
    if let Some(rules) = o.get(RULES).filter(|v| !v.is_null()) {
        let mut list: Vec<Map<String, Value>> = Vec::new();
        for r in rules.as_array()? {
            list.push(canonical_rule(r, strict)?);
        }
        list.sort_by(|a, b| {
            a.get("name")
                .and_then(Value::as_str)
                .cmp(&b.get("name").and_then(Value::as_str))
        });
        out.insert(
            RULES.into(),
            Value::Array(list.into_iter().map(Value::Object).collect()),
        );
    }
    if strict {
        let known = |k: &str| ["name", "type", RULES].contains(&k) || PROVIDER_FIELDS.contains(&k);
        if o.keys().any(|k| !known(k)) {
            return None;
        }
    }
    Some(out)
}

/// Why a value of `settings.workload_identity_providers` is not a list of providers.
fn list_error(value: &Value) -> Option<String> {
    let Some(items) = value.as_array() else {
        return Some("a list of workload identity providers".into());
    };
    for (i, item) in items.iter().enumerate() {
        if canonical(item, true).is_none() {
            return Some(format!(
                "item {i} is not a workload identity provider: `name`, `issuer`, `audience` \
                 and optionally {}, and `federation_rules` (each `name`, `project`, \
                 `service_account`, `attribute_matchers`, and optionally `description`, \
                 `enabled`, `permissions`)",
                PROVIDER_FIELDS[2..]
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    None
}

/// The providers the file declares, by name (`None`: the list is not written).
pub(crate) fn declared(doc: &Document) -> Option<BTreeMap<String, Map<String, Value>>> {
    let items = doc.settings.fields.get(FIELD)?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|v| canonical(v, false))
            .filter_map(|p| Some((p.get("name")?.as_str()?.to_string(), p)))
            .collect(),
    )
}

/// The projects the file's federation rules name (their service accounts are read).
pub(crate) fn rule_projects(doc: &Document) -> BTreeSet<String> {
    declared(doc)
        .unwrap_or_default()
        .values()
        .filter_map(|p| p.get(RULES)?.as_array().cloned())
        .flatten()
        .filter_map(|r| r.get("project")?.as_str().map(str::to_string))
        .collect()
}

/// A live federation rule, in the file's shape with every field the API answers
/// (`project` and `service_account` by name where the read knows them, else their IDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    pub id: String,
    pub created_at: i64,
    pub spec: Map<String, Value>,
    pub project_id: String,
    pub service_account_id: String,
}

impl LiveRule {
    pub fn name(&self) -> Option<&str> {
        self.spec.get("name").and_then(Value::as_str)
    }
}

/// A live provider with its rules (oldest first), in the file's shape with every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveProvider {
    pub id: String,
    pub created_at: i64,
    pub spec: Map<String, Value>,
    pub rules: Vec<LiveRule>,
}

impl LiveProvider {
    pub fn name(&self) -> &str {
        self.spec.get("name").and_then(Value::as_str).unwrap_or("")
    }
}

/// What is written for a field at the API's default (export leaves it out).
fn is_default(field: &str, value: &Value) -> bool {
    match field {
        "enabled" => value == &json!(true),
        "description" => value.is_null() || value == &json!(""),
        "attribute_transformations" => value.as_array().is_some_and(Vec::is_empty),
        "verification" => value == &json!({"type": "discovery", "discovery_url": null}),
        "permissions" => value == &json!({"type": "service_account_default"}),
        _ => false,
    }
}

/// A provider as export writes it: the API's defaults left out, its rules (named ones,
/// the oldest of a name) under it.
fn exported(p: &LiveProvider) -> Value {
    let mut out: Map<String, Value> = p
        .spec
        .iter()
        .filter(|(k, v)| !is_default(k, v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut seen = BTreeSet::new();
    let mut rules: Vec<Value> = Vec::new();
    for r in &p.rules {
        let Some(name) = r.name() else { continue };
        if !seen.insert(name.to_string()) {
            continue;
        }
        rules.push(Value::Object(
            r.spec
                .iter()
                .filter(|(k, v)| !is_default(k, v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ));
    }
    rules.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if !rules.is_empty() {
        out.insert(RULES.into(), Value::Array(rules));
    }
    Value::Object(out)
}

fn decode_error(route: &'static str, item: &Value) -> Error {
    Error::unexpected(route, "workload identity object", item)
}

/// A provider as the API answers it, in the file's shape (every field).
fn live_spec(item: &Value) -> Option<Map<String, Value>> {
    let o = item.as_object()?;
    let mut spec = Map::new();
    spec.insert("name".into(), json!(o.get("name")?.as_str()?));
    for field in REQUIRED {
        spec.insert(field.to_string(), json!(o.get(*field)?.as_str()?));
    }
    spec.insert(
        "description".into(),
        o.get("description").cloned().unwrap_or(Value::Null),
    );
    spec.insert(
        "enabled".into(),
        json!(o.get("enabled").and_then(Value::as_bool).unwrap_or(true)),
    );
    let t = match o.get("attribute_transformations") {
        None | Some(Value::Null) => json!([]),
        Some(t) => transformations(t, false)?,
    };
    spec.insert("attribute_transformations".into(), t);
    let v = match o.get("verification") {
        None | Some(Value::Null) => json!({"type": "discovery", "discovery_url": null}),
        Some(v) => verification(v, false)?,
    };
    spec.insert("verification".into(), v);
    Some(spec)
}

/// A rule as the API answers it: the file's shape with IDs for `project` and
/// `service_account` (named by [`normalize`](WorkloadIdentityProviderKind::normalize)).
fn live_rule(item: &Value) -> Option<LiveRule> {
    let o = item.as_object()?;
    let project_id = o.get("project_id")?.as_str()?.to_string();
    let service_account_id = o.get("service_account_id")?.as_str()?.to_string();
    let mut spec = Map::new();
    if let Some(Some(name)) = text(o, "name") {
        spec.insert("name".into(), json!(name));
    }
    spec.insert("project".into(), json!(project_id));
    spec.insert("service_account".into(), json!(service_account_id));
    spec.insert(
        "attribute_matchers".into(),
        o.get("attribute_matchers")?.clone(),
    );
    spec.insert(
        "description".into(),
        o.get("description").cloned().unwrap_or(Value::Null),
    );
    spec.insert(
        "enabled".into(),
        json!(o.get("enabled").and_then(Value::as_bool).unwrap_or(true)),
    );
    let p = match o.get("permissions") {
        None | Some(Value::Null) => json!({"type": "service_account_default"}),
        Some(p) => permissions(p, false)?,
    };
    spec.insert("permissions".into(), p);
    Some(LiveRule {
        id: o.get("id")?.as_str()?.to_string(),
        created_at: o.get("created_at").and_then(Value::as_i64).unwrap_or(0),
        spec,
        project_id,
        service_account_id,
    })
}

/// Every provider's rules, oldest first.
pub(crate) async fn list_rules(client: &Client, provider: &str) -> Result<Vec<LiveRule>, Error> {
    let call = Call::get(RULES_ROUTE, path(RULES_ROUTE, provider));
    let items: Vec<Value> = client.list_all(call, Style::LastId, MAX_PAGE_A).await?;
    let mut rules = items
        .iter()
        .map(|i| live_rule(i).ok_or_else(|| decode_error(RULES_ROUTE, i)))
        .collect::<Result<Vec<_>, _>>()?;
    rules.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rules)
}

/// Every live provider with its rules.
async fn read(client: &Client) -> Result<Vec<LiveProvider>, Error> {
    let items: Vec<Value> = client
        .list_all(
            Call::get(ROUTE, ROUTE.to_string()),
            Style::LastId,
            MAX_PAGE_A,
        )
        .await?;
    let mut out = Vec::new();
    for item in &items {
        let id = item.get("id").and_then(Value::as_str);
        let (Some(id), Some(spec)) = (id, live_spec(item)) else {
            return Err(decode_error(ROUTE, item));
        };
        out.push(LiveProvider {
            id: id.to_string(),
            created_at: item.get("created_at").and_then(Value::as_i64).unwrap_or(0),
            spec,
            rules: list_rules(client, id).await?,
        });
    }
    Ok(out)
}

/// The fields of `want` (a provider or a rule, file shape) whose value differs from
/// `have`'s, skipping `skip`: what an update sends (a field the file leaves out is not
/// compared).
pub(crate) fn changed(
    want: &Map<String, Value>,
    have: &Map<String, Value>,
    fields: &[&str],
) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| {
            let w = want.get(*f)?;
            (have.get(*f) != Some(w)).then(|| (f.to_string(), w.clone()))
        })
        .collect()
}

/// The provider without its rules (what its own changes show).
fn own(spec: &Map<String, Value>) -> Map<String, Value> {
    let mut out = spec.clone();
    out.shift_remove(RULES);
    out
}

/// What apply does for a provider (the plan's `operation`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `spec`: the provider's fields (file shape, without rules).
    CreateWorkloadIdentityProvider { name: String, spec: Value },
    /// `fields`: the fields that change, as the update call takes them.
    UpdateWorkloadIdentityProvider { name: String, fields: Value },
    /// `id`: this provider exactly (an extra live provider of the name).
    DeleteWorkloadIdentityProvider {
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

/// Workload identity providers (`settings.workload_identity_providers`).
pub(crate) struct WorkloadIdentityProviderKind;

async fn create(cx: &ApplyContext, name: &str, spec: &Value) -> Step {
    let c = &cx.client;
    let mut body = spec.clone();
    body["type"] = json!(OIDC);
    let call = Call::post(ROUTE, ROUTE.to_string(), RequestKind::Create, body);
    let created = create_or_find(
        || c.execute::<Value>(&call),
        || super::named::id_by_name(c, ROUTE, name),
    )
    .await
    .map_err(api)?;
    cx.record_json(
        &reference(name),
        &created,
        &format!("workload identity provider `{name}`"),
    )?;
    Ok(Done::Applied(None))
}

impl Kind for WorkloadIdentityProviderKind {
    fn title(&self) -> &'static str {
        "Workload identity providers"
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "workload_identity_providers",
            removes: "remove",
            list: "settings.workload_identity_providers",
            restorable: false,
        })
    }

    fn manages(&self, doc: &Document) -> bool {
        doc.settings.fields.contains_key(FIELD)
    }

    /// A provider decides whose tokens are trusted: every change is shown.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let (name, what) = match change.op.decode::<Op>().ok()? {
            Op::CreateWorkloadIdentityProvider { name, spec } => (
                name,
                format!(
                    "tokens issued by {} become trusted (new workload identity provider)",
                    spec.get("issuer").and_then(Value::as_str).unwrap_or("?")
                ),
            ),
            Op::UpdateWorkloadIdentityProvider { name, fields } => (
                name,
                format!(
                    "workload identity provider changed ({})",
                    fields
                        .as_object()
                        .map(|f| f.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
            ),
            Op::DeleteWorkloadIdentityProvider { name, .. } => (
                name,
                "workload identity provider deleted: workloads federated through it lose access"
                    .to_string(),
            ),
        };
        Some(super::Attention::new(name, what))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "workload_identity_provider.created", Id),
            rule(Missing, "workload_identity_provider.deleted", Id),
            rule(Changed, "workload_identity_provider.updated", Id),
        ]
    }

    fn file_field(&self) -> Option<(FieldPlace, &'static str)> {
        Some((FieldPlace::Settings, FIELD))
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        list_error(value)
    }

    /// Providers canonical (see [`canonical`]) and sorted by name.
    fn canonical_field(&self, value: Value) -> Value {
        super::named::sorted_by_name(value, |item| canonical(item, true))
    }

    /// A provider or a rule (within its provider) declared twice.
    fn check(&self, doc: &Document) -> Vec<Finding> {
        let Some(items) = doc.settings.fields.get(FIELD).and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut out = super::named::declared_twice(
            items,
            &format!("/settings/{FIELD}"),
            |name| format!("workload identity provider {name:?}"),
            "give each provider its own name",
        );
        for (i, item) in items.iter().enumerate() {
            let (Some(name), Some(rules)) = (
                item.get("name").and_then(Value::as_str),
                item.get(RULES).and_then(Value::as_array),
            ) else {
                continue;
            };
            out.extend(super::named::declared_twice(
                rules,
                &format!("/settings/{FIELD}/{i}/{RULES}"),
                |rule| format!("federation rule {rule:?} of provider {name:?}"),
                "give each rule of a provider its own name",
            ));
        }
        out
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        declared(doc)
            .unwrap_or_default()
            .keys()
            .map(|n| key(n))
            .collect()
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        match change.op.decode::<Op>() {
            Ok(Op::DeleteWorkloadIdentityProvider { name, .. }) => GateFacts {
                protected: ctx
                    .desired
                    .policy
                    .protect
                    .workload_identity_providers
                    .contains(&name),
                ..GateFacts::default()
            },
            _ => GateFacts::default(),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Read (providers and every provider's rules) where the file writes the list.
    fn scope(&self, doc: &Document) -> Select<String> {
        Select::all_if(doc.settings.fields.contains_key(FIELD))
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

    /// The providers, oldest first (the oldest of a name is the one its name resolves to),
    /// into `settings.workload_identity_providers` (written when there is one), each with
    /// its rules, whose project and service account are named where the read knows them.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(found) = raw.organization::<LiveProvider>(KIND) else {
            return;
        };
        let mut providers: Vec<LiveProvider> = found.into_iter().cloned().collect();
        providers.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let projects: BTreeMap<String, String> = state
            .ids
            .of(ResourceKind::Project)
            .filter_map(|(k, id)| Some((id.clone(), k.strip_prefix("project:")?.to_string())))
            .collect();
        let accounts: BTreeMap<String, (String, String)> = state
            .ids
            .of(ResourceKind::ServiceAccount)
            .filter_map(|(k, id)| {
                let (p, a) = k
                    .strip_prefix("project:")?
                    .split_once("/service_account:")?;
                Some((id.clone(), (p.to_string(), a.to_string())))
            })
            .collect();
        let mut listed: BTreeMap<String, Value> = BTreeMap::new();
        for p in providers.iter_mut() {
            for r in p.rules.iter_mut() {
                if let Some(project) = projects.get(&r.project_id) {
                    r.spec.insert("project".into(), json!(project));
                }
                if let Some((project, account)) = accounts.get(&r.service_account_id)
                    && projects.get(&r.project_id) == Some(project)
                {
                    r.spec.insert("service_account".into(), json!(account));
                }
            }
            let name = p.name().to_string();
            if let std::collections::btree_map::Entry::Vacant(slot) = listed.entry(name.clone()) {
                state.ids.set(reference(&name), p.id.clone());
                let mut seen = BTreeSet::new();
                for r in &p.rules {
                    if let Some(rule) = r.name()
                        && seen.insert(rule.to_string())
                    {
                        state
                            .ids
                            .set(super::federation_rule::reference(&name, rule), r.id.clone());
                    }
                }
                slot.insert(exported(p));
            }
        }
        if !listed.is_empty() {
            state
                .org
                .settings
                .fields
                .insert(FIELD.into(), Value::Array(listed.into_values().collect()));
        }
        state.workload_identity = providers;
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let Some(desired) = declared(&ctx.desired) else {
            return;
        };
        let (live, extras) = by_name(&ctx.state.workload_identity);
        for (name, want) in &desired {
            let spec = own(want);
            match live.get(name.as_str()) {
                None => out.push(
                    Draft::new(
                        KIND,
                        key(name),
                        Action::Create,
                        Op::CreateWorkloadIdentityProvider {
                            name: name.clone(),
                            spec: Value::Object(spec.clone()),
                        },
                    )
                    .after(Some(Value::Object(spec)))
                    .diffed(&["name"]),
                ),
                Some(have) => {
                    let fields = changed(&spec, &have.spec, PROVIDER_FIELDS);
                    if fields.is_empty() {
                        continue;
                    }
                    let before: Map<String, Value> = fields
                        .keys()
                        .map(|k| (k.clone(), have.spec.get(k).cloned().unwrap_or(Value::Null)))
                        .collect();
                    out.push(
                        Draft::new(
                            KIND,
                            key(name),
                            Action::Update,
                            Op::UpdateWorkloadIdentityProvider {
                                name: name.clone(),
                                fields: Value::Object(fields.clone()),
                            },
                        )
                        .before(Some(Value::Object(before)))
                        .after(Some(Value::Object(fields)))
                        .diffed(&[]),
                    );
                }
            }
        }
        let policy = ctx.desired.policy.unmanaged.workload_identity_providers;
        for (plan_key, p, id) in undeclared(&desired, &live, &extras) {
            let object = Value::Object(own(&p.spec));
            let draft_key = plan_key.clone();
            let op = Op::DeleteWorkloadIdentityProvider {
                name: p.name().to_string(),
                id,
            };
            out.unmanaged(policy, KIND, &plan_key, object.clone(), || {
                Draft::new(KIND, draft_key, Action::Delete, op).before(Some(object))
            });
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode::<Op>() {
            Ok(Op::UpdateWorkloadIdentityProvider { name, .. })
            | Ok(Op::DeleteWorkloadIdentityProvider { name, id: None }) => vec![reference(&name)],
            _ => Vec::new(),
        }
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let c = &cx.client;
            match op.decode::<Op>()? {
                Op::CreateWorkloadIdentityProvider { name, spec } => create(cx, &name, &spec).await,
                Op::UpdateWorkloadIdentityProvider { name, fields } => {
                    let id = cx.need(&reference(&name))?;
                    let call = Call::post(ONE, path(ONE, &id), RequestKind::Idempotent, fields);
                    retry_transient(|| c.execute::<Value>(&call))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::DeleteWorkloadIdentityProvider { name, id: extra } => {
                    let Some(id) = extra.clone().or_else(|| cx.ids.get(&reference(&name))) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let gone = Call::delete(ONE, path(ONE, &id));
                    let removal = remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                    if extra.is_none() {
                        cx.ids.forget(&reference(&name));
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
        match op {
            Op::CreateWorkloadIdentityProvider { name, spec } => {
                let mut full = live_spec(&spec).unwrap_or_default();
                full.insert("name".into(), json!(name));
                s.workload_identity.push(LiveProvider {
                    id: format!("wip_{name}"),
                    created_at: s.workload_identity.len() as i64,
                    spec: full,
                    rules: Vec::new(),
                });
            }
            Op::UpdateWorkloadIdentityProvider { name, fields } => {
                if let Some(p) = s.workload_identity.iter_mut().find(|p| p.name() == name)
                    && let Some(fields) = fields.as_object()
                {
                    for (k, v) in fields {
                        p.spec.insert(k.clone(), v.clone());
                    }
                }
            }
            Op::DeleteWorkloadIdentityProvider { name, id } => s
                .workload_identity
                .retain(|p| !(p.name() == name && id.as_ref().is_none_or(|i| *i == p.id))),
        }
        resync(s);
    }
}

/// The live providers by name (the oldest of a name) and the others of a name.
pub(crate) fn by_name(all: &[LiveProvider]) -> (BTreeMap<&str, &LiveProvider>, Vec<&LiveProvider>) {
    let mut live: BTreeMap<&str, &LiveProvider> = BTreeMap::new();
    let mut extras = Vec::new();
    for p in all {
        if live.contains_key(p.name()) {
            extras.push(p);
        } else {
            live.insert(p.name(), p);
        }
    }
    (live, extras)
}

/// The live providers the file does not declare: plan key, provider, and its exact ID for
/// an extra of a declared name.
pub(crate) fn undeclared<'a>(
    desired: &BTreeMap<String, Map<String, Value>>,
    live: &BTreeMap<&str, &'a LiveProvider>,
    extras: &[&'a LiveProvider],
) -> Vec<(String, &'a LiveProvider, Option<String>)> {
    live.iter()
        .filter(|(name, _)| !desired.contains_key(**name))
        .map(|(name, p)| (key(name), *p, None))
        .chain(extras.iter().map(|p| {
            (
                format!("{}#{}", key(p.name()), p.id),
                *p,
                Some(p.id.clone()),
            )
        }))
        .collect()
}

/// The live document's list again from `s.workload_identity` (simulations).
#[cfg(test)]
pub(crate) fn resync(s: &mut LiveState) {
    let mut listed: BTreeMap<String, Value> = BTreeMap::new();
    for p in &s.workload_identity {
        listed
            .entry(p.name().to_string())
            .or_insert_with(|| exported(p));
    }
    s.org
        .settings
        .fields
        .insert(FIELD.into(), Value::Array(listed.into_values().collect()));
}

/// A rule as the create call takes it, from its file shape and the IDs of its project and
/// service account.
pub(crate) fn rule_body(spec: &Value, project_id: &str, service_account_id: &str) -> Value {
    let mut body = Map::new();
    if let Some(o) = spec.as_object() {
        for (k, v) in o {
            match k.as_str() {
                "project" => {
                    body.insert("project_id".into(), json!(project_id));
                }
                "service_account" => {
                    body.insert("service_account_id".into(), json!(service_account_id));
                }
                _ => {
                    body.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Value::Object(body)
}

/// Builds a rule's live form (simulations).
#[cfg(test)]
pub(crate) fn simulated_rule(spec: &Value, id: String) -> Option<LiveRule> {
    let mut full = spec.as_object()?.clone();
    full.entry("description").or_insert(Value::Null);
    full.entry("enabled").or_insert(json!(true));
    full.entry("permissions")
        .or_insert(json!({"type": "service_account_default"}));
    Some(LiveRule {
        id,
        created_at: 0,
        spec: full,
        project_id: String::new(),
        service_account_id: String::new(),
    })
}
