//! Drift: what differs between the live organization and the file, object by object, and
//! who caused it.
//!
//! A drift report is derived from the plan, not computed beside it, so `drift` and `plan`
//! can never disagree about what differs. Each object the plan would touch, and each
//! unmanaged object it reports, becomes one [`DriftItem`] classified as:
//!
//! - `changed`: declared and different (the plan updates, adopts, replaces or re-sends it, or
//!   archives a project the file declares `archived: true`);
//! - `missing`: declared and absent (the plan creates, invites, grants or activates it);
//! - `unmanaged`: present and not declared (the plan removes, revokes, deactivates or
//!   archives it, or only reports it because the policy says `report`).
//!
//! **Drift means "apply would change something"**: the report is in sync exactly when the
//! plan has no changes (what makes `plan --detailed-exitcode` exit 0). Objects the plan only
//! reports are listed as information ([`DriftItem::informational`]) and count as drift only
//! with `--fail-on-unmanaged` ([`DriftReport::fail_on_unmanaged`]). The admin key the run
//! authenticates with is never an item: the plan leaves it alone and the report shows it in
//! [`DriftReport::in_use`].
//!
//! **Attribution** comes from the audit log: one `GET /organization/audit_logs` per 100
//! resource ids ([`AUDIT_BATCH`]: ids of every drifted object and of its parents, from the
//! live read), limited to events since a cut-off. An event explains an object only when
//! the object's kind lists its type for the drift class (`Kind::attribution`) (the verb fits:
//! a missing object was deleted or removed, an unmanaged one created or added, a changed one
//! updated) and its details name the object as the table says; otherwise the object stays
//! unattributed ("no audit event found"), since a wrong name is worse than none. Objects whose
//! id the live read cannot know (a declared user who was removed from the organization) stay
//! unattributed too: the audit log names them by id only.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::api::Client;
use crate::api::audit_logs::{AuditLog, AuditLogQuery};
pub use crate::kinds::attribution::{DriftClass, Names, ObjectIds};
use crate::kinds::attribution::{ORG_SETTINGS_EVENT, PROJECT_SETTINGS_EVENT, Rule};
use crate::live::IdIndex;
use crate::model::Document;
use crate::plan::{Action, FieldChange, Plan, ResourceKind};

/// Resource ids per audit-log request: keeps the query string well under common URL limits.
pub const AUDIT_BATCH: usize = 100;

/// Who caused a drift, from one audit-log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// The actor's email, or a service account or key id when there is no email.
    pub actor: String,
    /// `session` (the dashboard) or `api_key`.
    pub actor_type: Option<String>,
    /// The event type, e.g. `user.updated`.
    pub event: String,
    pub event_id: String,
    /// Unix seconds.
    pub at: i64,
}

/// One drifted object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftItem {
    pub kind: ResourceKind,
    pub key: String,
    pub class: DriftClass,
    /// What `orgops apply` would do about it; `None` when the policy only reports it.
    pub action: Option<Action>,
    /// The fields that differ (declared vs live), when the plan lists them.
    pub fields: Vec<FieldChange>,
    /// The object as live has it, when it exists.
    pub live: Option<Value>,
    pub attribution: Option<Attribution>,
    /// Server ids of the object and its parents (the audit-log query; not rendered).
    #[serde(skip)]
    pub resource_ids: Vec<String>,
    /// The same ids by role, for matching events (not rendered).
    #[serde(skip)]
    pub ids: ObjectIds,
}

impl DriftItem {
    /// Listed for information only: apply would not touch it (policy `report`).
    pub fn informational(&self) -> bool {
        self.action.is_none()
    }
}

/// Whether the audit log could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditStatus {
    /// Read: `requests` audit-log pages since `since`.
    Read { since: i64, requests: u64 },
    /// Not read (nothing to attribute).
    Skipped,
    /// Reading failed; the report is still complete, only unattributed.
    Unavailable { since: i64, error: String },
}

/// Projects whose cost this month reached `--cost-threshold` percent of the spend limit the
/// file declares for them. Reported beside the drift, never counted as drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CostStatus {
    /// Read: the projects over the threshold (sorted by name).
    Read {
        threshold_percent: u32,
        currency: String,
        over: Vec<CostOver>,
    },
    /// Not read: the file declares no project spend limit.
    Skipped,
    /// Reading failed; the drift report is still complete.
    Unavailable { error: String },
}

/// One project over the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostOver {
    /// `project:NAME`.
    pub key: String,
    pub cost_cents: i64,
    pub spend_limit_cents: u64,
    pub percent_of_limit: u64,
}

impl CostStatus {
    /// From a month-to-date cost report: the rows over `threshold`.
    pub fn from_report(report: &crate::costs::CostReport, threshold: u32) -> CostStatus {
        CostStatus::Read {
            threshold_percent: threshold,
            currency: report.currency.clone(),
            over: report
                .over(threshold)
                .into_iter()
                .map(|r| CostOver {
                    key: format!("project:{}", r.project),
                    cost_cents: r.cost_cents,
                    spend_limit_cents: r.limit_cents.unwrap_or_default(),
                    percent_of_limit: r.percent_of_limit().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// The lines a report shows: one per project over the threshold.
    pub fn lines(&self) -> Vec<String> {
        use crate::text::words::money;
        match self {
            CostStatus::Read {
                threshold_percent,
                currency,
                over,
            } => over
                .iter()
                .map(|o| {
                    format!(
                        "{}: {} this month is {} % of its spend limit {} (threshold {threshold_percent} %)",
                        o.key,
                        crate::costs::amount(o.cost_cents, currency),
                        o.percent_of_limit,
                        money(o.spend_limit_cents, currency),
                    )
                })
                .collect(),
            CostStatus::Skipped => Vec::new(),
            CostStatus::Unavailable { error } => {
                vec![format!("costs could not be read: {error}")]
            }
        }
    }
}

/// The drift report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Sorted by (class, kind, key).
    pub items: Vec<DriftItem>,
    pub audit: AuditStatus,
    /// Keys of the admin API keys this run authenticates with (`admin_api_key:NAME`): shown
    /// as "in use", never as unmanaged.
    pub in_use: Vec<String>,
    /// `--fail-on-unmanaged`: objects listed for information count as drift too.
    pub fail_on_unmanaged: bool,
    /// Projects near their spend limit (`--cost-threshold`).
    pub costs: CostStatus,
}

/// Counts per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriftSummary {
    pub changed: usize,
    pub missing: usize,
    pub unmanaged: usize,
}

impl DriftSummary {
    pub fn total(&self) -> usize {
        self.changed + self.missing + self.unmanaged
    }
}

impl DriftReport {
    /// Whether `item` makes the report a drift: apply would change it, or it is listed for
    /// information and `--fail-on-unmanaged` counts it.
    pub fn counts(&self, item: &DriftItem) -> bool {
        !item.informational() || self.fail_on_unmanaged
    }

    /// Nothing counts as drift: apply would change nothing (the same rule as `plan
    /// --detailed-exitcode` exiting 0), unless `--fail-on-unmanaged` and something is listed.
    pub fn in_sync(&self) -> bool {
        !self.items.iter().any(|i| self.counts(i))
    }

    /// Counts per class of every listed object.
    pub fn summary(&self) -> DriftSummary {
        Self::count(self.items.iter())
    }

    /// Counts per class of the objects that count as drift (see [`DriftReport::counts`]).
    pub fn drift_summary(&self) -> DriftSummary {
        Self::count(self.items.iter().filter(|i| self.counts(i)))
    }

    /// Objects listed for information only (policy `report`).
    pub fn informational(&self) -> usize {
        self.items.iter().filter(|i| i.informational()).count()
    }

    fn count<'a>(items: impl Iterator<Item = &'a DriftItem>) -> DriftSummary {
        let mut s = DriftSummary::default();
        for item in items {
            match item.class {
                DriftClass::Changed => s.changed += 1,
                DriftClass::Missing => s.missing += 1,
                DriftClass::Unmanaged => s.unmanaged += 1,
            }
        }
        s
    }
}

/// How a change of the plan classifies its object.
fn class_of(action: Action, kind: ResourceKind, key: &str, desired: &Document) -> DriftClass {
    match action {
        Action::Create | Action::Invite | Action::Grant | Action::Activate => DriftClass::Missing,
        Action::Adopt | Action::Set | Action::Update | Action::Replace | Action::Reinvite => {
            DriftClass::Changed
        }
        Action::Revoke | Action::Deactivate | Action::Remove | Action::Delete | Action::Unset => {
            DriftClass::Unmanaged
        }
        Action::Archive => {
            // Archiving a declared project means the file says `archived: true` and live
            // disagrees; archiving an undeclared one is the unmanaged policy at work.
            let declared = kind.def().declared_keys(desired).iter().any(|k| k == key);
            if declared {
                DriftClass::Changed
            } else {
                DriftClass::Unmanaged
            }
        }
    }
}

/// The drifted objects of `plan` (made from `desired` against a live read with `ids`),
/// unattributed, sorted by (class, kind, key).
pub fn classify(plan: &Plan, desired: &Document, ids: &IdIndex) -> Vec<DriftItem> {
    let mut by_key: BTreeMap<(DriftClass, ResourceKind, String), DriftItem> = BTreeMap::new();
    for change in &plan.changes {
        let class = class_of(change.action, change.kind, &change.key, desired);
        let (resource_ids, object_ids) = ObjectIds::resolve(&change.key, ids);
        by_key.insert(
            (class, change.kind, change.key.clone()),
            DriftItem {
                kind: change.kind,
                key: change.key.clone(),
                class,
                action: Some(change.action),
                fields: change.fields.clone(),
                live: change.before.clone(),
                attribution: None,
                resource_ids,
                ids: object_ids,
            },
        );
    }
    for object in &plan.unmanaged {
        let (resource_ids, object_ids) = ObjectIds::resolve(&object.key, ids);
        by_key
            .entry((DriftClass::Unmanaged, object.kind, object.key.clone()))
            .or_insert(DriftItem {
                kind: object.kind,
                key: object.key.clone(),
                class: DriftClass::Unmanaged,
                action: None,
                fields: vec![],
                live: Some(object.object.clone()),
                attribution: None,
                resource_ids,
                ids: object_ids,
            });
    }
    by_key.into_values().collect()
}

/// Every resource id to ask the audit log about, sorted and de-duplicated.
pub fn audit_resource_ids(items: &[DriftItem]) -> Vec<String> {
    let set: BTreeSet<&String> = items.iter().flat_map(|i| &i.resource_ids).collect();
    set.into_iter().cloned().collect()
}

/// Whether `value` holds the string `needle` anywhere.
fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s == needle,
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

/// How well an event explains an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    /// Names what the API puts in such an event, which fits more than one object: valid only
    /// when no other drifted object of the same kind and class fits the same event.
    Unique,
    /// Names the object and, where it has one, its parent.
    Named,
}

fn field<'v>(details: &'v Value, name: &str) -> Option<&'v str> {
    details.get(name).and_then(Value::as_str)
}

fn is(value: Option<&str>, id: Option<&String>) -> bool {
    matches!((value, id), (Some(v), Some(id)) if v == id)
}

/// Every kind's attribution rules (`Kind::attribution`), asked once per report.
type Rules = BTreeMap<ResourceKind, Vec<Rule>>;

fn rules() -> Rules {
    ResourceKind::ALL
        .iter()
        .map(|k| (*k, k.def().attribution()))
        .collect()
}

/// Whether (and how well) `event` explains `item`, per its kind's [`Rule`]s.
fn explains(rules: &Rules, item: &DriftItem, event: &AuditLog) -> Option<Strength> {
    let names = rules
        .get(&item.kind)?
        .iter()
        .find(|r| r.class == item.class && r.event == event.event_type)
        .map(|r| r.names)?;
    let details = event.details.get(&event.event_type)?;
    let ids = &item.ids;
    let id = field(details, "id");
    let named = |yes: bool| yes.then_some(Strength::Named);
    let event_project = event.project.as_ref().and_then(|p| p.id.as_ref());
    match names {
        Names::Id => named(is(id, ids.own.as_ref())),
        Names::GroupUser(change) => named(
            is(id, ids.group.as_ref())
                && is(
                    details
                        .get("changes_requested")
                        .and_then(|c| field(c, change)),
                    ids.user.as_ref(),
                ),
        ),
        Names::Assignment => {
            let principal = ids.user.as_ref().or(ids.group.as_ref());
            named(
                is(field(details, "principal_id"), principal)
                    && is(id, ids.role.as_ref())
                    && (ids.project.is_none()
                        || is(field(details, "resource_id"), ids.project.as_ref())),
            )
        }
        Names::ProjectGroupMembership => named(
            is(field(details, "principal_id"), ids.group.as_ref())
                && is(field(details, "resource_id"), ids.project.as_ref())
                && id.is_some_and(|r| r.starts_with("role-api-project-")),
        ),
        Names::ProjectUser => {
            if !is(id, ids.user.as_ref()) {
                return None;
            }
            let project = ids.project.as_ref()?;
            if mentions(details, project) || event_project == Some(project) {
                Some(Strength::Named)
            } else {
                Some(Strength::Unique)
            }
        }
        Names::ProjectOfUser => {
            let (project, user) = (ids.project.as_ref()?, ids.user.as_ref()?);
            if !mentions(details, project) {
                return None;
            }
            if mentions(details, user) {
                Some(Strength::Named)
            } else if is(id, Some(project)) {
                Some(Strength::Unique)
            } else {
                None
            }
        }
        Names::Certificates => {
            let certificate = ids.certificate.as_ref()?;
            let listed = details
                .get("certificates")
                .and_then(Value::as_array)
                .is_some_and(|list| list.iter().any(|c| is(field(c, "id"), Some(certificate))));
            if !listed {
                return None;
            }
            match &ids.project {
                Some(project) if event_project == Some(project) => Some(Strength::Named),
                _ => Some(Strength::Unique),
            }
        }
        Names::Setting(field) => {
            let changes = setting_changes(event, details, ids)?;
            changes.get(field).map(|_| Strength::Named)
        }
        Names::SettingItem(fields) => {
            let changes = setting_changes(event, details, ids)?;
            let hit = fields.iter().find_map(|f| changes.get(*f))?;
            let live_id = item.live.as_ref().and_then(|l| field(l, "id"));
            match live_id {
                Some(live_id) if mentions(hit, live_id) => Some(Strength::Named),
                _ => Some(Strength::Unique),
            }
        }
    }
}

/// The `changes_requested` of a settings write, when it is about the object's scope (a
/// project's write names the project; there is one organization).
fn setting_changes<'v>(event: &AuditLog, details: &'v Value, ids: &ObjectIds) -> Option<&'v Value> {
    if event.event_type == PROJECT_SETTINGS_EVENT && !is(field(details, "id"), ids.project.as_ref())
    {
        return None;
    }
    details.get("changes_requested")
}

/// Attributes each item to the event that best explains it (its kind's [`Rule`]s): a
/// `Strength::Named` event over a `Strength::Unique` one, then the newest, then (within
/// one second) the one listed first: `events` come newest first, as the API lists them; ids
/// are not chronological. An item no event explains stays unattributed ("no
/// audit event found"): a wrong name is worse than none.
pub fn attribute(items: &mut [DriftItem], events: &[AuditLog]) {
    type Rank = (Strength, i64, std::cmp::Reverse<usize>);
    let rules = rules();
    let mut best: Vec<Option<(Rank, &AuditLog)>> = vec![None; items.len()];
    for (position, event) in events.iter().enumerate() {
        let fits: Vec<(usize, Strength)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| explains(&rules, item, event).map(|s| (i, s)))
            .collect();
        for &(i, strength) in &fits {
            if strength == Strength::Unique {
                let rivals = fits
                    .iter()
                    .filter(|(j, _)| {
                        items[*j].kind == items[i].kind && items[*j].class == items[i].class
                    })
                    .count();
                if rivals > 1 {
                    continue;
                }
            }
            let rank = (
                strength,
                event.effective_at.unwrap_or(0),
                std::cmp::Reverse(position),
            );
            if best[i].as_ref().is_none_or(|(r, _)| rank > *r) {
                best[i] = Some((rank, event));
            }
        }
    }
    for (item, found) in items.iter_mut().zip(best) {
        item.attribution = found.map(|((_, at, _), event)| Attribution {
            actor: event
                .actor
                .as_ref()
                .and_then(|a| a.describe())
                .unwrap_or_else(|| "(unknown actor)".to_string()),
            actor_type: event.actor.as_ref().and_then(|a| a.actor_type.clone()),
            event: event.event_type.clone(),
            event_id: event.id.clone(),
            at,
        });
    }
}

/// Reads the audit-log events about `items` since `since` (unix seconds), in batches of
/// [`AUDIT_BATCH`] resource ids, and attributes the items. Returns how it went; a failed read
/// leaves the items unattributed instead of failing the report.
pub async fn attribute_from_audit_log(
    client: &Client,
    items: &mut [DriftItem],
    since: i64,
) -> AuditStatus {
    let ids = audit_resource_ids(items);
    // Organization-wide settings' events name the organization, whose id the live read does
    // not know: asked for by type.
    let rules = rules();
    let org_settings = items.iter().any(|i| {
        rules
            .get(&i.kind)
            .is_some_and(|r| r.iter().any(|r| r.event == ORG_SETTINGS_EVENT))
    });
    if ids.is_empty() && !org_settings {
        return AuditStatus::Skipped;
    }
    let before = client.attempts();
    // By id: (position in the answer that listed it first, newest first; the event).
    let mut events: BTreeMap<String, (usize, AuditLog)> = BTreeMap::new();
    let mut queries: Vec<AuditLogQuery> = ids
        .chunks(AUDIT_BATCH)
        .map(|batch| AuditLogQuery {
            effective_at_gte: Some(since),
            resource_ids: batch.to_vec(),
            ..AuditLogQuery::default()
        })
        .collect();
    if org_settings {
        queries.push(AuditLogQuery {
            effective_at_gte: Some(since),
            event_types: vec![ORG_SETTINGS_EVENT.to_string()],
            ..AuditLogQuery::default()
        });
    }
    for query in queries {
        match client.list_audit_logs(&query).await {
            Ok(page) => {
                for (position, event) in page.into_iter().enumerate() {
                    let seen = events.entry(event.id.clone()).or_insert((position, event));
                    seen.0 = seen.0.min(position);
                }
            }
            Err(e) => {
                return AuditStatus::Unavailable {
                    since,
                    error: e.to_string(),
                };
            }
        }
    }
    let mut events: Vec<(usize, AuditLog)> = events.into_values().collect();
    // Newest first, as the API lists them; ties by position, then id (deterministic).
    events.sort_by(|(pa, a), (pb, b)| {
        b.effective_at
            .cmp(&a.effective_at)
            .then(pa.cmp(pb))
            .then_with(|| a.id.cmp(&b.id))
    });
    let events: Vec<AuditLog> = events.into_iter().map(|(_, e)| e).collect();
    attribute(items, &events);
    AuditStatus::Read {
        since,
        requests: client.attempts().saturating_sub(before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::audit_logs::{AuditLogActor, AuditLogApiKey, AuditLogUser};
    use serde_json::json;

    fn event(id: &str, ty: &str, at: i64, details: Value, email: &str) -> AuditLog {
        AuditLog {
            id: id.into(),
            event_type: ty.into(),
            effective_at: Some(at),
            project: None,
            actor: Some(AuditLogActor {
                actor_type: Some("api_key".into()),
                session: None,
                api_key: Some(AuditLogApiKey {
                    id: Some("key_1".into()),
                    key_type: Some("user".into()),
                    user: Some(AuditLogUser {
                        id: None,
                        email: Some(email.into()),
                    }),
                    service_account: None,
                }),
            }),
            details: [(ty.to_string(), details)].into_iter().collect(),
        }
    }

    fn item(key: &str, ids: &IdIndex) -> DriftItem {
        let (resource_ids, object_ids) = ObjectIds::resolve(key, ids);
        DriftItem {
            kind: ResourceKind::ProjectMember,
            key: key.into(),
            class: DriftClass::Changed,
            action: Some(Action::Update),
            fields: vec![],
            live: None,
            attribution: None,
            resource_ids,
            ids: object_ids,
        }
    }

    fn ids() -> IdIndex {
        let mut ids = IdIndex::default();
        use crate::kinds::keys::refs;
        ids.set(refs::project("Search"), "proj_s".into());
        ids.set(refs::user("bob@x.example"), "user_b".into());
        ids.set(refs::group("ml"), "group_m".into());
        ids
    }

    #[test]
    fn keys_name_their_objects_parent_first() {
        assert_eq!(
            crate::kinds::attribution::key_refs("project:Search/service_account:ci"),
            vec![
                crate::kinds::keys::refs::project("Search"),
                crate::kinds::keys::refs::service_account("Search", "ci"),
            ]
        );
        let (all, own) = ObjectIds::resolve("project:Search/member:bob@x.example", &ids());
        assert_eq!(all, vec!["proj_s".to_string(), "user_b".to_string()]);
        assert_eq!(own.own.as_deref(), Some("user_b"));
        assert_eq!(own.project.as_deref(), Some("proj_s"));
    }

    #[test]
    fn the_event_naming_the_parent_wins_over_an_unrelated_newer_one() {
        let ids = ids();
        let mut items = vec![item("project:Search/member:bob@x.example", &ids)];
        let events = vec![
            // Bob's organization role changed later (does not name the project).
            event(
                "e2",
                "user.updated",
                200,
                json!({"id": "user_b", "changes_requested": {"role": "owner"}}),
                "carol@x.example",
            ),
            // Bob's role in Search changed (names the project).
            event(
                "e1",
                "user.updated",
                100,
                json!({"id": "user_b", "project_id": "proj_s"}),
                "dave@x.example",
            ),
        ];
        attribute(&mut items, &events);
        let a = items[0].attribution.as_ref().expect("attributed");
        assert_eq!(a.actor, "dave@x.example");
        assert_eq!(a.event_id, "e1");
    }

    #[test]
    fn a_parent_event_counts_only_when_it_names_the_object() {
        let ids = ids();
        let mut items = vec![of(
            ResourceKind::GroupMember,
            DriftClass::Unmanaged,
            "group:ml/member:bob@x.example",
            &ids,
        )];
        let unrelated = event(
            "e1",
            "group.updated",
            100,
            json!({"id": "group_m", "changes_requested": {"user_added": "user_z"}}),
            "carol@x.example",
        );
        attribute(&mut items, std::slice::from_ref(&unrelated));
        assert_eq!(items[0].attribution, None);
        let related = event(
            "e2",
            "group.updated",
            50,
            json!({"id": "group_m", "changes_requested": {"user_added": "user_b"}}),
            "erin@x.example",
        );
        attribute(&mut items, &[unrelated, related]);
        assert_eq!(
            items[0].attribution.as_ref().map(|a| a.actor.as_str()),
            Some("erin@x.example")
        );
    }

    fn of(kind: ResourceKind, class: DriftClass, key: &str, ids: &IdIndex) -> DriftItem {
        DriftItem {
            kind,
            class,
            action: None,
            ..item(key, ids)
        }
    }

    fn attributed(item: DriftItem, events: &[AuditLog]) -> Option<String> {
        let mut items = vec![item];
        attribute(&mut items, events);
        items[0].attribution.as_ref().map(|a| a.event_id.clone())
    }

    /// Two writes in the same second: the one the API lists first (the newer) explains the
    /// object, whatever the ids' order; a settings event names its project's setting only.
    #[test]
    fn within_one_second_the_event_listed_first_wins_and_settings_name_their_project() {
        let ids = ids();
        let settings = |id: &str, project: &str, who: &str| {
            event(
                id,
                "project.updated",
                100,
                json!({"id": project, "changes_requested": {"spend_limit": null}}),
                who,
            )
        };
        let item = of(
            ResourceKind::ProjectSpendLimit,
            DriftClass::Changed,
            "project:Search/spend_limit",
            &ids,
        );
        let newer = settings("e1", "proj_s", "carol@x.example");
        let older = settings("e9", "proj_s", "ada@x.example");
        assert_eq!(
            attributed(item.clone(), &[newer.clone(), older.clone()]),
            Some("e1".into())
        );
        assert_eq!(attributed(item.clone(), &[older, newer]), Some("e9".into()));
        let elsewhere = settings("e5", "proj_other", "carol@x.example");
        assert_eq!(attributed(item.clone(), &[elsewhere]), None);
        let other_field = event(
            "e6",
            "project.updated",
            100,
            json!({"id": "proj_s", "changes_requested": {"data_retention": "none"}}),
            "carol@x.example",
        );
        assert_eq!(attributed(item, &[other_field]), None);
    }

    /// The case: bob's pre-existing group membership and project membership are not
    /// explained by the `user.updated` that changed his organization role.
    #[test]
    fn an_organization_role_change_explains_no_membership() {
        let ids = ids();
        let role_change = event(
            "e1",
            "user.updated",
            100,
            json!({"id": "user_b", "changes_requested": {"role": "owner"}}),
            "root@x.example",
        );
        for (kind, key) in [
            (ResourceKind::GroupMember, "group:ml/member:bob@x.example"),
            (
                ResourceKind::ProjectMember,
                "project:Search/member:bob@x.example",
            ),
        ] {
            let item = of(kind, DriftClass::Unmanaged, key, &ids);
            assert_eq!(
                attributed(item, std::slice::from_ref(&role_change)),
                None,
                "{key}"
            );
        }
        // It does explain the organization member's changed role.
        let user = of(
            ResourceKind::User,
            DriftClass::Changed,
            "user:bob@x.example",
            &ids,
        );
        assert_eq!(attributed(user, &[role_change]), Some("e1".into()));
    }

    #[test]
    fn the_verb_must_fit_the_drift_class() {
        let ids = ids();
        let removed = event(
            "e1",
            "group.updated",
            100,
            json!({"id": "group_m", "changes_requested": {"user_removed": "user_b"}}),
            "carol@x.example",
        );
        let extra = of(
            ResourceKind::GroupMember,
            DriftClass::Unmanaged,
            "group:ml/member:bob@x.example",
            &ids,
        );
        assert_eq!(attributed(extra, std::slice::from_ref(&removed)), None);
        let missing = of(
            ResourceKind::GroupMember,
            DriftClass::Missing,
            "group:ml/member:bob@x.example",
            &ids,
        );
        assert_eq!(attributed(missing, &[removed]), Some("e1".into()));
    }

    #[test]
    fn a_project_user_event_naming_only_the_user_is_used_only_when_unambiguous() {
        let mut ids = ids();
        ids.set(crate::kinds::keys::refs::project("Ads"), "proj_a".into());
        let added = event(
            "e1",
            "user.added",
            100,
            json!({"id": "user_b", "data": {"role": "member"}}),
            "carol@x.example",
        );
        let search = of(
            ResourceKind::ProjectMember,
            DriftClass::Unmanaged,
            "project:Search/member:bob@x.example",
            &ids,
        );
        let ads = of(
            ResourceKind::ProjectMember,
            DriftClass::Unmanaged,
            "project:Ads/member:bob@x.example",
            &ids,
        );
        // One drifted membership of bob: the event can only be about it.
        assert_eq!(
            attributed(search.clone(), std::slice::from_ref(&added)),
            Some("e1".into())
        );
        // Two: it could be either, so neither is named.
        let mut items = vec![search, ads];
        attribute(&mut items, std::slice::from_ref(&added));
        assert_eq!(items[0].attribution, None);
        assert_eq!(items[1].attribution, None);
    }

    #[test]
    fn a_role_assignment_explains_only_its_principal_and_role() {
        let mut ids = ids();
        ids.set(crate::kinds::keys::refs::role("auditor"), "role_a".into());
        ids.set(
            crate::kinds::keys::refs::user("carol@x.example"),
            "user_c".into(),
        );
        let item = of(
            ResourceKind::UserRole,
            DriftClass::Unmanaged,
            "user:bob@x.example/role:auditor",
            &ids,
        );
        let carols = event(
            "e1",
            "role.assignment.created",
            100,
            json!({"id": "role_a", "principal_id": "user_c", "principal_type": "user",
                   "resource_id": "org", "resource_type": "api.organization"}),
            "dave@x.example",
        );
        let bobs_other_role = event(
            "e2",
            "role.assignment.created",
            100,
            json!({"id": "role_z", "principal_id": "user_b", "principal_type": "user",
                   "resource_id": "org", "resource_type": "api.organization"}),
            "dave@x.example",
        );
        assert_eq!(attributed(item.clone(), &[carols, bobs_other_role]), None);
        let bobs = event(
            "e3",
            "role.assignment.created",
            50,
            json!({"id": "role_a", "principal_id": "user_b", "principal_type": "user",
                   "resource_id": "org", "resource_type": "api.organization"}),
            "dave@x.example",
        );
        assert_eq!(attributed(item, &[bobs]), Some("e3".into()));
    }
}
