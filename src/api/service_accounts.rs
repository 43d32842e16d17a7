//! Project service accounts: `GET|POST /organization/projects/{project_id}/service_accounts`,
//! `POST|DELETE /organization/projects/{project_id}/service_accounts/{service_account_id}`,
//! `POST /organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::client::{Call, Client, RequestKind, Secret, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{ApiKeyId, Deleted, ProjectId, ServiceAccountId, WireProjectRole};
use crate::model::ProjectRole;

/// `ProjectServiceAccount`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    pub name: String,
    /// `owner` | `member` | `none` (created with `create_service_account_only`).
    pub role: WireProjectRole,
    pub created_at: Option<i64>,
}

/// `ProjectServiceAccountCreateResponse`: the account and, unless created without one, its
/// one-time API key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CreatedServiceAccount {
    pub id: ServiceAccountId,
    pub name: String,
    pub role: WireProjectRole,
    pub created_at: Option<i64>,
    pub api_key: Option<ServiceAccountKey>,
}

/// A service-account API key as returned once, at creation. `value` is a [`Secret`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServiceAccountKey {
    pub id: ApiKeyId,
    pub name: Option<String>,
    pub value: Secret,
    pub created_at: Option<i64>,
}

fn accounts_path(project: &ProjectId) -> String {
    format!(
        "/organization/projects/{}/service_accounts",
        seg(project.as_str())
    )
}

fn account_path(project: &ProjectId, account: &ServiceAccountId) -> String {
    format!(
        "/organization/projects/{}/service_accounts/{}",
        seg(project.as_str()),
        seg(account.as_str())
    )
}

impl Client {
    /// `GET /organization/projects/{project_id}/service_accounts` — style A, 100 per page.
    pub async fn list_service_accounts(
        &self,
        project: &ProjectId,
    ) -> Result<Vec<ServiceAccount>, Error> {
        let call = Call::get(
            "/organization/projects/{project_id}/service_accounts",
            accounts_path(project),
        );
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `POST /organization/projects/{project_id}/service_accounts` — create an account;
    /// `with_key: false` sends `create_service_account_only` (no key, role `none`).
    pub async fn create_service_account(
        &self,
        project: &ProjectId,
        name: &str,
        with_key: bool,
        key_spend_limit_cents: Option<u64>,
    ) -> Result<CreatedServiceAccount, Error> {
        let mut body = json!({ "name": name });
        if !with_key {
            body["create_service_account_only"] = json!(true);
        }
        // SDK 3.63.0 `ServiceAccountCreateParams.spend_limit`: on the key made with it.
        if let Some(cents) = key_spend_limit_cents.filter(|_| with_key) {
            body["spend_limit"] =
                json!({ "threshold_amount": cents, "currency": "USD", "interval": "month" });
        }
        let call = Call::post(
            "/organization/projects/{project_id}/service_accounts",
            accounts_path(project),
            RequestKind::Create,
            body,
        );
        self.execute(&call).await
    }

    /// `POST /organization/projects/{project_id}/service_accounts/{service_account_id}` —
    /// rename and/or change the role.
    pub async fn update_service_account(
        &self,
        project: &ProjectId,
        account: &ServiceAccountId,
        name: Option<&str>,
        role: Option<ProjectRole>,
    ) -> Result<ServiceAccount, Error> {
        let mut body = Map::new();
        if let Some(name) = name {
            body.insert("name".into(), json!(name));
        }
        if let Some(role) = role {
            body.insert("role".into(), json!(role.as_str()));
        }
        let call = Call::post(
            "/organization/projects/{project_id}/service_accounts/{service_account_id}",
            account_path(project, account),
            RequestKind::Idempotent,
            Value::Object(body),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/projects/{project_id}/service_accounts/{service_account_id}`.
    pub async fn delete_service_account(
        &self,
        project: &ProjectId,
        account: &ServiceAccountId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/projects/{project_id}/service_accounts/{service_account_id}",
            account_path(project, account),
        );
        self.execute(&call).await
    }

    /// `POST /organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys`
    /// — mint a new key for an existing account (returned once).
    pub async fn create_service_account_key(
        &self,
        project: &ProjectId,
        account: &ServiceAccountId,
        name: Option<&str>,
    ) -> Result<ServiceAccountKey, Error> {
        let body = match name {
            Some(name) => json!({ "name": name }),
            None => json!({}),
        };
        let call = Call::post(
            "/organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys",
            format!("{}/api_keys", account_path(project, account)),
            RequestKind::Create,
            body,
        );
        self.execute(&call).await
    }
}
