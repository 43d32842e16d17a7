//! The composite action (`action.yml`) step by step, with the Actions runner simulated: the
//! step list is read from the file, `if:` conditions and `${{ }}` expressions in `env:` are
//! evaluated (the few forms the action uses), `uses:` steps (the cargo cache) are skipped,
//! and every `run:` script runs in bash with per-step `GITHUB_OUTPUT` files, as a runner
//! does. The orgops binary under test is passed as the prebuilt `orgops-binary` input.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::github_fake::FakeGitHub;
use crate::support::org;

fn action() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml"))
        .expect("action.yml exists");
    serde_saphyr::from_str(&text).expect("action.yml is YAML")
}

/// Looks up `a.b.c` (names may contain `-`) in the context.
fn lookup(ctx: &Value, path: &str) -> Value {
    let mut v = ctx;
    for part in path.split('.') {
        v = match v.get(part) {
            Some(next) => next,
            None => return Value::Null,
        };
    }
    v.clone()
}

fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn operand(ctx: &Value, term: &str) -> Value {
    let term = term.trim();
    match term.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(literal) => json!(literal),
        None => lookup(ctx, term),
    }
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false)) && !as_text(v).is_empty() && as_text(v) != "0"
}

/// `a || b` (first truthy), `x == 'y'`, `x != 'y'`, paths and literals.
fn eval(ctx: &Value, expr: &str) -> Value {
    for alternative in expr.split("||") {
        let v = if let Some((a, b)) = alternative.split_once("==") {
            json!(as_text(&operand(ctx, a)) == as_text(&operand(ctx, b)))
        } else if let Some((a, b)) = alternative.split_once("!=") {
            json!(as_text(&operand(ctx, a)) != as_text(&operand(ctx, b)))
        } else {
            operand(ctx, alternative)
        };
        if truthy(&v) {
            return v;
        }
    }
    Value::Null
}

/// Replaces every `${{ expr }}` in `text`.
fn substitute(ctx: &Value, text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("expression closes") + start;
        out.push_str(&as_text(&eval(ctx, &rest[start + 3..end])));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

struct Run {
    /// The action's outputs, resolved from the steps' outputs.
    outputs: BTreeMap<String, String>,
    stdout: String,
    /// Index of the step that failed, if any.
    failed_step: Option<String>,
    skipped_uses: Vec<String>,
}

/// Runs the action's steps with `inputs` (defaults filled in) for `event`.
fn run_action(
    inputs: Value,
    event_name: &str,
    event: &Value,
    workdir: &Path,
    extra_env: &[(&str, String)],
) -> Run {
    let action = action();
    let temp = tempfile::tempdir().expect("tempdir");
    let event_path = temp.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).expect("event file");
    let mut all_inputs = serde_json::Map::new();
    for (name, spec) in action["inputs"].as_object().expect("inputs") {
        all_inputs.insert(
            name.clone(),
            spec.get("default").cloned().unwrap_or(json!("")),
        );
    }
    for (name, value) in inputs.as_object().expect("inputs object") {
        assert!(all_inputs.contains_key(name), "action.yml has input {name}");
        all_inputs.insert(name.clone(), value.clone());
    }
    let mut ctx = json!({
        "github": {
            "action_path": env!("CARGO_MANIFEST_DIR"),
            "event_name": event_name,
            "event": event,
            "token": "ghs_test_token",
        },
        "steps": {},
    });
    // Input defaults may themselves be expressions (`${{ github.token }}`).
    let resolved: serde_json::Map<String, Value> = all_inputs
        .into_iter()
        .map(|(k, v)| (k, json!(substitute(&ctx, &as_text(&v)))))
        .collect();
    ctx["inputs"] = Value::Object(resolved);

    let mut stdout = String::new();
    let mut failed_step = None;
    let mut skipped_uses = Vec::new();
    for (index, step) in action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let name = step["name"].as_str().unwrap_or("step").to_string();
        if let Some(condition) = step.get("if").and_then(Value::as_str)
            && !truthy(&eval(&ctx, condition))
        {
            continue;
        }
        if let Some(uses) = step.get("uses").and_then(Value::as_str) {
            skipped_uses.push(uses.to_string());
            continue;
        }
        let script = step["run"].as_str().expect("a run step");
        let output_file = temp.path().join(format!("output-{index}"));
        std::fs::write(&output_file, "").expect("output file");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(workdir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", temp.path().join("summary"))
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_EVENT_NAME", event_name)
            .env("RUNNER_TEMP", temp.path())
            .env("RUNNER_OS", "Linux")
            .env("ORGOPS_NO_PROGRESS", "1");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        if let Some(env) = step.get("env").and_then(Value::as_object) {
            for (k, v) in env {
                cmd.env(k, substitute(&ctx, &as_text(v)));
            }
        }
        let out = cmd.output().expect("bash runs");
        stdout.push_str(&String::from_utf8_lossy(&out.stdout));
        let written = std::fs::read_to_string(&output_file).unwrap_or_default();
        let outputs: serde_json::Map<String, Value> = written
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        if let Some(id) = step.get("id").and_then(Value::as_str) {
            ctx["steps"][id] = json!({ "outputs": outputs });
        }
        if !out.status.success() {
            failed_step = Some(name);
            break;
        }
    }
    let outputs = action["outputs"]
        .as_object()
        .expect("outputs")
        .iter()
        .map(|(name, spec)| {
            (
                name.clone(),
                substitute(&ctx, spec["value"].as_str().expect("output value")),
            )
        })
        .collect();
    Run {
        outputs,
        stdout,
        failed_step,
        skipped_uses,
    }
}

const LIVE: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
"#;

const FILE: &str = r#"
version: 1
policy:
  unmanaged:
    admin_api_keys: ignore
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: dan@example.com, role: reader}
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repo_with_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("orgops.yaml"), FILE).expect("write");
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "org"]);
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    (dir, sha)
}

#[test]
fn no_run_script_contains_an_expression() {
    let action = action();
    for step in action["runs"]["steps"].as_array().expect("steps") {
        if let Some(script) = step.get("run").and_then(Value::as_str) {
            assert!(
                !script.contains("${{"),
                "untrusted values must reach `run:` only through `env:`: {script}"
            );
        }
    }
    for workflow in ["orgops-plan.yml", "orgops-apply.yml", "orgops-drift.yml"] {
        let path = format!(
            "{}/examples/workflows/{workflow}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("workflow exists");
        let doc: Value = serde_saphyr::from_str(&text).expect("workflow is YAML");
        for job in doc["jobs"].as_object().expect("jobs").values() {
            for step in job["steps"].as_array().expect("steps") {
                if let Some(script) = step.get("run").and_then(Value::as_str) {
                    assert!(!script.contains("${{"), "{workflow}: {script}");
                }
            }
        }
    }
}

#[test]
fn the_action_plans_a_pull_request_and_exposes_the_outputs() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let (repo, sha) = repo_with_file();
    let event = json!({"pull_request": {"number": 3, "base": {"sha": sha}, "head": {"repo": {"fork": false}}}});
    let run = run_action(
        json!({
            "command": "plan",
            "path": "orgops.yaml",
            "admin-key": org::ADMIN_KEY,
            "orgops-binary": env!("CARGO_BIN_EXE_orgops"),
            "openai-base-url": emu.url(),
        }),
        "pull_request",
        &event,
        repo.path(),
        &[
            ("GITHUB_REPOSITORY", "acme/org".to_string()),
            ("GITHUB_API_URL", fake.url.clone()),
        ],
    );
    assert_eq!(run.failed_step, None, "{}", run.stdout);
    assert!(
        run.skipped_uses.is_empty(),
        "a prebuilt binary skips the cargo cache"
    );
    assert_eq!(run.outputs["changes"], "1", "{:?}", run.outputs);
    assert_eq!(run.outputs["to_add"], "1");
    assert_eq!(run.outputs["failure_reason"], "");
    assert!(run.outputs["plan_hash"].starts_with("sha256:"));
    assert!(Path::new(&run.outputs["plan_path"]).is_absolute());
    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, 3);
    assert!(
        comments[0].2.contains("dan@example.com"),
        "{}",
        comments[0].2
    );
}

#[test]
fn on_a_fork_the_action_validates_and_says_why_it_cannot_plan() {
    let fake = FakeGitHub::start();
    let (repo, sha) = repo_with_file();
    let event = json!({"pull_request": {"number": 4, "base": {"sha": sha}, "head": {"repo": {"fork": true}}}});
    let run = run_action(
        json!({"command": "plan", "orgops-binary": env!("CARGO_BIN_EXE_orgops")}),
        "pull_request",
        &event,
        repo.path(),
        &[
            ("GITHUB_REPOSITORY", "acme/org".to_string()),
            ("GITHUB_API_URL", fake.url.clone()),
        ],
    );
    assert_eq!(run.failed_step, None, "{}", run.stdout);
    assert!(run.stdout.contains("comes from a fork"), "{}", run.stdout);
    assert!(run.stdout.contains("::warning::orgops cannot plan"));
    assert_eq!(run.outputs["failure_reason"], "no-admin-key");
    assert!(fake.calls().is_empty());
}

#[test]
fn an_unknown_command_stops_at_the_first_step() {
    let (repo, _) = repo_with_file();
    let run = run_action(
        json!({"command": "destroy; rm -rf /", "orgops-binary": env!("CARGO_BIN_EXE_orgops")}),
        "push",
        &json!({}),
        repo.path(),
        &[],
    );
    assert_eq!(run.failed_step.as_deref(), Some("Check the command"));
    assert!(run.stdout.contains("command must be plan, apply or drift"));
}

#[test]
fn without_a_prebuilt_binary_the_action_uses_the_cargo_cache() {
    // Only the conditions are evaluated here (building a release binary in a test would
    // take minutes): the cache step's `if:` holds when no binary is given.
    let action = action();
    let ctx = json!({"inputs": {"orgops-binary": ""}});
    let cache = action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s.get("uses").and_then(Value::as_str) == Some("actions/cache@v4"))
        .expect("a cargo cache step");
    assert!(truthy(&eval(
        &ctx,
        cache["if"].as_str().expect("conditional")
    )));
    let ctx = json!({"inputs": {"orgops-binary": "/usr/local/bin/orgops"}});
    assert!(!truthy(&eval(
        &ctx,
        cache["if"].as_str().expect("conditional")
    )));
}

#[test]
fn the_fail_on_unmanaged_input_makes_reported_objects_open_the_drift_issue() {
    // Live has carol, whom the file does not declare (users: report): apply would change
    // nothing, so the drift run files no issue unless `fail-on-unmanaged` says so.
    let live = format!("{LIVE}  - {{email: carol@example.com, role: reader}}\n");
    let emu = org::start(&live);
    let fake = FakeGitHub::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orgops.yaml"),
        FILE.replace("  - {email: dan@example.com, role: reader}\n", ""),
    )
    .expect("write");
    let event = json!({"schedule": "17 6 * * *"});
    let drift = |fail_on_unmanaged: &str| {
        run_action(
            json!({
                "command": "drift",
                "path": "orgops.yaml",
                "admin-key": org::ADMIN_KEY,
                "orgops-binary": env!("CARGO_BIN_EXE_orgops"),
                "openai-base-url": emu.url(),
                "fail-on-unmanaged": fail_on_unmanaged,
            }),
            "schedule",
            &event,
            dir.path(),
            &[
                ("GITHUB_REPOSITORY", "acme/org".to_string()),
                ("GITHUB_API_URL", fake.url.clone()),
            ],
        )
    };
    let run = drift("false");
    assert_eq!(run.failed_step, None, "{}", run.stdout);
    assert!(fake.issues().is_empty(), "{:?}", fake.calls());
    assert!(
        run.stdout.contains("In sync: apply would change nothing"),
        "{}",
        run.stdout
    );
    let run = drift("true");
    assert_eq!(run.failed_step, None, "{}", run.stdout);
    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "{:?}", fake.calls());
    assert!(
        issues[0].2.contains("user:carol@example.com"),
        "{}",
        issues[0].2
    );
}
