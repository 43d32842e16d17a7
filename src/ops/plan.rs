//! The plan operation: desired state from the file(s), live state from the API, the pure
//! plan between them. `plan`, `drift` and `apply` all start here.

use std::path::Path;

use crate::config::{self, DesiredState, Diagnostics, LoadMode};
use crate::live::{self, LiveState, NoProgress, Progress, ReadScope, StderrProgress};
use crate::model::Document;
use crate::ops::target::{Connect, Target};
use crate::plan::{self, Plan, PlanOptions};
use crate::printer::Printer;

/// Why planning stopped before it had a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanFailure {
    /// The desired state is invalid; the diagnostics say where.
    #[error("the desired state is invalid")]
    Invalid(Diagnostics),
    /// Anything else (connecting, reading the live org, an internal planning error).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Everything a plan was made from, for rendering, saving or applying it.
pub struct Planned {
    pub desired: DesiredState,
    pub live: LiveState,
    pub plan: Plan,
    pub target: Target,
    /// Requests the live read made (pages, including retries).
    pub requests: u64,
}

/// Loads `file`, connects to the target, reads what the file manages, and plans.
pub fn plan(
    file: &Path,
    load: config::LoadOptions,
    target: &Connect,
    options: &PlanOptions,
    printer: Printer,
) -> Result<Planned, PlanFailure> {
    plan_targeted(file, load, target, options, &[], printer)
}

/// [`plan()`] limited to `targets` (`--target`; none: the whole plan): the read narrowed to
/// what they need ([`plan::target::narrow_scope`]), the plan to their changes and what those
/// depend on ([`plan::target::restrict`]); a target that matches nothing is an error.
pub fn plan_targeted(
    file: &Path,
    load: config::LoadOptions,
    target: &Connect,
    options: &PlanOptions,
    targets: &[String],
    printer: Printer,
) -> Result<Planned, PlanFailure> {
    plan::target::check_patterns(targets).map_err(anyhow::Error::from)?;
    let started = std::time::Instant::now();
    // The organization lists the file surely manages start now, while it loads (the users
    // list alone is a 100-page chain at 10,000 users). When the target cannot be opened yet,
    // the file is loaded first so that its diagnostics come first, as they always did.
    // With a snapshot nothing is prefetched: what is read depends on the audit log.
    let early = match target.snapshot {
        Some(_) => None,
        None => match Target::open_with(target.emulator.as_deref(), target.concurrency) {
            Ok(opened) => Some((opened, crate::ops::runtime()?)),
            Err(_) => None,
        },
    };
    let prefetch = early.as_ref().map(|(opened, runtime)| {
        let keys = config::top_level_keys(file, load.max_file_bytes);
        let lists = prefetch_lists(&keys);
        live::Prefetch::start(&opened.client, &lists, runtime.handle())
    });
    // An invalid file drops `prefetch`, which aborts what it started.
    let desired = config::load_with(file, LoadMode::Desired, load).map_err(PlanFailure::Invalid)?;
    tracing::info!(
        load_ms = started.elapsed().as_secs_f64() * 1000.0,
        peak_rss_mib = super::peak_rss_mib(),
        "loaded the desired state"
    );
    let (target, runtime) = match early {
        Some(early) => early,
        None => (
            Target::open_with(target.emulator.as_deref(), target.concurrency)?
                .reading_snapshot(target.snapshot.clone()),
            crate::ops::runtime()?,
        ),
    };
    let mut scope = ReadScope::for_document(&desired.doc);
    plan::target::narrow_scope(&mut scope, targets);
    let started = std::time::Instant::now();
    let live = match prefetch {
        Some(prefetch) => read_live_prefetched(&runtime, &target, &scope, printer, prefetch)?,
        None => read_live(&runtime, &target, &scope, printer)?,
    };
    tracing::info!(
        read_ms = started.elapsed().as_secs_f64() * 1000.0,
        peak_rss_mib = super::peak_rss_mib(),
        "read the live organization"
    );
    let requests = target.client.attempts();
    check_live(&desired, &live, load)?;
    let started = std::time::Instant::now();
    let plan = plan_against(&desired.doc, &live, options)?;
    let plan = plan::target::restrict(plan, &desired.doc, &live, options, targets)
        .map_err(anyhow::Error::from)?;
    tracing::info!(
        requests,
        changes = plan.changes.len(),
        diff_ms = started.elapsed().as_secs_f64() * 1000.0,
        peak_rss_mib = super::peak_rss_mib(),
        "planned"
    );
    Ok(Planned {
        desired,
        live,
        plan,
        target,
        requests,
    })
}

/// The organization lists a file with these top-level keys is sure to read
/// ([`ReadScope::for_document`]): each kind says which keys alone make its list read
/// (`Kind::read_early_for`; users with invites and admin keys when `users` is written, and
/// so on). The reader starts each page's own lists when the read starts, instead of a round
/// trip later.
pub fn prefetch_lists(
    keys: &std::collections::BTreeSet<String>,
) -> Vec<crate::kinds::ResourceKind> {
    crate::kinds::ResourceKind::ALL
        .iter()
        .copied()
        .filter(|k| {
            k.def()
                .read_early_for()
                .iter()
                .any(|key| keys.contains(*key))
        })
        .collect()
}

/// [`read_live`] using the lists `prefetch` already started.
pub fn read_live_prefetched(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    scope: &ReadScope,
    printer: Printer,
    prefetch: live::Prefetch,
) -> anyhow::Result<LiveState> {
    with_progress(printer, |progress| {
        runtime.block_on(live::read_prefetched(
            &target.client,
            scope,
            progress,
            &|_| {},
            prefetch,
        ))
    })
    .map_err(|e| anyhow::anyhow!("reading the live organization: {e}"))
}

/// Runs `read` with a progress display on stderr when the printer wants one.
pub(crate) fn with_progress<T>(printer: Printer, read: impl FnOnce(&dyn Progress) -> T) -> T {
    if printer.progress {
        read(&StderrProgress::new(printer.stderr_is_tty))
    } else {
        read(&NoProgress)
    }
}

/// Reads the live org within `scope` on `runtime`, with a progress display on stderr when
/// it is a terminal (plain lines otherwise, none when quiet). Commands that go on to write
/// (apply) pass the runtime they execute on: the client's pooled connections belong to the
/// runtime that opened them.
pub fn read_live(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    scope: &ReadScope,
    printer: Printer,
) -> anyhow::Result<LiveState> {
    read_live_announcing(runtime, target, scope, printer, &|_| {})
}

/// [`read_live`], calling `announce` before deferred role-assignment lists start (see
/// [`live::read_announcing`]).
pub fn read_live_announcing(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    scope: &ReadScope,
    printer: Printer,
    announce: &(dyn Fn(&live::AssignmentReads) + Sync),
) -> anyhow::Result<LiveState> {
    if let Some(options) = &target.snapshot {
        return super::incremental::read(runtime, target, scope, printer, options);
    }
    with_progress(printer, |progress| {
        runtime.block_on(live::read_announcing(
            &target.client,
            scope,
            progress,
            announce,
        ))
    })
    .map_err(|e| anyhow::anyhow!("reading the live organization: {e}"))
}

/// What the file asks that the live organization cannot do (each kind's
/// [`crate::kinds::Kind::check_live`]: a rate limit for a model the project does not have),
/// located in the file: an error before anything is planned or written, so that no plan
/// fails halfway through apply.
pub fn check_live(
    desired: &DesiredState,
    live: &LiveState,
    load: config::LoadOptions,
) -> Result<(), PlanFailure> {
    let findings: Vec<crate::kinds::Finding> = crate::kinds::ResourceKind::ALL
        .iter()
        .flat_map(|kind| kind.def().check_live(&desired.doc, live))
        .collect();
    if !findings.iter().any(|f| f.error) {
        return Ok(());
    }
    Err(PlanFailure::Invalid(config::locate_findings(
        desired, &findings, load,
    )))
}

/// The pure plan of `desired` against `live`; an error here is a bug (a dependency cycle).
pub fn plan_against(
    desired: &Document,
    live: &LiveState,
    options: &PlanOptions,
) -> anyhow::Result<Plan> {
    plan::plan(desired, live, options)
        .map_err(|e| anyhow::anyhow!("planning failed (this is a bug in orgops): {e}"))
}
