//! The organization model: one set of types for what the file declares (desired) and for
//! what the Admin API reports (live).
//!
//! [`Document`] is exactly the desired-state file format (version 1). It is also what the
//! emulator is seeded from, what `GET /_emulator/state` returns, and what `orgops export`
//! writes, so every side of orgops speaks the same shape. `schema/orgops.schema.json` is the
//! published form of these types; a test keeps the two from drifting apart, so a field added
//! here must be added there (and to `docs/configuration.md`).
//!
//! Everything is keyed by natural keys (emails, names, (project, name), (project, model)),
//! never by server IDs: IDs live only in the live side's index (`live::IdIndex`).
//!
//! Serialization is deterministic: lists keep file order (the plan sorts by key), maps are
//! `BTreeMap`s, and optional fields that are absent are not written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only format version orgops reads today.
pub const FORMAT_VERSION: u32 = 1;

/// A whole desired-state file (or the merge of a directory of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version; must be 1.
    #[serde(default = "default_version")]
    pub version: u32,
    /// How orgops treats what the file does not declare, and the safety gates.
    #[serde(default, skip_serializing_if = "Policy::is_default")]
    pub policy: Policy,
    /// Organization members, identified by email.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub users: ManagedList<User>,
    /// Organization groups, identified by name.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub groups: ManagedList<Group>,
    /// Custom organization roles, identified by name.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub roles: ManagedList<Role>,
    /// Uploaded mTLS certificates, identified by name.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub certificates: ManagedList<Certificate>,
    /// Organization admin API keys, identified by name.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub admin_api_keys: ManagedList<AdminApiKey>,
    /// Organization settings (data retention, hard spend limit); see `crate::kinds`.
    #[serde(default, skip_serializing_if = "OrgSettings::is_empty")]
    pub settings: OrgSettings,
    /// Projects, identified by name.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub projects: ManagedList<Project>,
    /// Seed-only: invites as the live org has them. Valid in an emulator seed or a state
    /// dump, rejected by `orgops validate` in a desired-state file (invites are a lifecycle
    /// orgops drives from `users`, not a resource one declares).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invites: Vec<Invite>,
}

impl Default for Document {
    /// An empty document of the current format version.
    fn default() -> Self {
        Document {
            version: FORMAT_VERSION,
            policy: Policy::default(),
            users: ManagedList::default(),
            groups: ManagedList::default(),
            roles: ManagedList::default(),
            certificates: ManagedList::default(),
            admin_api_keys: ManagedList::default(),
            settings: OrgSettings::default(),
            projects: ManagedList::default(),
            invites: Vec::new(),
        }
    }
}

impl Document {
    /// Sorts every list by its natural key (and every name list alphabetically), so two
    /// documents describing the same org serialize to the same bytes. `export` writes this
    /// form.
    pub fn sort_canonical(&mut self) {
        fn names(list: &mut [String]) {
            list.sort();
        }
        fn emails(list: &mut [String]) {
            list.sort_by_key(|e| normalize_email(e));
        }
        fn role(role: &mut Role) {
            names(&mut role.permissions);
        }
        let protect = &mut self.policy.protect;
        emails(&mut protect.users);
        names(&mut protect.projects);
        names(&mut protect.groups);
        names(&mut protect.external_keys);
        names(&mut protect.external_storage);
        names(&mut protect.workload_identity_providers);
        protect.service_accounts.sort();
        self.users.sort_by_key(|u| normalize_email(&u.email));
        for user in &mut self.users {
            names(&mut user.roles);
        }
        self.groups.sort_by(|a, b| a.name.cmp(&b.name));
        for group in &mut self.groups {
            emails(&mut group.members);
            names(&mut group.roles);
        }
        self.roles.sort_by(|a, b| a.name.cmp(&b.name));
        self.roles.iter_mut().for_each(role);
        self.certificates.sort_by(|a, b| a.name.cmp(&b.name));
        self.admin_api_keys.sort_by(|a, b| a.name.cmp(&b.name));
        self.projects.sort_by(|a, b| a.name.cmp(&b.name));
        for project in &mut self.projects {
            project.members.sort_by_key(|m| normalize_email(&m.email));
            for member in &mut project.members {
                names(&mut member.roles);
            }
            project.groups.sort_by(|a, b| a.name.cmp(&b.name));
            for group in &mut project.groups {
                names(&mut group.roles);
            }
            project.roles.sort_by(|a, b| a.name.cmp(&b.name));
            project.roles.iter_mut().for_each(role);
            project.service_accounts.sort_by(|a, b| a.name.cmp(&b.name));
            names(&mut project.certificates);
        }
        self.invites.sort_by_key(|i| normalize_email(&i.email));
        for invite in &mut self.invites {
            invite.projects.sort();
        }
    }
}

/// A list the file may leave out. The difference between absent and empty is the rule for
/// what a file manages (`docs/configuration.md`, "What a file manages"):
///
/// - a list you write is **managed**: its items are the desired objects, and live objects of
///   that list the file does not declare follow `policy.unmanaged` (an explicit `members: []`
///   means "no members");
/// - a list you leave out is **not managed** for that object: orgops neither reads nor
///   reports what it would hold.
///
/// It dereferences to the items, so code that only reads the items treats both alike; code
/// that decides what to read, report or remove asks [`ManagedList::is_managed`]. Parsing a
/// written list (even `[]`) yields a managed list, `Default` an unmanaged one, and
/// serialization writes exactly the managed lists, so `export` writes every list it read.
#[derive(Debug, Clone, Eq)]
pub struct ManagedList<T> {
    items: Vec<T>,
    managed: bool,
}

impl<T> Default for ManagedList<T> {
    /// Absent: not managed.
    fn default() -> Self {
        ManagedList {
            items: Vec::new(),
            managed: false,
        }
    }
}

impl<T> ManagedList<T> {
    /// A written (managed) list.
    pub fn managed(items: Vec<T>) -> Self {
        ManagedList {
            items,
            managed: true,
        }
    }

    /// Written, or holding items (a list with items was written, however it was built).
    pub fn is_managed(&self) -> bool {
        self.managed || !self.items.is_empty()
    }

    pub fn is_unmanaged(&self) -> bool {
        !self.is_managed()
    }

    /// Left out (unmanaged) when it holds nothing.
    pub fn unmanage_if_empty(&mut self) {
        if self.items.is_empty() {
            *self = ManagedList::default();
        }
    }

    /// The same managed-ness, with the items mapped.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> ManagedList<U> {
        ManagedList {
            items: self.items.iter().map(f).collect(),
            managed: self.is_managed(),
        }
    }

    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
}

impl<T: PartialEq> PartialEq for ManagedList<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items && self.is_managed() == other.is_managed()
    }
}

impl<T> From<Vec<T>> for ManagedList<T> {
    /// A written (managed) list.
    fn from(items: Vec<T>) -> Self {
        ManagedList::managed(items)
    }
}

impl<T> FromIterator<T> for ManagedList<T> {
    /// A written (managed) list.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        ManagedList::managed(iter.into_iter().collect())
    }
}

impl<T> std::ops::Deref for ManagedList<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.items
    }
}

impl<T> std::ops::DerefMut for ManagedList<T> {
    /// Editing the items keeps the list's managed-ness (sorting an absent list leaves it
    /// absent).
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.items
    }
}

impl<'a, T> IntoIterator for &'a ManagedList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut ManagedList<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<T> IntoIterator for ManagedList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<T: Serialize> Serialize for ManagedList<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ManagedList<T> {
    /// Present in the input, even as `[]`: managed.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(ManagedList::managed)
    }
}

fn default_version() -> u32 {
    FORMAT_VERSION
}

/// `policy:` — unmanaged-object handling and safety gates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Unmanaged::is_default")]
    pub unmanaged: Unmanaged,
    #[serde(default, skip_serializing_if = "Protect::is_empty")]
    pub protect: Protect,
    /// A plan that removes (deletes, archives, revokes) more objects than this is refused
    /// (exit 3) unless overridden on the command line. Default: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_removals: Option<u32>,
    /// The organization must keep at least this many owners. Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_owners: Option<u32>,
}

impl Policy {
    pub const DEFAULT_MAX_REMOVALS: u32 = 10;
    pub const DEFAULT_MIN_OWNERS: u32 = 1;

    pub fn is_default(&self) -> bool {
        *self == Policy::default()
    }
    pub fn max_removals(&self) -> u32 {
        self.max_removals.unwrap_or(Self::DEFAULT_MAX_REMOVALS)
    }
    pub fn min_owners(&self) -> u32 {
        self.min_owners.unwrap_or(Self::DEFAULT_MIN_OWNERS)
    }
}

/// What to do with a live object of a kind the file manages but that the file does not
/// declare. Every kind defaults to `report`: orgops never removes what it was not told to.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum UnmanagedAction {
    /// List it in the plan, change nothing.
    #[default]
    Report,
    /// Remove it (delete, revoke or unassign).
    Remove,
    /// Say nothing.
    Ignore,
}

/// Unmanaged projects cannot be deleted, only archived (irreversibly).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum UnmanagedProjectAction {
    #[default]
    Report,
    Archive,
    Ignore,
}

/// `policy.unmanaged:` per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unmanaged {
    #[serde(default)]
    pub users: UnmanagedAction,
    #[serde(default)]
    pub invites: UnmanagedAction,
    #[serde(default)]
    pub groups: UnmanagedAction,
    #[serde(default)]
    pub group_members: UnmanagedAction,
    #[serde(default)]
    pub roles: UnmanagedAction,
    #[serde(default)]
    pub role_assignments: UnmanagedAction,
    #[serde(default)]
    pub certificates: UnmanagedAction,
    #[serde(default)]
    pub admin_api_keys: UnmanagedAction,
    #[serde(default)]
    pub project_members: UnmanagedAction,
    #[serde(default)]
    pub project_groups: UnmanagedAction,
    #[serde(default)]
    pub project_roles: UnmanagedAction,
    #[serde(default)]
    pub service_accounts: UnmanagedAction,
    /// Project API keys whose name `projects[].api_keys` does not list (service-account keys
    /// are only ever reported: they go with their account).
    #[serde(default)]
    pub project_api_keys: UnmanagedAction,
    /// Spend alerts (organization, or a project whose `spend_alerts` is written) the file
    /// does not declare.
    #[serde(default)]
    pub spend_alerts: UnmanagedAction,
    /// Customer-managed keys (EKM) `settings.external_keys` does not declare.
    #[serde(default)]
    pub external_keys: UnmanagedAction,
    /// External storage configurations of a project whose `external_storage` is written,
    /// other than the one it declares.
    #[serde(default)]
    pub external_storage: UnmanagedAction,
    /// Workload identity providers `settings.workload_identity_providers` does not declare.
    #[serde(default)]
    pub workload_identity_providers: UnmanagedAction,
    /// Federation rules of a declared provider whose `federation_rules` is written, that it
    /// does not declare.
    #[serde(default)]
    pub federation_rules: UnmanagedAction,
    /// Health alert rules (organization, or a project whose `health_alert_rules` is
    /// written) the file does not declare by name.
    #[serde(default)]
    pub health_alert_rules: UnmanagedAction,
    #[serde(default)]
    pub projects: UnmanagedProjectAction,
    /// Settings (data retention, spend limits, model and hosted-tool permissions) that a
    /// declared project, or the organization, leaves out of the file. Absent (the default):
    /// not managed, not read. `report`: read and listed (`? no longer managed`); `remove`:
    /// unset where the API has a delete (spend limits, model permissions), reported
    /// otherwise; `ignore`: like absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<UnmanagedAction>,
}

impl Unmanaged {
    pub fn is_default(&self) -> bool {
        *self == Unmanaged::default()
    }
}

/// `policy.protect:` — never removed, demoted or archived, whatever the file says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protect {
    /// Emails (compared case-insensitively).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Project names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// Group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Service accounts by (project, name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccountRef>,
    /// Project API keys by (project, name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub project_api_keys: Vec<ServiceAccountRef>,
    /// Customer-managed keys (`settings.external_keys`) by name: never deleted or replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_keys: Vec<String>,
    /// Projects whose external storage configuration is never deleted or replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_storage: Vec<String>,
    /// Workload identity providers by name: never deleted, nor any of their federation
    /// rules deleted or replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_identity_providers: Vec<String>,
}

impl Protect {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.projects.is_empty()
            && self.groups.is_empty()
            && self.service_accounts.is_empty()
            && self.project_api_keys.is_empty()
            && self.external_keys.is_empty()
            && self.external_storage.is_empty()
            && self.workload_identity_providers.is_empty()
    }
}

/// A service account (or a project API key) named by its natural key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountRef {
    pub project: String,
    pub name: String,
}

/// Organization-level role of a member or invitee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Owner,
    Reader,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Owner => "owner",
            OrgRole::Reader => "reader",
        }
    }
}

/// Project-level role of a member, group or service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    Owner,
    Member,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Owner => "owner",
            ProjectRole::Member => "member",
        }
    }
    /// The predefined project role id the RBAC endpoints use for this role.
    pub fn predefined_role_id(self) -> &'static str {
        match self {
            ProjectRole::Owner => "role-api-project-owner",
            ProjectRole::Member => "role-api-project-member",
        }
    }
}

/// `users[]` — an organization member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The natural key; compared case-insensitively.
    pub email: String,
    /// Organization role.
    pub role: OrgRole,
    /// Custom organization roles (names from `roles`).
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub roles: ManagedList<String>,
}

/// `groups[]` — an organization group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    /// Member emails (each a declared user).
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub members: ManagedList<String>,
    /// Custom organization roles granted to the group.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub roles: ManagedList<String>,
}

/// `roles[]` (organization) and `projects[].roles[]` (project) — a custom role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    /// Permission strings such as `api.organization.costs.read`; compared as a set.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `certificates[]` — an uploaded certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub name: String,
    /// Path of the PEM file, relative to the YAML file that declares it.
    pub file: String,
    /// Active at organization level.
    #[serde(default)]
    pub active: bool,
    /// The certificate's PEM where it was read, never in a file: the file's content for the
    /// desired state, the API's (`include=content`) for the live one. The plan compares
    /// their fingerprints ([`crate::kinds::pem_fingerprint`]) when both are known;
    /// `export` writes the live one.
    #[serde(skip)]
    pub pem: Option<String>,
}

/// `admin_api_keys[]` — an organization admin API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminApiKey {
    pub name: String,
    /// Lifetime at creation, in days (1–365); absent means the key does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
    /// Where the one-time key value goes when orgops creates the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<Sink>,
}

/// Where a generated secret goes. Secrets never go anywhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Sink {
    /// A file, created with mode 0600, relative to the YAML file that declares it.
    File(String),
    /// A program (argv, no shell) that receives the secret on its standard input.
    Command(Vec<String>),
}

/// `settings:` — organization-level singletons and collections, each owned by a kind module
/// (`crate::kinds`) and managed only when written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// The kinds' fields (`data_retention`, `spend_limit`, `spend_alerts`, ...) in the file's
    /// shape, by key. Which keys exist is each kind's business; the schema lists them and the
    /// loader refuses any other.
    #[serde(flatten)]
    pub fields: KindFields,
}

impl OrgSettings {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Fields of an object that kind modules own (`crate::kinds`), in the file's shape, by their
/// key, in file order (the canonical order is the registry's). The model holds them as data:
/// each kind reads and writes its own.
pub type KindFields = indexmap::IndexMap<String, serde_json::Value>;

/// `projects[]` — a project. Read by hand ([`Project`]'s `Deserialize`), not derived:
/// serde's `flatten` would buffer every project (members and all) before reading it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Project {
    pub name: String,
    /// `true` asks orgops to archive the project (irreversible).
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    /// Data residency, fixed at creation (e.g. `US_STORAGE_PROCESSING`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residency: Option<String>,
    /// The deprecated `geography` (SDK 3.63.0; the API says: use `residency`, not both),
    /// sent only when orgops creates the project: the API never answers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geography: Option<String>,
    /// Customer-managed encryption key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub members: ManagedList<ProjectMember>,
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub groups: ManagedList<ProjectGroup>,
    /// Custom project roles.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub roles: ManagedList<Role>,
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub service_accounts: ManagedList<ServiceAccount>,
    /// Per-model rate limits; fields left out are not managed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// Certificate names active at project scope.
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub certificates: ManagedList<String>,
    /// The fields kind modules own (settings such as `data_retention` and `spend_limit`,
    /// `api_keys`, `spend_alerts`, ...; see [`KindFields`]), each managed only when written.
    #[serde(flatten)]
    pub fields: KindFields,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The project's own keys are read into their typed fields as they come; any other key is
/// a kind's field, kept as data (which keys exist is the kinds' business: the schema and
/// `kinds::unknown_fields` refuse the rest). Same result as the derived form with `flatten`,
/// without buffering each project in serde's `Content` first (twice the work for the bulk
/// of a large file: the members).
impl<'de> Deserialize<'de> for Project {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};

        struct ProjectVisitor;

        impl<'de> Visitor<'de> for ProjectVisitor {
            type Value = Project;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a project (a mapping with a `name`)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Project, A::Error> {
                fn once<E: Error>(
                    seen: &mut Vec<&'static str>,
                    key: &'static str,
                ) -> Result<(), E> {
                    if seen.contains(&key) {
                        return Err(E::duplicate_field(key));
                    }
                    seen.push(key);
                    Ok(())
                }
                let mut project = Project::default();
                let mut name: Option<String> = None;
                let mut seen: Vec<&'static str> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => {
                            once(&mut seen, "name")?;
                            name = Some(map.next_value()?);
                        }
                        "archived" => {
                            once(&mut seen, "archived")?;
                            project.archived = map.next_value()?;
                        }
                        "residency" => {
                            once(&mut seen, "residency")?;
                            project.residency = map.next_value()?;
                        }
                        "geography" => {
                            once(&mut seen, "geography")?;
                            project.geography = map.next_value()?;
                        }
                        "external_key_id" => {
                            once(&mut seen, "external_key_id")?;
                            project.external_key_id = map.next_value()?;
                        }
                        "members" => {
                            once(&mut seen, "members")?;
                            project.members = map.next_value()?;
                        }
                        "groups" => {
                            once(&mut seen, "groups")?;
                            project.groups = map.next_value()?;
                        }
                        "roles" => {
                            once(&mut seen, "roles")?;
                            project.roles = map.next_value()?;
                        }
                        "service_accounts" => {
                            once(&mut seen, "service_accounts")?;
                            project.service_accounts = map.next_value()?;
                        }
                        "rate_limits" => {
                            once(&mut seen, "rate_limits")?;
                            project.rate_limits = map.next_value()?;
                        }
                        "certificates" => {
                            once(&mut seen, "certificates")?;
                            project.certificates = map.next_value()?;
                        }
                        _ => {
                            let value: serde_json::Value = map.next_value()?;
                            if project.fields.contains_key(&key) {
                                return Err(A::Error::custom(format!("duplicate field `{key}`")));
                            }
                            project.fields.insert(key, value);
                        }
                    }
                }
                project.name = name.ok_or_else(|| A::Error::missing_field("name"))?;
                Ok(project)
            }
        }

        deserializer.deserialize_map(ProjectVisitor)
    }
}

/// `projects[].members[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectMember {
    pub email: String,
    pub role: ProjectRole,
    /// Custom project roles (names from the project's `roles`).
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub roles: ManagedList<String>,
}

/// `projects[].groups[]` — a group's access to the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectGroup {
    pub name: String,
    pub role: ProjectRole,
    #[serde(default, skip_serializing_if = "ManagedList::is_unmanaged")]
    pub roles: ManagedList<String>,
}

/// `projects[].service_accounts[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    pub name: String,
    pub role: ProjectRole,
    /// When present, orgops creates the account with an API key and sends the key here.
    /// When absent, the account is created without a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<Sink>,
    /// The monthly hard spend limit orgops sets on the key it creates with the account
    /// (only with a `sink`; at creation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spend_limit: Option<KeySpendLimit>,
}

/// An API key's monthly hard spend limit, in USD cents (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpendLimit {
    pub amount_cents: u64,
}

/// `projects[].rate_limits.<model>` — only the fields given are managed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_1_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_1_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_images_per_1_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_audio_megabytes_per_1_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_1_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_1_day_max_input_tokens: Option<u64>,
}

impl RateLimit {
    /// The fields by their API names, in API order, for diffing and rendering.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 6] {
        [
            ("max_requests_per_1_minute", self.max_requests_per_1_minute),
            ("max_tokens_per_1_minute", self.max_tokens_per_1_minute),
            ("max_images_per_1_minute", self.max_images_per_1_minute),
            (
                "max_audio_megabytes_per_1_minute",
                self.max_audio_megabytes_per_1_minute,
            ),
            ("max_requests_per_1_day", self.max_requests_per_1_day),
            (
                "batch_1_day_max_input_tokens",
                self.batch_1_day_max_input_tokens,
            ),
        ]
    }
}

/// Seed-only `invites[]` entry (see [`Document::invites`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub email: String,
    pub role: OrgRole,
    #[serde(default)]
    pub status: InviteStatus,
    /// Project memberships granted on acceptance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<InviteProject>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    #[default]
    Pending,
    Expired,
    Accepted,
}

/// A project an invite grants, by project name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteProject {
    pub name: String,
    pub role: ProjectRole,
}

/// Emails are compared case-insensitively everywhere; this is the one normal form.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_sketch_shapes_deserialize() {
        let json = serde_json::json!({
            "version": 1,
            "policy": {"unmanaged": {"users": "report", "projects": "archive"}, "max_removals": 10},
            "users": [{"email": "a@x.example", "role": "owner", "roles": ["billing-viewer"]}],
            "projects": [{
                "name": "Search",
                "service_accounts": [{"name": "ci", "role": "member", "sink": {"file": "ci.key"}}],
                "rate_limits": {"gpt-4o": {"max_requests_per_1_minute": 500}},
            }],
        });
        let doc: Document = serde_json::from_value(json).expect("sketch deserializes");
        assert_eq!(
            doc.projects[0].service_accounts[0].sink,
            Some(Sink::File("ci.key".into()))
        );
        assert_eq!(
            doc.policy.unmanaged.projects,
            UnmanagedProjectAction::Archive
        );
        assert_eq!(doc.policy.min_owners(), 1);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let json = serde_json::json!({"users": [{"email": "a@x", "role": "owner", "rol": []}]});
        assert!(serde_json::from_value::<Document>(json).is_err());
    }
}

#[cfg(test)]
mod project_reading_tests {
    use super::*;

    #[test]
    fn a_project_reads_its_own_keys_typed_and_keeps_the_kinds_fields_in_order() {
        let project: Project = serde_json::from_value(serde_json::json!({
            "spend_limit": {"amount_cents": 5},
            "name": "Search",
            "members": [{"email": "a@x.example", "role": "owner"}],
            "hosted_tools": {"mcp": false},
        }))
        .expect("reads");
        assert_eq!(project.name, "Search");
        assert_eq!(project.members.len(), 1);
        assert!(project.members.is_managed() && project.groups.is_unmanaged());
        let keys: Vec<&str> = project.fields.keys().map(String::as_str).collect();
        assert_eq!(keys, ["spend_limit", "hosted_tools"]);
        let back = serde_json::to_value(&project).expect("writes");
        assert_eq!(back["spend_limit"]["amount_cents"], 5);
    }

    #[test]
    fn a_project_without_a_name_or_with_a_key_twice_is_refused() {
        let no_name = serde_json::from_value::<Project>(serde_json::json!({"archived": true}));
        assert!(
            no_name.is_err_and(|e| e.to_string().contains("missing field `name`")),
            "missing name"
        );
        let twice = serde_saphyr::from_str::<Project>("name: A\nmembers: []\nmembers: []\n");
        assert!(twice.is_err(), "a key twice");
    }
}
