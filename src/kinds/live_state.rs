//! What a live read observed ([`LiveState`]), in the model's own types, with the server IDs
//! set apart ([`IdIndex`]).

use std::collections::{BTreeMap, BTreeSet};

use super::read::ReadScope;
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
    /// Customer-managed keys (EKM), where read, oldest first, each with what its validation
    /// said (`super::external_key`).
    pub external_keys: Vec<super::external_key::LiveKey>,
    /// External storage configurations by project name, where read, oldest first.
    pub external_storage: BTreeMap<String, Vec<super::external_storage::LiveStorage>>,
    /// Workload identity providers with their federation rules, oldest first
    /// (`super::workload_identity_provider`).
    pub workload_identity: Vec<super::workload_identity_provider::LiveProvider>,
    /// Health alert rules by scope (`None`: the organization; a project name), where read,
    /// each with its id and version (`super::health_alert_rules`).
    pub health_alert_rules: BTreeMap<Option<String>, Vec<super::health_alert_rules::LiveRule>>,
}

/// A live object whose natural key another object of its kind already has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveDuplicate {
    /// The kind (those whose reads look for duplicates: projects, groups, admin API keys,
    /// service accounts).
    pub kind: super::ResourceKind,
    /// The project (for service accounts and projects) and the name.
    pub project: Option<String>,
    pub name: String,
    /// ID of the one `ids` resolves (the oldest).
    pub kept: String,
    /// ID of this extra one.
    pub extra: String,
}

/// Server IDs by kind and natural key (emails normalised with
/// [`crate::model::normalize_email`]): `(project, project:Search) -> proj_abc`.
#[derive(Debug, Clone, Default)]
pub struct IdIndex {
    by_kind: BTreeMap<super::ResourceKind, BTreeMap<String, String>>,
}

impl IdIndex {
    /// The ID of `reference`, if known.
    pub fn get(&self, reference: &super::IdRef) -> Option<&String> {
        self.id(reference.kind, &reference.key)
    }

    /// The ID of the object of `kind` with natural key `key`, if known.
    pub fn id(&self, kind: super::ResourceKind, key: &str) -> Option<&String> {
        self.by_kind.get(&kind).and_then(|ids| ids.get(key))
    }

    /// Records (or replaces) an ID.
    pub fn insert(&mut self, kind: super::ResourceKind, key: String, id: String) {
        self.by_kind.entry(kind).or_default().insert(key, id);
    }

    /// Records (or replaces) the ID of `reference`.
    pub fn set(&mut self, reference: super::IdRef, id: String) {
        self.insert(reference.kind, reference.key, id);
    }

    /// Records an ID unless the key already has one (the first of duplicates wins).
    pub fn insert_first(&mut self, kind: super::ResourceKind, key: String, id: String) {
        self.by_kind
            .entry(kind)
            .or_default()
            .entry(key)
            .or_insert(id);
    }

    /// Forgets an ID.
    pub fn remove(&mut self, kind: super::ResourceKind, key: &str) {
        if let Some(ids) = self.by_kind.get_mut(&kind) {
            ids.remove(key);
        }
    }

    /// Every (natural key, ID) of `kind`, by key.
    pub fn of(&self, kind: super::ResourceKind) -> impl Iterator<Item = (&String, &String)> {
        self.by_kind.get(&kind).into_iter().flatten()
    }
}
