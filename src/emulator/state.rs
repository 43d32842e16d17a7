//! The whole emulated organization in memory: every entity kind of the OpenAPI subset.
//!
//! Collections are `IndexMap`s keyed by server id, in insertion (= creation) order, so
//! pagination cursors are O(1) index lookups and pages stay stable while other objects are
//! added. Secondary indexes (`HashMap`) are for lookups only and are never iterated into
//! output. Ids come from one seeded RNG ([`IdGen`]), so the same seed and the same request
//! sequence produce the same ids.
//!
//! This module holds data and small invariant-keeping helpers; the HTTP semantics (which
//! request may change what) live in `routes/`, and the behaviour choices the reference leaves
//! open live in `rules.rs`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::{IndexMap, IndexSet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Unix seconds now. The emulator uses the wall clock for timestamps: they never appear in
/// the desired-state dump, so they do not affect determinism of anything orgops compares.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Deterministic id generator: a seeded ChaCha RNG (portable across platforms).
#[derive(Debug, Clone)]
pub struct IdGen {
    rng: StdRng,
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl IdGen {
    pub fn new(seed: u64) -> Self {
        IdGen {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// `prefix` followed by `len` random base62 characters.
    pub fn token(&mut self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        for _ in 0..len {
            let i = self.rng.random_range(0..ID_ALPHABET.len());
            out.push(ID_ALPHABET[i] as char);
        }
        out
    }

    /// A typed id: `user_…`, `proj_…`, `invite-…`, `svc_acct_…`, `key_…`, `cert_…`,
    /// `group_…`, `role_…`, `alert_…`, `audit_log-…`.
    pub fn id(&mut self, kind: IdKind) -> String {
        self.token(kind.prefix(), 24)
    }
}

/// The kinds of server id and their prefixes (from the examples in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    User,
    Invite,
    Project,
    ServiceAccount,
    ApiKey,
    Certificate,
    Group,
    Role,
    SpendAlert,
    AuditLog,
    ExternalKey,
    ExternalStorage,
    WorkloadIdentityProvider,
    FederationRule,
    HealthAlertRule,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::User => "user_",
            IdKind::Invite => "invite-",
            IdKind::Project => "proj_",
            IdKind::ServiceAccount => "svc_acct_",
            IdKind::ApiKey => "key_",
            IdKind::Certificate => "cert_",
            IdKind::Group => "group_",
            IdKind::Role => "role_",
            IdKind::SpendAlert => "alert_",
            IdKind::AuditLog => "audit_log-",
            IdKind::ExternalKey => "ek_",
            IdKind::ExternalStorage => "es_",
            // Not documented anywhere (UNVERIFIED).
            IdKind::WorkloadIdentityProvider => "wip_",
            IdKind::FederationRule => "wfr_",
            IdKind::HealthAlertRule => "health_rule_",
        }
    }
}

/// An organization member.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    /// As given (display); lookups go through the normalised index.
    pub email: String,
    pub name: String,
    /// Legacy organization role: `owner` or `reader`.
    pub role: String,
    pub added_at: i64,
    pub technical_level: Option<String>,
    pub developer_persona: Option<String>,
    /// RBAC organization roles assigned to the user: role id -> assignment.
    pub roles: IndexMap<String, RoleAssignment>,
}

/// Invite status, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    Pending,
    Expired,
    Accepted,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteStatus::Pending => "pending",
            InviteStatus::Expired => "expired",
            InviteStatus::Accepted => "accepted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub id: String,
    pub email: String,
    pub role: String,
    pub status: InviteStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    /// (project id, project role) granted on acceptance.
    pub projects: Vec<(String, String)>,
}

/// One assignment of a role to a principal (user or group), at org or project scope.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    pub created_at: i64,
    /// Id of the user who made the assignment (the admin key's owner), when known.
    pub created_by: Option<String>,
}

/// A predefined or custom role, at organization (`api.organization`) or project
/// (`api.project`) scope.
#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    pub resource_type: String,
    pub predefined: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub is_scim_managed: bool,
    /// user id -> added at.
    pub members: IndexMap<String, i64>,
    /// RBAC organization roles assigned to the group.
    pub roles: IndexMap<String, RoleAssignment>,
}

#[derive(Debug, Clone)]
pub struct Certificate {
    pub id: String,
    pub name: Option<String>,
    pub content: String,
    pub created_at: i64,
    pub valid_at: i64,
    pub expires_at: i64,
    /// Active at organization level.
    pub active: bool,
}

/// Who owns an admin API key (a user of the org, by id).
#[derive(Debug, Clone)]
pub struct AdminKey {
    pub id: String,
    pub name: Option<String>,
    /// The secret. Held only to authenticate requests; returned once, on creation.
    pub value: String,
    pub redacted_value: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub owner_user_id: Option<String>,
}

/// `sk-admin-abcd…wxyz` style redaction of a secret.
pub fn redact(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 12 {
        return "sk-...".to_string();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

#[derive(Debug, Clone)]
pub struct ProjectUser {
    /// `owner` or `member`.
    pub role: String,
    pub added_at: i64,
    /// RBAC project roles assigned to the user in this project.
    pub roles: IndexMap<String, RoleAssignment>,
}

#[derive(Debug, Clone)]
pub struct ProjectGroup {
    pub created_at: i64,
    /// Project roles assigned to the group in this project, the one given when the group was
    /// added included (see `rules`: it is an assignment like any other).
    pub roles: IndexMap<String, RoleAssignment>,
}

impl ProjectGroup {
    /// The predefined role the group holds here (owner wins), for dumps and audit details.
    pub fn membership_role(&self) -> &str {
        const OWNER: &str = "role-api-project-owner";
        if self.roles.contains_key(OWNER) {
            return OWNER;
        }
        self.roles
            .keys()
            .find(|id| id.starts_with("role-api-project-"))
            .map(String::as_str)
            .unwrap_or("role-api-project-member")
    }
}

#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub id: String,
    pub name: String,
    /// `owner`, `member` or `none`.
    pub role: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    User(String),
    ServiceAccount(String),
}

#[derive(Debug, Clone)]
pub struct ProjectApiKey {
    pub id: String,
    pub name: String,
    pub redacted_value: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub owner: KeyOwner,
    pub scopes: Vec<String>,
    /// `expires_in_seconds` at creation, as a time (SDK: `ProjectAPIKey.expires_at`).
    pub expires_at: Option<i64>,
    /// The key's monthly hard spend limit in USD cents (SDK: `ProjectAPIKeySpendLimit`).
    pub spend_limit: Option<i64>,
}

/// One per-model rate-limit row; the optional fields exist only for relevant models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRow {
    pub id: String,
    pub model: String,
    pub max_requests_per_1_minute: u64,
    pub max_tokens_per_1_minute: u64,
    pub max_images_per_1_minute: Option<u64>,
    pub max_audio_megabytes_per_1_minute: Option<u64>,
    pub max_requests_per_1_day: Option<u64>,
    pub batch_1_day_max_input_tokens: Option<u64>,
}

/// The fixed model catalogue every project has rate-limit rows for, with its defaults.
/// Fields a model does not have are `None` (and rejected on update).
pub fn rate_limit_catalogue() -> Vec<RateLimitRow> {
    // (model, rpm, tpm, images/min, audio MB/min, requests/day, batch input tokens/day)
    type Row = (
        &'static str,
        u64,
        u64,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        Option<u64>,
    );
    const ROWS: &[Row] = &[
        (
            "gpt-4o",
            10_000,
            30_000_000,
            None,
            None,
            Some(10_000_000),
            Some(5_000_000_000),
        ),
        (
            "gpt-4o-mini",
            30_000,
            150_000_000,
            None,
            None,
            Some(10_000_000),
            Some(15_000_000_000),
        ),
        (
            "gpt-4.1",
            10_000,
            30_000_000,
            None,
            None,
            Some(10_000_000),
            Some(5_000_000_000),
        ),
        (
            "o3",
            10_000,
            30_000_000,
            None,
            None,
            Some(10_000_000),
            Some(5_000_000_000),
        ),
        (
            "o4-mini",
            30_000,
            150_000_000,
            None,
            None,
            Some(10_000_000),
            Some(15_000_000_000),
        ),
        (
            "text-embedding-3-large",
            10_000,
            10_000_000,
            None,
            None,
            Some(10_000_000),
            Some(4_000_000_000),
        ),
        (
            "text-embedding-3-small",
            10_000,
            10_000_000,
            None,
            None,
            Some(10_000_000),
            Some(4_000_000_000),
        ),
        ("dall-e-3", 10_000, 0, Some(50), None, None, None),
        ("whisper-1", 10_000, 0, None, Some(500), None, None),
        ("tts-1", 10_000, 0, None, None, Some(100_000), None),
    ];
    ROWS.iter()
        .map(
            |&(model, rpm, tpm, images, audio, rpd, batch)| RateLimitRow {
                id: format!("rl-{model}"),
                model: model.to_string(),
                max_requests_per_1_minute: rpm,
                max_tokens_per_1_minute: tpm,
                max_images_per_1_minute: images,
                max_audio_megabytes_per_1_minute: audio,
                max_requests_per_1_day: rpd,
                batch_1_day_max_input_tokens: batch,
            },
        )
        .collect()
}

/// Spend alert (org or project scope).
#[derive(Debug, Clone)]
pub struct SpendAlert {
    pub id: String,
    pub threshold_amount: i64,
    pub currency: String,
    pub interval: String,
    /// `SpendAlertNotificationChannel` as received (validated by the route).
    pub notification_channel: Value,
}

/// Hard spend limit singleton (org or project scope).
#[derive(Debug, Clone)]
pub struct SpendLimit {
    pub threshold_amount: i64,
    pub currency: String,
    pub interval: String,
    /// `{type: email, recipients, subject_prefix}` (SDK 3.63.0's
    /// `OrganizationSpendLimit.notification_channel`); `None`: owner-only notifications.
    pub notification_channel: Option<Value>,
}

/// Hosted tool permissions of a project, in API order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedTools {
    pub file_search: bool,
    pub web_search: bool,
    pub image_generation: bool,
    pub mcp: bool,
    pub code_interpreter: bool,
}

impl Default for HostedTools {
    fn default() -> Self {
        HostedTools {
            file_search: true,
            web_search: true,
            image_generation: true,
            mcp: true,
            code_interpreter: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPermissions {
    /// `allow_list` or `deny_list`.
    pub mode: String,
    pub model_ids: Vec<String>,
}

/// `ProjectServiceTierSettings`: the default tier and the tiers enabled besides Standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTiers {
    /// `standard`, `fast` or `scale`.
    pub default: String,
    /// `None`: `all`; otherwise the optional tiers (`flex`, `fast`, `ultrafast`), in the
    /// order they were given.
    pub enabled: Option<Vec<String>>,
}

impl Default for ServiceTiers {
    fn default() -> Self {
        ServiceTiers {
            default: "standard".into(),
            enabled: Some(Vec::new()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub archived_at: Option<i64>,
    pub external_key_id: Option<String>,
    pub residency: Option<String>,
    /// The deprecated `geography` sent at creation or update (SDK only; never answered,
    /// the SDK's `Project` has no such field).
    pub geography: Option<String>,
    /// The organization's default project (exactly one).
    pub is_default: bool,
    /// user id -> membership.
    pub users: IndexMap<String, ProjectUser>,
    /// group id -> grant.
    pub groups: IndexMap<String, ProjectGroup>,
    pub service_accounts: IndexMap<String, ServiceAccount>,
    /// Project API keys (user- and service-account-owned), by key id.
    pub api_keys: IndexMap<String, ProjectApiKey>,
    /// By rate-limit id (`rl-<model>`), catalogue order.
    pub rate_limits: IndexMap<String, RateLimitRow>,
    /// Predefined and custom project roles, by role id.
    pub roles: IndexMap<String, Role>,
    /// Certificate ids active at this project.
    pub certificates: IndexSet<String>,
    /// `organization_default`, `none`, ...
    pub data_retention: String,
    pub model_permissions: Option<ModelPermissions>,
    pub hosted_tools: HostedTools,
    pub service_tiers: ServiceTiers,
    pub spend_alerts: IndexMap<String, SpendAlert>,
    pub spend_limit: Option<SpendLimit>,
}

impl Project {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
    pub fn status(&self) -> &'static str {
        if self.is_archived() {
            "archived"
        } else {
            "active"
        }
    }
}

/// One stored audit-log event. `details` is the object stored under the property named like
/// the event type; `actor` is an `AuditLogActor` JSON object.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: String,
    pub event_type: String,
    pub effective_at: i64,
    pub project: Option<(String, String)>,
    pub actor: Value,
    /// The id of the resource the event is about (for the `resource_ids[]` filter).
    pub resource_id: String,
    pub details: Value,
}

/// The organization. Fields are public so endpoint families can be written against it
/// directly; helpers below keep the secondary indexes consistent.
#[derive(Debug, Clone)]
pub struct OrgState {
    pub ids: IdGen,
    pub users: IndexMap<String, User>,
    /// Normalised email -> user id.
    pub users_by_email: HashMap<String, String>,
    pub invites: IndexMap<String, Invite>,
    pub projects: IndexMap<String, Project>,
    pub groups: IndexMap<String, Group>,
    /// Predefined and custom organization roles.
    pub roles: IndexMap<String, Role>,
    pub certificates: IndexMap<String, Certificate>,
    pub admin_keys: IndexMap<String, AdminKey>,
    /// Whether writes are recorded in the audit log (an organization's admins can turn
    /// audit logging off; the log then stays readable and simply stops growing).
    pub audit_logging: bool,
    /// Secret value -> admin key id (authentication).
    pub admin_keys_by_value: HashMap<String, String>,
    /// Oldest first; listed newest first.
    pub audit_log: IndexMap<String, AuditEvent>,
    pub data_retention: String,
    pub spend_alerts: IndexMap<String, SpendAlert>,
    pub spend_limit: Option<SpendLimit>,
    /// Customer-managed keys (EKM), by id (`routes::external_keys`).
    pub external_keys: IndexMap<String, ExternalKey>,
    /// External storage configurations, by id (`routes::external_storage`).
    pub external_storage: IndexMap<String, ExternalStorage>,
    /// Workload identity providers, by id (`routes::workload_identity`).
    pub workload_identity_providers: IndexMap<String, WorkloadIdentityProvider>,
    /// Their federation rules, by id (each names its provider).
    pub federation_rules: IndexMap<String, FederationRule>,
    /// Health alert rules of the organization and of projects, by id
    /// (`routes::health_alert_rules`).
    pub health_alert_rules: IndexMap<String, HealthAlertRule>,
}

/// A workload identity provider: `fields` holds the `WorkloadIdentityProvider` model's
/// fields but `id`, `object` and the timestamps.
#[derive(Debug, Clone)]
pub struct WorkloadIdentityProvider {
    pub id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub fields: serde_json::Map<String, Value>,
}

/// A federation rule: `fields` holds the `FederationRule` model's fields but `id`,
/// `object`, the provider and the timestamps.
#[derive(Debug, Clone)]
pub struct FederationRule {
    pub id: String,
    pub provider_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub fields: serde_json::Map<String, Value>,
}

/// A health alert rule: `rule` holds `name`, `enabled`, `condition`, `filters` and
/// `notifications`, complete (the route fills what a create leaves out).
#[derive(Debug, Clone)]
pub struct HealthAlertRule {
    pub id: String,
    /// `None`: the organization's.
    pub project_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: u64,
    pub rule: serde_json::Map<String, Value>,
}

/// A customer-managed key: `fields` holds `type`, `purpose` and the provider's fields, as
/// created.
#[derive(Debug, Clone)]
pub struct ExternalKey {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub fields: serde_json::Map<String, Value>,
}

/// An external storage configuration: `provider` as created (with `type`).
#[derive(Debug, Clone)]
pub struct ExternalStorage {
    pub id: String,
    pub project_id: String,
    pub created_at: i64,
    pub provider: serde_json::Map<String, Value>,
    /// `pending` until validated, then `validated` or `unhealthy`.
    pub status: String,
}

/// Predefined organization roles: (id, name, description). Their ids are not documented
/// anywhere (UNVERIFIED); these follow the documented project-role pattern.
pub const PREDEFINED_ORG_ROLES: &[(&str, &str, &str)] = &[
    (
        "role-api-organization-owner",
        "owner",
        "Full administrative access to the organization",
    ),
    (
        "role-api-organization-reader",
        "reader",
        "Read access to the organization",
    ),
];

/// Predefined project roles: (id, name, description), ids as the Terraform provider documents.
pub const PREDEFINED_PROJECT_ROLES: &[(&str, &str, &str)] = &[
    (
        "role-api-project-owner",
        "owner",
        "Full access to the project",
    ),
    (
        "role-api-project-member",
        "member",
        "Use and manage the project's resources",
    ),
    (
        "role-api-project-viewer",
        "viewer",
        "Read-only access to the project",
    ),
];

fn predefined_roles(
    table: &[(&str, &str, &str)],
    resource_type: &str,
    at: i64,
) -> IndexMap<String, Role> {
    table
        .iter()
        .map(|&(id, name, description)| {
            (
                id.to_string(),
                Role {
                    id: id.to_string(),
                    name: name.to_string(),
                    description: Some(description.to_string()),
                    permissions: Vec::new(),
                    resource_type: resource_type.to_string(),
                    predefined: true,
                    created_at: at,
                    updated_at: at,
                    created_by: None,
                },
            )
        })
        .collect()
}

impl OrgState {
    /// An organization with only its default project, predefined roles and defaults.
    pub fn new(seed: u64) -> Self {
        let at = now();
        let mut state = OrgState {
            ids: IdGen::new(seed),
            users: IndexMap::new(),
            users_by_email: HashMap::new(),
            invites: IndexMap::new(),
            projects: IndexMap::new(),
            groups: IndexMap::new(),
            roles: predefined_roles(PREDEFINED_ORG_ROLES, "api.organization", at),
            certificates: IndexMap::new(),
            admin_keys: IndexMap::new(),
            audit_logging: true,
            admin_keys_by_value: HashMap::new(),
            audit_log: IndexMap::new(),
            data_retention: crate::emulator::rules::ORGANIZATION_DATA_RETENTION.to_string(),
            spend_alerts: IndexMap::new(),
            spend_limit: None,
            external_keys: IndexMap::new(),
            external_storage: IndexMap::new(),
            workload_identity_providers: IndexMap::new(),
            federation_rules: IndexMap::new(),
            health_alert_rules: IndexMap::new(),
        };
        state.add_project(
            crate::emulator::rules::DEFAULT_PROJECT_NAME,
            true,
            None,
            None,
        );
        state
    }

    /// The default project's id.
    pub fn default_project_id(&self) -> Option<&str> {
        self.projects
            .values()
            .find(|p| p.is_default)
            .map(|p| p.id.as_str())
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let id = self
            .users_by_email
            .get(&crate::model::normalize_email(email))?;
        self.users.get(id)
    }

    /// The first owner in member order (the default owner of command-line admin keys).
    pub fn first_owner(&self) -> Option<&User> {
        self.users.values().find(|u| u.role == "owner")
    }

    /// Adds a member; the caller has checked that the email is not a member yet.
    pub fn add_user(&mut self, email: &str, role: &str) -> String {
        let id = self.ids.id(IdKind::User);
        let name = email.split('@').next().unwrap_or(email).to_string();
        let user = User {
            id: id.clone(),
            email: email.to_string(),
            name,
            role: role.to_string(),
            added_at: now(),
            technical_level: None,
            developer_persona: None,
            roles: IndexMap::new(),
        };
        self.users_by_email
            .insert(crate::model::normalize_email(email), id.clone());
        self.users.insert(id.clone(), user);
        id
    }

    /// Removes a member and everything that only exists through them (see
    /// `rules::on_user_removed` for the cascade choice).
    pub fn remove_user(&mut self, user_id: &str) -> Option<User> {
        let user = self.users.shift_remove(user_id)?;
        self.users_by_email
            .remove(&crate::model::normalize_email(&user.email));
        crate::emulator::rules::on_user_removed(self, &user);
        Some(user)
    }

    /// Creates a project with its catalogue of rate-limit rows and predefined roles.
    pub fn add_project(
        &mut self,
        name: &str,
        is_default: bool,
        residency: Option<String>,
        external_key_id: Option<String>,
    ) -> String {
        let id = self.ids.id(IdKind::Project);
        let at = now();
        let project = Project {
            id: id.clone(),
            name: name.to_string(),
            created_at: at,
            archived_at: None,
            external_key_id,
            residency,
            geography: None,
            is_default,
            users: IndexMap::new(),
            groups: IndexMap::new(),
            service_accounts: IndexMap::new(),
            api_keys: IndexMap::new(),
            rate_limits: rate_limit_catalogue()
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            roles: predefined_roles(PREDEFINED_PROJECT_ROLES, "api.project", at),
            certificates: IndexSet::new(),
            data_retention: crate::emulator::rules::PROJECT_DATA_RETENTION.to_string(),
            model_permissions: None,
            hosted_tools: HostedTools::default(),
            service_tiers: ServiceTiers::default(),
            spend_alerts: IndexMap::new(),
            spend_limit: None,
        };
        self.projects.insert(id.clone(), project);
        id
    }

    /// Creates a service account; with `with_key`, also its first API key, whose secret
    /// value is returned (the only time it exists).
    pub fn add_service_account(
        &mut self,
        project_id: &str,
        name: &str,
        role: &str,
        with_key: bool,
    ) -> Option<(ServiceAccount, Option<(ProjectApiKey, String)>)> {
        let sa_id = self.ids.id(IdKind::ServiceAccount);
        let sa = ServiceAccount {
            id: sa_id.clone(),
            name: name.to_string(),
            role: role.to_string(),
            created_at: now(),
        };
        let key = if with_key {
            Some(self.new_project_key(
                KeyOwner::ServiceAccount(sa_id.clone()),
                "Secret key",
                Vec::new(),
            ))
        } else {
            None
        };
        let project = self.projects.get_mut(project_id)?;
        project.service_accounts.insert(sa_id, sa.clone());
        if let Some((k, _)) = &key {
            project.api_keys.insert(k.id.clone(), k.clone());
        }
        Some((sa, key))
    }

    /// A new project API key and its secret (not yet inserted anywhere).
    pub fn new_project_key(
        &mut self,
        owner: KeyOwner,
        name: &str,
        scopes: Vec<String>,
    ) -> (ProjectApiKey, String) {
        let id = self.ids.id(IdKind::ApiKey);
        let value = self.ids.token("sk-svcacct-", 48);
        let key = ProjectApiKey {
            id,
            name: name.to_string(),
            redacted_value: redact(&value),
            created_at: now(),
            last_used_at: None,
            owner,
            scopes,
            expires_at: None,
            spend_limit: None,
        };
        (key, value)
    }

    /// Registers an admin API key with a known secret (command-line keys) or a fresh one.
    pub fn add_admin_key(
        &mut self,
        name: Option<String>,
        value: Option<String>,
        owner_user_id: Option<String>,
        expires_at: Option<i64>,
    ) -> AdminKey {
        let id = self.ids.id(IdKind::ApiKey);
        let value = value.unwrap_or_else(|| self.ids.token("sk-admin-", 48));
        let key = AdminKey {
            id: id.clone(),
            name,
            redacted_value: redact(&value),
            value: value.clone(),
            created_at: now(),
            expires_at,
            last_used_at: None,
            owner_user_id,
        };
        self.admin_keys_by_value.insert(value, id.clone());
        self.admin_keys.insert(id, key.clone());
        key
    }

    pub fn remove_admin_key(&mut self, key_id: &str) -> Option<AdminKey> {
        let key = self.admin_keys.shift_remove(key_id)?;
        self.admin_keys_by_value.remove(&key.value);
        Some(key)
    }

    /// A new custom role (org scope when `project_id` is `None`).
    pub fn new_role(
        &mut self,
        name: &str,
        permissions: Vec<String>,
        description: Option<String>,
        resource_type: &str,
        created_by: Option<String>,
    ) -> Role {
        let at = now();
        Role {
            id: self.ids.id(IdKind::Role),
            name: name.to_string(),
            description,
            permissions,
            resource_type: resource_type.to_string(),
            predefined: false,
            created_at: at,
            updated_at: at,
            created_by,
        }
    }

    pub fn add_group(&mut self, name: &str) -> String {
        let id = self.ids.id(IdKind::Group);
        self.groups.insert(
            id.clone(),
            Group {
                id: id.clone(),
                name: name.to_string(),
                created_at: now(),
                is_scim_managed: false,
                members: IndexMap::new(),
                roles: IndexMap::new(),
            },
        );
        id
    }

    pub fn add_certificate(&mut self, name: Option<String>, content: String) -> String {
        let id = self.ids.id(IdKind::Certificate);
        let at = now();
        self.certificates.insert(
            id.clone(),
            Certificate {
                id: id.clone(),
                name,
                content,
                created_at: at,
                valid_at: at,
                expires_at: at + crate::emulator::rules::CERTIFICATE_VALIDITY_SECONDS,
                active: false,
            },
        );
        id
    }

    /// Appends an audit event; returns its id.
    pub fn record(
        &mut self,
        event_type: &str,
        actor: Value,
        resource_id: &str,
        project: Option<(String, String)>,
        details: Value,
    ) -> String {
        let id = self.ids.id(IdKind::AuditLog);
        if !self.audit_logging {
            return id;
        }
        self.audit_log.insert(
            id.clone(),
            AuditEvent {
                id: id.clone(),
                event_type: event_type.to_string(),
                effective_at: now(),
                project,
                actor,
                resource_id: resource_id.to_string(),
                details,
            },
        );
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        let mut c = IdGen::new(8);
        let ida = a.id(IdKind::User);
        assert_eq!(ida, b.id(IdKind::User));
        assert_ne!(ida, c.id(IdKind::User));
        assert!(ida.starts_with("user_"));
        assert_eq!(ida.len(), "user_".len() + 24);
    }

    #[test]
    fn new_org_has_one_default_project_with_catalogue() {
        let state = OrgState::new(1);
        assert_eq!(state.projects.len(), 1);
        let p = state
            .projects
            .values()
            .next()
            .expect("default project exists");
        assert!(p.is_default);
        assert_eq!(p.rate_limits.len(), rate_limit_catalogue().len());
        assert!(p.rate_limits.contains_key("rl-gpt-4o"));
        assert!(p.roles.contains_key("role-api-project-member"));
    }

    #[test]
    fn users_are_found_by_email_case_insensitively_and_removed() {
        let mut state = OrgState::new(1);
        let id = state.add_user("Ada@Example.com", "owner");
        assert_eq!(
            state.user_by_email("ada@example.COM").map(|u| u.id.clone()),
            Some(id.clone())
        );
        assert!(state.remove_user(&id).is_some());
        assert!(state.user_by_email("ada@example.com").is_none());
    }

    #[test]
    fn redaction_hides_the_middle() {
        assert_eq!(redact("sk-admin-abcdefghijklmnop"), "sk-admin...mnop");
        assert_eq!(redact("short"), "sk-...");
    }
}
