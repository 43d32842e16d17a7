//! The costs operation (`orgops costs`): the month's daily cost buckets grouped by project
//! (every page of `/organization/costs`), the live project list for names, and the spend
//! limits and alerts of the desired-state file (`-f`) or, without one, of the live
//! organization (read like `export` reads them), joined by [`crate::costs`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};

use crate::api::Client;
use crate::api::usage::{CostsQuery, MAX_COST_BUCKETS};
use crate::config::{self, Diagnostics, LoadMode, LoadOptions};
use crate::costs::{self, CostReport};
use crate::kinds::{ResourceKind, Select};
use crate::live::ReadScope;
use crate::model::Document;
use crate::ops::target::{Connect, Target};
use crate::printer::Printer;

/// Why the costs could not be reported.
#[derive(Debug, thiserror::Error)]
pub enum CostsFailure {
    /// The file is invalid; the diagnostics say where.
    #[error("the desired state is invalid")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What `orgops costs` was asked.
#[derive(Debug, Clone)]
pub struct CostsOptions {
    /// The desired-state file whose limits and alerts are shown; `None`: the live ones.
    pub file: Option<PathBuf>,
    pub load: LoadOptions,
    /// `YYYY-MM`; `None`: the current month (UTC), to date.
    pub month: Option<String>,
    /// Buckets per page (1 to 180).
    pub page_size: u32,
}

/// The month's `[start, end)` and its name: `month`, or the current one up to `now`.
pub fn month_range(month: Option<&str>, now: i64) -> anyhow::Result<(String, i64, i64)> {
    match month {
        Some(m) => {
            let (start, end) = crate::text::time::month_range(m).ok_or_else(|| {
                anyhow!(
                    "--month {:?}: expected a month as YYYY-MM, e.g. 2026-11",
                    crate::text::escape::text(m)
                )
            })?;
            if start > now {
                return Err(anyhow!(
                    "--month {m}: that month has not started; nothing has been spent yet"
                ));
            }
            Ok((m.to_string(), start, end.min(now)))
        }
        None => {
            let name = crate::text::time::month_of(now);
            let (start, _) = crate::text::time::month_range(&name)
                .ok_or_else(|| anyhow!("the current month {name} is not a month"))?;
            Ok((name, start, now))
        }
    }
}

/// Reads the costs of `[start, end)` by project and the live project names, and joins what
/// `declared` says.
pub async fn read(
    client: &Client,
    declared: Option<(&Document, String)>,
    (month, start, end): (String, i64, i64),
    page_size: u32,
) -> anyhow::Result<CostReport> {
    let query = CostsQuery {
        start_time: start,
        end_time: Some(end),
        by_project: true,
        page_size,
    };
    let buckets = client
        .list_costs(&query)
        .await
        .context("reading the costs")?;
    let names: BTreeMap<String, String> = client
        .list_projects(true)
        .await
        .context("reading the projects")?
        .into_iter()
        .filter_map(|p| Some((p.id.to_string(), p.name?)))
        .collect();
    costs::report(&buckets, &names, declared, month, (start, end)).map_err(|e| anyhow!(e))
}

/// `orgops costs`.
pub fn costs(
    options: &CostsOptions,
    connect: &Connect,
    printer: Printer,
) -> Result<CostReport, CostsFailure> {
    if !(1..=MAX_COST_BUCKETS).contains(&options.page_size) {
        return Err(anyhow!(
            "--page-size {}: the API pages 1 to {MAX_COST_BUCKETS} daily buckets",
            options.page_size
        )
        .into());
    }
    let desired = match &options.file {
        Some(file) => Some(
            config::load_with(file, LoadMode::Desired, options.load)
                .map_err(CostsFailure::Invalid)?,
        ),
        None => None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let range = month_range(options.month.as_deref(), now)?;
    let target = Target::open_with(connect.emulator.as_deref(), connect.concurrency)?;
    let runtime = crate::ops::runtime()?;
    let live;
    let declared = match (&desired, &options.file) {
        (Some(d), Some(f)) => (&d.doc, f.display().to_string()),
        _ => {
            live = read_live_limits(&runtime, &target, printer)?;
            (&live.org, "the live organization".to_string())
        }
    };
    Ok(runtime.block_on(read(
        &target.client,
        Some(declared),
        range,
        options.page_size,
    ))?)
}

/// The live organization's projects with their spend limits and alerts, and its own.
fn read_live_limits(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    printer: Printer,
) -> anyhow::Result<crate::kinds::LiveState> {
    let scope = ReadScope {
        kinds: [
            ResourceKind::Project,
            ResourceKind::OrganizationSpendLimit,
            ResourceKind::ProjectSpendLimit,
            ResourceKind::OrganizationSpendAlert,
            ResourceKind::ProjectSpendAlert,
        ]
        .into_iter()
        .map(|k| (k, Select::All))
        .collect(),
        only_where_assignable: true,
    };
    crate::ops::plan::read_live_announcing(runtime, target, &scope, printer, &|_| {})
}
