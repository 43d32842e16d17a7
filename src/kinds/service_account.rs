//! Project service accounts, key `project:<project>/service_account:<name>`. Fields: `role`
//! (updated in place) and `key` (whether a key is requested at creation; the secret goes
//! only to the declared sink and never into the plan). Undeclared live ones follow
//! `policy.unmanaged.service_accounts`.

use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use super::{LiveDuplicate, LiveState};
use crate::api::service_accounts::ServiceAccount as WireServiceAccount;
use crate::api::types::{ProjectId as ReadProjectId, WireProjectRole};
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::BTreeMap as ReadMap;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, GateFacts, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::{ProjectRole, ServiceAccount, ServiceAccountRef};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, SecretSink, Step, api, removed};
use super::keys::refs;
use super::keys::refs::{project, service_account};
use crate::api::Secret;
use crate::api::safe::{self, Created, find_then_create, remove, retry_transient};
use crate::api::types::{ProjectId, ServiceAccountId};

const KIND: ResourceKind = ResourceKind::ServiceAccount;

fn view(sa: &ServiceAccount) -> Value {
    json!({ "name": sa.name, "role": sa.role })
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `with_key: false` creates the account without a key (`create_service_account_only`).
    CreateServiceAccount {
        project: String,
        name: String,
        role: ProjectRole,
        with_key: bool,
        /// The key's monthly hard spend limit in USD cents (with a key only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_spend_limit_cents: Option<u64>,
    },
    UpdateServiceAccount {
        project: String,
        name: String,
        role: ProjectRole,
    },
    /// `id`: this account exactly (an extra live duplicate of the name).
    DeleteServiceAccount {
        project: String,
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

/// Service accounts.
pub(crate) struct ServiceAccountKind;

impl Kind for ServiceAccountKind {
    fn title(&self) -> &'static str {
        "Service accounts"
    }

    /// A key spend limit needs the key: a `sink`.
    fn check(&self, doc: &crate::model::Document) -> Vec<super::Finding> {
        let mut out = Vec::new();
        for (i, p) in doc.projects.iter().enumerate() {
            for (j, sa) in p.service_accounts.iter().enumerate() {
                if sa.key_spend_limit.is_some() && sa.sink.is_none() {
                    out.push(super::Finding {
                        pointer: format!("/projects/{i}/service_accounts/{j}/key_spend_limit"),
                        error: true,
                        at_key: true,
                        message: format!(
                            "service account {:?} has a key_spend_limit but no sink, so no key is created to carry it",
                            sa.name
                        ),
                        hint: Some("add a `sink` for the key, or remove `key_spend_limit`".into()),
                    });
                }
            }
        }
        out
    }

    /// `service_account.created` names no project: it makes every project's list stale.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        Some(super::incremental::pages_of::<WireServiceAccount>(&[]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "service_account.created", Id),
            rule(Missing, "service_account.deleted", Id),
            rule(Changed, "service_account.updated", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "service_accounts",
            removes: "remove",
            list: "projects[].service_accounts",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        super::active_projects(doc).any(|p| p.service_accounts.is_managed())
    }

    /// A service account created with an API key or as a project owner, its role changed,
    /// its deletion (its keys stop working).
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        use super::attention::{after_str, before_str, role_change};
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::CreateServiceAccount {
                project,
                name,
                role,
                with_key,
                key_spend_limit_cents,
            } if *with_key || *role == ProjectRole::Owner => Some(super::Attention::new(
                name,
                format!(
                    "new service account in project {project}{}{}{}",
                    if *role == ProjectRole::Owner {
                        ", as owner"
                    } else {
                        ""
                    },
                    if *with_key { ", with an API key" } else { "" },
                    key_spend_limit_cents.map_or(String::new(), |cents| format!(
                        " capped at {} per month",
                        crate::text::words::money(cents, "USD")
                    )),
                ),
            )),
            Op::UpdateServiceAccount { project, name, .. } => Some(super::Attention::new(
                name,
                format!(
                    "service account's role in project {project} {}",
                    role_change(
                        before_str(change, "role")?,
                        after_str(change, "role")?,
                        "owner"
                    )
                ),
            )),
            Op::DeleteServiceAccount { project, name, .. } => Some(super::Attention::new(
                name,
                format!("service account of project {project} deleted: its API keys stop working"),
            )),
            _ => None,
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let extras = super::duplicates::Extras {
            kind: ResourceKind::ServiceAccount,
            policy: ctx.desired.policy.unmanaged.service_accounts,
            key: &|dup| {
                keys::service_account(dup.project.as_deref().unwrap_or_default(), &dup.name)
            },
            removal: &|dup, key, _| {
                Draft::new(
                    ResourceKind::ServiceAccount,
                    key,
                    Action::Delete,
                    Op::DeleteServiceAccount {
                        project: dup.project.clone().unwrap_or_default(),
                        name: dup.name.clone(),
                        id: Some(dup.extra.clone()),
                    },
                )
            },
        };
        super::duplicates::diff(extras, ctx, out);
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            if ctx.is_default_project(project) {
                continue;
            }
            let desired: BTreeMap<String, &ServiceAccount> = desired_project
                .service_accounts
                .iter()
                .map(|s| (s.name.clone(), s))
                .collect();
            let live: BTreeMap<String, &ServiceAccount> = live_project
                .map(|p| {
                    when_managed(&desired_project.service_accounts, &p.service_accounts)
                        .iter()
                        .map(|s| (s.name.clone(), s))
                        .collect()
                })
                .unwrap_or_default();
            for (name, d, l) in pair_up(&desired, &live) {
                let key = keys::service_account(project, name);
                let parents = [keys::project(project)];
                match (d, l) {
                    (Some(d), None) => {
                        let with_key = d.sink.is_some();
                        let key_spend_limit_cents = d
                            .key_spend_limit
                            .filter(|_| with_key)
                            .map(|l| l.amount_cents);
                        let mut after = view(d);
                        after["with_key"] = json!(with_key);
                        if let Some(cents) = key_spend_limit_cents {
                            after["key_spend_limit"] = json!({ "amount_cents": cents });
                        }
                        out.push(
                            Draft::new(
                                KIND,
                                key,
                                Action::Create,
                                Op::CreateServiceAccount {
                                    project: project.clone(),
                                    name: name.clone(),
                                    role: d.role,
                                    with_key,
                                    key_spend_limit_cents,
                                },
                            )
                            .after(Some(after))
                            .diffed(&["name"])
                            .parents(parents),
                        )
                    }
                    (Some(d), Some(l))
                        if d.role != l.role
                            || ctx
                                .state
                                .roleless_service_accounts
                                .contains(&(project.clone(), name.clone())) =>
                    {
                        // A live role of `none` (created without default roles) reads as
                        // `member`; it still needs the declared role set.
                        let mut before = view(l);
                        if d.role == l.role {
                            before["role"] = json!("none");
                        }
                        out.push(
                            Draft::new(
                                KIND,
                                key,
                                Action::Update,
                                Op::UpdateServiceAccount {
                                    project: project.clone(),
                                    name: name.clone(),
                                    role: d.role,
                                },
                            )
                            .before(Some(before))
                            .after(Some(view(d)))
                            .diffed(&["name"])
                            .destructive(
                                l.role == ProjectRole::Owner && d.role == ProjectRole::Member,
                            )
                            .parents(parents),
                        )
                    }
                    (None, Some(l)) => out.unmanaged(
                        ctx.desired.policy.unmanaged.service_accounts,
                        KIND,
                        &key,
                        view(l),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Op::DeleteServiceAccount {
                                    project: project.clone(),
                                    name: name.clone(),
                                    id: None,
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
            Op::CreateServiceAccount { project: p, .. }
            | Op::DeleteServiceAccount {
                project: p,
                id: Some(_),
                ..
            } => vec![project(p)],
            Op::UpdateServiceAccount {
                project: p, name, ..
            }
            | Op::DeleteServiceAccount {
                project: p,
                name,
                id: None,
            } => vec![project(p), refs::service_account(p, name)],
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
                Op::CreateServiceAccount {
                    project: p,
                    name,
                    role,
                    with_key,
                    key_spend_limit_cents,
                } => {
                    create_service_account(cx, p, name, *role, *with_key, *key_spend_limit_cents)
                        .await
                }
                Op::UpdateServiceAccount {
                    project: p,
                    name,
                    role,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let id = ServiceAccountId::from(cx.need(&service_account(p, name))?);
                    retry_transient(|| c.update_service_account(&pid, &id, None, Some(*role)))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::DeleteServiceAccount {
                    project: p,
                    id: Some(extra),
                    ..
                } => {
                    // An extra live duplicate: deleted by its own ID; the managed one stays.
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let id = ServiceAccountId::from(extra.clone());
                    let removal = remove(|| c.delete_service_account(&pid, &id))
                        .await
                        .map_err(api)?;
                    Ok(removed(removal))
                }
                Op::DeleteServiceAccount {
                    project: p,
                    name,
                    id: None,
                } => {
                    let Some([pid, id]) = cx.have([project(p), service_account(p, name)]) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let (pid, id) = (ProjectId::from(pid), ServiceAccountId::from(id));
                    let removal = remove(|| c.delete_service_account(&pid, &id))
                        .await
                        .map_err(api)?;
                    cx.ids.forget(&service_account(p, name));
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
            Op::CreateServiceAccount {
                project: p,
                name,
                role,
                ..
            } => project(s, p).service_accounts.push(ServiceAccount {
                name: name.clone(),
                role: *role,
                sink: None,
                key_spend_limit: None,
            }),
            Op::UpdateServiceAccount {
                project: p,
                name,
                role,
            } => {
                for a in project(s, p)
                    .service_accounts
                    .iter_mut()
                    .filter(|a| &a.name == name)
                {
                    a.role = *role;
                }
            }
            Op::DeleteServiceAccount {
                project: p, name, ..
            } => project(s, p).service_accounts.retain(|a| &a.name != name),
        }
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        let account = match change.op.decode::<Op>() {
            Ok(Op::DeleteServiceAccount { project, name, .. })
            | Ok(Op::UpdateServiceAccount {
                project,
                name,
                role: ProjectRole::Member,
            }) => ServiceAccountRef { project, name },
            _ => return GateFacts::default(),
        };
        GateFacts {
            protected: ctx
                .desired
                .policy
                .protect
                .service_accounts
                .contains(&account),
            ..GateFacts::default()
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Project))
    }

    /// The service accounts of the projects whose `service_accounts` list the file writes.
    /// Where the file manages a project's accounts, or a federation rule names one of them
    /// (its ID resolves by name).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let named = super::workload_identity_provider::rule_projects(doc);
        let wanted = |p: &&crate::model::Project| {
            !p.archived && (p.service_accounts.is_managed() || named.contains(&p.name))
        };
        Select::only_if(
            doc.projects.iter().any(|p| wanted(&p)) || !named.is_empty(),
            doc.projects
                .iter()
                .filter(wanted)
                .map(|p| keys::project(&p.name))
                .chain(named.iter().map(|p| keys::project(p))),
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
            one_page(&pages, client.list_service_accounts(&id).await?);
            Ok(())
        })
    }

    /// Of accounts sharing a name the oldest is managed, the others are duplicates. An
    /// account whose role is `none` (created without a key and not given a role yet) reads
    /// as `member` and is flagged, so the plan still sets its declared role.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        for (i, _, listed) in super::read::project_lists::<WireServiceAccount>(raw, KIND, state) {
            let name = state.org.projects[i].name.clone();
            let mut accounts: ReadMap<String, ServiceAccount> = BTreeMap::new();
            let mut oldest_first = listed;
            oldest_first.sort_by(|a, b| {
                (a.created_at.unwrap_or(i64::MAX), &a.id)
                    .cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
            });
            for account in oldest_first {
                if accounts.contains_key(&account.name) {
                    let kept = state
                        .ids
                        .get(&refs::service_account(&name, &account.name))
                        .cloned()
                        .unwrap_or_default();
                    state.duplicates.push(LiveDuplicate {
                        kind: ResourceKind::ServiceAccount,
                        project: Some(name.clone()),
                        name: account.name.clone(),
                        kept,
                        extra: account.id.to_string(),
                    });
                    continue;
                }
                let role = match &account.role {
                    WireProjectRole::Owner => ProjectRole::Owner,
                    WireProjectRole::Member => ProjectRole::Member,
                    other => {
                        let mapped = super::wire::project_role_of(other.as_str());
                        if mapped.is_none() {
                            state
                                .roleless_service_accounts
                                .insert((name.clone(), account.name.clone()));
                        }
                        mapped.unwrap_or(ProjectRole::Member)
                    }
                };
                state.ids.set(
                    refs::service_account(&name, &account.name),
                    account.id.to_string(),
                );
                accounts.insert(
                    account.name.clone(),
                    ServiceAccount {
                        name: account.name.clone(),
                        role,
                        sink: None,
                        key_spend_limit: None,
                    },
                );
            }
            state.org.projects[i].service_accounts = accounts.into_values().collect();
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| {
                p.service_accounts
                    .iter()
                    .map(|s| keys::service_account(&p.name, &s.name))
            })
            .collect()
    }
}

async fn create_service_account(
    cx: &ApplyContext,
    p: &str,
    name: &str,
    role: ProjectRole,
    with_key: bool,
    key_spend_limit_cents: Option<u64>,
) -> Step {
    let c = &cx.client;
    let sink = if with_key {
        let sink = cx.sinks.sink(&format!("projects/{p}/service_accounts/{name}")).ok_or_else(|| {
            format!(
                "a key is requested for service account `{name}` but the desired state declares no sink for it"
            )
        })?;
        sink.check().map_err(|e| e.to_string())?;
        Some(sink)
    } else {
        None
    };
    let pid = ProjectId::from(cx.need(&project(p))?);
    let created = find_then_create(
        || c.create_service_account(&pid, name, with_key, key_spend_limit_cents),
        || async {
            let all = c.list_service_accounts(&pid).await?;
            Ok(all.into_iter().find(|s| s.name == name).map(|s| s.id.0))
        },
    )
    .await
    .map_err(api)?;
    let (id, role_now, key, already) = match created {
        Created::New(account) => (
            account.id.clone(),
            Some(account.role.as_str().to_string()),
            account.api_key.map(|k| k.value),
            false,
        ),
        Created::Landed(id) => (ServiceAccountId::from(id), None, None, false),
        Created::AlreadyThere(id) => (ServiceAccountId::from(id), None, None, true),
    };
    cx.ids.record(&service_account(p, name), id.as_str());
    // Created with a key the account is a `member`, without one it has no role: set the
    // declared role unless it already is.
    if role_now.as_deref() != Some(role.as_str()) {
        retry_transient(|| c.update_service_account(&pid, &id, None, Some(role)))
            .await
            .map_err(api)?;
    }
    let Some(sink) = sink else {
        return Ok(if already {
            Done::Already("it already exists".into())
        } else {
            Done::Applied(None)
        });
    };
    let (key, lost) = match key.filter(|k| !k.expose().is_empty()) {
        Some(key) => (key, 0),
        // The key of a create whose answer was lost is gone for good: mint another.
        None => mint_service_account_key(cx, &pid, &id).await?,
    };
    let mut note = match deliver(sink, &key).await {
        Ok(note) => note,
        // Nobody holds this account's key: an account left behind would make the next
        // plan empty. Delete the account this run created, so the next plan creates it
        // again (and its sink gets a key).
        Err(e) if !already => {
            return Err(match remove(|| c.delete_service_account(&pid, &id)).await {
                Ok(_) => format!(
                    "service account `{name}` was created, but {e}; it was deleted again (nobody holds its key): fix the sink and apply again"
                ),
                Err(error) => format!(
                    "service account `{name}` was created, but {e}; deleting it failed too ({}): delete it, fix the sink and apply again",
                    api(error)
                ),
            });
        }
        Err(e) => {
            return Err(format!(
                "service account `{name}` already existed and got a new key, but {e}; delete the account, fix the sink and apply again"
            ));
        }
    };
    if lost > 0 {
        note.push_str(&format!(
            "; {lost} earlier key(s) of this account whose value was lost in transit may exist: delete them"
        ));
    }
    Ok(Done::Applied(Some(note)))
}

/// A new key for an existing account; also counts attempts whose key may have been
/// created but never received.
async fn mint_service_account_key(
    cx: &ApplyContext,
    pid: &ProjectId,
    id: &ServiceAccountId,
) -> Result<(Secret, u32), String> {
    let mut lost = 0;
    loop {
        match cx.client.create_service_account_key(pid, id, None).await {
            Ok(key) if !key.value.expose().is_empty() => return Ok((key.value, lost)),
            Ok(_) => {
                return Err("the API returned a service-account key without a value".into());
            }
            Err(error) if error.is_ambiguous() && lost + 1 < safe::MAX_CREATE_ROUNDS => {
                lost += 1;
            }
            Err(error) => return Err(api(error)),
        }
    }
}

async fn deliver(sink: &dyn SecretSink, key: &Secret) -> Result<String, String> {
    sink.deliver(key).await
}
