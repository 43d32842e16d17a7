//! Server IDs by natural key for one apply run: the live read's [`IdIndex`] plus the IDs of
//! the objects this run created (a change's dependents read them, so a member can be added
//! to a project created a moment earlier). Shared by every running change.

use std::sync::Mutex;

use crate::live::IdIndex;
use crate::plan::IdRef;

/// The ID map of one run. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Ids {
    index: Mutex<IdIndex>,
}

impl Ids {
    /// Starts from what the live read found.
    pub fn new(live: &IdIndex) -> Ids {
        Ids {
            index: Mutex::new(live.clone()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IdIndex> {
        // Every critical section is a single map operation: a poisoned lock holds no
        // half-written state.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ID of `reference`, if live has it or this run created it.
    pub fn get(&self, reference: &IdRef) -> Option<String> {
        reference.resolve(&self.lock()).cloned()
    }

    /// Records the ID of an object this run created (or found after an ambiguous create).
    pub fn record(&self, reference: &IdRef, id: &str) {
        let mut index = self.lock();
        let id = id.to_string();
        match reference.clone() {
            IdRef::Project { name } => index.projects.insert(name, id),
            IdRef::User { email } => index.users.insert(email, id),
            IdRef::Invite { email } => index.invites.insert(email, id),
            IdRef::Group { name } => index.groups.insert(name, id),
            IdRef::Role { name } => index.roles.insert(name, id),
            IdRef::ProjectRole { project, name } => index.project_roles.insert((project, name), id),
            IdRef::ServiceAccount { project, name } => {
                index.service_accounts.insert((project, name), id)
            }
            IdRef::RateLimit { project, model } => index.rate_limits.insert((project, model), id),
            IdRef::Certificate { name } => index.certificates.insert(name, id),
            IdRef::AdminApiKey { name } => index.admin_api_keys.insert(name, id),
        };
    }

    /// Forgets an object this run removed, so nothing later resolves to a dead ID.
    pub fn forget(&self, reference: &IdRef) {
        let mut index = self.lock();
        match reference {
            IdRef::Project { name } => index.projects.remove(name),
            IdRef::User { email } => index.users.remove(email),
            IdRef::Invite { email } => index.invites.remove(email),
            IdRef::Group { name } => index.groups.remove(name),
            IdRef::Role { name } => index.roles.remove(name),
            IdRef::ProjectRole { project, name } => {
                index.project_roles.remove(&(project.clone(), name.clone()))
            }
            IdRef::ServiceAccount { project, name } => index
                .service_accounts
                .remove(&(project.clone(), name.clone())),
            IdRef::RateLimit { project, model } => {
                index.rate_limits.remove(&(project.clone(), model.clone()))
            }
            IdRef::Certificate { name } => index.certificates.remove(name),
            IdRef::AdminApiKey { name } => index.admin_api_keys.remove(name),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_ids_resolve_alongside_live_ones_and_removed_ones_do_not() {
        let mut live = IdIndex::default();
        live.projects.insert("Search".into(), "proj_1".into());
        let ids = Ids::new(&live);
        let search = IdRef::Project {
            name: "Search".into(),
        };
        let labs = IdRef::Project {
            name: "Labs".into(),
        };
        let bot = IdRef::ServiceAccount {
            project: "Labs".into(),
            name: "bot".into(),
        };
        assert_eq!(ids.get(&search).as_deref(), Some("proj_1"));
        assert_eq!(ids.get(&labs), None);
        ids.record(&labs, "proj_2");
        ids.record(&bot, "svc_1");
        assert_eq!(ids.get(&labs).as_deref(), Some("proj_2"));
        assert_eq!(ids.get(&bot).as_deref(), Some("svc_1"));
        ids.forget(&search);
        assert_eq!(ids.get(&search), None);
    }
}
