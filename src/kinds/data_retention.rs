//! Data retention (reference §3.17): an organization singleton (`settings.data_retention`,
//! key `settings:data_retention`) and a project singleton (`projects[].data_retention`, key
//! `project:<name>/data_retention`). `GET`/`POST`, no delete: removing the block from the
//! file never writes (reported `? no longer managed` under `policy.unmanaged.settings`).
//! Enabling (enhanced) zero data retention is destructive for users (stored conversations,
//! background responses and the like stop working), so it counts against `max_removals`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ResourceKind;
use super::{Finding, Level, SettingKind, no_findings, through};
use crate::model::Document;

/// `retention_type`, the spec's enum. `organization_default` and `none` are project-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataRetention {
    OrganizationDefault,
    None,
    ZeroDataRetention,
    ModifiedAbuseMonitoring,
    EnhancedZeroDataRetention,
    EnhancedModifiedAbuseMonitoring,
}

impl DataRetention {
    pub fn as_str(self) -> &'static str {
        match self {
            DataRetention::OrganizationDefault => "organization_default",
            DataRetention::None => "none",
            DataRetention::ZeroDataRetention => "zero_data_retention",
            DataRetention::ModifiedAbuseMonitoring => "modified_abuse_monitoring",
            DataRetention::EnhancedZeroDataRetention => "enhanced_zero_data_retention",
            DataRetention::EnhancedModifiedAbuseMonitoring => "enhanced_modified_abuse_monitoring",
        }
    }

    /// Valid at organization level (the spec's organization enum).
    pub fn organization_level(self) -> bool {
        !matches!(
            self,
            DataRetention::OrganizationDefault | DataRetention::None
        )
    }

    fn is_zero(self) -> bool {
        matches!(
            self,
            DataRetention::ZeroDataRetention | DataRetention::EnhancedZeroDataRetention
        )
    }
}

fn parse(value: Option<&Value>) -> Option<DataRetention> {
    value.and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// A retention change in words (`Kind::attention`): `data retention organization default →
/// zero data retention`, saying what stops working when zero retention is turned on.
fn attention(change: &super::Change) -> Option<String> {
    let words = |v: Option<&Value>| -> Option<String> {
        let v = v?;
        let s = v.get("data_retention").unwrap_or(v).as_str()?;
        Some(s.replace('_', " "))
    };
    let after_value = change.after.as_ref()?;
    let after = words(Some(after_value))?;
    let turned_on = destructive(
        change.before.as_ref().and_then(|b| b.get("data_retention")),
        after_value.get("data_retention").unwrap_or(after_value),
    );
    let effect = if turned_on {
        ": stored responses, background mode and other stored data stop working"
    } else {
        ""
    };
    Some(match words(change.before.as_ref()) {
        Some(before) => format!("data retention {before} → {after}{effect}"),
        None => format!("data retention set to {after}{effect}"),
    })
}

/// Turning zero data retention on (from anything else) is destructive.
fn destructive(before: Option<&Value>, after: &Value) -> bool {
    let after_zero = parse(Some(after)).is_some_and(DataRetention::is_zero);
    let before_zero = parse(before).is_some_and(DataRetention::is_zero);
    after_zero && !before_zero
}

/// `{object, type}` -> `"<type>"`.
fn from_api(body: &Value, default: Option<DataRetention>) -> Result<Option<Value>, String> {
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .ok_or("the data retention object has no `type`")?;
    let parsed: DataRetention = serde_json::from_value(json!(kind))
        .map_err(|_| format!("unknown data retention type {kind:?}"))?;
    Ok((Some(parsed) != default).then(|| json!(kind)))
}

fn to_api(value: &Value) -> Value {
    json!({ "retention_type": value })
}

fn same(value: Value) -> Value {
    value
}

/// The organization's data retention takes the organization enum (no `organization_default`,
/// no `none`): the schema allows every value in both places.
fn organization_values(kind: &SettingKind, doc: &Document) -> Vec<Finding> {
    let Some(retention) = kind
        .get(doc, None)
        .and_then(|v| serde_json::from_value::<DataRetention>(v).ok())
    else {
        return Vec::new();
    };
    if retention.organization_level() {
        return Vec::new();
    }
    vec![Finding {
        at_key: false,
        pointer: "/settings/data_retention".into(),
        error: true,
        message: format!(
            "`{}` is a project data retention; the organization takes zero_data_retention, modified_abuse_monitoring, enhanced_zero_data_retention or enhanced_modified_abuse_monitoring",
            retention.as_str()
        ),
        hint: Some(
            "set it on the projects (`projects[].data_retention`), or pick an organization value"
                .into(),
        ),
    }]
}

pub static ORGANIZATION: SettingKind = SettingKind {
    resource: ResourceKind::OrganizationDataRetention,
    title: "Organization data retention",
    field: "data_retention",
    audit_field: "data_retention",
    level: Level::Organization,
    route: "/organization/data_retention",
    deletable: false,
    partial: false,
    absent_is_404: false,
    parse: through::<DataRetention>,
    // The organization's retention has no "default" value in the spec's enum: every value
    // read is the organization's setting.
    from_api: |body| from_api(body, None),
    to_api,
    default: || None,
    destructive,
    check: organization_values,
    normalize: same,
    attention,
};

pub static PROJECT: SettingKind = SettingKind {
    resource: ResourceKind::ProjectDataRetention,
    title: "Project data retention",
    field: "data_retention",
    audit_field: "data_retention",
    level: Level::Project,
    route: "/organization/projects/{project_id}/data_retention",
    deletable: false,
    partial: false,
    absent_is_404: false,
    parse: through::<DataRetention>,
    from_api: |body| from_api(body, Some(DataRetention::OrganizationDefault)),
    to_api,
    default: || Some(json!("organization_default")),
    destructive,
    check: no_findings,
    normalize: same,
    attention,
};
