//! Project service tier settings, `projects[].service_tiers`, key
//! `project:<name>/service_tiers`: `{default, enabled_tiers}`, the tier a request that omits
//! `service_tier` (or says `auto`) runs on, and the tiers the project may ask for besides
//! Standard (`all` also takes tiers added later). Shapes from the official SDK
//! (`openai==3.63.0`, `types/admin/organization/projects/project_service_tier_settings.py`):
//! `GET`/`POST /organization/projects/{project_id}/service_tier_settings`, a partial update,
//! no delete. Only the fields the file writes are managed; removing the block never writes
//! (`? no longer managed`). The API's default is `standard` with no extra tier.
//!
//! Taking a tier away (fewer enabled tiers, or `all` to a list) breaks requests that ask
//! for it, so it is destructive; any change is shown to a reviewer, since tiers are priced
//! differently.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ResourceKind;
use super::{Level, SettingKind, no_findings, through};

/// `default`: what a request without a tier runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultTier {
    Standard,
    Fast,
    Scale,
}

/// A tier a project may enable besides Standard (`ProjectOptionalServiceTier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionalTier {
    Flex,
    Fast,
    Ultrafast,
}

/// `enabled_tiers`: `all` (today's and future tiers) or a list (`[]`: Standard only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnabledTiers {
    All(AllTiers),
    Only(Vec<OptionalTier>),
}

/// The word `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllTiers {
    All,
}

/// The file's value; a field left out is not managed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTiers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_tiers: Option<EnabledTiers>,
}

fn api_default() -> Value {
    json!({"default": "standard", "enabled_tiers": []})
}

/// Enabled tiers sorted and once each; `all` as it is.
fn normalize(value: Value) -> Value {
    let Ok(mut tiers) = serde_json::from_value::<ServiceTiers>(value.clone()) else {
        return value;
    };
    if let Some(EnabledTiers::Only(list)) = &mut tiers.enabled_tiers {
        list.sort();
        list.dedup();
    }
    serde_json::to_value(tiers).unwrap_or(value)
}

/// The tiers a value enables (`None`: all of them, future ones too).
fn enabled(value: Option<&Value>) -> Option<Vec<OptionalTier>> {
    let tiers = value.and_then(|v| v.get("enabled_tiers"));
    match tiers.map(|t| serde_json::from_value::<EnabledTiers>(t.clone())) {
        Some(Ok(EnabledTiers::All(_))) => None,
        Some(Ok(EnabledTiers::Only(list))) => Some(list),
        // Not written, or the API's default: Standard only.
        _ => Some(Vec::new()),
    }
}

/// Fewer tiers than before is destructive (requests asking for a removed tier fail).
fn destructive(before: Option<&Value>, after: &Value) -> bool {
    if after.get("enabled_tiers").is_none() {
        return false;
    }
    match (enabled(before), enabled(Some(after))) {
        (None, Some(_)) => true,
        (Some(was), Some(now)) => was.iter().any(|t| !now.contains(t)),
        (_, None) => false,
    }
}

fn words(value: Option<&Value>, field: &str) -> Option<String> {
    match value?.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.is_empty() => Some("standard only".into()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

/// The tiers before and after, in words (`Kind::attention`): tiers are priced differently.
fn attention(change: &super::Change) -> Option<String> {
    let after = change.after.as_ref()?;
    let mut parts = Vec::new();
    for (field, label) in [
        ("default", "default service tier"),
        ("enabled_tiers", "enabled service tiers"),
    ] {
        let now = words(Some(after), field);
        let was = words(change.before.as_ref(), field);
        match (was, now) {
            (Some(was), Some(now)) if was != now => parts.push(format!("{label} {was} → {now}")),
            (None, Some(now)) => parts.push(format!("{label} set to {now}")),
            _ => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub static KIND: SettingKind = SettingKind {
    resource: ResourceKind::ProjectServiceTiers,
    title: "Project service tiers",
    field: "service_tiers",
    audit_field: "service_tier_settings",
    level: Level::Project,
    route: "/organization/projects/{project_id}/service_tier_settings",
    deletable: false,
    partial: true,
    absent_is_404: false,
    parse: through::<ServiceTiers>,
    // The fields still at the API's default are left out, so an untouched project reads
    // (and exports) as "not configured".
    from_api: |body| {
        let read: ServiceTiers = serde_json::from_value(json!({
            "default": body.get("default"),
            "enabled_tiers": body.get("enabled_tiers"),
        }))
        .map_err(|e| format!("unexpected service tier settings: {e}"))?;
        let defaults = api_default();
        let mut out = Map::new();
        if let Value::Object(fields) = normalize(serde_json::to_value(read).unwrap_or_default()) {
            for (field, value) in fields {
                if defaults.get(&field) != Some(&value) {
                    out.insert(field, value);
                }
            }
        }
        Ok((!out.is_empty()).then_some(Value::Object(out)))
    },
    to_api: |value| value.clone(),
    default: || Some(api_default()),
    destructive,
    check: no_findings,
    normalize,
    attention,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_tiers_is_destructive_more_is_not() {
        let v = |tiers: Value| json!({ "enabled_tiers": tiers });
        assert!(destructive(Some(&v(json!("all"))), &v(json!(["flex"]))));
        assert!(destructive(
            Some(&v(json!(["flex", "fast"]))),
            &v(json!(["fast"]))
        ));
        assert!(!destructive(Some(&v(json!(["flex"]))), &v(json!("all"))));
        assert!(!destructive(None, &v(json!(["flex"]))));
        assert!(!destructive(
            Some(&v(json!(["flex"]))),
            &json!({"default": "fast"})
        ));
    }

    #[test]
    fn the_api_default_reads_as_not_configured() {
        let read = (KIND.from_api)(&json!({
            "object": "project.service_tier_settings",
            "default": "standard",
            "enabled_tiers": []
        }));
        assert_eq!(read, Ok(None));
        let read = (KIND.from_api)(&json!({
            "object": "project.service_tier_settings",
            "default": "standard",
            "enabled_tiers": ["ultrafast", "flex", "flex"]
        }));
        assert_eq!(
            read,
            Ok(Some(json!({"enabled_tiers": ["flex", "ultrafast"]})))
        );
        assert!((KIND.from_api)(&json!({"default": "turbo", "enabled_tiers": []})).is_err());
    }
}
