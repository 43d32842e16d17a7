//! Who can reach what (`orgops access`): the access review auditors ask for, computed from a
//! [`Document`], the file's or the live organization's (the live read is a `Document` too).
//!
//! The rules, as `docs/access.md` states them (from `docs/configuration.md`):
//!
//! - a project's `members` reach it with their `role` (and custom project `roles`): a
//!   **direct** grant;
//! - a project's `groups` reach it with the group's `role` (and `roles`): the group's grant is
//!   listed itself, and once per member of the group (`groups[].members`) **via** the group.
//!   Where the file does not declare the group's members, the group's row is all there is;
//! - a project's `service_accounts` reach it with their `role`;
//! - a pending invite (live organization only) grants its projects on acceptance: listed via
//!   `invite`;
//! - an archived project grants nothing ("archiving ends every access at once"): it is only
//!   named, under `archived_projects`;
//! - admin API keys reach the whole organization through the Admin API: each is listed with
//!   its owner (live: from the API; a file does not say who owns a key);
//! - a person's organization role (`owner`/`reader`), custom organization roles (their own and
//!   their groups') and groups are listed per person.
//!
//! Pure and deterministic: rows are sorted, so the same document gives the same access.
//! Renderings are in [`render`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Document, InviteStatus, normalize_email};

pub mod render;

/// Where the access was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The live organization (through the Admin API or an emulator).
    Live,
    /// The desired-state file: the access the file asks for.
    File,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Live => "live",
            Source::File => "file",
        }
    }
}

/// Who a grant is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    User,
    Group,
    ServiceAccount,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "user",
            PrincipalType::Group => "group",
            PrincipalType::ServiceAccount => "service_account",
        }
    }
}

/// One way a principal reaches a project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    pub project: String,
    pub principal_type: PrincipalType,
    /// An email, a group name, or a service account name (within the project).
    pub principal: String,
    /// `owner` or `member`.
    pub role: String,
    /// Custom project roles.
    pub custom_roles: Vec<String>,
    /// `None`: direct; `group:NAME`: through that group; `invite`: a pending invite's.
    pub via: Option<String>,
}

/// A custom organization role a person holds, and through which group (`None`: their own).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HeldRole {
    pub role: String,
    pub via: Option<String>,
}

/// A person: an organization member, or (live) someone with a pending invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub email: String,
    /// `owner` or `reader`.
    pub role: String,
    pub custom_roles: Vec<HeldRole>,
    pub groups: Vec<String>,
    pub pending_invite: bool,
}

/// A group and its members (`None` where the file does not declare them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMembers {
    pub name: String,
    pub members: Option<Vec<String>>,
}

/// An admin API key and who owns it (`user:EMAIL`, `service_account:NAME`), when known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AdminKey {
    pub name: String,
    pub owner: Option<String>,
}

/// The access of one organization, possibly narrowed by a [`Filter`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub source: Source,
    pub grants: Vec<Grant>,
    pub people: Vec<Person>,
    pub groups: Vec<GroupMembers>,
    pub admin_api_keys: Vec<AdminKey>,
    pub archived_projects: Vec<String>,
    /// Every organization owner (kept whole by `--project`: owners administer the whole
    /// organization).
    pub organization_owners: Vec<String>,
}

/// `--project` and `--user`: only these projects, only what these people reach. Empty
/// lists filter nothing.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub projects: Vec<String>,
    pub users: Vec<String>,
}

/// A filter naming nothing that exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {name:?} is not in the {source_name}{suggestion}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
    pub source_name: &'static str,
    pub suggestion: String,
}

/// The access `doc` grants; `admin_key_owners` names each admin key's owner where known
/// (key name -> `user:EMAIL` or `service_account:NAME`).
pub fn compute(
    doc: &Document,
    source: Source,
    admin_key_owners: &BTreeMap<String, String>,
) -> Access {
    let mut grants = BTreeSet::new();
    let mut archived = Vec::new();
    let members_of: BTreeMap<&str, Option<Vec<String>>> = doc
        .groups
        .iter()
        .map(|g| {
            let members = g
                .members
                .is_managed()
                .then(|| g.members.iter().map(|m| normalize_email(m)).collect());
            (g.name.as_str(), members)
        })
        .collect();
    for project in doc.projects.iter() {
        if project.archived {
            archived.push(project.name.clone());
            continue;
        }
        for member in project.members.iter() {
            grants.insert(Grant {
                project: project.name.clone(),
                principal_type: PrincipalType::User,
                principal: normalize_email(&member.email),
                role: member.role.as_str().to_string(),
                custom_roles: sorted(member.roles.iter().cloned()),
                via: None,
            });
        }
        for group in project.groups.iter() {
            let custom_roles = sorted(group.roles.iter().cloned());
            grants.insert(Grant {
                project: project.name.clone(),
                principal_type: PrincipalType::Group,
                principal: group.name.clone(),
                role: group.role.as_str().to_string(),
                custom_roles: custom_roles.clone(),
                via: None,
            });
            if let Some(Some(members)) = members_of.get(group.name.as_str()) {
                for email in members {
                    grants.insert(Grant {
                        project: project.name.clone(),
                        principal_type: PrincipalType::User,
                        principal: email.clone(),
                        role: group.role.as_str().to_string(),
                        custom_roles: custom_roles.clone(),
                        via: Some(format!("group:{}", group.name)),
                    });
                }
            }
        }
        for account in project.service_accounts.iter() {
            grants.insert(Grant {
                project: project.name.clone(),
                principal_type: PrincipalType::ServiceAccount,
                principal: account.name.clone(),
                role: account.role.as_str().to_string(),
                custom_roles: Vec::new(),
                via: None,
            });
        }
    }
    let archived_names: BTreeSet<&str> = archived.iter().map(String::as_str).collect();
    let pending: Vec<_> = doc
        .invites
        .iter()
        .filter(|i| i.status == InviteStatus::Pending)
        .collect();
    for invite in &pending {
        for granted in &invite.projects {
            if archived_names.contains(granted.name.as_str()) {
                continue;
            }
            grants.insert(Grant {
                project: granted.name.clone(),
                principal_type: PrincipalType::User,
                principal: normalize_email(&invite.email),
                role: granted.role.as_str().to_string(),
                custom_roles: Vec::new(),
                via: Some("invite".to_string()),
            });
        }
    }

    // People: members, then pending invites of people who are not members.
    let mut groups_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut roles_of: BTreeMap<String, BTreeSet<HeldRole>> = BTreeMap::new();
    for group in doc.groups.iter() {
        for email in members_of
            .get(group.name.as_str())
            .into_iter()
            .flatten()
            .flatten()
        {
            groups_of
                .entry(email.clone())
                .or_default()
                .push(group.name.clone());
            for role in group.roles.iter() {
                roles_of.entry(email.clone()).or_default().insert(HeldRole {
                    role: role.clone(),
                    via: Some(format!("group:{}", group.name)),
                });
            }
        }
    }
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    for user in doc.users.iter() {
        let email = normalize_email(&user.email);
        let mut held = roles_of.remove(&email).unwrap_or_default();
        held.extend(user.roles.iter().map(|role| HeldRole {
            role: role.clone(),
            via: None,
        }));
        let mut groups = groups_of.remove(&email).unwrap_or_default();
        groups.sort();
        people.insert(
            email.clone(),
            Person {
                email,
                role: user.role.as_str().to_string(),
                custom_roles: held.into_iter().collect(),
                groups,
                pending_invite: false,
            },
        );
    }
    for invite in pending {
        let email = normalize_email(&invite.email);
        people.entry(email.clone()).or_insert(Person {
            email,
            role: invite.role.as_str().to_string(),
            custom_roles: Vec::new(),
            groups: Vec::new(),
            pending_invite: true,
        });
    }
    let groups = doc
        .groups
        .iter()
        .map(|g| GroupMembers {
            name: g.name.clone(),
            members: members_of
                .get(g.name.as_str())
                .cloned()
                .flatten()
                .map(|mut m| {
                    m.sort();
                    m
                }),
        })
        .collect::<Vec<_>>();
    let mut admin_api_keys: Vec<AdminKey> = doc
        .admin_api_keys
        .iter()
        .map(|k| AdminKey {
            name: k.name.clone(),
            owner: admin_key_owners.get(&k.name).cloned(),
        })
        .collect();
    admin_api_keys.sort();
    let mut groups = groups;
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    archived.sort();
    let organization_owners = people
        .values()
        .filter(|p| p.role == "owner" && !p.pending_invite)
        .map(|p| p.email.clone())
        .collect();
    Access {
        organization_owners,
        source,
        grants: grants.into_iter().collect(),
        people: people.into_values().collect(),
        groups,
        admin_api_keys,
        archived_projects: archived,
    }
}

fn sorted(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items.dedup();
    items
}

/// The closest of `candidates` to `name`, for a did-you-mean.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

impl Access {
    /// Only the projects and people `filter` names; a name that is not there is an error
    /// with a did-you-mean. With `--user`, only those people's rows, groups and admin keys.
    pub fn filtered(mut self, filter: &Filter) -> Result<Access, UnknownName> {
        let source_name = match self.source {
            Source::Live => "organization",
            Source::File => "file",
        };
        if !filter.projects.is_empty() {
            let known: BTreeSet<&str> = self
                .grants
                .iter()
                .map(|g| g.project.as_str())
                .chain(self.archived_projects.iter().map(String::as_str))
                .collect();
            for name in &filter.projects {
                if !known.contains(name.as_str()) {
                    return Err(UnknownName {
                        what: "project",
                        name: name.clone(),
                        source_name,
                        suggestion: suggest(name, known.iter().copied()),
                    });
                }
            }
            let wanted: BTreeSet<&str> = filter.projects.iter().map(String::as_str).collect();
            self.grants.retain(|g| wanted.contains(g.project.as_str()));
            self.archived_projects
                .retain(|p| wanted.contains(p.as_str()));
        }
        if !filter.users.is_empty() {
            let wanted: BTreeSet<String> =
                filter.users.iter().map(|u| normalize_email(u)).collect();
            for email in &wanted {
                if !self.people.iter().any(|p| &p.email == email) {
                    return Err(UnknownName {
                        what: "person",
                        name: email.clone(),
                        source_name,
                        suggestion: suggest(email, self.people.iter().map(|p| p.email.as_str())),
                    });
                }
            }
            let groups: BTreeSet<String> = self
                .people
                .iter()
                .filter(|p| wanted.contains(&p.email))
                .flat_map(|p| p.groups.iter().cloned())
                .collect();
            self.grants.retain(|g| {
                g.principal_type == PrincipalType::User && wanted.contains(&g.principal)
            });
            self.people.retain(|p| wanted.contains(&p.email));
            self.groups.retain(|g| groups.contains(&g.name));
            self.archived_projects.clear();
            self.organization_owners.retain(|o| wanted.contains(o));
            self.admin_api_keys.retain(|k| {
                k.owner
                    .as_deref()
                    .and_then(|o| o.strip_prefix("user:"))
                    .is_some_and(|email| wanted.contains(email))
            });
        } else if !filter.projects.is_empty() {
            // People and groups that reach the projects asked about.
            let reaching: BTreeSet<&str> = self
                .grants
                .iter()
                .filter(|g| g.principal_type == PrincipalType::User)
                .map(|g| g.principal.as_str())
                .collect();
            let groups: BTreeSet<&str> = self
                .grants
                .iter()
                .filter(|g| g.principal_type == PrincipalType::Group)
                .map(|g| g.principal.as_str())
                .collect();
            self.people.retain(|p| reaching.contains(p.email.as_str()));
            self.groups.retain(|g| groups.contains(g.name.as_str()));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Document {
        crate::config::parse_str(yaml, "t.yaml", crate::config::LoadMode::Seed)
            .expect("a valid document")
    }

    const ORG: &str = r#"
version: 1
users:
  - {email: Ada@x.example, role: owner}
  - {email: bob@x.example, role: reader, roles: [billing]}
  - {email: cy@x.example, role: reader}
roles:
  - {name: billing}
  - {name: usage}
groups:
  - {name: ml, members: [bob@x.example, cy@x.example], roles: [usage]}
projects:
  - name: Search
    members:
      - {email: ada@x.example, role: owner}
    groups:
      - {name: ml, role: member}
    service_accounts:
      - {name: bot, role: member}
  - name: Old
    archived: true
invites:
  - {email: dee@x.example, role: reader, status: pending, projects: [{name: Search, role: owner}, {name: Old, role: owner}]}
"#;

    #[test]
    fn direct_group_service_account_and_invite_grants() {
        let access = compute(&doc(ORG), Source::Live, &BTreeMap::new());
        let rows: Vec<String> = access
            .grants
            .iter()
            .map(|g| {
                format!(
                    "{} {} {} {} {}",
                    g.project,
                    g.principal_type.as_str(),
                    g.principal,
                    g.role,
                    g.via.as_deref().unwrap_or("direct")
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                "Search user ada@x.example owner direct",
                "Search user bob@x.example member group:ml",
                "Search user cy@x.example member group:ml",
                "Search user dee@x.example owner invite",
                "Search group ml member direct",
                "Search service_account bot member direct",
            ]
        );
        assert_eq!(access.archived_projects, ["Old"]);
        let bob = access
            .people
            .iter()
            .find(|p| p.email == "bob@x.example")
            .expect("bob");
        assert_eq!(bob.groups, ["ml"]);
        assert_eq!(
            bob.custom_roles,
            [
                HeldRole {
                    role: "billing".into(),
                    via: None
                },
                HeldRole {
                    role: "usage".into(),
                    via: Some("group:ml".into())
                },
            ]
        );
        assert!(
            access
                .people
                .iter()
                .any(|p| p.email == "dee@x.example" && p.pending_invite)
        );
    }

    #[test]
    fn filters_narrow_and_unknown_names_suggest() {
        let access = compute(&doc(ORG), Source::File, &BTreeMap::new());
        let bob = access
            .clone()
            .filtered(&Filter {
                users: vec!["BOB@x.example".into()],
                ..Filter::default()
            })
            .expect("bob is there");
        assert_eq!(bob.grants.len(), 1);
        assert_eq!(bob.people.len(), 1);
        assert_eq!(bob.groups.len(), 1);
        let err = access
            .filtered(&Filter {
                projects: vec!["Serch".into()],
                ..Filter::default()
            })
            .expect_err("no such project");
        assert_eq!(
            err.to_string(),
            "project \"Serch\" is not in the file (did you mean \"Search\"?)"
        );
    }
}
