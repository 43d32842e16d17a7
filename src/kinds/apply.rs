//! What a kind's `perform` works with: the client, the IDs known so far ([`Ids`]), where
//! generated keys go ([`SecretSinks`]), the files the desired state names, and small helpers
//! shared by every kind's writes. The write protocol itself is [`crate::api::safe`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use super::{IdIndex, IdRef};
use crate::api::role_assignments::Principal;
use crate::api::safe::{Created, Removal, create_or_find};
use crate::api::types::RoleId;
use crate::api::{Client, Error, Secret};

/// A boxed future, as `dyn Kind` methods return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A change that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Applied; an optional note for the report (where a key went).
    Applied(Option<String>),
    /// Nothing to do: the reason (already gone, already a member).
    Already(String),
}

/// What one change's API calls came to: done, or why it failed (never holding a secret).
pub type Step = Result<Done, String>;

/// The reason of a removal whose target is not live.
pub const GONE: &str = "already gone";

/// An API error as a change's failure.
pub fn api(error: Error) -> String {
    error.to_string()
}

/// A removal's outcome.
pub fn removed(removal: Removal) -> Done {
    match removal {
        Removal::Removed => Done::Applied(None),
        Removal::AlreadyGone => Done::Already(GONE.into()),
    }
}

/// An addition of a membership or assignment (no ID of its own to record).
pub fn membership<T>(created: Created<T>, already: &str) -> Done {
    match created {
        Created::New(_) | Created::Landed(_) => Done::Applied(None),
        Created::AlreadyThere(_) => Done::Already(already.to_string()),
    }
}

/// Server IDs for one apply run: the live read's [`IdIndex`] plus the IDs of the objects this
/// run created (a change's dependents read them, so a member can be added to a project created
/// a moment earlier). Shared by every running change.
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
        self.lock().get(reference).cloned()
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

/// One declared place a generated key goes (a file, a command): see `apply::secrets`.
pub trait SecretSink: Send + Sync {
    /// Whether the key can be delivered (a writable directory, an existing program), checked
    /// before the object whose key it takes is created. The message never holds a key.
    fn check(&self) -> Result<(), String>;
    /// Hands `secret` over; a note for the report (where it went), or why it failed.
    fn deliver<'a>(&'a self, secret: &'a Secret) -> BoxFuture<'a, Result<String, String>>;
}

/// The declared sinks, by the natural key of the object whose key they take.
pub trait SecretSinks: Send + Sync {
    fn sink(&self, key: &str) -> Option<&dyn SecretSink>;
}

/// What every running change shares.
pub struct ApplyContext {
    pub client: Client,
    pub ids: Ids,
    pub sinks: Box<dyn SecretSinks>,
    /// Contents of the files the desired state names, by the natural key of the object that
    /// names them (a certificate's PEM), as the config loader read them.
    pub files: BTreeMap<String, String>,
}

impl ApplyContext {
    /// The ID an addition needs; its absence is an error.
    pub fn need(&self, reference: &IdRef) -> Result<String, String> {
        self.ids.get(reference).ok_or_else(|| {
            format!(
                "{} has no known ID: it is not live and this run did not create it",
                reference.label()
            )
        })
    }

    /// The IDs a removal needs; `None` when one is unknown (the object is not live).
    pub fn have<const N: usize>(&self, references: [IdRef; N]) -> Option<[String; N]> {
        let ids: Option<Vec<String>> = references.iter().map(|r| self.ids.get(r)).collect();
        ids?.try_into().ok()
    }

    /// Records and returns the ID of an object a create answered as JSON (or a re-read
    /// found); see [`created_id`].
    pub fn record_json(
        &self,
        reference: &IdRef,
        created: &Created<serde_json::Value>,
        what: &str,
    ) -> Result<String, String> {
        let id = created_id(created, what)?;
        self.ids.record(reference, &id);
        Ok(id)
    }

    /// Records the ID of a created (or found) object.
    pub fn record<T>(
        &self,
        reference: &IdRef,
        created: Created<T>,
        id_of: impl Fn(&T) -> String,
    ) -> Done {
        match created {
            Created::New(object) => {
                self.ids.record(reference, &id_of(&object));
                Done::Applied(None)
            }
            Created::Landed(id) => {
                self.ids.record(reference, &id);
                Done::Applied(Some(
                    "created (confirmed by a re-read after an unknown outcome)".into(),
                ))
            }
            Created::AlreadyThere(id) => {
                self.ids.record(reference, &id);
                Done::Already("it already exists".into())
            }
        }
    }

    /// Assigns a role, unless the principal already has it.
    pub async fn assign(&self, principal: Principal<'_>, role: &RoleId) -> Step {
        let c = &self.client;
        let created = create_or_find(
            || c.assign_role(principal, role),
            || async {
                let assigned = c.list_role_assignments(principal).await?;
                Ok(assigned.into_iter().find(|r| &r.id == role).map(|r| r.id.0))
            },
        )
        .await
        .map_err(api)?;
        Ok(membership(created, "the role is already assigned"))
    }
}

/// The ID of an object a create answered as JSON, or a re-read found. An answer without an
/// `id` is an error naming `what`: recording an empty ID would send the next calls about it
/// to a wrong path.
pub fn created_id(created: &Created<serde_json::Value>, what: &str) -> Result<String, String> {
    match created {
        Created::New(answer) => answer
            .get("id")
            .and_then(serde_json::Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "the API created {what} but its answer has no `id`: run `orgops plan` to see it"
                )
            }),
        Created::Landed(id) | Created::AlreadyThere(id) => Ok(id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_answer_without_an_id_is_an_error_not_an_empty_id() {
        let what = "external key `k`";
        let answer = |v| created_id(&Created::New(v), what);
        assert_eq!(
            answer(serde_json::json!({"id": "ek_1"})),
            Ok("ek_1".to_string())
        );
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"id": ""}),
            serde_json::json!({"id": 7}),
        ] {
            let error = answer(bad).expect_err("no usable id");
            assert!(
                error.contains("external key `k`") && error.contains("no `id`"),
                "{error}"
            );
        }
        assert_eq!(
            created_id(&Created::Landed("ek_2".into()), what),
            Ok("ek_2".to_string())
        );
    }

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
