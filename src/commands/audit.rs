//! `orgops audit`: the audit log as a query. Exit 0 on success (also when nothing matches),
//! 1 on any error (a bad `--since`/`--until`, a name that resolves to nothing, an API error).
//!
//! Text and NDJSON are printed page by page as they arrive (constant memory, whatever the
//! range); JSON is one document, printed once every page was read, so a failed run never
//! leaves a truncated document that looks complete.

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use crate::api::audit_logs::{AuditCursor, AuditLog};
use crate::audit::{self, Filters, Names};
use crate::cli::{AuditArgs, AuditFormat};
use crate::exit::ExitStatus;
use crate::ops::{self, target::Target};
use crate::text::escape;

pub fn run(args: AuditArgs) -> ExitStatus {
    match query(&args) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: {}", escape::text_lines(&format!("{e:#}")));
            ExitStatus::Failure
        }
    }
}

/// The filters of `args`, times parsed against `now`.
fn filters(args: &AuditArgs, now: i64) -> anyhow::Result<Filters> {
    let time = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| audit::parse_time(v, now).map_err(|e| anyhow!("{flag}: {e}")))
            .transpose()
    };
    let since = time("--since", &args.since)?;
    let until = time("--until", &args.until)?;
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        bail!(
            "--since ({}) is after --until ({}): nothing can match",
            crate::text::time::format_utc(since),
            crate::text::time::format_utc(until)
        );
    }
    // Before any call: the API refuses an event type it does not have.
    if let Some(refusal) = args
        .event_types
        .iter()
        .find_map(|t| audit::unknown_event_type(t))
    {
        bail!("{refusal}");
    }
    Ok(Filters {
        since,
        until,
        actors: args.actor.clone(),
        event_types: args.event_types.clone(),
        projects: args.project.clone(),
        objects: args.object.clone(),
    })
}

fn query(args: &AuditArgs) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let filters = filters(args, now)?;
    let target = Target::open_with(args.target.emulator.as_deref(), args.target.concurrency)?;
    let runtime = ops::runtime()?;
    runtime.block_on(async {
        let client = &target.client;
        let mut names = Names::new(client);
        let mut more = audit::naming::MoreNames::default();
        let query = audit::resolve_query(&mut names, &filters).await?;
        let page_size = match args.limit {
            Some(limit) => u32::try_from(limit).unwrap_or(u32::MAX).min(args.page_size),
            None => args.page_size,
        };
        let cursor = match (&args.after, &args.before) {
            (_, Some(before)) => Some(AuditCursor::Before(before.clone())),
            (Some(after), None) => Some(AuditCursor::After(after.clone())),
            (None, None) => None,
        };
        // Towards newer events, pages come nearest first: each is reversed, so the whole
        // output is oldest first.
        let oldest_first = args.before.is_some();
        let mut pages = client.audit_log_pages(&query, page_size, cursor);
        let mut remaining = args.limit;
        let mut printed: u64 = 0;
        let mut last_id: Option<String> = None;
        let mut truncated = false;
        let mut collected: Vec<Value> = Vec::new();
        while remaining != Some(0) {
            let Some(mut page) = pages.next_page().await.context("reading the audit log")? else {
                break;
            };
            if oldest_first {
                page.reverse();
            }
            if let Some(left) = remaining {
                let left = usize::try_from(left).unwrap_or(usize::MAX);
                if page.len() > left {
                    page.truncate(left);
                    truncated = true;
                }
                remaining = Some((left - page.len()) as u64);
            }
            for raw in page {
                printed += 1;
                last_id = raw.get("id").and_then(Value::as_str).map(str::to_string);
                match args.format {
                    AuditFormat::Json => collected.push(raw),
                    AuditFormat::Ndjson => crate::outln!("{}", escape::json_compact(&raw)),
                    AuditFormat::Text => {
                        let event: AuditLog = serde_json::from_value(raw).map_err(|e| {
                            anyhow!("the API sent an audit event orgops cannot read: {e}")
                        })?;
                        if printed == 1 {
                            crate::outln!("{}", audit::text_header());
                        }
                        let (actor, object, change) = more.describe(&mut names, &event).await;
                        crate::outln!("{}", audit::text_row(&event, &actor, &object, &change));
                    }
                }
            }
        }
        match args.format {
            AuditFormat::Json => {
                crate::outln!("{}", escape::json_pretty(&Value::Array(collected)))
            }
            AuditFormat::Text if printed == 0 => crate::outln!("No audit events match."),
            _ => {}
        }
        let more = truncated || (remaining == Some(0) && !pages.is_done());
        if more && let Some(last) = last_id {
            eprintln!(
                "note: stopped at --limit {}; more events match (continue with --{} {})",
                args.limit.unwrap_or_default(),
                if oldest_first { "before" } else { "after" },
                escape::text(&last)
            );
        }
        Ok(())
    })
}
