//! [`Operation`]: the executable intent of a change, in natural keys only.
//!
//! Each kind defines its own operations (an `Op` enum in its module, tagged by `type`:
//! `{"type": "create_group", "name": "ml"}`) and is the only code that reads them: the
//! engine carries an [`Operation`] as the kind serialized it, prints it in JSON plans, and
//! compares and fingerprints it in saved plans, without looking inside. The apply step asks
//! the change's kind to perform it (`Kind::perform`), resolving server IDs from
//! `LiveState::ids` plus the IDs of what it created earlier in the same run;
//! `Kind::id_refs` lists every ID an operation needs, so the executor and the saved-plan
//! staleness check agree on what a change depends on.
//!
//! Secrets never appear here: `with_key` only says a key is requested; the sink comes from
//! the desired document at apply time.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A server ID the executor needs: the object of `kind` with natural key `key`
/// (`project:Search`, `project:Search/service_account:ci`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdRef {
    pub kind: super::ResourceKind,
    pub key: String,
}

impl IdRef {
    pub fn new(kind: super::ResourceKind, key: String) -> IdRef {
        IdRef { kind, key }
    }

    /// The ID live has for this reference, if any.
    pub fn resolve<'a>(&self, ids: &'a super::IdIndex) -> Option<&'a String> {
        ids.get(self)
    }

    /// A stable textual form, used as a map key in saved plans: the natural key.
    pub fn label(&self) -> String {
        self.key.clone()
    }
}

/// What the apply step does for one change: the kind's own operation, as it serialized it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Operation(pub Value);

impl Operation {
    /// A kind's operation, serialized (a value that cannot be serialized becomes `null`,
    /// which no kind decodes: the change fails at apply with that said).
    pub fn of<T: Serialize>(op: &T) -> Operation {
        Operation(serde_json::to_value(op).unwrap_or(Value::Null))
    }

    /// The kind's own operation back, or why it is not one (a saved plan from another
    /// version, a hand-edited file).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(self.0.clone())
            .map_err(|e| format!("the change's operation is not one its kind performs ({e})"))
    }
}

/// The operation of the kinds that write one JSON value per object (settings, project API
/// keys, spend alerts): write `value` (the file's shape) to the kind named `kind` of
/// `project` (or the organization); `value: None` unsets or deletes it. `id`: the object of
/// a collection kind. Serialized `{"type": "kind", "kind": ..., ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ValueOp {
    Kind {
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
}

impl From<ValueOp> for Operation {
    fn from(op: ValueOp) -> Operation {
        Operation::of(&op)
    }
}
