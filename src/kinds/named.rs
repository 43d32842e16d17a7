//! Lists of objects known by a `name` within their scope (customer-managed keys, workload
//! identity providers and their rules, health alert rules): the two things every such list
//! needs, written once: its canonical form (each item canonical, sorted by name) and the
//! finding for a name declared twice.

use serde_json::{Map, Value};

use super::Finding;
use crate::api::client::Call;
use crate::api::pagination::{MAX_PAGE_A, Style};
use crate::api::{Client, Error};

/// The ID of the object named `name` in the organization list at `route` (style A pages),
/// if any: how a create of unknown outcome finds out whether it landed.
pub(super) async fn id_by_name(
    client: &Client,
    route: &'static str,
    name: &str,
) -> Result<Option<String>, Error> {
    let all: Vec<Value> = client
        .list_all(
            Call::get(route, route.to_string()),
            Style::LastId,
            MAX_PAGE_A,
        )
        .await?;
    Ok(all
        .iter()
        .find(|o| o.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|o| o.get("id")?.as_str().map(str::to_string)))
}

/// Each item of `value` made canonical by `canonical`, sorted by `name`; `value` as it is
/// when it is not a list or an item is not one `canonical` can read (the schema reports it).
pub(super) fn sorted_by_name(
    value: Value,
    canonical: impl Fn(&Value) -> Option<Map<String, Value>>,
) -> Value {
    let Some(items) = value.as_array() else {
        return value;
    };
    let mut list: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
    for item in items {
        match canonical(item) {
            Some(item) => list.push(item),
            None => return value,
        }
    }
    list.sort_by(|a, b| {
        a.get("name")
            .and_then(Value::as_str)
            .cmp(&b.get("name").and_then(Value::as_str))
    });
    Value::Array(list.into_iter().map(Value::Object).collect())
}

/// A located error for each item of `items` (the list at JSON pointer `pointer`) whose
/// `name` an earlier item has: `what(name)` "is declared twice", with `hint`.
pub(super) fn declared_twice(
    items: &[Value],
    pointer: &str,
    what: impl Fn(&str) -> String,
    hint: &str,
) -> Vec<Finding> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(name) = item.get("name").and_then(Value::as_str)
            && !seen.insert(name)
        {
            out.push(Finding {
                pointer: format!("{pointer}/{i}/name"),
                error: true,
                at_key: false,
                message: format!("{} is declared twice", what(name)),
                hint: Some(hint.to_string()),
            });
        }
    }
    out
}
