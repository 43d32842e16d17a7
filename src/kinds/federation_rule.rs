//! Federation rules, `settings.workload_identity_providers[].federation_rules[]`, key
//! `workload_identity_provider:<provider>/federation_rule:<name>`: which tokens of a
//! provider act as which project service account. Shapes from the official SDK
//! (`openai==3.63.0`, `types/admin/organization/workload_identity_providers/federation_rule*.py`):
//! `GET`/`POST .../workload_identity_providers/{id}/federation_rules` (cursor pages),
//! `GET`/`POST`/`DELETE .../federation_rules/{rule_id}`.
//!
//! A rule is declared by name under its provider, with its project and service account by
//! name (`project`, `service_account`: one of the project's service accounts, declared or
//! live) and `attribute_matchers` (the token's claims it requires), optionally
//! `description`, `enabled` and `permissions` (`{type: service_account_default}` or
//! `{type: restricted, scopes}`). The update call takes the matchers, the description,
//! `enabled` and the permissions: those change in place. It cannot move a rule to another
//! project or service account: that change is a replace (deleted, created again), which is
//! destructive, counted by `max_removals` and refused under a provider named in
//! `policy.protect.workload_identity_providers`. A field the file leaves out is not
//! compared. A provider's live rules its `federation_rules` (when written) does not declare
//! follow `policy.unmanaged.federation_rules` (report by default); a provider the plan
//! deletes has each of its rules deleted first. The live read lists every provider's rules
//! ([`super::workload_identity_provider`]); a rule's project and service account are named
//! where the read knows them, and written as their IDs otherwise (a rule for a service
//! account that is gone then shows as a replace).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::attribution::{Rule, rule};
use super::context::{Context, Draft, GateFacts, Output};
use super::kind::Kind;
use super::workload_identity_provider::{
    self as provider, LiveRule, RULE_FIELDS, RULE_IMMUTABLE, RULE_ROUTE, RULES, RULES_ROUTE,
    by_name, changed, declared, list_rules, path, rule_body, undeclared,
};
use super::{Action, IdRef, Operation, ResourceKind};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::model::{Document, UnmanagedAction};

const KIND: ResourceKind = ResourceKind::FederationRule;

/// The natural key of a rule.
pub fn key(provider: &str, name: &str) -> String {
    super::keys::federation_rule(provider, name)
}

pub(crate) fn reference(provider: &str, name: &str) -> IdRef {
    super::keys::refs::federation_rule(provider, name)
}

fn rule_path(provider_id: &str, rule_id: &str) -> String {
    path(RULE_ROUTE, provider_id).replace("{workload_identity_federation_rule_id}", &seg(rule_id))
}

fn text<'a>(spec: &'a Value, field: &str) -> &'a str {
    spec.get(field).and_then(Value::as_str).unwrap_or("")
}

/// What apply does for a rule (the plan's `operation`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `spec`: the rule in the file's shape (project and service account by name).
    CreateFederationRule {
        provider: String,
        name: String,
        spec: Value,
    },
    /// `fields`: the fields that change, as the update call takes them.
    UpdateFederationRule {
        provider: String,
        name: String,
        fields: Value,
    },
    /// Delete the live rule, create `spec` (it moves to another project or service account).
    ReplaceFederationRule {
        provider: String,
        name: String,
        spec: Value,
    },
    /// `id`: this rule exactly (unnamed, or an extra of a name, or of a provider deleted).
    DeleteFederationRule {
        provider: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The provider's ID when the rule is one of a provider deleted by the same plan
        /// (an extra of a name has no natural key to resolve).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Federation rules (`federation_rules` of a provider).
pub(crate) struct FederationRuleKind;

/// Creates the rule under its provider, its project and service account resolved.
async fn create(cx: &ApplyContext, provider_name: &str, name: &str, spec: &Value) -> Step {
    let c = &cx.client;
    let provider_id = cx.need(&provider::reference(provider_name))?;
    let project = text(spec, "project");
    let project_id = cx.need(&super::keys::refs::project(project))?;
    let account_id = cx.need(&super::keys::refs::service_account(
        project,
        text(spec, "service_account"),
    ))?;
    let body = rule_body(spec, &project_id, &account_id);
    let call = Call::post(
        RULES_ROUTE,
        path(RULES_ROUTE, &provider_id),
        RequestKind::Create,
        body,
    );
    let created = create_or_find(
        || c.execute::<Value>(&call),
        || async {
            let all = list_rules(c, &provider_id).await?;
            Ok(all
                .into_iter()
                .find(|r| r.name() == Some(name))
                .map(|r| r.id))
        },
    )
    .await
    .map_err(api)?;
    cx.record_json(
        &reference(provider_name, name),
        &created,
        &format!("federation rule `{name}`"),
    )?;
    Ok(Done::Applied(None))
}

/// A rule's plan key and exact ID where it has no name of its own to resolve.
fn rule_key(provider: &str, r: &LiveRule) -> (String, Option<String>) {
    match r.name() {
        Some(name) => (key(provider, name), None),
        None => (
            format!("{}#{}", key(provider, ""), r.id),
            Some(r.id.clone()),
        ),
    }
}

fn shown(spec: &Map<String, Value>) -> Value {
    Value::Object(spec.clone())
}

/// The keys of the objects a rule refers to: its provider, project and service account.
fn parents(provider: &str, spec: &Value) -> Vec<String> {
    let project = text(spec, "project");
    vec![
        provider::key(provider),
        super::keys::project(project),
        super::keys::service_account(project, text(spec, "service_account")),
    ]
}

impl Kind for FederationRuleKind {
    fn title(&self) -> &'static str {
        "Workload identity federation rules"
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "federation_rules",
            removes: "remove",
            list: "settings.workload_identity_providers[].federation_rules",
            restorable: false,
        })
    }

    fn manages(&self, doc: &Document) -> bool {
        declared(doc)
            .unwrap_or_default()
            .values()
            .any(|p| p.contains_key(RULES))
    }

    /// A rule lets outside workloads act as a service account: every change is shown.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let (subject, what) = match change.op.decode::<Op>().ok()? {
            Op::CreateFederationRule {
                provider,
                name,
                spec,
            } => (
                format!(
                    "{}/{}",
                    text(&spec, "project"),
                    text(&spec, "service_account")
                ),
                format!(
                    "tokens of `{provider}` matching rule `{name}` act as this service account"
                ),
            ),
            Op::UpdateFederationRule {
                provider,
                name,
                fields,
            } => (
                format!("{provider}/{name}"),
                format!(
                    "federation rule changed ({}): who can act as its service account",
                    fields
                        .as_object()
                        .map(|f| f.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
            ),
            Op::ReplaceFederationRule {
                provider,
                name,
                spec,
            } => (
                format!("{provider}/{name}"),
                format!(
                    "federation rule replaced (deleted and created again): its tokens now act as `{}` of project `{}`",
                    text(&spec, "service_account"),
                    text(&spec, "project")
                ),
            ),
            Op::DeleteFederationRule { provider, name, .. } => (
                format!("{provider}/{name}"),
                "federation rule deleted: workloads it admitted lose access".to_string(),
            ),
        };
        Some(super::Attention::new(subject, what))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        // The spec's audit events name a rule a "workload identity provider mapping": their
        // details carry the provider, project and service account a rule has.
        vec![
            rule(Unmanaged, "workload_identity_provider_mapping.created", Id),
            rule(Missing, "workload_identity_provider_mapping.deleted", Id),
            rule(Changed, "workload_identity_provider_mapping.updated", Id),
        ]
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        let mut out = Vec::new();
        for (p, spec) in declared(doc).unwrap_or_default() {
            for r in spec
                .get(RULES)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = r.get("name").and_then(Value::as_str) {
                    out.push(key(&p, name));
                }
            }
        }
        out
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        match change.op.decode::<Op>() {
            Ok(Op::ReplaceFederationRule { provider, .. })
            | Ok(Op::DeleteFederationRule { provider, .. }) => GateFacts {
                protected: ctx
                    .desired
                    .policy
                    .protect
                    .workload_identity_providers
                    .contains(&provider),
                ..GateFacts::default()
            },
            _ => GateFacts::default(),
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let Some(desired) = declared(&ctx.desired) else {
            return;
        };
        let (live, extras) = by_name(&ctx.state.workload_identity);
        let policy = ctx.desired.policy.unmanaged.federation_rules;
        for (pname, pspec) in &desired {
            let Some(rules) = pspec.get(RULES).and_then(Value::as_array) else {
                continue;
            };
            let want: BTreeMap<&str, &Map<String, Value>> = rules
                .iter()
                .filter_map(Value::as_object)
                .filter_map(|r| Some((r.get("name")?.as_str()?, r)))
                .collect();
            let have_rules: &[LiveRule] = live.get(pname.as_str()).map_or(&[], |p| &p.rules);
            let mut have: BTreeMap<&str, &LiveRule> = BTreeMap::new();
            let mut others: Vec<&LiveRule> = Vec::new();
            for r in have_rules {
                match r.name() {
                    Some(n) if !have.contains_key(n) => {
                        have.insert(n, r);
                    }
                    _ => others.push(r),
                }
            }
            for (name, spec) in &want {
                let spec_value = shown(spec);
                let parents = parents(pname, &spec_value);
                match have.get(name) {
                    None => out.push(
                        Draft::new(
                            KIND,
                            key(pname, name),
                            Action::Create,
                            Op::CreateFederationRule {
                                provider: pname.clone(),
                                name: name.to_string(),
                                spec: spec_value.clone(),
                            },
                        )
                        .after(Some(spec_value))
                        .diffed(&["name"])
                        .parents(parents),
                    ),
                    Some(h) => {
                        let moved = !changed(spec, &h.spec, RULE_IMMUTABLE).is_empty();
                        let fields = changed(spec, &h.spec, RULE_FIELDS);
                        if fields.is_empty() {
                            continue;
                        }
                        let before: Map<String, Value> = fields
                            .keys()
                            .map(|k| (k.clone(), h.spec.get(k).cloned().unwrap_or(Value::Null)))
                            .collect();
                        let (action, op) = if moved {
                            (
                                Action::Replace,
                                Op::ReplaceFederationRule {
                                    provider: pname.clone(),
                                    name: name.to_string(),
                                    spec: spec_value.clone(),
                                },
                            )
                        } else {
                            (
                                Action::Update,
                                Op::UpdateFederationRule {
                                    provider: pname.clone(),
                                    name: name.to_string(),
                                    fields: Value::Object(fields.clone()),
                                },
                            )
                        };
                        // A replace also names the service account it leaves (whose
                        // removal then waits for it).
                        let left: Vec<String> = if moved {
                            self::parents(pname, &shown(&h.spec))
                                .into_iter()
                                .filter(|k| !parents.contains(k))
                                .collect()
                        } else {
                            Vec::new()
                        };
                        out.push(
                            Draft::new(KIND, key(pname, name), action, op)
                                .before(Some(Value::Object(before)))
                                .after(Some(Value::Object(fields)))
                                .diffed(&[])
                                .parents(parents)
                                .parents(left),
                        );
                    }
                }
            }
            let undeclared_rules = have
                .iter()
                .filter(|(n, _)| !want.contains_key(*n))
                .map(|(_, r)| *r)
                .chain(others.iter().copied().filter(|r| r.name().is_none()))
                .map(|r| (rule_key(pname, r), r))
                .chain(
                    others
                        .iter()
                        .copied()
                        .filter(|r| r.name().is_some())
                        .map(|r| {
                            (
                                (
                                    format!("{}#{}", key(pname, r.name().unwrap_or("")), r.id),
                                    Some(r.id.clone()),
                                ),
                                r,
                            )
                        }),
                );
            for ((plan_key, id), r) in undeclared_rules {
                let object = shown(&r.spec);
                let op = Op::DeleteFederationRule {
                    provider: pname.clone(),
                    name: r.name().unwrap_or("").to_string(),
                    id,
                    provider_id: None,
                };
                let draft_key = plan_key.clone();
                let parents = parents(pname, &object);
                out.unmanaged(policy, KIND, &plan_key, object.clone(), || {
                    Draft::new(KIND, draft_key, Action::Delete, op)
                        .before(Some(object))
                        .parents(parents)
                });
            }
        }
        // A provider the plan deletes takes its rules with it, each deleted first.
        if ctx.desired.policy.unmanaged.workload_identity_providers != UnmanagedAction::Remove {
            return;
        }
        for (provider_key, p, exact) in undeclared(&desired, &live, &extras) {
            let mut seen = std::collections::BTreeSet::new();
            for r in &p.rules {
                let (plan_key, id) = match (&exact, r.name()) {
                    (None, Some(name)) if seen.insert(name) => rule_key(p.name(), r),
                    _ => (
                        format!("{provider_key}/federation_rule:#{}", r.id),
                        Some(r.id.clone()),
                    ),
                };
                let object = shown(&r.spec);
                let mut parents = parents(p.name(), &object);
                parents[0] = provider_key.clone();
                out.push(
                    Draft::new(
                        KIND,
                        plan_key,
                        Action::Delete,
                        Op::DeleteFederationRule {
                            provider: p.name().to_string(),
                            name: r.name().unwrap_or("").to_string(),
                            id: id.clone(),
                            provider_id: Some(p.id.clone()),
                        },
                    )
                    .before(Some(object))
                    .parents(parents),
                );
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode::<Op>() {
            Ok(Op::CreateFederationRule { provider, spec, .. }) => {
                let project = text(&spec, "project");
                vec![
                    provider::reference(&provider),
                    super::keys::refs::project(project),
                    super::keys::refs::service_account(project, text(&spec, "service_account")),
                ]
            }
            Ok(Op::ReplaceFederationRule {
                provider,
                name,
                spec,
            }) => {
                let project = text(&spec, "project");
                vec![
                    provider::reference(&provider),
                    reference(&provider, &name),
                    super::keys::refs::project(project),
                    super::keys::refs::service_account(project, text(&spec, "service_account")),
                ]
            }
            Ok(Op::UpdateFederationRule { provider, name, .. }) => {
                vec![provider::reference(&provider), reference(&provider, &name)]
            }
            Ok(Op::DeleteFederationRule {
                provider,
                name,
                id,
                provider_id: None,
            }) => {
                let mut refs = vec![provider::reference(&provider)];
                if id.is_none() {
                    refs.push(reference(&provider, &name));
                }
                refs
            }
            _ => Vec::new(),
        }
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let c = &cx.client;
            match op.decode::<Op>()? {
                Op::CreateFederationRule {
                    provider,
                    name,
                    spec,
                } => create(cx, &provider, &name, &spec).await,
                Op::UpdateFederationRule {
                    provider,
                    name,
                    fields,
                } => {
                    let pid = cx.need(&provider::reference(&provider))?;
                    let id = cx.need(&reference(&provider, &name))?;
                    let call = Call::post(
                        RULE_ROUTE,
                        rule_path(&pid, &id),
                        RequestKind::Idempotent,
                        fields,
                    );
                    retry_transient(|| c.execute::<Value>(&call))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::ReplaceFederationRule {
                    provider,
                    name,
                    spec,
                } => {
                    let pid = cx.need(&provider::reference(&provider))?;
                    if let Some(id) = cx.ids.get(&reference(&provider, &name)) {
                        let gone = Call::delete(RULE_ROUTE, rule_path(&pid, &id));
                        remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                        cx.ids.forget(&reference(&provider, &name));
                    }
                    create(cx, &provider, &name, &spec).await
                }
                Op::DeleteFederationRule {
                    provider,
                    name,
                    id: extra,
                    provider_id,
                } => {
                    let Some(pid) =
                        provider_id.or_else(|| cx.ids.get(&provider::reference(&provider)))
                    else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let Some(id) = extra
                        .clone()
                        .or_else(|| cx.ids.get(&reference(&provider, &name)))
                    else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let gone = Call::delete(RULE_ROUTE, rule_path(&pid, &id));
                    let removal = remove(|| c.execute::<Value>(&gone)).await.map_err(api)?;
                    if extra.is_none() {
                        cx.ids.forget(&reference(&provider, &name));
                    }
                    Ok(removed(removal))
                }
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut super::LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        let find = |s: &mut super::LiveState, p: &str| -> Option<usize> {
            s.workload_identity.iter().position(|x| x.name() == p)
        };
        match op {
            Op::CreateFederationRule {
                provider,
                name,
                spec,
            }
            | Op::ReplaceFederationRule {
                provider,
                name,
                spec,
            } => {
                if let Some(i) = find(s, &provider) {
                    let p = &mut s.workload_identity[i];
                    p.rules.retain(|r| r.name() != Some(name.as_str()));
                    if let Some(r) =
                        provider::simulated_rule(&spec, format!("wfr_{provider}_{name}"))
                    {
                        p.rules.push(r);
                    }
                }
            }
            Op::UpdateFederationRule {
                provider,
                name,
                fields,
            } => {
                if let Some(i) = find(s, &provider)
                    && let Some(r) = s.workload_identity[i]
                        .rules
                        .iter_mut()
                        .find(|r| r.name() == Some(name.as_str()))
                    && let Some(fields) = fields.as_object()
                {
                    for (k, v) in fields {
                        r.spec.insert(k.clone(), v.clone());
                    }
                }
            }
            Op::DeleteFederationRule {
                provider, name, id, ..
            } => {
                if let Some(i) = find(s, &provider) {
                    s.workload_identity[i].rules.retain(|r| match &id {
                        Some(id) => r.id != *id,
                        None => r.name() != Some(name.as_str()),
                    });
                }
            }
        }
        provider::resync(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_body_names_ids_not_names() {
        use serde_json::json;
        let spec = json!({"name": "main", "project": "Search", "service_account": "bot",
            "attribute_matchers": {"repository": "acme/infra"}});
        let body = rule_body(&spec, "proj_1", "svc_acct_1");
        assert_eq!(
            body,
            json!({"name": "main", "project_id": "proj_1", "service_account_id": "svc_acct_1",
                "attribute_matchers": {"repository": "acme/infra"}})
        );
    }
}
