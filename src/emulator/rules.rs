//! Every behaviour the reference leaves UNVERIFIED is decided here, once, and documented in
//! `docs/emulator.md` ("Behaviour choices"). Routes call these instead of deciding locally.

use axum::http::StatusCode;

use super::state::{KeyOwner, OrgState, Project, User};

/// Name of the organization's default project in a fresh org (the real dashboard calls it
/// "Default project").
pub const DEFAULT_PROJECT_NAME: &str = "Default project";

/// Certificates carry no parsed validity; they are valid from upload for this long.
pub const CERTIFICATE_VALIDITY_SECONDS: i64 = 365 * 24 * 3600;

/// Documented: at most 50 certificates per organization.
pub const MAX_CERTIFICATES: usize = 50;

/// Documented: at most 10 certificate ids per activate/deactivate call.
pub const MAX_CERTIFICATES_PER_TOGGLE: usize = 10;

/// Invites expire after 7 days (duration UNVERIFIED).
pub const INVITE_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

/// Status for a name that is already taken (role names, per scope). UNVERIFIED in the
/// reference; the API declares only 400 for the operations that reject input, so a duplicate
/// is a 400 `invalid_request_error` rather than a 409.
pub const DUPLICATE_NAME_STATUS: StatusCode = StatusCode::BAD_REQUEST;

// Which names are unique (reference §7: "Uniqueness constraints ... UNVERIFIED"). Only role
// names are: the spec calls them so (`PublicCreateOrganizationRoleBody.role_name` and
// `Role.name`: "Unique name for the role"), per scope (`routes::roles`). Nothing says
// project, group, service-account (§6: "names are not documented as unique") or certificate
// names are, so two objects may share one, an archived project's name included: a client
// that retries a create whose success it never heard of gets a second object, as it would
// from the API, and orgops's handling of live duplicates is exercised.

/// Removing or demoting the last organization owner is refused with 400 (UNVERIFIED).
pub fn would_remove_last_owner(state: &OrgState, user_id: &str) -> bool {
    let Some(user) = state.users.get(user_id) else {
        return false;
    };
    user.role == "owner" && state.users.values().filter(|u| u.role == "owner").count() <= 1
}

/// Archiving the default project is refused with 400 (UNVERIFIED; the dashboard offers no
/// way to do it, and the default project cannot be modified).
pub const DEFAULT_PROJECT_ARCHIVABLE: bool = false;

/// Deleting a service-account-owned project API key through
/// `DELETE /organization/projects/{id}/api_keys/{key}`: the spec says 400, SDK 3.51 says it
/// is allowed. Default follows the spec; `EmulatorOptions::allow_service_account_key_delete`
/// switches it.
pub const DEFAULT_ALLOW_SERVICE_ACCOUNT_KEY_DELETE: bool = false;

/// Cascade when a user leaves the organization (UNVERIFIED): their project memberships,
/// group memberships and project role assignments go; their user-owned project API keys are
/// deleted. Pending invites for the same email are left alone.
pub fn on_user_removed(state: &mut OrgState, user: &User) {
    for project in state.projects.values_mut() {
        project.users.shift_remove(&user.id);
        project
            .api_keys
            .retain(|_, k| k.owner != KeyOwner::User(user.id.clone()));
    }
    for group in state.groups.values_mut() {
        group.members.shift_remove(&user.id);
    }
    for key in state.admin_keys.values_mut() {
        if key.owner_user_id.as_deref() == Some(user.id.as_str()) {
            key.owner_user_id = None;
        }
    }
}

/// Archiving empties a project of people and machines: "archived projects have no users /
/// service accounts" (reference §3.8). Their keys go with the accounts; group grants too.
/// Its certificate activations go too (UNVERIFIED): an archived project "cannot be used or
/// updated", so a certificate active there could otherwise never be deactivated and deleted.
pub fn on_project_archived(project: &mut Project) {
    project.users.clear();
    project.service_accounts.clear();
    project.api_keys.clear();
    project.groups.clear();
    project.certificates.clear();
}

/// Cascade when a group is deleted (UNVERIFIED): its project grants go with it.
pub fn on_group_removed(state: &mut OrgState, group_id: &str) {
    for project in state.projects.values_mut() {
        project.groups.shift_remove(group_id);
    }
}

/// Deleting a role that is still assigned (UNVERIFIED): allowed; the assignments go with it.
pub fn on_org_role_removed(state: &mut OrgState, role_id: &str) {
    for user in state.users.values_mut() {
        user.roles.shift_remove(role_id);
    }
    for group in state.groups.values_mut() {
        group.roles.shift_remove(role_id);
    }
}

/// Same for a custom project role within its project.
pub fn on_project_role_removed(state: &mut OrgState, project_id: &str, role_id: &str) {
    if let Some(project) = state.projects.get_mut(project_id) {
        for member in project.users.values_mut() {
            member.roles.shift_remove(role_id);
        }
        for grant in project.groups.values_mut() {
            grant.roles.shift_remove(role_id);
        }
    }
}

/// Deleting a service account deletes its API keys (UNVERIFIED, but a key without its
/// account could not authenticate anything).
pub fn on_service_account_removed(state: &mut OrgState, project_id: &str, sa_id: &str) {
    if let Some(project) = state.projects.get_mut(project_id) {
        project
            .api_keys
            .retain(|_, k| k.owner != KeyOwner::ServiceAccount(sa_id.to_string()));
    }
}

/// Inviting an email that is already a member, or that has a pending invite: 400
/// (UNVERIFIED).
pub fn invite_conflict(state: &OrgState, email: &str) -> Option<&'static str> {
    if state.user_by_email(email).is_some() {
        return Some("already a member of this organization");
    }
    let normal = crate::model::normalize_email(email);
    if state.invites.values().any(|i| {
        i.status == super::state::InviteStatus::Pending
            && crate::model::normalize_email(&i.email) == normal
    }) {
        return Some("already has a pending invite");
    }
    None
}

/// Which of an invite's projects become memberships on acceptance. The default project has
/// no explicit members (every member can use it), so its legacy grant is a no-op; archived
/// projects have no users.
pub fn grants_on_acceptance(state: &OrgState, project_id: &str) -> bool {
    state
        .projects
        .get(project_id)
        .is_some_and(|p| !p.is_default && !p.is_archived())
}

/// The organization's id in audit events about organization-wide settings (data retention,
/// spend alerts and limits). The API exposes no organization id on the admin endpoints
/// served, so the emulator uses this fixed one.
pub const ORGANIZATION_ID: &str = "org-emulator";

/// Audit event types for mutations the spec's `AuditLogEventType` has no type of its own for
/// (UNVERIFIED): settings of the organization (data retention, spend alerts, spend limit) are
/// `organization.updated`; settings of a project (data retention, model and hosted-tool
/// permissions, spend alerts, spend limit) are `project.updated`; group membership changes are
/// `group.updated`. The details carry what changed under `changes_requested`.
pub const ORG_SETTINGS_EVENT: &str = "organization.updated";
pub const PROJECT_SETTINGS_EVENT: &str = "project.updated";
pub const GROUP_MEMBERSHIP_EVENT: &str = "group.updated";

/// Assigning a role the principal already has (UNVERIFIED): a 400 naming `role_id`, like
/// adding a project member twice (`DUPLICATE_NAME_STATUS`).
pub const DUPLICATE_ASSIGNMENT_STATUS: StatusCode = DUPLICATE_NAME_STATUS;

// Project role assignments (`/projects/{id}/users/{user}/roles`, `.../groups/{group}/roles`)
// need the user to be a member of the project / the group to have been granted the project
// first (UNVERIFIED); otherwise the path names no project user / project group: 404. This
// follows from the state model (assignments live on the membership) and is enforced by
// `routes/role_assignments.rs`. The role given when a group is added to a project is an
// ordinary role assignment of the group in that project: listed, retrievable and unassignable
// through `/projects/{id}/groups/{group}/roles` (UNVERIFIED; the project-group object has no
// role field, so this list is the only place a client can read the group's role from).

/// Predefined roles cannot be modified or deleted: 400 (UNVERIFIED status).
pub fn role_is_mutable(role: &super::state::Role) -> bool {
    !role.predefined
}

/// The default project has no explicit members, so it cannot be granted to groups either
/// (400), like members and service accounts.
pub const DEFAULT_PROJECT_TAKES_GROUPS: bool = false;

/// A project's `GET .../model_permissions` when nothing was configured (UNVERIFIED): the
/// equivalent of "no restriction", a deny list of nothing. `DELETE` returns the project to
/// this state; deleting when nothing is configured is a success that records no event.
pub fn unset_model_permissions() -> super::state::ModelPermissions {
    super::state::ModelPermissions {
        mode: "deny_list".to_string(),
        model_ids: Vec::new(),
    }
}

/// A fresh organization's data retention (UNVERIFIED: the spec's organization enum has no
/// "default" value, and the reference gives none). The emulator has always answered
/// `zero_data_retention`; kept so existing states read the same. A state dump leaves it out.
pub const ORGANIZATION_DATA_RETENTION: &str = "zero_data_retention";

/// A new project's data retention: the reference's example default.
pub const PROJECT_DATA_RETENTION: &str = "organization_default";

/// `GET`/`DELETE` of a hard spend limit that is not set (UNVERIFIED): 404 `not_found`. No
/// object shape could say "no limit" (`threshold_amount` is a required integer).
pub const UNSET_SPEND_LIMIT_STATUS: StatusCode = StatusCode::NOT_FOUND;

/// The `enforcement.status` of a hard spend limit that is set.
pub const SPEND_LIMIT_ENFORCEMENT_STATUS: &str = "enforcing";

/// Certificate (de)activation is idempotent; an event (`certificates.activated` /
/// `certificates.deactivated`) is recorded only when at least one certificate changed, and
/// lists only those. An unknown id anywhere in the call rejects the whole call (400, nothing
/// changes: "atomically").
pub const CERTIFICATE_TOGGLE_RECORDS_ONLY_CHANGES: bool = true;

/// Project certificate lists show every certificate of the organization with `active` saying
/// whether it is active in that project (UNVERIFIED; the object carries the flag, as in the
/// organization list).
pub const PROJECT_CERTIFICATE_LIST_SHOWS_ALL: bool = true;

// Archived projects (UNVERIFIED beyond "cannot be used or updated"): reads of their settings
// (roles, certificates, data retention, model and hosted-tool permissions, spend alerts and
// limit, rate limits) answer, through `routes::projects::find`; every write under an archived
// project, and every read of its members, groups and their role assignments, is a 400,
// through `routes::projects::find_active`.
