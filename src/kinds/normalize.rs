//! One normal form for both sides of the diff, so only real differences become changes.
//!
//! - Emails are lower-cased and trimmed ([`normalize_email`]).
//! - Role lists (custom roles of users, groups, project members and project groups) become
//!   sorted sets of role *names*: a server role ID found in the live [`IdIndex`] is replaced
//!   by its name (project-scoped IDs only within their project), and a predefined role that
//!   merely restates the principal's base role (`role-api-project-member` on a `member`) is
//!   dropped. Role permissions are sorted sets; an empty description is no description.
//! - Every list is sorted by its natural key, so the input order never matters.
//!
//! The same function runs on desired and live, with the live ID index.

use std::collections::BTreeMap;

use super::{IdIndex, ResourceKind};
use crate::model::{Document, OrgRole, ProjectRole, Role, normalize_email};

/// Names and IDs that mean a predefined project role.
pub fn project_role_alias(name: &str) -> Option<ProjectRole> {
    match name.trim().to_ascii_lowercase().as_str() {
        "owner" | "role-api-project-owner" => Some(ProjectRole::Owner),
        "member" | "role-api-project-member" => Some(ProjectRole::Member),
        _ => None,
    }
}

/// Names and IDs that mean a predefined organization role.
pub fn org_role_alias(name: &str) -> Option<OrgRole> {
    match name.trim().to_ascii_lowercase().as_str() {
        "owner" | "role-api-organization-owner" => Some(OrgRole::Owner),
        "reader" | "role-api-organization-reader" => Some(OrgRole::Reader),
        _ => None,
    }
}

/// Reverse lookups from server role IDs to names.
struct RoleNames {
    /// id -> name.
    org: BTreeMap<String, String>,
    /// id -> natural key (`project:<project>/role:<name>`).
    project: BTreeMap<String, String>,
}

impl RoleNames {
    fn new(ids: &IdIndex) -> RoleNames {
        RoleNames {
            org: ids
                .of(ResourceKind::Role)
                .filter_map(|(key, id)| Some((id.clone(), key.strip_prefix("role:")?.to_string())))
                .collect(),
            project: ids
                .of(ResourceKind::ProjectRole)
                .map(|(key, id)| (id.clone(), key.clone()))
                .collect(),
        }
    }

    fn org_roles(&self, roles: &[String], base: Option<OrgRole>) -> Vec<String> {
        let mut out: Vec<String> = roles
            .iter()
            .map(|r| {
                self.org
                    .get(r.trim())
                    .cloned()
                    .unwrap_or_else(|| r.trim().to_string())
            })
            .filter(|r| base.is_none() || org_role_alias(r) != base)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn project_roles(&self, project: &str, roles: &[String], base: ProjectRole) -> Vec<String> {
        let mut out: Vec<String> = roles
            .iter()
            .map(|r| {
                let prefix = format!("project:{project}/role:");
                self.project
                    .get(r.trim())
                    .and_then(|key| key.strip_prefix(prefix.as_str()))
                    .map_or_else(|| r.trim().to_string(), str::to_string)
            })
            .filter(|r| project_role_alias(r) != Some(base))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn normalize_role(role: &Role) -> Role {
    let mut permissions: Vec<String> = role
        .permissions
        .iter()
        .map(|p| p.trim().to_string())
        .collect();
    permissions.sort();
    permissions.dedup();
    Role {
        name: role.name.clone(),
        permissions,
        description: role.description.clone().filter(|d| !d.trim().is_empty()),
    }
}

fn emails(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|e| normalize_email(e)).collect();
    out.sort();
    out.dedup();
    out
}

/// The normal form of `doc` (see the module doc). `ids` maps role IDs back to names.
pub fn normalize_document(doc: &Document, ids: &IdIndex) -> Document {
    let names = RoleNames::new(ids);
    let mut out = doc.clone();

    out.policy.protect.users = emails(&doc.policy.protect.users);
    out.policy.protect.projects.sort();
    out.policy.protect.groups.sort();
    out.policy.protect.service_accounts.sort();

    for user in &mut out.users {
        user.email = normalize_email(&user.email);
        *user.roles = names.org_roles(&user.roles, Some(user.role));
    }
    out.users.sort_by(|a, b| a.email.cmp(&b.email));

    for group in &mut out.groups {
        *group.members = emails(&group.members);
        *group.roles = names.org_roles(&group.roles, None);
    }
    out.groups.sort_by(|a, b| a.name.cmp(&b.name));

    out.roles = doc.roles.map(normalize_role);
    out.roles.sort_by(|a, b| a.name.cmp(&b.name));

    out.certificates.sort_by(|a, b| a.name.cmp(&b.name));
    out.admin_api_keys.sort_by(|a, b| a.name.cmp(&b.name));

    for project in &mut out.projects {
        let name = project.name.clone();
        for member in &mut project.members {
            member.email = normalize_email(&member.email);
            *member.roles = names.project_roles(&name, &member.roles, member.role);
        }
        project.members.sort_by(|a, b| a.email.cmp(&b.email));
        for group in &mut project.groups {
            *group.roles = names.project_roles(&name, &group.roles, group.role);
        }
        project.groups.sort_by(|a, b| a.name.cmp(&b.name));
        project.roles = project.roles.map(normalize_role);
        project.roles.sort_by(|a, b| a.name.cmp(&b.name));
        project.service_accounts.sort_by(|a, b| a.name.cmp(&b.name));
        project.certificates.sort();
        project.certificates.dedup();
        project.residency = project.residency.clone().filter(|r| !r.trim().is_empty());
        project.external_key_id = project
            .external_key_id
            .clone()
            .filter(|k| !k.trim().is_empty());
    }
    out.projects.sort_by(|a, b| a.name.cmp(&b.name));

    for invite in &mut out.invites {
        invite.email = normalize_email(&invite.email);
        invite.projects.sort();
        invite.projects.dedup();
    }
    out.invites.sort_by(|a, b| {
        (&a.email, a.status, a.role, &a.projects).cmp(&(&b.email, b.status, b.role, &b.projects))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Project, ProjectMember, User};

    #[test]
    fn aliases_and_ids_become_names() {
        let mut ids = IdIndex::default();
        ids.set(
            super::super::keys::refs::project_role("Search", "Reviewer"),
            "role_01PROJ".into(),
        );
        ids.set(
            super::super::keys::refs::role("billing-viewer"),
            "role_01ORG".into(),
        );
        let doc = Document {
            users: vec![User {
                email: " Bob@X.Example ".into(),
                role: OrgRole::Reader,
                roles: vec!["role_01ORG".into(), "reader".into()].into(),
            }]
            .into(),
            projects: vec![Project {
                name: "Search".into(),
                archived: false,
                residency: None,
                external_key_id: None,
                members: vec![ProjectMember {
                    email: "BOB@x.example".into(),
                    role: ProjectRole::Member,
                    roles: vec!["role-api-project-member".into(), "role_01PROJ".into()].into(),
                }]
                .into(),
                groups: vec![].into(),
                roles: vec![].into(),
                service_accounts: vec![].into(),
                rate_limits: BTreeMap::new(),
                certificates: vec![].into(),
                ..Default::default()
            }]
            .into(),
            ..Document::default()
        };
        let n = normalize_document(&doc, &ids);
        assert_eq!(n.users[0].email, "bob@x.example");
        assert_eq!(*n.users[0].roles, vec!["billing-viewer".to_string()]);
        assert_eq!(n.projects[0].members[0].email, "bob@x.example");
        assert_eq!(
            *n.projects[0].members[0].roles,
            vec!["Reviewer".to_string()]
        );
    }
}
