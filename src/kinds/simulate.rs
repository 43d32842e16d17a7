//! Helpers of the kinds' `simulate` (test support: a tiny, pure model of what the API does
//! with each operation, so tests can check convergence). Invites stay pending (nobody
//! accepts them here), as in the real world right after apply.

pub(crate) use super::LiveState;
pub(crate) use crate::model::{
    AdminApiKey, Certificate, Group, Invite, InviteStatus, Project, ProjectGroup, ProjectMember,
    Role, ServiceAccount, normalize_email,
};

pub(crate) fn project<'a>(state: &'a mut LiveState, name: &str) -> &'a mut Project {
    state
        .org
        .projects
        .iter_mut()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("simulated apply: project {name} exists"))
}

pub(crate) fn group<'a>(state: &'a mut LiveState, name: &str) -> &'a mut Group {
    state
        .org
        .groups
        .iter_mut()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("simulated apply: group {name} exists"))
}

pub(crate) fn same_email(a: &str, b: &str) -> bool {
    normalize_email(a) == normalize_email(b)
}

pub(crate) fn new_role(name: &str, permissions: &[String], description: &Option<String>) -> Role {
    Role {
        name: name.to_string(),
        permissions: permissions.to_vec(),
        description: description.clone(),
    }
}

pub(crate) fn apply_update(role: &mut Role, update: &super::RoleUpdate) {
    if let Some(p) = &update.permissions {
        role.permissions = p.clone();
    }
    if let Some(d) = &update.description {
        role.description = d.clone();
    }
}
