//! [`ReadScope`]: which collections a live read lists, derived from what the file manages.
//!
//! Rules of [`ReadScope::for_document`]. A list is *managed* when the file writes it, even
//! empty (`members: []`), and not managed when the file leaves it out (the one rule, see
//! [`ManagedList`](crate::model::ManagedList) and `docs/configuration.md`); a kind is read
//! exactly where some list of it is managed:
//! - Organization collections (users, invites, groups, roles, certificates, admin API keys,
//!   projects) are listed only when their list is managed, or when another managed kind
//!   needs them to resolve names (e.g. users for group members, projects for invites).
//!   Invites and admin API keys (the key owner, for the "never remove the key's owner" gate)
//!   are read whenever users are managed.
//! - Per-project sub-collections are listed for the projects the file declares (and does not
//!   mark `archived`) that exist live and are active, and only for the projects whose list of
//!   that sub-kind is managed (members, groups, service accounts, roles); rate limits only for
//!   the projects that declare some; certificate activations where the project's list is
//!   managed, and in every live project when the file deletes undeclared certificates
//!   (deleting a certificate needs its activations).
//! - Per-principal role-assignment lists are read only when the file manages those
//!   assignments, and only for the principals whose `roles` list is managed. The exception is a project
//!   group's assignment list, which carries the group's project role itself (the project-group
//!   object has no role field), so it is read for every live group of a project whose groups
//!   are read.
//!
//! [`ReadScope::everything`] lists everything (for `export`), except what cannot hold anything:
//! with [`ReadScope::only_where_assignable`] set, per-principal role-assignment lists are read
//! only where a custom role exists to be assigned (users' and groups' when the organization's
//! roles list has a custom role, a project's members' when that project's roles list has
//! one), and project certificate activations only when the organization has a certificate.
//! Those lists start after everything else has been read, announced first (see
//! [`crate::live::AssignmentReads`]). [`ReadScope::everything_but_role_assignments`] leaves
//! the per-principal lists out altogether (`export --skip-role-assignments`); a project
//! group's list is still read, since it carries the group's project role.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use crate::model::{Document, Project, UnmanagedAction, normalize_email};

/// A selection of natural keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Select<K: Ord> {
    #[default]
    Nothing,
    All,
    Only(BTreeSet<K>),
}

impl<K: Ord> Select<K> {
    pub fn contains<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        match self {
            Select::Nothing => false,
            Select::All => true,
            Select::Only(keys) => keys.contains(key),
        }
    }

    pub fn is_nothing(&self) -> bool {
        match self {
            Select::Nothing => true,
            Select::All => false,
            Select::Only(keys) => keys.is_empty(),
        }
    }

    fn only_if(condition: bool, keys: impl IntoIterator<Item = K>) -> Self {
        if condition {
            Select::Only(keys.into_iter().collect())
        } else {
            Select::Nothing
        }
    }
}

/// What a live read lists. `Default` reads nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadScope {
    pub users: bool,
    pub invites: bool,
    pub groups: bool,
    /// Custom organization roles.
    pub roles: bool,
    pub certificates: bool,
    pub admin_api_keys: bool,
    /// Projects, archived ones included.
    pub projects: bool,
    /// Custom organization roles assigned to these users (emails).
    pub user_roles: Select<String>,
    /// Members of these groups (names).
    pub group_members: Select<String>,
    /// Custom organization roles assigned to these groups (names).
    pub group_roles: Select<String>,
    /// Members of these projects (names).
    pub project_members: Select<String>,
    /// Custom project roles of these (project, member email) pairs.
    pub project_member_roles: Select<(String, String)>,
    /// Groups with access to these projects, each with its role-assignment list.
    pub project_groups: Select<String>,
    pub service_accounts: Select<String>,
    /// Custom project roles of these projects.
    pub project_roles: Select<String>,
    pub rate_limits: Select<String>,
    /// Project-level certificate activation of these projects.
    pub project_certificates: Select<String>,
    /// Settings kinds (`crate::kinds`) by plan kind name: for project kinds the projects
    /// read, for organization kinds `All` (read) or absent. Derived by `kinds::managed`.
    pub settings: std::collections::BTreeMap<&'static str, Select<String>>,
    /// Project API keys of these projects (`kinds::project_api_keys::managed`).
    pub project_api_keys: Select<String>,
    /// The organization's spend alerts, and those of these projects.
    pub org_spend_alerts: bool,
    pub project_spend_alerts: Select<String>,
    /// Read `user_roles`, `group_roles`, `project_member_roles` and `project_certificates`
    /// only where something can be there (module doc), after everything else.
    pub only_where_assignable: bool,
}

impl ReadScope {
    /// Everything, for every live project (what `export` needs).
    pub fn everything() -> Self {
        ReadScope {
            users: true,
            invites: true,
            groups: true,
            roles: true,
            certificates: true,
            admin_api_keys: true,
            projects: true,
            user_roles: Select::All,
            group_members: Select::All,
            group_roles: Select::All,
            project_members: Select::All,
            project_member_roles: Select::All,
            project_groups: Select::All,
            service_accounts: Select::All,
            project_roles: Select::All,
            rate_limits: Select::All,
            project_certificates: Select::All,
            settings: super::ALL.iter().map(|k| (k.name(), Select::All)).collect(),
            project_api_keys: Select::All,
            org_spend_alerts: true,
            project_spend_alerts: Select::All,
            only_where_assignable: true,
        }
    }

    /// [`ReadScope::everything`] without the per-principal role-assignment lists of users,
    /// groups and project members (`export --skip-role-assignments`).
    pub fn everything_but_role_assignments() -> Self {
        ReadScope {
            user_roles: Select::Nothing,
            group_roles: Select::Nothing,
            project_member_roles: Select::Nothing,
            ..ReadScope::everything()
        }
    }

    /// What a plan of `doc` needs (rules in the module doc).
    pub fn for_document(doc: &Document) -> Self {
        let projects = || doc.projects.iter().filter(|p| !p.archived);
        let projects_where = |managed: fn(&Project) -> bool| {
            projects()
                .filter(move |p| managed(p))
                .map(|p| p.name.clone())
        };
        let users_managed = doc.users.is_managed();
        let any_group_members = doc.groups.iter().any(|g| g.members.is_managed());
        let any_project_members = projects().any(|p| p.members.is_managed());
        let any_project_groups = projects().any(|p| p.groups.is_managed());
        let member_roles_managed = |p: &Project| p.members.iter().any(|m| m.roles.is_managed());
        let group_roles_managed = |p: &Project| p.groups.iter().any(|g| g.roles.is_managed());
        let any_member_roles = projects().any(member_roles_managed);
        let any_project_group_roles = projects().any(group_roles_managed);
        let any_user_roles = doc.users.iter().any(|u| u.roles.is_managed());
        let any_group_roles = doc.groups.iter().any(|g| g.roles.is_managed());
        let certificates_managed =
            doc.certificates.is_managed() || projects().any(|p| p.certificates.is_managed());

        ReadScope {
            users: users_managed || any_group_members || any_project_members,
            invites: users_managed,
            groups: doc.groups.is_managed() || any_project_groups,
            roles: doc.roles.is_managed() || any_user_roles || any_group_roles,
            certificates: certificates_managed,
            admin_api_keys: users_managed || doc.admin_api_keys.is_managed(),
            projects: doc.projects.is_managed() || users_managed,
            user_roles: Select::only_if(
                any_user_roles,
                doc.users
                    .iter()
                    .filter(|u| u.roles.is_managed())
                    .map(|u| normalize_email(&u.email)),
            ),
            group_members: Select::only_if(
                any_group_members,
                doc.groups
                    .iter()
                    .filter(|g| g.members.is_managed())
                    .map(|g| g.name.clone()),
            ),
            group_roles: Select::only_if(
                any_group_roles,
                doc.groups
                    .iter()
                    .filter(|g| g.roles.is_managed())
                    .map(|g| g.name.clone()),
            ),
            project_members: Select::only_if(
                any_project_members,
                projects_where(|p| p.members.is_managed()),
            ),
            project_member_roles: Select::only_if(
                any_member_roles,
                projects().flat_map(|p| {
                    p.members
                        .iter()
                        .filter(|m| m.roles.is_managed())
                        .map(|m| (p.name.clone(), normalize_email(&m.email)))
                }),
            ),
            project_groups: Select::only_if(
                any_project_groups,
                projects_where(|p| p.groups.is_managed()),
            ),
            service_accounts: Select::only_if(
                projects().any(|p| p.service_accounts.is_managed()),
                projects_where(|p| p.service_accounts.is_managed()),
            ),
            project_roles: Select::only_if(
                projects().any(|p| p.roles.is_managed())
                    || any_member_roles
                    || any_project_group_roles,
                projects_where(|p| {
                    p.roles.is_managed()
                        || p.members.iter().any(|m| m.roles.is_managed())
                        || p.groups.iter().any(|g| g.roles.is_managed())
                }),
            ),
            rate_limits: Select::only_if(
                projects().any(|p| !p.rate_limits.is_empty()),
                projects()
                    .filter(|p| !p.rate_limits.is_empty())
                    .map(|p| p.name.clone()),
            ),
            // A certificate the plan deletes is first deactivated in every live project
            // where it is active, declared or not.
            project_certificates: if doc.certificates.is_managed()
                && doc.policy.unmanaged.certificates == UnmanagedAction::Remove
            {
                Select::All
            } else {
                Select::only_if(
                    certificates_managed,
                    projects_where(|p| p.certificates.is_managed()),
                )
            },
            settings: super::read_scope(doc),
            project_api_keys: super::project_api_keys::managed(doc),
            org_spend_alerts: super::spend_alerts::managed(doc).0,
            project_spend_alerts: super::spend_alerts::managed(doc).1,
            only_where_assignable: false,
        }
    }

    /// Whether any sub-collection of project `name` is read.
    pub fn reads_project_children(&self, name: &str) -> bool {
        self.project_members.contains(name)
            || self.project_groups.contains(name)
            || self.service_accounts.contains(name)
            || self.project_roles.contains(name)
            || self.rate_limits.contains(name)
            || self.project_certificates.contains(name)
            || super::ALL.iter().any(|k| {
                k.level == crate::kinds::Level::Project && super::was_read(self, k, Some(name))
            })
            || self.project_api_keys.contains(name)
            || self.project_spend_alerts.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: serde_json::Value) -> Document {
        serde_json::from_value(yaml).expect("valid document")
    }

    #[test]
    fn an_empty_file_reads_nothing() {
        let scope = ReadScope::for_document(&Document::default());
        assert_eq!(scope, ReadScope::default());
    }

    #[test]
    fn unmanaged_kinds_are_not_read() {
        let scope = ReadScope::for_document(&doc(serde_json::json!({
            "projects": [{"name": "Search", "rate_limits": {"gpt-4o": {"max_requests_per_1_minute": 5}}},
                         {"name": "Other"}]
        })));
        assert!(scope.projects);
        assert!(
            !scope.users && !scope.invites && !scope.groups && !scope.roles && !scope.certificates
        );
        assert!(!scope.admin_api_keys);
        assert!(scope.project_members.is_nothing() && scope.service_accounts.is_nothing());
        assert!(scope.rate_limits.contains("Search"));
        assert!(!scope.rate_limits.contains("Other"));
    }

    #[test]
    fn role_assignment_lists_only_when_roles_are_managed() {
        let base = serde_json::json!({
            "users": [{"email": "A@x.example", "role": "owner"}],
            "groups": [{"name": "g", "members": ["a@x.example"]}],
            "projects": [{"name": "P", "members": [{"email": "a@x.example", "role": "member"}]}]
        });
        let scope = ReadScope::for_document(&doc(base.clone()));
        assert!(scope.users && scope.invites && scope.admin_api_keys && scope.groups);
        assert!(scope.user_roles.is_nothing() && scope.group_roles.is_nothing());
        assert!(scope.project_member_roles.is_nothing());
        assert!(scope.group_members.contains("g"));
        assert!(scope.project_members.contains("P"));

        let mut with_roles = base;
        with_roles["users"][0]["roles"] = serde_json::json!(["billing"]);
        with_roles["projects"][0]["members"][0]["roles"] = serde_json::json!(["deployer"]);
        let scope = ReadScope::for_document(&doc(with_roles));
        assert!(scope.roles);
        assert!(
            scope.user_roles.contains("a@x.example"),
            "emails are normalised"
        );
        assert!(
            scope
                .project_member_roles
                .contains(&("P".to_string(), "a@x.example".to_string()))
        );
        assert!(scope.project_roles.contains("P"));
    }

    #[test]
    fn settings_are_read_where_declared_or_where_the_policy_asks() {
        let declared = ReadScope::for_document(&doc(serde_json::json!({
            "projects": [{"name": "A", "spend_limit": {"amount_cents": 5}},
                         {"name": "B"}, {"name": "Old", "archived": true}]
        })));
        let limits = &declared.settings["project_spend_limit"];
        assert!(limits.contains("A") && !limits.contains("B"));
        assert!(!declared.settings.contains_key("organization_spend_limit"));
        assert!(!declared.settings.contains_key("project_hosted_tools"));
        assert!(!declared.reads_project_children("B"));

        let leftover = ReadScope::for_document(&doc(serde_json::json!({
            "policy": {"unmanaged": {"settings": "report"}},
            "projects": [{"name": "A"}, {"name": "Old", "archived": true}]
        })));
        for kind in crate::kinds::ALL {
            let select = &leftover.settings[kind.name()];
            match kind.level {
                crate::kinds::Level::Organization => assert_eq!(*select, Select::All),
                crate::kinds::Level::Project => {
                    assert!(select.contains("A") && !select.contains("Old"))
                }
            }
        }
    }

    #[test]
    fn projects_marked_archived_get_no_children_read() {
        let scope = ReadScope::for_document(&doc(serde_json::json!({
            "projects": [{"name": "Old", "archived": true},
                         {"name": "New", "service_accounts": [{"name": "ci", "role": "member"}]}]
        })));
        assert!(scope.service_accounts.contains("New"));
        assert!(!scope.reads_project_children("Old"));
    }
}
