//! The plan's semantic hash: what a pull request approves, independent of rendering.
//!
//! The hash is sha256 over the normalised change set: every change's `id` (kind, action and
//! natural key), `action` and `after` value, sorted by id, with object keys sorted, as
//! compact JSON. Rendering, ordering ties, `before` values (the live state the plan was made
//! from) and unmanaged reports do not enter it, so re-rendering or a live change that does
//! not alter what apply would write keeps the hash; any change to what would be written
//! changes it.

use crate::text::hex::hex;
use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Change, Plan};

/// Object keys sorted at every level, so the bytes depend only on content.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            let mut out = serde_json::Map::new();
            for (k, v) in sorted {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn normalised(change: &Change) -> Value {
    json!({
        "id": change.id.0,
        "action": change.action.as_str(),
        "after": change.after.as_ref().map(canonical),
    })
}

/// `sha256:<64 hex>` of the plan's normalised change set.
pub fn semantic_hash(plan: &Plan) -> String {
    let mut changes: Vec<&Change> = plan.changes.iter().collect();
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    let set: Vec<Value> = changes.into_iter().map(normalised).collect();
    let text = Value::Array(set).to_string();
    format!("sha256:{}", hex(&Sha256::digest(text.as_bytes())))
}

/// Change id -> a short digest of that change's normalised form, to say which changes
/// differ between an approved plan and a fresh one.
pub fn change_digests(plan: &Plan) -> BTreeMap<String, String> {
    plan.changes
        .iter()
        .map(|c| {
            let digest = hex(&Sha256::digest(normalised(c).to_string().as_bytes()));
            (c.id.0.clone(), digest[..16].to_string())
        })
        .collect()
}

/// What a change executes and how it reads, normalised: its id, kind, key, action,
/// operation, `after` value, `fields` (what `show` prints for it), `depends_on` (sorted) and
/// `destructive` flag. Wider than the semantic hash's form, which is made from fresh plans
/// only: a saved plan's `op` and `fields` are data from a file, so they must be compared too.
fn executable(change: &Change) -> Value {
    let op = serde_json::to_value(&change.op).unwrap_or(Value::Null);
    let mut depends_on: Vec<&str> = change.depends_on.iter().map(|d| d.0.as_str()).collect();
    depends_on.sort_unstable();
    json!({
        "id": change.id.0,
        "kind": change.kind.as_str(),
        "key": change.key,
        "action": change.action.as_str(),
        "op": canonical(&op),
        "after": change.after.as_ref().map(canonical),
        "fields": canonical(&serde_json::to_value(&change.fields).unwrap_or(Value::Null)),
        "depends_on": depends_on,
        "destructive": change.destructive,
    })
}

/// Change id -> sha256 of what that change executes (`executable`); compare two with
/// [`PlanDifference::between`]. Used by `apply --plan` to require a saved plan's changes to
/// be the fresh plan's.
pub fn execution_digests(changes: &[Change]) -> BTreeMap<String, String> {
    changes
        .iter()
        .map(|c| {
            let digest = hex(&Sha256::digest(executable(c).to_string().as_bytes()));
            (c.id.0.clone(), digest)
        })
        .collect()
}

/// How a fresh plan differs from an approved one, by change id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanDifference {
    /// In the fresh plan only.
    pub added: Vec<String>,
    /// In the approved plan only.
    pub dropped: Vec<String>,
    /// In both, with different contents.
    pub altered: Vec<String>,
}

impl PlanDifference {
    pub fn between(
        approved: &BTreeMap<String, String>,
        fresh: &BTreeMap<String, String>,
    ) -> PlanDifference {
        let mut diff = PlanDifference::default();
        for (id, digest) in fresh {
            match approved.get(id) {
                None => diff.added.push(id.clone()),
                Some(d) if d != digest => diff.altered.push(id.clone()),
                Some(_) => {}
            }
        }
        for id in approved.keys() {
            if !fresh.contains_key(id) {
                diff.dropped.push(id.clone());
            }
        }
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty() && self.altered.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveState;
    use crate::model::{Document, OrgRole, User};
    use crate::plan::PlanOptions;

    fn plan_for(users: &[(&str, OrgRole)]) -> Plan {
        let doc = Document {
            users: users
                .iter()
                .map(|(email, role)| User {
                    email: email.to_string(),
                    role: *role,
                    roles: vec![].into(),
                })
                .collect(),
            ..Document::default()
        };
        crate::plan::plan(&doc, &LiveState::default(), &PlanOptions::default())
            .expect("a plan without cycles")
    }

    #[test]
    fn same_changes_same_hash_whatever_the_order() {
        let a = plan_for(&[
            ("a@x.example", OrgRole::Owner),
            ("b@x.example", OrgRole::Reader),
        ]);
        let mut b = a.clone();
        b.changes.reverse();
        assert_eq!(semantic_hash(&a), semantic_hash(&b));
        assert!(semantic_hash(&a).starts_with("sha256:"));
    }

    #[test]
    fn a_different_after_value_changes_the_hash_and_is_named() {
        let a = plan_for(&[
            ("a@x.example", OrgRole::Owner),
            ("b@x.example", OrgRole::Reader),
        ]);
        let b = plan_for(&[
            ("a@x.example", OrgRole::Reader),
            ("b@x.example", OrgRole::Reader),
        ]);
        assert_ne!(semantic_hash(&a), semantic_hash(&b));
        let diff = PlanDifference::between(&change_digests(&a), &change_digests(&b));
        assert_eq!(
            diff.altered,
            vec!["invite:invite:invite:a@x.example".to_string()]
        );
        assert!(diff.added.is_empty() && diff.dropped.is_empty());
    }
}
