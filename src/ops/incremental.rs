//! The live read with `--snapshot FILE`: from the snapshot and the audit log since its
//! position when they can be trusted, else in full, saying why in one line; then a fresh
//! snapshot. See docs/plan.md ("Incremental reads") and [`crate::live::snapshot`].

use crate::api::audit_logs::{AuditLog, AuditLogQuery};
use crate::live::snapshot::{self, Cursor, Snapshot};
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
    let previous = if options.full {
        Err("--full".to_string())
    } else if !options.path.exists() {
        Err(format!("no snapshot at {} yet", options.path.display()))
    } else {
        Snapshot::read(&options.path)
    };
    // Where the log stands before anything is read: events during the read are replayed
    // by the next run (a list re-read for nothing, never a change missed).
    let full = |reason: String| {
        let cursor = match runtime.block_on(head(target)) {
            Ok(cursor) => cursor,
            Err(e) => {
                eprintln!(
                    "note: the audit log cannot be read ({e}): the next read is a full one too"
                );
                None
            }
        };
        (Some(reason), Reuse::new(), cursor, 0)
    };
    let (why_full, reuse, cursor, events) = match previous {
        Err(reason) => full(reason),
        Ok((snap, kept)) => match (snap.too_old(taken_at, options.max_age_secs), &snap.cursor) {
            (Some(reason), _) => full(reason),
            (None, None) => full(
                "the audit log was empty when the snapshot was taken: no position to read from"
                    .into(),
            ),
            (None, Some(at)) => match runtime.block_on(since(target, at)) {
                Err(reason) => full(reason),
                Ok(since) => match snap.other_organization(&organization(target)?) {
                    Some(reason) => full(reason),
                    None => {
                        let stale = snapshot::stale(&snap, &since.events);
                        let events = since.events.len();
                        (
                            None,
                            snapshot::fresh_lists(kept, &stale),
                            since.head,
                            events,
                        )
                    }
                },
            },
        },
    };
    let read = with_progress(printer, |progress| {
        runtime.block_on(crate::live::read_reusing(
            &target.client,
            scope,
            progress,
            reuse,
        ))
    })
    .map_err(|e| anyhow::anyhow!("reading the live organization: {e}"))?;
    match &why_full {
        Some(reason) => eprintln!("note: full read: {reason}"),
        None => eprintln!(
            "note: incremental read: {events} audit-log event(s) since the snapshot; {} list(s) \
             re-read, {} from the snapshot",
            read.fetched, read.reused
        ),
    }
    let org = organization(target)?;
    let fresh = Snapshot::of(&read.raw, org, taken_at, cursor);
    if let Err(e) = fresh.write(&options.path) {
        eprintln!("warning: {e}");
    }
    Ok(read.live)
}
