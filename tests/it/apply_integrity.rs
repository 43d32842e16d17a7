//! Issue 13 ("what is reviewed is what runs"), against a separately running emulator over
//! HTTP with the real binary: a saved plan is an approval, not a script (every tampering is
//! refused with zero writes); one apply at a time per organization, and live duplicates of a
//! natural key are shown; a key nobody holds is never left behind as "in sync".

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::cli::{Run, orgops, run};

const KEY: &str = "sk-admin-integrity-test-key-0000";

/// A separately running `orgops emulator`, stopped on drop.
struct Emulator {
    child: std::process::Child,
    url: String,
}

impl Emulator {
    fn start(state: &Path, latency_ms: u64) -> Emulator {
        let state = state.to_string_lossy();
        let latency = latency_ms.to_string();
        let (child, url) = crate::support::cli::spawn_emulator(&[
            "--state",
            &state,
            "--admin-key",
            KEY,
            "--latency-ms",
            &latency,
        ]);
        Emulator { child, url }
    }

    fn base(&self) -> String {
        self.url.trim_end_matches("/v1").to_string()
    }

    /// `orgops` pointed at this emulator, with its own lock directory under `dir`.
    fn orgops(&self, dir: &Path) -> assert_cmd::Command {
        let mut command = orgops();
        command
            .env("OPENAI_BASE_URL", &self.url)
            .env("OPENAI_ADMIN_KEY", KEY)
            .env("ORGOPS_LOCK_DIR", dir.join("locks"));
        command
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        crate::support::control::call(&self.base(), method, path, body)
    }

    /// A request to the Admin API itself, as another client would make it.
    fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.url);
        block_on(async move {
            let mut request = reqwest::Client::new().request(method, url).bearer_auth(KEY);
            if !body.is_null() {
                request = request.json(&body);
            }
            request
                .send()
                .await
                .expect("the API answers")
                .json()
                .await
                .expect("the API answers JSON")
        })
    }

    fn reset_stats(&self) {
        self.control(reqwest::Method::POST, "/stats/reset", None);
    }

    /// Requests other than GET since the last reset, by route.
    fn writes(&self) -> Vec<String> {
        let stats = self.control(reqwest::Method::GET, "/stats", None);
        stats["by_route"]
            .as_object()
            .expect("by_route")
            .iter()
            .filter(|(route, _)| !route.starts_with("GET "))
            .map(|(route, n)| format!("{route} x{n}"))
            .collect()
    }

    /// The emulator's state, as YAML text.
    fn state(&self) -> String {
        let url = format!("{}/_emulator/state", self.base());
        block_on(async move {
            reqwest::get(url)
                .await
                .expect("state")
                .text()
                .await
                .expect("state body")
        })
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LIVE: &str = r#"version: 1
users:
  - email: root@acme.example
    role: owner
  - email: alice@acme.example
    role: owner
  - email: bob@acme.example
    role: reader
projects:
  - name: Production
    rate_limits:
      gpt-4o:
        max_requests_per_1_minute: 300
  - name: Legacy Chatbot
"#;

const DESIRED: &str = r#"version: 1
policy:
  protect:
    users: [root@acme.example]
    projects: [Production]
  min_owners: 2
  max_removals: MAX_REMOVALS
users:
  - email: root@acme.example
    role: owner
  - email: alice@acme.example
    role: owner
  - email: bob@acme.example
    role: reader
  - email: carol@acme.example
    role: reader
projects:
  - name: Production
    rate_limits:
      gpt-4o:
        max_requests_per_1_minute: 500
  - name: Legacy Chatbot
    archived: true
"#;

/// An emulator on `LIVE`, the desired file, and a saved plan of its three changes (invite
/// carol, raise a rate limit, archive Legacy Chatbot), made with `plan_args`.
fn saved_plan_fixture(
    dir: &Path,
    max_removals: u32,
    plan_args: &[&str],
) -> (Emulator, PathBuf, PathBuf) {
    let live = dir.join("live.yaml");
    std::fs::write(&live, LIVE).expect("live");
    let desired = dir.join("orgops.yaml");
    std::fs::write(
        &desired,
        DESIRED.replace("MAX_REMOVALS", &max_removals.to_string()),
    )
    .expect("desired");
    let emulator = Emulator::start(&live, 0);
    let saved = dir.join("plan.json");
    let made = run(emulator
        .orgops(dir)
        .args(["plan", "-f"])
        .arg(&desired)
        .args(plan_args)
        .arg("--out")
        .arg(&saved));
    assert_eq!(made.code, 0, "{}\n{}", made.stdout, made.stderr);
    emulator.reset_stats();
    (emulator, desired, saved)
}

fn apply_saved(emulator: &Emulator, dir: &Path, desired: &Path, saved: &Path) -> Run {
    run(emulator
        .orgops(dir)
        .args(["apply", "-f"])
        .arg(desired)
        .arg("--plan")
        .arg(saved))
}

/// The change of `kind` in a saved plan.
fn change_of<'a>(plan: &'a mut Value, kind: &str) -> &'a mut Value {
    plan["changes"]
        .as_array_mut()
        .expect("changes")
        .iter_mut()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("the fixture plans a {kind} change"))
}

fn zero_numbers(value: &mut Value) {
    match value {
        Value::Number(_) => *value = Value::from(0),
        Value::Array(items) => items.iter_mut().for_each(zero_numbers),
        Value::Object(map) => map.values_mut().for_each(zero_numbers),
        _ => {}
    }
}

/// Edits the saved plan with `edit`, re-seals it (so its fingerprint does not give the edit
/// away), applies it, and asserts exit `code`, `expect` in stderr and not one write.
fn assert_tampering_refused(what: &str, code: i32, expect: &str, edit: impl FnOnce(&mut Value)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, desired, saved) = saved_plan_fixture(dir.path(), 10, &[]);
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("JSON");
    edit(&mut plan);
    let edited = serde_json::to_string_pretty(&plan).expect("JSON");
    std::fs::write(&saved, crate::support::cli::reseal(&edited)).expect("write");
    let apply = apply_saved(&emulator, dir.path(), &desired, &saved);
    let writes = emulator.writes();
    assert!(
        apply.code == code && writes.is_empty() && apply.stderr.contains(expect),
        "{what}: expected exit {code} naming {expect:?} and no write; got exit {} with writes {writes:?}\nstdout:\n{}\nstderr:\n{}",
        apply.code,
        apply.stdout,
        apply.stderr
    );
}

#[test]
fn an_edited_operation_in_a_saved_plan_is_refused_with_exit_4_and_zero_writes() {
    assert_tampering_refused(
        "archive the protected project",
        4,
        "project:Legacy Chatbot",
        |plan| {
            change_of(plan, "project")["op"]["name"] = Value::from("Production");
        },
    );
    assert_tampering_refused("demote an owner", 4, "carol@acme.example", |plan| {
        change_of(plan, "invite")["op"] = serde_json::json!({
            "type": "update_user_role", "email": "alice@acme.example", "role": "reader"
        });
    });
    assert_tampering_refused("invite an outsider as owner", 4, "changes-differ", |plan| {
        let op = &mut change_of(plan, "invite")["op"];
        op["email"] = Value::from("mallory@evil.example");
        op["role"] = Value::from("owner");
    });
    assert_tampering_refused("zero a rate limit", 4, "rate_limit", |plan| {
        zero_numbers(&mut change_of(plan, "rate_limit")["op"]);
    });
    // Issue 21 item 11: how a change reads is compared too, so a re-sealed file cannot show
    // the raise as something else and still be applied.
    assert_tampering_refused("show the raise as a no-op", 4, "changes-differ", |plan| {
        let field = &mut change_of(plan, "rate_limit")["fields"][0];
        field["after"] = field["before"].clone();
    });
}

#[test]
fn a_saved_plan_with_a_broken_structure_is_refused_with_exit_1_and_zero_writes() {
    assert_tampering_refused("duplicate ids", 1, "same id", |plan| {
        let changes = plan["changes"].as_array_mut().expect("changes");
        let first = changes[0].clone();
        changes.push(first);
    });
    assert_tampering_refused("a dependency cycle", 1, "cycle", |plan| {
        let changes = plan["changes"].as_array_mut().expect("changes");
        let (a, b) = (changes[0]["id"].clone(), changes[1]["id"].clone());
        changes[0]["depends_on"] = Value::Array(vec![b]);
        changes[1]["depends_on"] = Value::Array(vec![a]);
    });
    assert_tampering_refused("a dependency on no change", 1, "not in the plan", |plan| {
        plan["changes"][0]["depends_on"] = serde_json::json!(["project:create:Nowhere"]);
    });
    assert_tampering_refused("an unknown format version", 1, "format version 3", |plan| {
        plan["format_version"] = Value::from(3);
    });
}

#[test]
fn an_untampered_saved_plan_applies_and_the_gates_are_rechecked_with_the_apply_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    // max_removals 0: the archive needs --allow-removals, at plan time and at apply time.
    let (emulator, desired, saved) = saved_plan_fixture(dir.path(), 0, &["--allow-removals"]);
    let refused = apply_saved(&emulator, dir.path(), &desired, &saved);
    assert_eq!(
        (refused.code, emulator.writes()),
        (3, vec![]),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stderr.contains("max_removals"),
        "{}",
        refused.stderr
    );
    let applied = run(emulator
        .orgops(dir.path())
        .args(["apply", "--allow-removals", "-f"])
        .arg(&desired)
        .arg("--plan")
        .arg(&saved));
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert!(!emulator.writes().is_empty());
    let state = emulator.state();
    assert!(state.contains("carol@acme.example"), "{state}");
    let check = run(emulator
        .orgops(dir.path())
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&desired));
    assert_eq!(check.code, 0, "{}", check.stdout);
}

/// A desired state whose admin key and service account go to command sinks that fail.
const FAILING_SINKS: &str = r#"version: 1
users:
  - email: root@acme.example
    role: owner
admin_api_keys:
  - name: deployer
    sink: { command: [sh, -c, "cat > /dev/null; exit 1"] }
projects:
  - name: Search
    service_accounts:
      - name: ci
        role: owner
        sink: { command: [sh, -c, "cat > /dev/null; exit 1"] }
"#;

#[test]
fn a_key_whose_sink_fails_is_not_left_behind_and_the_next_plan_is_not_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        "version: 1\nusers:\n  - email: root@acme.example\n    role: owner\nprojects:\n  - name: Search\n",
    )
    .expect("live");
    let desired = dir.path().join("orgops.yaml");
    std::fs::write(&desired, FAILING_SINKS).expect("desired");
    let emulator = Emulator::start(&live, 0);
    let apply = run(emulator
        .orgops(dir.path())
        .args(["apply", "--auto-approve", "-f"])
        .arg(&desired));
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    let next = run(emulator
        .orgops(dir.path())
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&desired));
    assert_eq!(
        next.code, 2,
        "the keys nobody holds must be planned again, not reported as in sync:\n{}\n{}",
        next.stdout, next.stderr
    );
    assert!(
        next.stdout.contains("admin_api_key:deployer")
            && next.stdout.contains("project:Search/service_account:ci"),
        "{}",
        next.stdout
    );
    let state = emulator.state();
    assert!(
        !state.contains("deployer") && !state.contains("name: ci"),
        "{state}"
    );
}

/// A command sink is a program of the file's author: it gets the key on standard input and
/// nothing else of orgops's, so the admin key and the GitHub token in the environment of the
/// apply never reach it (a sink that logs or forwards its environment would leak them).
#[test]
fn a_command_sink_does_not_inherit_the_admin_key_or_the_github_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = one_owner_live(dir.path());
    let env_file = dir.path().join("sink-env.txt");
    let script = format!("cat > /dev/null; env > {}", env_file.display());
    let desired = admin_key_sink_desired(dir.path(), &script);
    let emulator = Emulator::start(&live, 0);
    let apply = run(emulator
        .orgops(dir.path())
        .env("GITHUB_TOKEN", "ghs-sink-must-not-see-this")
        .env("ORGOPS_SINK_TEST_MARKER", "inherited")
        .args(["apply", "--auto-approve", "-f"])
        .arg(&desired));
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let env = std::fs::read_to_string(&env_file).expect("the sink ran and wrote its environment");
    // The rest of the environment is inherited (PATH, the user's own variables).
    assert!(env.contains("ORGOPS_SINK_TEST_MARKER=inherited"), "{env}");
    let leaked: Vec<&str> = env
        .lines()
        .filter(|l| {
            l.starts_with("OPENAI_ADMIN_KEY=")
                || l.starts_with("GITHUB_TOKEN=")
                || l.contains(KEY)
                || l.contains("ghs-sink-must-not-see-this")
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "the sink command received these in its environment: {leaked:?}"
    );
}

/// A live organization of one owner, written in `dir`.
fn one_owner_live(dir: &Path) -> PathBuf {
    let live = dir.join("live.yaml");
    std::fs::write(
        &live,
        "version: 1\nusers:\n  - email: root@acme.example\n    role: owner\n",
    )
    .expect("live");
    live
}

/// A desired state (in `dir`) of that owner and one admin key whose sink runs `sh -c script`.
fn admin_key_sink_desired(dir: &Path, script: &str) -> PathBuf {
    let desired = dir.join("orgops.yaml");
    let doc = serde_json::json!({
        "version": 1,
        "users": [{"email": "root@acme.example", "role": "owner"}],
        "admin_api_keys": [{"name": "orgops-ci", "sink": {"command": ["sh", "-c", script]}}],
    });
    std::fs::write(&desired, serde_json::to_string(&doc).expect("JSON")).expect("desired");
    desired
}

/// A desired state with one admin key whose command sink writes `key` in `dir` and then
/// waits until `dir/go` exists (so the apply holding the lock can be held there).
fn admin_key_desired(dir: &Path) -> PathBuf {
    let script = format!(
        "cat > {key}; touch {started}; while [ ! -e {go} ]; do sleep 0.05; done",
        key = dir.join("orgops-ci.key").display(),
        started = dir.join("started").display(),
        go = dir.join("go").display(),
    );
    admin_key_sink_desired(dir, &script)
}

#[test]
fn a_second_apply_against_the_same_organization_exits_1_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = one_owner_live(dir.path());
    let desired = admin_key_desired(dir.path());
    let emulator = Emulator::start(&live, 0);
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
        .args(["apply", "--auto-approve", "-f"])
        .arg(&desired)
        .env("NO_COLOR", "1")
        .env("ORGOPS_NO_PROGRESS", "1")
        .env("OPENAI_BASE_URL", &emulator.url)
        .env("OPENAI_ADMIN_KEY", KEY)
        .env_remove("OPENAI_ORG_ID")
        .env("ORGOPS_LOCK_DIR", dir.path().join("locks"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("first apply starts");
    // The first apply is now inside its sink, holding the organization: wait for it (no
    // timing assumption: the sink itself says when it got there).
    while !dir.path().join("started").exists() {
        if let Ok(Some(status)) = first.try_wait() {
            panic!("the first apply ended before its sink ran: {status}");
        }
        std::thread::yield_now();
    }
    let second = run(emulator
        .orgops(dir.path())
        .args(["apply", "--auto-approve", "-f"])
        .arg(&desired));
    std::fs::write(dir.path().join("go"), "").expect("release the sink");
    let first = first.wait_with_output().expect("first apply ends");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("another orgops apply") && second.stderr.contains("pid "),
        "the second apply names the holder: {}",
        second.stderr
    );
    let state = emulator.state();
    assert_eq!(state.matches("orgops-ci").count(), 1, "{state}");
}

/// Two admin keys of one name (what two racing applies used to leave behind) are a finding of
/// the plan, not silently one of them. (Projects: the two tests after this one; service
/// accounts are unit-tested in `live::normalize` and `plan::tests`.)
#[test]
fn live_duplicate_admin_keys_are_a_finding_of_the_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = one_owner_live(dir.path());
    let emulator = Emulator::start(&live, 0);
    // Another client (a second CI job, a person) made the same key twice.
    for _ in 0..2 {
        let created = emulator.api(
            reqwest::Method::POST,
            "/organization/admin_api_keys",
            serde_json::json!({"name": "orgops-ci"}),
        );
        assert!(created["id"].is_string(), "{created}");
    }
    let desired = dir.path().join("orgops.yaml");
    std::fs::write(
        &desired,
        "version: 1\nusers:\n  - email: root@acme.example\n    role: owner\nadmin_api_keys:\n  - name: orgops-ci\n",
    )
    .expect("desired");
    let plan = run(emulator
        .orgops(dir.path())
        .args(["plan", "--format", "json", "-f"])
        .arg(&desired));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json: Value = serde_json::from_str(&plan.stdout).expect("JSON plan");
    let findings: Vec<&Value> = json["unmanaged"]
        .as_array()
        .expect("unmanaged")
        .iter()
        .filter(|u| u["object"]["duplicate_of"].is_string())
        .collect();
    assert!(
        findings.len() == 1
            && findings[0]["key"]
                .as_str()
                .is_some_and(|k| k.starts_with("admin_api_key:orgops-ci (duplicate ")),
        "the extra key is not shown as a duplicate: {findings:?}\n{}",
        plan.stdout
    );
    let text = run(emulator
        .orgops(dir.path())
        .args(["plan", "-f"])
        .arg(&desired));
    assert!(
        text.stdout.contains("admin_api_key:orgops-ci (duplicate "),
        "{}",
        text.stdout
    );
    // Under `remove`, the plan deletes exactly the extra key, and then there is one.
    std::fs::write(
        &desired,
        "version: 1\npolicy:\n  unmanaged:\n    admin_api_keys: remove\nusers:\n  - email: root@acme.example\n    role: owner\nadmin_api_keys:\n  - name: orgops-ci\n  - name: orgops emulator key\n",
    )
    .expect("desired");
    let apply = run(emulator
        .orgops(dir.path())
        .args(["apply", "--auto-approve", "-f"])
        .arg(&desired));
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let state = emulator.state();
    assert_eq!(state.matches("orgops-ci").count(), 1, "{state}");
}

/// The projects named `name` in the emulator's state dump (active and archived).
fn projects_named(state: &str, name: &str) -> usize {
    state
        .lines()
        .filter(|l| l.trim_start().trim_start_matches("- ") == format!("name: {name}"))
        .count()
}

/// Issue 22: two live projects of one name (nothing says the API refuses it, and now the
/// emulator does not either) are a finding of the plan, in text and JSON; under
/// `policy.unmanaged.projects: archive` exactly the younger one is archived.
#[test]
fn two_live_projects_of_one_name_are_a_finding_of_the_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        "version: 1\nusers:\n  - email: root@acme.example\n    role: owner\nprojects:\n  - name: Search\n",
    )
    .expect("live");
    let emulator = Emulator::start(&live, 0);
    // Another client (a person in the dashboard, a script) made a second Search.
    let created = emulator.api(
        reqwest::Method::POST,
        "/organization/projects",
        serde_json::json!({"name": "Search"}),
    );
    let extra = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the second Search was refused: {created}"))
        .to_string();
    let desired = dir.path().join("orgops.yaml");
    let file = "version: 1\nusers:\n  - email: root@acme.example\n    role: owner\nprojects:\n  - name: Search\n";
    std::fs::write(&desired, file).expect("desired");
    let plan = run(emulator
        .orgops(dir.path())
        .args(["plan", "--format", "json", "-f"])
        .arg(&desired));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json: Value = serde_json::from_str(&plan.stdout).expect("JSON plan");
    let findings: Vec<&Value> = json["unmanaged"]
        .as_array()
        .expect("unmanaged")
        .iter()
        .filter(|u| u["object"]["duplicate_of"].is_string())
        .collect();
    assert_eq!(findings.len(), 1, "{}", plan.stdout);
    // The older one is managed (same second: the smaller id); which one is the extra.
    let (dup, kept) = (
        findings[0]["object"]["id"].as_str().unwrap_or_default(),
        findings[0]["object"]["duplicate_of"]
            .as_str()
            .unwrap_or_default(),
    );
    assert!(
        dup != kept && (dup == extra || kept == extra),
        "{findings:?}"
    );
    let dup = dup.to_string();
    let text = run(emulator
        .orgops(dir.path())
        .args(["plan", "-f"])
        .arg(&desired));
    assert!(
        text.stdout
            .contains(&format!("project:Search (duplicate {dup})")),
        "{}",
        text.stdout
    );
    // Under `archive`, the plan archives that one by its id, and then the plan is empty.
    std::fs::write(
        &desired,
        format!("{file}policy:\n  unmanaged:\n    projects: archive\n"),
    )
    .expect("desired");
    let apply = run(emulator
        .orgops(dir.path())
        .args(["apply", "--auto-approve", "-f"])
        .arg(&desired));
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stdout
            .contains(&format!("project:Search (duplicate {dup})")),
        "{}",
        apply.stdout
    );
    let archived = emulator.api(
        reqwest::Method::GET,
        &format!("/organization/projects/{dup}"),
        Value::Null,
    );
    assert_eq!(archived["status"], "archived", "{archived}");
    let again = run(emulator
        .orgops(dir.path())
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&desired));
    assert_eq!(again.code, 0, "{}", again.stdout);
}

/// Issue 22: a create a naive client retries after a failure that hid its success (the
/// emulator's `--fault-rate`: the write lands, the answer is a 5xx or a dropped connection)
/// leaves a second object, as it would against the API; the next plan names it.
#[test]
fn a_create_retried_after_a_hidden_success_leaves_a_duplicate_the_next_plan_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = one_owner_live(dir.path());
    let emulator = Emulator::start(&live, 0);
    emulator.control(
        reqwest::Method::POST,
        "/faults",
        Some(serde_json::json!({"fault_rate": 1.0})),
    );
    let url = format!("{}/organization/projects", emulator.url);
    let mut landed = false;
    for _ in 0..64 {
        let answer = block_on(
            reqwest::Client::new()
                .post(&url)
                .bearer_auth(KEY)
                .json(&serde_json::json!({"name": "Search"}))
                .send(),
        );
        assert!(
            answer
                .as_ref()
                .map_or(true, |r| r.status().is_server_error()),
            "every answer fails at fault rate 1"
        );
        if projects_named(&emulator.state(), "Search") == 1 {
            landed = true;
            break;
        }
    }
    assert!(landed, "no create landed behind a failure in 64 tries");
    emulator.control(
        reqwest::Method::POST,
        "/faults",
        Some(serde_json::json!({"fault_rate": 0.0})),
    );
    // The client saw only failures, so it sends the create again.
    let retried = emulator.api(
        reqwest::Method::POST,
        "/organization/projects",
        serde_json::json!({"name": "Search"}),
    );
    assert!(
        retried["id"].is_string(),
        "the retried create was refused: {retried}"
    );
    assert_eq!(projects_named(&emulator.state(), "Search"), 2);
    let desired = dir.path().join("orgops.yaml");
    std::fs::write(
        &desired,
        "version: 1\nusers:\n  - email: root@acme.example\n    role: owner\nprojects:\n  - name: Search\n",
    )
    .expect("desired");
    let plan = run(emulator
        .orgops(dir.path())
        .args(["plan", "-f"])
        .arg(&desired));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("project:Search (duplicate proj_"),
        "{}",
        plan.stdout
    );
}

/// Issue 21 item 12: a saved plan is bound to the organization the API reports (its
/// `openai-organization` response header) and to the whole base URL, not to what
/// `OPENAI_ORG_ID` says: a plan saved with `OPENAI_ORG_ID=org-AAA` is refused when the API
/// now reports another organization (the variable unset), and when the base URL's path
/// differs; against the organization it was made for, it applies.
#[test]
fn a_saved_plan_is_bound_to_the_organization_the_api_reports() {
    use crate::support::hostile::Gateway;
    use crate::support::org;
    let emu = org::start(org::ORG);
    let gateway = Gateway::serve(emu.base_url(), &["/v1", "/tenant-b/v1"], "org-AAA");
    let dir = tempfile::tempdir().expect("tempdir");
    let desired = dir.path().join("orgops.yaml");
    std::fs::write(
        &desired,
        format!(
            "{}policy:\n  unmanaged:\n    admin_api_keys: ignore\n",
            org::ORG.replace(
                "{email: carol@example.com, role: reader}",
                "{email: carol@example.com, role: owner}"
            )
        ),
    )
    .expect("desired");
    let saved = dir.path().join("plan.json");
    let command = |base: &str| {
        let mut command = orgops();
        command
            .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
            .env("OPENAI_BASE_URL", format!("{}{base}", gateway.url()))
            .env("ORGOPS_LOCK_DIR", dir.path().join("locks"));
        command
    };
    let plan = run(command("/v1")
        .env("OPENAI_ORG_ID", "org-AAA")
        .args(["plan", "-f"])
        .arg(&desired)
        .arg("--out")
        .arg(&saved));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("user:carol@example.com"),
        "{}",
        plan.stdout
    );

    let apply = |base: &str| {
        run(command(base)
            .args(["apply", "-f"])
            .arg(&desired)
            .arg("--plan")
            .arg(&saved))
    };
    gateway.report("org-BBB");
    let other_org = apply("/v1");
    assert_eq!(
        other_org.code, 4,
        "applied to the organization the API reports as org-BBB:\n{}\n{}",
        other_org.stdout, other_org.stderr
    );
    assert!(
        other_org.stderr.contains("other-org") && other_org.stderr.contains("org-BBB"),
        "{}",
        other_org.stderr
    );
    gateway.report("org-AAA");
    let other_path = apply("/tenant-b/v1");
    assert_eq!(
        other_path.code, 4,
        "applied through another base URL path:\n{}\n{}",
        other_path.stdout, other_path.stderr
    );
    assert!(
        other_path.stderr.contains("other-org"),
        "{}",
        other_path.stderr
    );
    let same = apply("/v1");
    assert_eq!(same.code, 0, "{}\n{}", same.stdout, same.stderr);

    // The emulator itself reports an organization the same way.
    let response = block_on(async {
        reqwest::Client::new()
            .get(format!("{}/organization/users", emu.url()))
            .bearer_auth(org::ADMIN_KEY)
            .send()
            .await
            .expect("the emulator answers")
    });
    assert!(
        response
            .headers()
            .get("openai-organization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("org-")),
        "{:?}",
        response.headers()
    );
}
