//! Uploaded certificates, key `certificate:<name>`. Uploaded (not activated: activation is
//! `certificate_activation.rs`), replaced or deleted; a deletion waits for the deactivations
//! at every scope. Content is compared by fingerprint (the DER's SHA-256, see
//! [`pem_fingerprint`]): the read retrieves each listed
//! certificate's PEM (`include=content`, at most 50: the list carries none), and a declared
//! certificate whose file differs from it is a `replace`, since the API can change only a
//! certificate's name: the new file is uploaded, activated wherever the old one is active,
//! and the old one deactivated and deleted ([`Op::ReplaceCertificate`]). A replace is
//! destructive (`max_removals` counts it): clients pinned to the old certificate stop
//! working. Undeclared live ones follow `policy.unmanaged.certificates`.

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
use crate::api::safe::{Created, create_or_find, remove, retry_transient};
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
    /// A changed certificate file (the API changes only a certificate's name): uploads
    /// `file` under `name`, activates the new certificate wherever the old one is active
    /// (the organization, and each project, read when the change runs), deactivates the old
    /// one there and deletes it. `content` is the new file's fingerprint
    /// ([`pem_fingerprint`]) the plan approved.
    ReplaceCertificate {
        name: String,
        file: String,
        content: String,
    },
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

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "certificates",
            removes: "remove",
            list: "certificates",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.certificates.is_managed()
    }

    /// Each certificate's PEM (the read retrieved it) goes to `certs/<name>.pem`, names that
    /// cannot meet; one the API gave no PEM for cannot be exported.
    fn export(
        &self,
        doc: &mut crate::model::Document,
        files: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        let stems = crate::text::stems::distinct_stems(
            doc.certificates.iter().map(|c| c.name.as_str()),
            file_stem,
        )?;
        for cert in &mut doc.certificates {
            let stem = stems.get(&cert.name).cloned().unwrap_or_default();
            cert.file = format!("certs/{stem}.pem");
            let pem = cert.pem.take().ok_or_else(|| {
                format!(
                    "the API returned no content for certificate {:?}; export needs the PEM",
                    cert.name
                )
            })?;
            files.insert(cert.file.clone(), pem);
        }
        Ok(())
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
                (Some(d), Some(l)) => {
                    let fingerprint =
                        |c: &Certificate| c.pem.as_deref().and_then(crate::kinds::pem_fingerprint);
                    let (Some(wanted), Some(found)) = (fingerprint(d), fingerprint(l)) else {
                        continue;
                    };
                    if wanted == found {
                        continue;
                    }
                    out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Replace,
                            Op::ReplaceCertificate {
                                name: name.clone(),
                                file: d.file.clone(),
                                content: wanted.clone(),
                            },
                        )
                        .before(Some(json!({ "name": name, "content": found })))
                        .after(Some(
                            json!({ "name": name, "file": d.file, "content": wanted }),
                        ))
                        .diffed(&["name", "file"]),
                    );
                }
                (None, None) => {}
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::UploadCertificate { .. } => vec![],
            Op::DeleteCertificate { name } | Op::ReplaceCertificate { name, .. } => {
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
                        || find_named(c, name, None),
                    )
                    .await
                    .map_err(api)?;
                    Ok(cx.record(&certificate(name), created, |x| x.id.to_string()))
                }
                Op::ReplaceCertificate {
                    name,
                    file,
                    content,
                } => replace(cx, name, file, content).await,
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
                pem: None,
            }),
            // The new content takes the old one's place and activations; the model keeps no
            // PEM, so the next plan does not compare it.
            Op::ReplaceCertificate { name, .. } => {
                for c in s.org.certificates.iter_mut().filter(|c| &c.name == name) {
                    c.pem = None;
                }
            }
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
        Some(Source::organization())
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
            let mut certificates = client.list_certificates().await?;
            // The list carries no PEM: one retrieve each (at most 50), at once.
            let mut contents = tokio::task::JoinSet::new();
            for (i, cert) in certificates.iter().enumerate() {
                let (client, id) = (client.clone(), cert.id.clone());
                contents.spawn(async move {
                    let answer = client.retrieve_certificate_content(&id).await;
                    if let Some(observer) = client.page_observer() {
                        // One more request of this list, done.
                        observer.page_fetched(true);
                    }
                    (i, answer)
                });
            }
            while let Some(joined) = contents.join_next().await {
                let (i, answer) = joined.map_err(|e| Error::Transport {
                    method: "GET".into(),
                    route: "/organization/certificates/{certificate_id}".into(),
                    message: format!("a retrieve task failed: {e}"),
                })?;
                let content = match answer {
                    Ok(cert) => cert.certificate_details.content,
                    // Deleted since the list: nothing to compare.
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e),
                };
                if let Some(cert) = certificates.get_mut(i) {
                    cert.certificate_details.content = content;
                }
            }
            one_page(&pages, certificates);
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
                    pem: cert.certificate_details.content.clone(),
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

/// A changed certificate file ([`Op::ReplaceCertificate`]): the new content is uploaded
/// under the same name; every scope where the old certificate is active (the organization,
/// and each live project, whose lists are read now: the plan reads only the projects whose
/// `certificates` it manages) gets the new one activated and the old one deactivated; the
/// old one is deleted. Refused when the file no longer holds what the plan approved.
async fn replace(cx: &ApplyContext, name: &str, file: &str, content: &str) -> Step {
    let c = &cx.client;
    let Some(pem) = cx.files.get(name) else {
        return Err(format!(
            "the certificate file {file} of `{name}` was not read from the desired state"
        ));
    };
    if crate::kinds::pem_fingerprint(pem).as_deref() != Some(content) {
        return Err(format!(
            "the certificate file {file} of `{name}` changed after the plan approved its content ({content}): plan again"
        ));
    }
    let old = CertificateId::from(cx.need(&certificate(name))?);
    let created = create_or_find(
        || c.upload_certificate(name, pem),
        || find_named(c, name, Some(&old)),
    )
    .await
    .map_err(api)?;
    let new = CertificateId::from(match created {
        Created::New(cert) => cert.id.to_string(),
        Created::Landed(id) | Created::AlreadyThere(id) => id,
    });
    let (new, old) = ([new], [old]);
    let org_active = retry_transient(|| c.list_certificates())
        .await
        .map_err(api)?
        .iter()
        .any(|x| x.id == old[0] && x.active == Some(true));
    let projects = retry_transient(|| c.list_projects(false))
        .await
        .map_err(api)?;
    let mut scopes = Vec::new();
    if org_active {
        scopes.push("the organization".to_string());
    }
    for p in projects.iter().filter(|p| !p.is_archived()) {
        let listed = retry_transient(|| c.list_project_certificates(&p.id))
            .await
            .map_err(api)?;
        if listed
            .iter()
            .any(|x| x.id == old[0] && x.active == Some(true))
        {
            let moved = async {
                retry_transient(|| c.activate_project_certificates(&p.id, &new)).await?;
                retry_transient(|| c.deactivate_project_certificates(&p.id, &old)).await
            }
            .await;
            if let Err(e) = moved {
                // The same plan may archive the project since it was listed (between the
                // two calls, too): an archived project keeps no activation to carry over,
                // and the old certificate goes.
                let active = retry_transient(|| c.list_projects(false))
                    .await
                    .map_err(api)?;
                if active.iter().any(|q| q.id == p.id && !q.is_archived()) {
                    return Err(api(e));
                }
                continue;
            }
            scopes.push(format!(
                "project {}",
                p.name.clone().unwrap_or_else(|| p.id.to_string())
            ));
        }
    }
    if org_active {
        retry_transient(|| c.activate_certificates(&new))
            .await
            .map_err(api)?;
        retry_transient(|| c.deactivate_certificates(&old))
            .await
            .map_err(api)?;
    }
    remove(|| c.delete_certificate(&old[0]))
        .await
        .map_err(api)?;
    cx.ids.record(&certificate(name), new[0].as_str());
    Ok(Done::Applied((!scopes.is_empty()).then(|| {
        format!("activated in place of the old one in {}", scopes.join(", "))
    })))
}

/// The ID of a live certificate named `name`, other than `except`: where an upload whose
/// outcome is unknown landed.
async fn find_named(
    c: &Client,
    name: &str,
    except: Option<&CertificateId>,
) -> Result<Option<String>, Error> {
    let all = c.list_certificates().await?;
    Ok(all
        .into_iter()
        .find(|x| x.name.as_deref() == Some(name) && Some(&x.id) != except)
        .map(|x| x.id.0))
}

/// The DER bytes of each `CERTIFICATE` block of `text`, or why it is not PEM.
pub fn pem_blocks(text: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut rest = text;
    let mut blocks = Vec::new();
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or("a `BEGIN CERTIFICATE` block has no `END CERTIFICATE` line")?;
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        match base64::engine::general_purpose::STANDARD.decode(body.as_bytes()) {
            Ok(der) if !der.is_empty() => blocks.push(der),
            Ok(_) => return Err("a certificate block is empty".into()),
            Err(_) => return Err("a certificate block is not valid base64".into()),
        }
        rest = &after[end + END.len()..];
    }
    if blocks.is_empty() {
        return Err("the file is not PEM (no `-----BEGIN CERTIFICATE-----` block)".into());
    }
    Ok(blocks)
}

/// What a certificate's content is compared by: `sha256:` and the hex SHA-256 of its
/// certificates' DER bytes, block after block, so line wrapping, line ends and text around
/// the blocks do not count. `None` when `text` is not PEM.
pub fn pem_fingerprint(text: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for der in pem_blocks(text).ok()? {
        hasher.update(&der);
    }
    Some(format!(
        "sha256:{}",
        crate::text::hex::hex(&hasher.finalize())
    ))
}

/// A file-name-safe form of a certificate name (letters, digits, `-`, `_`, `.` kept, any
/// other character as `_`); [`crate::text::stems::distinct_stems`] makes the names distinct
/// (`a b` and `a_b` would both be `a_b`).
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pem_fingerprint;

    /// The content is the certificates' DER bytes: wrapping, line ends and text around the
    /// blocks do not change it; another certificate does.
    #[test]
    fn a_fingerprint_is_of_the_der_bytes() {
        let pem = "-----BEGIN CERTIFICATE-----\nTUlJQkNlcnQ=\n-----END CERTIFICATE-----\n";
        let rewrapped = "subject: x\r\n-----BEGIN CERTIFICATE-----\r\nTUlJ\r\nQkNlcnQ=\r\n-----END CERTIFICATE-----\r\n";
        let other = "-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n";
        let fingerprint = pem_fingerprint(pem).expect("PEM");
        assert!(fingerprint.starts_with("sha256:"), "{fingerprint}");
        assert_eq!(pem_fingerprint(rewrapped), Some(fingerprint.clone()));
        assert_ne!(pem_fingerprint(other), Some(fingerprint));
        assert_eq!(pem_fingerprint("not PEM"), None);
    }
}
