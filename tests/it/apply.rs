//! `orgops apply` against the emulator over HTTP: convergence (a property over random live
//! and desired organizations), one-run convergence under injected faults and rate limits
//! with no duplicate object, an apply killed at a random point and run again, the invite
//! lifecycle, secrets that reach only their sinks, and stale saved plans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orgops::api::{Client, ClientConfig, Limits, Secret};
use orgops::apply::report::NoApplyProgress;
use orgops::apply::{ApplyReport, ExecuteOptions, Executor, Sinks};
use orgops::config::{self, DesiredState, LoadMode};
use orgops::emulator::{self, EmulatorOptions, RunningEmulator};
use orgops::live::{self, NoProgress, ReadScope};
use orgops::model::{
    AdminApiKey, Document, Group, OrgRole, Project, ProjectGroup, ProjectMember, ProjectRole,
    RateLimit, Role, ServiceAccount, Sink, UnmanagedAction, UnmanagedProjectAction, User,
};
use orgops::plan::{self, Plan, PlanOptions};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::cli::{orgops, run};
use crate::support::org::labelled_pem;

const PERMISSIONS: [&str; 3] = [
    "api.organization.costs.read",
    "api.organization.usage.read",
    "api.organization.invoices.read",
];

fn email(i: usize) -> String {
    format!("u{i}@x.example")
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T], p: f64) -> Vec<&'a T> {
    items.iter().filter(|_| rng.random_bool(p)).collect()
}

fn permissions(rng: &mut StdRng) -> Vec<String> {
    let mut chosen: Vec<String> = pick(rng, &PERMISSIONS, 0.5)
        .into_iter()
        .map(|p| p.to_string())
        .collect();
    if chosen.is_empty() {
        chosen.push(PERMISSIONS[0].to_string());
    }
    chosen
}

fn project_role(rng: &mut StdRng) -> ProjectRole {
    if rng.random_bool(0.3) {
        ProjectRole::Owner
    } else {
        ProjectRole::Member
    }
}

/// One side of a scenario: users, custom roles, groups and projects drawn from a small
/// universe so the two sides overlap. `with_sinks` gives new service accounts (half of
/// them) and an admin key file sinks, so generated keys are exercised too.
fn side(rng: &mut StdRng, p_user: f64, with_sinks: bool) -> Document {
    let mut doc = Document::default();
    doc.users.push(User {
        email: email(0),
        role: OrgRole::Owner,
        roles: vec![].into(),
    });
    for i in 1..6 {
        if rng.random_bool(p_user) {
            let role = if rng.random_bool(0.2) {
                OrgRole::Owner
            } else {
                OrgRole::Reader
            };
            doc.users.push(User {
                email: email(i),
                role,
                roles: vec![].into(),
            });
        }
    }
    for name in ["r0", "r1"] {
        if rng.random_bool(0.6) {
            doc.roles.push(Role {
                name: name.into(),
                permissions: permissions(rng),
                description: rng.random_bool(0.5).then(|| format!("{name} role")),
            });
        }
    }
    let emails: Vec<String> = doc.users.iter().map(|u| u.email.clone()).collect();
    let roles: Vec<String> = doc.roles.iter().map(|r| r.name.clone()).collect();
    for user in doc.users.iter_mut() {
        user.roles = pick(rng, &roles, 0.3).into_iter().cloned().collect();
    }
    for name in ["g0", "g1", "g2"] {
        if rng.random_bool(0.6) {
            doc.groups.push(Group {
                name: name.into(),
                members: pick(rng, &emails, 0.4).into_iter().cloned().collect(),
                roles: pick(rng, &roles, 0.3).into_iter().cloned().collect(),
            });
        }
    }
    let groups: Vec<String> = doc.groups.iter().map(|g| g.name.clone()).collect();
    for p in 0..4 {
        if !rng.random_bool(0.6) {
            continue;
        }
        let name = format!("p{p}");
        let project_roles: Vec<Role> = if rng.random_bool(0.5) {
            vec![Role {
                name: "pr0".into(),
                permissions: vec!["api.fine_tuning.jobs.write".into()],
                description: None,
            }]
        } else {
            vec![]
        };
        let role_names: Vec<String> = project_roles.iter().map(|r| r.name.clone()).collect();
        let members = pick(rng, &emails, 0.4)
            .into_iter()
            .map(|e| ProjectMember {
                email: e.clone(),
                role: project_role(rng),
                roles: pick(rng, &role_names, 0.5).into_iter().cloned().collect(),
            })
            .collect();
        let project_groups = pick(rng, &groups, 0.4)
            .into_iter()
            .map(|g| ProjectGroup {
                name: g.clone(),
                role: project_role(rng),
                roles: pick(rng, &role_names, 0.5).into_iter().cloned().collect(),
            })
            .collect();
        let mut service_accounts = Vec::new();
        for sa in ["sa0", "sa1"] {
            if rng.random_bool(0.5) {
                service_accounts.push(ServiceAccount {
                    name: sa.into(),
                    role: project_role(rng),
                    sink: (with_sinks && rng.random_bool(0.5))
                        .then(|| Sink::File(format!("keys/{name}-{sa}.key"))),
                    key_spend_limit: None,
                });
            }
        }
        let mut rate_limits = BTreeMap::new();
        if rng.random_bool(0.5) {
            rate_limits.insert(
                "gpt-4o".to_string(),
                RateLimit {
                    max_requests_per_1_minute: Some(rng.random_range(100..1000)),
                    ..RateLimit::default()
                },
            );
        }
        doc.projects.push(Project {
            name,
            archived: false,
            residency: None,
            external_key_id: None,
            members,
            groups: project_groups,
            roles: project_roles.into(),
            service_accounts: service_accounts.into(),
            rate_limits,
            certificates: vec![].into(),
            ..Default::default()
        });
    }
    if with_sinks && rng.random_bool(0.5) {
        doc.admin_api_keys.push(AdminApiKey {
            name: "ci-admin".into(),
            expires_in_days: Some(30),
            sink: Some(Sink::File("keys/ci-admin.key".into())),
        });
    }
    doc
}

/// A random (live seed, desired) pair; the desired side removes what it does not declare.
fn scenario(seed: u64) -> (Document, Document) {
    let mut rng = StdRng::seed_from_u64(seed);
    let live = side(&mut rng, 0.6, false);
    let mut desired = side(&mut rng, 0.7, true);
    let unmanaged = &mut desired.policy.unmanaged;
    unmanaged.users = UnmanagedAction::Remove;
    unmanaged.invites = UnmanagedAction::Remove;
    unmanaged.groups = UnmanagedAction::Remove;
    unmanaged.group_members = UnmanagedAction::Remove;
    unmanaged.roles = UnmanagedAction::Remove;
    unmanaged.role_assignments = UnmanagedAction::Remove;
    unmanaged.project_members = UnmanagedAction::Remove;
    unmanaged.project_groups = UnmanagedAction::Remove;
    unmanaged.project_roles = UnmanagedAction::Remove;
    unmanaged.service_accounts = UnmanagedAction::Remove;
    unmanaged.projects = UnmanagedProjectAction::Archive;
    (live, desired)
}

pub(crate) fn yaml(doc: &Document) -> String {
    serde_saphyr::to_string(doc).expect("documents serialize to YAML")
}

/// Writes `doc` as `orgops.yaml` in `dir` and loads it as the desired state (which also
/// proves the generator writes valid files).
pub(crate) fn desired_state(dir: &Path, doc: &Document) -> DesiredState {
    let path = dir.join("orgops.yaml");
    std::fs::write(&path, yaml(doc)).expect("write desired");
    match config::load(&path, LoadMode::Desired) {
        Ok(state) => state,
        Err(diagnostics) => panic!(
            "generated desired state is invalid:\n{}\n{}",
            diagnostics.render_human(false),
            yaml(doc)
        ),
    }
}

/// A client with short backoffs, so tests under faults stay quick.
pub(crate) fn test_client(emulator: &RunningEmulator) -> Client {
    let mut config = ClientConfig::new(emulator.url(), Secret::new(emulator.admin_key()));
    config.limits = Limits {
        attempt_timeout: Duration::from_secs(10),
        max_attempts: 8,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(400),
        ..Limits::default()
    };
    Client::new(config).expect("client")
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Reads live, plans (removals allowed), and applies: what `orgops apply --auto-approve`
/// does, through the library.
pub(crate) async fn apply(client: &Client, desired: &DesiredState) -> (Plan, ApplyReport) {
    let live = live::read(client, &ReadScope::for_document(&desired.doc), &NoProgress)
        .await
        .expect("live read");
    let plan = fresh_plan(desired, &live);
    let executor = Executor::new(
        client.clone(),
        &live.ids,
        Sinks::from_desired(desired),
        desired.certificate_pems.clone(),
    );
    let report = executor
        .run(
            &plan.changes,
            &ExecuteOptions::for_client(client),
            &NoApplyProgress,
        )
        .await;
    (plan, report)
}

fn fresh_plan(desired: &DesiredState, live: &orgops::live::LiveState) -> Plan {
    let options = PlanOptions {
        allow_removals: true,
        ..PlanOptions::default()
    };
    let plan = plan::plan(&desired.doc, live, &options).expect("plannable");
    assert!(plan.refusals.is_empty(), "refused: {:?}", plan.refusals);
    plan
}

async fn plan_now(client: &Client, desired: &DesiredState) -> Plan {
    let live = live::read(client, &ReadScope::for_document(&desired.doc), &NoProgress)
        .await
        .expect("live read");
    fresh_plan(desired, &live)
}

fn ids(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| c.id.to_string()).collect()
}

pub(crate) fn failures(report: &ApplyReport) -> Vec<String> {
    report
        .changes
        .iter()
        .filter(|c| !c.outcome.succeeded())
        .map(|c| format!("{}: {:?}", c.id, c.outcome))
        .collect()
}

/// `GET /_emulator/state`, as a document (no semantic checks, so duplicates survive).
pub(crate) async fn emulator_state(base: &str) -> Document {
    let text = reqwest::get(format!("{base}/_emulator/state"))
        .await
        .expect("state")
        .text()
        .await
        .expect("state body");
    serde_saphyr::from_str(&text).expect("state parses")
}

/// Natural keys that more than one live object has.
fn duplicates(doc: &Document) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |key: String| *seen.entry(key).or_default() += 1;
    doc.projects
        .iter()
        .for_each(|p| count(format!("project:{}", p.name)));
    doc.groups
        .iter()
        .for_each(|g| count(format!("group:{}", g.name)));
    doc.roles
        .iter()
        .for_each(|r| count(format!("role:{}", r.name)));
    doc.certificates
        .iter()
        .for_each(|c| count(format!("certificate:{}", c.name)));
    doc.admin_api_keys
        .iter()
        .for_each(|k| count(format!("admin_api_key:{}", k.name)));
    for p in &doc.projects {
        p.service_accounts
            .iter()
            .for_each(|s| count(format!("project:{}/service_account:{}", p.name, s.name)));
        p.roles
            .iter()
            .for_each(|r| count(format!("project:{}/role:{}", p.name, r.name)));
        p.members
            .iter()
            .for_each(|m| count(format!("project:{}/member:{}", p.name, m.email)));
    }
    for g in &doc.groups {
        g.members
            .iter()
            .for_each(|m| count(format!("group:{}/member:{m}", g.name)));
    }
    doc.invites
        .iter()
        .filter(|i| i.status == orgops::model::InviteStatus::Pending)
        .for_each(|i| count(format!("pending invite:{}", i.email)));
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{k} x{n}"))
        .collect()
}

fn start(live: &Document, options: EmulatorOptions) -> RunningEmulator {
    emulator::start_in_background(live.clone(), options).expect("emulator starts")
}

/// One scenario: apply once, then the plan is empty, nothing is duplicated, and every
/// requested key is in its sink. Returns how many creates had an unknown outcome that the
/// re-read resolved.
fn converges(seed: u64, options: EmulatorOptions) -> Result<usize, TestCaseError> {
    let (live, desired) = scenario(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = desired_state(dir.path(), &desired);
    let emulator = start(&live, options);
    let client = test_client(&emulator);
    let rt = runtime();
    let (planned, report) = rt.block_on(apply(&client, &state));
    prop_assert!(
        report.all_succeeded(),
        "seed {seed}: apply did not converge in one run: {:#?}",
        failures(&report)
    );
    // Check with faults off: the check must not be the thing that fails.
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_emulator/faults", emulator.base_url()))
            .json(&serde_json::json!({"fault_rate": 0.0, "rate_limit_rpm": null}))
            .send()
            .await
            .expect("faults off")
    });
    let after = rt.block_on(plan_now(&client, &state));
    prop_assert!(
        after.is_empty(),
        "seed {seed}: after applying {:?}\nthe plan still has {:?}",
        ids(&planned),
        ids(&after)
    );
    let dump = rt.block_on(emulator_state(emulator.base_url()));
    let dups = duplicates(&dump);
    prop_assert!(dups.is_empty(), "seed {seed}: duplicated: {dups:?}");
    for project in &desired.projects {
        for account in &project.service_accounts {
            let created = planned.changes.iter().any(|c| {
                c.key == format!("project:{}/service_account:{}", project.name, account.name)
                    && c.action == orgops::plan::Action::Create
            });
            if let (true, Some(Sink::File(file))) = (created, &account.sink) {
                let key = std::fs::read_to_string(dir.path().join(file)).unwrap_or_default();
                prop_assert!(!key.is_empty(), "seed {seed}: no key in {file}");
            }
        }
    }
    let resolved = report
        .changes
        .iter()
        .filter(|c| {
            matches!(&c.outcome, orgops::apply::Outcome::Applied { note: Some(n) } if n.contains("re-read"))
        })
        .count();
    Ok(resolved)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// After one apply the plan is empty, for random live and desired organizations.
    #[test]
    fn apply_converges_for_random_live_and_desired_states(seed in any::<u64>()) {
        converges(seed, EmulatorOptions { seed, ..EmulatorOptions::default() })?;
    }
}

#[test]
fn apply_converges_in_one_run_under_faults_and_rate_limits_without_duplicates() {
    let mut resolved_by_reread = 0;
    for seed in 0..20u64 {
        let options = EmulatorOptions {
            seed,
            fault_rate: 0.2,
            rate_limit_rpm: Some(30),
            retry_after: seed % 2 == 0,
            ..EmulatorOptions::default()
        };
        match converges(1000 + seed, options) {
            Ok(resolved) => resolved_by_reread += resolved,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        resolved_by_reread > 0,
        "the faults should have made some create's outcome unknown"
    );
}

/// Write requests (anything but GET) the emulator received, faulted or not.
async fn write_requests(base: &str) -> u64 {
    let stats: serde_json::Value = reqwest::get(format!("{base}/_emulator/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats body");
    stats["by_route"]
        .as_object()
        .expect("by_route")
        .iter()
        .filter(|(route, _)| !route.starts_with("GET "))
        .map(|(_, n)| n.as_u64().unwrap_or_default())
        .sum()
}

/// One apply through the library: `None` when the live read gave up (nothing was written).
async fn apply_once(client: &Client, state: &DesiredState) -> Option<ApplyReport> {
    let live = live::read(client, &ReadScope::for_document(&state.doc), &NoProgress)
        .await
        .ok()?;
    let plan = fresh_plan(state, &live);
    let executor = Executor::new(
        client.clone(),
        &live.ids,
        Sinks::from_desired(state),
        state.certificate_pems.clone(),
    );
    Some(
        executor
            .run(
                &plan.changes,
                &ExecuteOptions::for_client(client),
                &NoApplyProgress,
            )
            .await,
    )
}

/// BENCHMARKS.md, "Fault tolerance": with half of all requests failing (500/502/503 or a
/// dropped connection), over 20 seeds: an apply whose live read gives up writes nothing,
/// applying again converges (within 4 applies; counts printed), and nothing is duplicated.
#[test]
fn at_fault_rate_one_half_every_apply_converges_or_writes_nothing_and_applying_again_converges() {
    let rt = runtime();
    let (mut first_converged, mut first_nothing, mut first_partial) = (0, 0, Vec::new());
    let mut applies_needed: BTreeMap<usize, usize> = BTreeMap::new();
    for seed in 0..20u64 {
        let (live, desired) = scenario(3000 + seed);
        let dir = tempfile::tempdir().expect("tempdir");
        let state = desired_state(dir.path(), &desired);
        let options = EmulatorOptions {
            seed,
            fault_rate: 0.5,
            ..EmulatorOptions::default()
        };
        let emulator = start(&live, options);
        let client = test_client(&emulator);
        let mut needed = None;
        for round in 1..=4 {
            let before = rt.block_on(write_requests(emulator.base_url()));
            let report = rt.block_on(apply_once(&client, &state));
            let writes = rt.block_on(write_requests(emulator.base_url())) - before;
            let converged = report.as_ref().is_some_and(ApplyReport::all_succeeded);
            if round == 1 {
                match &report {
                    _ if converged => first_converged += 1,
                    None if writes == 0 => first_nothing += 1,
                    Some(report) => {
                        first_partial.push(format!("seed {seed}: {:?}", failures(report)))
                    }
                    None => {
                        first_partial.push(format!("seed {seed}: no plan, yet {writes} writes"))
                    }
                }
            } else {
                assert!(
                    report.is_some() || writes == 0,
                    "seed {seed}: an apply whose read gave up wrote {writes} times"
                );
            }
            if converged {
                needed = Some(round);
                break;
            }
        }
        let Some(needed) = needed else {
            panic!("seed {seed}: 4 applies at fault rate 0.5 did not converge");
        };
        *applies_needed.entry(needed).or_default() += 1;
        rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/_emulator/faults", emulator.base_url()))
                .json(&serde_json::json!({"fault_rate": 0.0}))
                .send()
                .await
                .expect("faults off")
        });
        let after = rt.block_on(plan_now(&client, &state));
        assert!(after.is_empty(), "seed {seed}: still {:?}", ids(&after));
        let dump = rt.block_on(emulator_state(emulator.base_url()));
        assert_eq!(duplicates(&dump), Vec::<String>::new(), "seed {seed}");
    }
    // A first apply can also stop part-way (a create whose outcome stayed unknown for all
    // its rounds): what it wrote is consistent and the next apply continued from it, as the
    // assertions above checked. The figures go to BENCHMARKS.md.
    eprintln!(
        "fault rate 0.5, 20 seeds: first apply converged {first_converged}, wrote nothing {first_nothing}, partial {} {first_partial:?}; applies needed to converge: {applies_needed:?}",
        first_partial.len()
    );
}

#[test]
fn the_invite_lifecycle_ends_in_an_empty_plan() {
    let live = Document {
        users: vec![User {
            email: email(0),
            role: OrgRole::Owner,
            roles: vec![].into(),
        }]
        .into(),
        ..Document::default()
    };
    let mut desired = live.clone();
    desired.users.push(User {
        email: "new@x.example".into(),
        role: OrgRole::Reader,
        roles: vec![].into(),
    });
    desired.groups.push(Group {
        name: "team".into(),
        members: vec!["new@x.example".into()].into(),
        roles: vec![].into(),
    });
    desired.projects.push(Project {
        name: "Search".into(),
        archived: false,
        residency: None,
        external_key_id: None,
        members: vec![ProjectMember {
            email: "new@x.example".into(),
            role: ProjectRole::Member,
            roles: vec![].into(),
        }]
        .into(),
        groups: vec![].into(),
        roles: vec![].into(),
        service_accounts: vec![].into(),
        rate_limits: BTreeMap::new(),
        certificates: vec![].into(),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let state = desired_state(dir.path(), &desired);
    let emulator = start(&live, EmulatorOptions::default());
    let client = test_client(&emulator);
    let rt = runtime();
    let (first, report) = rt.block_on(apply(&client, &state));
    assert!(report.all_succeeded(), "{:#?}", failures(&report));
    assert!(
        ids(&first).contains(&"invite:invite:invite:new@x.example".to_string()),
        "{:?}",
        ids(&first)
    );
    assert!(
        rt.block_on(plan_now(&client, &state)).is_empty(),
        "a matching pending invite satisfies the user; the group membership waits"
    );
    let accepted = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_emulator/invites/accept", emulator.base_url()))
            .json(&serde_json::json!({"email": "new@x.example"}))
            .send()
            .await
            .expect("accept")
            .status()
    });
    assert!(accepted.is_success());
    let deferred = rt.block_on(plan_now(&client, &state));
    assert_eq!(
        ids(&deferred),
        vec!["group_member:grant:group:team/member:new@x.example".to_string()],
        "after acceptance the deferred membership is planned (the project came with the invite)"
    );
    let (_, report) = rt.block_on(apply(&client, &state));
    assert!(report.all_succeeded(), "{:#?}", failures(&report));
    assert!(rt.block_on(plan_now(&client, &state)).is_empty());
}

/// A separately running `orgops emulator`, stopped on drop.
struct EmulatorProcess {
    child: std::process::Child,
    url: String,
}

const PROCESS_KEY: &str = "sk-admin-apply-test-key-000000";

impl EmulatorProcess {
    fn start(state: &Path, latency_ms: u64, seed: u64) -> EmulatorProcess {
        let state = state.to_string_lossy();
        let (seed, latency) = (seed.to_string(), latency_ms.to_string());
        let (child, url) = crate::support::cli::spawn_emulator(&[
            "--state",
            &state,
            "--admin-key",
            PROCESS_KEY,
            "--seed",
            &seed,
            "--latency-ms",
            &latency,
        ]);
        EmulatorProcess { child, url }
    }

    fn base(&self) -> String {
        self.url.trim_end_matches("/v1").to_string()
    }

    fn orgops(&self) -> assert_cmd::Command {
        let mut command = orgops();
        command
            .env("OPENAI_BASE_URL", &self.url)
            .env("OPENAI_ADMIN_KEY", PROCESS_KEY);
        command
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_apply_killed_at_a_random_point_and_run_again_converges_without_duplicates() {
    let rt = runtime();
    for seed in [7u64, 8, 9] {
        let (live, desired) = scenario(seed);
        let dir = tempfile::tempdir().expect("tempdir");
        let state = desired_state(dir.path(), &desired);
        let live_path = dir.path().join("live.yaml");
        std::fs::write(&live_path, yaml(&live)).expect("live");
        let desired_path = state.files[0].clone();
        let emulator = EmulatorProcess::start(&live_path, 40, seed);
        let kill_after = StdRng::seed_from_u64(seed).random_range(150..1200);
        let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
            .args(["apply", "--auto-approve", "--allow-removals", "-f"])
            .arg(&desired_path)
            .env("OPENAI_BASE_URL", &emulator.url)
            .env("OPENAI_ADMIN_KEY", PROCESS_KEY)
            .env("ORGOPS_NO_PROGRESS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("apply starts");
        std::thread::sleep(Duration::from_millis(kill_after));
        // SIGKILL: no chance to clean up.
        let _ = first.kill();
        let _ = first.wait();
        let second = run(emulator
            .orgops()
            .args(["apply", "--auto-approve", "--allow-removals", "-f"])
            .arg(&desired_path));
        assert_eq!(
            second.code, 0,
            "seed {seed}: {}\n{}",
            second.stdout, second.stderr
        );
        let check = run(emulator
            .orgops()
            .args(["plan", "--detailed-exitcode", "--allow-removals", "-f"])
            .arg(&desired_path));
        assert_eq!(
            check.code, 0,
            "seed {seed}: not converged:\n{}",
            check.stdout
        );
        let dump = rt.block_on(emulator_state(&emulator.base()));
        assert_eq!(duplicates(&dump), Vec::<String>::new(), "seed {seed}");
    }
}

/// A desired state with a new keyed service account (file sink) and a new admin key
/// (command sink), against a live state without them.
fn secrets_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let live = Document {
        users: vec![User {
            email: email(0),
            role: OrgRole::Owner,
            roles: vec![].into(),
        }]
        .into(),
        projects: vec![Project {
            name: "Search".into(),
            archived: false,
            residency: None,
            external_key_id: None,
            members: vec![].into(),
            groups: vec![].into(),
            roles: vec![].into(),
            service_accounts: vec![].into(),
            rate_limits: BTreeMap::new(),
            certificates: vec![].into(),
            ..Default::default()
        }]
        .into(),
        ..Document::default()
    };
    let mut desired = live.clone();
    desired.projects[0].service_accounts.push(ServiceAccount {
        name: "ci".into(),
        role: ProjectRole::Owner,
        sink: Some(Sink::File("keys/ci.key".into())),
        key_spend_limit: None,
    });
    desired.admin_api_keys.push(AdminApiKey {
        name: "deployer".into(),
        expires_in_days: None,
        sink: Some(Sink::Command(vec![
            "sh".into(),
            "-c".into(),
            "cat > admin.key; echo stored".into(),
        ])),
    });
    let live_path = dir.join("live.yaml");
    let desired_path = dir.join("orgops.yaml");
    std::fs::write(&live_path, yaml(&live)).expect("live");
    std::fs::write(&desired_path, yaml(&desired)).expect("desired");
    (live_path, desired_path)
}

#[test]
fn generated_keys_reach_only_their_sinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (live_path, desired_path) = secrets_fixture(dir.path());
    let saved = dir.path().join("plan.json");
    let report = dir.path().join("report.json");
    let plan = run(orgops()
        .arg("plan")
        .arg("-f")
        .arg(&desired_path)
        .arg("--emulator")
        .arg(&live_path)
        .arg("--out")
        .arg(&saved)
        .env("RUST_LOG", "trace"));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let apply = run(orgops()
        .arg("apply")
        .arg("-f")
        .arg(&desired_path)
        .arg("--emulator")
        .arg(&live_path)
        .arg("--plan")
        .arg(&saved)
        .arg("--report")
        .arg(&report)
        .env("RUST_LOG", "trace")
        .env_remove("ORGOPS_NO_PROGRESS"));
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let service_key = std::fs::read_to_string(dir.path().join("keys/ci.key")).expect("sa key");
    let admin_key = std::fs::read_to_string(dir.path().join("admin.key")).expect("admin key");
    assert!(service_key.len() > 10 && admin_key.starts_with("sk-admin"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys/ci.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let report_text = std::fs::read_to_string(&report).expect("report");
    let saved_text = std::fs::read_to_string(&saved).expect("saved plan");
    assert!(
        report_text.contains("keys/ci.key"),
        "the report says where the key went"
    );
    for canary in [&service_key, &admin_key] {
        for (place, text) in [
            ("plan stdout", &plan.stdout),
            ("plan stderr", &plan.stderr),
            ("apply stdout", &apply.stdout),
            ("apply stderr", &apply.stderr),
            ("report", &report_text),
            ("saved plan", &saved_text),
        ] {
            assert!(
                !text.contains(canary.as_str()),
                "a generated key leaked into the {place}"
            );
        }
    }
}

#[test]
fn a_sink_that_cannot_take_the_key_fails_the_change_before_anything_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (live_path, desired_path) = secrets_fixture(dir.path());
    let text = std::fs::read_to_string(&desired_path)
        .expect("desired")
        .replace("- sh", "- orgops-no-such-sink-program");
    std::fs::write(&desired_path, text).expect("rewrite");
    let apply = run(orgops()
        .arg("apply")
        .arg("--auto-approve")
        .arg("-f")
        .arg(&desired_path)
        .arg("--emulator")
        .arg(&live_path));
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert!(
        apply
            .stdout
            .contains("✗ create admin_api_key:deployer (failed): the sink command"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("1 failed"), "{}", apply.stdout);
}

#[test]
fn without_a_terminal_apply_needs_auto_approve_or_a_saved_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (live_path, desired_path) = secrets_fixture(dir.path());
    let refused = run(orgops()
        .arg("apply")
        .arg("-f")
        .arg(&desired_path)
        .arg("--emulator")
        .arg(&live_path));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("--auto-approve"),
        "{}",
        refused.stderr
    );
    assert!(
        !dir.path().join("keys/ci.key").exists(),
        "nothing was applied"
    );
}

/// `plan --out` then `apply --plan` after `change` exits 4 naming `reason`.
fn assert_stale(reason: &str, change: impl FnOnce(&Path, &Path, &Path) -> Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (live_path, desired_path) = secrets_fixture(dir.path());
    let saved = dir.path().join("plan.json");
    let made = run(orgops()
        .arg("plan")
        .arg("-f")
        .arg(&desired_path)
        .arg("--emulator")
        .arg(&live_path)
        .arg("--out")
        .arg(&saved));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let args = change(dir.path(), &live_path, &desired_path);
    let apply = run(orgops().args(["apply", "--plan"]).arg(&saved).args(&args));
    assert_eq!(
        apply.code, 4,
        "{reason}: {}\n{}",
        apply.stdout, apply.stderr
    );
    assert!(
        apply.stderr.contains(&format!("stale ({reason})")),
        "{}",
        apply.stderr
    );
    assert!(
        !dir.path().join("keys/ci.key").exists(),
        "nothing was applied"
    );
}

fn path_args(desired: &Path, live: &Path) -> Vec<String> {
    vec![
        "-f".into(),
        desired.display().to_string(),
        "--emulator".into(),
        live.display().to_string(),
    ]
}

#[test]
fn a_stale_saved_plan_exits_4_with_each_typed_reason() {
    assert_stale("desired-changed", |_, live, desired| {
        let text = std::fs::read_to_string(desired).expect("desired");
        std::fs::write(desired, text.replace("deployer", "deployer2")).expect("edit");
        path_args(desired, live)
    });
    assert_stale("other-org", |dir, live, desired| {
        let other = dir.join("other-live.yaml");
        std::fs::copy(live, &other).expect("copy");
        path_args(desired, &other)
    });
    assert_stale("version-mismatch", |dir, live, desired| {
        let saved = dir.join("plan.json");
        let text = std::fs::read_to_string(&saved).expect("saved");
        let text = text.replacen(
            &format!("\"orgops_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"orgops_version\": \"0.0.0-older\"",
            1,
        );
        // As the older orgops would have sealed it.
        std::fs::write(&saved, crate::support::cli::reseal(&text)).expect("edit");
        path_args(desired, live)
    });
    assert_stale("live-changed", |_, live, desired| {
        // The same state file (so the same organization) now has the account the plan
        // would create: the live facts of that change moved.
        let text = std::fs::read_to_string(live).expect("live");
        let mut doc: Document = serde_saphyr::from_str(&text).expect("live parses");
        doc.projects[0].service_accounts.push(ServiceAccount {
            name: "ci".into(),
            role: ProjectRole::Member,
            sink: None,
            key_spend_limit: None,
        });
        std::fs::write(live, yaml(&doc)).expect("edit");
        path_args(desired, live)
    });
}

/// A certificate whose file changed is a destructive `replace` (docs/configuration.md):
/// the plan says so, apply uploads the new content, activates it wherever the old one was
/// active (the organization, a declared project, and a project the file does not declare),
/// deletes the old one, and the next plan is empty. The live content is the new file's.
#[test]
fn a_changed_certificate_file_is_replaced_wherever_it_is_active() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("old.pem"), labelled_pem("old")).expect("pem");
    std::fs::write(dir.path().join("new.pem"), labelled_pem("new")).expect("pem");
    let seed = dir.path().join("live.yaml");
    std::fs::write(
        &seed,
        "version: 1\nusers:\n  - {email: root@x.example, role: owner}\n\
         certificates:\n  - {name: edge, file: old.pem, active: true}\n  - {name: other, file: old.pem}\n\
         projects:\n  - {name: Declared, certificates: [edge]}\n  - {name: Undeclared, certificates: [edge]}\n",
    )
    .expect("seed");
    let desired = dir.path().join("orgops.yaml");
    std::fs::write(
        &desired,
        "version: 1\nusers:\n  - {email: root@x.example, role: owner}\n\
         certificates:\n  - {name: edge, file: new.pem, active: true}\n  - {name: other, file: old.pem}\n\
         projects:\n  - {name: Declared, certificates: [edge]}\n",
    )
    .expect("desired");
    let (doc, pems) = emulator::seed::load_state_file(&seed).expect("seed loads");
    let emu = emulator::start_in_background(
        doc,
        EmulatorOptions {
            certificate_pems: pems,
            admin_keys: vec![("sk-admin-cert-test".to_string(), None)],
            ..EmulatorOptions::default()
        },
    )
    .expect("emulator starts");
    let command = |args: &[&str]| {
        let mut cmd = orgops();
        cmd.env("OPENAI_ADMIN_KEY", emu.admin_key())
            .env("OPENAI_BASE_URL", emu.url())
            .args(args)
            .arg("-f")
            .arg(&desired);
        cmd
    };
    let planned = run(&mut command(&[
        "plan",
        "--detailed-exitcode",
        "--format",
        "json",
    ]));
    assert_eq!(planned.code, 2, "{}{}", planned.stdout, planned.stderr);
    let plan: serde_json::Value = serde_json::from_str(&planned.stdout).expect("JSON plan");
    let changes = plan["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{plan:#}");
    assert_eq!(changes[0]["key"], "certificate:edge", "{plan:#}");
    assert_eq!(changes[0]["action"], "replace", "{plan:#}");
    assert_eq!(changes[0]["fields"][0]["field"], "content", "{plan:#}");
    assert_eq!(plan["summary"]["destructive"], 1, "{plan:#}");

    let applied = run(&mut command(&["apply", "--auto-approve"]));
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let again = run(&mut command(&["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(!again.stdout.contains("certificate:"), "{}", again.stdout);

    // The live organization: one `edge`, holding the new content, active where the old one was.
    let out = dir.path().join("export.yaml");
    let export = run(orgops()
        .env("OPENAI_ADMIN_KEY", emu.admin_key())
        .env("OPENAI_BASE_URL", emu.url())
        .args(["export", "-o"])
        .arg(&out));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let exported: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&out).expect("export")).expect("YAML");
    let edge: Vec<&serde_json::Value> = exported["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter(|c| c["name"] == "edge")
        .collect();
    assert_eq!(edge.len(), 1, "{exported:#}");
    assert_eq!(edge[0]["active"], true, "{exported:#}");
    let file = edge[0]["file"].as_str().expect("file");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(file))
            .expect("PEM")
            .trim_end(),
        labelled_pem("new").trim_end()
    );
    for project in exported["projects"].as_array().expect("projects") {
        let name = project["name"].as_str().expect("name");
        if name == "Declared" || name == "Undeclared" {
            assert_eq!(
                project["certificates"],
                serde_json::json!(["edge"]),
                "{name}"
            );
        }
    }
}
