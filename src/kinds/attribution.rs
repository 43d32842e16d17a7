//! Drift attribution's vocabulary: how an audit-log event names an object of a kind
//! ([`Names`]) and which events explain which drift ([`Rule`]), declared by each kind
//! (`Kind::attribution`); `drift` matches events against them without naming a kind.
//! Rules are written from the API reference (audit logs, event types) and the OpenAPI
//! `AuditLog` detail schemas, and list what the emulator emits.

use serde::Serialize;

use super::{IdIndex, IdRef, ResourceKind};

/// How a drifted object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// Declared and different.
    Changed,
    /// Declared and absent.
    Missing,
    /// Present and not declared.
    Unmanaged,
}

impl DriftClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::Changed => "changed",
            DriftClass::Missing => "missing",
            DriftClass::Unmanaged => "unmanaged",
        }
    }
}

/// The event type of organization-wide settings writes (data retention, spend limit, spend
/// alerts): its resource is the organization, whose id the live read does not know, so the
/// drift report asks for this type instead of for resource ids.
pub const ORG_SETTINGS_EVENT: &str = "organization.updated";
/// The event type of project settings writes; its resource id is the project.
pub const PROJECT_SETTINGS_EVENT: &str = "project.updated";

/// How an audit event must name a drifted object to explain it. The details are the object
/// under the event-type key (`"group.updated": {...}`), shaped as the OpenAPI `AuditLog`
/// schemas document them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// `id` is the object's own id.
    Id,
    /// `id` is the group and `changes_requested.<field>` the user (`user_added`,
    /// `user_removed`).
    GroupUser(&'static str),
    /// `principal_id` is the principal (the user, else the group) and `id` the role; for a
    /// project-scoped assignment `resource_id` is the project.
    Assignment,
    /// `principal_id` is the group, `resource_id` the project and `id` a built-in project
    /// role (`role-api-project-*`): the group's membership of the project.
    ProjectGroupMembership,
    /// `id` is the user (the API does not name the project): the event names the project in
    /// its details or its `project`, or the object is the only drifted membership of that
    /// user, of its class, that the event could be about.
    ProjectUser,
    /// `id` is the project (a project role change; the API does not name the user): the
    /// details also name the user, or the object is the only drifted membership of that
    /// project, of its class, that the event could be about.
    ProjectOfUser,
    /// `certificates[].id` holds the certificate (the scope is not named): a project-scope
    /// activation whose project the event's `project` names, or the only drifted activation
    /// of that certificate, of its class.
    Certificates,
    /// A singleton setting's write: `organization.updated` (any `id`: there is one
    /// organization) or `project.updated` whose `id` is the object's project, with this field
    /// under `changes_requested` (the emulator's documented shape, docs/emulator.md). One
    /// per scope, so the field names it.
    Setting(&'static str),
    /// A settings write about one of many objects of a scope (a spend alert), with one of
    /// these fields under `changes_requested`: named when the details mention the object's
    /// live id, else only when unambiguous.
    SettingItem(&'static [&'static str]),
}

/// One way the audit log explains drift of a kind: an event of type `event` explains an
/// object of `class` when its details name the object as `names` says. The verb fits the
/// class: `unmanaged` (extra) objects were created, added, sent or activated; `missing` ones
/// deleted, removed, archived or deactivated; `changed` ones updated. An event type a kind
/// does not list for a class never explains it, whatever ids it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub class: DriftClass,
    pub event: &'static str,
    pub names: Names,
}

/// A [`Rule`], written short in the kinds' tables.
pub const fn rule(class: DriftClass, event: &'static str, names: Names) -> Rule {
    Rule {
        class,
        event,
        names,
    }
}

/// The server ids a drifted object's key names, by role (what live knows of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectIds {
    pub project: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    /// The role itself, or the role a role assignment grants.
    pub role: Option<String>,
    pub certificate: Option<String>,
    /// The object's own id (the key's last segment).
    pub own: Option<String>,
}

impl ObjectIds {
    /// Server ids of the objects `key` names (parents first, for the audit-log query) and
    /// the same ids by role.
    pub fn resolve(key: &str, ids: &IdIndex) -> (Vec<String>, ObjectIds) {
        let refs = key_refs(key);
        let mut all: Vec<String> = Vec::new();
        let mut by_role = ObjectIds::default();
        for r in &refs {
            let id = r.resolve(ids).cloned();
            if let Some(id) = &id
                && !all.contains(id)
            {
                all.push(id.clone());
            }
            let slot = match r.kind {
                ResourceKind::Project => &mut by_role.project,
                ResourceKind::User => &mut by_role.user,
                ResourceKind::Group => &mut by_role.group,
                ResourceKind::Role | ResourceKind::ProjectRole => &mut by_role.role,
                ResourceKind::Certificate => &mut by_role.certificate,
                _ => &mut by_role.own,
            };
            *slot = id;
        }
        by_role.own = refs.last().and_then(|r| r.resolve(ids)).cloned();
        (all, by_role)
    }
}

/// The id references a natural key names, parent first: `project:Search/member:bob@x` is the
/// project `Search` then the user `bob@x` (see [`super::keys`]). Unknown segments are
/// skipped.
pub fn key_refs(key: &str) -> Vec<IdRef> {
    use super::keys::refs;
    let mut found = Vec::new();
    let mut project: Option<String> = None;
    let mut provider: Option<String> = None;
    for segment in key.split('/') {
        let Some((kind, value)) = segment.split_once(':') else {
            continue;
        };
        let r = match (kind, &project) {
            ("project", _) => {
                project = Some(value.to_string());
                refs::project(value)
            }
            ("user" | "member", _) => refs::user(value),
            ("invite", _) => refs::invite(value),
            ("group", _) => refs::group(value),
            ("role", Some(p)) => refs::project_role(p, value),
            ("role", None) => refs::role(value),
            ("service_account", Some(p)) => refs::service_account(p, value),
            ("rate_limit", Some(p)) => refs::rate_limit(p, value),
            ("certificate", _) => refs::certificate(value),
            ("admin_api_key", _) => refs::admin_api_key(value),
            ("api_key", Some(p)) => IdRef::new(
                ResourceKind::ProjectApiKey,
                super::keys::project_api_key(p, value),
            ),
            ("external_key", _) => {
                IdRef::new(ResourceKind::ExternalKey, super::external_key::key(value))
            }
            ("workload_identity_provider", _) => {
                provider = Some(value.to_string());
                refs::workload_identity_provider(value)
            }
            ("federation_rule", _) => match &provider {
                Some(p) => refs::federation_rule(p, value),
                None => continue,
            },
            _ => continue,
        };
        found.push(r);
    }
    found
}
