//! Audit log (read-only): `GET /organization/audit_logs`, used by drift reports to say who
//! changed what.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::client::{Call, Client};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};

/// `AuditLog`. The event's details sit under a key named like the event type; they are kept
/// as raw JSON in `details`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLog {
    pub id: String,
    /// The event type, e.g. `project.archived` (an open set: kept as text).
    #[serde(rename = "type")]
    pub event_type: String,
    pub effective_at: Option<i64>,
    pub project: Option<AuditLogProject>,
    pub actor: Option<AuditLogActor>,
    #[serde(flatten)]
    pub details: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLogProject {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// Who did it: a dashboard session or an API key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLogActor {
    /// `session` | `api_key`.
    #[serde(rename = "type")]
    pub actor_type: Option<String>,
    pub session: Option<AuditLogSession>,
    pub api_key: Option<AuditLogApiKey>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLogSession {
    pub user: Option<AuditLogUser>,
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLogApiKey {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub key_type: Option<String>,
    pub user: Option<AuditLogUser>,
    pub service_account: Option<AuditLogServiceAccount>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLogUser {
    pub id: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditLogServiceAccount {
    pub id: Option<String>,
}

impl AuditLogActor {
    /// The acting person's email, or a service account / key id, for display.
    pub fn describe(&self) -> Option<String> {
        let session_user = self
            .session
            .as_ref()
            .and_then(|s| s.user.as_ref())
            .and_then(|u| u.email.clone());
        let key = self.api_key.as_ref();
        let key_user = key
            .and_then(|k| k.user.as_ref())
            .and_then(|u| u.email.clone());
        let key_account = key
            .and_then(|k| k.service_account.as_ref())
            .and_then(|s| s.id.clone());
        session_user
            .or(key_user)
            .or(key_account)
            .or_else(|| key.and_then(|k| k.id.clone()))
    }
}

/// Filters for [`Client::list_audit_logs`]; empty means "no filter".
#[derive(Debug, Clone, Default)]
pub struct AuditLogQuery {
    /// Unix seconds, inclusive.
    pub effective_at_gte: Option<i64>,
    /// Unix seconds, exclusive.
    pub effective_at_lt: Option<i64>,
    pub event_types: Vec<String>,
    pub resource_ids: Vec<String>,
    pub project_ids: Vec<String>,
    pub actor_emails: Vec<String>,
}

impl Client {
    /// `GET /organization/audit_logs` — style A, 100 per page, with the spec's literal
    /// `name[]` array parameters and `effective_at[gte|lt]`.
    pub async fn list_audit_logs(&self, query: &AuditLogQuery) -> Result<Vec<AuditLog>, Error> {
        let mut call = Call::get(
            "/organization/audit_logs",
            "/organization/audit_logs".into(),
        );
        if let Some(gte) = query.effective_at_gte {
            call = call.query("effective_at[gte]", gte);
        }
        if let Some(lt) = query.effective_at_lt {
            call = call.query("effective_at[lt]", lt);
        }
        for (name, values) in [
            ("event_types[]", &query.event_types),
            ("resource_ids[]", &query.resource_ids),
            ("project_ids[]", &query.project_ids),
            ("actor_emails[]", &query.actor_emails),
        ] {
            for value in values {
                call = call.query(name, value);
            }
        }
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }
}
