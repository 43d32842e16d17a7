//! Incremental reads: a snapshot of what a read observed and the audit-log position it is
//! valid at, and the lists an audit log since then can have changed.
//!
//! A snapshot keeps the lists of the kinds that declare `Kind::incremental` exactly as they
//! were read (their wire pages as JSON: lists never carry secrets), keyed by kind and the
//! server IDs of the parent they were read for. The next read takes every list no event
//! since has touched from it and fetches the rest, through the same dataflow as a full read
//! (`read::read_reusing`), so the live state is built by the same normalisation.
//!
//! The file is sealed: encrypted and authenticated (XChaCha20-Poly1305) with a
//! [`SnapshotKey`] derived from the admin key or `ORGOPS_SNAPSHOT_KEY`. It holds the
//! organization's members and projects, and is kept where others can read and write (the
//! Actions cache, which a fork's pull-request workflow can restore): without the key they
//! can neither read it nor write one orgops accepts. It is read through the bounded reader,
//! never through a link, refused unless its format, seal and orgops version check out, and
//! each page decodes into the kind's own wire type or the whole file is refused. See the
//! threat model in docs/plan.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::read::Reuse;
use crate::api::audit_logs::AuditLog;
use crate::kinds::incremental::{Reach, revealing_events};
use crate::kinds::{RawStore, ResourceKind};

/// The format this build writes and reads (3: sealed, with the last full read's time).
pub const FORMAT: u32 = 3;

/// The oldest a snapshot may be by default (`--snapshot-max-age`): one day.
pub const DEFAULT_MAX_AGE_SECS: u64 = 86_400;

/// How long incremental reads may follow one another by default before a full read
/// (`--full-read-every`): one day.
pub const DEFAULT_FULL_READ_EVERY_SECS: u64 = 86_400;

/// The key snapshots are sealed with: derived from `ORGOPS_SNAPSHOT_KEY` when it is set,
/// else from the admin key (so the job that reads the organization, and nobody without
/// its secrets, can read a snapshot or write one orgops trusts). Never printed.
#[derive(Clone)]
pub struct SnapshotKey([u8; 32]);

impl std::fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotKey(..)")
    }
}

impl SnapshotKey {
    /// The environment variable holding a dedicated signing secret.
    pub const ENV: &str = "ORGOPS_SNAPSHOT_KEY";
    /// What the key is derived for (a key derived for anything else differs).
    pub const LABEL: &str = "orgops snapshot key v1";
    /// The shortest `ORGOPS_SNAPSHOT_KEY` accepted: a guessable key protects nothing.
    pub const MIN_SECRET_LEN: usize = 32;

    /// `ORGOPS_SNAPSHOT_KEY` when set (at least 32 characters), else the key derived from
    /// the admin key `client` authenticates with.
    pub fn for_client(client: &crate::api::Client) -> Result<SnapshotKey, String> {
        match std::env::var(Self::ENV) {
            Ok(secret) if !secret.is_empty() => Self::from_secret(&secret),
            _ => Ok(SnapshotKey(client.derived_key(Self::LABEL))),
        }
    }

    /// A key as it is (derived elsewhere: a test's own derivation, to check this one's).
    pub fn from_bytes(bytes: [u8; 32]) -> SnapshotKey {
        SnapshotKey(bytes)
    }

    /// The key derived from a secret (HMAC-SHA256 keyed with it over [`Self::LABEL`], as
    /// the admin key's is).
    pub fn from_secret(secret: &str) -> Result<SnapshotKey, String> {
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(format!(
                "{} is shorter than {} characters: set it to a random secret \
                 (`openssl rand -hex 32`), or unset it to seal with a key derived from the \
                 admin key",
                Self::ENV,
                Self::MIN_SECRET_LEN
            ));
        }
        Ok(SnapshotKey(crate::api::client::hmac_sha256(
            secret.as_bytes(),
            Self::LABEL.as_bytes(),
        )))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

/// What the sealed bytes are bound to besides the key (a sealed text of another purpose or
/// format does not open as a snapshot).
const ASSOCIATED: &[u8] = b"orgops snapshot 3";

/// The file as written: the format in the clear (so another format says so), the rest sealed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: u32,
    /// The XChaCha20-Poly1305 nonce (random per file), base64.
    nonce: String,
    /// The snapshot's JSON, encrypted and authenticated, base64.
    sealed: String,
}

/// The file of `organization`'s snapshot in a `--snapshot-dir` directory: named by a digest
/// of the organization (a file name can always hold it, whatever the API named).
pub fn file_name_for(organization: &str) -> String {
    format!(
        "{}.snapshot.json",
        &crate::text::hex::sha256_hex(organization.as_bytes())[..16]
    )
}

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

impl KeptList {
    /// `kind` or `kind of <parent>`, escaped (the ids come from the file or the API).
    pub fn describe(&self) -> String {
        if self.parent.is_empty() {
            self.kind.to_string()
        } else {
            format!(
                "{} of {}",
                self.kind,
                crate::text::escape::text(&self.parent.join("/"))
            )
        }
    }

    /// Every item of every page, in order (pages are JSON arrays; how a list was split into
    /// pages is not part of what it holds).
    pub fn items(&self) -> Vec<&serde_json::Value> {
        self.pages
            .iter()
            .flat_map(|p| match p {
                serde_json::Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
            .collect()
    }
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
    /// When the full read this snapshot descends from started (unix seconds): incremental
    /// reads carry it on; `--full-read-every` bounds how old it may be.
    pub full_read_at: i64,
    /// The lists the last full read found changed although no audit-log event since the
    /// snapshot before it named them (described): while there are any, every read is full.
    #[serde(default)]
    pub missed: Vec<String>,
    /// The audit log's newest event before the read started (`None`: the log was empty,
    /// so no later read can tell what changed since).
    pub cursor: Option<Cursor>,
    pub lists: Vec<KeptList>,
}

impl Snapshot {
    /// A snapshot of the incremental kinds' lists in `raw`; `full_read_at` is `taken_at` (set
    /// it when the read was not full).
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
        Snapshot {
            format: FORMAT,
            orgops_version: crate::VERSION.to_string(),
            organization,
            taken_at,
            full_read_at: taken_at,
            missed: Vec::new(),
            cursor,
            lists,
        }
    }

    /// The file's bytes: this snapshot sealed with `key`.
    pub fn seal(&self, key: &SnapshotKey) -> Result<Vec<u8>, String> {
        let plain = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: ASSOCIATED,
                },
            )
            .map_err(|_| "sealing the snapshot failed".to_string())?;
        let envelope = Envelope {
            format: FORMAT,
            nonce: BASE64.encode(nonce),
            sealed: BASE64.encode(sealed),
        };
        serde_json::to_vec(&envelope).map_err(|e| e.to_string())
    }

    /// A snapshot from a file's bytes: the format this build writes, opened with `key`, and
    /// the JSON orgops writes. `Err` says why not (one line).
    pub fn open(bytes: &[u8], key: &SnapshotKey) -> Result<Snapshot, String> {
        // The format first, so a future format says so instead of failing to open.
        let head: serde_json::Value = serde_json::from_slice(bytes)
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
        let envelope: Envelope = serde_json::from_value(head)
            .map_err(|e| format!("the snapshot is not one orgops wrote ({})", escaped(&e)))?;
        let not_ours = || {
            format!(
                "the snapshot is not sealed with this organization's key (written by someone \
                 without it, damaged, or the admin key or {} changed since)",
                SnapshotKey::ENV
            )
        };
        let nonce = BASE64
            .decode(envelope.nonce.as_bytes())
            .ok()
            .filter(|n| n.len() == 24)
            .ok_or_else(not_ours)?;
        let sealed = BASE64
            .decode(envelope.sealed.as_bytes())
            .map_err(|_| not_ours())?;
        let plain = key
            .cipher()
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: ASSOCIATED,
                },
            )
            .map_err(|_| not_ours())?;
        serde_json::from_slice(&plain)
            .map_err(|e| format!("the snapshot is not one orgops wrote ({})", escaped(&e)))
    }

    /// Writes the snapshot to `path`: to a new temporary file beside it (created afresh, so
    /// a link planted at a predictable name is never followed), renamed over `path` (which
    /// replaces a link there rather than writing through it); a reader never sees half a file.
    pub fn write(&self, path: &Path, key: &SnapshotKey) -> Result<(), String> {
        let fail =
            |e: &dyn std::fmt::Display| format!("writing the snapshot {}: {e}", path.display());
        let bytes = self.seal(key).map_err(|e| fail(&e))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".orgops-snapshot-")
            .tempfile_in(dir)
            .map_err(|e| fail(&e))?;
        std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| fail(&e))?;
        tmp.persist(path).map_err(|e| fail(&e.error))?;
        Ok(())
    }

    /// Reads and checks a snapshot file: never a link, bounded, the format this build writes,
    /// sealed with `key`, of this orgops version, and every page decodable into its kind's
    /// wire type. `Err` says why it cannot be used (one line).
    pub fn read(path: &Path, key: &SnapshotKey) -> Result<(Snapshot, Reuse), String> {
        // Orgops writes a file, never a link: a link (planted in a shared cache) could point
        // anywhere readable, and what it points to is not read.
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "the snapshot {} is a symbolic link, which orgops never writes",
                path.display()
            ));
        }
        let bytes = crate::input::read_bytes(path, crate::input::MAX_INPUT_BYTES)
            .map_err(|e| format!("the snapshot {} cannot be read: {e}", path.display()))?;
        let snapshot = Snapshot::open(&bytes, key)?;
        if snapshot.orgops_version != crate::VERSION {
            return Err(format!(
                "the snapshot was written by orgops {}, this is {}",
                crate::text::escape::text(&snapshot.orgops_version),
                crate::VERSION
            ));
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

    /// Why the next read must be full although the snapshot can be read from (a periodic
    /// full read is due, or the last one found changes the audit log did not show).
    pub fn full_read_due(&self, now: i64, every_secs: u64) -> Option<String> {
        if !self.missed.is_empty() {
            return Some(format!(
                "the last full read found {} list(s) changed that no audit-log event named \
                 (audit logging off, or the log late): reading in full until one agrees",
                self.missed.len()
            ));
        }
        let since = now.saturating_sub(self.full_read_at).max(0) as u64;
        (since > every_secs).then(|| {
            format!(
                "the last full read was {} ago, more than --full-read-every ({})",
                duration(since),
                duration(every_secs)
            )
        })
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

/// Items in a stable order of their own (a list patched object by object holds them in
/// another order than the API lists them; what it holds is what is compared).
fn sorted(items: Vec<&serde_json::Value>) -> Vec<String> {
    let mut out: Vec<String> = items.iter().map(|v| v.to_string()).collect();
    out.sort();
    out
}

/// The lists `old` kept that no event made stale (`stale`) and that a full read (`fresh`)
/// found different, described: each is a change the audit log did not show (audit logging
/// off, an event indexed late) or a snapshot that lied. Lists only one of them holds (an
/// object gone or new) are not compared: their owner's own list is.
pub fn disagreements(old: &Snapshot, stale: &Stale, fresh: &Snapshot) -> Vec<String> {
    let fresh: BTreeMap<(ResourceKind, &Vec<String>), &KeptList> = fresh
        .lists
        .iter()
        .map(|l| ((l.kind, &l.parent), l))
        .collect();
    let no_ids = BTreeSet::new();
    // What a list holds, less the objects events named one by one (an organization list).
    let held = |list: &KeptList| {
        let named = match list.parent.is_empty() {
            true => stale.items.get(&list.kind).unwrap_or(&no_ids),
            false => &no_ids,
        };
        let items = list.items().into_iter().filter(|item| {
            item.get("id")
                .and_then(serde_json::Value::as_str)
                .is_none_or(|id| !named.contains(id))
        });
        sorted(items.collect())
    };
    old.lists
        .iter()
        .filter(|l| !stale.kinds.contains(&l.kind))
        .filter(|l| !stale.lists.contains(&(l.kind, l.parent.clone())))
        .filter(|l| {
            fresh
                .get(&(l.kind, &l.parent))
                .is_some_and(|f| held(f) != held(l))
        })
        .map(KeptList::describe)
        .collect()
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
    /// Objects of organization lists to read again one by one (`Incremental::item`), by
    /// kind: for a list not otherwise stale.
    pub items: BTreeMap<ResourceKind, BTreeSet<String>>,
}

/// The id an event's details give its object (`<type>.id`).
fn object_id(event: &AuditLog) -> Option<String> {
    event
        .details
        .get(&event.event_type)?
        .get("id")?
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// The lists of `snapshot` that `events` (those after its cursor) can have changed, per the
/// kinds' declarations (`kinds::incremental`): an organization list by any event that
/// reveals its kind (only the object, for [`Reach::Item`], when the kind reads objects one
/// by one); a per-parent list by an event naming its parent, or, for an event that only
/// changes what a list already holds ([`Reach::Held`]), by one naming an id the list holds;
/// every list of the kind by an event that can add and names no parent.
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
                let by_item = reach == Reach::Item
                    && kind.def().incremental().is_some_and(|i| i.item.is_some());
                match object_id(event) {
                    Some(id) if by_item => {
                        out.items.entry(kind).or_default().insert(id);
                    }
                    _ => {
                        out.lists.insert((kind, Vec::new()));
                    }
                }
                continue;
            }
            let reach = if reach == Reach::Item {
                Reach::Held
            } else {
                reach
            };
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
    // A list read again in full needs no object read by itself.
    out.items
        .retain(|kind, _| !out.kinds.contains(kind) && !out.lists.contains(&(*kind, Vec::new())));
    out
}

impl Stale {
    /// Adds what `other` makes stale.
    pub fn extend(&mut self, other: Stale) {
        self.lists.extend(other.lists);
        self.kinds.extend(other.kinds);
        for (kind, ids) in other.items {
            self.items.entry(kind).or_default().extend(ids);
        }
    }
}

/// `list` (an organization list as a snapshot keeps it) with the objects `ids` replaced by
/// what was read of them one by one (`fresh`: the objects that still exist): one page, the
/// untouched objects in their order, then the re-read ones.
pub fn patched(list: &KeptList, ids: &BTreeSet<String>, fresh: Vec<serde_json::Value>) -> KeptList {
    let mut items: Vec<serde_json::Value> = list
        .items()
        .into_iter()
        .filter(|item| {
            item.get("id")
                .and_then(serde_json::Value::as_str)
                .is_none_or(|id| !ids.contains(id))
        })
        .cloned()
        .collect();
    items.extend(fresh);
    KeptList {
        kind: list.kind,
        parent: list.parent.clone(),
        pages: vec![serde_json::Value::Array(items)],
    }
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
            full_read_at: 0,
            missed: Vec::new(),
            cursor: None,
            lists,
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

    fn key(secret: &str) -> SnapshotKey {
        SnapshotKey::from_secret(secret).expect("a long enough secret")
    }

    #[test]
    fn a_snapshot_opens_only_with_its_key_and_only_undamaged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let ours = key("ours-ours-ours-ours-ours-ours-ours-ours");
        let mut snap = Snapshot::of(&RawStore::default(), "org-secret-name".into(), 5, None);
        snap.write(&path, &ours).expect("write");
        assert!(Snapshot::read(&path, &ours).is_ok());
        // Nothing of the content is readable in the file.
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("org-secret-name"), "{text}");
        // Someone without the key can neither open it nor write one that opens.
        let theirs = key("theirs-theirs-theirs-theirs-theirs-x");
        let Err(err) = Snapshot::read(&path, &theirs) else {
            panic!("a snapshot sealed with another key was read");
        };
        assert!(
            err.contains("not sealed with this organization's key"),
            "{err}"
        );
        snap.taken_at = 6;
        snap.write(&path, &theirs).expect("write");
        let Err(err) = Snapshot::read(&path, &ours) else {
            panic!("a snapshot sealed without the key was read");
        };
        assert!(err.contains("not sealed"), "{err}");
        // One byte changed: refused.
        snap.write(&path, &ours).expect("write");
        let mut envelope: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
        let sealed = envelope["sealed"].as_str().expect("sealed").to_string();
        let flipped = if sealed.starts_with('A') { "B" } else { "A" };
        envelope["sealed"] = serde_json::json!(format!("{flipped}{}", &sealed[1..]));
        std::fs::write(&path, envelope.to_string()).expect("write");
        let Err(err) = Snapshot::read(&path, &ours) else {
            panic!("a damaged snapshot was read");
        };
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn a_short_signing_secret_is_refused() {
        let err = SnapshotKey::from_secret("short").expect_err("refused");
        assert!(
            err.contains("ORGOPS_SNAPSHOT_KEY is shorter than 32"),
            "{err}"
        );
    }

    #[test]
    #[cfg(unix)]
    fn writing_replaces_a_link_at_the_path_and_never_writes_through_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let path = dir.path().join("s.json");
        std::os::unix::fs::symlink(&victim, &path).expect("symlink");
        let snap = Snapshot::of(&RawStore::default(), "org".into(), 5, None);
        snap.write(&path, &key("ours-ours-ours-ours-ours-ours-ours-ours"))
            .expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(!std::fs::symlink_metadata(&path).expect("meta").is_symlink());
    }

    #[test]
    fn only_lists_no_event_touched_are_compared_and_pages_do_not_matter() {
        let users = |ids: &[&str]| {
            let items: Vec<_> = ids.iter().map(|id| serde_json::json!({"id": id})).collect();
            serde_json::Value::Array(items)
        };
        let old = snapshot(vec![
            list(ResourceKind::User, &[], users(&["a", "b"])),
            list(ResourceKind::UserRole, &["a"], serde_json::json!([])),
            list(ResourceKind::UserRole, &["b"], serde_json::json!([])),
            list(ResourceKind::UserRole, &["gone"], serde_json::json!([])),
        ]);
        let mut fresh = snapshot(vec![
            // The same users in two pages: no disagreement.
            KeptList {
                kind: ResourceKind::User,
                parent: vec![],
                pages: vec![users(&["a"]), users(&["b"])],
            },
            list(
                ResourceKind::UserRole,
                &["a"],
                serde_json::json!([{"id": "r"}]),
            ),
            list(
                ResourceKind::UserRole,
                &["b"],
                serde_json::json!([{"id": "r"}]),
            ),
        ]);
        let mut stale = Stale::default();
        stale
            .lists
            .insert((ResourceKind::UserRole, vec!["a".into()]));
        assert_eq!(
            disagreements(&old, &stale, &fresh),
            vec!["user_role of b".to_string()]
        );
        fresh.lists[0].pages = vec![users(&["a"])];
        assert_eq!(disagreements(&old, &stale, &fresh).len(), 2);
    }
}
