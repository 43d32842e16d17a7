//! Project API keys (reference §3.12), inventory, pruning and settings:
//! `projects[].api_keys` lists the keys to keep, key `project:<name>/api_key:<key name>` (with
//! `#<id>` when several live keys share a name). An entry is a name, or a mapping
//! `{name, spend_limit, expires_at}` whose settings orgops keeps on every live key of that
//! name (SDK 3.63.0 `projects.api_keys.update`): `spend_limit: {amount_cents}` the key's
//! monthly hard limit (`null`: none), `expires_at` a date or UTC time (sent as
//! `expires_in_seconds` from the moment of the request; compared to within 5 minutes, the
//! drift a relative expiry gets from request latency and clocks). An expiry cannot be removed
//! ("neither field accepts null"), and `scopes` are not managed: the API never returns a
//! key's scopes (`ProjectAPIKey` has none), so a plan could not tell whether they hold.
//! Setting or lowering a limit, or bringing an expiry closer, is destructive (requests start
//! failing sooner). Keys cannot be created through the Admin API, so a declared name with no
//! live key plans nothing; a live key whose name is not declared follows
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

/// One entry of `projects[].api_keys`: a key to keep, or a key to keep with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum Entry {
    Name(String),
    Managed(Managed),
}

/// A key whose settings orgops manages; a setting left out is not managed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Managed {
    pub name: String,
    /// `Some(None)` (`spend_limit: null`): no limit.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub spend_limit: Option<Option<KeyLimit>>,
    /// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

use crate::model::KeySpendLimit as KeyLimit;

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::Name(name) => name,
            Entry::Managed(m) => &m.name,
        }
    }
}

/// A key's plan key: by name, with `#<id>` when live keys share the name.
fn plan_key(project: &str, key: &LiveKey, shared: bool) -> String {
    if shared {
        super::keys::project_api_key(project, &format!("{}#{}", key.name, key.id))
    } else {
        super::keys::project_api_key(project, &key.name)
    }
}

/// How far a live expiry may sit from the declared one and still hold: the API takes
/// `expires_in_seconds` from the moment it receives the request.
const EXPIRY_TOLERANCE: i64 = 300;

/// The entries a project's `api_keys` lists (`None`: not written, not managed).
fn declared(project: &crate::model::Project) -> Option<Vec<Entry>> {
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
    /// Unix seconds; `None`: never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The monthly hard spend limit in USD cents.
    #[serde(default)]
    pub spend_limit: Option<u64>,
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
    expires_at: Option<i64>,
    spend_limit: Option<Value>,
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
        expires_at: wire.expires_at,
        spend_limit: wire
            .spend_limit
            .as_ref()
            .and_then(|l| l.get("threshold_amount"))
            .and_then(Value::as_u64),
    }
}

/// The projects whose keys a plan of `doc` reads: those that write `api_keys`.
pub fn managed(doc: &Document) -> Select<String> {
    Select::projects(doc, |p| declared(p).is_some())
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

/// Sets a key's spend limit and expiry (`POST .../api_keys/{id}`): `expires_at` (unix
/// seconds) becomes `expires_in_seconds` from now.
pub async fn update(
    client: &Client,
    project_id: &str,
    id: &str,
    change: &Value,
) -> Result<Value, String> {
    let mut body = serde_json::Map::new();
    if let Some(limit) = change.get("spend_limit") {
        let limit = match limit.get("amount_cents").and_then(Value::as_u64) {
            Some(cents) => {
                json!({"threshold_amount": cents, "currency": "USD", "interval": "month"})
            }
            None => Value::Null,
        };
        body.insert("spend_limit".into(), limit);
    }
    if let Some(at) = change.get("expires_at").and_then(Value::as_i64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let seconds = at - now;
        if seconds < 1 {
            return Err(format!(
                "expires_at {} is in the past: a key's expiry can only be set in the future; change `expires_at` and plan again",
                crate::text::time::format_utc(at)
            ));
        }
        body.insert("expires_in_seconds".into(), json!(seconds));
    }
    let call = Call::post(
        ONE_ROUTE,
        ONE_ROUTE
            .replace("{project_id}", &seg(project_id))
            .replace("{api_key_id}", &seg(id)),
        crate::api::client::RequestKind::Idempotent,
        Value::Object(body),
    );
    client
        .execute::<Value>(&call)
        .await
        .map_err(|e| e.to_string())
}

/// What the plan shows of a key's managed settings.
fn settings_view(spend_limit: Option<u64>, expires_at: Option<i64>) -> Value {
    json!({
        "spend_limit": spend_limit.map(|cents| json!({"amount_cents": cents})),
        "expires_at": when(expires_at),
    })
}

/// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ` as unix seconds.
pub fn parse_expiry(text: &str) -> Option<i64> {
    crate::text::time::parse_utc(text)
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

    /// A key's settings changed (`api_key.updated`, its id); a key made
    /// (`api_key.created`).
    fn attribution(&self) -> Vec<super::attribution::Rule> {
        use super::attribution::{DriftClass::*, Names::*, rule};
        vec![
            rule(Changed, "api_key.updated", Id),
            rule(Unmanaged, "api_key.created", Id),
        ]
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

    /// A deleted key: whatever sends requests with it starts failing. A key's spend limit
    /// or expiry changed: money and lifetime.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let super::ValueOp::Kind {
            project: Some(project),
            value,
            ..
        } = &change.op.decode::<super::ValueOp>().ok()?
        else {
            return None;
        };
        if let Some(value) = value {
            let limit = |v: Option<&Value>| {
                v.and_then(|v| v.pointer("/spend_limit/amount_cents"))
                    .and_then(Value::as_u64)
                    .map_or("none".to_string(), |c| {
                        format!("{} per month", crate::text::words::money(c, "USD"))
                    })
            };
            let mut what = Vec::new();
            if value.get("spend_limit").is_some() {
                what.push(format!(
                    "spend limit {} → {}",
                    limit(change.before.as_ref()),
                    limit(change.after.as_ref())
                ));
            }
            if let Some(at) = value.get("expires_at").and_then(Value::as_i64) {
                what.push(format!("expires {}", crate::text::time::format_utc(at)));
            }
            let name = change.key.rsplit("/api_key:").next().unwrap_or(&change.key);
            return Some(super::Attention::new(
                name,
                format!("API key of project {project}: {}", what.join(", ")),
            ));
        }
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
            for entry in &names {
                if let Entry::Managed(m) = entry {
                    settings(project, m, keys, out);
                }
            }
            let keep: BTreeSet<&str> = names.iter().map(Entry::name).collect();
            let mut by_name: BTreeMap<&str, Vec<&LiveKey>> = BTreeMap::new();
            for key in keys.iter().filter(|k| !keep.contains(k.name.as_str())) {
                by_name.entry(key.name.as_str()).or_default().push(key);
            }
            for (name, mut same) in by_name {
                same.sort_by(|a, b| a.id.cmp(&b.id));
                let shared = same.len() > 1;
                for key in same {
                    let plan_key = plan_key(project, key, shared);
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
            let ValueOp::Kind {
                project, id, value, ..
            } = op.decode()?;
            let (Some(p), Some(key_id)) = (project, id) else {
                return Err("a project API key's change needs its project and ID".into());
            };
            let Some(pid) = cx.ids.get(&refs::project(&p)) else {
                return Ok(Done::Already(GONE.into()));
            };
            if let Some(change) = value {
                update(&cx.client, &pid, &key_id, &change).await?;
                return Ok(Done::Applied(None));
            }
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
            value,
            ..
        }) = op.decode()
            && let Some(keys) = s.project_api_keys.get_mut(&project)
        {
            match value {
                None => keys.retain(|k| k.id != id),
                Some(change) => {
                    for key in keys.iter_mut().filter(|k| k.id == id) {
                        if let Some(limit) = change.get("spend_limit") {
                            key.spend_limit = limit.get("amount_cents").and_then(Value::as_u64);
                        }
                        if let Some(at) = change.get("expires_at").and_then(Value::as_i64) {
                            key.expires_at = Some(at);
                        }
                    }
                }
            }
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
            // One entry per name, from the key with the lowest ID; a key with a limit or an
            // expiry is written with them, so the file holds them from then on.
            let mut by_name: BTreeMap<&str, &LiveKey> = BTreeMap::new();
            for key in &keys {
                let first = by_name.entry(key.name.as_str()).or_insert(key);
                if key.id < first.id {
                    *first = key;
                }
            }
            let kept: Vec<Entry> = by_name
                .values()
                .map(|k| {
                    if k.spend_limit.is_none() && k.expires_at.is_none() {
                        Entry::Name(k.name.clone())
                    } else {
                        Entry::Managed(Managed {
                            name: k.name.clone(),
                            spend_limit: k.spend_limit.map(|cents| {
                                Some(KeyLimit {
                                    amount_cents: cents,
                                })
                            }),
                            expires_at: k.expires_at.map(crate::text::time::format_utc),
                        })
                    }
                })
                .collect();
            let project = &mut state.org.projects[i];
            if !kept.is_empty() {
                project
                    .fields
                    .insert(FIELD.to_string(), serde_json::json!(kept));
            }
            let name = project.name.clone();
            // Each key's id by its plan key, for drift attribution (`api_key.*` events).
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for key in &keys {
                *count.entry(key.name.as_str()).or_default() += 1;
            }
            for key in &keys {
                let shared = count.get(key.name.as_str()).is_some_and(|n| *n > 1);
                state
                    .ids
                    .insert(KIND, plan_key(&name, key, shared), key.id.clone());
            }
            state
                .project_api_keys
                .insert(name, keys.into_iter().cloned().collect());
        }
    }

    fn file_field(&self) -> Option<(super::FieldPlace, &'static str)> {
        Some((super::FieldPlace::Project, FIELD))
    }

    fn field_error(&self, value: &serde_json::Value) -> Option<String> {
        serde_json::from_value::<Vec<Entry>>(value.clone())
            .err()
            .map(|_| {
                "each entry is a key's name, or a mapping {name, spend_limit, expires_at}".into()
            })
    }

    /// Entries sorted by name, once each (a bare name beside a mapping of the same name
    /// gives way to the mapping).
    fn canonical_field(&self, value: serde_json::Value) -> serde_json::Value {
        match serde_json::from_value::<Vec<Entry>>(value.clone()) {
            Ok(mut entries) => {
                entries.sort_by(|a, b| {
                    a.name()
                        .cmp(b.name())
                        .then(matches!(a, Entry::Name(_)).cmp(&matches!(b, Entry::Name(_))))
                });
                entries.dedup_by(|later, first| later.name() == first.name());
                serde_json::json!(entries)
            }
            Err(_) => value,
        }
    }

    /// A duplicate name, an expiry that is not a date, a limit under one cent.
    fn check(&self, doc: &Document) -> Vec<super::Finding> {
        let mut out = Vec::new();
        for (i, p) in doc.projects.iter().enumerate() {
            let Some(entries) = declared(p) else {
                continue;
            };
            let mut seen = BTreeSet::new();
            for (j, entry) in entries.iter().enumerate() {
                let at = format!("/projects/{i}/{FIELD}/{j}");
                if !seen.insert(entry.name()) && matches!(entry, Entry::Managed(_)) {
                    out.push(super::Finding {
                        pointer: at.clone(),
                        error: true,
                        at_key: false,
                        message: format!("API key {:?} is listed twice", entry.name()),
                        hint: Some("list each key once, with its settings".into()),
                    });
                }
                let Entry::Managed(m) = entry else { continue };
                if let Some(text) = &m.expires_at
                    && parse_expiry(text).is_none()
                {
                    out.push(super::Finding {
                        pointer: format!("{at}/expires_at"),
                        error: true,
                        at_key: false,
                        message: format!("expires_at {text:?} is not a date"),
                        hint: Some(
                            "write YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ".into(),
                        ),
                    });
                }
                if let Some(Some(KeyLimit { amount_cents: 0 })) = m.spend_limit {
                    out.push(super::Finding {
                        pointer: format!("{at}/spend_limit/amount_cents"),
                        error: true,
                        at_key: false,
                        message: "a key's spend limit is at least 1 cent".into(),
                        hint: Some("write `spend_limit: null` for no limit".into()),
                    });
                }
            }
        }
        out
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                declared(p)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| format!("project:{}/api_key:{}", p.name, k.name()))
            })
            .collect()
    }
}

/// The updates that bring every live key named `m.name` to its declared settings.
fn settings(project: &str, m: &Managed, keys: &[LiveKey], out: &mut Output) {
    let mut same: Vec<&LiveKey> = keys.iter().filter(|k| k.name == m.name).collect();
    same.sort_by(|a, b| a.id.cmp(&b.id));
    let shared = same.len() > 1;
    let want_at = m.expires_at.as_deref().and_then(parse_expiry);
    for key in same {
        let mut change = serde_json::Map::new();
        let mut destructive = false;
        let mut limit = key.spend_limit;
        if let Some(wanted) = m.spend_limit {
            let wanted = wanted.map(|l| l.amount_cents);
            if wanted != key.spend_limit {
                change.insert(
                    "spend_limit".into(),
                    wanted.map_or(Value::Null, |c| json!({"amount_cents": c})),
                );
                // A limit where there was none, or a lower one: requests fail sooner.
                destructive |= wanted.is_some_and(|w| key.spend_limit.is_none_or(|l| w < l));
                limit = wanted;
            }
        }
        let mut expires = key.expires_at;
        if let Some(at) = want_at
            && key
                .expires_at
                .is_none_or(|live| (live - at).abs() > EXPIRY_TOLERANCE)
        {
            change.insert("expires_at".into(), json!(at));
            destructive |= key.expires_at.is_none_or(|live| at < live);
            expires = Some(at);
        }
        if change.is_empty() {
            continue;
        }
        let plan_key = plan_key(project, key, shared);
        out.push(
            Draft::new(
                KIND,
                plan_key,
                Action::Update,
                ValueOp::Kind {
                    kind: NAME.to_string(),
                    project: Some(project.to_string()),
                    id: Some(key.id.clone()),
                    value: Some(Value::Object(change)),
                },
            )
            .before(Some(settings_view(key.spend_limit, key.expires_at)))
            .after(Some(settings_view(limit, expires)))
            .destructive(destructive)
            .diffed(&[])
            .parents([format!("project:{project}")]),
        );
    }
}
