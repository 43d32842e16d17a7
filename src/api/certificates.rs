//! Certificates and their activation per scope:
//! `GET|POST /organization/certificates`, `POST|DELETE /organization/certificates/{certificate_id}`,
//! `POST /organization/certificates/activate`, `POST /organization/certificates/deactivate`,
//! `GET /organization/projects/{project_id}/certificates`,
//! `POST /organization/projects/{project_id}/certificates/activate`,
//! `POST /organization/projects/{project_id}/certificates/deactivate`.

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{CertificateId, Deleted, ProjectId};

/// At most this many ids per activate/deactivate call (the API's limit).
pub const MAX_IDS_PER_ACTIVATION: usize = 10;

/// `Certificate` / `OrganizationCertificate` / `OrganizationProjectCertificate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Certificate {
    pub id: CertificateId,
    pub name: Option<String>,
    pub created_at: Option<i64>,
    /// Active at the scope listed (absent on a single retrieve).
    pub active: Option<bool>,
    pub certificate_details: CertificateDetails,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CertificateDetails {
    pub valid_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// The PEM text, only when retrieved with `include[]=content`.
    pub content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Activation {
    data: Vec<Certificate>,
}

impl Client {
    /// `GET /organization/certificates` — style A, 100 per page, with org-level `active`.
    pub async fn list_certificates(&self) -> Result<Vec<Certificate>, Error> {
        let call = Call::get(
            "/organization/certificates",
            "/organization/certificates".into(),
        );
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `GET /organization/certificates/{certificate_id}?include[]=content` — one certificate
    /// with its PEM text. Only `export` calls it (once per certificate, at most 50): the list
    /// never carries content, and a desired-state file needs the PEM.
    pub async fn retrieve_certificate_content(
        &self,
        id: &CertificateId,
    ) -> Result<Certificate, Error> {
        let call = Call::get(
            "/organization/certificates/{certificate_id}",
            format!("/organization/certificates/{}", seg(id.as_str())),
        )
        .query("include[]", "content");
        self.execute(&call).await
    }

    /// `POST /organization/certificates` — upload a PEM certificate (not activated).
    pub async fn upload_certificate(&self, name: &str, pem: &str) -> Result<Certificate, Error> {
        let call = Call::post(
            "/organization/certificates",
            "/organization/certificates".into(),
            RequestKind::Create,
            json!({ "name": name, "certificate": pem }),
        );
        self.execute(&call).await
    }

    /// `POST /organization/certificates/{certificate_id}` — rename (the only modifiable field).
    pub async fn rename_certificate(
        &self,
        id: &CertificateId,
        name: &str,
    ) -> Result<Certificate, Error> {
        let call = Call::post(
            "/organization/certificates/{certificate_id}",
            format!("/organization/certificates/{}", seg(id.as_str())),
            RequestKind::Idempotent,
            json!({ "name": name }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/certificates/{certificate_id}` — must be inactive everywhere.
    pub async fn delete_certificate(&self, id: &CertificateId) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/certificates/{certificate_id}",
            format!("/organization/certificates/{}", seg(id.as_str())),
        );
        self.execute(&call).await
    }

    /// `POST /organization/certificates/activate` — in calls of at most 10 ids.
    pub async fn activate_certificates(
        &self,
        ids: &[CertificateId],
    ) -> Result<Vec<Certificate>, Error> {
        self.toggle(
            "/organization/certificates/activate",
            "/organization/certificates/activate".into(),
            ids,
        )
        .await
    }

    /// `POST /organization/certificates/deactivate` — in calls of at most 10 ids.
    pub async fn deactivate_certificates(
        &self,
        ids: &[CertificateId],
    ) -> Result<Vec<Certificate>, Error> {
        self.toggle(
            "/organization/certificates/deactivate",
            "/organization/certificates/deactivate".into(),
            ids,
        )
        .await
    }

    /// `GET /organization/projects/{project_id}/certificates` — style A, 100 per page, with
    /// project-level `active`.
    pub async fn list_project_certificates(
        &self,
        project: &ProjectId,
    ) -> Result<Vec<Certificate>, Error> {
        let call = Call::get(
            "/organization/projects/{project_id}/certificates",
            format!(
                "/organization/projects/{}/certificates",
                seg(project.as_str())
            ),
        );
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `POST /organization/projects/{project_id}/certificates/activate`.
    pub async fn activate_project_certificates(
        &self,
        project: &ProjectId,
        ids: &[CertificateId],
    ) -> Result<Vec<Certificate>, Error> {
        let path = format!(
            "/organization/projects/{}/certificates/activate",
            seg(project.as_str())
        );
        self.toggle(
            "/organization/projects/{project_id}/certificates/activate",
            path,
            ids,
        )
        .await
    }

    /// `POST /organization/projects/{project_id}/certificates/deactivate`.
    pub async fn deactivate_project_certificates(
        &self,
        project: &ProjectId,
        ids: &[CertificateId],
    ) -> Result<Vec<Certificate>, Error> {
        let path = format!(
            "/organization/projects/{}/certificates/deactivate",
            seg(project.as_str())
        );
        self.toggle(
            "/organization/projects/{project_id}/certificates/deactivate",
            path,
            ids,
        )
        .await
    }

    /// Activation and deactivation are idempotent and atomic per call of ≤ 10 ids.
    async fn toggle(
        &self,
        route: &'static str,
        path: String,
        ids: &[CertificateId],
    ) -> Result<Vec<Certificate>, Error> {
        let mut rows = Vec::new();
        for chunk in ids.chunks(MAX_IDS_PER_ACTIVATION) {
            let ids: Vec<&str> = chunk.iter().map(CertificateId::as_str).collect();
            let call = Call::post(
                route,
                path.clone(),
                RequestKind::Idempotent,
                json!({ "certificate_ids": ids }),
            );
            let answer: Activation = self.execute(&call).await?;
            rows.extend(answer.data);
        }
        Ok(rows)
    }
}
