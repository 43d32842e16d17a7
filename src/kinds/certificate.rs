//! Uploaded certificates, key `certificate:<name>`. Uploaded (not activated: activation is
//! `certificate_activation.rs`) or deleted; a deletion waits for the deactivations at every
//! scope. Content is not compared (the live side has no PEM); a changed certificate is
//! declared under a new name. Undeclared live ones follow `policy.unmanaged.certificates`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::certificates::Certificate as WireCertificate;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::BTreeMap as ReadMap;

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::Certificate;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs;
use super::keys::refs::certificate;
use crate::api::safe::{create_or_find, remove};
use crate::api::types::CertificateId;

const KIND: ResourceKind = ResourceKind::Certificate;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `file` is as the desired file gives it (relative to the YAML file that declares it).
    UploadCertificate { name: String, file: String },
    /// Must be inactive at every scope first (the plan orders deactivations before).
    DeleteCertificate { name: String },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Certificates.
pub(crate) struct CertificateKind;

impl Kind for CertificateKind {
    fn title(&self) -> &'static str {
        "Certificates"
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "certificate.created", Id),
            rule(Missing, "certificate.deleted", Id),
            rule(Changed, "certificate.updated", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<(&'static str, &'static str)> {
        Some(("certificates", "remove"))
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let desired: BTreeMap<String, &Certificate> = ctx
            .desired
            .certificates
            .iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        let live: BTreeMap<String, &Certificate> =
            when_managed(&ctx.desired.certificates, &ctx.live.certificates)
                .iter()
                .map(|c| (c.name.clone(), c))
                .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::certificate(name);
            match (d, l) {
                (Some(d), None) => out.push(
                    Draft::new(
                        KIND,
                        key,
                        Action::Create,
                        Op::UploadCertificate {
                            name: name.clone(),
                            file: d.file.clone(),
                        },
                    )
                    .after(Some(json!({ "name": name, "file": d.file })))
                    .diffed(&["name"]),
                ),
                (None, Some(l)) => {
                    let view = json!({ "name": name, "active": l.active });
                    out.unmanaged(
                        ctx.desired.policy.unmanaged.certificates,
                        KIND,
                        &key,
                        view.clone(),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Op::DeleteCertificate { name: name.clone() },
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
            Op::UploadCertificate { .. } => vec![],
            Op::DeleteCertificate { name } => {
                vec![refs::certificate(name)]
            }
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
                Op::UploadCertificate { name, file } => {
                    let Some(pem) = cx.files.get(name) else {
                        return Err(format!(
                            "the certificate file {file} of `{name}` was not read from the desired state"
                        ));
                    };
                    let created = create_or_find(
                        || c.upload_certificate(name, pem),
                        || async {
                            let all = c.list_certificates().await?;
                            Ok(all
                                .into_iter()
                                .find(|x| x.name.as_deref() == Some(name))
                                .map(|x| x.id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    Ok(cx.record(&certificate(name), created, |x| x.id.to_string()))
                }
                Op::DeleteCertificate { name } => {
                    let Some(id) = cx.ids.get(&certificate(name)) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = CertificateId::from(id);
                    let removal = remove(|| c.delete_certificate(&id)).await.map_err(api)?;
                    cx.ids.forget(&certificate(name));
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
            Op::UploadCertificate { name, file } => s.org.certificates.push(Certificate {
                name: name.clone(),
                file: file.clone(),
                active: false,
            }),
            Op::DeleteCertificate { name } => {
                let active_somewhere = s
                    .org
                    .certificates
                    .iter()
                    .any(|c| &c.name == name && c.active)
                    || s.org
                        .projects
                        .iter()
                        .any(|p| !p.archived && p.certificates.contains(name));
                assert!(
                    !active_somewhere,
                    "simulated apply: certificate {name} deleted while active"
                );
                s.org.certificates.retain(|c| &c.name != name)
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source {
            parent: None,
            deferred: false,
            announced_as: None,
        })
    }

    /// Certificates are read where the file manages them, in the organization or a project.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::all_if(certificates_managed(doc))
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, client.list_certificates().await?);
            Ok(())
        })
    }

    /// Organization-level `active` from the organization list; live certificates have no
    /// file (`file` is empty); one without a name is keyed by its ID.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(certificates) = raw.organization::<WireCertificate>(KIND) else {
            return;
        };
        let mut out: ReadMap<String, crate::model::Certificate> = BTreeMap::new();
        for cert in certificates {
            let name = certificate_name(cert);
            if out.contains_key(&name) {
                tracing::warn!(certificate = %name, "two live certificates share this name; keeping the first");
                continue;
            }
            state.ids.set(refs::certificate(&name), cert.id.to_string());
            out.insert(
                name.clone(),
                crate::model::Certificate {
                    name,
                    file: String::new(),
                    active: cert.active.unwrap_or(false),
                },
            );
        }
        state.org.certificates = out.into_values().collect();
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.certificates
            .iter()
            .map(|c| keys::certificate(&c.name))
            .collect()
    }
}

/// Whether the file manages certificates, in the organization or in a project.
pub(crate) fn certificates_managed(doc: &ReadDocument) -> bool {
    doc.certificates.is_managed()
        || doc
            .projects
            .iter()
            .filter(|p| !p.archived)
            .any(|p| p.certificates.is_managed())
}

/// A live certificate's name (its ID when it has none).
pub(crate) fn certificate_name(cert: &WireCertificate) -> String {
    cert.name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| cert.id.to_string())
}
