//! What the API's wire shapes mean, shared by the kinds that read them: role aliases and
//! predefined roles, custom role names from assignment lists, invite statuses, the
//! default-project rule. Pure (no IO); the rules are unit-tested in `tests` below.
//!
//! - Project roles: `owner`/`member` and the predefined ids `role-api-project-owner`/
//!   `role-api-project-member` (or any predefined role named `owner`/`member`, whatever its
//!   project-scoped id) map to [`ProjectRole`]; assignment lists split into that predefined
//!   role and custom role *names*.
//! - **Default project rule**: the active project named `Default project` (case-insensitive);
//!   if none, the oldest active project (by `created_at`, then id).

use std::collections::BTreeSet;

use super::IdIndex;
use super::keys::refs;
use crate::api::invites::WireInviteStatus;
use crate::api::projects::Project as WireProject;
use crate::api::types::{AssignedRole, Role as WireRole};
use crate::model::{InviteStatus, ProjectRole, Role};

/// A predefined project role from a role string or id (`owner`, `role-api-project-owner`).
pub fn project_role_of(text: &str) -> Option<ProjectRole> {
    match text.trim().to_ascii_lowercase().as_str() {
        "owner" | "role-api-project-owner" => Some(ProjectRole::Owner),
        "member" | "role-api-project-member" => Some(ProjectRole::Member),
        _ => None,
    }
}

/// Whether an assigned role is a predefined one (by flag or by the predefined id prefix).
pub(crate) fn is_predefined(role: &AssignedRole) -> bool {
    role.predefined_role || role.id.as_str().starts_with("role-api-")
}

/// The predefined project role among assignments (owner wins), and the custom role names.
pub(crate) fn split_project_roles(
    assigned: &[&AssignedRole],
) -> (Option<ProjectRole>, Vec<String>) {
    let mut predefined = None;
    let mut custom = BTreeSet::new();
    for role in assigned {
        if is_predefined(role) {
            let mapped = project_role_of(role.id.as_str()).or_else(|| project_role_of(&role.name));
            if mapped == Some(ProjectRole::Owner) || predefined.is_none() {
                predefined = mapped.or(predefined);
            }
        } else {
            custom.insert(role.name.clone());
        }
    }
    (predefined, custom.into_iter().collect())
}

/// Records the ids of the custom project roles seen in an assignment list. The project's
/// role list is read only when the file manages project roles, but a revocation of a role
/// that is assigned live (and not declared) still needs the role's id.
pub(crate) fn remember_project_role_ids(
    ids: &mut IdIndex,
    project: &str,
    assigned: Option<&[&AssignedRole]>,
) {
    for role in assigned.into_iter().flatten().filter(|r| !is_predefined(r)) {
        let reference = refs::project_role(project, &role.name);
        ids.insert_first(reference.kind, reference.key, role.id.to_string());
    }
}

pub(crate) fn custom_names(assigned: Option<&[&AssignedRole]>) -> Vec<String> {
    let names: BTreeSet<String> = assigned
        .into_iter()
        .flatten()
        .filter(|r| !is_predefined(r))
        .map(|r| r.name.clone())
        .collect();
    names.into_iter().collect()
}

pub(crate) fn custom_roles(roles: &[&WireRole]) -> Vec<(Role, String)> {
    let mut out: Vec<(Role, String)> = roles
        .iter()
        .filter(|r| !r.predefined_role)
        .map(|r| {
            let mut permissions = r.permissions.clone();
            permissions.sort();
            permissions.dedup();
            (
                Role {
                    name: r.name.clone(),
                    permissions,
                    description: r.description.clone(),
                },
                r.id.to_string(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    out.dedup_by(|a, b| a.0.name == b.0.name);
    out
}

pub(crate) fn invite_status(status: &WireInviteStatus) -> InviteStatus {
    match status {
        WireInviteStatus::Pending => InviteStatus::Pending,
        WireInviteStatus::Expired => InviteStatus::Expired,
        WireInviteStatus::Accepted => InviteStatus::Accepted,
        WireInviteStatus::Other(other) => {
            tracing::warn!("invite status {other:?} is unknown; treating it as pending");
            InviteStatus::Pending
        }
    }
}

/// The default-project rule (module doc).
pub fn default_project<'p>(projects: &[&'p WireProject]) -> Option<&'p WireProject> {
    let active = || {
        projects
            .iter()
            .copied()
            .filter(|p| !p.is_archived() && p.name.is_some())
    };
    active()
        .find(|p| {
            p.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("default project"))
        })
        .or_else(|| {
            active().min_by(|a, b| {
                (a.created_at.unwrap_or(i64::MAX), &a.id)
                    .cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
            })
        })
}
