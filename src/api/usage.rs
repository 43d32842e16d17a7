//! Costs: `GET /organization/costs`, the one usage-style endpoint wrapped, read in daily
//! buckets through the third pagination style (`next_page` → `page=`). `orgops costs` and
//! `drift` read it grouped by project (`group_by=project_id`).

use serde::Deserialize;

use super::client::{Call, Client};
use super::error::Error;
use super::pagination::Style;

/// The costs endpoint's maximum `limit` (buckets per page).
pub const MAX_COST_BUCKETS: u32 = 180;

/// `UsageTimeBucket` with its raw results.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UsageBucket {
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub results: Vec<serde_json::Value>,
}

/// A `CostsResult` as orgops reads it: the amount and, grouped by project, the project.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CostResult {
    pub project_id: Option<String>,
    pub amount: CostAmount,
}

/// `CostsResult.amount`: a value in a currency (`usd`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CostAmount {
    pub value: f64,
    pub currency: Option<String>,
}

/// What to read from `/organization/costs`.
#[derive(Debug, Clone)]
pub struct CostsQuery {
    /// Unix seconds, inclusive.
    pub start_time: i64,
    /// Unix seconds, exclusive (`None`: until now).
    pub end_time: Option<i64>,
    /// `group_by=project_id`: one result per project and day.
    pub by_project: bool,
    /// Buckets per page, 1 to [`MAX_COST_BUCKETS`].
    pub page_size: u32,
}

impl Client {
    /// `GET /organization/costs?start_time=..&end_time=..&bucket_width=1d[&group_by=project_id]`:
    /// every daily bucket in `[start_time, end_time)`, all pages.
    pub async fn list_costs(&self, query: &CostsQuery) -> Result<Vec<UsageBucket>, Error> {
        let mut call = Call::get("/organization/costs", "/organization/costs".into())
            .query("start_time", query.start_time)
            .query("bucket_width", "1d");
        if let Some(end) = query.end_time {
            call = call.query("end_time", end);
        }
        if query.by_project {
            call = call.query("group_by", "project_id");
        }
        let page_size = query.page_size.clamp(1, MAX_COST_BUCKETS);
        self.list_all(call, Style::NextPage, page_size).await
    }
}
