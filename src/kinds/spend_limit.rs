//! Hard spend limits (reference §3.18): an organization singleton (`settings.spend_limit`,
//! key `settings:spend_limit`) and a project singleton (`projects[].spend_limit`, key
//! `project:<name>/spend_limit`). `{amount_cents, currency, interval}`: the amount is in
//! **cents** (the API's integer `threshold_amount`), at least 1; `currency` is `USD` and
//! `interval` `month` (the spec's enums; both may be left out). POST creates or replaces,
//! DELETE unsets (`unset` under `policy.unmanaged.settings: remove`); a GET answering 404 is
//! "no limit". Setting a limit where there was none, or lowering one, is destructive for
//! users (requests start failing sooner): it counts against `max_removals`.
//!
//! `recipients` and `subject_prefix` are the limit's `notification_channel` (SDK 3.63.0;
//! not in the spec subset): who is emailed, beside the owners, when the limit is reached.
//! Compared as a set of lower-case addresses; a limit declared without them sends
//! `notification_channel: null`, which resets the live channel to owner-only.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ResourceKind;
use super::{Level, SettingKind, no_findings, through};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[default]
    #[serde(rename = "USD")]
    Usd,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    #[default]
    Month,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendLimit {
    /// In cents (`50000` is $500.00); at least 1.
    pub amount_cents: u64,
    #[serde(default)]
    pub currency: Currency,
    #[serde(default)]
    pub interval: Interval,
    /// Extra email recipients when the limit is reached (the owners are always told).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_prefix: Option<String>,
}

impl SpendLimit {
    /// Recipients lower case, sorted, once each; an empty prefix is none.
    fn normal(mut self) -> SpendLimit {
        self.recipients = self
            .recipients
            .iter()
            .map(|r| crate::model::normalize_email(r))
            .collect();
        self.recipients.sort();
        self.recipients.dedup();
        self.subject_prefix = self.subject_prefix.filter(|p| !p.is_empty());
        self
    }
}

fn amount(value: Option<&Value>) -> Option<u64> {
    value?.get("amount_cents")?.as_u64()
}

/// The limit in words (`Kind::attention`): `hard spend limit $60,000.00 → $50,000.00 per
/// month (lowered)`, set for the first time, or removed (spending no longer capped).
fn attention(change: &super::Change) -> Option<String> {
    use crate::text::words::{money, per};
    let read = |value: Option<&Value>| {
        let value = value?;
        Some((
            amount(Some(value))?,
            value
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or("USD")
                .to_string(),
            value
                .get("interval")
                .and_then(Value::as_str)
                .unwrap_or("month")
                .to_string(),
        ))
    };
    let before = read(change.before.as_ref());
    let after = read(change.after.as_ref());
    Some(match (before, after) {
        (Some((b, bc, bi)), Some((a, ac, ai))) => format!(
            "hard spend limit {} → {} {}{} ({})",
            money(b, &bc),
            money(a, &ac),
            per(&ai),
            if bi == ai {
                String::new()
            } else {
                format!(", was {}", per(&bi))
            },
            super::attention::direction(b, a)
        ),
        (None, Some((a, ac, ai))) => format!(
            "hard spend limit set: {} {} (requests fail beyond it)",
            money(a, &ac),
            per(&ai)
        ),
        (Some((b, bc, bi)), None) => format!(
            "hard spend limit removed (was {} {}): spending is no longer capped",
            money(b, &bc),
            per(&bi)
        ),
        (None, None) => return None,
    })
}

/// A first limit, or a lower one.
fn destructive(before: Option<&Value>, after: &Value) -> bool {
    match (amount(before), amount(Some(after))) {
        (None, _) => true,
        (Some(b), Some(a)) => a < b,
        _ => false,
    }
}

fn from_api(body: &Value) -> Result<Option<Value>, String> {
    let cents = body
        .get("threshold_amount")
        .and_then(Value::as_u64)
        .ok_or("the spend limit has no integer `threshold_amount`")?;
    let mut value = json!({
        "amount_cents": cents,
        "currency": body.get("currency").cloned().unwrap_or(json!("USD")),
        "interval": body.get("interval").cloned().unwrap_or(json!("month")),
    });
    if let Some(channel) = body.get("notification_channel").filter(|c| !c.is_null()) {
        if let Some(recipients) = channel.get("recipients") {
            value["recipients"] = recipients.clone();
        }
        if let Some(prefix) = channel.get("subject_prefix").filter(|p| !p.is_null()) {
            value["subject_prefix"] = prefix.clone();
        }
    }
    let limit = serde_json::from_value::<SpendLimit>(value).map_err(|e| {
        format!("unexpected spend limit (currency, interval or notification channel orgops does not know): {e}")
    })?;
    serde_json::to_value(limit.normal())
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The whole limit, channel included: `null` when the file names no recipients and no
/// prefix (owner-only), else the channel with every field, so nothing live is kept by
/// omission.
fn to_api(value: &Value) -> Value {
    let recipients = value
        .get("recipients")
        .filter(|r| r.as_array().is_some_and(|r| !r.is_empty()));
    let prefix = value.get("subject_prefix").filter(|p| !p.is_null());
    let channel = if recipients.is_none() && prefix.is_none() {
        Value::Null
    } else {
        json!({
            "type": "email",
            "recipients": recipients.cloned().unwrap_or(json!([])),
            "subject_prefix": prefix.cloned().unwrap_or(Value::Null),
        })
    };
    json!({
        "threshold_amount": value.get("amount_cents"),
        "currency": value.get("currency").cloned().unwrap_or(json!("USD")),
        "interval": value.get("interval").cloned().unwrap_or(json!("month")),
        "notification_channel": channel,
    })
}

/// Defaults written out, so `{amount_cents: 5}` and `{amount_cents: 5, currency: USD}` agree;
/// recipients compared as a set, case-insensitively.
fn normalize(value: Value) -> Value {
    serde_json::from_value::<SpendLimit>(value.clone())
        .ok()
        .and_then(|v| serde_json::to_value(v.normal()).ok())
        .unwrap_or(value)
}

pub static ORGANIZATION: SettingKind = SettingKind {
    resource: ResourceKind::OrganizationSpendLimit,
    title: "Organization hard spend limit",
    field: "spend_limit",
    audit_field: "spend_limit",
    level: Level::Organization,
    route: "/organization/spend_limit",
    deletable: true,
    partial: false,
    absent_is_404: true,
    parse: through::<SpendLimit>,
    from_api,
    to_api,
    default: || None,
    destructive,
    check: no_findings,
    normalize,
    attention,
};

pub static PROJECT: SettingKind = SettingKind {
    resource: ResourceKind::ProjectSpendLimit,
    title: "Project hard spend limits",
    field: "spend_limit",
    audit_field: "spend_limit",
    level: Level::Project,
    route: "/organization/projects/{project_id}/spend_limit",
    deletable: true,
    partial: false,
    absent_is_404: true,
    parse: through::<SpendLimit>,
    from_api,
    to_api,
    default: || None,
    destructive,
    check: no_findings,
    normalize,
    attention,
};
