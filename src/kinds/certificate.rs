//! Uploaded certificates, key `certificate:<name>`. Uploaded (not activated: activation is
//! `certificate_activation.rs`) or deleted; a deletion waits for the deactivations at every
//! scope. Content is not compared (the live side has no PEM); a changed certificate is
//! declared under a new name. Undeclared live ones follow `policy.unmanaged.certificates`.

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::Certificate;

const KIND: ResourceKind = ResourceKind::Certificate;

/// Certificates.
pub(crate) struct CertificateKind;

impl Kind for CertificateKind {
    fn title(&self) -> &'static str {
        "Certificates"
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
                        Operation::UploadCertificate {
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
                                Operation::DeleteCertificate { name: name.clone() },
                            )
                            .before(Some(view))
                        },
                    )
                }
                _ => {}
            }
        }
    }
}
