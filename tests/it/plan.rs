//! `orgops plan` and `orgops export` end to end: the binary against the emulator over HTTP.
//! Snapshots of all three renderings, every verb, every safety gate, determinism, the
//! export round trip, and the request count a plan may make.

use crate::support::Fields;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::cli::{
    QUICKSTART, QUICKSTART_LIVE, orgops, orgops_run, run, save_quickstart_plan,
};

fn plan_quickstart(format: &str) -> crate::support::cli::Run {
    orgops_run(&[
        "plan",
        "-f",
        QUICKSTART,
        "--emulator",
        QUICKSTART_LIVE,
        "--format",
        format,
    ])
}

#[test]
fn the_main_job_plans_every_verb_in_three_renderings() {
    let text = plan_quickstart("text");
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("quickstart_plan_text", text.stdout);
    let markdown = plan_quickstart("markdown");
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    insta::assert_snapshot!("quickstart_plan_markdown", markdown.stdout);
    let json = plan_quickstart("json");
    assert_eq!(json.code, 0, "{}", json.stderr);
    insta::assert_snapshot!("quickstart_plan_json", json.stdout);

    // Every honest verb the quickstart is built to show is there.
    let plan: Value = serde_json::from_str(&json.stdout).expect("JSON plan");
    let actions: BTreeSet<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    for verb in [
        "create", "update", "invite", "reinvite", "grant", "revoke", "delete", "archive",
        "activate", "adopt",
    ] {
        assert!(actions.contains(verb), "no `{verb}` in {actions:?}");
    }
    let unmanaged: Vec<&str> = plan["unmanaged"]
        .as_array()
        .expect("unmanaged")
        .iter()
        .filter_map(|u| u["key"].as_str())
        .collect();
    assert!(
        unmanaged.contains(&"user:eve@acme.example"),
        "{unmanaged:?}"
    );
    assert!(
        unmanaged.contains(&"project:Marketing Experiments"),
        "{unmanaged:?}"
    );
}

#[test]
fn detailed_exitcode_says_whether_there_are_changes() {
    let changes = orgops_run(&[
        "plan",
        "-f",
        QUICKSTART,
        "--emulator",
        QUICKSTART_LIVE,
        "--detailed-exitcode",
    ]);
    assert_eq!(changes.code, 2, "{}", changes.stderr);
    let none = orgops_run(&[
        "plan",
        "-f",
        QUICKSTART,
        "--emulator",
        QUICKSTART,
        "--detailed-exitcode",
    ]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(none.stdout.contains("No changes"), "{}", none.stdout);
}

#[test]
fn project_group_roles_are_read_back_as_declared() {
    let file = "tests/fixtures/plan/project-groups.yaml";
    let plan = orgops_run(&[
        "plan",
        "-f",
        file,
        "--emulator",
        file,
        "--detailed-exitcode",
    ]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

#[test]
fn the_same_inputs_give_byte_identical_plans() {
    for format in ["text", "markdown", "json"] {
        let first = plan_quickstart(format);
        let second = plan_quickstart(format);
        assert_eq!(first.stdout, second.stdout, "{format} differs between runs");
    }
}

/// Each gate refuses with exit 3, naming its rule and how to override it.
#[test]
fn every_safety_gate_refuses_with_exit_3() {
    let live = "tests/fixtures/plan/gates-live.yaml";
    for (file, rule, hint) in [
        ("max-removals", "[max_removals]", "--allow-removals"),
        ("protect", "[protect]", "policy.protect"),
        ("key-owner", "[key_owner]", "admin key"),
    ] {
        let path = format!("tests/fixtures/plan/{file}.yaml");
        let refused = orgops_run(&["plan", "-f", &path, "--emulator", live]);
        assert_eq!(
            refused.code, 3,
            "{file}: {}{}",
            refused.stdout, refused.stderr
        );
        assert!(refused.stdout.contains(rule), "{file}: {}", refused.stdout);
        assert!(refused.stdout.contains(hint), "{file}: {}", refused.stdout);
        assert!(
            refused.stderr.contains("refused"),
            "{file}: {}",
            refused.stderr
        );
    }
    // The override lifts only the removal gate.
    let allowed = orgops_run(&[
        "plan",
        "-f",
        "tests/fixtures/plan/max-removals.yaml",
        "--emulator",
        live,
        "--allow-removals",
        "--detailed-exitcode",
    ]);
    assert_eq!(allowed.code, 2, "{}{}", allowed.stdout, allowed.stderr);
    let raised = orgops_run(&[
        "plan",
        "-f",
        "tests/fixtures/plan/max-removals.yaml",
        "--emulator",
        live,
        "--max-removals",
        "3",
    ]);
    assert_eq!(raised.code, 0, "{}{}", raised.stdout, raised.stderr);
}

#[test]
fn a_refused_plan_is_not_saved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("plan.json");
    let refused = run(orgops()
        .args([
            "plan",
            "-f",
            "tests/fixtures/plan/key-owner.yaml",
            "--emulator",
            "tests/fixtures/plan/gates-live.yaml",
            "--out",
        ])
        .arg(&out));
    assert_eq!(refused.code, 3);
    assert!(!out.exists(), "a refused plan must not be saved");
}

#[test]
fn a_saved_plan_carries_fingerprints_and_no_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = save_quickstart_plan(dir.path());
    let text = std::fs::read_to_string(&out).expect("saved plan written");
    let plan: Value = serde_json::from_str(&text).expect("saved plan is JSON");
    assert!(
        plan["desired_fingerprint"]
            .as_str()
            .is_some_and(|f| f.len() == 64),
        "{plan:#}"
    );
    assert!(!plan["changes"].as_array().expect("changes").is_empty());
    // Sinks name where secrets go; the plan file must not even name them.
    assert!(!text.contains("vault"), "sink leaked into the saved plan");
    // The plan creates two objects whose declared sinks would receive a one-time key (the
    // service account `notebook` and the admin key `orgops-ci`): the changes are there, the
    // places their keys go to are not.
    assert!(
        text.contains("project:Research/service_account:notebook"),
        "{text}"
    );
    assert!(text.contains("admin_api_key:orgops-ci"), "{text}");
    for sink in ["research-notebook.key", "orgops-ci.admin-key", "secrets/"] {
        assert!(
            !text.contains(sink),
            "sink {sink} leaked into the saved plan"
        );
    }
    assert!(
        !text.contains("sk-admin"),
        "a key leaked into the saved plan"
    );
}

#[test]
fn an_invalid_file_gets_located_errors_and_exit_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "version: 1\nusers:\n  - email: a@x.example\n    role: admin\n",
    )
    .expect("fixture written");
    let failed = run(orgops()
        .args(["plan", "--emulator", QUICKSTART_LIVE, "-f"])
        .arg(&file));
    assert_eq!(failed.code, 1);
    assert!(failed.stderr.contains("bad.yaml:4:"), "{}", failed.stderr);
}

#[test]
fn without_a_key_plan_says_how_to_get_one() {
    let failed = orgops_run(&["plan", "-f", QUICKSTART]);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.contains("OPENAI_ADMIN_KEY"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("--emulator"), "{}", failed.stderr);
}

/// `export` of an org, then `plan` of that export against the same org: nothing to do.
fn assert_round_trip(state: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let exported = dir.path().join("orgops.yaml");
    let export = run(orgops()
        .args(["export", "--emulator", state, "-o"])
        .arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let validate = run(orgops().arg("validate").arg("-f").arg(&exported));
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let plan = run(orgops()
        .args(["plan", "--detailed-exitcode", "--emulator", state, "-f"])
        .arg(&exported));
    assert_eq!(plan.code, 0, "{state}: {}{}", plan.stdout, plan.stderr);
    // Export is stable: a second export is byte-identical.
    let again = run(orgops().args(["export", "--emulator", state]));
    let text = std::fs::read_to_string(&exported).expect("export written");
    assert_eq!(again.stdout, text, "export is not stable");
}

#[test]
fn export_round_trips_on_the_examples() {
    assert_round_trip(QUICKSTART_LIVE);
    assert_round_trip(QUICKSTART);
    assert_round_trip("examples/enterprise");
}

/// A generated org served by the library emulator, reached through the environment as a
/// user would reach the real API.
pub(crate) struct Generated {
    emulator: orgops::emulator::RunningEmulator,
}

impl Generated {
    pub(crate) fn start(spec: &str) -> Generated {
        let spec = spec.parse().expect("generate spec");
        let org = orgops::emulator::generate::generate(spec, 7);
        let emulator = orgops::emulator::start_state_in_background(
            org,
            vec![("sk-admin-plan-tests".to_string(), None)],
            orgops::emulator::EmulatorOptions::default(),
        )
        .expect("emulator starts");
        Generated { emulator }
    }

    pub(crate) fn orgops(&self) -> assert_cmd::Command {
        let mut command = orgops();
        command
            .env("OPENAI_BASE_URL", self.emulator.url())
            .env("OPENAI_ADMIN_KEY", self.emulator.admin_key());
        command
    }

    /// Configures settings as an admin would: a spend limit for the organization, and model
    /// permissions, a spend limit and hosted tools in two of the projects.
    fn configure_settings(&self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a test runtime");
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let send = |method: reqwest::Method, path: String, body: Value| {
                client
                    .request(method, format!("{}{path}", self.emulator.url()))
                    .bearer_auth(self.emulator.admin_key())
                    .json(&body)
                    .send()
            };
            let ok = |r: reqwest::Response| {
                assert!(r.status().is_success(), "{}", r.status());
                r
            };
            let projects: Value = ok(send(
                reqwest::Method::GET,
                "/organization/projects?limit=100".into(),
                Value::Null,
            )
            .await
            .expect("projects"))
            .json()
            .await
            .expect("JSON");
            ok(send(
                reqwest::Method::POST,
                "/organization/spend_limit".into(),
                serde_json::json!({"threshold_amount": 100000, "currency": "USD", "interval": "month"}),
            )
            .await
            .expect("org spend limit"));
            let ids: Vec<String> = projects["data"]
                .as_array()
                .expect("data")
                .iter()
                .filter(|p| p["name"] != "Default project")
                .take(2)
                .filter_map(|p| p["id"].as_str().map(str::to_string))
                .collect();
            for id in ids {
                for (path, body) in [
                    ("model_permissions", serde_json::json!({"mode": "allow_list", "model_ids": ["gpt-4o"]})),
                    ("spend_limit", serde_json::json!({"threshold_amount": 500, "currency": "USD", "interval": "month"})),
                    ("hosted_tool_permissions", serde_json::json!({"mcp": {"enabled": false}})),
                ] {
                    ok(send(
                        reqwest::Method::POST,
                        format!("/organization/projects/{id}/{path}"),
                        body,
                    )
                    .await
                    .expect("settings write"));
                }
            }
        });
    }

    /// Calls the emulator's control plane (`/_emulator/PATH`) and returns its JSON answer.
    pub(crate) fn control(&self, method: reqwest::Method, path: &str) -> Value {
        crate::support::control::call(self.emulator.base_url(), method, path, None)
    }
}

/// More than one page of projects (100 per page), users and group members: every page's
/// projects must be read down to their members, or the plan would not be empty.
#[test]
fn export_round_trips_on_a_generated_org() {
    let org = Generated::start(
        "users=300,projects=130,project_members=40,groups=5,group_members=60,service_accounts=3",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let exported = dir.path().join("orgops.yaml");
    let export = run(org.orgops().args(["export", "-o"]).arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let plan = run(org
        .orgops()
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&exported));
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

/// `orgops export | head -1`: the reader goes away after one line; orgops must end quietly,
/// not panic on the broken pipe.
#[test]
fn a_closed_stdout_pipe_ends_export_quietly() {
    use std::io::{BufRead, BufReader};
    let org = Generated::start("users=3000,projects=5,project_members=20");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
        .arg("export")
        .env("OPENAI_BASE_URL", org.emulator.url())
        .env("OPENAI_ADMIN_KEY", org.emulator.admin_key())
        .env("ORGOPS_NO_PROGRESS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("orgops starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a first line");
    assert!(first.starts_with('#'), "{first}");
    // The reader is dropped here, closing the pipe with well over a pipe buffer unwritten.
    let output = child.wait_with_output().expect("orgops ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

/// The plan lists each collection it needs exactly once at the largest page size: the
/// request count per route equals the minimum the page sizes imply, not one more.
#[test]
fn a_plan_makes_exactly_the_minimum_requests() {
    let org = Generated::start(
        "users=250,projects=4,project_members=130,groups=3,group_members=120,service_accounts=2",
    );
    // Settings configured in some places, so the export manages them there only.
    org.configure_settings();
    let dir = tempfile::tempdir().expect("temp dir");
    let exported = dir.path().join("orgops.yaml");
    assert_eq!(
        run(org.orgops().args(["export", "-o"]).arg(&exported)).code,
        0
    );
    let doc: orgops::model::Document =
        serde_saphyr::from_str(&std::fs::read_to_string(&exported).expect("export"))
            .expect("export parses");

    org.control(reqwest::Method::POST, "stats/reset");
    let plan = run(org.orgops().args(["plan", "-f"]).arg(&exported));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let stats = org.control(reqwest::Method::GET, "stats");
    let actual: BTreeMap<String, u64> =
        serde_json::from_value(stats["by_route"].clone()).expect("by_route");

    // The minimum, from what the org holds (the export is the whole org).
    let projects = doc.projects.iter().filter(|p| !p.archived);
    let mut expected = BTreeMap::new();
    expected.insert(
        "GET /organization/users".to_string(),
        pages(doc.users.len(), 100),
    );
    expected.insert("GET /organization/invites".to_string(), 1);
    expected.insert(
        "GET /organization/projects".to_string(),
        pages(doc.projects.len(), 100),
    );
    expected.insert(
        "GET /organization/groups".to_string(),
        pages(doc.groups.len(), 1000),
    );
    expected.insert(
        "GET /organization/groups/{group_id}/users".to_string(),
        doc.groups
            .iter()
            .map(|g| pages(g.members.len(), 1000))
            .sum(),
    );
    expected.insert("GET /organization/admin_api_keys".to_string(), 1);
    // The export writes every list it read (so the file manages what it saw), except the
    // role-assignment and certificate-activation lists where no custom role or certificate
    // exists: certificates, project roles and project groups are listed once each.
    expected.insert("GET /organization/certificates".to_string(), 1);
    let active = doc.projects.iter().filter(|p| !p.archived).count() as u64;
    expected.insert("GET /projects/{project_id}/roles".to_string(), active);
    expected.insert(
        "GET /organization/projects/{project_id}/groups".to_string(),
        active,
    );
    let (mut members, mut accounts, mut limits) = (0, 0, 0);
    for project in projects {
        members += pages(project.members.len(), 100);
        accounts += pages(project.service_accounts.len(), 100);
        // Rate limits are read only for projects whose file writes some (export leaves
        // out the values most projects share).
        limits += u64::from(!project.rate_limits.is_empty());
    }
    expected.insert(
        "GET /organization/projects/{project_id}/users".to_string(),
        members,
    );
    expected.insert(
        "GET /organization/projects/{project_id}/service_accounts".to_string(),
        accounts,
    );
    if limits > 0 {
        expected.insert(
            "GET /organization/projects/{project_id}/rate_limits".to_string(),
            limits,
        );
    }
    // Settings kinds: one GET per setting the export declares (the organization's data
    // retention always), none where the file leaves them out.
    let mut settings = |route: &str, count: u64| {
        if count > 0 {
            expected.insert(format!("GET {route}"), count);
        }
    };
    settings(
        "/organization/data_retention",
        u64::from(doc.settings.fields.contains_key("data_retention")),
    );
    settings(
        "/organization/spend_limit",
        u64::from(doc.settings.fields.contains_key("spend_limit")),
    );
    let active = || doc.projects.iter().filter(|p| !p.archived);
    settings(
        "/organization/projects/{project_id}/data_retention",
        active()
            .filter(|p| p.fields.contains_key("data_retention"))
            .count() as u64,
    );
    settings(
        "/organization/projects/{project_id}/spend_limit",
        active()
            .filter(|p| p.fields.contains_key("spend_limit"))
            .count() as u64,
    );
    settings(
        "/organization/projects/{project_id}/model_permissions",
        active()
            .filter(|p| p.fields.contains_key("model_permissions"))
            .count() as u64,
    );
    settings(
        "/organization/projects/{project_id}/hosted_tool_permissions",
        active()
            .filter(|p| p.fields.contains_key("hosted_tools"))
            .count() as u64,
    );
    settings(
        "/organization/projects/{project_id}/api_keys",
        active()
            .map(|p| {
                let api_keys = p.list::<String>("api_keys");
                if api_keys.is_managed() {
                    pages(api_keys.len(), 100)
                } else {
                    0
                }
            })
            .sum(),
    );
    assert_eq!(
        actual, expected,
        "requests per route differ from the minimum"
    );
}
