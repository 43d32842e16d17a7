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
        self.lock()
            .insert(reference.kind, reference.key.clone(), id.to_string());
    }

    /// Forgets an object this run removed, so nothing later resolves to a dead ID.
    pub fn forget(&self, reference: &IdRef) {
        self.lock().remove(reference.kind, &reference.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_ids_resolve_alongside_live_ones_and_removed_ones_do_not() {
        let mut live = IdIndex::default();
        live.insert(
            crate::kinds::ResourceKind::Project,
            "project:Search".into(),
            "proj_1".into(),
        );
        let ids = Ids::new(&live);
        let search = crate::kinds::keys::refs::project("Search");
        let labs = crate::kinds::keys::refs::project("Labs");
        let bot = crate::kinds::keys::refs::service_account("Labs", "bot");
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
