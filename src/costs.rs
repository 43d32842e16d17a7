//! `orgops costs`: what each project cost this month (or in a given month) beside the spend
//! limit and spend alerts the desired-state file declares for it, and which projects `drift`
//! reports as near their limit. Pure: the costs come in as the API's daily buckets
//! (`GET /organization/costs?group_by=project_id`), the names as the live project list, the
//! limits as the file's document; the renderings are text, markdown and JSON.
//!
//! Amounts are summed in whole cents (each result rounded once), so the same buckets always
//! give the same totals. Rows are sorted by project name, then id (two live projects may share
//! a name; both are shown and both get the name's declared limit). A project that cost
//! nothing and declares no limit is left out.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::usage::{CostResult, UsageBucket};
use crate::model::Document;
use crate::text::escape;
use crate::text::time::format_utc;
use crate::text::words::money;

/// The default `--cost-threshold` of `drift`: a project whose cost reached this percentage
/// of its declared spend limit gets a line.
pub const DEFAULT_THRESHOLD_PERCENT: u32 = 80;

/// One project's costs and what the file declares for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRow {
    /// The project's name (its id when the project list does not name it).
    pub project: String,
    pub project_id: String,
    /// Summed, in cents; may be negative (credits).
    pub cost_cents: i64,
    /// The declared hard spend limit (`projects[].spend_limit.amount_cents`).
    pub limit_cents: Option<u64>,
    /// The declared spend alerts' thresholds (`projects[].spend_alerts[].threshold_cents`),
    /// ascending.
    pub alerts_cents: Vec<u64>,
}

impl CostRow {
    /// The cost as a whole percentage of the limit (rounded down).
    pub fn percent_of_limit(&self) -> Option<u64> {
        let limit = self.limit_cents.filter(|l| *l > 0)?;
        Some((self.cost_cents.max(0) as u128 * 100 / limit as u128) as u64)
    }

    /// The declared alert thresholds the cost reached.
    pub fn alerts_reached(&self) -> Vec<u64> {
        self.alerts_cents
            .iter()
            .copied()
            .filter(|a| self.cost_cents >= *a as i64)
            .collect()
    }
}

/// The costs of a range of days, per project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    /// `YYYY-MM`.
    pub month: String,
    /// The range read: `[from, until)` in unix seconds (`until` is the end of the last
    /// bucket read, or the end of the month).
    pub from: i64,
    pub until: i64,
    /// Where the limits and alerts come from (the file as given, or "the live
    /// organization"); `None`: nowhere.
    pub limits_from: Option<String>,
    /// The currency of every result (`usd`).
    pub currency: String,
    pub rows: Vec<CostRow>,
    /// `settings.spend_limit.amount_cents` of the file.
    pub org_limit_cents: Option<u64>,
}

impl CostReport {
    pub fn total_cents(&self) -> i64 {
        self.rows.iter().map(|r| r.cost_cents).sum()
    }

    /// The organization's row: every project's cost against `settings.spend_limit`.
    pub fn total_row(&self) -> CostRow {
        CostRow {
            project: "total".into(),
            project_id: String::new(),
            cost_cents: self.total_cents(),
            limit_cents: self.org_limit_cents,
            alerts_cents: Vec::new(),
        }
    }

    /// The rows whose cost reached `threshold` percent of their declared limit.
    pub fn over(&self, threshold: u32) -> Vec<&CostRow> {
        self.rows
            .iter()
            .filter(|r| {
                r.percent_of_limit()
                    .is_some_and(|p| p >= u64::from(threshold))
            })
            .collect()
    }
}

/// What a document declares for one project.
#[derive(Debug, Clone, Default)]
struct Declared {
    limit_cents: Option<u64>,
    alerts_cents: Vec<u64>,
}

fn limit_of(fields: &crate::model::KindFields) -> Option<u64> {
    fields.get("spend_limit")?.get("amount_cents")?.as_u64()
}

fn alerts_of(fields: &crate::model::KindFields) -> Vec<u64> {
    let mut alerts: Vec<u64> = fields
        .get("spend_alerts")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a.get("threshold_cents")?.as_u64())
                .collect()
        })
        .unwrap_or_default();
    alerts.sort_unstable();
    alerts.dedup();
    alerts
}

/// Sums `buckets` per project and joins the names (`project_names`: id → name, archived
/// projects included) and what `declared` says. Fails on results in more than one currency.
pub fn report(
    buckets: &[UsageBucket],
    project_names: &BTreeMap<String, String>,
    declared: Option<(&Document, String)>,
    month: String,
    range: (i64, i64),
) -> Result<CostReport, String> {
    let mut cents: BTreeMap<String, i64> = BTreeMap::new();
    let mut currency: Option<String> = None;
    let mut until = range.0;
    for bucket in buckets {
        until = until.max(bucket.end_time.unwrap_or(range.0));
        for raw in &bucket.results {
            let result: CostResult = serde_json::from_value(raw.clone())
                .map_err(|e| format!("the API sent a cost result orgops cannot read: {e}"))?;
            let this = result
                .amount
                .currency
                .as_deref()
                .unwrap_or("usd")
                .to_ascii_lowercase();
            match &currency {
                Some(c) if *c != this => {
                    return Err(format!(
                        "the API reported costs in {} and in {}: orgops sums one currency",
                        escape::text(c),
                        escape::text(&this)
                    ));
                }
                Some(_) => {}
                None => currency = Some(this),
            }
            let id = result.project_id.unwrap_or_default();
            *cents.entry(id).or_default() += (result.amount.value * 100.0).round() as i64;
        }
    }
    let mut by_name: BTreeMap<&str, Declared> = BTreeMap::new();
    let mut org_limit_cents = None;
    if let Some((doc, _)) = &declared {
        org_limit_cents = limit_of(&doc.settings.fields);
        for p in doc.projects.iter() {
            by_name.insert(
                p.name.as_str(),
                Declared {
                    limit_cents: limit_of(&p.fields),
                    alerts_cents: alerts_of(&p.fields),
                },
            );
        }
    }
    // Projects that cost something, and live projects the file gives a limit or alerts.
    for (id, name) in project_names {
        if by_name
            .get(name.as_str())
            .is_some_and(|d| d.limit_cents.is_some() || !d.alerts_cents.is_empty())
        {
            cents.entry(id.clone()).or_default();
        }
    }
    let mut rows: Vec<CostRow> = cents
        .into_iter()
        .map(|(id, cost_cents)| {
            let project = project_names.get(&id).cloned().unwrap_or_else(|| {
                if id.is_empty() {
                    "(no project)".into()
                } else {
                    id.clone()
                }
            });
            let d = by_name.get(project.as_str()).cloned().unwrap_or_default();
            CostRow {
                project,
                project_id: id,
                cost_cents,
                limit_cents: d.limit_cents,
                alerts_cents: d.alerts_cents,
            }
        })
        .filter(|r| r.cost_cents != 0 || r.limit_cents.is_some() || !r.alerts_cents.is_empty())
        .collect();
    rows.sort_by(|a, b| (&a.project, &a.project_id).cmp(&(&b.project, &b.project_id)));
    Ok(CostReport {
        month,
        from: range.0,
        until: until.clamp(range.0, range.1),
        limits_from: declared.map(|(_, from)| from),
        currency: currency.unwrap_or_else(|| "usd".to_string()),
        rows,
        org_limit_cents,
    })
}

/// An amount in cents, signed (`-$1.00` for a credit).
pub fn amount(cents: i64, currency: &str) -> String {
    let text = money(cents.unsigned_abs(), currency);
    if cents < 0 { format!("-{text}") } else { text }
}

fn limit_cell(limit: Option<u64>, currency: &str) -> String {
    limit.map_or_else(|| "-".to_string(), |l| money(l, currency))
}

/// The organization's limit, named so.
fn org_limit_cell(report: &CostReport) -> String {
    report.org_limit_cents.map_or_else(
        || "-".to_string(),
        |l| format!("{} (organization)", money(l, &report.currency)),
    )
}

fn percent_cell(row: &CostRow) -> String {
    row.percent_of_limit()
        .map_or_else(|| "-".to_string(), |p| format!("{p} %"))
}

fn alerts_cell(row: &CostRow, currency: &str) -> String {
    if row.alerts_cents.is_empty() {
        return "-".to_string();
    }
    let reached = row.alerts_reached();
    row.alerts_cents
        .iter()
        .map(|a| {
            let text = money(*a, currency);
            if reached.contains(a) {
                format!("{text} (reached)")
            } else {
                text
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `2026-12 (2026-12-01 to 2026-12-06)`: the month and the days read (the last one
/// included).
fn range_words(report: &CostReport) -> String {
    let last = (report.until - 1).max(report.from);
    format!(
        "{} ({} to {}, UTC)",
        report.month,
        &format_utc(report.from)[..10],
        &format_utc(last)[..10]
    )
}

fn source_words(report: &CostReport) -> String {
    match &report.limits_from {
        Some(from) => format!("spend limits and alerts from {from}"),
        None => "no spend limits or alerts read".to_string(),
    }
}

/// The table for a terminal: aligned columns, names escaped.
pub fn text(report: &CostReport) -> String {
    let c = &report.currency;
    let mut out = format!(
        "Costs {}; {}.\n\n",
        range_words(report),
        escape::text(&source_words(report))
    );
    if report.rows.is_empty() {
        out.push_str("No project has costs or a declared limit.\n");
        return out;
    }
    let mut table: Vec<[String; 5]> = vec![[
        "project".into(),
        "cost".into(),
        "spend limit".into(),
        "used".into(),
        "alerts".into(),
    ]];
    for row in &report.rows {
        table.push([
            escape::text(&row.project).into_owned(),
            amount(row.cost_cents, c),
            limit_cell(row.limit_cents, c),
            percent_cell(row),
            alerts_cell(row, c),
        ]);
    }
    let total = report.total_row();
    table.push([
        "total".into(),
        amount(total.cost_cents, c),
        org_limit_cell(report),
        percent_cell(&total),
        String::new(),
    ]);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            line.push(' ');
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A markdown table (for a pull request or an issue): names escaped as prose.
pub fn markdown(report: &CostReport) -> String {
    let c = &report.currency;
    let source = source_words(report);
    let mut chars = source.chars();
    let source: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let mut out = format!(
        "### Costs {}\n\n{}.\n\n",
        escape::prose(&range_words(report)),
        escape::prose(&source)
    );
    if report.rows.is_empty() {
        out.push_str("No project has costs or a declared limit.\n");
        return out;
    }
    out.push_str("| project | cost | spend limit | used | alerts |\n|---|--:|--:|--:|---|\n");
    for row in &report.rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            escape::prose(&row.project),
            amount(row.cost_cents, c),
            limit_cell(row.limit_cents, c),
            percent_cell(row),
            alerts_cell(row, c)
        ));
    }
    let total = report.total_row();
    out.push_str(&format!(
        "| **total** | **{}** | {} | {} | |\n",
        amount(total.cost_cents, c),
        org_limit_cell(report),
        percent_cell(&total)
    ));
    out
}

/// The report as a JSON value (amounts in cents).
pub fn json_value(report: &CostReport) -> Value {
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            json!({
                "project": r.project,
                "project_id": r.project_id,
                "cost_cents": r.cost_cents,
                "spend_limit_cents": r.limit_cents,
                "percent_of_limit": r.percent_of_limit(),
                "spend_alerts_cents": r.alerts_cents,
                "alerts_reached_cents": r.alerts_reached(),
            })
        })
        .collect();
    let total = report.total_row();
    json!({
        "month": report.month,
        "from": format_utc(report.from),
        "until": format_utc(report.until),
        "currency": report.currency,
        "limits_from": report.limits_from,
        "projects": rows,
        "total": {
            "cost_cents": total.cost_cents,
            "spend_limit_cents": report.org_limit_cents,
            "percent_of_limit": total.percent_of_limit(),
        },
    })
}

/// The report as JSON text (every string escaped as orgops's JSON output is).
pub fn json(report: &CostReport) -> String {
    format!("{}\n", escape::json_pretty(&json_value(report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(start: i64, results: Value) -> UsageBucket {
        serde_json::from_value(json!({
            "start_time": start, "end_time": start + 86_400, "results": results
        }))
        .expect("bucket")
    }

    fn result(project: &str, dollars: f64) -> Value {
        json!({"object": "organization.costs.result", "project_id": project,
               "amount": {"value": dollars, "currency": "usd"}})
    }

    fn doc(yaml: &str) -> Document {
        crate::config::parse_str(yaml, "orgops.yaml", crate::config::LoadMode::Desired)
            .expect("a valid document")
    }

    #[test]
    fn sums_per_project_in_cents_and_joins_the_declared_limits() {
        let buckets = [
            bucket(0, json!([result("p1", 0.1), result("p2", 10.0)])),
            bucket(86_400, json!([result("p1", 0.2), result("p3", 1.0)])),
        ];
        let names: BTreeMap<String, String> = [
            ("p1".into(), "Zeta".into()),
            ("p2".into(), "Alpha".into()),
            ("p3".into(), "Mid|dle".into()),
            ("p4".into(), "Quiet".into()),
        ]
        .into();
        let d = doc(
            "version: 1\nsettings:\n  spend_limit: {amount_cents: 2000}\nprojects:\n  - name: Alpha\n    spend_limit: {amount_cents: 1200}\n    spend_alerts:\n      - {threshold_cents: 1000, recipients: [a@b.example]}\n      - {threshold_cents: 500, recipients: [a@b.example]}\n  - name: Quiet\n    spend_limit: {amount_cents: 100}\n",
        );
        let report = report(
            &buckets,
            &names,
            Some((&d, "orgops.yaml".into())),
            "1970-01".into(),
            (0, 31 * 86_400),
        )
        .expect("report");
        let rows: Vec<(&str, i64, Option<u64>)> = report
            .rows
            .iter()
            .map(|r| (r.project.as_str(), r.cost_cents, r.percent_of_limit()))
            .collect();
        assert_eq!(
            rows,
            [
                ("Alpha", 1000, Some(83)),
                ("Mid|dle", 100, None),
                ("Quiet", 0, Some(0)),
                ("Zeta", 30, None)
            ]
        );
        assert_eq!(report.rows[0].alerts_reached(), [500, 1000]);
        assert_eq!(report.total_cents(), 1130);
        assert_eq!(report.until, 2 * 86_400);
        let over: Vec<&str> = report.over(80).iter().map(|r| r.project.as_str()).collect();
        assert_eq!(over, ["Alpha"]);
        assert!(report.over(84).is_empty());
        let md = markdown(&report);
        assert!(md.contains("| Mid\\|dle | $1.00 |"), "{md}");
        let text = text(&report);
        assert!(text.contains("$5.00 (reached), $10.00 (reached)"), "{text}");
        assert!(text.contains("$20.00 (organization)"), "{text}");
    }

    #[test]
    fn mixed_currencies_are_an_error() {
        let buckets = [bucket(
            0,
            json!([result("p1", 1.0), {"project_id": "p2", "amount": {"value": 1.0, "currency": "eur"}}]),
        )];
        let err = report(
            &buckets,
            &BTreeMap::new(),
            None,
            "1970-01".into(),
            (0, 86_400),
        )
        .expect_err("mixed");
        assert!(err.contains("usd") && err.contains("eur"), "{err}");
    }
}
