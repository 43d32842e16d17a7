//! What a live read observed ([`LiveState`]), in the model's own types, with the server IDs
//! set apart ([`IdIndex`]).

use std::collections::{BTreeMap, BTreeSet};

use super::scope::ReadScope;
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
    /// Names of the admin API keys that look like the key this run authenticates with (its
    /// redacted value matches). The plan never removes them and drift shows them as "in use",
    /// never as unmanaged.
    pub admin_keys_in_use: BTreeSet<String>,
    /// Name of the organization's default project (never archived, never given members).
    pub default_project: Option<String>,
    /// What was read to build this state (collections outside it are simply absent).
    pub scope: ReadScope,
    /// (project, service account) whose live role is `none` (created without a key and not
    /// given a role yet); `org` shows them as `member`, the plan must set the declared role.
    pub roleless_service_accounts: BTreeSet<(String, String)>,
    /// Live objects that share a natural key with another of their kind (two admin API keys,
    /// two active projects, or two service accounts of one project, of one name). The oldest
    /// is the one `ids` resolves; the plan shows each extra one (never silently picks).
    /// Sorted by (kind, key, extra id).
    pub duplicates: Vec<LiveDuplicate>,
    /// Project API keys by project name, where read (`super::project_api_keys`);
    /// their names are also in `org` (`projects[].api_keys`), for export.
    pub project_api_keys: BTreeMap<String, Vec<super::project_api_keys::LiveKey>>,
    /// Spend alerts by scope (`None`: the organization; a project name), where read.
    pub spend_alerts: BTreeMap<Option<String>, Vec<super::spend_alerts::LiveAlert>>,
}

/// The kinds whose live duplicates are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DuplicateKind {
    Project,
    AdminApiKey,
    ServiceAccount,
}

/// A live object whose natural key another object of its kind already has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveDuplicate {
    pub kind: DuplicateKind,
    /// The project (for service accounts and projects) and the name.
    pub project: Option<String>,
    pub name: String,
    /// ID of the one `ids` resolves (the oldest).
    pub kept: String,
    /// ID of this extra one.
    pub extra: String,
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
