//! The composite action (`action.yml`) step by step, with the Actions runner simulated: the
//! step list is read from the file, `if:` conditions and `${{ }}` expressions in `env:` are
//! evaluated (the few forms the action uses), `uses:` steps are skipped (or, for the
//! snapshot cache, played by [`ActionsCache`] when a test gives one), and every `run:`
//! script runs in bash with per-step `GITHUB_OUTPUT` files, as a runner does. The orgops binary under test is passed as the prebuilt `orgops-binary` input, or
//! served as a fake release from 127.0.0.1 to the action's real install step.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::github_fake::FakeGitHub;
use crate::support::org;

/// `github.run_id` of each simulated run: distinct, as a runner's are.
static RUN_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);

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

/// `a || b` (first truthy), `a && b` (binding tighter; the last value when all are truthy),
/// `x == 'y'`, `x != 'y'`, paths and literals.
fn eval(ctx: &Value, expr: &str) -> Value {
    let term = |t: &str| {
        if let Some((a, b)) = t.split_once("==") {
            json!(as_text(&operand(ctx, a)) == as_text(&operand(ctx, b)))
        } else if let Some((a, b)) = t.split_once("!=") {
            json!(as_text(&operand(ctx, a)) != as_text(&operand(ctx, b)))
        } else {
            operand(ctx, t)
        }
    };
    for alternative in expr.split("||") {
        let mut v = Value::Null;
        for conjunct in alternative.split("&&") {
            v = term(conjunct);
            if !truthy(&v) {
                break;
            }
        }
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
    stderr: String,
    /// Name of the step that failed, if any.
    failed_step: Option<String>,
    skipped_uses: Vec<String>,
    /// The names of those steps.
    skipped_steps: Vec<String>,
    /// Names of the `run:` steps that ran, in order.
    ran: Vec<String>,
    /// `steps.<id>.outputs`, as the runner's context holds them.
    steps: Value,
    /// RUNNER_TEMP, kept while the run is looked at.
    _temp: tempfile::TempDir,
}

/// Where the action's files are and where to stop (before a step that would build orgops).
struct Runner<'a> {
    action_path: &'a Path,
    stop_before: Option<&'a str>,
    /// Plays `actions/cache/restore` and `actions/cache/save` (else they are skipped).
    cache: Option<&'a ActionsCache>,
    /// `github.run_id` (else a new one per run): the jobs of one workflow run share it.
    run_id: Option<&'a str>,
}

fn this_action() -> Runner<'static> {
    Runner {
        action_path: Path::new(env!("CARGO_MANIFEST_DIR")),
        stop_before: None,
        cache: None,
        run_id: None,
    }
}

/// The repository's Actions cache as the cache actions use it: entries are immutable, saved
/// under a key; a restore takes the entry of its exact key, else the newest whose key
/// starts with one of its `restore-keys`, and copies it to `path`.
struct ActionsCache {
    dir: tempfile::TempDir,
    /// Keys in the order they were saved.
    keys: Mutex<Vec<String>>,
}

impl ActionsCache {
    fn new() -> ActionsCache {
        ActionsCache {
            dir: tempfile::tempdir().expect("tempdir"),
            keys: Mutex::new(Vec::new()),
        }
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }

    fn keys(&self) -> Vec<String> {
        self.keys.lock().expect("keys").clone()
    }

    /// Puts `files` (name, content) in an entry under `key`, as another workflow could.
    fn plant(&self, key: &str, files: &[(&str, &[u8])]) {
        let entry = self.entry(key);
        std::fs::create_dir_all(&entry).expect("entry");
        for (name, content) in files {
            std::fs::write(entry.join(name), content).expect("write");
        }
        self.keys.lock().expect("keys").push(key.to_string());
    }

    fn restore(&self, path: &Path, key: &str, restore_keys: &str) {
        let keys = self.keys();
        let hit = keys.iter().rev().find(|k| *k == key).or_else(|| {
            keys.iter().rev().find(|k| {
                restore_keys
                    .lines()
                    .any(|p| !p.is_empty() && k.starts_with(p.trim()))
            })
        });
        if let Some(hit) = hit {
            let entry = self.entry(hit);
            // An archive holds a link as a link.
            if std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink()) {
                let to = std::fs::read_link(&entry).expect("link");
                std::os::unix::fs::symlink(to, path).expect("symlink");
            } else {
                copy_tree(&entry, path);
            }
        }
    }

    fn save(&self, path: &Path, key: &str) {
        assert!(
            !self.keys().iter().any(|k| k == key),
            "cache entries are immutable: {key}"
        );
        copy_tree(path, &self.entry(key));
        self.keys.lock().expect("keys").push(key.to_string());
    }
}

/// Runs the action's steps with `inputs` (defaults filled in) for `event`.
fn run_action(
    inputs: Value,
    event_name: &str,
    event: &Value,
    workdir: &Path,
    extra_env: &[(&str, String)],
) -> Run {
    run_action_with(
        &this_action(),
        inputs,
        event_name,
        event,
        workdir,
        extra_env,
    )
}

fn run_action_with(
    runner: &Runner,
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
            "action_path": runner.action_path.display().to_string(),
            "event_name": event_name,
            "event": event,
            "token": "ghs_test_token",
            "run_id": runner.run_id.map(str::to_string).unwrap_or_else(|| {
                format!("{}", RUN_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            }),
            "run_attempt": "1",
        },
        "runner": {"temp": temp.path().display().to_string()},
        "steps": {},
    });
    // Input defaults may themselves be expressions (`${{ github.token }}`).
    let resolved: serde_json::Map<String, Value> = all_inputs
        .into_iter()
        .map(|(k, v)| (k, json!(substitute(&ctx, &as_text(&v)))))
        .collect();
    ctx["inputs"] = Value::Object(resolved);

    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut failed_step = None;
    let mut skipped_uses = Vec::new();
    let mut skipped_steps = Vec::new();
    let mut ran = Vec::new();
    for (index, step) in action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let name = step["name"].as_str().unwrap_or("step").to_string();
        if runner.stop_before == Some(name.as_str()) {
            break;
        }
        if let Some(condition) = step.get("if").and_then(Value::as_str)
            && !truthy(&eval(&ctx, condition))
        {
            continue;
        }
        if let Some(uses) = step.get("uses").and_then(Value::as_str) {
            let with = |name: &str| substitute(&ctx, step["with"][name].as_str().unwrap_or(""));
            match runner.cache {
                Some(cache) if uses.starts_with("actions/cache/restore@") => cache.restore(
                    Path::new(&with("path")),
                    &with("key"),
                    &with("restore-keys"),
                ),
                Some(cache) if uses.starts_with("actions/cache/save@") => {
                    cache.save(Path::new(&with("path")), &with("key"))
                }
                _ => {
                    skipped_uses.push(uses.to_string());
                    skipped_steps.push(name.clone());
                }
            }
            continue;
        }
        let script = step["run"].as_str().expect("a run step");
        ran.push(name.clone());
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
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TOOL_CACHE", temp.path().join("tool-cache"))
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
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
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
    let steps = ctx["steps"].clone();
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
        stderr,
        failed_step,
        skipped_uses,
        skipped_steps,
        ran,
        steps,
        _temp: temp,
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
    for workflow in workflow_files() {
        let text = std::fs::read_to_string(&workflow).expect("workflow exists");
        let workflow = workflow.display();
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
    assert_eq!(
        run.skipped_steps,
        ["Restore the snapshots", "Save the snapshots"],
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
    assert_eq!(run.failed_step.as_deref(), Some("Check the inputs"));
    assert!(run.stdout.contains("command must be plan, apply or drift"));
}

/// Every workflow the repository ships: the examples and its own release workflow.
fn workflow_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["examples/workflows", ".github/workflows"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("workflow directory"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn workflow(name: &str) -> Value {
    let path = format!("{}/examples/workflows/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_saphyr::from_str(&std::fs::read_to_string(path).expect("workflow exists"))
        .expect("workflow is YAML")
}

/// Every `uses:` of a mapping tree, in document order.
fn uses_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("uses", Value::String(s)) => out.push(s.clone()),
                    _ => uses_of(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| uses_of(v, out)),
        _ => {}
    }
}

#[test]
fn every_third_party_action_is_pinned_by_commit_sha() {
    let mut files = workflow_files();
    files.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"));
    let mut seen = 0;
    for file in files {
        let doc: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&file).expect("read")).expect("YAML");
        let mut uses = Vec::new();
        uses_of(&doc, &mut uses);
        for u in uses {
            // This action too: its commit pins the orgops binary (release-checksums.txt).
            assert!(
                !u.starts_with("./"),
                "{}: a local action runs code from the checkout: {u}",
                file.display()
            );
            let (_, reference) = u.split_once('@').expect("uses: owner/name@ref");
            assert!(
                reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                "{}: {u} is not pinned by commit SHA",
                file.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} third-party uses found");
}

/// A GitHub release download host on 127.0.0.1: serves `/vVERSION/NAME` from a map (404
/// otherwise) and records every requested path.
struct FakeRelease {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    _server: crate::support::loopback::Loopback,
}

impl FakeRelease {
    fn start(files: BTreeMap<String, Vec<u8>>) -> FakeRelease {
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let files = Arc::new(files);
        let log = requests.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let log = log.clone();
            let files = files.clone();
            async move {
                log.lock().expect("lock").push(uri.path().to_string());
                match files.get(uri.path()) {
                    Some(bytes) => (axum::http::StatusCode::OK, bytes.clone()),
                    None => (axum::http::StatusCode::NOT_FOUND, b"Not Found".to_vec()),
                }
            }
        });
        let server = crate::support::loopback::Loopback::serve(app);
        FakeRelease {
            url: server.url.clone(),
            requests,
            _server: server,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// The action's own version (its Cargo.toml): what it installs by default.
const VERSION: &str = env!("CARGO_PKG_VERSION");
const LINUX_X64: &str = "x86_64-unknown-linux-musl";

fn archive_name() -> String {
    format!("orgops-{VERSION}-{LINUX_X64}.tar.gz")
}

/// A release archive as release.yml packs it: `orgops-VERSION-TARGET/orgops`, here a script.
fn release_archive(script: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("orgops-{VERSION}-{LINUX_X64}");
    std::fs::create_dir(dir.path().join(&name)).expect("mkdir");
    let bin = dir.path().join(&name).join("orgops");
    std::fs::write(&bin, script).expect("write");
    std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(dir.path().join("archive.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .arg(name)
        .status()
        .expect("tar runs");
    assert!(status.success());
    std::fs::read(dir.path().join("archive.tar.gz")).expect("archive")
}

/// The real orgops under test, behind the archive's `orgops`.
fn good_archive() -> Vec<u8> {
    release_archive(&format!(
        "#!/bin/sh\nexec '{}' \"$@\"\n",
        env!("CARGO_BIN_EXE_orgops")
    ))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The release's files as a download host holds them: `served` as the Linux x86_64 archive
/// and a SHA256SUMS listing the sha256 of `listed` for it (and another platform's line, as a
/// real release has). Whoever can upload to the release can replace both.
fn release_files(served: Vec<u8>, listed: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let sums = format!(
        "{}  orgops-{VERSION}-aarch64-apple-darwin.tar.gz\n{}  {}\n",
        "0".repeat(64),
        sha256_hex(listed),
        archive_name()
    );
    BTreeMap::from([
        (format!("/v{VERSION}/SHA256SUMS"), sums.into_bytes()),
        (format!("/v{VERSION}/{}", archive_name()), served),
    ])
}

/// A copy of the action's files (what a workflow gets at the pinned commit) whose committed
/// `release-checksums.txt` lists `archive` as this version's Linux x86_64 archive.
fn action_committing(archive: &[u8]) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().expect("tempdir");
    for file in ["Cargo.toml", "Cargo.lock", "action.yml"] {
        std::fs::copy(root.join(file), copy.path().join(file)).expect("copy");
    }
    copy_tree(&root.join("scripts"), &copy.path().join("scripts"));
    std::fs::write(
        copy.path().join("release-checksums.txt"),
        format!(
            "# committed with the action\n{}  orgops-{VERSION}-aarch64-apple-darwin.tar.gz\n{}  {}\n",
            "1".repeat(64),
            sha256_hex(archive),
            archive_name()
        ),
    )
    .expect("write the checksums");
    copy
}

fn pr_env(
    fake: &FakeGitHub,
    release: &FakeRelease,
    tool_cache: &Path,
) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_REPOSITORY", "acme/org".to_string()),
        ("GITHUB_API_URL", fake.url.clone()),
        ("ORGOPS_RELEASE_BASE_URL", release.url.clone()),
        ("RUNNER_TOOL_CACHE", tool_cache.display().to_string()),
    ]
}

#[test]
fn the_action_installs_a_checked_release_once_then_runs_from_the_tool_cache() {
    let archive = good_archive();
    let action = action_committing(&archive);
    let runner = whole(action.path());
    let release = FakeRelease::start(release_files(archive.clone(), &archive));
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let (repo, sha) = repo_with_file();
    let tool_cache = tempfile::tempdir().expect("tempdir");
    let env = pr_env(&fake, &release, tool_cache.path());
    let event = json!({"pull_request": {"number": 3, "base": {"sha": sha}, "head": {"repo": {"fork": false}}}});
    // No orgops-binary, no orgops-version: the action's own version, downloaded.
    let inputs =
        json!({"command": "plan", "admin-key": org::ADMIN_KEY, "openai-base-url": emu.url()});

    let cold = run_action_with(
        &runner,
        inputs.clone(),
        "pull_request",
        &event,
        repo.path(),
        &env,
    );
    assert_eq!(cold.failed_step, None, "{}", cold.stdout);
    let steps = [
        "Check the inputs",
        "Install orgops",
        "Fetch the base revision",
        "Check the snapshots",
        "Run orgops",
    ];
    assert_eq!(cold.ran, steps, "no build step");
    assert!(
        !cold.skipped_steps.iter().any(|s| s.contains("cargo")),
        "no cargo cache: {:?}",
        cold.skipped_steps
    );
    let sum = sha256_hex(&archive);
    assert!(
        cold.stdout.contains(&format!(
            "sha256 {sum} is the one this action's commit lists"
        )),
        "{}",
        cold.stdout
    );
    // Only the archive: the release's own SHA256SUMS is not what the action trusts.
    assert_eq!(
        release.requests(),
        [format!("/v{VERSION}/{}", archive_name())]
    );
    let installed = PathBuf::from(
        cold.steps["install"]["outputs"]["bin"]
            .as_str()
            .expect("bin output"),
    );
    assert!(
        tool_cache
            .path()
            .join(format!("orgops/{VERSION}/x64.complete"))
            .is_file()
    );
    let version = Command::new(&installed)
        .arg("--version")
        .output()
        .expect("runs");
    // `orgops X.Y.Z`, with ` (COMMIT)` when built from a checkout.
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("orgops {}", orgops::VERSION)
    );
    assert!(orgops::VERSION.starts_with(VERSION));
    // The installed binary planned the pull request.
    assert_eq!(cold.outputs["changes"], "1", "{:?}", cold.outputs);
    assert_eq!(fake.comments().len(), 1);

    // A warm tool cache: no download at all, the same steps, the cache checked again.
    let warm = run_action_with(&runner, inputs, "pull_request", &event, repo.path(), &env);
    assert_eq!(warm.failed_step, None, "{}", warm.stdout);
    assert_eq!(warm.ran, steps);
    assert!(
        warm.stdout.contains("found in the tool cache"),
        "{}",
        warm.stdout
    );
    assert!(
        warm.stdout.contains(&format!(
            "sha256 {sum} is the one this action's commit lists"
        )),
        "{}",
        warm.stdout
    );
    assert_eq!(
        release.requests().len(),
        1,
        "a warm tool cache downloads nothing"
    );
    assert_eq!(warm.outputs["plan_hash"], cold.outputs["plan_hash"]);

    // orgops-binary still wins: no install step, no request.
    let given = run_action_with(
        &runner,
        json!({"command": "plan", "admin-key": org::ADMIN_KEY, "openai-base-url": emu.url(),
               "orgops-binary": env!("CARGO_BIN_EXE_orgops"), "orgops-version": "0.2.0"}),
        "pull_request",
        &event,
        repo.path(),
        &env,
    );
    assert_eq!(given.failed_step, None, "{}", given.stdout);
    assert_eq!(
        given.ran,
        [
            "Check the inputs",
            "Fetch the base revision",
            "Check the snapshots",
            "Run orgops"
        ]
    );
    assert_eq!(release.requests().len(), 1);
}

/// The action at `path`, every step run.
fn whole(path: &Path) -> Runner<'_> {
    Runner {
        action_path: path,
        stop_before: None,
        cache: None,
        run_id: None,
    }
}

/// An archive that says it is orgops and, when it runs, creates the file `pwned` (in the
/// directory returned with it).
fn evil_archive() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let marker = tempfile::tempdir().expect("tempdir");
    let pwned = marker.path().join("pwned");
    let archive = release_archive(&evil_script(&pwned));
    (marker, pwned, archive)
}

fn evil_script(pwned: &Path) -> String {
    format!(
        "#!/bin/sh\ntouch '{}'\necho 'orgops {VERSION}'\n",
        pwned.display()
    )
}

#[test]
fn a_tampered_release_is_refused_and_nothing_is_installed() {
    let good = good_archive();
    let action = action_committing(&good);
    let runner = whole(action.path());
    let (_marker, pwned, evil) = evil_archive();
    let fake = FakeGitHub::start();
    let (repo, sha) = repo_with_file();
    let event = json!({"pull_request": {"number": 3, "base": {"sha": sha}, "head": {"repo": {"fork": false}}}});

    // Same name, other content: a swapped download, with the release's SHA256SUMS replaced
    // too (`gh release upload --clobber` replaces both).
    for (what, listed) in [
        ("SHA256SUMS unchanged", &good),
        ("SHA256SUMS replaced too", &evil),
    ] {
        let release = FakeRelease::start(release_files(evil.clone(), listed));
        let tool_cache = tempfile::tempdir().expect("tempdir");
        let env = pr_env(&fake, &release, tool_cache.path());
        let run = run_action_with(
            &runner,
            json!({"command": "plan", "admin-key": org::ADMIN_KEY}),
            "pull_request",
            &event,
            repo.path(),
            &env,
        );
        assert_eq!(
            run.failed_step.as_deref(),
            Some("Install orgops"),
            "{what}: {}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains("::error::orgops install: checksum mismatch"),
            "{what}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("refusing to install it"), "{what}");
        assert!(
            !tool_cache.path().join("orgops").exists(),
            "{what}: nothing installed"
        );
        assert!(!pwned.exists(), "{what}: the tampered binary never ran");
        assert!(fake.calls().is_empty(), "{what}");
    }

    // A runner whose archive the action's commit does not list is refused too, without a
    // download.
    let release = FakeRelease::start(release_files(good.clone(), &good));
    let tool_cache = tempfile::tempdir().expect("tempdir");
    let mut arm = pr_env(&fake, &release, tool_cache.path());
    arm.push(("RUNNER_ARCH", "ARM64".to_string()));
    let run = run_action_with(
        &runner,
        json!({"command": "plan", "admin-key": org::ADMIN_KEY, "orgops-version": VERSION}),
        "pull_request",
        &event,
        repo.path(),
        &arm,
    );
    assert_eq!(run.failed_step.as_deref(), Some("Install orgops"));
    assert!(
        run.stdout.contains(&format!(
            "lists no sha256 for orgops-{VERSION}-aarch64-unknown-linux-musl.tar.gz"
        )),
        "{}",
        run.stdout
    );
    assert!(release.requests().is_empty(), "{:?}", release.requests());
    assert!(!tool_cache.path().join("orgops").exists());
}

#[test]
fn a_poisoned_tool_cache_is_refused() {
    let good = good_archive();
    let action = action_committing(&good);
    let runner = whole(action.path());
    let (_marker, pwned, evil) = evil_archive();
    let release = FakeRelease::start(release_files(good.clone(), &good));
    let fake = FakeGitHub::start();
    let (repo, _) = repo_with_file();
    let tool_cache = tempfile::tempdir().expect("tempdir");
    let env = pr_env(&fake, &release, tool_cache.path());
    let inputs = json!({"command": "plan", "orgops-version": VERSION});
    let run = run_action_with(
        &runner,
        inputs.clone(),
        "workflow_dispatch",
        &json!({}),
        repo.path(),
        &env,
    );
    assert_eq!(run.failed_step, None, "{}", run.stdout);

    // A neighbour on a self-hosted runner rewrites what the tool cache holds (archives and
    // binaries alike): the next job refuses it rather than run it.
    fn poison(dir: &Path, evil: &[u8], script: &str) -> usize {
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                n += poison(&path, evil, script);
            } else if path.extension().is_some_and(|e| e == "gz") {
                std::fs::write(&path, evil).expect("poison");
                n += 1;
            } else if !path.to_string_lossy().ends_with(".complete") {
                std::fs::write(&path, script).expect("poison");
                n += 1;
            }
        }
        n
    }
    let script = evil_script(&pwned);
    let poisoned = poison(&tool_cache.path().join("orgops"), &evil, &script);
    assert!(poisoned > 0, "the tool cache holds the install");
    let run = run_action_with(
        &runner,
        inputs,
        "workflow_dispatch",
        &json!({}),
        repo.path(),
        &env,
    );
    assert_eq!(
        run.failed_step.as_deref(),
        Some("Install orgops"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("::error::orgops install: checksum mismatch")
            && run.stdout.contains("tool cache"),
        "{}",
        run.stdout
    );
    assert!(!pwned.exists(), "the poisoned binary never ran");
}

#[test]
fn an_empty_action_repository_fails_closed() {
    let good = good_archive();
    let action = action_committing(&good);
    let runner = whole(action.path());
    let (repo, _) = repo_with_file();
    let tool_cache = tempfile::tempdir().expect("tempdir");
    // `github.action_repository` comes out empty (as in composite actions), the action's path
    // does not name it, and no base URL is set: there is no repository to download from. Any
    // attempt to reach a hard-coded one would go to a closed port on 127.0.0.1.
    let closed = "http://127.0.0.1:9".to_string();
    let env = [
        ("RUNNER_TOOL_CACHE", tool_cache.path().display().to_string()),
        ("https_proxy", closed.clone()),
        ("HTTPS_PROXY", closed.clone()),
        ("ALL_PROXY", closed),
    ];
    let run = run_action_with(
        &runner,
        json!({"command": "plan", "orgops-version": VERSION}),
        "workflow_dispatch",
        &json!({}),
        repo.path(),
        &env,
    );
    assert_eq!(
        run.failed_step.as_deref(),
        Some("Install orgops"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("::error::orgops install: no repository to download orgops from"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("orgops/orgops"), "{}", run.stdout);
    assert!(!tool_cache.path().join("orgops").exists());
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            let to = std::fs::read_link(entry.path()).expect("link");
            std::os::unix::fs::symlink(to, target).expect("symlink");
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn an_unreleased_ref_builds_from_source_with_a_cache_key_over_the_sources() {
    // A copy of the action's files, to change a source file and watch the key.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().expect("tempdir");
    for file in ["Cargo.toml", "Cargo.lock", "release-checksums.txt"] {
        std::fs::copy(root.join(file), copy.path().join(file)).expect("copy");
    }
    copy_tree(&root.join("src"), &copy.path().join("src"));
    copy_tree(&root.join("scripts"), &copy.path().join("scripts"));
    let runner = Runner {
        action_path: copy.path(),
        // Stop before compiling: the steps up to it, the cache among them, are what is tested.
        stop_before: Some("Build orgops"),
        cache: None,
        run_id: None,
    };
    let release = FakeRelease::start(BTreeMap::new());
    let fake = FakeGitHub::start();
    let (repo, _) = repo_with_file();
    let tool_cache = tempfile::tempdir().expect("tempdir");
    let env = pr_env(&fake, &release, tool_cache.path());
    let key = || {
        let run = run_action_with(
            &runner,
            json!({"command": "plan"}),
            "workflow_dispatch",
            &json!({}),
            repo.path(),
            &env,
        );
        assert_eq!(run.failed_step, None, "{}", run.stdout);
        assert_eq!(
            run.ran,
            [
                "Check the inputs",
                "Install orgops",
                "Cache key for building orgops"
            ]
        );
        assert_eq!(run.skipped_uses.len(), 1);
        assert!(run.skipped_uses[0].starts_with("actions/cache/restore@"));
        assert!(run.stdout.contains("an unreleased ref"), "{}", run.stdout);
        run.steps["cache-key"]["outputs"]["key"]
            .as_str()
            .expect("a key")
            .to_string()
    };
    let before = key();
    assert!(before.starts_with("orgops-Linux-X64-"), "{before}");
    assert_eq!(key(), before, "the same sources, the same key");
    assert!(
        release.requests().is_empty(),
        "the committed checksums say there is no release: nothing to ask"
    );
    let lib = copy.path().join("src/lib.rs");
    let mut text = std::fs::read_to_string(&lib).expect("read");
    text.push_str("\n// changed\n");
    std::fs::write(lib, text).expect("write");
    assert_ne!(key(), before, "a source change changes the cache key");

    // `source` builds without asking for a release; a version that does not exist fails.
    let run = run_action_with(
        &runner,
        json!({"command": "plan", "orgops-version": "source"}),
        "workflow_dispatch",
        &json!({}),
        repo.path(),
        &env,
    );
    assert_eq!(
        run.ran.last().map(String::as_str),
        Some("Cache key for building orgops")
    );
    assert!(release.requests().is_empty());
    let run = run_action_with(
        &runner,
        json!({"command": "plan", "orgops-version": "9.9.9"}),
        "workflow_dispatch",
        &json!({}),
        repo.path(),
        &env,
    );
    assert_eq!(run.failed_step.as_deref(), Some("Install orgops"));
    assert!(
        run.stdout
            .contains("lists no sha256 for orgops-9.9.9-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_removal_and_unmanaged_inputs_reach_orgops_as_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("args");
    let bin = dir.path().join("orgops");
    std::fs::write(
        &bin,
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n", log.display()),
    )
    .expect("write");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (repo, _) = repo_with_file();
    let cases = [
        (
            json!({"command": "plan", "allow-removals": "true", "max-removals": "25"}),
            "github plan -f orgops.yaml --allow-removals --max-removals 25 --snapshot-dir $RUNNER_TEMP/orgops-snapshots",
        ),
        (
            json!({"command": "apply", "max-removals": "3"}),
            "github apply -f orgops.yaml --max-removals 3",
        ),
        (
            json!({"command": "drift", "fail-on-unmanaged": "true", "max-removals": "3"}),
            "github drift -f orgops.yaml --fail-on-unmanaged --snapshot-dir $RUNNER_TEMP/orgops-snapshots",
        ),
        (
            json!({"command": "drift", "full-read-every": "12h", "snapshot-max-age": "6h"}),
            "github drift -f orgops.yaml --snapshot-dir $RUNNER_TEMP/orgops-snapshots --full-read-every 12h --snapshot-max-age 6h",
        ),
        (
            json!({"command": "plan", "incremental": "false"}),
            "github plan -f orgops.yaml",
        ),
    ];
    for (mut inputs, expected) in cases {
        inputs["orgops-binary"] = json!(bin.display().to_string());
        let run = run_action(inputs, "workflow_dispatch", &json!({}), repo.path(), &[]);
        assert_eq!(run.failed_step, None, "{}", run.stdout);
        let args = std::fs::read_to_string(&log).expect("orgops ran");
        let temp = run._temp.path().display().to_string();
        let last = args
            .lines()
            .last()
            .map(|l| l.replace(&temp, "$RUNNER_TEMP"));
        assert_eq!(last.as_deref(), Some(expected));
    }
    for (mut inputs, message) in [
        (
            json!({"max-removals": "3; touch /tmp/x"}),
            "max-removals must be a whole number",
        ),
        (
            json!({"allow-removals": "yes"}),
            "allow-removals must be true or false",
        ),
        (
            json!({"fail-on-unmanaged": "1"}),
            "fail-on-unmanaged must be true or false",
        ),
        (
            json!({"incremental": "yes"}),
            "incremental must be true or false",
        ),
        (
            json!({"full-read-every": "1d; rm -rf ~"}),
            "full-read-every must be an age such as 30m, 12h, 1d or 2w",
        ),
        (
            json!({"snapshot-max-age": "forever"}),
            "snapshot-max-age must be an age",
        ),
    ] {
        inputs["command"] = json!("plan");
        inputs["orgops-binary"] = json!(bin.display().to_string());
        let run = run_action(inputs, "workflow_dispatch", &json!({}), repo.path(), &[]);
        assert_eq!(run.failed_step.as_deref(), Some("Check the inputs"));
        assert!(run.stdout.contains(message), "{}", run.stdout);
    }
}

/// Live has four members; the file keeps one and removes the rest, over its max_removals.
const CROWDED: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: carol@example.com, role: reader}
  - {email: dan@example.com, role: reader}
"#;

const PRUNED: &str = r#"
version: 1
policy:
  max_removals: 1
  unmanaged:
    users: remove
    admin_api_keys: ignore
users:
  - {email: ada@example.com, role: owner}
"#;

#[test]
fn a_max_removals_refusal_says_which_input_to_set_and_the_input_lifts_it() {
    let emu = org::start(CROWDED);
    let fake = FakeGitHub::start();
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("orgops.yaml"), PRUNED).expect("write");
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "org"]);
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    let event = json!({"pull_request": {"number": 5, "base": {"sha": sha}, "head": {"repo": {"fork": false}}}});
    let env = [
        ("GITHUB_REPOSITORY", "acme/org".to_string()),
        ("GITHUB_API_URL", fake.url.clone()),
    ];
    let inputs = |extra: Value| {
        let mut i = json!({"command": "plan", "admin-key": org::ADMIN_KEY, "openai-base-url": emu.url(),
                           "orgops-binary": env!("CARGO_BIN_EXE_orgops")});
        for (k, v) in extra.as_object().expect("object") {
            i[k] = v.clone();
        }
        i
    };

    let refused = run_action(inputs(json!({})), "pull_request", &event, dir.path(), &env);
    assert_eq!(refused.failed_step.as_deref(), Some("Run orgops"));
    assert_eq!(refused.outputs["failure_reason"], "refused");
    // Prose in the comment is markdown-escaped (`\_`, `\``): compare what a reader sees.
    let comment = fake.comments()[0].2.replace('\\', "");
    assert!(comment.contains("more than max_removals (1)"), "{comment}");
    assert!(
        comment.contains("the `max-removals` or `allow-removals` input"),
        "{comment}"
    );

    let lifted = run_action(
        inputs(json!({"max-removals": "3"})),
        "pull_request",
        &event,
        dir.path(),
        &env,
    );
    assert_eq!(lifted.failed_step, None, "{}", lifted.stdout);
    assert_eq!(lifted.outputs["failure_reason"], "");
    assert_eq!(lifted.outputs["to_remove"], "3");
    let comment = fake.comments()[0].2.clone();
    assert!(!comment.contains("Refused"), "{comment}");

    let allowed = run_action(
        inputs(json!({"allow-removals": "true"})),
        "pull_request",
        &event,
        dir.path(),
        &env,
    );
    assert_eq!(allowed.failed_step, None, "{}", allowed.stdout);
    // The markdown is kept as a file (the plan job uploads it with the saved plan).
    let markdown = std::fs::read_to_string(&allowed.outputs["markdown_path"]).unwrap_or_default();
    assert!(markdown.contains("carol@example.com"), "{markdown}");
}

/// Runs the `run:` script of the step `id` of `job` in an example workflow, in `dir` (or its
/// `working-directory` under `dir`), the way a runner would (its `env:` with `${{ }}` replaced
/// from `ctx`); returns its outputs. Panics when the step fails.
fn run_workflow_step(
    file: &str,
    job: &str,
    id: &str,
    dir: &Path,
    ctx: &Value,
) -> BTreeMap<String, String> {
    let (ok, outputs, log) = try_workflow_step(file, job, id, dir, ctx);
    assert!(ok, "{log}");
    outputs
}

/// [`run_workflow_step`] that reports: whether the step passed, its outputs, its stdout and
/// stderr.
fn try_workflow_step(
    file: &str,
    job: &str,
    id: &str,
    dir: &Path,
    ctx: &Value,
) -> (bool, BTreeMap<String, String>, String) {
    let doc = workflow(file);
    let step = doc["jobs"][job]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
        .expect("the step")
        .clone();
    let temp = tempfile::tempdir().expect("tempdir");
    let output = temp.path().join("output");
    let workdir = match step.get("working-directory").and_then(Value::as_str) {
        Some(sub) => dir.join(sub),
        None => dir.to_path_buf(),
    };
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(step["run"].as_str().expect("a run step"))
        .current_dir(workdir)
        .env("GITHUB_OUTPUT", &output);
    if let Some(env) = step.get("env").and_then(Value::as_object) {
        for (k, v) in env {
            cmd.env(k, substitute(ctx, &as_text(v)));
        }
    }
    let out = cmd.output().expect("bash runs");
    let outputs = std::fs::read_to_string(output)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), outputs, log)
}

/// A workspace whose `sub` directory is a repository with `files` committed, then one
/// commit changing each of `changed`; returns the workspace and the base commit.
fn workspace_with_commit(
    sub: &str,
    files: &[&str],
    changed: &[&str],
) -> (tempfile::TempDir, String) {
    let workspace = tempfile::tempdir().expect("tempdir");
    let dir = workspace.path().join(sub);
    std::fs::create_dir_all(&dir).expect("mkdir");
    git(&dir, &["init", "-q"]);
    for file in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "version: 1\n").expect("write");
    }
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "base"]);
    let base = git(&dir, &["rev-parse", "HEAD"]);
    for file in changed {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "version: 1\n# changed\n").expect("write");
    }
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "change"]);
    (workspace, base)
}

/// The `pull_request_target` context of pull request 5 with base `base`, from `head_repo`
/// into acme/org, for `action` (with `label` when it is `labeled`).
fn pr_target_ctx(base: &str, head_repo: &str, action: &str, label: &str) -> Value {
    json!({"github": {
        "event_name": "pull_request_target",
        "repository": "acme/org",
        "event": {
            "action": action,
            "label": {"name": label},
            "pull_request": {"number": 5, "base": {"sha": base}, "head": {"repo": {"full_name": head_repo}}},
        },
    }})
}

#[test]
fn the_plan_check_runs_on_every_pull_request_and_plans_only_when_orgops_files_changed() {
    let plan = workflow("orgops-plan.yml");
    assert!(
        plan["on"]["pull_request_target"].get("paths").is_none(),
        "a paths: filter would leave a required check pending"
    );
    assert_eq!(plan["jobs"]["result"]["name"], "orgops plan");
    assert!(
        plan["jobs"]["result"]["if"]
            .as_str()
            .expect("if")
            .contains("always()")
    );
    assert_eq!(
        plan["jobs"]["plan"]["if"],
        json!("needs.scope.outputs.mode == 'plan'")
    );
    // (changed files, head repository, event action, label) -> mode
    let same = "acme/org";
    let fork = "mallory/org";
    let cases: [(&[&str], &str, &str, &str, &str); 6] = [
        (&["README.md"], same, "synchronize", "", "none"),
        (&["orgops.yaml"], same, "synchronize", "", "plan"),
        (&["certs/new.pem"], same, "opened", "", "plan"),
        (&["orgops.yaml"], fork, "synchronize", "", "validate"),
        (
            &["orgops.yaml"],
            fork,
            "labeled",
            "documentation",
            "validate",
        ),
        (&["orgops.yaml"], fork, "labeled", "orgops-plan", "plan"),
    ];
    for (changed, head_repo, action, label, mode) in cases {
        let (workspace, base) =
            workspace_with_commit("pull-request", &["orgops.yaml", "README.md"], changed);
        let ctx = pr_target_ctx(&base, head_repo, action, label);
        let out = run_workflow_step("orgops-plan.yml", "scope", "scope", workspace.path(), &ctx);
        assert_eq!(
            out["mode"], mode,
            "{changed:?} from {head_repo} ({action} {label})"
        );
    }
    // A pull request that changes the workflows too gets no plan (nor validation): the
    // check fails and says why.
    let (workspace, base) = workspace_with_commit(
        "pull-request",
        &["orgops.yaml"],
        &["orgops.yaml", ".github/workflows/orgops-plan.yml"],
    );
    let ctx = pr_target_ctx(&base, same, "synchronize", "");
    let (ok, out, log) =
        try_workflow_step("orgops-plan.yml", "scope", "scope", workspace.path(), &ctx);
    assert!(!ok && !out.contains_key("mode"), "{out:?} {log}");
    assert!(
        log.contains("changes .github/ as well as the organization files"),
        "{log}"
    );

    // The saved plan and its markdown are uploaded, by an action pinned by SHA.
    let upload = plan["jobs"]["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| {
            s.get("uses")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("an upload step")
        .clone();
    let paths = upload["with"]["path"].as_str().expect("paths");
    assert!(
        paths.contains("steps.orgops.outputs.plan_path")
            && paths.contains("steps.orgops.outputs.markdown_path")
    );
}

#[test]
fn the_many_organizations_example_picks_the_changed_ones_with_one_environment_each() {
    let files = [
        "orgs/acme/orgops.yaml",
        "orgs/acme-research/orgops.yaml",
        "README.md",
    ];
    let run = |changed: &[&str], event: &str, head_repo: &str| {
        let (workspace, base) = workspace_with_commit("files", &files, changed);
        let mut ctx = pr_target_ctx(&base, head_repo, "synchronize", "");
        ctx["github"]["event_name"] = json!(event);
        ctx["github"]["event"]["before"] = json!(base);
        try_workflow_step(
            "orgops-many-orgs.yml",
            "orgs",
            "orgs",
            workspace.path(),
            &ctx,
        )
    };
    let research = r#"{"include":[{"org":"acme-research","path":"orgs/acme-research"}]}"#;
    let (ok, out, log) = run(
        &["orgs/acme-research/orgops.yaml"],
        "pull_request_target",
        "acme/org",
    );
    assert!(ok, "{log}");
    assert_eq!(out["matrix"], research);
    assert_eq!((out["count"].as_str(), out["mode"].as_str()), ("1", "plan"));
    let (_, out, _) = run(&["orgs/acme-research/orgops.yaml"], "push", "");
    assert_eq!(out["matrix"], research);
    let (_, out, _) = run(
        &["orgs/acme-research/orgops.yaml"],
        "pull_request_target",
        "mallory/org",
    );
    assert_eq!(out["mode"], "validate", "a fork is only validated");
    let (_, out, _) = run(&["README.md"], "pull_request_target", "acme/org");
    assert_eq!(
        (out["matrix"].as_str(), out["count"].as_str()),
        (r#"{"include":[]}"#, "0")
    );
    let (ok, out, log) = run(
        &["orgs/acme/orgops.yaml", ".github/workflows/orgops.yml"],
        "pull_request_target",
        "acme/org",
    );
    assert!(!ok && !out.contains_key("matrix"), "{log}");
    assert!(
        log.contains("changes .github/ as well as organization files"),
        "{log}"
    );
    let (_, all, _) = run(&["README.md"], "schedule", "");
    assert_eq!(all["count"], "2");
    let matrix: Value = serde_json::from_str(&all["matrix"]).expect("the matrix is JSON");
    // In byte order (`-` sorts before `/`), the same on every runner.
    assert_eq!(matrix["include"][0]["path"], "orgs/acme-research");
    assert_eq!(matrix["include"][1]["path"], "orgs/acme");

    // One environment per organization, one fixed secret name: no job can name another
    // organization's key, and GitHub sends no job every secret.
    let doc = workflow("orgops-many-orgs.yml");
    for job in ["plan", "apply", "drift"] {
        assert_eq!(
            doc["jobs"][job]["environment"], "openai-${{ matrix.org }}",
            "{job}"
        );
        let orgops = doc["jobs"][job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s.get("id").and_then(Value::as_str) == Some("orgops"))
            .expect("the orgops step")
            .clone();
        assert_eq!(
            orgops["with"]["admin-key"], "${{ secrets.OPENAI_ADMIN_KEY }}",
            "{job}"
        );
    }
    let jobs = serde_json::to_string(&doc["jobs"]).expect("JSON");
    assert!(
        !jobs.contains("secrets["),
        "secrets[...] sends every secret to the job"
    );

    // The required check: the last job always runs on pull requests.
    assert_eq!(doc["jobs"]["result"]["name"], "orgops");
    assert!(
        doc["jobs"]["result"]["if"]
            .as_str()
            .expect("if")
            .contains("always()")
    );
    assert!(doc["on"]["pull_request_target"].get("paths").is_none());
}

/// Two organizations, each its own live state and file.
const LIVE_A: &str = "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n";
const LIVE_B: &str = "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n  - {email: bea@example.com, role: reader}\n";
const FILE_A: &str = "version: 1\npolicy:\n  unmanaged:\n    admin_api_keys: ignore\nusers:\n  - {email: ada@example.com, role: owner}\n  - {email: dan@example.com, role: reader}\n";
const FILE_B: &str = "version: 1\npolicy:\n  unmanaged:\n    admin_api_keys: ignore\nusers:\n  - {email: ada@example.com, role: owner}\n  - {email: bea@example.com, role: owner}\n  - {email: erin@example.com, role: reader}\n";

#[test]
fn two_organizations_from_one_repository_keep_their_own_comments_hashes_and_issues() {
    let emu_a = org::start(LIVE_A);
    let emu_b = org::start(LIVE_B);
    let fake = FakeGitHub::start();
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    for (path, text) in [
        ("orgs/a/orgops.yaml", FILE_A),
        ("orgs/b/orgops.yaml", FILE_B),
    ] {
        std::fs::create_dir_all(dir.path().join(path).parent().expect("parent")).expect("mkdir");
        std::fs::write(dir.path().join(path), text).expect("write");
    }
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "two orgs"]);
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    let env = [
        ("GITHUB_REPOSITORY", "acme/orgs".to_string()),
        ("GITHUB_API_URL", fake.url.clone()),
    ];
    let pr = json!({"pull_request": {"number": 9, "base": {"sha": sha}, "head": {"repo": {"fork": false}}}});
    // One matrix job per organization: its path, its emulator (its key).
    let job = |command: &str,
               path: &str,
               emu: &orgops::emulator::RunningEmulator,
               event_name: &str,
               event: &Value| {
        let run = run_action(
            json!({"command": command, "path": path, "admin-key": org::ADMIN_KEY,
                   "openai-base-url": emu.url(), "orgops-binary": env!("CARGO_BIN_EXE_orgops")}),
            event_name,
            event,
            dir.path(),
            &env,
        );
        assert_eq!(run.failed_step, None, "{}", run.stdout);
        run
    };

    let a = job("plan", "orgs/a/orgops.yaml", &emu_a, "pull_request", &pr);
    let b = job("plan", "orgs/b/orgops.yaml", &emu_b, "pull_request", &pr);
    assert_ne!(a.outputs["plan_hash"], b.outputs["plan_hash"]);
    assert_eq!(
        (a.outputs["changes"].as_str(), b.outputs["changes"].as_str()),
        ("1", "2")
    );
    let comments = fake.comments();
    assert_eq!(comments.len(), 2, "one comment per path");
    let (comment_a, comment_b) = (&comments[0], &comments[1]);
    assert!(
        comment_a
            .2
            .starts_with("<!-- orgops:plan path=\"orgs/a/orgops.yaml\" -->")
    );
    assert!(
        comment_b
            .2
            .starts_with("<!-- orgops:plan path=\"orgs/b/orgops.yaml\" -->")
    );
    assert!(
        comment_a.2.contains(&a.outputs["plan_hash"])
            && !comment_a.2.contains(&b.outputs["plan_hash"])
    );
    assert!(
        comment_b.2.contains(&b.outputs["plan_hash"])
            && !comment_b.2.contains(&a.outputs["plan_hash"])
    );
    assert!(comment_a.2.contains("dan@example.com") && !comment_a.2.contains("erin@example.com"));
    assert!(comment_b.2.contains("erin@example.com") && !comment_b.2.contains("dan@example.com"));

    // Re-planning organization a finds a's comment (unchanged, so not edited) and touches
    // nothing of b's.
    fake.clear_calls();
    let again = job("plan", "orgs/a/orgops.yaml", &emu_a, "pull_request", &pr);
    assert_eq!(again.outputs["plan_hash"], a.outputs["plan_hash"]);
    assert_eq!(
        again.steps["run"]["outputs"]["comment"],
        json!(comment_a.1.to_string())
    );
    assert_eq!(
        fake.calls(),
        [
            "GET /user".to_string(),
            "GET /repos/acme/orgs/pulls/9".to_string(),
            "GET /repos/acme/orgs/issues/9/comments".to_string(),
        ]
    );
    assert_eq!(fake.comments()[1], *comment_b);

    // Drift: one tracking issue per organization.
    let schedule = json!({"schedule": "17 6 * * *"});
    job("drift", "orgs/a/orgops.yaml", &emu_a, "schedule", &schedule);
    job("drift", "orgs/b/orgops.yaml", &emu_b, "schedule", &schedule);
    let issues = fake.issues();
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(
        issues[0]
            .2
            .contains("<!-- orgops:drift path=\"orgs/a/orgops.yaml\" -->")
    );
    assert!(
        issues[1]
            .2
            .contains("<!-- orgops:drift path=\"orgs/b/orgops.yaml\" -->")
    );
    assert!(issues[0].2.contains("dan@example.com") && !issues[0].2.contains("erin@example.com"));
    job("drift", "orgs/b/orgops.yaml", &emu_b, "schedule", &schedule);
    assert_eq!(fake.issues().len(), 2, "drift of b updates b's issue");
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

// ------------------------------------------- the admin key and the pull request (issue 20)

/// Where the documented setup keeps the admin key, as the example workflows need it: a job
/// that names the key without an `environment:` can only get it from a repository (or
/// organization) secret, which every workflow of every branch can read; a job with an
/// environment gets it from that environment, whose deployment branches docs/github-action.md
/// sets to the default branch only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyHome {
    Repository { file: String, job: String },
    Environment(String),
}

fn names_the_key(job: &Value) -> bool {
    let text = serde_json::to_string(job).expect("JSON");
    text.contains("secrets.OPENAI_ADMIN_KEY") || text.contains("secrets[")
}

fn key_homes() -> Vec<KeyHome> {
    let mut homes = Vec::new();
    for file in [
        "orgops-plan.yml",
        "orgops-apply.yml",
        "orgops-drift.yml",
        "orgops-many-orgs.yml",
    ] {
        let doc = workflow(file);
        for (name, job) in doc["jobs"].as_object().expect("jobs") {
            if !names_the_key(job) {
                continue;
            }
            homes.push(match job.get("environment") {
                Some(env) => KeyHome::Environment(as_text(env.get("name").unwrap_or(env))),
                None => KeyHome::Repository {
                    file: file.to_string(),
                    job: name.clone(),
                },
            });
        }
    }
    homes.sort();
    homes.dedup();
    homes
}

/// Which copy of a workflow file GitHub runs for an event, and the ref it checks an
/// environment's deployment branches against (GitHub's rules since 2025-12-08).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copy {
    /// The file as it is on the default branch (reviewed, merged).
    DefaultBranch,
    /// The file as the branch (or the pull request's merge commit) has it: anyone who can
    /// push that branch wrote it.
    Branch,
}

fn runs(event: &str) -> (Copy, &'static str) {
    match event {
        // The pull request's merge commit: the branch's copy of every workflow.
        "pull_request" | "pull_request_review" | "pull_request_review_comment" => {
            (Copy::Branch, "refs/pull/1/merge")
        }
        // Always the default branch's file and ref, whatever the base branch.
        "pull_request_target" | "workflow_run" | "schedule" | "issue_comment" => {
            (Copy::DefaultBranch, "refs/heads/main")
        }
        // On the branch pushed, or the branch a run is started on.
        "push" | "workflow_dispatch" => (Copy::Branch, "refs/heads/evil"),
        other => panic!("no rule for {other}"),
    }
}

/// Every job of the default branch's workflows that `event` starts and that can reach the
/// key: what must not run anything from the pull request.
fn default_branch_jobs_with_the_key(event: &str) -> Vec<(String, String, Value)> {
    let mut jobs = Vec::new();
    for file in [
        "orgops-plan.yml",
        "orgops-apply.yml",
        "orgops-drift.yml",
        "orgops-many-orgs.yml",
    ] {
        let doc = workflow(file);
        if doc["on"].get(event).is_none() {
            continue;
        }
        for (name, job) in doc["jobs"].as_object().expect("jobs") {
            // A job whose condition names other events does not run for this one.
            let condition = job.get("if").and_then(Value::as_str).unwrap_or("");
            if condition.contains("github.event_name ==")
                && !condition.contains(&format!("github.event_name == '{event}'"))
            {
                continue;
            }
            if names_the_key(job) || job.get("environment").is_some() {
                jobs.push((file.to_string(), name.clone(), job.clone()));
            }
        }
    }
    jobs
}

#[test]
fn a_workflow_edited_on_a_pull_request_branch_never_runs_with_the_key() {
    // What the documented setup holds the key in, and the environments the docs restrict to
    // the default branch.
    let homes = key_homes();
    assert!(!homes.is_empty(), "the examples use the key");
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/github-action.md"
    ))
    .expect("docs")
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ");
    let restricted = |env: &str| {
        let documented = env.replace("${{ matrix.org }}", "NAME");
        docs.contains(&format!("`{documented}`"))
            && docs.contains("Deployment branches and tags: the default branch only")
    };

    // Someone who can push a branch but not merge edits any workflow on branch `evil` (adds a
    // job naming any environment and `secrets.OPENAI_ADMIN_KEY`), then causes every event
    // they can: a push, a pull request to main, a review, a dispatch.
    for event in [
        "push",
        "pull_request",
        "pull_request_review",
        "workflow_dispatch",
        "pull_request_target",
        "workflow_run",
        "issue_comment",
    ] {
        let (copy, reference) = runs(event);
        match copy {
            Copy::Branch => {
                // Their copy runs: it can ask for any secret of any environment; it gets the
                // key only from a place that admits `reference`.
                for home in &homes {
                    match home {
                        KeyHome::Repository { file, job } => panic!(
                            "a workflow edited on a branch gets the admin key: {event} runs the branch's copy ({reference}), and the key is a repository secret ({file}, job `{job}`, has no environment)"
                        ),
                        KeyHome::Environment(env) => assert!(
                            restricted(env) && reference != "refs/heads/main",
                            "{event} runs the branch's copy ({reference}); the environment {env} must admit the default branch only (docs/github-action.md)"
                        ),
                    }
                }
            }
            Copy::DefaultBranch => {
                // The reviewed copy runs, with the key, for a pull request it did not write:
                // nothing of the pull request may run in a job that can reach the key.
                let jobs = default_branch_jobs_with_the_key(event);
                if event == "pull_request_target" {
                    // orgops-plan.yml's plan job and orgops-many-orgs.yml's.
                    assert_eq!(
                        jobs.len(),
                        2,
                        "{:?}",
                        jobs.iter().map(|j| &j.1).collect::<Vec<_>>()
                    );
                }
                for (file, name, job) in jobs {
                    let at = format!("{file}, job `{name}` ({event})");
                    let steps = job["steps"].as_array().expect("steps");
                    let mut data_dirs = Vec::new();
                    for step in steps {
                        assert!(
                            step.get("run").is_none(),
                            "{at}: a `run:` step in a job with the key"
                        );
                        let uses = step["uses"].as_str().expect("uses");
                        assert!(
                            !uses.starts_with("./"),
                            "{at}: a local action from the checkout"
                        );
                        if uses.starts_with("actions/checkout@") {
                            let with = &step["with"];
                            assert_eq!(
                                with["persist-credentials"],
                                json!(false),
                                "{at}: the token stays in .git/config"
                            );
                            if event.starts_with("pull_request") {
                                assert_eq!(
                                    with["ref"], "${{ github.event.pull_request.head.sha }}",
                                    "{at}"
                                );
                                let path = with["path"].as_str().unwrap_or_else(|| panic!("{at}: the pull request's files are checked out into the workspace itself"));
                                data_dirs.push(path.to_string());
                            }
                        }
                        if uses.starts_with("orgops/orgops@") && event.starts_with("pull_request") {
                            assert!(
                                data_dirs
                                    .iter()
                                    .any(|d| step["with"]["working-directory"] == json!(d)),
                                "{at}: orgops must read the pull request from its data directory {data_dirs:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    // What orgops itself runs: the build (an unreleased ref) runs in the action's directory,
    // so a pull request's .cargo/config.toml or rust-toolchain.toml in the workspace is not
    // read; the cargo cache a pull request's run builds is never saved for apply to restore.
    let action = action();
    let steps = action["runs"]["steps"].as_array().expect("steps");
    let build = steps
        .iter()
        .find(|s| s["name"] == "Build orgops")
        .expect("build step");
    assert!(
        build["run"]
            .as_str()
            .expect("run")
            .starts_with("cd \"$ACTION_PATH\"\n"),
        "{build}"
    );
    for step in steps {
        let uses = step.get("uses").and_then(Value::as_str).unwrap_or("");
        assert!(
            !uses.starts_with("actions/cache@"),
            "restore and save separately: {uses}"
        );
        // The snapshot cache holds data orgops verifies (sealed snapshots), saved from pull
        // requests too; only it may be, and only that directory.
        if uses.starts_with("actions/cache/save@") && step["name"] == "Save the snapshots" {
            assert_eq!(
                step["with"]["path"].as_str(),
                Some("${{ runner.temp }}/orgops-snapshots")
            );
        } else if uses.starts_with("actions/cache/save@") {
            let condition = step["if"].as_str().expect("a condition");
            assert!(
                condition.contains("github.event_name != 'pull_request'")
                    && condition.contains("github.event_name != 'pull_request_target'"),
                "{condition}"
            );
        }
    }
}

#[test]
fn plan_and_drift_keep_sealed_snapshots_per_organization_in_the_actions_cache() {
    use crate::incremental::read_line;
    let emu_a = org::start(LIVE_A);
    let emu_b = org::start(LIVE_B);
    for emu in [&emu_a, &emu_b] {
        // One audited write: a snapshot of an empty log has no position to read from.
        let ada = org::user_id(emu, "ada@example.com");
        org::call(
            emu,
            reqwest::Method::POST,
            &format!("/organization/users/{ada}"),
            Some(json!({"role": "owner"})),
        );
    }
    let fake = FakeGitHub::start();
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in [("a.yaml", FILE_A), ("b.yaml", FILE_B)] {
        std::fs::write(dir.path().join(path), text).expect("write");
    }
    let cache = ActionsCache::new();
    let runner = Runner {
        cache: Some(&cache),
        ..this_action()
    };
    let env = [
        ("GITHUB_REPOSITORY", "acme/orgs".to_string()),
        ("GITHUB_API_URL", fake.url.clone()),
    ];
    let drift = |path: &str, emu: &orgops::emulator::RunningEmulator| {
        let run = run_action_with(
            &runner,
            json!({"command": "drift", "path": path, "admin-key": org::ADMIN_KEY,
                   "openai-base-url": emu.url(), "orgops-binary": env!("CARGO_BIN_EXE_orgops")}),
            "schedule",
            &json!({"schedule": "17 6 * * *"}),
            dir.path(),
            &env,
        );
        assert_eq!(run.failed_step, None, "{}{}", run.stdout, run.stderr);
        run
    };
    let files_of = |key: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(cache.entry(key))
            .expect("entry")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // The first run of each organization reads in full and saves a snapshot beside the
    // other's (a new entry per run: entries are immutable).
    let run = drift("a.yaml", &emu_a);
    assert!(
        read_line(&run.stderr).starts_with("note: full read: no snapshot at"),
        "{}",
        run.stderr
    );
    let first_a = run.outputs.clone();
    let run = drift("b.yaml", &emu_b);
    assert!(
        read_line(&run.stderr).starts_with("note: full read: no snapshot at"),
        "{}",
        run.stderr
    );
    let keys = cache.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("orgops-snapshots-")),
        "{keys:?}"
    );
    let names = files_of(&keys[1]);
    assert_eq!(names.len(), 2, "one snapshot per organization: {names:?}");
    // One workflow run, a matrix of both organizations: each job saves its own entry.
    let matrix = Runner {
        cache: Some(&cache),
        run_id: Some("4242"),
        ..this_action()
    };
    for (path, emu) in [("a.yaml", &emu_a), ("b.yaml", &emu_b)] {
        let run = run_action_with(
            &matrix,
            json!({"command": "drift", "path": path, "admin-key": org::ADMIN_KEY,
                   "openai-base-url": emu.url(), "orgops-binary": env!("CARGO_BIN_EXE_orgops")}),
            "schedule",
            &json!({"schedule": "17 6 * * *"}),
            dir.path(),
            &env,
        );
        assert_eq!(run.failed_step, None, "{}{}", run.stdout, run.stderr);
    }
    let of_the_run: Vec<String> = cache
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("orgops-snapshots-4242-1-"))
        .collect();
    assert_eq!(of_the_run.len(), 2, "{of_the_run:?}");
    // Then each reads only what its audit log says changed.
    let run = drift("a.yaml", &emu_a);
    assert!(
        read_line(&run.stderr).starts_with("note: incremental read: 0 audit-log event(s)"),
        "{}",
        run.stderr
    );
    let run = drift("b.yaml", &emu_b);
    assert!(
        read_line(&run.stderr).starts_with("note: incremental read"),
        "{}",
        run.stderr
    );

    // Another workflow of the repository writes the newest entry: every file forged
    // without the admin key (sealed with the other workflow's own key).
    let newest = cache.keys().last().cloned().expect("an entry");
    let theirs = orgops::live::snapshot::SnapshotKey::from_secret(
        "a-key-of-the-other-workflow-not-the-admin-key",
    )
    .expect("key");
    let forged: Vec<(String, Vec<u8>)> = files_of(&newest)
        .into_iter()
        .map(|name| {
            let forged = orgops::live::snapshot::Snapshot::of(
                &Default::default(),
                "emulator".into(),
                0,
                None,
            );
            (name, forged.seal(&theirs).expect("sealed"))
        })
        .collect();
    // What the cache holds tells a reader nothing of the organization.
    for name in files_of(&newest) {
        let text = std::fs::read_to_string(cache.entry(&newest).join(name)).expect("read");
        assert!(!text.contains("ada@example.com"), "{text}");
    }
    let planted: Vec<(&str, &[u8])> = forged
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    cache.plant("orgops-snapshots-zzz-forged", &planted);
    let run = drift("a.yaml", &emu_a);
    assert!(
        read_line(&run.stderr).starts_with(
            "note: full read: the snapshot is not sealed with this organization's key"
        ),
        "{}",
        run.stderr
    );
    // The drift report is the full read's: dan is still missing. (The tracking issue says so
    // since the first run; this run's own report and counts are what show it.)
    let issues = fake.issues();
    assert!(
        issues.iter().any(|i| i.2.contains("dan@example.com")),
        "{issues:?}"
    );
    let report = std::fs::read_to_string(&run.outputs["markdown_path"]).expect("the report");
    assert!(report.contains("dan@example.com"), "{report}");
    assert_eq!(
        run.outputs["changes"], first_a["changes"],
        "{:?}",
        run.outputs
    );

    // A planted link where a snapshot or the directory should be is never followed.
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "not for orgops").expect("write");
    let linked = tempfile::tempdir().expect("tempdir");
    for name in files_of(&cache.keys().last().cloned().expect("entry")) {
        std::os::unix::fs::symlink(&secret, linked.path().join(name)).expect("symlink");
    }
    cache.plant("orgops-snapshots-zzz-linked", &[]);
    copy_tree(linked.path(), &cache.entry("orgops-snapshots-zzz-linked"));
    let run = drift("a.yaml", &emu_a);
    assert!(
        read_line(&run.stderr).contains("is a symbolic link, which orgops never writes"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&secret).expect("read"),
        "not for orgops"
    );
    // The directory itself a link: removed before orgops runs, which then reads in full.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    cache.plant("orgops-snapshots-zzz-dirlink", &[]);
    let entry = cache.entry("orgops-snapshots-zzz-dirlink");
    std::fs::remove_dir(&entry).expect("rmdir");
    std::os::unix::fs::symlink(elsewhere.path(), &entry).expect("symlink");
    let run = drift("a.yaml", &emu_a);
    assert!(
        read_line(&run.stderr).starts_with("note: full read"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).expect("dir").count(), 0);
}
