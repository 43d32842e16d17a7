//! Organization admin API keys: `GET|POST /organization/admin_api_keys`,
//! `DELETE /organization/admin_api_keys/{key_id}`.

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, Secret, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{ApiKeyId, Deleted};

/// `AdminApiKey`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AdminApiKey {
    pub id: ApiKeyId,
    pub name: Option<String>,
    /// e.g. `sk-admin...def`.
    pub redacted_value: Option<String>,
    pub created_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub owner: AdminApiKeyOwner,
}

/// The key's owner; every field optional (the spec's own example contradicts its text).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AdminApiKeyOwner {
    /// `user` or `service_account`.
    #[serde(rename = "type")]
    pub owner_type: Option<String>,
    pub object: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub created_at: Option<i64>,
    pub role: Option<String>,
}

/// `AdminApiKeyCreateResponse`: the key and its one-time `value`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CreatedAdminApiKey {
    #[serde(flatten)]
    pub key: AdminApiKey,
    pub value: Secret,
}

impl Client {
    /// `GET /organization/admin_api_keys` — style A with the last item's id as cursor (as the
    /// official SDK does); 100 per page (the spec states no maximum).
    pub async fn list_admin_api_keys(&self) -> Result<Vec<AdminApiKey>, Error> {
        let call = Call::get(
            "/organization/admin_api_keys",
            "/organization/admin_api_keys".into(),
        );
        self.list_all(
            call,
            Style::LastItemId(|key: &AdminApiKey| key.id.as_str()),
            MAX_PAGE_A,
        )
        .await
    }

    /// `POST /organization/admin_api_keys` — create a key; `expires_in_seconds` 1..=31536000,
    /// `None` for a key that does not expire.
    pub async fn create_admin_api_key(
        &self,
        name: &str,
        expires_in_seconds: Option<u64>,
    ) -> Result<CreatedAdminApiKey, Error> {
        let mut body = json!({ "name": name });
        if let Some(seconds) = expires_in_seconds {
            body["expires_in_seconds"] = json!(seconds);
        }
        let call = Call::post(
            "/organization/admin_api_keys",
            "/organization/admin_api_keys".into(),
            RequestKind::Create,
            body,
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/admin_api_keys/{key_id}`.
    pub async fn delete_admin_api_key(&self, key: &ApiKeyId) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/admin_api_keys/{key_id}",
            format!("/organization/admin_api_keys/{}", seg(key.as_str())),
        );
        self.execute(&call).await
    }
}
