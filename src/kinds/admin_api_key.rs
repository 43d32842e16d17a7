//! Organization admin API keys, key `admin_api_key:<name>`. Created (the one-time value goes
//! only to the declared sink) or deleted; there is no update. Undeclared live keys follow
//! `policy.unmanaged.admin_api_keys`, except the key this run authenticates with
//! ([`super::LiveState::admin_keys_in_use`]): it is never removed nor reported.

use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use super::{LiveDuplicate, LiveState};
use crate::api::admin_api_keys::AdminApiKey as WireAdminApiKey;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use crate::model::normalize_email;
use std::collections::{BTreeMap as ReadMap, BTreeSet as ReadSet};

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::AdminApiKey;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, SecretSink, Step, api, removed};
use super::keys::refs;
use crate::api::Secret;
use crate::api::safe::{self, Created, find_then_create, remove, retry_transient};
use crate::api::types::ApiKeyId;

const KIND: ResourceKind = ResourceKind::AdminApiKey;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    CreateAdminApiKey {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_in_days: Option<u32>,
    },
    /// `id`: this key exactly (an extra live duplicate of the name).
    DeleteAdminApiKey {
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

/// Admin API keys.
pub(crate) struct AdminApiKeyKind;

impl Kind for AdminApiKeyKind {
    fn title(&self) -> &'static str {
        "Admin API keys"
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "api_key.created", Id),
            rule(Missing, "api_key.deleted", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "admin_api_keys",
            removes: "remove",
            list: "admin_api_keys",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.admin_api_keys.is_managed()
    }

    /// An admin key is full control of the organization: creating one and deleting one
    /// (whatever uses it stops working) are both listed.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::CreateAdminApiKey { name, .. } => Some(super::Attention::new(
                name,
                "new admin API key: full control of the organization",
            )),
            Op::DeleteAdminApiKey { name, .. } => Some(super::Attention::new(
                name,
                "admin API key deleted: whatever uses it stops working",
            )),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let extras = super::duplicates::Extras {
            kind: ResourceKind::AdminApiKey,
            policy: ctx.desired.policy.unmanaged.admin_api_keys,
            key: &|dup| keys::admin_api_key(&dup.name),
            removal: &|dup, key, _| {
                Draft::new(
                    ResourceKind::AdminApiKey,
                    key,
                    Action::Delete,
                    Op::DeleteAdminApiKey {
                        name: dup.name.clone(),
                        id: Some(dup.extra.clone()),
                    },
                )
            },
        };
        super::duplicates::diff(extras, ctx, out);
        let desired: BTreeMap<String, &AdminApiKey> = ctx
            .desired
            .admin_api_keys
            .iter()
            .map(|k| (k.name.clone(), k))
            .collect();
        let live: BTreeMap<String, &AdminApiKey> =
            when_managed(&ctx.desired.admin_api_keys, &ctx.live.admin_api_keys)
                .iter()
                .map(|k| (k.name.clone(), k))
                .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::admin_api_key(name);
            match (d, l) {
                (Some(d), None) => {
                    let mut after = json!({ "name": name });
                    if let Some(days) = d.expires_in_days {
                        after["expires_in_days"] = json!(days);
                    }
                    out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Create,
                            Op::CreateAdminApiKey {
                                name: name.clone(),
                                expires_in_days: d.expires_in_days,
                            },
                        )
                        .after(Some(after))
                        .diffed(&["name"]),
                    )
                }
                // The key in use: removing it would cut the run off; reporting it would make
                // every run report its own credential. Drift shows it as "in use".
                (None, Some(_)) if ctx.state.admin_keys_in_use.contains(name) => {}
                (None, Some(_)) => {
                    let view = json!({ "name": name });
                    out.unmanaged(
                        ctx.desired.policy.unmanaged.admin_api_keys,
                        KIND,
                        &key,
                        view.clone(),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Op::DeleteAdminApiKey {
                                    name: name.clone(),
                                    id: None,
                                },
                            )
                            .before(Some(view))
                        },
                    )
                }
                _ => {}
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::CreateAdminApiKey { .. } => vec![],
            Op::DeleteAdminApiKey { id: Some(_), .. } => vec![],
            Op::DeleteAdminApiKey { name, id: None } => {
                vec![refs::admin_api_key(name)]
            } // A key that is gone (its project archived or deleted) is already satisfied.
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
                Op::CreateAdminApiKey {
                    name,
                    expires_in_days,
                } => create_admin_api_key(cx, name, *expires_in_days).await,
                Op::DeleteAdminApiKey { name, id: extra } => {
                    let reference = crate::kinds::keys::refs::admin_api_key(name);
                    // An extra live duplicate is deleted by its own ID.
                    let Some(id) = extra.clone().or_else(|| cx.ids.get(&reference)) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = ApiKeyId::from(id);
                    let keys = retry_transient(|| c.list_admin_api_keys())
                        .await
                        .map_err(api)?;
                    let in_use = keys.iter().any(|k| {
                        k.id == id
                            && k.redacted_value
                                .as_deref()
                                .is_some_and(|r| c.key_matches_redacted(r))
                    });
                    if in_use {
                        return Err(format!(
                            "refusing to delete admin API key `{name}`: it looks like the key this run uses"
                        ));
                    }
                    let removal = remove(|| c.delete_admin_api_key(&id)).await.map_err(api)?;
                    if extra.is_none() {
                        cx.ids.forget(&reference);
                    }
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
            Op::CreateAdminApiKey {
                name,
                expires_in_days,
            } => s.org.admin_api_keys.push(AdminApiKey {
                name: name.clone(),
                expires_in_days: *expires_in_days,
                sink: None,
            }),
            Op::DeleteAdminApiKey { name, .. } => s.org.admin_api_keys.retain(|k| &k.name != name),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Read where the file manages admin keys, or users (the key's owner is never removed).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::all_if(doc.users.is_managed() || doc.admin_api_keys.is_managed())
    }

    fn read_early_for(&self) -> &'static [&'static str] {
        &["users", "admin_api_keys"]
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, client.list_admin_api_keys().await?);
            Ok(())
        })
    }

    /// `expires_in_days` rounded from `expires_at - created_at`; a key without a name is
    /// keyed by its ID; of keys sharing a name the oldest is managed, the others are
    /// duplicates. **Key owner rule**: the keys whose `redacted_value` matches the key in use
    /// (prefix and suffix); if they all belong to one owner, that owner's email through the
    /// users list (or the owner's `name` if it is an email). A service-account owner, no
    /// match, or matches with different owners give no owner.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(keys) = raw.organization::<WireAdminApiKey>(KIND) else {
            return;
        };
        let in_use = |key: &WireAdminApiKey| {
            key.redacted_value
                .as_deref()
                .is_some_and(|r| raw.is_key_in_use(r))
        };
        let mut out: ReadMap<String, AdminApiKey> = BTreeMap::new();
        let mut oldest_first: Vec<&WireAdminApiKey> = keys.clone();
        oldest_first.sort_by(|a, b| {
            (a.created_at.unwrap_or(i64::MAX), &a.id)
                .cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
        });
        for key in oldest_first {
            let name = key
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| key.id.to_string());
            let expires_in_days = match (key.created_at, key.expires_at) {
                (Some(created), Some(expires)) if expires > created => {
                    u32::try_from(((expires - created) as f64 / 86_400.0).round() as i64).ok()
                }
                _ => None,
            };
            match state.ids.get(&refs::admin_api_key(&name)) {
                Some(kept) => state.duplicates.push(LiveDuplicate {
                    kind: ResourceKind::AdminApiKey,
                    project: None,
                    name: name.clone(),
                    kept: kept.clone(),
                    extra: key.id.to_string(),
                }),
                None => {
                    state
                        .ids
                        .set(refs::admin_api_key(&name), key.id.to_string());
                }
            }
            if in_use(key) {
                state.admin_keys_in_use.insert(name.clone());
            }
            out.entry(name.clone()).or_insert(AdminApiKey {
                name,
                expires_in_days,
                sink: None,
            });
        }
        state.org.admin_api_keys = out.into_values().collect();
        let email_of = super::user::emails_by_id(raw);
        let owners: ReadSet<Option<String>> = keys
            .iter()
            .filter(|k| in_use(k))
            .map(|k| {
                if k.owner.owner_type.as_deref() == Some("service_account") {
                    return None;
                }
                let by_id = k.owner.id.as_ref().and_then(|id| email_of.get(id).cloned());
                by_id.or_else(|| {
                    k.owner
                        .name
                        .as_deref()
                        .filter(|n| n.contains('@'))
                        .map(normalize_email)
                })
            })
            .collect();
        if owners.len() == 1 {
            state.key_owner = owners.into_iter().next().flatten();
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.admin_api_keys
            .iter()
            .map(|k| keys::admin_api_key(&k.name))
            .collect()
    }
}

async fn create_admin_api_key(cx: &ApplyContext, name: &str, expires_in_days: Option<u32>) -> Step {
    let c = &cx.client;
    let sink = cx.sinks.sink(&format!("admin_api_keys/{name}"));
    if let Some(sink) = sink {
        sink.check().map_err(|e| e.to_string())?;
    }
    let seconds = expires_in_days.map(|d| u64::from(d) * 86_400);
    let reference = crate::kinds::keys::refs::admin_api_key(name);
    let mut orphans = 0;
    loop {
        let created = find_then_create(
            || c.create_admin_api_key(name, seconds),
            || async {
                let all = c.list_admin_api_keys().await?;
                Ok(all
                    .into_iter()
                    .find(|k| k.name.as_deref() == Some(name))
                    .map(|k| k.id.0))
            },
        )
        .await
        .map_err(api)?;
        match created {
            Created::New(key) => {
                cx.ids.record(&reference, key.key.id.as_str());
                let note = match sink {
                    Some(sink) => match deliver(sink, &key.value).await {
                        Ok(note) => note,
                        // A key nobody holds must not stay: the next plan would be empty.
                        // Delete it, so the next plan creates it again.
                        Err(e) => {
                            let id = key.key.id.clone();
                            return Err(match remove(|| c.delete_admin_api_key(&id)).await {
                                Ok(_) => format!(
                                    "admin API key `{name}` was created, but {e}; it was deleted again (nobody holds it): fix the sink and apply again"
                                ),
                                Err(error) => format!(
                                    "admin API key `{name}` was created, but {e}; deleting it failed too ({}): delete it, fix the sink and apply again",
                                    api(error)
                                ),
                            });
                        }
                    },
                    None => "no sink is declared: the key's value was not kept".to_string(),
                };
                return Ok(Done::Applied(Some(note)));
            }
            Created::Landed(id) => {
                // It exists but nobody received its value: delete it and create it again,
                // so the sink gets a key that works.
                let id = ApiKeyId::from(id);
                remove(|| c.delete_admin_api_key(&id)).await.map_err(api)?;
                orphans += 1;
                if orphans >= safe::MAX_CREATE_ROUNDS {
                    return Err(format!(
                        "admin API key `{name}`: every create's answer was lost; try again later"
                    ));
                }
            }
            Created::AlreadyThere(id) => {
                cx.ids.record(&reference, &id);
                return Ok(Done::Already(
                    "an admin API key with this name already exists".into(),
                ));
            }
        }
    }
}

async fn deliver(sink: &dyn SecretSink, key: &Secret) -> Result<String, String> {
    sink.deliver(key).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::kinds::LiveState;
    use crate::model::Document;
    use crate::plan::{PlanOptions, plan};

    #[test]
    fn the_key_in_use_is_neither_removed_nor_reported() {
        let doc = |v| serde_json::from_value::<Document>(v).expect("document");
        let mut live = LiveState {
            org: doc(json!({"admin_api_keys": [{"name": "ci"}, {"name": "old"}]})),
            ..LiveState::default()
        };
        live.admin_keys_in_use.insert("ci".into());
        for policy in ["report", "remove"] {
            let desired = doc(
                json!({"policy": {"unmanaged": {"admin_api_keys": policy}}, "admin_api_keys": []}),
            );
            let p = plan(&desired, &live, &PlanOptions::default()).expect("plan");
            let keys: Vec<&str> = p
                .changes
                .iter()
                .map(|c| c.key.as_str())
                .chain(p.unmanaged.iter().map(|u| u.key.as_str()))
                .collect();
            assert_eq!(keys, vec!["admin_api_key:old"], "{policy}");
        }
    }
}
