//! Shared words for [`Kind::attention`](super::Kind::attention): what each kind says a reviewer
//! must not miss is decided in the kind's own module; these helpers only read the change's
//! `before` and `after` the same way everywhere.

use serde_json::Value;

use super::Change;
use crate::text::words;

/// A string field of the change's `before` (or `after`) object.
pub(crate) fn before_str<'c>(change: &'c Change, field: &str) -> Option<&'c str> {
    change.before.as_ref()?.get(field)?.as_str()
}

pub(crate) fn after_str<'c>(change: &'c Change, field: &str) -> Option<&'c str> {
    change.after.as_ref()?.get(field)?.as_str()
}

/// A role change in words: `reader → owner (promoted)`.
pub(crate) fn role_change(from: &str, to: &str, higher: &str) -> String {
    let how = if to == higher {
        "promoted"
    } else if from == higher {
        "demoted"
    } else {
        "changed"
    };
    format!("{from} → {to} ({how})")
}

fn strings(value: Option<&Value>, field: &str) -> Vec<String> {
    value
        .and_then(|v| v.get(field))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What a list field (permissions, models) gains and loses: (added, removed), sorted.
pub(crate) fn list_change(change: &Change, field: &str) -> (Vec<String>, Vec<String>) {
    let before = strings(change.before.as_ref(), field);
    let after = strings(change.after.as_ref(), field);
    let mut added: Vec<String> = after
        .iter()
        .filter(|a| !before.contains(a))
        .cloned()
        .collect();
    let mut removed: Vec<String> = before
        .iter()
        .filter(|b| !after.contains(b))
        .cloned()
        .collect();
    added.sort();
    removed.sort();
    (added, removed)
}

/// A custom role's permissions change in words: `loses a, b; gains c`.
pub(crate) fn permissions_change(change: &Change) -> Option<String> {
    let (added, removed) = list_change(change, "permissions");
    let mut parts = Vec::new();
    if !removed.is_empty() {
        parts.push(format!(
            "loses {} {}",
            if removed.len() == 1 {
                "permission"
            } else {
                "permissions"
            },
            words::list(&removed)
        ));
    }
    if !added.is_empty() {
        parts.push(format!(
            "gains {} {}",
            if added.len() == 1 {
                "permission"
            } else {
                "permissions"
            },
            words::list(&added)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `raised` or `lowered`, for two numbers.
pub(crate) fn direction(before: u64, after: u64) -> &'static str {
    if after < before { "lowered" } else { "raised" }
}
