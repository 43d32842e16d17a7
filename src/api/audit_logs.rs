//! Audit log (read-only): `GET /organization/audit_logs`, used by drift reports to say who
//! changed what, and by `orgops audit` (streamed page by page).

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

/// Every audit event type the API has: the spec's `AuditLogEventType` enum, in its order,
/// then the two SDK 3.63.0 adds (`AuditLogListParams.event_types`). The API refuses any
/// other value of `event_types[]` (400), so `orgops audit --type` does before calling, and
/// the emulator does as the API. A test compares it with the spec.
pub const EVENT_TYPES: &[&str] = &[
    "api_key.created",
    "api_key.updated",
    "api_key.deleted",
    "certificate.created",
    "certificate.updated",
    "certificate.deleted",
    "certificates.activated",
    "certificates.deactivated",
    "checkpoint.permission.created",
    "checkpoint.permission.deleted",
    "external_key.registered",
    "external_key.removed",
    "group.created",
    "group.updated",
    "group.deleted",
    "invite.sent",
    "invite.accepted",
    "invite.deleted",
    "ip_allowlist.created",
    "ip_allowlist.updated",
    "ip_allowlist.deleted",
    "ip_allowlist.config.activated",
    "ip_allowlist.config.deactivated",
    "login.succeeded",
    "login.failed",
    "logout.succeeded",
    "logout.failed",
    "organization.updated",
    "project.created",
    "project.updated",
    "project.archived",
    "project.deleted",
    "rate_limit.updated",
    "rate_limit.deleted",
    "resource.deleted",
    "tunnel.created",
    "tunnel.updated",
    "tunnel.deleted",
    "workload_identity_provider.created",
    "workload_identity_provider.updated",
    "workload_identity_provider.deleted",
    "workload_identity_provider_mapping.created",
    "workload_identity_provider_mapping.updated",
    "workload_identity_provider_mapping.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "role.assignment.created",
    "role.assignment.deleted",
    "role.bound_to_resource",
    "role.unbound_from_resource",
    "scim.enabled",
    "scim.disabled",
    "service_account.created",
    "service_account.updated",
    "service_account.deleted",
    "user.added",
    "user.updated",
    "user.deleted",
    "tenant.metadata.updated",
    "tenant.microsoft_entra_mapping.upserted",
    "tenant.microsoft_entra_mapping.deleted",
    "tenant.workload_identity.provider.created",
    "tenant.workload_identity.provider.updated",
    "tenant.workload_identity.provider.archived",
    "tenant.workload_identity.mapping.created",
    "tenant.workload_identity.mapping.updated",
    "tenant.workload_identity.mapping.archived",
    "tenant.workload_identity.binding.created",
    "tenant.workload_identity.principal.provisioned",
    "tenant.workload_identity.access_token.issued",
    "tenant.admin_api_key.created",
    "tenant.admin_api_key.updated",
    "tenant.admin_api_key.deleted",
    "tenant.project_api_key.created",
    "tenant.chatgpt_access_token.revoked",
    "tenant.migration.completed",
    "tenant.sso.migrated",
    "tenant.domains.migrated",
    "tenant.sso_connection.created",
    "tenant.sso_connection.updated",
    "tenant.sso_connection.deleted",
    "tenant.sso_connection.setup.started",
    "tenant.policy.created",
    "tenant.policy.updated",
    "tenant.policy.deleted",
    "tenant.policy.attached",
    "tenant.policy.detached",
    "tenant.principal_authentication_policy.resolved",
    "tenant.scim.setup.started",
    "tenant.scim.deletion.requested",
    "tenant.scim.directory.created",
    "tenant.product_access_policy.updated",
    "tenant.resource_share_grant.created",
    "tenant.resource_share_grant.updated",
    "tenant.resource_share_grant.accepted",
    "tenant.resource_share_grant.declined",
    "tenant.resource_share_grant.revoked",
    "tenant.resource_share_grant.deleted",
    "tenant.service_account.updated",
    "tenant.service_account.deleted",
    "tenant.service_account.token.revoked",
    "tenant.billing.overage_limit.updated",
    "tenant.billing.alerts.updated",
    "tenant.billing.info.updated",
    "tenant.usage_limit.workspace.updated",
    "tenant.usage_limit.group.updated",
    "tenant.usage_limit.user.updated",
    "tenant.usage_limit.increase_request.updated",
    "tenant.usage_limit.increase_request.resolved",
    "tenant.group.created",
    "tenant.group.updated",
    "tenant.group.deleted",
    "tenant.group.member.added",
    "tenant.group.member.removed",
    "tenant.migration_rollout.status.updated",
    "tenant.migration_rollout.tier.updated",
    "tenant.role.metadata.updated",
    "tenant.custom_role.created",
    "tenant.custom_role.updated",
    "tenant.custom_role.deleted",
    "tenant.role_assignment.created",
    "tenant.role_assignment.deleted",
    "tenant.resource_role_assignment.created",
    "tenant.resource_role_assignment.deleted",
    "tenant.resource_access.updated",
    "tenant.resource_access.deleted",
    "tenant.ads_account.onboarding.redemption",
    "tenant.session_policy.created",
    "tenant.session_policy.updated",
    "tenant.session_policy.deleted",
    "tenant.session_revocation.started",
    "tenant.third_party_app_policy.updated",
    "tenant.user.added",
    "tenant.user.updated",
    "tenant.user.removed",
    "tenant.user.looked_up",
    "tenant.user.invited",
    "tenant.membership.revoked",
    "tenant.api_organization_invite.upserted",
    "tenant.api_organization_invite.deleted",
    "tenant.chatgpt_workspace_invite.upserted",
    "tenant.membership.accepted",
    "tenant.membership.declined",
    "tenant.workspace_invite_email_settings.updated",
    "external_storage.registered",
    "external_storage.removed",
];

/// Filters for [`Client::list_audit_logs`]; empty means "no filter".
#[derive(Debug, Clone, Default)]
pub struct AuditLogQuery {
    /// Unix seconds, inclusive.
    pub effective_at_gte: Option<i64>,
    /// Unix seconds, exclusive.
    pub effective_at_lt: Option<i64>,
    /// Unix seconds, inclusive.
    pub effective_at_lte: Option<i64>,
    pub event_types: Vec<String>,
    pub resource_ids: Vec<String>,
    pub project_ids: Vec<String>,
    pub actor_emails: Vec<String>,
    /// User ids, service account ids or API key ids.
    pub actor_ids: Vec<String>,
    /// Only tenant-scoped events (`tenant_only=true`; every event type asked for must be one).
    pub tenant_only: bool,
}

impl AuditLogQuery {
    /// The first request (without `limit`/`after`): the spec's literal `name[]` array
    /// parameters and `effective_at[gte|lt|lte]`.
    fn call(&self) -> Call {
        let mut call = Call::get(
            "/organization/audit_logs",
            "/organization/audit_logs".into(),
        );
        for (member, value) in [
            ("effective_at[gte]", self.effective_at_gte),
            ("effective_at[lt]", self.effective_at_lt),
            ("effective_at[lte]", self.effective_at_lte),
        ] {
            if let Some(value) = value {
                call = call.query(member, value);
            }
        }
        for (name, values) in [
            ("event_types[]", &self.event_types),
            ("resource_ids[]", &self.resource_ids),
            ("project_ids[]", &self.project_ids),
            ("actor_emails[]", &self.actor_emails),
            ("actor_ids[]", &self.actor_ids),
        ] {
            for value in values {
                call = call.query(name, value);
            }
        }
        if self.tenant_only {
            call = call.query("tenant_only", true);
        }
        call
    }
}

impl Client {
    /// `GET /organization/audit_logs` — every matching event (newest first), style A at 100
    /// per page.
    pub async fn list_audit_logs(&self, query: &AuditLogQuery) -> Result<Vec<AuditLog>, Error> {
        self.list_all(query.call(), Style::LastId, MAX_PAGE_A).await
    }

    /// `GET /organization/audit_logs` page by page, each event as the raw JSON object the API
    /// sent, at `page_size` (1–100) per request; a page is requested only when the caller asks
    /// for it. [`AuditCursor::After`] (or none) pages towards older events strictly by
    /// `after=<last_id>`; [`AuditCursor::Before`] towards newer ones by `before=<first_id>`
    /// (each page is still newest first).
    pub fn audit_log_pages(
        &self,
        query: &AuditLogQuery,
        page_size: u32,
        cursor: Option<AuditCursor>,
    ) -> super::Pager<'_, serde_json::Value> {
        let page_size = page_size.clamp(1, MAX_PAGE_A);
        let (style, start) = match cursor {
            None => (Style::LastId, None),
            Some(AuditCursor::After(id)) => (Style::LastId, Some(id)),
            Some(AuditCursor::Before(id)) => (Style::FirstIdBefore, Some(id)),
        };
        super::Pager::new(self, query.call(), style, page_size, start)
    }
}

/// Where an audit-log listing starts: after an event (older ones) or before it (newer ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCursor {
    After(String),
    Before(String),
}

#[cfg(test)]
mod tests {
    use super::EVENT_TYPES;

    /// The spec's enum, every value, in its order; then only the SDK's two.
    #[test]
    fn event_types_are_the_specs_enum_and_the_sdks_two() {
        let text = include_str!("../../openapi/openai-admin.openapi.yaml");
        let spec: serde_json::Value = serde_saphyr::from_str(text).expect("spec parses");
        let enumerated: Vec<&str> = spec["components"]["schemas"]["AuditLogEventType"]["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        assert_eq!(&EVENT_TYPES[..enumerated.len()], &enumerated[..]);
        assert_eq!(
            &EVENT_TYPES[enumerated.len()..],
            ["external_storage.registered", "external_storage.removed"]
        );
    }
}
