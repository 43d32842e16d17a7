//! The live read with `--snapshot FILE` (or `--snapshot-dir DIR`): from the snapshot and
//! the audit log since its position when they can be trusted, else in full, saying why in
//! one line; a full read made while a trusted snapshot was at hand is compared with it; then
//! a fresh, sealed snapshot. See docs/plan.md ("Incremental reads") and
//! [`crate::live::snapshot`].

use std::path::PathBuf;

use crate::api::audit_logs::{AuditLog, AuditLogQuery};
use crate::live::snapshot::{self, Cursor, Snapshot, SnapshotKey, Stale};
use crate::live::{LiveState, ReadScope, Reuse};
use crate::ops::plan::with_progress;
use crate::ops::target::{SnapshotOptions, Target};
use crate::printer::Printer;

/// What the audit log said since a snapshot's cursor.
struct Since {
    /// The newest event (the next snapshot's cursor).
    head: Option<Cursor>,
    /// Events after the cursor, newest first.
    events: Vec<AuditLog>,
}

/// The largest number of audit-log pages read since a snapshot: past it, a full read is
/// cheaper than the replay (and the log is likely busy with something else).
const MAX_AUDIT_PAGES: usize = 50;

fn cursor_of(event: &AuditLog) -> Option<Cursor> {
    Some(Cursor {
        id: event.id.clone(),
        effective_at: event.effective_at?,
    })
}

/// The audit log's newest event (one request).
async fn head(target: &Target) -> Result<Option<Cursor>, String> {
    let mut pages = target
        .client
        .audit_log_pages(&AuditLogQuery::default(), 1, None);
    let page = pages.next_page().await.map_err(|e| e.to_string())?;
    let first = page.unwrap_or_default().into_iter().next();
    Ok(first
        .and_then(|v| serde_json::from_value::<AuditLog>(v).ok())
        .and_then(|e| cursor_of(&e)))
}

/// Every event after `cursor`, newest first: pages from the cursor's second on, until the
/// cursor itself. The log not reaching it (retention, another organization) or any paging
/// error is a reason for a full read.
async fn since(target: &Target, cursor: &Cursor) -> Result<Since, String> {
    let query = AuditLogQuery {
        effective_at_gte: Some(cursor.effective_at),
        ..AuditLogQuery::default()
    };
    let mut pages = target.client.audit_log_pages(&query, 100, None);
    let mut events = Vec::new();
    let mut head = None;
    for _ in 0..MAX_AUDIT_PAGES {
        let page = pages
            .next_page()
            .await
            .map_err(|e| format!("the audit log could not be read in full ({e})"))?;
        let Some(page) = page else {
            return Err(
                "the audit log no longer reaches the snapshot's position (older than its \
                 retention, or another organization's)"
                    .into(),
            );
        };
        for value in page {
            let event: AuditLog = serde_json::from_value(value)
                .map_err(|e| format!("the audit log sent an event orgops cannot read ({e})"))?;
            if head.is_none() {
                head = cursor_of(&event);
            }
            if event.id == cursor.id {
                return Ok(Since { head, events });
            }
            events.push(event);
        }
    }
    Err(format!(
        "more than {} audit-log pages since the snapshot",
        MAX_AUDIT_PAGES
    ))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The organization as the snapshot names it: the endpoint and the organization its
/// responses named.
fn organization(target: &Target) -> anyhow::Result<String> {
    let identity = target.identity()?;
    Ok(format!(
        "{} {}",
        identity.endpoint,
        identity.org_id.as_deref().unwrap_or("(unnamed)")
    ))
}

/// Where the snapshot is: its file, and the audit log's newest event when finding the file
/// took reading it (`Some`).
struct Located {
    path: PathBuf,
    head: Option<Option<Cursor>>,
}

/// The snapshot file: `options.path`, or with `--snapshot-dir` the file for this
/// organization in that directory (named by a digest of the organization, which a file
/// name can always hold). A directory that is a symbolic link is refused: the snapshot
/// would be written wherever it points. `Ok(Err(why))`: the organization cannot be named
/// (the audit log, its one request, refused): no snapshot is read or kept this time.
fn snapshot_path(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    options: &SnapshotOptions,
) -> anyhow::Result<Result<Located, String>> {
    if !options.dir {
        return Ok(Ok(Located {
            path: options.path.clone(),
            head: None,
        }));
    }
    let dir = &options.path;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => anyhow::bail!(
            "--snapshot-dir {}: not a directory (a symbolic link or a file); remove it",
            dir.display()
        ),
        Err(_) => std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--snapshot-dir {}: {e}", dir.display()))?,
    }
    // One request names the organization (the API says which on every response): the
    // audit log's head, which a full read takes as its position; for the in-process
    // emulator, its state file does.
    let head = if target.is_in_process() {
        None
    } else {
        match runtime.block_on(head(target)) {
            Ok(head) => Some(head),
            Err(e) => {
                return Ok(Err(format!(
                    "the audit log cannot be read ({e}), so no snapshot is read or kept"
                )));
            }
        }
    };
    Ok(Ok(Located {
        path: dir.join(snapshot::file_name_for(&organization(target)?)),
        head,
    }))
}

/// The read of `scope`, taking the lists in `reuse` instead of fetching them.
fn read_lists(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    scope: &ReadScope,
    printer: Printer,
    reuse: Reuse,
) -> anyhow::Result<crate::live::ListsRead> {
    with_progress(printer, |progress| {
        runtime.block_on(crate::live::read_reusing(
            &target.client,
            scope,
            progress,
            reuse,
        ))
    })
    .map_err(|e| anyhow::anyhow!("reading the live organization: {e}"))
}

/// How this run reads, decided from the snapshot and the audit log.
enum Mode {
    /// From the snapshot, fetching what the events since made stale.
    Incremental {
        kept: Reuse,
        events: usize,
        /// Objects read one by one, patched into their kept lists.
        items: usize,
    },
    /// Everything, for `reason`; `compare` holds the trusted snapshot and what the events
    /// since made stale, when there is one to compare the full read with.
    Full {
        reason: String,
        compare: Option<Box<(Snapshot, Stale)>>,
    },
}

/// How this run reads, and what deciding it learnt.
struct Decision {
    mode: Mode,
    /// The audit log's newest event (the next snapshot's position), when the decision read
    /// the log (`Some`).
    head: Option<Option<Cursor>>,
    /// When the full read the next snapshot descends from started.
    full_read_at: i64,
}

/// How this run reads: from the snapshot at `path` where it can be trusted and no full read
/// is due, else in full, with the reason (and the snapshot to compare with, when there is a
/// trusted one).
fn decide(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    options: &SnapshotOptions,
    path: &std::path::Path,
    key: &SnapshotKey,
    taken_at: i64,
) -> anyhow::Result<Decision> {
    let full = |reason: String| Decision {
        mode: Mode::Full {
            reason,
            compare: None,
        },
        head: None,
        full_read_at: taken_at,
    };
    let found = if path.exists() {
        Snapshot::read(path, key)
    } else {
        Err(format!("no snapshot at {} yet", path.display()))
    };
    let (snap, kept) = match found {
        Ok(found) => found,
        Err(_) if options.full => return Ok(full("--full".into())),
        Err(reason) => return Ok(full(reason)),
    };
    if let Some(reason) = snap.too_old(taken_at, options.max_age_secs) {
        return Ok(full(reason));
    }
    let Some(at) = &snap.cursor else {
        return Ok(full(
            "the audit log was empty when the snapshot was taken: no position to read from".into(),
        ));
    };
    let since = match runtime.block_on(since(target, at)) {
        Ok(since) => since,
        Err(reason) => return Ok(full(reason)),
    };
    if let Some(reason) = snap.other_organization(&organization(target)?) {
        return Ok(full(reason));
    }
    let head = Some(since.head.clone());
    let stale = snapshot::stale(&snap, &since.events);
    let due = match options.full {
        true => Some("--full".to_string()),
        false => snap.full_read_due(taken_at, options.full_read_every_secs),
    };
    if let Some(reason) = due {
        return Ok(Decision {
            mode: Mode::Full {
                reason,
                compare: Some(Box::new((snap, stale))),
            },
            head,
            full_read_at: taken_at,
        });
    }
    let kept = snapshot::fresh_lists(kept, &stale);
    let (kept, items) = runtime.block_on(read_items(target, &snap, &stale, kept));
    Ok(Decision {
        mode: Mode::Incremental {
            kept,
            events: since.events.len(),
            items,
        },
        head,
        full_read_at: snap.full_read_at,
    })
}

/// The live read of `scope`, from the snapshot at `options.path` where it can be trusted,
/// and a fresh snapshot written there after.
pub fn read(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    scope: &ReadScope,
    printer: Printer,
    options: &SnapshotOptions,
) -> anyhow::Result<LiveState> {
    let taken_at = now();
    let key = SnapshotKey::for_client(&target.client).map_err(anyhow::Error::msg)?;
    let located = match snapshot_path(runtime, target, options)? {
        Ok(located) => located,
        Err(reason) => {
            let read = read_lists(runtime, target, scope, printer, Reuse::new())?;
            eprintln!("note: full read: {reason}");
            return Ok(read.live);
        }
    };
    let Decision {
        mut mode,
        head: decided_head,
        full_read_at,
    } = decide(runtime, target, options, &located.path, &key, taken_at)?;
    // Where the log stands before anything is read: events during the read are replayed
    // by the next run (a list re-read for nothing, never a change missed).
    let known = decided_head.or(located.head);
    let cursor = match known {
        Some(known) => known,
        None => match runtime.block_on(head(target)) {
            Ok(cursor) => cursor,
            Err(e) => {
                eprintln!(
                    "note: the audit log cannot be read ({e}): the next read is a full one too"
                );
                None
            }
        },
    };
    let reuse = match &mut mode {
        Mode::Incremental { kept, .. } => std::mem::take(kept),
        Mode::Full { .. } => Reuse::new(),
    };
    let read = read_lists(runtime, target, scope, printer, reuse)?;
    let mut fresh = Snapshot::of(&read.raw, organization(target)?, taken_at, cursor.clone());
    fresh.full_read_at = full_read_at;
    match mode {
        Mode::Incremental { events, items, .. } => eprintln!(
            "note: incremental read: {events} audit-log event(s) since the snapshot; {} list(s) \
             re-read, {items} object(s) re-read by id, {} list(s) from the snapshot",
            read.fetched, read.reused
        ),
        Mode::Full { reason, compare } => {
            eprintln!("note: full read: {reason}");
            if let Some(compare) = compare {
                let (old, mut stale) = *compare;
                fresh.missed = compared(runtime, target, &old, &mut stale, &fresh, cursor);
            }
        }
    }
    if let Err(e) = fresh.write(&located.path, &key) {
        eprintln!("warning: {e}");
    }
    Ok(read.live)
}

/// The kept organization lists with the objects events named one by one (`stale.items`)
/// read again by id (`Incremental::item`) and patched in: how many were read. A list
/// whose objects cannot all be read is dropped from `kept`, so it is fetched whole.
async fn read_items(
    target: &Target,
    snap: &Snapshot,
    stale: &Stale,
    mut kept: Reuse,
) -> (Reuse, usize) {
    let mut read = 0;
    for (&kind, ids) in &stale.items {
        let key = (kind, Vec::new());
        let (Some(incremental), Some(list)) = (
            kind.def().incremental(),
            snap.lists
                .iter()
                .find(|l| l.kind == kind && l.parent.is_empty()),
        ) else {
            continue;
        };
        let Some(item) = incremental.item else {
            kept.remove(&key);
            continue;
        };
        if !kept.contains_key(&key) {
            continue;
        }
        // More objects than the list has pages: the list costs fewer requests.
        let pages = list.items().len().div_ceil(incremental.page_size).max(1);
        if ids.len() > pages {
            kept.remove(&key);
            continue;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids {
            tasks.spawn(item(target.client.clone(), id.clone()));
        }
        let mut fresh = Vec::new();
        let mut complete = true;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(found)) => fresh.extend(found),
                _ => complete = false,
            }
        }
        read += ids.len();
        // The same order whatever order the reads finished in.
        fresh.sort_by_key(|v| v.to_string());
        let patched = snapshot::patched(list, ids, fresh);
        let pages: Result<Vec<_>, String> =
            patched.pages.into_iter().map(incremental.decode).collect();
        match (complete, pages) {
            (true, Ok(pages)) => {
                kept.insert(key, pages);
            }
            _ => {
                kept.remove(&key);
            }
        }
    }
    (kept, read)
}

/// What a full read found different from the trusted snapshot `old` in lists no audit-log
/// event touched (`stale`: those since the snapshot; the events during the read, after
/// `cursor`, are read here), said in one line when anything is.
fn compared(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    old: &Snapshot,
    stale: &mut Stale,
    fresh: &Snapshot,
    cursor: Option<Cursor>,
) -> Vec<String> {
    if let Some(cursor) = cursor {
        match runtime.block_on(since(target, &cursor)) {
            Ok(during) => stale.extend(snapshot::stale(old, &during.events)),
            // Without the events of the read's own time, a difference proves nothing.
            Err(_) => return Vec::new(),
        }
    }
    let missed = snapshot::disagreements(old, stale, fresh);
    if !missed.is_empty() {
        const SHOWN: usize = 5;
        let mut shown = missed
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if missed.len() > SHOWN {
            shown.push_str(&format!(" and {} more", missed.len() - SHOWN));
        }
        eprintln!(
            "warning: the full read found {} list(s) changed that no audit-log event since the \
             snapshot named ({shown}): audit logging may be off in the organization, the log \
             late, or the snapshot wrong; the next reads are full until one agrees",
            missed.len()
        );
    }
    missed
}
