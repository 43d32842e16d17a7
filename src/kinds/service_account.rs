//! Project service accounts, key `project:<project>/service_account:<name>`. Fields: `role`
//! (updated in place) and `key` (whether a key is requested at creation; the secret goes
//! only to the declared sink and never into the plan). Undeclared live ones follow
//! `policy.unmanaged.service_accounts`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::{ProjectRole, ServiceAccount};

const KIND: ResourceKind = ResourceKind::ServiceAccount;

fn view(sa: &ServiceAccount) -> Value {
    json!({ "name": sa.name, "role": sa.role })
}

/// Service accounts.
pub(crate) struct ServiceAccountKind;

impl Kind for ServiceAccountKind {
    fn title(&self) -> &'static str {
        "Service accounts"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        super::duplicates::diff(super::DuplicateKind::ServiceAccount, ctx, out);
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
                        let mut after = view(d);
                        after["with_key"] = json!(with_key);
                        out.push(
                            Draft::new(
                                KIND,
                                key,
                                Action::Create,
                                Operation::CreateServiceAccount {
                                    project: project.clone(),
                                    name: name.clone(),
                                    role: d.role,
                                    with_key,
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
                                Operation::UpdateServiceAccount {
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
                                Operation::DeleteServiceAccount {
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
}
