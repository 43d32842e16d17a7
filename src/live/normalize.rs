//! Raw API listings -> [`LiveState`]: the live org in the file's own shape, IDs set apart.
//!
//! Pure (no IO), so every rule below is unit-tested without a server:
//! - Emails are lower-cased ([`normalize_email`]); a member whose email cannot be resolved
//!   (neither in the row nor through the users list) is left out with a warning.
//! - Organization users flagged `is_service_account` are not people and are left out. A user
//!   role other than `owner` is read as `reader`.
//! - Project roles: `owner`/`member` and the predefined ids `role-api-project-owner`/
//!   `role-api-project-member` (or any predefined role named `owner`/`member`, whatever its
//!   project-scoped id) map to [`ProjectRole`]; assignment lists split into that predefined
//!   role and custom role *names*. A project group's role comes from its assignment list:
//!   `owner` if a predefined owner role is assigned, else `member`.
//! - A service account with role `none` (created without a key and not yet given a role) is
//!   shown as `member` and listed in [`LiveState::roleless_service_accounts`] so the plan can
//!   give it its declared role.
//! - Invites keep their status; their projects are named (an unknown project id is kept as
//!   is). `ids.invites` maps each email to its most relevant invite: pending, then expired,
//!   then accepted, newest first.
//! - Projects: a name shared by an active and archived project resolves to the active one.
//!   **Default project rule**: the active project named `Default project` (case-insensitive);
//!   if none, the oldest active project (by `created_at`, then id).
//! - **Key owner rule**: the admin API keys whose `redacted_value` matches the key in use
//!   (prefix and suffix); if they all belong to one owner, that owner's email through the
//!   users list (or the owner's `name` if it is an email). A service-account owner, no match,
//!   or matches with different owners give `None`.
//! - Certificates: org-level `active` from the org list; a project's `certificates` are the
//!   names active in its project list. Live certificates have no file: `file` is empty.
//! - Admin API keys: `expires_in_days` is rounded from `expires_at - created_at`. Objects
//!   without a name (certificates, admin keys) are keyed by their id.
//! - Everything is sorted by natural key, so the same org always gives the same state.

use std::collections::{BTreeMap, BTreeSet};

use super::{DuplicateKind, LiveDuplicate, LiveState};
use crate::api::admin_api_keys::AdminApiKey;
use crate::api::certificates::Certificate as WireCertificate;
use crate::api::groups::{Group as WireGroup, GroupUser, ProjectGroup as WireProjectGroup};
use crate::api::invites::{Invite as WireInvite, WireInviteStatus};
use crate::api::project_users::ProjectUser;
use crate::api::projects::Project as WireProject;
use crate::api::rate_limits::RateLimit as WireRateLimit;
use crate::api::service_accounts::ServiceAccount as WireServiceAccount;
use crate::api::types::{
    ApiKeyId, AssignedRole, GroupId, ProjectId, Role as WireRole, UserId, WireOrgRole,
    WireProjectRole,
};
use crate::api::users::User as WireUser;
use crate::kinds::ReadScope;
use crate::kinds::keys::refs;
use crate::model::{
    AdminApiKey as ModelAdminApiKey, Certificate, Document, Group, Invite, InviteProject,
    InviteStatus, OrgRole, Project, ProjectGroup, ProjectMember, ProjectRole, Role, ServiceAccount,
    User, normalize_email,
};

/// What the read fetched, before normalisation. `None` = not read.
#[derive(Debug, Default)]
pub(crate) struct Raw {
    pub users: Option<Vec<WireUser>>,
    pub invites: Option<Vec<WireInvite>>,
    pub projects: Option<Vec<WireProject>>,
    pub groups: Option<Vec<WireGroup>>,
    pub org_roles: Option<Vec<WireRole>>,
    pub certificates: Option<Vec<WireCertificate>>,
    pub admin_api_keys: Option<Vec<AdminApiKey>>,
    /// Admin keys whose redacted value matches the key in use.
    pub keys_in_use: BTreeSet<ApiKeyId>,
    pub user_roles: BTreeMap<UserId, Vec<AssignedRole>>,
    pub group_users: BTreeMap<GroupId, Vec<GroupUser>>,
    pub group_roles: BTreeMap<GroupId, Vec<AssignedRole>>,
    pub project_users: BTreeMap<ProjectId, Vec<ProjectUser>>,
    pub project_user_roles: BTreeMap<(ProjectId, UserId), Vec<AssignedRole>>,
    pub project_groups: BTreeMap<ProjectId, Vec<WireProjectGroup>>,
    pub project_group_roles: BTreeMap<(ProjectId, GroupId), Vec<AssignedRole>>,
    pub service_accounts: BTreeMap<ProjectId, Vec<WireServiceAccount>>,
    pub project_roles: BTreeMap<ProjectId, Vec<WireRole>>,
    pub rate_limits: BTreeMap<ProjectId, Vec<WireRateLimit>>,
    pub project_certificates: BTreeMap<ProjectId, Vec<WireCertificate>>,
}

/// A predefined project role from a role string or id (`owner`, `role-api-project-owner`).
pub fn project_role_of(text: &str) -> Option<ProjectRole> {
    match text.trim().to_ascii_lowercase().as_str() {
        "owner" | "role-api-project-owner" => Some(ProjectRole::Owner),
        "member" | "role-api-project-member" => Some(ProjectRole::Member),
        _ => None,
    }
}

/// Whether an assigned role is a predefined one (by flag or by the predefined id prefix).
fn is_predefined(role: &AssignedRole) -> bool {
    role.predefined_role || role.id.as_str().starts_with("role-api-")
}

/// The predefined project role among assignments (owner wins), and the custom role names.
fn split_project_roles(assigned: &[AssignedRole]) -> (Option<ProjectRole>, Vec<String>) {
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
fn remember_project_role_ids(
    ids: &mut crate::kinds::IdIndex,
    project: &str,
    assigned: Option<&Vec<AssignedRole>>,
) {
    for role in assigned.into_iter().flatten().filter(|r| !is_predefined(r)) {
        let reference = refs::project_role(project, &role.name);
        ids.insert_first(reference.kind, reference.key, role.id.to_string());
    }
}

fn custom_names(assigned: Option<&Vec<AssignedRole>>) -> Vec<String> {
    let names: BTreeSet<String> = assigned
        .into_iter()
        .flatten()
        .filter(|r| !is_predefined(r))
        .map(|r| r.name.clone())
        .collect();
    names.into_iter().collect()
}

fn custom_roles(roles: &[WireRole]) -> Vec<(Role, String)> {
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

fn invite_status(status: &WireInviteStatus) -> InviteStatus {
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
pub fn default_project(projects: &[WireProject]) -> Option<&WireProject> {
    let active = || {
        projects
            .iter()
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

pub(crate) fn normalize(raw: Raw, scope: &ReadScope) -> LiveState {
    let mut live = LiveState {
        scope: scope.clone(),
        ..LiveState::default()
    };
    let mut doc = Document::default();

    // Users: id -> email, for every lookup below.
    let mut email_of: BTreeMap<UserId, String> = BTreeMap::new();
    if let Some(users) = &raw.users {
        let mut by_email: BTreeMap<String, User> = BTreeMap::new();
        for user in users {
            if user.is_service_account == Some(true) {
                continue;
            }
            let Some(email) = user
                .email
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(normalize_email)
            else {
                tracing::warn!(user = %user.id, "live user without an email is left out");
                continue;
            };
            email_of.insert(user.id.clone(), email.clone());
            if by_email.contains_key(&email) {
                tracing::warn!(%email, "two live users share this email; keeping the first");
                continue;
            }
            let role = match user.role {
                Some(WireOrgRole::Owner) => OrgRole::Owner,
                _ => OrgRole::Reader,
            };
            let roles = custom_names(raw.user_roles.get(&user.id));
            live.ids.set(refs::user(&email), user.id.to_string());
            by_email.insert(
                email.clone(),
                User {
                    email,
                    role,
                    roles: roles.into(),
                },
            );
        }
        doc.users = by_email.into_values().collect();
    }
    let resolve_email = |id: &UserId, email: Option<&str>| -> Option<String> {
        email
            .filter(|e| !e.trim().is_empty())
            .map(normalize_email)
            .or_else(|| email_of.get(id).cloned())
    };

    // Projects: names by id; active wins a name clash.
    let mut project_name: BTreeMap<ProjectId, String> = BTreeMap::new();
    if let Some(projects) = &raw.projects {
        let mut ordered: Vec<&WireProject> = projects.iter().filter(|p| p.name.is_some()).collect();
        ordered.sort_by_key(|p| (p.is_archived(), p.created_at, p.id.clone()));
        for project in ordered {
            let name = project.name.clone().unwrap_or_default();
            project_name.insert(project.id.clone(), name.clone());
            match live.ids.get(&refs::project(&name)) {
                // Two active projects of one name (an archived one of a reused name is not).
                Some(kept) if !project.is_archived() => {
                    live.duplicates.push(LiveDuplicate {
                        kind: DuplicateKind::Project,
                        project: Some(name.clone()),
                        name: name.clone(),
                        kept: kept.clone(),
                        extra: project.id.to_string(),
                    });
                }
                Some(_) => {}
                None => {
                    live.ids.set(refs::project(&name), project.id.to_string());
                }
            }
        }
        live.default_project = default_project(projects).and_then(|p| p.name.clone());
    }
    let name_of_project = |id: &ProjectId| {
        project_name
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };

    // Invites.
    if let Some(invites) = &raw.invites {
        let mut best: BTreeMap<String, (u8, i64, String)> = BTreeMap::new();
        let mut out: Vec<Invite> = Vec::new();
        for invite in invites {
            let email = normalize_email(&invite.email);
            let status = invite_status(&invite.status);
            let role = match invite.role {
                WireOrgRole::Owner => OrgRole::Owner,
                _ => OrgRole::Reader,
            };
            let mut projects: Vec<InviteProject> = invite
                .projects
                .iter()
                .map(|p| InviteProject {
                    name: name_of_project(&p.id),
                    role: project_role_of(p.role.as_str()).unwrap_or(ProjectRole::Member),
                })
                .collect();
            projects.sort();
            let rank = match status {
                InviteStatus::Pending => 0,
                InviteStatus::Expired => 1,
                InviteStatus::Accepted => 2,
            };
            let created = invite.created_at.or(invite.invited_at).unwrap_or(0);
            let candidate = (rank, -created, invite.id.to_string());
            if best.get(&email).is_none_or(|current| candidate < *current) {
                best.insert(email.clone(), candidate);
            }
            out.push(Invite {
                email,
                role,
                status,
                projects,
            });
        }
        out.sort_by(|a, b| (&a.email, a.status).cmp(&(&b.email, b.status)));
        doc.invites = out;
        for (email, (_, _, id)) in best {
            live.ids.set(refs::invite(&email), id);
        }
    }

    // Groups.
    if let Some(groups) = &raw.groups {
        let mut out: BTreeMap<String, Group> = BTreeMap::new();
        for group in groups {
            if out.contains_key(&group.name) {
                tracing::warn!(group = %group.name, "two live groups share this name; keeping the first");
                continue;
            }
            let members: BTreeSet<String> = raw
                .group_users
                .get(&group.id)
                .into_iter()
                .flatten()
                .filter_map(|u| resolve_email(&u.id, u.email.as_deref()))
                .collect();
            let roles = custom_names(raw.group_roles.get(&group.id));
            live.ids.set(refs::group(&group.name), group.id.to_string());
            out.insert(
                group.name.clone(),
                Group {
                    name: group.name.clone(),
                    members: members.into_iter().collect(),
                    roles: roles.into(),
                },
            );
        }
        doc.groups = out.into_values().collect();
    }
    let group_name_of: BTreeMap<GroupId, String> = raw
        .groups
        .iter()
        .flatten()
        .map(|g| (g.id.clone(), g.name.clone()))
        .collect();

    // Custom organization roles.
    if let Some(roles) = &raw.org_roles {
        for (role, id) in custom_roles(roles) {
            live.ids.set(refs::role(&role.name), id);
            doc.roles.push(role);
        }
    }

    // Certificates (org level).
    let mut certificate_name: BTreeMap<String, String> = BTreeMap::new();
    if let Some(certificates) = &raw.certificates {
        let mut out: BTreeMap<String, Certificate> = BTreeMap::new();
        for cert in certificates {
            let name = cert
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| cert.id.to_string());
            certificate_name.insert(cert.id.to_string(), name.clone());
            if out.contains_key(&name) {
                tracing::warn!(certificate = %name, "two live certificates share this name; keeping the first");
                continue;
            }
            live.ids.set(refs::certificate(&name), cert.id.to_string());
            out.insert(
                name.clone(),
                Certificate {
                    name,
                    file: String::new(),
                    active: cert.active.unwrap_or(false),
                },
            );
        }
        doc.certificates = out.into_values().collect();
    }

    // Admin API keys and the key owner.
    if let Some(keys) = &raw.admin_api_keys {
        let mut out: BTreeMap<String, ModelAdminApiKey> = BTreeMap::new();
        // Oldest first: of keys sharing a name, the oldest is the one managed.
        let mut oldest_first: Vec<&AdminApiKey> = keys.iter().collect();
        oldest_first.sort_by(|a, b| {
            (a.created_at.unwrap_or(i64::MAX), &a.id)
                .cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
        });
        for key in oldest_first {
            let name = key
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| key.id.to_string());
            let expires_in_days = match (key.created_at, key.expires_at) {
                (Some(created), Some(expires)) if expires > created => {
                    u32::try_from(((expires - created) as f64 / 86_400.0).round() as i64).ok()
                }
                _ => None,
            };
            match live.ids.get(&refs::admin_api_key(&name)) {
                Some(kept) => live.duplicates.push(LiveDuplicate {
                    kind: DuplicateKind::AdminApiKey,
                    project: None,
                    name: name.clone(),
                    kept: kept.clone(),
                    extra: key.id.to_string(),
                }),
                None => {
                    live.ids.set(refs::admin_api_key(&name), key.id.to_string());
                }
            }
            if raw.keys_in_use.contains(&key.id) {
                live.admin_keys_in_use.insert(name.clone());
            }
            out.entry(name.clone()).or_insert(ModelAdminApiKey {
                name,
                expires_in_days,
                sink: None,
            });
        }
        doc.admin_api_keys = out.into_values().collect();
        let owners: BTreeSet<Option<String>> = keys
            .iter()
            .filter(|k| raw.keys_in_use.contains(&k.id))
            .map(|k| {
                if k.owner.owner_type.as_deref() == Some("service_account") {
                    return None;
                }
                let by_id = k
                    .owner
                    .id
                    .as_ref()
                    .and_then(|id| email_of.get(&UserId(id.clone())).cloned());
                by_id.or_else(|| {
                    k.owner
                        .name
                        .as_deref()
                        .filter(|n| n.contains('@'))
                        .map(normalize_email)
                })
            })
            .collect();
        if owners.len() == 1 {
            live.key_owner = owners.into_iter().next().flatten();
        }
    }

    // Projects with their sub-collections.
    if let Some(projects) = &raw.projects {
        let mut out: BTreeMap<String, Project> = BTreeMap::new();
        let mut ordered: Vec<&WireProject> = projects.iter().filter(|p| p.name.is_some()).collect();
        ordered.sort_by_key(|p| (p.is_archived(), p.created_at, p.id.clone()));
        for wire in ordered {
            let name = wire.name.clone().unwrap_or_default();
            if out.contains_key(&name) {
                continue;
            }
            let mut project = Project {
                name: name.clone(),
                archived: wire.is_archived(),
                residency: wire.residency.clone(),
                external_key_id: wire.external_key_id.clone(),
                members: Vec::new().into(),
                groups: Vec::new().into(),
                roles: Vec::new().into(),
                service_accounts: Vec::new().into(),
                rate_limits: BTreeMap::new(),
                certificates: Vec::new().into(),
                ..Project::default()
            };
            let id = &wire.id;

            let mut members: BTreeMap<String, ProjectMember> = BTreeMap::new();
            for user in raw.project_users.get(id).into_iter().flatten() {
                let Some(email) = resolve_email(&user.id, user.email.as_deref()) else {
                    tracing::warn!(project = %name, user = %user.id, "project member without an email is left out");
                    continue;
                };
                let assigned = raw.project_user_roles.get(&(id.clone(), user.id.clone()));
                remember_project_role_ids(&mut live.ids, &name, assigned);
                let (_, roles) =
                    split_project_roles(assigned.map(Vec::as_slice).unwrap_or_default());
                let role = match &user.role {
                    WireProjectRole::Owner => ProjectRole::Owner,
                    WireProjectRole::Member => ProjectRole::Member,
                    other => project_role_of(other.as_str()).unwrap_or(ProjectRole::Member),
                };
                members.entry(email.clone()).or_insert(ProjectMember {
                    email,
                    role,
                    roles: roles.into(),
                });
            }
            project.members = members.into_values().collect();

            let mut groups: BTreeMap<String, ProjectGroup> = BTreeMap::new();
            for group in raw.project_groups.get(id).into_iter().flatten() {
                let group_name = group_name_of
                    .get(&group.group_id)
                    .cloned()
                    .unwrap_or_else(|| group.group_name.clone());
                let assigned = raw
                    .project_group_roles
                    .get(&(id.clone(), group.group_id.clone()));
                remember_project_role_ids(&mut live.ids, &name, assigned);
                let (role, roles) =
                    split_project_roles(assigned.map(Vec::as_slice).unwrap_or_default());
                let role = role.unwrap_or(ProjectRole::Member);
                groups.entry(group_name.clone()).or_insert(ProjectGroup {
                    name: group_name,
                    role,
                    roles: roles.into(),
                });
            }
            project.groups = groups.into_values().collect();

            for (role, role_id) in custom_roles(
                raw.project_roles
                    .get(id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ) {
                live.ids.set(refs::project_role(&name, &role.name), role_id);
                project.roles.push(role);
            }

            let mut accounts: BTreeMap<String, ServiceAccount> = BTreeMap::new();
            let mut oldest_first: Vec<_> =
                raw.service_accounts.get(id).into_iter().flatten().collect();
            oldest_first.sort_by(|a, b| {
                (a.created_at.unwrap_or(i64::MAX), &a.id)
                    .cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
            });
            for account in oldest_first {
                if accounts.contains_key(&account.name) {
                    let kept = live
                        .ids
                        .get(&refs::service_account(&name, &account.name))
                        .cloned()
                        .unwrap_or_default();
                    live.duplicates.push(LiveDuplicate {
                        kind: DuplicateKind::ServiceAccount,
                        project: Some(name.clone()),
                        name: account.name.clone(),
                        kept,
                        extra: account.id.to_string(),
                    });
                    continue;
                }
                let role = match &account.role {
                    WireProjectRole::Owner => ProjectRole::Owner,
                    WireProjectRole::Member => ProjectRole::Member,
                    other => {
                        let mapped = project_role_of(other.as_str());
                        if mapped.is_none() {
                            live.roleless_service_accounts
                                .insert((name.clone(), account.name.clone()));
                        }
                        mapped.unwrap_or(ProjectRole::Member)
                    }
                };
                live.ids.set(
                    refs::service_account(&name, &account.name),
                    account.id.to_string(),
                );
                accounts.insert(
                    account.name.clone(),
                    ServiceAccount {
                        name: account.name.clone(),
                        role,
                        sink: None,
                    },
                );
            }
            project.service_accounts = accounts.into_values().collect();

            for limit in raw.rate_limits.get(id).into_iter().flatten() {
                live.ids
                    .set(refs::rate_limit(&name, &limit.model), limit.id.to_string());
                project
                    .rate_limits
                    .insert(limit.model.clone(), limit.to_model());
            }

            let active: BTreeSet<String> = raw
                .project_certificates
                .get(id)
                .into_iter()
                .flatten()
                .filter(|c| c.active == Some(true))
                .map(|c| {
                    certificate_name
                        .get(c.id.as_str())
                        .cloned()
                        .unwrap_or_else(|| {
                            c.name
                                .clone()
                                .filter(|n| !n.is_empty())
                                .unwrap_or_else(|| c.id.to_string())
                        })
                })
                .collect();
            project.certificates = active.into_iter().collect();

            out.insert(name, project);
        }
        doc.projects = out.into_values().collect();
    }

    live.org = doc;
    live.duplicates.sort();
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::RoleId;

    fn assigned(id: &str, name: &str, predefined: bool) -> AssignedRole {
        AssignedRole {
            id: RoleId::from(id),
            name: name.into(),
            predefined_role: predefined,
            ..AssignedRole::default()
        }
    }

    fn project(id: &str, name: &str, created: i64, archived: bool) -> WireProject {
        WireProject {
            id: ProjectId::from(id),
            name: Some(name.into()),
            created_at: Some(created),
            status: Some(if archived { "archived" } else { "active" }.into()),
            ..WireProject::default()
        }
    }

    #[test]
    fn role_aliases_and_project_scoped_ids_normalise_to_project_roles() {
        assert_eq!(
            project_role_of("role-api-project-owner"),
            Some(ProjectRole::Owner)
        );
        assert_eq!(project_role_of("Member"), Some(ProjectRole::Member));
        assert_eq!(project_role_of("viewer"), None);
        let (role, custom) = split_project_roles(&[
            assigned("role_01PROJSCOPED", "member", true),
            assigned("role_custom", "deployer", false),
        ]);
        assert_eq!(role, Some(ProjectRole::Member));
        assert_eq!(custom, vec!["deployer".to_string()]);
        let (role, _) = split_project_roles(&[
            assigned("role-api-project-member", "x", false),
            assigned("role-api-project-owner", "", false),
        ]);
        assert_eq!(role, Some(ProjectRole::Owner));
    }

    #[test]
    fn default_project_is_named_or_oldest_active() {
        let projects = vec![
            project("proj_b", "B", 5, false),
            project("proj_old", "Old", 1, true),
            project("proj_a", "A", 3, false),
        ];
        assert_eq!(
            default_project(&projects).map(|p| p.id.as_str()),
            Some("proj_a")
        );
        let mut named = projects.clone();
        named.push(project("proj_d", "Default Project", 9, false));
        assert_eq!(
            default_project(&named).map(|p| p.id.as_str()),
            Some("proj_d")
        );
    }

    #[test]
    fn users_invites_and_members_normalise() {
        let raw = Raw {
            users: Some(vec![
                WireUser {
                    id: "user_1".into(),
                    email: Some("Alice@X.example".into()),
                    role: Some(WireOrgRole::Owner),
                    ..WireUser::default()
                },
                WireUser {
                    id: "user_2".into(),
                    email: Some("bob@x.example".into()),
                    role: Some(WireOrgRole::Other("admin".into())),
                    ..WireUser::default()
                },
                WireUser {
                    id: "user_sa".into(),
                    email: Some("sa@x.example".into()),
                    is_service_account: Some(true),
                    ..WireUser::default()
                },
            ]),
            projects: Some(vec![
                project("proj_1", "Search", 2, false),
                project("proj_0", "Search", 1, true),
            ]),
            invites: Some(vec![
                WireInvite {
                    id: "invite-old".into(),
                    email: "C@x.example".into(),
                    status: WireInviteStatus::Expired,
                    created_at: Some(1),
                    ..WireInvite::default()
                },
                WireInvite {
                    id: "invite-new".into(),
                    email: "c@x.example".into(),
                    role: WireOrgRole::Owner,
                    status: WireInviteStatus::Pending,
                    created_at: Some(2),
                    projects: vec![crate::api::invites::InviteProject {
                        id: "proj_1".into(),
                        role: WireProjectRole::Owner,
                    }],
                    ..WireInvite::default()
                },
            ]),
            project_users: BTreeMap::from([(
                ProjectId::from("proj_1"),
                vec![ProjectUser {
                    id: "user_1".into(),
                    email: None,
                    role: WireProjectRole::Other("role-api-project-owner".into()),
                    ..ProjectUser::default()
                }],
            )]),
            ..Raw::default()
        };
        let live = normalize(raw, &ReadScope::everything());
        let emails: Vec<_> = live
            .org
            .users
            .iter()
            .map(|u| (u.email.as_str(), u.role))
            .collect();
        assert_eq!(
            emails,
            vec![
                ("alice@x.example", OrgRole::Owner),
                ("bob@x.example", OrgRole::Reader)
            ]
        );
        assert_eq!(
            live.ids
                .get(&refs::user("alice@x.example"))
                .map(String::as_str),
            Some("user_1")
        );
        assert_eq!(
            live.ids.get(&refs::project("Search")).map(String::as_str),
            Some("proj_1"),
            "active wins the name"
        );
        assert_eq!(live.org.projects.len(), 1);
        let member = &live.org.projects[0].members[0];
        assert_eq!(
            (member.email.as_str(), member.role),
            ("alice@x.example", ProjectRole::Owner)
        );
        assert_eq!(live.org.invites.len(), 2);
        assert_eq!(
            live.ids
                .get(&refs::invite("c@x.example"))
                .map(String::as_str),
            Some("invite-new")
        );
        let pending = live
            .org
            .invites
            .iter()
            .find(|i| i.status == InviteStatus::Pending)
            .expect("pending invite");
        assert_eq!(
            pending.projects,
            vec![InviteProject {
                name: "Search".into(),
                role: ProjectRole::Owner
            }]
        );
        assert_eq!(live.default_project.as_deref(), Some("Search"));
    }

    #[test]
    fn key_owner_comes_from_the_matching_admin_key() {
        let key = |id: &str, owner: &str| AdminApiKey {
            id: id.into(),
            name: Some(id.into()),
            owner: crate::api::admin_api_keys::AdminApiKeyOwner {
                id: Some(owner.into()),
                owner_type: Some("user".into()),
                ..Default::default()
            },
            ..AdminApiKey::default()
        };
        let raw = Raw {
            users: Some(vec![WireUser {
                id: "user_1".into(),
                email: Some("root@x.example".into()),
                ..WireUser::default()
            }]),
            admin_api_keys: Some(vec![key("key_a", "user_1"), key("key_b", "user_2")]),
            keys_in_use: BTreeSet::from([ApiKeyId::from("key_a")]),
            ..Raw::default()
        };
        let live = normalize(raw, &ReadScope::everything());
        assert_eq!(live.key_owner.as_deref(), Some("root@x.example"));
        assert_eq!(
            live.admin_keys_in_use,
            BTreeSet::from(["key_a".to_string()]),
            "the key in use is known by name"
        );

        let ambiguous = Raw {
            admin_api_keys: Some(vec![key("key_a", "user_1"), key("key_b", "user_2")]),
            keys_in_use: BTreeSet::from([ApiKeyId::from("key_a"), ApiKeyId::from("key_b")]),
            ..Raw::default()
        };
        assert_eq!(
            normalize(ambiguous, &ReadScope::everything()).key_owner,
            None
        );
    }

    #[test]
    fn roleless_service_accounts_are_flagged() {
        let raw = Raw {
            projects: Some(vec![project("proj_1", "P", 1, false)]),
            service_accounts: BTreeMap::from([(
                ProjectId::from("proj_1"),
                vec![WireServiceAccount {
                    id: "svc_1".into(),
                    name: "ci".into(),
                    role: WireProjectRole::None,
                    created_at: None,
                }],
            )]),
            ..Raw::default()
        };
        let live = normalize(raw, &ReadScope::everything());
        assert_eq!(
            live.org.projects[0].service_accounts[0].role,
            ProjectRole::Member
        );
        assert!(
            live.roleless_service_accounts
                .contains(&("P".to_string(), "ci".to_string()))
        );
        assert_eq!(
            live.ids
                .get(&refs::service_account("P", "ci"))
                .map(String::as_str),
            Some("svc_1")
        );
    }

    #[test]
    fn live_duplicates_of_a_natural_key_are_recorded_oldest_kept() {
        let account = |id: &str, created: i64| WireServiceAccount {
            id: id.into(),
            name: "ci".into(),
            role: WireProjectRole::Member,
            created_at: Some(created),
        };
        let raw = Raw {
            projects: Some(vec![
                project("proj_new", "Twin", 5, false),
                project("proj_old", "Twin", 1, false),
                // An archived project of a reused name is not a duplicate.
                project("proj_gone", "Twin", 0, true),
            ]),
            service_accounts: BTreeMap::from([(
                ProjectId::from("proj_old"),
                vec![account("svc_b", 9), account("svc_a", 2)],
            )]),
            ..Raw::default()
        };
        let live = normalize(raw, &ReadScope::everything());
        assert_eq!(
            live.ids.get(&refs::project("Twin")).map(String::as_str),
            Some("proj_old")
        );
        assert_eq!(
            live.duplicates,
            vec![
                LiveDuplicate {
                    kind: DuplicateKind::Project,
                    project: Some("Twin".into()),
                    name: "Twin".into(),
                    kept: "proj_old".into(),
                    extra: "proj_new".into(),
                },
                LiveDuplicate {
                    kind: DuplicateKind::ServiceAccount,
                    project: Some("Twin".into()),
                    name: "ci".into(),
                    kept: "svc_a".into(),
                    extra: "svc_b".into(),
                },
            ]
        );
    }
}
