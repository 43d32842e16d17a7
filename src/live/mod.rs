//! The live organization as the Admin API reports it, in the model's own types.

use std::collections::BTreeMap;

use crate::model::Document;

/// What the live read observed. `org` uses the same types as the desired state, so the plan
/// compares like with like; server IDs live apart in `ids`, needed only to write.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// The live org in the file's shape; `org.invites` holds invites with their status.
    pub org: Document,
    /// Server IDs by natural key.
    pub ids: IdIndex,
    /// Email of the user who owns the admin key in use, when the API says.
    pub key_owner: Option<String>,
    /// Name of the organization's default project (never archived, never given members).
    pub default_project: Option<String>,
}

/// Server IDs by natural key (emails normalised with [`crate::model::normalize_email`]).
#[derive(Debug, Clone, Default)]
pub struct IdIndex {
    pub users: BTreeMap<String, String>,
    pub invites: BTreeMap<String, String>,
    pub groups: BTreeMap<String, String>,
    pub roles: BTreeMap<String, String>,
    pub certificates: BTreeMap<String, String>,
    pub admin_api_keys: BTreeMap<String, String>,
    pub projects: BTreeMap<String, String>,
    /// (project name, role name) -> role id.
    pub project_roles: BTreeMap<(String, String), String>,
    /// (project name, service account name) -> service account id.
    pub service_accounts: BTreeMap<(String, String), String>,
    /// (project name, model) -> rate limit id.
    pub rate_limits: BTreeMap<(String, String), String>,
}
