//! Benchmark: apply wall time against the bound the dependency graph and the limits imply.
//!
//! `cargo bench --bench apply_1000` runs two scenarios against the in-process emulator:
//!
//! 1. **latency**: 100 new projects with 9 members each (1,000 changes: 100 project
//!    creates, then 900 member adds, each waiting for its project) with `--latency-ms 50`.
//!    The bound at concurrency C (the client's global limit) is
//!    `max(depth, ceil(changes / C)) × latency`, where depth is the longest `depends_on`
//!    chain (every change here is one request).
//! 2. **rate limit**: 5 projects × 3 members with `--rate-limit-rpm 10` and no `Retry-After`
//!    (the real admin endpoints' reported behaviour). The emulator's token bucket per route
//!    starts full (10) and refills 10/min, so a route with n requests needs at least
//!    `(n - 10) × 6 s`; the bound is the largest over the routes. 1,000 changes would take
//!    ~90 minutes at this limit whatever the client does, hence the smaller plan.
//!
//! Options: `-- --projects N --members M --latency-ms L --rpm R` runs one custom scenario
//! (`--rpm` optional). Only the execution is timed (the live read and planning are not).

use std::collections::BTreeMap;
use std::time::Instant;

use orgops::api::{Client, ClientConfig, Secret};
use orgops::apply::report::NoApplyProgress;
use orgops::apply::{ExecuteOptions, Executor, Sinks};
use orgops::emulator::{self, EmulatorOptions};
use orgops::live::{self, NoProgress, ReadScope};
use orgops::model::{Document, OrgRole, Project, ProjectMember, ProjectRole, User};
use orgops::plan::{self, Change, PlanOptions};

struct Scenario {
    projects: usize,
    members: usize,
    latency_ms: u64,
    rpm: Option<u32>,
}

fn documents(s: &Scenario) -> (Document, Document) {
    let users: Vec<User> = (0..s.members.max(1))
        .map(|i| User {
            email: format!("u{i}@bench.example"),
            role: if i == 0 {
                OrgRole::Owner
            } else {
                OrgRole::Reader
            },
            roles: vec![].into(),
        })
        .collect();
    let live = Document {
        users: users.clone().into(),
        ..Document::default()
    };
    let mut desired = live.clone();
    desired.projects = (0..s.projects)
        .map(|p| Project {
            name: format!("project-{p:03}"),
            archived: false,
            residency: None,
            external_key_id: None,
            members: users
                .iter()
                .take(s.members)
                .map(|u| ProjectMember {
                    email: u.email.clone(),
                    role: ProjectRole::Member,
                    roles: vec![].into(),
                })
                .collect(),
            groups: vec![].into(),
            roles: vec![].into(),
            service_accounts: vec![].into(),
            rate_limits: BTreeMap::new(),
            certificates: vec![].into(),
            ..Project::default()
        })
        .collect();
    (live, desired)
}

/// Longest chain of `depends_on`.
fn depth(changes: &[Change]) -> usize {
    let mut depth_of: BTreeMap<&str, usize> = BTreeMap::new();
    for change in changes {
        let d = 1 + change
            .depends_on
            .iter()
            .filter_map(|d| depth_of.get(d.0.as_str()))
            .max()
            .copied()
            .unwrap_or(0);
        depth_of.insert(change.id.0.as_str(), d);
    }
    depth_of.values().copied().max().unwrap_or(0)
}

fn route_of(change: &Change) -> &'static str {
    match change.kind {
        plan::ResourceKind::Project => "POST /organization/projects",
        _ => "POST /organization/projects/{project_id}/users",
    }
}

fn run(s: &Scenario) -> Result<(), String> {
    let (live_doc, desired) = documents(s);
    let options = EmulatorOptions {
        latency_ms: s.latency_ms,
        rate_limit_rpm: s.rpm,
        retry_after: false,
        ..EmulatorOptions::default()
    };
    let emulator = emulator::start_in_background(live_doc, options).map_err(|e| e.to_string())?;
    let client = Client::new(ClientConfig::new(
        emulator.url(),
        Secret::new(emulator.admin_key()),
    ))
    .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let live = runtime
        .block_on(live::read(
            &client,
            &ReadScope::for_document(&desired),
            &NoProgress,
        ))
        .map_err(|e| e.to_string())?;
    let plan = plan::plan(
        &desired,
        &live,
        &PlanOptions {
            allow_removals: true,
            ..PlanOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let executor = Executor::new(client.clone(), &live.ids, Sinks::default(), BTreeMap::new());
    let execute = ExecuteOptions::for_client(&client);
    let concurrency = client.controller().limits().max_concurrency;
    let before = client.attempts();
    let started = Instant::now();
    let report = runtime.block_on(executor.run(&plan.changes, &execute, &NoApplyProgress));
    let wall = started.elapsed().as_secs_f64();
    let attempts = client.attempts() - before;
    let summary = report.summary();
    let changes = plan.changes.len();
    let latency = s.latency_ms as f64 / 1000.0;
    let latency_bound = depth(&plan.changes).max(changes.div_ceil(concurrency)) as f64 * latency;
    let rate_bound = s.rpm.map(|rpm| {
        let mut per_route: BTreeMap<&str, usize> = BTreeMap::new();
        for change in &plan.changes {
            *per_route.entry(route_of(change)).or_default() += 1;
        }
        let burst = rpm as usize;
        per_route
            .values()
            .map(|&n| n.saturating_sub(burst) as f64 * 60.0 / f64::from(rpm))
            .fold(0.0, f64::max)
    });
    let bound = latency_bound.max(rate_bound.unwrap_or(0.0));
    println!(
        "apply {changes} changes ({} projects x {} members), latency {} ms{}: {wall:.2} s wall, \
         {attempts} requests, {} applied / {} failed; bound {bound:.2} s (depth {}, concurrency {concurrency}{}); ratio {:.2}x",
        s.projects,
        s.members,
        s.latency_ms,
        s.rpm
            .map(|r| format!(", {r} rpm per route without Retry-After"))
            .unwrap_or_default(),
        summary.applied + summary.already_satisfied,
        summary.failed + summary.skipped,
        depth(&plan.changes),
        rate_bound
            .map(|b| format!(", rate-limit bound {b:.1} s"))
            .unwrap_or_default(),
        wall / bound.max(f64::EPSILON),
    );
    if !report.all_succeeded() {
        return Err("some changes failed".into());
    }
    Ok(())
}

fn arg(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenarios = if args.iter().any(|a| a == "--projects") {
        vec![Scenario {
            projects: arg(&args, "--projects").unwrap_or(100) as usize,
            members: arg(&args, "--members").unwrap_or(9) as usize,
            latency_ms: arg(&args, "--latency-ms").unwrap_or(50),
            rpm: arg(&args, "--rpm").map(|r| r as u32),
        }]
    } else {
        vec![
            Scenario {
                projects: 100,
                members: 9,
                latency_ms: 50,
                rpm: None,
            },
            Scenario {
                projects: 5,
                members: 3,
                latency_ms: 50,
                rpm: Some(10),
            },
        ]
    };
    for scenario in &scenarios {
        if let Err(e) = run(scenario) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
