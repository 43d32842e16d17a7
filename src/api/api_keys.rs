//! Project API keys (observe and prune only; the API cannot create user keys):
//! `GET /organization/projects/{project_id}/api_keys`,
//! `DELETE /organization/projects/{project_id}/api_keys/{api_key_id}`.

use serde::Deserialize;

use super::client::{Call, Client, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{ApiKeyId, Deleted, ProjectId, ServiceAccountId, UserId};

/// `ProjectApiKey`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProjectApiKey {
    pub id: ApiKeyId,
    pub name: Option<String>,
    pub redacted_value: Option<String>,
    pub created_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// `active` | `inactive`.
    pub owner_project_access: Option<String>,
    pub owner: ProjectApiKeyOwner,
}

/// Who owns a project key: a user or a service account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProjectApiKeyOwner {
    #[serde(rename = "type")]
    pub owner_type: Option<String>,
    pub user: Option<KeyOwnerUser>,
    pub service_account: Option<KeyOwnerServiceAccount>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyOwnerUser {
    pub id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyOwnerServiceAccount {
    pub id: ServiceAccountId,
    pub name: Option<String>,
    pub role: Option<String>,
}

impl Client {
    /// `GET /organization/projects/{project_id}/api_keys?owner_project_access=any` — every
    /// key, including those whose owner lost access (style A, 100 per page).
    pub async fn list_project_api_keys(
        &self,
        project: &ProjectId,
    ) -> Result<Vec<ProjectApiKey>, Error> {
        let call = Call::get(
            "/organization/projects/{project_id}/api_keys",
            format!("/organization/projects/{}/api_keys", seg(project.as_str())),
        )
        .query("owner_project_access", "any");
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `DELETE /organization/projects/{project_id}/api_keys/{api_key_id}`.
    pub async fn delete_project_api_key(
        &self,
        project: &ProjectId,
        key: &ApiKeyId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/projects/{project_id}/api_keys/{api_key_id}",
            format!(
                "/organization/projects/{}/api_keys/{}",
                seg(project.as_str()),
                seg(key.as_str())
            ),
        );
        self.execute(&call).await
    }
}
