//! Incremental reads: a snapshot of what a read observed and the audit-log position it is
//! valid at, and the lists an audit log since then can have changed.
//!
//! A snapshot keeps the lists of the kinds that declare `Kind::incremental` exactly as they
//! were read (their wire pages as JSON: lists never carry secrets), keyed by kind and the
//! server IDs of the parent they were read for. The next read takes every list no event
//! since has touched from it and fetches the rest, through the same dataflow as a full read
//! (`read::read_reusing`), so the live state is built by the same normalisation.
//!
//! The file is input anyone with write access to where it is kept could have written: it
//! is read through the bounded reader, refused unless its format, orgops version and
//! digest check out, and each page decodes into the kind's own wire type or the whole file
//! is refused. The digest detects a damaged or edited file, not a forged one (anyone can
//! recompute it): see the threat model in docs/plan.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::read::Reuse;
use crate::api::audit_logs::AuditLog;
use crate::kinds::incremental::{Reach, revealing_events};
use crate::kinds::{RawStore, ResourceKind};

/// The format this build writes and reads.
pub const FORMAT: u32 = 1;

/// The oldest a snapshot may be by default (`--snapshot-max-age`): one day.
pub const DEFAULT_MAX_AGE_SECS: u64 = 86_400;

/// Where the audit log stood when a read started: its newest event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub id: String,
    pub effective_at: i64,
}

/// One list as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptList {
    pub kind: ResourceKind,
    /// The server IDs of the parent it was read for (empty: an organization list).
    pub parent: Vec<String>,
    pub pages: Vec<serde_json::Value>,
}

/// The snapshot file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub format: u32,
    pub orgops_version: String,
    /// The organization read: the API endpoint and the organization its responses named.
    pub organization: String,
    /// When the read started (unix seconds).
    pub taken_at: i64,
    /// The audit log's newest event before the read started (`None`: the log was empty,
    /// so no later read can tell what changed since).
    pub cursor: Option<Cursor>,
    pub lists: Vec<KeptList>,
    /// SHA-256 of everything above, as this struct serializes it with `digest` empty.
    #[serde(default)]
    pub digest: String,
}

impl Snapshot {
    /// A snapshot of the incremental kinds' lists in `raw`.
    pub fn of(
        raw: &RawStore,
        organization: String,
        taken_at: i64,
        cursor: Option<Cursor>,
    ) -> Snapshot {
        let mut lists = Vec::new();
        for &kind in ResourceKind::ALL {
            let Some(incremental) = kind.def().incremental() else {
                continue;
            };
            for list in raw.lists(kind) {
                let pages: Option<Vec<_>> = list.pages.iter().map(incremental.encode).collect();
                // A page of another type (never the case) leaves the list out: it is fetched.
                let Some(pages) = pages else { continue };
                let parent = list
                    .parent
                    .as_ref()
                    .map(|p| p.ids.clone())
                    .unwrap_or_default();
                lists.push(KeptList {
                    kind,
                    parent,
                    pages,
                });
            }
        }
        lists.sort_by(|a, b| (a.kind, &a.parent).cmp(&(b.kind, &b.parent)));
        let mut snapshot = Snapshot {
            format: FORMAT,
            orgops_version: crate::VERSION.to_string(),
            organization,
            taken_at,
            cursor,
            lists,
            digest: String::new(),
        };
        snapshot.seal();
        snapshot
    }

    /// Sets the digest to this content's. Anyone can: the digest finds a damaged or
    /// hand-edited file, it does not prove who wrote it (docs/plan.md, threat model).
    pub fn seal(&mut self) {
        self.digest = self.compute_digest();
    }

    fn compute_digest(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.digest = String::new();
        let bytes = serde_json::to_vec(&unsigned).unwrap_or_default();
        let hash = Sha256::digest(&bytes);
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Writes the snapshot to `path` (through a temporary file beside it, renamed over it, so
    /// a reader never sees half a file).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("orgops-tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("writing the snapshot {}: {e}", path.display()))
    }

    /// Reads and checks a snapshot file: bounded, the format and orgops version this build
    /// writes, the digest, and every page decodable into its kind's wire type. `Err` says
    /// why it cannot be used (one line).
    pub fn read(path: &Path) -> Result<(Snapshot, Reuse), String> {
        let bytes = crate::input::read_bytes(path, crate::input::MAX_INPUT_BYTES)
            .map_err(|e| format!("the snapshot {} cannot be read: {e}", path.display()))?;
        // The format first, so a future format says so instead of failing to decode.
        let head: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("the snapshot is not JSON ({})", escaped(&e)))?;
        match head.get("format").and_then(serde_json::Value::as_u64) {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => {
                return Err(format!(
                    "the snapshot is format {f}, this orgops reads {FORMAT}"
                ));
            }
            None => return Err("the snapshot has no format: not an orgops snapshot".into()),
        }
        let snapshot: Snapshot = serde_json::from_value(head)
            .map_err(|e| format!("the snapshot is not one orgops wrote ({})", escaped(&e)))?;
        if snapshot.orgops_version != crate::VERSION {
            return Err(format!(
                "the snapshot was written by orgops {}, this is {}",
                crate::text::escape::text(&snapshot.orgops_version),
                crate::VERSION
            ));
        }
        if snapshot.digest != snapshot.compute_digest() {
            return Err(
                "the snapshot's digest does not match its content (damaged or edited)".into(),
            );
        }
        let mut reuse = Reuse::new();
        for list in &snapshot.lists {
            let Some(incremental) = list.kind.def().incremental() else {
                return Err(format!(
                    "the snapshot holds {} lists, which this orgops always reads in full",
                    list.kind
                ));
            };
            let mut pages = Vec::with_capacity(list.pages.len());
            for page in &list.pages {
                pages.push((incremental.decode)(page.clone()).map_err(|e| {
                    format!(
                        "the snapshot's {} list does not decode ({})",
                        list.kind,
                        escaped(&e)
                    )
                })?);
            }
            if reuse
                .insert((list.kind, list.parent.clone()), pages)
                .is_some()
            {
                return Err(format!("the snapshot holds one {} list twice", list.kind));
            }
        }
        Ok((snapshot, reuse))
    }

    /// Why this snapshot is too old to read from at `now` (unix seconds), if it is.
    pub fn too_old(&self, now: i64, max_age_secs: u64) -> Option<String> {
        let age = now.saturating_sub(self.taken_at);
        if age < 0 {
            return Some("the snapshot is dated in the future".into());
        }
        if age as u64 > max_age_secs {
            return Some(format!(
                "the snapshot is {} old, more than --snapshot-max-age ({})",
                duration(age as u64),
                duration(max_age_secs)
            ));
        }
        None
    }

    /// Why this snapshot is not of `organization`, if it is not.
    pub fn other_organization(&self, organization: &str) -> Option<String> {
        (self.organization != organization).then(|| {
            format!(
                "the snapshot is of another organization ({}, this is {})",
                crate::text::escape::text(&self.organization),
                crate::text::escape::text(organization)
            )
        })
    }
}

/// An error about the file's content, which may quote it: escaped for the terminal.
fn escaped(error: &dyn std::fmt::Display) -> String {
    crate::text::escape::text(&error.to_string()).into_owned()
}

fn duration(secs: u64) -> String {
    if secs >= 86_400 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 3600 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// Every id an event names in its details (the object's `id`, `principal_id`,
/// `resource_id`, the user a group gained or lost...), for matching against lists' parents
/// and contents. Other strings (names, role names) are not ids and would match too much.
fn named_ids(event: &AuditLog) -> BTreeSet<String> {
    fn is_id_key(key: &str) -> bool {
        key == "id" || key.ends_with("_id") || key == "user_added" || key == "user_removed"
    }
    fn walk(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        serde_json::Value::String(s) if is_id_key(key) && !s.is_empty() => {
                            out.insert(s.clone());
                        }
                        _ => walk(value, out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if let Some(details) = event.details.get(&event.event_type) {
        walk(details, &mut out);
    }
    out
}

/// Whether a kept list's pages mention `id` anywhere.
fn mentions(pages: &[serde_json::Value], ids: &BTreeSet<String>) -> bool {
    fn walk(value: &serde_json::Value, ids: &BTreeSet<String>) -> bool {
        match value {
            serde_json::Value::String(s) => ids.contains(s),
            serde_json::Value::Array(items) => items.iter().any(|v| walk(v, ids)),
            serde_json::Value::Object(map) => map.values().any(|v| walk(v, ids)),
            _ => false,
        }
    }
    pages.iter().any(|p| walk(p, ids))
}

/// What the events since a snapshot make stale.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stale {
    /// Lists to fetch again, by kind and parent IDs.
    pub lists: BTreeSet<(ResourceKind, Vec<String>)>,
    /// Kinds every list of which is fetched again (an event that names no parent).
    pub kinds: BTreeSet<ResourceKind>,
}

/// The lists of `snapshot` that `events` (those after its cursor) can have changed, per the
/// kinds' declarations (`kinds::incremental`): an organization list by any event that
/// reveals its kind; a per-parent list by an event naming its parent, or, for an event
/// that only changes what a list already holds ([`Reach::Held`]), by one naming an id the
/// list holds; every list of the kind by an event that can add and names no parent.
pub fn stale(snapshot: &Snapshot, events: &[AuditLog]) -> Stale {
    let mut out = Stale::default();
    let revealing: BTreeMap<ResourceKind, BTreeMap<&'static str, Reach>> = ResourceKind::ALL
        .iter()
        .filter_map(|&k| revealing_events(k).map(|e| (k, e)))
        .collect();
    let mut by_kind: BTreeMap<ResourceKind, Vec<&KeptList>> = BTreeMap::new();
    for list in &snapshot.lists {
        by_kind.entry(list.kind).or_default().push(list);
    }
    for event in events {
        let ids = named_ids(event);
        for (&kind, events) in &revealing {
            let Some(&reach) = events.get(event.event_type.as_str()) else {
                continue;
            };
            if out.kinds.contains(&kind) {
                continue;
            }
            let per_parent = kind.def().source().is_some_and(|s| s.parent.is_some());
            if !per_parent {
                out.lists.insert((kind, Vec::new()));
                continue;
            }
            let lists = by_kind.get(&kind).map(Vec::as_slice).unwrap_or_default();
            let mut matched = false;
            for list in lists {
                let parent_named = list.parent.last().is_some_and(|own| ids.contains(own));
                let held = reach == Reach::Held && mentions(&list.pages, &ids);
                if parent_named || held {
                    out.lists.insert((kind, list.parent.clone()));
                    matched = true;
                }
            }
            if !matched && reach == Reach::Any {
                out.kinds.insert(kind);
            }
        }
    }
    out
}

/// The snapshot's lists minus the stale ones.
pub fn fresh_lists(mut reuse: Reuse, stale: &Stale) -> Reuse {
    reuse.retain(|(kind, parent), _| {
        !stale.kinds.contains(kind) && !stale.lists.contains(&(*kind, parent.clone()))
    });
    reuse
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, details: serde_json::Value) -> AuditLog {
        serde_json::from_value(serde_json::json!({
            "id": "audit_1", "type": kind, "effective_at": 1, kind: details
        }))
        .expect("event")
    }

    fn list(kind: ResourceKind, parent: &[&str], pages: serde_json::Value) -> KeptList {
        KeptList {
            kind,
            parent: parent.iter().map(|s| s.to_string()).collect(),
            pages: vec![pages],
        }
    }

    fn snapshot(lists: Vec<KeptList>) -> Snapshot {
        Snapshot {
            format: FORMAT,
            orgops_version: crate::VERSION.into(),
            organization: "org".into(),
            taken_at: 0,
            cursor: None,
            lists,
            digest: String::new(),
        }
    }

    #[test]
    fn a_role_assignment_makes_only_its_principals_list_stale() {
        let snap = snapshot(vec![
            list(ResourceKind::User, &[], serde_json::json!([])),
            list(ResourceKind::UserRole, &["user_a"], serde_json::json!([])),
            list(ResourceKind::UserRole, &["user_b"], serde_json::json!([])),
        ]);
        let stale = stale(
            &snap,
            &[event(
                "role.assignment.created",
                serde_json::json!({"id": "role_x", "principal_id": "user_b", "principal_type": "user"}),
            )],
        );
        assert!(
            stale
                .lists
                .contains(&(ResourceKind::UserRole, vec!["user_b".into()]))
        );
        assert!(
            !stale
                .lists
                .contains(&(ResourceKind::UserRole, vec!["user_a".into()]))
        );
        assert!(!stale.lists.contains(&(ResourceKind::User, vec![])));
        assert!(stale.kinds.is_empty(), "{stale:?}");
    }

    #[test]
    fn an_addition_that_names_no_parent_makes_the_whole_kind_stale() {
        let snap = snapshot(vec![
            list(
                ResourceKind::ProjectMember,
                &["proj_a"],
                serde_json::json!([]),
            ),
            list(
                ResourceKind::ProjectMember,
                &["proj_b"],
                serde_json::json!([]),
            ),
        ]);
        let stale = stale(
            &snap,
            &[event(
                "user.added",
                serde_json::json!({"id": "user_c", "data": {"role": "member"}}),
            )],
        );
        assert!(
            stale.kinds.contains(&ResourceKind::ProjectMember),
            "{stale:?}"
        );
    }

    #[test]
    fn a_removal_makes_stale_only_the_lists_holding_the_object() {
        let snap = snapshot(vec![
            list(
                ResourceKind::ProjectMember,
                &["proj_a"],
                serde_json::json!([{"id": "user_c"}]),
            ),
            list(
                ResourceKind::ProjectMember,
                &["proj_b"],
                serde_json::json!([{"id": "user_d"}]),
            ),
        ]);
        let stale = stale(
            &snap,
            &[event("user.deleted", serde_json::json!({"id": "user_c"}))],
        );
        assert!(stale.kinds.is_empty());
        assert_eq!(
            stale
                .lists
                .iter()
                .filter(|(k, _)| *k == ResourceKind::ProjectMember)
                .count(),
            1
        );
        assert!(
            stale
                .lists
                .contains(&(ResourceKind::ProjectMember, vec!["proj_a".into()]))
        );
    }

    #[test]
    fn an_edited_snapshot_is_refused() {
        let dir = std::env::temp_dir().join(format!("orgops-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("s.json");
        let snap = Snapshot::of(&RawStore::default(), "org".into(), 5, None);
        snap.write(&path).expect("write");
        assert!(Snapshot::read(&path).is_ok());
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"taken_at\":5", "\"taken_at\":6")).expect("write");
        let Err(err) = Snapshot::read(&path) else {
            panic!("an edited snapshot was read");
        };
        assert!(err.contains("digest"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
