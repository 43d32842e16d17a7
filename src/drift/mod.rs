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
//! **Attribution** comes from the audit log: one `GET /organization/audit_logs` per 100
//! resource ids ([`AUDIT_BATCH`]: ids of every drifted object and of its parents, from the
//! live read), limited to events since a cut-off. Events do not carry their resource id, so an
//! event is matched to an item by its details: they name the item's own id (best when they
//! also name its parent, as a group's `user_added` does), or, for a project role change whose
//! details name only the project, the item is that project's only drifted membership. The
//! best match wins: the closest, then the one whose verb fits the drift (a missing object
//! was deleted, an unmanaged one added), then the newest. Objects whose id the live read cannot know (a declared user who was removed from the
//! organization) stay unattributed: the audit log names them by id only.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::api::Client;
use crate::api::audit_logs::{AuditLog, AuditLogQuery};
use crate::live::IdIndex;
use crate::model::Document;
use crate::plan::{Action, FieldChange, IdRef, Plan, ResourceKind};

/// Resource ids per audit-log request: keeps the query string well under common URL limits.
pub const AUDIT_BATCH: usize = 100;

/// How a drifted object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// Declared and different.
    Changed,
    /// Declared and absent.
    Missing,
    /// Present and not declared.
    Unmanaged,
}

impl DriftClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::Changed => "changed",
            DriftClass::Missing => "missing",
            DriftClass::Unmanaged => "unmanaged",
        }
    }
}

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
    /// Server ids of the object and its parents (for attribution; not rendered).
    #[serde(skip)]
    pub resource_ids: Vec<String>,
    /// The object's own server id, when live has one.
    #[serde(skip)]
    pub own_id: Option<String>,
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

/// The drift report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Sorted by (class, kind, key).
    pub items: Vec<DriftItem>,
    pub audit: AuditStatus,
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
    pub fn in_sync(&self) -> bool {
        self.items.is_empty()
    }

    pub fn summary(&self) -> DriftSummary {
        let mut s = DriftSummary::default();
        for item in &self.items {
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
        Action::Adopt | Action::Update | Action::Replace | Action::Reinvite => DriftClass::Changed,
        Action::Revoke | Action::Deactivate | Action::Remove | Action::Delete => {
            DriftClass::Unmanaged
        }
        Action::Archive => {
            // Archiving a declared project means the file says `archived: true` and live
            // disagrees; archiving an undeclared one is the unmanaged policy at work.
            let declared = kind == ResourceKind::Project
                && key
                    .strip_prefix("project:")
                    .is_some_and(|name| desired.projects.iter().any(|p| p.name == name));
            if declared {
                DriftClass::Changed
            } else {
                DriftClass::Unmanaged
            }
        }
    }
}

/// The id references a natural key names, parent first: `project:Search/member:bob@x` is the
/// project `Search` then the user `bob@x`. Unknown segments are skipped.
pub fn key_refs(key: &str) -> Vec<IdRef> {
    let mut refs = Vec::new();
    let mut project: Option<String> = None;
    for segment in key.split('/') {
        let Some((kind, value)) = segment.split_once(':') else {
            continue;
        };
        let value = value.to_string();
        let r = match kind {
            "project" => {
                project = Some(value.clone());
                IdRef::Project { name: value }
            }
            "user" | "member" => IdRef::User { email: value },
            "invite" => IdRef::Invite { email: value },
            "group" => IdRef::Group { name: value },
            "role" => match &project {
                Some(p) => IdRef::ProjectRole {
                    project: p.clone(),
                    name: value,
                },
                None => IdRef::Role { name: value },
            },
            "service_account" => match &project {
                Some(p) => IdRef::ServiceAccount {
                    project: p.clone(),
                    name: value,
                },
                None => continue,
            },
            "rate_limit" => match &project {
                Some(p) => IdRef::RateLimit {
                    project: p.clone(),
                    model: value,
                },
                None => continue,
            },
            "certificate" => IdRef::Certificate { name: value },
            "admin_api_key" => IdRef::AdminApiKey { name: value },
            _ => continue,
        };
        refs.push(r);
    }
    refs
}

/// Server ids of the key's objects (parents first) and the object's own id.
fn resolve_ids(key: &str, ids: &IdIndex) -> (Vec<String>, Option<String>) {
    let refs = key_refs(key);
    let own = refs.last().and_then(|r| r.resolve(ids)).cloned();
    let mut all: Vec<String> = Vec::new();
    for r in &refs {
        if let Some(id) = r.resolve(ids)
            && !all.contains(id)
        {
            all.push(id.clone());
        }
    }
    (all, own)
}

/// The drifted objects of `plan` (made from `desired` against a live read with `ids`),
/// unattributed, sorted by (class, kind, key).
pub fn classify(plan: &Plan, desired: &Document, ids: &IdIndex) -> Vec<DriftItem> {
    let mut by_key: BTreeMap<(DriftClass, ResourceKind, String), DriftItem> = BTreeMap::new();
    for change in &plan.changes {
        let class = class_of(change.action, change.kind, &change.key, desired);
        let (resource_ids, own_id) = resolve_ids(&change.key, ids);
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
                own_id,
            },
        );
    }
    for object in &plan.unmanaged {
        let (resource_ids, own_id) = resolve_ids(&object.key, ids);
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
                own_id,
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

/// The event's details (the object under the event-type key) as one JSON value.
fn details_of(event: &AuditLog) -> Value {
    Value::Object(
        event
            .details
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// Whether a project-level `user.*` event naming only the project can stand for `item`: the
/// API puts the project id, not the user id, in a project role change's details, so such an
/// event is attributed only when one drifted membership of that project could explain it.
fn sole_member_of_project(item: &DriftItem, project_id: &str, items: &[DriftItem]) -> bool {
    let is_membership = |i: &DriftItem| {
        matches!(
            i.kind,
            ResourceKind::ProjectMember | ResourceKind::ProjectMemberRole
        )
    };
    is_membership(item)
        && items
            .iter()
            .filter(|i| {
                is_membership(i) && i.resource_ids.first().map(String::as_str) == Some(project_id)
            })
            .map(|i| &i.own_id)
            .collect::<BTreeSet<_>>()
            .len()
            == 1
}

/// How well `event` explains `item`: 0 not at all; higher is better.
fn match_score(item: &DriftItem, event: &AuditLog, items: &[DriftItem]) -> u8 {
    let details = details_of(event);
    let parents: Vec<&String> = item
        .resource_ids
        .iter()
        .filter(|id| Some(*id) != item.own_id.as_ref())
        .collect();
    let names_parent = parents.iter().any(|p| mentions(&details, p));
    match &item.own_id {
        // The event names the object itself; better when it also names the parent (a
        // group's `user_added`, a project group's role assignment).
        Some(own) if mentions(&details, own) => {
            if parents.is_empty() || names_parent {
                3
            } else {
                2
            }
        }
        Some(_) if event.event_type.starts_with("user.") => parents
            .iter()
            .find(|p| mentions(&details, p))
            .filter(|p| sole_member_of_project(item, p, items))
            .map_or(0, |_| 1),
        _ => 0,
    }
}

/// Whether the event's verb fits the way the item drifted: a missing object was deleted or
/// removed, an unmanaged one created or added, a changed one updated. Breaks ties between
/// events that name the same object (a user's role change and their removal from a project).
fn verb_fits(item: &DriftItem, event: &AuditLog) -> bool {
    let ty = event.event_type.as_str();
    let details = details_of(event).to_string();
    match item.class {
        DriftClass::Missing => {
            ty.ends_with(".deleted")
                || ty.ends_with(".deactivated")
                || ty.ends_with(".archived")
                || details.contains("user_removed")
        }
        DriftClass::Unmanaged => {
            ty.ends_with(".created")
                || ty.ends_with(".added")
                || ty.ends_with(".activated")
                || ty.ends_with(".accepted")
                || details.contains("user_added")
        }
        DriftClass::Changed => ty.ends_with(".updated"),
    }
}

/// Attributes each item to the best-matching event of `events` (see the module doc).
pub fn attribute(items: &mut [DriftItem], events: &[AuditLog]) {
    let mut found = Vec::with_capacity(items.len());
    for item in items.iter() {
        let mut best: Option<((u8, bool, i64), &AuditLog)> = None;
        for event in events {
            let score = match_score(item, event, items);
            if score == 0 {
                continue;
            }
            let at = event.effective_at.unwrap_or(0);
            let rank = (score, verb_fits(item, event), at);
            let better = match best {
                None => true,
                Some((r, e)) => (rank, &event.id) > (r, &e.id),
            };
            if better {
                best = Some((rank, event));
            }
        }
        found.push(best.map(|((_, _, at), event)| {
            Attribution {
                actor: event
                    .actor
                    .as_ref()
                    .and_then(|a| a.describe())
                    .unwrap_or_else(|| "(unknown actor)".to_string()),
                actor_type: event.actor.as_ref().and_then(|a| a.actor_type.clone()),
                event: event.event_type.clone(),
                event_id: event.id.clone(),
                at,
            }
        }));
    }
    for (item, attribution) in items.iter_mut().zip(found) {
        item.attribution = attribution;
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
    if ids.is_empty() {
        return AuditStatus::Skipped;
    }
    let before = client.attempts();
    let mut events: BTreeMap<String, AuditLog> = BTreeMap::new();
    for batch in ids.chunks(AUDIT_BATCH) {
        let query = AuditLogQuery {
            effective_at_gte: Some(since),
            resource_ids: batch.to_vec(),
            ..AuditLogQuery::default()
        };
        match client.list_audit_logs(&query).await {
            Ok(page) => {
                for event in page {
                    events.insert(event.id.clone(), event);
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
    let events: Vec<AuditLog> = events.into_values().collect();
    attribute(items, &events);
    AuditStatus::Read {
        since,
        requests: client.attempts().saturating_sub(before),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (UTC), without a date library.
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        (secs % 3_600) / 60,
        secs % 60
    )
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
        let (resource_ids, own_id) = resolve_ids(key, ids);
        DriftItem {
            kind: ResourceKind::ProjectMember,
            key: key.into(),
            class: DriftClass::Changed,
            action: Some(Action::Update),
            fields: vec![],
            live: None,
            attribution: None,
            resource_ids,
            own_id,
        }
    }

    fn ids() -> IdIndex {
        let mut ids = IdIndex::default();
        ids.projects.insert("Search".into(), "proj_s".into());
        ids.users.insert("bob@x.example".into(), "user_b".into());
        ids.groups.insert("ml".into(), "group_m".into());
        ids
    }

    #[test]
    fn keys_name_their_objects_parent_first() {
        assert_eq!(
            key_refs("project:Search/service_account:ci"),
            vec![
                IdRef::Project {
                    name: "Search".into()
                },
                IdRef::ServiceAccount {
                    project: "Search".into(),
                    name: "ci".into()
                }
            ]
        );
        let (all, own) = resolve_ids("project:Search/member:bob@x.example", &ids());
        assert_eq!(all, vec!["proj_s".to_string(), "user_b".to_string()]);
        assert_eq!(own.as_deref(), Some("user_b"));
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
        let mut items = vec![item("group:ml/member:bob@x.example", &ids)];
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

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
