//! Certificate activation per scope: key `certificate:<name>/scope:organization` for the
//! organization level (the certificate's `active` field) and `project:<project>/certificate:<name>`
//! for a project (the project's `certificates` list). `activate`d and `deactivate`d, never
//! deleted. An activation waits for the upload; a deletion waits for every deactivation,
//! so a certificate being deleted is deactivated in every live project where it is active,
//! declared or not. Undeclared project activations follow `policy.unmanaged.certificates`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::certificates::Certificate as WireCertificate;
use crate::api::types::ProjectId as ReadProjectId;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::{BTreeMap as ReadMap, BTreeSet as ReadSet};

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::UnmanagedAction;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api};
use super::keys::refs;
use super::keys::refs::{certificate, project};
use crate::api::safe::retry_transient;
use crate::api::types::{CertificateId, ProjectId};

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
        (Action::Activate, Op::ActivateCertificates { scope, names })
    } else {
        (
            Action::Deactivate,
            Op::DeactivateCertificates { scope, names },
        )
    };
    Draft::new(KIND, key, action, op)
        .before(Some(before))
        .after(Some(after))
        .diffed(&["certificate", "scope"])
        .parents(parents)
}

/// Where a certificate is activated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "project", rename_all = "snake_case")]
pub enum CertificateScope {
    Organization,
    Project(String),
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    ActivateCertificates {
        scope: CertificateScope,
        names: Vec<String>,
    },
    DeactivateCertificates {
        scope: CertificateScope,
        names: Vec<String>,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Certificate activations.
pub(crate) struct CertificateActivationKind;

impl Kind for CertificateActivationKind {
    fn title(&self) -> &'static str {
        "Certificate activations"
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "certificates.activated", Certificates),
            rule(Missing, "certificates.deactivated", Certificates),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "certificates",
            removes: "remove",
            list: "projects[].certificates",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        super::active_projects(doc).any(|p| p.certificates.is_managed())
    }

    /// Where the organization has no certificate, the export leaves the projects' empty
    /// activation lists out.
    fn export(
        &self,
        doc: &mut crate::model::Document,
        _files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        if doc.certificates.is_empty() {
            doc.projects
                .iter_mut()
                .for_each(|p| p.certificates.unmanage_if_empty());
        }
        Ok(())
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

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::ActivateCertificates { scope, names }
            | Op::DeactivateCertificates { scope, names } => {
                let mut refs: Vec<IdRef> = names.iter().map(|n| refs::certificate(n)).collect();
                if let CertificateScope::Project(p) = scope {
                    refs.push(project(p));
                }
                refs
            }
        };
        ids.sort();
        ids.dedup();
        ids
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let op: Op = op.decode()?;
            let _c = &cx.client;
            match &op {
                Op::ActivateCertificates { scope, names } => {
                    let ids = names
                        .iter()
                        .map(|n| cx.need(&certificate(n)).map(CertificateId::from))
                        .collect::<Result<Vec<_>, _>>()?;
                    toggle_certificates(cx, scope, &ids, true).await
                }
                Op::DeactivateCertificates { scope, names } => {
                    // Certificates already deleted are inactive everywhere.
                    let ids: Vec<CertificateId> = names
                        .iter()
                        .filter_map(|n| cx.ids.get(&certificate(n)).map(CertificateId::from))
                        .collect();
                    if ids.is_empty() {
                        return Ok(Done::Already(GONE.into()));
                    }
                    toggle_certificates(cx, scope, &ids, false).await
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
            Op::ActivateCertificates { scope, names }
            | Op::DeactivateCertificates { scope, names } => {
                let on = matches!(op, Op::ActivateCertificates { .. });
                for name in names {
                    match scope {
                        CertificateScope::Organization => {
                            for c in s.org.certificates.iter_mut().filter(|c| &c.name == name) {
                                c.active = on;
                            }
                        }
                        CertificateScope::Project(p) => {
                            let certs = &mut project(s, p).certificates;
                            certs.retain(|c| c != name);
                            if on {
                                certs.push(name.clone());
                            }
                        }
                    }
                }
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source {
            parent: Some(ResourceKind::Project),
            deferred: true,
            announced_as: None,
        })
    }

    /// Where a project's `certificates` list is written; in every live project when the
    /// file deletes undeclared certificates (deleting one needs its activations gone).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        if doc.certificates.is_managed()
            && doc.policy.unmanaged.certificates == UnmanagedAction::Remove
        {
            return Select::All;
        }
        let wanted = |p: &&crate::model::Project| !p.archived && p.certificates.is_managed();
        Select::only_if(
            super::certificate::certificates_managed(doc),
            doc.projects
                .iter()
                .filter(wanted)
                .map(|p| keys::project(&p.name)),
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
            one_page(&pages, client.list_project_certificates(&id).await?);
            Ok(())
        })
    }

    /// Only when the organization has a certificate.
    fn worth_reading(&self, raw: &RawStore, _parent: &Parent) -> bool {
        raw.items::<WireCertificate>(ResourceKind::Certificate)
            .next()
            .is_some()
    }

    /// A project's `certificates` are the names active in its list.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let names: ReadMap<String, String> = raw
            .items::<WireCertificate>(ResourceKind::Certificate)
            .map(|(_, c)| (c.id.to_string(), super::certificate::certificate_name(c)))
            .collect();
        for (i, _, listed) in super::read::project_lists::<WireCertificate>(raw, KIND, state) {
            let active: ReadSet<String> = listed
                .iter()
                .filter(|c| c.active == Some(true))
                .map(|c| {
                    names
                        .get(c.id.as_str())
                        .cloned()
                        .unwrap_or_else(|| super::certificate::certificate_name(c))
                })
                .collect();
            state.org.projects[i].certificates = active.into_iter().collect();
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        let organization = doc
            .certificates
            .iter()
            .map(|c| keys::org_certificate_activation(&c.name));
        let projects = doc.projects.iter().flat_map(|p| {
            p.certificates
                .iter()
                .map(|c| keys::project_certificate_activation(&p.name, c))
        });
        organization.chain(projects).collect()
    }
}

async fn toggle_certificates(
    cx: &ApplyContext,
    scope: &CertificateScope,
    ids: &[CertificateId],
    activate: bool,
) -> Step {
    let c = &cx.client;
    match scope {
        CertificateScope::Organization => {
            if activate {
                retry_transient(|| c.activate_certificates(ids)).await
            } else {
                retry_transient(|| c.deactivate_certificates(ids)).await
            }
        }
        CertificateScope::Project(p) => {
            let pid = ProjectId::from(cx.need(&project(p))?);
            if activate {
                retry_transient(|| c.activate_project_certificates(&pid, ids)).await
            } else {
                retry_transient(|| c.deactivate_project_certificates(&pid, ids)).await
            }
        }
    }
    .map_err(api)?;
    Ok(Done::Applied(None))
}
