//! Spend alerts (reference §3.18), a collection per scope: `settings.spend_alerts[]` (key
//! `settings:spend_alert:<cents>/<recipients>`) and `projects[].spend_alerts[]` (key
//! `project:<name>/spend_alert:<cents>/<recipients>`). The natural key is the threshold and
//! the email recipients (sorted, lower case): the API stores no name. `subject_prefix` is
//! updated in place; a live alert the file does not declare follows
//! `policy.unmanaged.spend_alerts`. Read once per managed scope, 100 per page (ID cursor).

use super::LiveState;
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::model::Document as ReadDocument;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::attribution::Rule;
use super::context::{Context, Draft, Output};
use super::keys::refs;
use super::kind::Kind;
use super::{Action, IdRef, Operation, ResourceKind, ValueOp};
use super::{Currency, Interval};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::pagination::Style;
use crate::api::safe::remove;
use crate::api::{Client, Error};
use crate::model::{Document, KindFields, ManagedList};

pub const ORG: &str = "organization_spend_alert";
pub const PROJECT: &str = "project_spend_alert";
/// The file's key, in `settings` and in each project.
const FIELD: &str = "spend_alerts";

/// The alerts a scope's `spend_alerts` lists (`None`: not written, not managed).
fn declared(fields: &KindFields) -> Option<Vec<SpendAlert>> {
    serde_json::from_value(fields.get(FIELD)?.clone()).ok()
}

/// Stores the alerts read (not managed when there are none, see [`into_doc`]).
fn store(fields: &mut KindFields, alerts: ManagedList<SpendAlert>) {
    if alerts.is_managed() {
        let value = serde_json::to_value(alerts.into_vec()).unwrap_or(Value::Null);
        fields.insert(FIELD.to_string(), value);
    } else {
        fields.shift_remove(FIELD);
    }
}

const ORG_ROUTE: &str = "/organization/spend_alerts";
const ORG_ONE: &str = "/organization/spend_alerts/{alert_id}";
const PROJECT_ROUTE: &str = "/organization/projects/{project_id}/spend_alerts";
const PROJECT_ONE: &str = "/organization/projects/{project_id}/spend_alerts/{alert_id}";

/// One alert: an email to `recipients` when spend in the interval reaches the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendAlert {
    /// In cents (`50000` is $500.00); 0 or more.
    pub threshold_cents: u64,
    #[serde(default)]
    pub currency: Currency,
    #[serde(default)]
    pub interval: Interval,
    /// Email addresses (compared as a set, case-insensitively).
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_prefix: Option<String>,
}

impl SpendAlert {
    fn normal(&self) -> SpendAlert {
        let mut recipients: Vec<String> = self
            .recipients
            .iter()
            .map(|r| crate::model::normalize_email(r))
            .collect();
        recipients.sort();
        recipients.dedup();
        SpendAlert {
            recipients,
            subject_prefix: self.subject_prefix.clone().filter(|s| !s.is_empty()),
            ..self.clone()
        }
    }

    /// `<cents>/<recipients>`.
    fn key(&self) -> String {
        let n = self.normal();
        format!("{}/{}", n.threshold_cents, n.recipients.join(","))
    }
}

/// A live alert with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAlert {
    pub id: String,
    pub alert: SpendAlert,
}

fn from_api(v: &Value) -> Option<LiveAlert> {
    let channel = v.get("notification_channel")?;
    Some(LiveAlert {
        id: v.get("id")?.as_str()?.to_string(),
        alert: SpendAlert {
            threshold_cents: v.get("threshold_amount")?.as_u64()?,
            currency: serde_json::from_value(v.get("currency")?.clone()).ok()?,
            interval: serde_json::from_value(v.get("interval")?.clone()).ok()?,
            recipients: serde_json::from_value(channel.get("recipients")?.clone()).ok()?,
            subject_prefix: channel
                .get("subject_prefix")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
    })
}

fn to_api(alert: &SpendAlert) -> Value {
    let n = alert.normal();
    let mut channel = json!({"type": "email", "recipients": n.recipients});
    if let Some(prefix) = &n.subject_prefix {
        channel["subject_prefix"] = json!(prefix);
    }
    json!({
        "threshold_amount": n.threshold_cents,
        "currency": n.currency,
        "interval": n.interval,
        "notification_channel": channel,
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
        path.replace("{alert_id}", &seg(id.unwrap_or_default())),
    )
}

/// Whether a plan of `doc` reads the organization's alerts, and which projects' alerts.
pub fn managed(doc: &Document) -> (bool, super::Select<String>) {
    let projects = super::Select::projects(doc, |p| declared(&p.fields).is_some());
    (declared(&doc.settings.fields).is_some(), projects)
}

/// Lists one scope's alerts (100 per page).
pub async fn read(client: &Client, project_id: Option<&str>) -> Result<Vec<LiveAlert>, Error> {
    let (route, path) = paths(project_id, None);
    client
        .list_decoded(
            Call::get(route, path),
            Style::LastId,
            "spend alert",
            from_api,
        )
        .await
}

/// Create (`id: None`) or replace (`id`) an alert with the plan's `value`.
pub async fn write(
    client: &Client,
    project_id: Option<&str>,
    id: Option<&str>,
    value: &Value,
) -> Result<(), Error> {
    let (route, path) = paths(project_id, id);
    let alert: SpendAlert = serde_json::from_value(value.clone()).map_err(|e| Error::Decode {
        method: "POST".into(),
        route: route.into(),
        message: format!("the plan's spend alert does not decode: {e}"),
    })?;
    let kind = if id.is_some() {
        RequestKind::Idempotent
    } else {
        RequestKind::Create
    };
    client
        .execute::<Value>(&Call::post(route, path, kind, to_api(&alert)))
        .await
        .map(|_| ())
}

/// One DELETE; the executor runs it through `apply::safe::remove` (404 = already gone).
pub async fn delete(client: &Client, project_id: Option<&str>, id: &str) -> Result<Value, Error> {
    let (route, path) = paths(project_id, Some(id));
    client.execute::<Value>(&Call::delete(route, path)).await
}

/// Names in the live document (for export): the alerts, or not managed when there are none.
pub fn into_doc(alerts: &[LiveAlert]) -> ManagedList<SpendAlert> {
    if alerts.is_empty() {
        return ManagedList::default();
    }
    let mut list: Vec<SpendAlert> = alerts.iter().map(|a| a.alert.normal()).collect();
    list.sort_by_key(SpendAlert::key);
    list.into()
}

fn view(alert: &SpendAlert) -> Value {
    serde_json::to_value(alert.normal()).unwrap_or(Value::Null)
}

/// The spend alerts of one scope: the organization's, or every project's.
pub(crate) struct SpendAlerts {
    project: bool,
}

/// Organization spend alerts (`settings.spend_alerts`).
pub(crate) static ORG_KIND: SpendAlerts = SpendAlerts { project: false };
/// Project spend alerts (`projects[].spend_alerts`).
pub(crate) static PROJECT_KIND: SpendAlerts = SpendAlerts { project: true };

impl SpendAlerts {
    fn kind(&self) -> ResourceKind {
        if self.project {
            ResourceKind::ProjectSpendAlert
        } else {
            ResourceKind::OrganizationSpendAlert
        }
    }
}

impl Kind for SpendAlerts {
    fn title(&self) -> &'static str {
        if self.project {
            "Project spend alerts"
        } else {
            "Organization spend alerts"
        }
    }

    /// An alert created out of band is `unmanaged`, one deleted (or updated away from its
    /// key) `missing`: its scope's update event, with the alert's id in the details.
    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::SettingItem, *};
        let event = if self.project {
            PROJECT_SETTINGS_EVENT
        } else {
            ORG_SETTINGS_EVENT
        };
        vec![
            rule(
                Unmanaged,
                event,
                SettingItem(&["spend_alert_created", "spend_alert_updated"]),
            ),
            rule(
                Missing,
                event,
                SettingItem(&["spend_alert_deleted", "spend_alert_updated"]),
            ),
            rule(Changed, event, SettingItem(&["spend_alert_updated"])),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "spend_alerts",
            removes: "remove",
            list: "spend_alerts",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        if self.project {
            super::active_projects(doc).any(|p| p.fields.contains_key("spend_alerts"))
        } else {
            doc.settings.fields.contains_key("spend_alerts")
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        diff(self.project, ctx, out)
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        match op.decode() {
            // An alert of a project that is gone is gone too.
            Ok(ValueOp::Kind {
                id: None,
                project: Some(p),
                ..
            }) => vec![refs::project(&p)],
            _ => Vec::new(),
        }
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let ValueOp::Kind {
                project, id, value, ..
            } = op.decode()?;
            let c = &cx.client;
            let pid = match &project {
                Some(p) => match cx.ids.get(&refs::project(p)) {
                    Some(pid) => Some(pid),
                    None if value.is_none() => return Ok(Done::Already(GONE.into())),
                    None => return Err(format!("project {p:?} has no known ID")),
                },
                None => None,
            };
            let pid = pid.as_deref();
            match (value, id) {
                (Some(value), id) => {
                    write(c, pid, id.as_deref(), &value).await.map_err(api)?;
                    Ok(Done::Applied(None))
                }
                (None, Some(id)) => {
                    let removal = remove(|| delete(c, pid, &id)).await.map_err(api)?;
                    Ok(removed(removal))
                }
                (None, None) => Err("deleting a spend alert needs its ID".into()),
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut crate::kinds::LiveState) {
        let Ok(ValueOp::Kind {
            project, id, value, ..
        }) = op.decode()
        else {
            return;
        };
        let alerts = s.spend_alerts.entry(project).or_default();
        alerts.retain(|a| Some(&a.id) != id.as_ref());
        if let Some(alert) = value.and_then(|v| serde_json::from_value(v).ok()) {
            alerts.push(LiveAlert {
                id: id.unwrap_or_else(|| format!("new-{}", alerts.len())),
                alert,
            });
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source {
            parent: self.project.then_some(ResourceKind::Project),
            deferred: false,
            announced_as: None,
        })
    }

    /// The organization's alerts where `settings.spend_alerts` is written; a project's where
    /// its `spend_alerts` is.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let (organization, projects) = managed(doc);
        if self.project {
            projects
        } else {
            Select::all_if(organization)
        }
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

    /// The alerts into the live document (for export; not managed when there are none), and
    /// with their IDs apart.
    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let kind = self.kind();
        if !self.project {
            if let Some(alerts) = raw.organization::<LiveAlert>(kind) {
                let alerts: Vec<LiveAlert> = alerts.into_iter().cloned().collect();
                store(&mut state.org.settings.fields, into_doc(&alerts));
                state.spend_alerts.insert(None, alerts);
            }
            return;
        }
        for (i, _, alerts) in super::read::project_lists::<LiveAlert>(raw, kind, state) {
            let alerts: Vec<LiveAlert> = alerts.into_iter().cloned().collect();
            let project = &mut state.org.projects[i];
            store(&mut project.fields, into_doc(&alerts));
            let name = project.name.clone();
            state.spend_alerts.insert(Some(name), alerts);
        }
    }

    fn file_field(&self) -> Option<(super::FieldPlace, &'static str)> {
        let place = if self.project {
            super::FieldPlace::Project
        } else {
            super::FieldPlace::Settings
        };
        Some((place, FIELD))
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        serde_json::from_value::<Vec<SpendAlert>>(value.clone())
            .err()
            .map(|e| e.to_string())
    }

    /// Alerts sorted by their natural key (threshold, recipients).
    fn canonical_field(&self, value: Value) -> Value {
        match serde_json::from_value::<Vec<SpendAlert>>(value.clone()) {
            Ok(mut alerts) => {
                alerts.sort_by_key(SpendAlert::key);
                serde_json::to_value(alerts).unwrap_or(value)
            }
            Err(_) => value,
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        if !self.project {
            return declared(&doc.settings.fields)
                .unwrap_or_default()
                .iter()
                .map(|a| format!("settings:spend_alert:{}", a.key()))
                .collect();
        }
        doc.projects
            .iter()
            .flat_map(|p| {
                declared(&p.fields)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| format!("project:{}/spend_alert:{}", p.name, a.key()))
            })
            .collect()
    }
}

fn diff(projects: bool, ctx: &Context<'_>, out: &mut Output) {
    let policy = ctx.desired.policy.unmanaged.spend_alerts;
    let mut scopes: Vec<(Option<String>, Vec<SpendAlert>, bool)> = Vec::new();
    if !projects && let Some(alerts) = declared(&ctx.desired.settings.fields) {
        scopes.push((None, alerts, true));
    }
    for (desired, live) in ctx.child_projects() {
        if projects && let Some(alerts) = declared(&desired.fields) {
            scopes.push((Some(desired.name.clone()), alerts, live.is_some()));
        }
    }
    for (project, desired, exists) in scopes {
        let (kind, name, prefix) = match &project {
            None => (
                ResourceKind::OrganizationSpendAlert,
                ORG,
                "settings:".to_string(),
            ),
            Some(p) => (
                ResourceKind::ProjectSpendAlert,
                PROJECT,
                format!("project:{p}/"),
            ),
        };
        let live: &[LiveAlert] = if exists {
            match ctx.state.spend_alerts.get(&project) {
                Some(l) => l,
                None => continue,
            }
        } else {
            &[]
        };
        let mut live_by: BTreeMap<String, &LiveAlert> = BTreeMap::new();
        let mut extras: Vec<&LiveAlert> = Vec::new();
        let mut sorted: Vec<&LiveAlert> = live.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        for alert in sorted {
            match live_by.entry(alert.alert.key()) {
                std::collections::btree_map::Entry::Occupied(_) => extras.push(alert),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(alert);
                }
            }
        }
        let desired_by: BTreeMap<String, SpendAlert> =
            desired.iter().map(|a| (a.key(), a.normal())).collect();
        let parents: Vec<String> = project.iter().map(|p| format!("project:{p}")).collect();
        let op = |id: Option<&str>, value: Option<&SpendAlert>| -> Operation {
            ValueOp::Kind {
                kind: name.to_string(),
                project: project.clone(),
                id: id.map(str::to_string),
                value: value.map(|v| serde_json::to_value(v).unwrap_or(Value::Null)),
            }
            .into()
        };
        for (key, want) in &desired_by {
            let plan_key = format!("{prefix}spend_alert:{key}");
            match live_by.get(key) {
                None => out.push(
                    Draft::new(kind, plan_key, Action::Create, op(None, Some(want)))
                        .after(Some(view(want)))
                        .diffed(&[])
                        .parents(parents.clone()),
                ),
                Some(have) if have.alert.normal() != *want => out.push(
                    Draft::new(
                        kind,
                        plan_key,
                        Action::Update,
                        op(Some(&have.id), Some(want)),
                    )
                    .before(Some(view(&have.alert)))
                    .after(Some(view(want)))
                    .diffed(&[])
                    .parents(parents.clone()),
                ),
                Some(_) => {}
            }
        }
        let undeclared = live_by
            .iter()
            .filter(|(k, _)| !desired_by.contains_key(*k))
            .map(|(k, a)| (format!("{prefix}spend_alert:{k}"), *a))
            .chain(extras.iter().map(|a| {
                (
                    format!("{prefix}spend_alert:{}#{}", a.alert.key(), a.id),
                    *a,
                )
            }));
        for (plan_key, alert) in undeclared {
            let object = view(&alert.alert);
            let draft_key = plan_key.clone();
            let parents = parents.clone();
            let removal = op(Some(&alert.id), None);
            out.unmanaged(policy, kind, &plan_key, object.clone(), || {
                Draft::new(kind, draft_key, Action::Delete, removal)
                    .before(Some(object))
                    .parents(parents)
            });
        }
    }
}
