//! Health alert rules, a collection per scope, by name: `settings.health_alert_rules[]` (key
//! `health_alert_rule:<name>`) and `projects[].health_alert_rules[]` (key
//! `project:<name>/health_alert_rule:<rule>`). One module serves both scopes (two registry
//! entries of one [`Kind`] value each, as spend alerts do): the API, the shapes and the
//! diff are the same, only the route and where the file writes the list differ.
//!
//! Shapes from the official SDK (`openai==3.63.0`, `types/admin/organization/health/*` and
//! `resources/admin/organization{,/projects}/health/alert_rules.py`): `GET`/`POST
//! /organization/health/alert_rules` (token pages: `page=<next>`), `GET`/`POST`/`DELETE
//! .../alert_rules/{id}`, the same under `/organization/projects/{id}/health/alert_rules`.
//! A rule is written as the create call takes it: `name`, `enabled`, `condition` (one of
//! `error_rate`, `prompt_cache_hit_rate`, `rate_limit_utilization`,
//! `service_tier_fallback_rate`, with that type's fields), `filters` (`models`,
//! `observability_tags`, `project_ids`, `service_tiers`) and `notifications` (`email`:
//! `addresses`, `enabled`, `org_owners`, `project_owners`; `webhook`: `enabled`).
//!
//! **Compared: what the file writes.** A field the file leaves out is not compared (the
//! API fills it; the SDK does not say with what), lists are compared as sets. An update
//! sends the fields the file writes (the API keeps what an update omits); a different
//! condition `type` cannot be updated ("to change the type, create a new alert rule"): the
//! rule is replaced (deleted, created again).
//!
//! **`expected_version`.** Every rule carries a version; an update and a delete send the
//! version the plan read, and the API refuses them (409) when the rule changed since. apply
//! then re-reads the rule and fails that change, saying who won and what to do (plan again):
//! it never overwrites a change it has not shown. Live rules the file does not declare follow
//! `policy.unmanaged.health_alert_rules`. No audit event type of the spec's
//! `AuditLogEventType` names health alert rules, so their drift is not attributed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::context::{Context, Draft, Output};
use super::keys::refs;
use super::kind::{FieldPlace, Finding, Kind};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use super::{Action, IdRef, LiveState, Operation, ResourceKind};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::pagination::Style;
use crate::api::safe::{remove, retry_transient};
use crate::api::{Client, Error};
use crate::model::{Document, KindFields};

/// The file's key, in `settings` and in each project.
pub const FIELD: &str = "health_alert_rules";

const ORG_ROUTE: &str = "/organization/health/alert_rules";
const ORG_ONE: &str = "/organization/health/alert_rules/{alert_rule_id}";
const PROJECT_ROUTE: &str = "/organization/projects/{project_id}/health/alert_rules";
const PROJECT_ONE: &str = "/organization/projects/{project_id}/health/alert_rules/{alert_rule_id}";

/// The evaluation windows `error_rate` takes (seconds).
pub const WINDOWS: &[u64] = &[300, 900, 1800];

/// One rule in the file's shape (the create call's body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub condition: Condition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
}

/// What triggers the rule (the SDK's four condition types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    ErrorRate {
        threshold: f64,
        /// 300, 900 or 1800.
        window_seconds: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_class: Option<StatusClass>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_codes: Option<Vec<u16>>,
    },
    PromptCacheHitRate {
        threshold: f64,
    },
    RateLimitUtilization {
        metric: Metric,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consecutive_minutes: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        threshold: Option<f64>,
    },
    ServiceTierFallbackRate {
        threshold: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_tier: Option<SourceTier>,
    },
}

impl Condition {
    fn type_name(&self) -> &'static str {
        match self {
            Condition::ErrorRate { .. } => "error_rate",
            Condition::PromptCacheHitRate { .. } => "prompt_cache_hit_rate",
            Condition::RateLimitUtilization { .. } => "rate_limit_utilization",
            Condition::ServiceTierFallbackRate { .. } => "service_tier_fallback_rate",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusClass {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "4xx")]
    Client,
    #[serde(rename = "5xx")]
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Rpm,
    Tpm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceTier {
    Fast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterTier {
    Default,
    Priority,
    Flex,
    Scale,
}

/// Which traffic the rule watches; a list left out (or empty) watches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability_tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tiers: Option<Vec<FilterTier>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_owners: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_owners: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

fn sorted<T: Ord + Clone>(list: &Option<Vec<T>>) -> Option<Vec<T>> {
    list.as_ref().map(|l| {
        let mut l = l.clone();
        l.sort();
        l.dedup();
        l
    })
}

impl Rule {
    /// Lists sorted and deduplicated, addresses in lower case: how the file writes it.
    pub fn normal(&self) -> Rule {
        let mut r = self.clone();
        if let Condition::ErrorRate { status_codes, .. } = &mut r.condition {
            *status_codes = sorted(status_codes);
        }
        if let Some(f) = &mut r.filters {
            f.models = sorted(&f.models);
            f.observability_tags = sorted(&f.observability_tags);
            f.project_ids = sorted(&f.project_ids);
            f.service_tiers = sorted(&f.service_tiers);
        }
        if let Some(Notifications { email: Some(e), .. }) = &mut r.notifications {
            e.addresses = e.addresses.as_ref().map(|a| {
                let mut a: Vec<String> =
                    a.iter().map(|s| crate::model::normalize_email(s)).collect();
                a.sort();
                a.dedup();
                a
            });
        }
        r
    }

    fn view(&self) -> Value {
        serde_json::to_value(self.normal()).unwrap_or(Value::Null)
    }
}

/// Whether every field `desired` writes has its value in `live` (objects member by member,
/// numbers as numbers): what the file does not write is not compared.
fn covers(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| covers(v, lv))),
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

/// `live` with every field `desired` writes laid over it: what the rule is after an update
/// (the API keeps what an update omits).
fn overlay(live: &Value, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            let mut out = l.clone();
            for (k, v) in d {
                let merged = match l.get(k) {
                    Some(lv) => overlay(lv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, d) => d.clone(),
    }
}

/// A live rule with its server id and version.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRule {
    pub id: String,
    pub version: u64,
    pub created_at: i64,
    /// In the file's shape: every field the API answers (empty filter lists left out).
    pub rule: Rule,
}

/// The condition fields the file knows (the API's others, and nulls, are left out).
const CONDITION_FIELDS: &[&str] = &[
    "type",
    "threshold",
    "window_seconds",
    "status_class",
    "status_codes",
    "metric",
    "consecutive_minutes",
    "source_tier",
];

fn known(v: Option<&Value>, fields: &[&str]) -> Value {
    let mut out = Map::new();
    if let Some(o) = v.and_then(Value::as_object) {
        for (k, v) in o {
            if fields.contains(&k.as_str()) && !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A rule as the API answers it (`HealthAlertRule`) in the file's shape.
pub fn from_api(v: &Value) -> Option<LiveRule> {
    let condition: Condition =
        serde_json::from_value(known(v.get("condition"), CONDITION_FIELDS)).ok()?;
    let filters: Filters = serde_json::from_value(known(
        v.get("filters"),
        &[
            "models",
            "observability_tags",
            "project_ids",
            "service_tiers",
        ],
    ))
    .ok()?;
    let empty = |l: &Option<Vec<String>>| l.as_ref().is_none_or(Vec::is_empty);
    let filters = Filters {
        models: filters.models.filter(|l| !l.is_empty()),
        observability_tags: filters.observability_tags.filter(|l| !l.is_empty()),
        project_ids: filters.project_ids.filter(|l| !l.is_empty()),
        service_tiers: filters.service_tiers.filter(|l| !l.is_empty()),
    };
    let filters = (!(empty(&filters.models)
        && empty(&filters.observability_tags)
        && empty(&filters.project_ids)
        && filters.service_tiers.is_none()))
    .then_some(filters);
    let n = v.get("notifications");
    let notifications = Notifications {
        email: serde_json::from_value(known(
            n.and_then(|n| n.get("email")),
            &["addresses", "enabled", "org_owners", "project_owners"],
        ))
        .ok(),
        webhook: serde_json::from_value(known(n.and_then(|n| n.get("webhook")), &["enabled"])).ok(),
    };
    Some(LiveRule {
        id: v.get("id")?.as_str()?.to_string(),
        version: v.get("version")?.as_u64()?,
        created_at: v.get("created_at").and_then(Value::as_i64).unwrap_or(0),
        rule: Rule {
            name: v.get("name")?.as_str()?.to_string(),
            enabled: v.get("enabled").and_then(Value::as_bool),
            condition,
            filters,
            notifications: Some(notifications),
        }
        .normal(),
    })
}

fn paths(project_id: Option<&str>, id: Option<&str>) -> (&'static str, String) {
    let (route, path) = match (project_id, id) {
        (None, None) => (ORG_ROUTE, ORG_ROUTE.to_string()),
        (None, Some(_)) => (ORG_ONE, ORG_ONE.to_string()),
        (Some(p), None) => (
            PROJECT_ROUTE,
            PROJECT_ROUTE.replace("{project_id}", &seg(p)),
        ),
        (Some(p), Some(_)) => (PROJECT_ONE, PROJECT_ONE.replace("{project_id}", &seg(p))),
    };
    (
        route,
        path.replace("{alert_rule_id}", &seg(id.unwrap_or_default())),
    )
}

/// Lists one scope's rules (token pages, 100 a page).
pub async fn read(client: &Client, project_id: Option<&str>) -> Result<Vec<LiveRule>, Error> {
    let (route, path) = paths(project_id, None);
    client
        .list_decoded(
            Call::get(route, path),
            Style::NextAsPage,
            "health alert rule",
            from_api,
        )
        .await
}

/// The rules a scope's `health_alert_rules` lists (`None`: not written, not managed).
fn declared(fields: &KindFields) -> Option<Vec<Rule>> {
    serde_json::from_value(fields.get(FIELD)?.clone()).ok()
}

/// What apply does for a rule (the plan's `operation`). `project`: the project's name, for
/// a project's rule.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `rule`: the create call's body (the file's shape).
    CreateHealthAlertRule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        rule: Value,
    },
    /// Sends the fields the file writes, with the version read.
    UpdateHealthAlertRule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        name: String,
        id: String,
        expected_version: u64,
        rule: Value,
    },
    /// Another condition type: delete (at the version read), create `rule`.
    ReplaceHealthAlertRule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        name: String,
        id: String,
        expected_version: u64,
        rule: Value,
    },
    DeleteHealthAlertRule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        name: String,
        id: String,
        expected_version: u64,
    },
}

impl Eq for Op {}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

impl Op {
    fn project(&self) -> Option<&String> {
        match self {
            Op::CreateHealthAlertRule { project, .. }
            | Op::UpdateHealthAlertRule { project, .. }
            | Op::ReplaceHealthAlertRule { project, .. }
            | Op::DeleteHealthAlertRule { project, .. } => project.as_ref(),
        }
    }
}

/// Where a rule is, in words.
fn scope_words(project: Option<&str>) -> String {
    match project {
        None => "of the organization".into(),
        Some(p) => format!("of project `{p}`"),
    }
}

/// Why an update or delete at `expected` was refused with 409: the rule re-read, and what
/// to do. `Ok` when the rule is, after all, what the file declares (`want`): a retried
/// update whose first attempt landed.
async fn conflict(
    client: &Client,
    project: Option<&str>,
    project_id: Option<&str>,
    name: &str,
    id: &str,
    expected: u64,
    want: Option<&Value>,
) -> Step {
    let (route, path) = paths(project_id, Some(id));
    let scope = scope_words(project);
    let read = Call::get(route, path);
    let now = retry_transient(|| client.execute::<Value>(&read)).await;
    match now {
        Ok(v) => {
            let version = v.get("version").and_then(Value::as_u64).unwrap_or(0);
            if let (Some(want), Some(live)) = (want, from_api(&v))
                && covers(want, &live.rule.view())
            {
                return Ok(Done::Already(format!(
                    "already as declared (version {version})"
                )));
            }
            Err(format!(
                "health alert rule `{name}` {scope} was changed by someone else since it was read \
                 (version {expected} read, version {version} now): nothing was written to it; \
                 run `orgops plan` again to review the change against what is live now"
            ))
        }
        Err(e) if e.is_not_found() => Err(format!(
            "health alert rule `{name}` {scope} was deleted by someone else since it was read \
             (version {expected}): nothing was written; run `orgops plan` again"
        )),
        Err(e) => Err(format!(
            "health alert rule `{name}` {scope} changed since it was read (the API refused \
             version {expected}) and re-reading it failed ({e}): nothing was written; run \
             `orgops plan` again"
        )),
    }
}

async fn create(client: &Client, project_id: Option<&str>, rule: &Value) -> Step {
    let (route, path) = paths(project_id, None);
    client
        .execute::<Value>(&Call::post(route, path, RequestKind::Create, rule.clone()))
        .await
        .map_err(api)?;
    Ok(Done::Applied(None))
}

/// DELETE at the version read; a 409 is the conflict, a 404 is already gone.
async fn delete(
    client: &Client,
    project: Option<&str>,
    project_id: Option<&str>,
    name: &str,
    id: &str,
    expected: u64,
) -> Step {
    let (route, path) = paths(project_id, Some(id));
    let call = Call::delete(route, path).query("expected_version", expected);
    match remove(|| client.execute::<Value>(&call)).await {
        Ok(removal) => Ok(removed(removal)),
        Err(e) if e.status() == Some(409) => {
            conflict(client, project, project_id, name, id, expected, None).await
        }
        Err(e) => Err(api(e)),
    }
}

/// Health alert rules of one scope: the organization's, or every project's.
pub(crate) struct HealthAlertRules {
    project: bool,
}

/// Organization health alert rules (`settings.health_alert_rules`).
pub(crate) static ORG_KIND: HealthAlertRules = HealthAlertRules { project: false };
/// Project health alert rules (`projects[].health_alert_rules`).
pub(crate) static PROJECT_KIND: HealthAlertRules = HealthAlertRules { project: true };

impl HealthAlertRules {
    fn kind(&self) -> ResourceKind {
        if self.project {
            ResourceKind::ProjectHealthAlertRule
        } else {
            ResourceKind::OrganizationHealthAlertRule
        }
    }

    /// The scopes this kind covers in `doc`, with their rules: (project, pointer, rules).
    fn scopes<'d>(&self, doc: &'d Document) -> Vec<(Option<&'d str>, String, &'d Value)> {
        if !self.project {
            return doc
                .settings
                .fields
                .get(FIELD)
                .map(|v| (None, format!("/settings/{FIELD}"), v))
                .into_iter()
                .collect();
        }
        doc.projects
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.fields
                    .get(FIELD)
                    .map(|v| (Some(p.name.as_str()), format!("/projects/{i}/{FIELD}"), v))
            })
            .collect()
    }
}

fn plan_key(project: Option<&str>, name: &str) -> String {
    match project {
        None => format!("health_alert_rule:{name}"),
        Some(p) => format!("project:{p}/health_alert_rule:{name}"),
    }
}

impl Kind for HealthAlertRules {
    fn title(&self) -> &'static str {
        if self.project {
            "Project health alert rules"
        } else {
            "Organization health alert rules"
        }
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "health_alert_rules",
            removes: "remove",
            list: "health_alert_rules",
            restorable: false,
        })
    }

    fn manages(&self, doc: &Document) -> bool {
        if self.project {
            super::active_projects(doc).any(|p| p.fields.contains_key(FIELD))
        } else {
            doc.settings.fields.contains_key(FIELD)
        }
    }

    fn file_field(&self) -> Option<(FieldPlace, &'static str)> {
        let place = if self.project {
            FieldPlace::Project
        } else {
            FieldPlace::Settings
        };
        Some((place, FIELD))
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        serde_json::from_value::<Vec<Rule>>(value.clone())
            .err()
            .map(|e| e.to_string())
    }

    /// Rules sorted by name, lists sorted.
    fn canonical_field(&self, value: Value) -> Value {
        match serde_json::from_value::<Vec<Rule>>(value.clone()) {
            Ok(rules) => {
                let mut rules: Vec<Rule> = rules.iter().map(Rule::normal).collect();
                rules.sort_by(|a, b| a.name.cmp(&b.name));
                serde_json::to_value(rules).unwrap_or(value)
            }
            Err(_) => value,
        }
    }

    /// A name twice in one scope; an `error_rate` window the API does not take.
    fn check(&self, doc: &Document) -> Vec<Finding> {
        let mut out = Vec::new();
        for (_, pointer, value) in self.scopes(doc) {
            let Some(items) = value.as_array() else {
                continue;
            };
            out.extend(super::named::declared_twice(
                items,
                &pointer,
                |name| format!("health alert rule {name:?}"),
                "give each rule of a scope its own name",
            ));
            for (i, item) in items.iter().enumerate() {
                let window = item
                    .get("condition")
                    .filter(|c| c.get("type").and_then(Value::as_str) == Some("error_rate"))
                    .and_then(|c| c.get("window_seconds"));
                if let Some(w) = window
                    && !w.as_u64().is_some_and(|w| WINDOWS.contains(&w))
                {
                    out.push(Finding {
                        pointer: format!("{pointer}/{i}/condition/window_seconds"),
                        error: true,
                        at_key: false,
                        message: format!("window_seconds {w} is not one the API takes"),
                        hint: Some("use 300, 900 or 1800 (5, 15 or 30 minutes)".into()),
                    });
                }
            }
        }
        out
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        self.scopes(doc)
            .into_iter()
            .flat_map(|(project, _, value)| {
                serde_json::from_value::<Vec<Rule>>(value.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |r| plan_key(project, &r.name))
            })
            .collect()
    }

    fn source(&self) -> Option<Source> {
        Some(if self.project {
            Source::per(ResourceKind::Project)
        } else {
            Source::organization()
        })
    }

    /// The organization's rules where `settings.health_alert_rules` is written; a
    /// project's where its `health_alert_rules` is.
    fn scope(&self, doc: &Document) -> Select<String> {
        if !self.project {
            return Select::all_if(doc.settings.fields.contains_key(FIELD));
        }
        Select::projects(doc, |p| p.fields.contains_key(FIELD))
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, read(client, parent.map(Parent::id)).await?);
            Ok(())
        })
    }

    /// The rules into the live document, oldest first, the oldest of a name kept (written
    /// only when there is one), and with their IDs and versions apart.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let kind = self.kind();
        let mut scopes: Vec<(Option<usize>, Vec<LiveRule>)> = Vec::new();
        if !self.project {
            if let Some(rules) = raw.organization::<LiveRule>(kind) {
                scopes.push((None, rules.into_iter().cloned().collect()));
            }
        } else {
            for (i, _, rules) in super::read::project_lists::<LiveRule>(raw, kind, state) {
                scopes.push((Some(i), rules.into_iter().cloned().collect()));
            }
        }
        for (index, mut rules) in scopes {
            rules.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            let mut listed: BTreeMap<String, Value> = BTreeMap::new();
            for r in &rules {
                listed
                    .entry(r.rule.name.clone())
                    .or_insert_with(|| r.rule.view());
            }
            let (fields, project) = match index {
                None => (&mut state.org.settings.fields, None),
                Some(i) => {
                    let p = &mut state.org.projects[i];
                    (&mut p.fields, Some(p.name.clone()))
                }
            };
            if listed.is_empty() {
                fields.shift_remove(FIELD);
            } else {
                fields.insert(FIELD.into(), Value::Array(listed.into_values().collect()));
            }
            state.health_alert_rules.insert(project, rules);
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let kind = self.kind();
        let policy = ctx.desired.policy.unmanaged.health_alert_rules;
        let mut scopes: Vec<(Option<String>, Vec<Rule>, bool)> = Vec::new();
        if !self.project {
            if let Some(rules) = declared(&ctx.desired.settings.fields) {
                scopes.push((None, rules, true));
            }
        } else {
            for (desired, live) in ctx.child_projects() {
                if let Some(rules) = declared(&desired.fields) {
                    scopes.push((Some(desired.name.clone()), rules, live.is_some()));
                }
            }
        }
        for (project, desired, exists) in scopes {
            let live: &[LiveRule] = if exists {
                match ctx.state.health_alert_rules.get(&project) {
                    Some(l) => l,
                    None => continue,
                }
            } else {
                &[]
            };
            let p = project.as_deref();
            let parents: Vec<String> = p.iter().map(|p| super::keys::project(p)).collect();
            let mut by_name: BTreeMap<&str, &LiveRule> = BTreeMap::new();
            let mut extras: Vec<&LiveRule> = Vec::new();
            let mut oldest: Vec<&LiveRule> = live.iter().collect();
            oldest.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            for r in oldest {
                if by_name.contains_key(r.rule.name.as_str()) {
                    extras.push(r);
                } else {
                    by_name.insert(&r.rule.name, r);
                }
            }
            let wanted: BTreeMap<String, Rule> = desired
                .iter()
                .map(|r| (r.name.clone(), r.normal()))
                .collect();
            for (name, want) in &wanted {
                let key = plan_key(p, name);
                let after = want.view();
                match by_name.get(name.as_str()) {
                    None => out.push(
                        Draft::new(
                            kind,
                            key,
                            Action::Create,
                            Op::CreateHealthAlertRule {
                                project: project.clone(),
                                rule: after.clone(),
                            },
                        )
                        .after(Some(after))
                        .diffed(&["name"])
                        .parents(parents.clone()),
                    ),
                    Some(have) => {
                        let before = have.rule.view();
                        if covers(&after, &before) {
                            continue;
                        }
                        let draft = if want.condition.type_name() != have.rule.condition.type_name()
                        {
                            Draft::new(
                                kind,
                                key,
                                Action::Replace,
                                Op::ReplaceHealthAlertRule {
                                    project: project.clone(),
                                    name: name.clone(),
                                    id: have.id.clone(),
                                    expected_version: have.version,
                                    rule: after.clone(),
                                },
                            )
                            .after(Some(after))
                        } else {
                            let mut patch = after.clone();
                            if let Some(o) = patch.as_object_mut() {
                                o.remove("name");
                            }
                            Draft::new(
                                kind,
                                key,
                                Action::Update,
                                Op::UpdateHealthAlertRule {
                                    project: project.clone(),
                                    name: name.clone(),
                                    id: have.id.clone(),
                                    expected_version: have.version,
                                    rule: patch,
                                },
                            )
                            .after(Some(overlay(&before, &after)))
                        };
                        out.push(
                            draft
                                .before(Some(before))
                                .diffed(&["name"])
                                .parents(parents.clone()),
                        );
                    }
                }
            }
            let undeclared = by_name
                .iter()
                .filter(|(name, _)| !wanted.contains_key(**name))
                .map(|(name, r)| (plan_key(p, name), *r))
                .chain(
                    extras
                        .iter()
                        .map(|r| (format!("{}#{}", plan_key(p, &r.rule.name), r.id), *r)),
                );
            for (key, r) in undeclared {
                let object = r.rule.view();
                let draft_key = key.clone();
                let parents = parents.clone();
                let op = Op::DeleteHealthAlertRule {
                    project: project.clone(),
                    name: r.rule.name.clone(),
                    id: r.id.clone(),
                    expected_version: r.version,
                };
                out.unmanaged(policy, kind, &key, object.clone(), || {
                    Draft::new(kind, draft_key, Action::Delete, op)
                        .before(Some(object))
                        .parents(parents)
                });
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode::<Op>() {
            Ok(op) => op.project().map(|p| refs::project(p)).into_iter().collect(),
            Err(_) => Vec::new(),
        }
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let op = op.decode::<Op>()?;
            let c = &cx.client;
            let removal = matches!(op, Op::DeleteHealthAlertRule { .. });
            let project = op.project().cloned();
            let pid = match &project {
                Some(p) => match cx.ids.get(&refs::project(p)) {
                    Some(pid) => Some(pid),
                    // A rule of a project that is gone is gone too.
                    None if removal => return Ok(Done::Already(GONE.into())),
                    None => return Err(format!("project {p:?} has no known ID")),
                },
                None => None,
            };
            let (p, pid) = (project.as_deref(), pid.as_deref());
            match op {
                Op::CreateHealthAlertRule { rule, .. } => create(c, pid, &rule).await,
                Op::UpdateHealthAlertRule {
                    name,
                    id,
                    expected_version,
                    rule,
                    ..
                } => {
                    let (route, path) = paths(pid, Some(&id));
                    let mut body = rule.clone();
                    body["expected_version"] = json!(expected_version);
                    let call = Call::post(route, path, RequestKind::Idempotent, body);
                    match c.execute::<Value>(&call).await {
                        Ok(_) => Ok(Done::Applied(None)),
                        Err(e) if e.status() == Some(409) => {
                            conflict(c, p, pid, &name, &id, expected_version, Some(&rule)).await
                        }
                        Err(e) => Err(api(e)),
                    }
                }
                Op::ReplaceHealthAlertRule {
                    name,
                    id,
                    expected_version,
                    rule,
                    ..
                } => {
                    delete(c, p, pid, &name, &id, expected_version).await?;
                    create(c, pid, &rule).await
                }
                Op::DeleteHealthAlertRule {
                    name,
                    id,
                    expected_version,
                    ..
                } => delete(c, p, pid, &name, &id, expected_version).await,
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        let project = op.project().cloned();
        let rules = s.health_alert_rules.entry(project.clone()).or_default();
        let next = rules.len();
        let add = |rules: &mut Vec<LiveRule>, rule: Value| {
            if let Ok(rule) = serde_json::from_value::<Rule>(rule) {
                rules.push(LiveRule {
                    id: format!("rule_{next}"),
                    version: 1,
                    created_at: next as i64,
                    rule: rule.normal(),
                });
            }
        };
        match op {
            Op::CreateHealthAlertRule { rule, .. } => add(rules, rule),
            Op::UpdateHealthAlertRule { id, rule, .. } => {
                if let Some(r) = rules.iter_mut().find(|r| r.id == id)
                    && let Ok(new) = serde_json::from_value(overlay(&r.rule.view(), &rule))
                {
                    r.rule = new;
                    r.version += 1;
                }
            }
            Op::ReplaceHealthAlertRule { id, rule, .. } => {
                rules.retain(|r| r.id != id);
                add(rules, rule);
            }
            Op::DeleteHealthAlertRule { id, .. } => rules.retain(|r| r.id != id),
        }
        let list: Vec<Value> = rules.iter().map(|r| r.rule.view()).collect();
        let fields = match &project {
            None => Some(&mut s.org.settings.fields),
            Some(p) => s
                .org
                .projects
                .iter_mut()
                .find(|x| &x.name == p)
                .map(|x| &mut x.fields),
        };
        if let Some(fields) = fields {
            fields.insert(FIELD.into(), Value::Array(list));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_type_reads_and_an_unknown_field_is_refused() {
        for condition in [
            json!({"type": "error_rate", "threshold": 0.05, "window_seconds": 300, "status_class": "5xx", "status_codes": [503, 500]}),
            json!({"type": "prompt_cache_hit_rate", "threshold": 0.5}),
            json!({"type": "rate_limit_utilization", "metric": "tpm", "consecutive_minutes": 3, "threshold": 0.9}),
            json!({"type": "service_tier_fallback_rate", "threshold": 0.1, "source_tier": "fast"}),
        ] {
            let rule = json!({"name": "r", "condition": condition});
            assert!(serde_json::from_value::<Rule>(rule).is_ok(), "{condition}");
        }
        let typo = json!({"name": "r", "condition": {"type": "prompt_cache_hit_rate", "threshold": 0.5, "window": 3}});
        assert!(serde_json::from_value::<Rule>(typo).is_err());
        let wrong = json!({"name": "r", "condition": {"type": "error_rate", "threshold": 0.5, "window_seconds": 300, "metric": "rpm"}});
        assert!(serde_json::from_value::<Rule>(wrong).is_err());
    }

    #[test]
    fn what_the_file_leaves_out_is_not_compared() {
        let live = json!({"name": "r", "enabled": true, "condition": {"type": "error_rate", "threshold": 0.05, "window_seconds": 300, "status_class": "all"}, "filters": {"models": ["a", "b"]}});
        let same = json!({"name": "r", "condition": {"type": "error_rate", "threshold": 0.05, "window_seconds": 300}});
        assert!(covers(&same, &live));
        let other = json!({"name": "r", "condition": {"type": "error_rate", "threshold": 0.1, "window_seconds": 300}});
        assert!(!covers(&other, &live));
        let lists = json!({"filters": {"models": ["a"]}});
        assert!(!covers(&lists, &live));
        assert_eq!(
            overlay(&live, &other)["condition"]["status_class"],
            json!("all")
        );
    }
}
