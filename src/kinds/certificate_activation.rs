//! Certificate activation per scope: key `certificate:<name>/scope:organization` for the
//! organization level (the certificate's `active` field) and `project:<project>/certificate:<name>`
//! for a project (the project's `certificates` list). `activate`d and `deactivate`d, never
//! deleted. An activation waits for the upload; a deletion waits for every deactivation,
//! so a certificate being deleted is deactivated in every live project where it is active,
//! declared or not. Undeclared project activations follow `policy.unmanaged.certificates`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, CertificateScope, Operation, ResourceKind};
use crate::model::UnmanagedAction;

const KIND: ResourceKind = ResourceKind::CertificateActivation;

fn view(name: &str, scope: &CertificateScope, active: bool) -> Value {
    let scope = match scope {
        CertificateScope::Organization => json!("organization"),
        CertificateScope::Project(p) => json!({ "project": p }),
    };
    json!({ "certificate": name, "scope": scope, "active": active })
}

fn toggle(name: &str, scope: CertificateScope, activate: bool) -> Draft {
    let key = match &scope {
        CertificateScope::Organization => keys::org_certificate_activation(name),
        CertificateScope::Project(p) => keys::project_certificate_activation(p, name),
    };
    let mut parents = vec![keys::certificate(name)];
    if let CertificateScope::Project(p) = &scope {
        parents.push(keys::project(p));
    }
    let (before, after) = (view(name, &scope, !activate), view(name, &scope, activate));
    let names = vec![name.to_string()];
    let (action, op) = if activate {
        (
            Action::Activate,
            Operation::ActivateCertificates { scope, names },
        )
    } else {
        (
            Action::Deactivate,
            Operation::DeactivateCertificates { scope, names },
        )
    };
    Draft::new(KIND, key, action, op)
        .before(Some(before))
        .after(Some(after))
        .diffed(&["certificate", "scope"])
        .parents(parents)
}

/// Certificate activations.
pub(crate) struct CertificateActivationKind;

impl Kind for CertificateActivationKind {
    fn title(&self) -> &'static str {
        "Certificate activations"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let policy = ctx.desired.policy.unmanaged.certificates;
        let declared: BTreeSet<&str> = ctx
            .desired
            .certificates
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        // Undeclared live certificates that this plan deletes: deactivated everywhere first.
        let deleted: BTreeSet<&str> =
            if policy == UnmanagedAction::Remove && ctx.desired.certificates.is_managed() {
                ctx.live
                    .certificates
                    .iter()
                    .map(|c| c.name.as_str())
                    .filter(|n| !declared.contains(n))
                    .collect()
            } else {
                BTreeSet::new()
            };
        let mut drafts: BTreeMap<String, Draft> = BTreeMap::new();
        fn add(drafts: &mut BTreeMap<String, Draft>, draft: Draft) {
            drafts.entry(draft.key.clone()).or_insert(draft);
        }

        for desired in &ctx.desired.certificates {
            let live_active = ctx
                .live
                .certificates
                .iter()
                .find(|c| c.name == desired.name)
                .is_some_and(|c| c.active);
            if desired.active != live_active {
                add(
                    &mut drafts,
                    toggle(
                        &desired.name,
                        CertificateScope::Organization,
                        desired.active,
                    ),
                );
            }
        }
        for live in &ctx.live.certificates {
            if live.active && deleted.contains(live.name.as_str()) {
                add(
                    &mut drafts,
                    toggle(&live.name, CertificateScope::Organization, false),
                );
            }
        }
        for project in &ctx.live.projects {
            if project.archived {
                continue;
            }
            for name in &project.certificates {
                if deleted.contains(name.as_str()) {
                    add(
                        &mut drafts,
                        toggle(name, CertificateScope::Project(project.name.clone()), false),
                    );
                }
            }
        }
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            let desired: BTreeSet<&String> = desired_project.certificates.iter().collect();
            let live: BTreeSet<&String> = live_project
                .map(|p| {
                    when_managed(&desired_project.certificates, &p.certificates)
                        .iter()
                        .collect()
                })
                .unwrap_or_default();
            for name in desired.difference(&live) {
                add(
                    &mut drafts,
                    toggle(name, CertificateScope::Project(project.clone()), true),
                );
            }
            for name in live.difference(&desired) {
                let key = keys::project_certificate_activation(project, name);
                if drafts.contains_key(&key) {
                    continue;
                }
                let scope = CertificateScope::Project(project.clone());
                out.unmanaged(policy, KIND, &key, view(name, &scope, true), || {
                    toggle(name, scope.clone(), false)
                });
            }
        }
        for draft in drafts.into_values() {
            out.push(draft);
        }
    }
}
