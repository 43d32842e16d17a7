//! `orgops costs` and `drift --cost-threshold` (issue 22, item 9) against the emulator's
//! seeded cost buckets: every page of `/organization/costs` read and summed per project, the
//! spend limits and alerts of the file (or of the live organization) beside them, in text,
//! markdown and JSON; drift's line for a project over the threshold of its limit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::cli::{Run, orgops, run};
use crate::support::org;

/// The emulator's state and the file: the same org (so drift is in sync), Search nearly out
/// of budget ($1.00 a month; the emulator's projects cost at least $1.00 a day), Big far
/// from it. A name that needs escaping is made over the API (a file refuses it).
const STATE: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
projects:
  - name: Search
    spend_limit: {amount_cents: 100}
    spend_alerts:
      - {threshold_cents: 50, recipients: [ada@example.com]}
      - {threshold_cents: 900000000, recipients: [ada@example.com]}
  - name: Big
    spend_limit: {amount_cents: 1000000000}
"#;

const EVIL: &str = "Pipe|and\u{1b}[31mred";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Last month (`YYYY-MM`) and its `[start, end)`.
fn last_month() -> (String, i64, i64) {
    let this = orgops::text::time::month_of(now());
    let (start, _) = orgops::text::time::month_range(&this).expect("month");
    let name = orgops::text::time::month_of(start - 1);
    let (start, end) = orgops::text::time::month_range(&name).expect("month");
    (name, start, end)
}

fn orgops_against(
    emu: &orgops::emulator::RunningEmulator,
    dir: &std::path::Path,
) -> assert_cmd::Command {
    let mut command = orgops();
    command
        .env("OPENAI_BASE_URL", emu.url())
        .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
        .env("ORGOPS_LOCK_DIR", dir.join("locks"))
        .current_dir(dir);
    command
}

/// What the emulator answers, summed per project id, read page by page over HTTP.
fn expected_cents(
    emu: &orgops::emulator::RunningEmulator,
    start: i64,
    end: i64,
) -> BTreeMap<String, i64> {
    let mut sums = BTreeMap::new();
    let mut page: Option<String> = None;
    loop {
        let mut path = format!(
            "/organization/costs?start_time={start}&end_time={end}&group_by=project_id&limit=31"
        );
        if let Some(p) = &page {
            path.push_str(&format!("&page={p}"));
        }
        let answer = org::call(emu, reqwest::Method::GET, &path, None);
        for bucket in answer["data"].as_array().expect("data") {
            for r in bucket["results"].as_array().expect("results") {
                let id = r["project_id"].as_str().expect("grouped").to_string();
                let value = r["amount"]["value"].as_f64().expect("amount");
                *sums.entry(id).or_default() += (value * 100.0).round() as i64;
            }
        }
        match answer["next_page"].as_str() {
            Some(next) => page = Some(next.to_string()),
            None => break,
        }
    }
    sums
}

fn json_of(out: &Run) -> Value {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[test]
fn costs_of_a_month_are_every_page_summed_per_project_beside_the_files_limits() {
    let emu = org::start(STATE);
    org::call(
        &emu,
        reqwest::Method::POST,
        "/organization/projects",
        Some(json!({"name": EVIL})),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("orgops.yaml"), STATE).expect("file");
    let (month, start, end) = last_month();
    let expected = expected_cents(&emu, start, end);
    let before = emu.state().faults.stats();
    let out = run(orgops_against(&emu, dir.path()).args([
        "costs",
        "-f",
        "orgops.yaml",
        "--month",
        &month,
        "--page-size",
        "7",
        "--format",
        "json",
    ]));
    let report = json_of(&out);
    // A month of 28 to 31 days at 7 a page: 4 or 5 pages, all read.
    let days = (end - start) / 86_400;
    let pages = emu.state().faults.stats().by_route["GET /organization/costs"]
        - before.by_route["GET /organization/costs"];
    assert_eq!(pages as i64, (days + 6) / 7, "{report}");
    assert_eq!(report["month"], json!(month));
    assert_eq!(report["limits_from"], "orgops.yaml");
    let rows = report["projects"].as_array().expect("projects");
    let got: BTreeMap<String, i64> = rows
        .iter()
        .map(|r| {
            (
                r["project_id"].as_str().expect("id").to_string(),
                r["cost_cents"].as_i64().expect("cents"),
            )
        })
        .collect();
    assert_eq!(got, expected, "{report}");
    // Sorted by name; the default project has costs too.
    let names: Vec<&str> = rows.iter().filter_map(|r| r["project"].as_str()).collect();
    assert_eq!(names, ["Big", "Default project", EVIL, "Search"]);
    let search = &rows[3];
    assert_eq!(search["spend_limit_cents"], 100);
    assert!(
        search["percent_of_limit"]
            .as_u64()
            .is_some_and(|p| p >= 2_800),
        "{search}"
    );
    assert_eq!(search["spend_alerts_cents"], json!([50, 900_000_000]));
    assert_eq!(search["alerts_reached_cents"], json!([50]));
    let total: i64 = expected.values().sum();
    assert_eq!(report["total"]["cost_cents"], json!(total));
    // The raw JSON carries the escape as JSON does, never raw.
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);

    // Text and markdown: the same numbers, names escaped.
    let text = run(orgops_against(&emu, dir.path()).args([
        "costs",
        "-f",
        "orgops.yaml",
        "--month",
        &month,
    ]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(!text.stdout.contains('\u{1b}'), "{}", text.stdout);
    assert!(
        text.stdout.contains("Pipe|and\\u{1b}[31mred"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("$0.50 (reached), $9,000,000.00"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("spend limits and alerts from orgops.yaml"),
        "{}",
        text.stdout
    );
    let md = run(orgops_against(&emu, dir.path()).args([
        "costs",
        "-f",
        "orgops.yaml",
        "--month",
        &month,
        "--format",
        "markdown",
    ]));
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(md.stdout.contains("| Pipe\\|and"), "{}", md.stdout);
    assert!(md.stdout.contains("| Search | $"), "{}", md.stdout);
    // Same inputs, same bytes.
    let again = run(orgops_against(&emu, dir.path()).args([
        "costs",
        "-f",
        "orgops.yaml",
        "--month",
        &month,
    ]));
    assert_eq!(again.stdout, text.stdout);
}

#[test]
fn without_a_file_the_live_limits_are_shown_and_bad_input_is_an_error() {
    let emu = org::start(STATE);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(orgops_against(&emu, dir.path()).args(["costs", "--format", "json"]));
    let report = json_of(&out);
    assert_eq!(report["limits_from"], "the live organization");
    assert_eq!(report["month"], json!(orgops::text::time::month_of(now())));
    let search = report["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|r| r["project"] == "Search")
        .cloned()
        .expect("Search");
    assert_eq!(search["spend_limit_cents"], 100, "{report}");
    assert_eq!(search["spend_alerts_cents"], json!([50, 900_000_000]));
    for (args, message) in [
        (
            vec!["costs", "--month", "2026-13"],
            "--month \"2026-13\": expected a month as YYYY-MM",
        ),
        (
            vec!["costs", "--month", "2999-01"],
            "that month has not started",
        ),
        (
            vec!["costs", "--page-size", "181"],
            "--page-size 181: the API pages 1 to 180",
        ),
        (vec!["costs", "-f", "missing.yaml"], "missing.yaml"),
    ] {
        let out = run(orgops_against(&emu, dir.path()).args(&args));
        assert_eq!(out.code, 1, "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn drift_has_a_line_for_each_project_over_the_cost_threshold_of_its_limit() {
    let emu = org::start(STATE);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("orgops.yaml"), STATE).expect("file");
    let out = run(orgops_against(&emu, dir.path()).args(["drift", "-f", "orgops.yaml"]));
    // In sync: a cost is reported, not drift.
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("cost "))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(
        lines[0].starts_with("cost      project:Search: $")
            && lines[0].ends_with("of its spend limit $1.00 (threshold 80 %)"),
        "{}",
        out.stdout
    );
    let json = run(orgops_against(&emu, dir.path()).args([
        "drift",
        "-f",
        "orgops.yaml",
        "--format",
        "json",
    ]));
    let report = json_of(&json);
    assert_eq!(report["costs"]["status"], "read");
    assert_eq!(report["costs"]["threshold_percent"], 80);
    let over: Vec<&str> = report["costs"]["over"]
        .as_array()
        .expect("over")
        .iter()
        .filter_map(|o| o["key"].as_str())
        .collect();
    assert_eq!(over, ["project:Search"]);
    let md = run(orgops_against(&emu, dir.path()).args([
        "drift",
        "-f",
        "orgops.yaml",
        "--format",
        "markdown",
    ]));
    assert!(md.stdout.contains("- project:Search: $"), "{}", md.stdout);
    // A threshold Big is far from, and one nobody reaches: no line.
    let high = run(orgops_against(&emu, dir.path()).args([
        "drift",
        "-f",
        "orgops.yaml",
        "--cost-threshold",
        "1000",
        "--format",
        "json",
    ]));
    let report = json_of(&high);
    let search_percent = report["costs"]["over"][0]["percent_of_limit"].as_u64();
    assert!(search_percent.is_none_or(|p| p >= 1000), "{report}");
    let refused = run(orgops_against(&emu, dir.path()).args(["drift", "--cost-threshold", "0"]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("0 is not in 1..=1000"),
        "{}",
        refused.stderr
    );
    // A file with no project limit reads no costs.
    std::fs::write(
        dir.path().join("plain.yaml"),
        "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n",
    )
    .expect("file");
    let before = emu.state().faults.stats();
    let plain = run(orgops_against(&emu, dir.path()).args([
        "drift",
        "-f",
        "plain.yaml",
        "--format",
        "json",
    ]));
    let report: Value = serde_json::from_str(&plain.stdout).expect("json");
    assert_eq!(report["costs"]["status"], "skipped");
    assert_eq!(
        emu.state()
            .faults
            .stats()
            .by_route
            .get("GET /organization/costs"),
        before.by_route.get("GET /organization/costs")
    );
}
