//! [`Operation`]: the executable intent of a change, in natural keys only.
//!
//! The apply step turns an operation into API calls, resolving server IDs from
//! `LiveState::ids` plus the IDs of what it created earlier in the same run.
//! [`Operation::id_refs`] lists every ID an operation needs, so the executor and the
//! saved-plan staleness check agree on what a change depends on.
//!
//! Secrets never appear here: `with_key` only says a key is requested; the sink comes from
//! the desired document at apply time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::keys::refs;
use crate::model::{InviteProject, OrgRole, ProjectRole};

/// Where a certificate is activated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "project", rename_all = "snake_case")]
pub enum CertificateScope {
    Organization,
    Project(String),
}

/// A server ID the executor needs: the object of `kind` with natural key `key`
/// (`project:Search`, `project:Search/service_account:ci`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdRef {
    pub kind: super::ResourceKind,
    pub key: String,
}

impl IdRef {
    pub fn new(kind: super::ResourceKind, key: String) -> IdRef {
        IdRef { kind, key }
    }

    /// The ID live has for this reference, if any.
    pub fn resolve<'a>(&self, ids: &'a super::IdIndex) -> Option<&'a String> {
        ids.get(self)
    }

    /// A stable textual form, used as a map key in saved plans: the natural key.
    pub fn label(&self) -> String {
        self.key.clone()
    }
}

/// Custom-role fields to write; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// `Some(None)` clears the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
}

/// What the apply step does for one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    // Projects.
    CreateProject {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        residency: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_key_id: Option<String>,
    },
    /// `external_key_id: None` clears it.
    UpdateProject {
        name: String,
        external_key_id: Option<String>,
    },
    /// Irreversible. `id`: this project exactly (an extra live duplicate of the name),
    /// instead of the one the name resolves to.
    ArchiveProject {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },

    // Invites and users.
    /// `projects` are granted on acceptance (an empty list: no project, not even the default).
    SendInvite {
        email: String,
        role: OrgRole,
        projects: Vec<InviteProject>,
    },
    /// Delete the expired invite (`IdRef::Invite`), then send a new one.
    ResendInvite {
        email: String,
        role: OrgRole,
        projects: Vec<InviteProject>,
    },
    /// Delete the pending invite that no longer matches, then send this one.
    ReplaceInvite {
        email: String,
        role: OrgRole,
        projects: Vec<InviteProject>,
    },
    DeleteInvite {
        email: String,
    },
    UpdateUserRole {
        email: String,
        role: OrgRole,
    },
    RemoveUser {
        email: String,
    },
    AssignUserRole {
        email: String,
        role: String,
    },
    UnassignUserRole {
        email: String,
        role: String,
    },

    // Groups.
    CreateGroup {
        name: String,
    },
    DeleteGroup {
        name: String,
    },
    AddGroupMember {
        group: String,
        email: String,
    },
    RemoveGroupMember {
        group: String,
        email: String,
    },
    AssignGroupRole {
        group: String,
        role: String,
    },
    UnassignGroupRole {
        group: String,
        role: String,
    },

    // Custom roles.
    CreateRole {
        name: String,
        permissions: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    UpdateRole {
        name: String,
        update: RoleUpdate,
    },
    DeleteRole {
        name: String,
    },
    CreateProjectRole {
        project: String,
        name: String,
        permissions: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    UpdateProjectRole {
        project: String,
        name: String,
        update: RoleUpdate,
    },
    DeleteProjectRole {
        project: String,
        name: String,
    },

    // Project access.
    AddProjectUser {
        project: String,
        email: String,
        role: ProjectRole,
    },
    UpdateProjectUser {
        project: String,
        email: String,
        role: ProjectRole,
    },
    RemoveProjectUser {
        project: String,
        email: String,
    },
    AssignProjectUserRole {
        project: String,
        email: String,
        role: String,
    },
    UnassignProjectUserRole {
        project: String,
        email: String,
        role: String,
    },
    AddProjectGroup {
        project: String,
        group: String,
        role: ProjectRole,
    },
    /// Assign `to`'s predefined project role, then unassign `from`'s (no lockout window).
    ChangeProjectGroupRole {
        project: String,
        group: String,
        from: ProjectRole,
        to: ProjectRole,
    },
    RemoveProjectGroup {
        project: String,
        group: String,
    },
    AssignProjectGroupRole {
        project: String,
        group: String,
        role: String,
    },
    UnassignProjectGroupRole {
        project: String,
        group: String,
        role: String,
    },

    // Service accounts.
    /// `with_key: false` creates the account without a key (`create_service_account_only`).
    CreateServiceAccount {
        project: String,
        name: String,
        role: ProjectRole,
        with_key: bool,
    },
    UpdateServiceAccount {
        project: String,
        name: String,
        role: ProjectRole,
    },
    /// `id`: this account exactly (an extra live duplicate of the name).
    DeleteServiceAccount {
        project: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },

    // Rate limits (pre-existing rows; only the given fields are written).
    UpdateRateLimit {
        project: String,
        model: String,
        fields: BTreeMap<String, u64>,
    },

    // Certificates.
    /// `file` is as the desired file gives it (relative to the YAML file that declares it).
    UploadCertificate {
        name: String,
        file: String,
    },
    /// Must be inactive at every scope first (the plan orders deactivations before).
    DeleteCertificate {
        name: String,
    },
    ActivateCertificates {
        scope: CertificateScope,
        names: Vec<String>,
    },
    DeactivateCertificates {
        scope: CertificateScope,
        names: Vec<String>,
    },

    // Admin API keys.
    CreateAdminApiKey {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_in_days: Option<u32>,
    },
    /// `id`: this key exactly (an extra live duplicate of the name).
    DeleteAdminApiKey {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },

    // Kinds of `crate::kinds`: one variant for all of them.
    /// Write `value` (the file's shape) to the kind `kind` (its plan kind name) of `project`
    /// (or the organization); `value: None` unsets or deletes it. `id`: the object of a
    /// collection kind (a project API key).
    Kind {
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<serde_json::Value>,
    },
}

impl Operation {
    /// Every server ID this operation needs, by natural key. IDs of objects created earlier
    /// in the same plan are not in live; the executor takes them from what it created.
    pub fn id_refs(&self) -> Vec<IdRef> {
        let project = refs::project;
        let user = refs::user;
        let group = refs::group;
        let project_role = refs::project_role;
        let mut ids = match self {
            Operation::CreateProject { .. } => vec![],
            Operation::ArchiveProject { id: Some(_), .. } => vec![],
            Operation::UpdateProject { name, .. }
            | Operation::ArchiveProject { name, id: None } => {
                vec![project(name)]
            }
            Operation::SendInvite { projects, .. } => {
                projects.iter().map(|p| project(&p.name)).collect()
            }
            Operation::ResendInvite {
                email, projects, ..
            }
            | Operation::ReplaceInvite {
                email, projects, ..
            } => {
                let mut refs: Vec<IdRef> = projects.iter().map(|p| project(&p.name)).collect();
                refs.push(refs::invite(email));
                refs
            }
            Operation::DeleteInvite { email } => vec![refs::invite(email)],
            Operation::UpdateUserRole { email, .. } | Operation::RemoveUser { email } => {
                vec![user(email)]
            }
            Operation::AssignUserRole { email, role }
            | Operation::UnassignUserRole { email, role } => {
                vec![user(email), refs::role(role)]
            }
            Operation::CreateGroup { .. } => vec![],
            Operation::DeleteGroup { name } => vec![group(name)],
            Operation::AddGroupMember { group: g, email }
            | Operation::RemoveGroupMember { group: g, email } => vec![group(g), user(email)],
            Operation::AssignGroupRole { group: g, role }
            | Operation::UnassignGroupRole { group: g, role } => {
                vec![group(g), refs::role(role)]
            }
            Operation::CreateRole { .. } => vec![],
            Operation::UpdateRole { name, .. } | Operation::DeleteRole { name } => {
                vec![refs::role(name)]
            }
            Operation::CreateProjectRole { project: p, .. } => vec![project(p)],
            Operation::UpdateProjectRole {
                project: p, name, ..
            }
            | Operation::DeleteProjectRole { project: p, name } => {
                vec![project(p), project_role(p, name)]
            }
            Operation::AddProjectUser {
                project: p, email, ..
            }
            | Operation::UpdateProjectUser {
                project: p, email, ..
            }
            | Operation::RemoveProjectUser { project: p, email } => vec![project(p), user(email)],
            Operation::AssignProjectUserRole {
                project: p,
                email,
                role,
            }
            | Operation::UnassignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                vec![project(p), user(email), project_role(p, role)]
            }
            Operation::AddProjectGroup {
                project: p,
                group: g,
                ..
            }
            | Operation::ChangeProjectGroupRole {
                project: p,
                group: g,
                ..
            }
            | Operation::RemoveProjectGroup {
                project: p,
                group: g,
            } => vec![project(p), group(g)],
            Operation::AssignProjectGroupRole {
                project: p,
                group: g,
                role,
            }
            | Operation::UnassignProjectGroupRole {
                project: p,
                group: g,
                role,
            } => {
                vec![project(p), group(g), project_role(p, role)]
            }
            Operation::CreateServiceAccount { project: p, .. }
            | Operation::DeleteServiceAccount {
                project: p,
                id: Some(_),
                ..
            } => vec![project(p)],
            Operation::UpdateServiceAccount {
                project: p, name, ..
            }
            | Operation::DeleteServiceAccount {
                project: p,
                name,
                id: None,
            } => vec![project(p), refs::service_account(p, name)],
            Operation::UpdateRateLimit {
                project: p, model, ..
            } => vec![project(p), refs::rate_limit(p, model)],
            Operation::UploadCertificate { .. } => vec![],
            Operation::DeleteCertificate { name } => {
                vec![refs::certificate(name)]
            }
            Operation::ActivateCertificates { scope, names }
            | Operation::DeactivateCertificates { scope, names } => {
                let mut refs: Vec<IdRef> = names.iter().map(|n| refs::certificate(n)).collect();
                if let CertificateScope::Project(p) = scope {
                    refs.push(project(p));
                }
                refs
            }
            Operation::CreateAdminApiKey { .. } => vec![],
            Operation::DeleteAdminApiKey { id: Some(_), .. } => vec![],
            Operation::DeleteAdminApiKey { name, id: None } => {
                vec![refs::admin_api_key(name)]
            }
            // A key that is gone (its project archived or deleted) is already satisfied.
            Operation::Kind { id: Some(_), .. } => vec![],
            Operation::Kind {
                kind,
                project: None,
                ..
            } if kind == super::spend_alerts::ORG => vec![],
            Operation::Kind { project: p, .. } => p.iter().map(|p| project(p)).collect(),
        };
        ids.sort();
        ids.dedup();
        ids
    }
}
