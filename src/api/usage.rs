//! Costs: `GET /organization/costs` — the one usage-style endpoint wrapped, read in daily
//! buckets through the third pagination style (`next_page` → `page=`). Not needed to
//! reconcile; here so the pagination style is implemented and exercised once.

use serde::Deserialize;

use super::client::{Call, Client};
use super::error::Error;
use super::pagination::Style;

/// The costs endpoint's maximum `limit` (buckets per page).
const MAX_COST_BUCKETS: u32 = 180;

/// `UsageTimeBucket` with its raw results.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UsageBucket {
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub results: Vec<serde_json::Value>,
}

impl Client {
    /// `GET /organization/costs?start_time=..&end_time=..&bucket_width=1d` — all daily buckets
    /// in `[start_time, end_time)` (Unix seconds).
    pub async fn list_costs(
        &self,
        start_time: i64,
        end_time: Option<i64>,
    ) -> Result<Vec<UsageBucket>, Error> {
        let mut call = Call::get("/organization/costs", "/organization/costs".into())
            .query("start_time", start_time)
            .query("bucket_width", "1d");
        if let Some(end) = end_time {
            call = call.query("end_time", end);
        }
        self.list_all(call, Style::NextPage, MAX_COST_BUCKETS).await
    }
}
