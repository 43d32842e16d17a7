//! The GitHub integration end to end: the binary runs with a simulated Actions environment
//! (event file, output and summary files) against the emulator and a loopback fake of the
//! GitHub REST API that records every call. Also `plan --base` over a temporary git
//! repository made with the git CLI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::github_fake::FakeGitHub;
use crate::support::org;

/// Live: ada owner, bob reader, carol reader; Search has bob.
const LIVE: &str = org::ORG;

const POLICY: &str = "policy:\n  unmanaged:\n    admin_api_keys: ignore\n";

/// The file at the base: what live has.
fn base_file() -> String {
    format!(
        "version: 1\n{POLICY}{}",
        LIVE.trim_start().trim_start_matches("version: 1\n")
    )
}

/// The file the pull request proposes: carol joins Search.
fn head_file() -> String {
    format!(
        "{}      - {{email: carol@example.com, role: member}}\n",
        base_file()
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with the base file committed, then the head file committed on top.
struct Repo {
    dir: tempfile::TempDir,
    base: String,
    head: String,
}

impl Repo {
    fn new(base: &str, head: &str) -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("orgops.yaml"), base).expect("write");
        git(dir.path(), &["add", "orgops.yaml"]);
        git(dir.path(), &["commit", "-qm", "base"]);
        let base_sha = git(dir.path(), &["rev-parse", "HEAD"]);
        std::fs::write(dir.path().join("orgops.yaml"), head).expect("write");
        git(dir.path(), &["commit", "--allow-empty", "-qam", "head"]);
        let head_sha = git(dir.path(), &["rev-parse", "HEAD"]);
        Repo {
            dir,
            base: base_sha,
            head: head_sha,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A simulated Actions step: event file, output and summary files, runner temp.
struct Step {
    dir: tempfile::TempDir,
}

impl Step {
    fn new() -> Step {
        Step {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(
        &self,
        emu: &orgops::emulator::RunningEmulator,
        fake: &FakeGitHub,
        repo: &Repo,
        event: &Value,
    ) -> assert_cmd::Command {
        std::fs::write(self.file("event.json"), event.to_string()).expect("event");
        let _ = std::fs::remove_file(self.file("output"));
        let mut cmd = org::orgops(emu);
        cmd.current_dir(repo.path())
            .env("GITHUB_EVENT_PATH", self.file("event.json"))
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary"))
            .env("RUNNER_TEMP", self.dir.path())
            .env("GITHUB_REPOSITORY", "acme/org-config")
            .env("GITHUB_API_URL", &fake.url)
            .env("GITHUB_TOKEN", "ghs_test_token");
        cmd
    }

    /// The outputs the last run wrote.
    fn outputs(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.file("output")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

fn pr_event(repo: &Repo) -> Value {
    json!({"pull_request": {"number": 7, "base": {"sha": repo.base, "ref": "main"}, "head": {"sha": repo.head}}})
}

fn push_event(repo: &Repo) -> Value {
    json!({"before": repo.base, "after": repo.head, "ref": "refs/heads/main"})
}

fn run(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = cmd.output().expect("orgops runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_plan_comment_is_created_once_then_updated_in_place() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();

    let (code, _, stderr) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fake.calls(),
        vec![
            "GET /user",
            "GET /repos/acme/org-config/pulls/7",
            "GET /repos/acme/org-config/issues/7/comments",
            "POST /repos/acme/org-config/issues/7/comments"
        ]
    );
    assert!(fake.last_call_authorized(), "the token is sent");
    let outputs = step.outputs();
    assert_eq!(outputs["changes"], "1");
    assert_eq!(outputs["to_add"], "1");
    assert_eq!(outputs["to_change"], "0");
    assert_eq!(outputs["to_remove"], "0");
    assert_eq!(outputs["failure_reason"], "");
    assert!(
        Path::new(&outputs["plan_path"]).is_file(),
        "the saved plan exists"
    );
    let hash = outputs["plan_hash"].clone();
    assert!(hash.starts_with("sha256:"));

    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    let body = &comments[0].2;
    assert!(body.starts_with("<!-- orgops:plan path=\"orgops.yaml\" -->"));
    assert!(body.contains(&format!("<!-- orgops:plan-hash {hash} -->")));
    assert!(body.contains("This pull request introduces"));
    assert!(
        body.contains("**Apply after the merge: 1 change**"),
        "{body}"
    );
    assert!(body.contains("project:Search/member:carol@example.com"));
    let summary = std::fs::read_to_string(step.file("summary")).expect("summary written");
    assert!(summary.contains("project:Search/member:carol@example.com"));

    // The second run, with the same plan, leaves the comment as it is (an edit would move
    // its `updated_at` past the reviews that approved it).
    let replan = || {
        fake.clear_calls();
        let (code, _, stderr) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
            "github",
            "plan",
            "-f",
            "orgops.yaml",
        ]));
        assert_eq!(code, 0, "{stderr}");
    };
    replan();
    let reads = [
        "GET /user".to_string(),
        "GET /repos/acme/org-config/pulls/7".to_string(),
        "GET /repos/acme/org-config/issues/7/comments".to_string(),
    ];
    assert_eq!(fake.calls(), reads);
    assert_eq!(step.outputs()["plan_hash"], hash, "same plan, same hash");

    // When the plan changes (carol was made a Search owner meanwhile), the same comment is
    // edited in place.
    let search = org::project_id(&emu, "Search");
    let carol = org::user_id(&emu, "carol@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "owner"})),
    );
    replan();
    let id = comments[0].1;
    let mut edited = reads.to_vec();
    edited.push(format!("PATCH /repos/acme/org-config/issues/comments/{id}"));
    assert_eq!(fake.calls(), edited);
    assert_eq!(fake.comments().len(), 1, "never duplicated");
    assert_ne!(step.outputs()["plan_hash"], hash);
}

#[test]
fn apply_on_merge_applies_only_when_the_approved_hash_matches() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    let (code, _, stderr) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let approved = step.outputs()["plan_hash"].clone();
    fake.approve(7);
    fake.merge(&repo.head, 7);

    // Unchanged org: the gate passes and the approved plan is applied.
    fake.clear_calls();
    let (code, stdout, stderr) = run(step
        .command(&emu, &fake, &repo, &push_event(&repo))
        .env("GITHUB_SHA", &repo.head)
        .args(["github", "apply", "-f", "orgops.yaml"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let outputs = step.outputs();
    assert_eq!(outputs["approved"], "true");
    assert_eq!(outputs["plan_hash"], approved);
    assert_eq!(outputs["failure_reason"], "");
    assert_eq!(outputs["pull_request"], "7");
    assert!(
        fake.calls()
            .iter()
            .all(|c| !c.starts_with("POST") && !c.starts_with("PATCH")),
        "nothing is posted when the plan matches: {:?}",
        fake.calls()
    );
    let search = org::project_id(&emu, "Search");
    let members = org::call(
        &emu,
        reqwest::Method::GET,
        &format!("/organization/projects/{search}/users?limit=100"),
        None,
    );
    let carol = org::user_id(&emu, "carol@example.com");
    assert!(
        members["data"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["id"] == json!(carol) && m["role"] == json!("member")),
        "carol was added to Search: {members}"
    );

    // Someone changes the org: carol is made an owner of Search, so the approved grant is
    // now a role update and the plan differs.
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users/{carol}"),
        Some(json!({"role": "owner"})),
    );
    let (code, stdout, _) = run(step
        .command(&emu, &fake, &repo, &push_event(&repo))
        .env("GITHUB_SHA", &repo.head)
        .args(["github", "apply", "-f", "orgops.yaml"]));
    assert_eq!(code, 4, "a changed plan is stale");
    let outputs = step.outputs();
    assert_eq!(outputs["failure_reason"], "plan-changed");
    assert_eq!(outputs["approved"], "false");
    assert!(stdout.contains("::error::the plan changed"));
    let refusal = fake
        .comments()
        .into_iter()
        .find(|(_, _, b)| b.contains("<!-- orgops:apply path=\"orgops.yaml\" -->"))
        .expect("the difference is posted on the pull request");
    assert_eq!(refusal.0, 7);
    // Carol's membership is now a role update, no longer a grant.
    let body = &refusal.2;
    let new_at = body.find("New since approval").expect("new changes listed");
    let dropped_at = body
        .find("No longer planned")
        .expect("dropped changes listed");
    let update = body
        .find("`project_member:update:project:Search/member:carol@example.com`")
        .expect("the update is named");
    let grant = body
        .find("`project_member:grant:project:Search/member:carol@example.com`")
        .expect("the grant is named");
    assert!(
        new_at < update && update < dropped_at && dropped_at < grant,
        "{body}"
    );
}

#[test]
fn apply_without_an_approved_plan_refuses() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    fake.merge(&repo.head, 9);
    let (code, stdout, _) = run(step
        .command(&emu, &fake, &repo, &push_event(&repo))
        .env("GITHUB_SHA", &repo.head)
        .args(["github", "apply", "-f", "orgops.yaml"]));
    assert_eq!(code, 1);
    assert_eq!(step.outputs()["failure_reason"], "no-approved-plan");
    assert!(stdout.contains("#9 has no orgops plan comment"));
}

#[test]
fn drift_opens_then_updates_then_closes_one_tracking_issue() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &base_file());
    let step = Step::new();
    let schedule = json!({"schedule": "0 6 * * *"});
    let drift = |step: &Step| {
        run(step.command(&emu, &fake, &repo, &schedule).args([
            "github",
            "drift",
            "-f",
            "orgops.yaml",
        ]))
    };

    // In sync, no issue: nothing is filed.
    let (code, _, stderr) = drift(&step);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(fake.calls(), vec!["GET /repos/acme/org-config/issues"]);

    let bob = org::user_id(&emu, "bob@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    fake.clear_calls();
    let (code, _, stderr) = drift(&step);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fake.calls(),
        vec![
            "GET /repos/acme/org-config/issues",
            "POST /repos/acme/org-config/issues"
        ]
    );
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let (number, title, body, state) = &issues[0];
    assert_eq!(state, "open");
    assert!(title.contains("orgops.yaml"));
    assert!(body.contains("<!-- orgops:drift path=\"orgops.yaml\" -->"));
    assert!(body.contains("user:bob@example.com"));
    assert!(
        body.contains(org::ACTOR),
        "the issue names who changed it: {body}"
    );
    let outputs = step.outputs();
    assert_eq!(outputs["changes"], "1");
    assert_eq!(outputs["to_change"], "1");
    assert_eq!(outputs["issue"], number.to_string());

    // Still drifted: the same issue is updated.
    fake.clear_calls();
    let (code, _, _) = drift(&step);
    assert_eq!(code, 0);
    assert_eq!(
        fake.calls(),
        vec![
            "GET /repos/acme/org-config/issues".to_string(),
            format!("PATCH /repos/acme/org-config/issues/{number}")
        ]
    );
    assert_eq!(fake.issues().len(), 1);

    // Back in sync: the issue is closed.
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "reader"})),
    );
    fake.clear_calls();
    let (code, _, _) = drift(&step);
    assert_eq!(code, 0);
    assert_eq!(
        fake.calls(),
        vec![
            "GET /repos/acme/org-config/issues".to_string(),
            format!("PATCH /repos/acme/org-config/issues/{number}")
        ]
    );
    assert_eq!(fake.last_body()["state"], json!("closed"));
    assert_eq!(fake.last_body()["state_reason"], json!("completed"));
    let issues = fake.issues();
    assert_eq!(issues[0].3, "closed");
    assert!(issues[0].2.contains("In sync"));
    assert_eq!(step.outputs()["changes"], "0");
}

#[test]
fn invalid_yaml_is_annotated_on_its_line() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let bad = "version: 1\nusers:\n  - {email: ada@example.com, role: ownr}\n";
    let repo = Repo::new(&base_file(), bad);
    let step = Step::new();
    let (code, stdout, _) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("::error file=orgops.yaml,line=3,col="),
        "{stdout}"
    );
    assert_eq!(step.outputs()["failure_reason"], "invalid");
    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].2.contains("The desired state is invalid"));
}

#[test]
fn without_an_admin_key_it_validates_and_says_why_it_cannot_plan() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    let (code, stdout, _) = run(step
        .command(&emu, &fake, &repo, &pr_event(&repo))
        .env_remove("OPENAI_ADMIN_KEY")
        .args(["github", "plan", "-f", "orgops.yaml"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("::warning::orgops cannot plan: no admin key"),
        "{stdout}"
    );
    assert!(stdout.contains("forks"));
    assert_eq!(step.outputs()["failure_reason"], "no-admin-key");
    assert!(
        fake.calls().is_empty(),
        "a fork's read-only token is not used"
    );
    let summary = std::fs::read_to_string(step.file("summary")).expect("summary");
    assert!(summary.contains("**Valid**, but not planned"));
}

#[test]
fn plan_base_separates_the_change_from_pre_existing_drift() {
    let emu = org::start(LIVE);
    let repo = Repo::new(&base_file(), &head_file());
    // Pre-existing drift: bob was made an owner outside the file.
    let bob = org::user_id(&emu, "bob@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    let (code, stdout, stderr) = run(org::orgops(&emu)
        .current_dir(repo.path())
        .args(["plan", "--format", "json", "--base"])
        .arg(&repo.base)
        .args(["-f", "orgops.yaml"]));
    assert_eq!(code, 0, "{stderr}");
    let view: Value = serde_json::from_str(&stdout).expect("JSON");
    let ids = |part: &str| -> Vec<String> {
        view[part]["changes"]
            .as_array()
            .unwrap_or_else(|| panic!("{part}: {view:#}"))
            .iter()
            .map(|c| c["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(view["base"]["commit"], json!(repo.base));
    assert_eq!(view["base"]["state"], json!("valid"));
    assert_eq!(
        ids("introduced"),
        vec!["project_member:grant:project:Search/member:carol@example.com"]
    );
    assert_eq!(
        ids("pre_existing"),
        vec!["user:update:user:bob@example.com"]
    );
    let mut all = ids("plan");
    all.sort();
    assert_eq!(
        all,
        vec![
            "project_member:grant:project:Search/member:carol@example.com",
            "user:update:user:bob@example.com"
        ]
    );

    // A path absent at the base: everything is introduced.
    let (code, stdout, stderr) = run(org::orgops(&emu)
        .current_dir(repo.path())
        .args(["plan", "--base", "HEAD", "-f", "new.yaml"]));
    assert_eq!(code, 1, "new.yaml does not exist at HEAD either: {stdout}");
    assert!(stderr.contains("new.yaml"), "{stderr}");

    // An unknown revision is a clear error.
    let (code, _, stderr) = run(org::orgops(&emu).current_dir(repo.path()).args([
        "plan",
        "--base",
        "no-such-ref",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no-such-ref"), "{stderr}");
}

/// One live read serves the pull request's three plans, so it must read everything either
/// file manages: when the head stops managing the organization's spend limit and Search's
/// members, drift the base's own declarations have is still pre-existing drift.
#[test]
fn plan_base_reads_what_only_the_base_manages() {
    let live = LIVE.replace(
        "{email: bob@example.com, role: member}",
        "{email: bob@example.com, role: owner}",
    );
    let emu = org::start(&format!(
        "{live}settings:\n  spend_limit: {{amount_cents: 600000}}\n"
    ));
    let base = format!(
        "{}settings:\n  spend_limit: {{amount_cents: 500000}}\n",
        base_file()
    );
    let head = base_file().replace(
        "    members:\n      - {email: bob@example.com, role: member}\n",
        "",
    );
    assert_ne!(head, base_file(), "the head drops Search's members");
    let repo = Repo::new(&base, &head);
    let (code, stdout, stderr) = run(org::orgops(&emu)
        .current_dir(repo.path())
        .args(["plan", "--format", "json", "--base"])
        .arg(&repo.base)
        .args(["-f", "orgops.yaml"]));
    assert_eq!(code, 0, "{stderr}");
    let view: Value = serde_json::from_str(&stdout).expect("JSON");
    let ids = |part: &str| -> Vec<String> {
        view[part]["changes"]
            .as_array()
            .unwrap_or_else(|| panic!("{part}: {view:#}"))
            .iter()
            .map(|c| c["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        ids("pre_existing"),
        vec![
            "project_member:update:project:Search/member:bob@example.com",
            "organization_spend_limit:update:settings:spend_limit",
        ],
        "drift of what the base declares"
    );
    assert_eq!(
        ids("plan"),
        Vec::<String>::new(),
        "the head manages neither"
    );
}

// ------------------------------------------------------------- forged approvals (issue 12)

/// The body `github plan` posts for the pull request now, made against a scratch fake: what
/// anyone reading the thread can copy (the marker and the current hash are in plain sight).
fn genuine_plan_body(emu: &orgops::emulator::RunningEmulator, repo: &Repo) -> String {
    let scratch = FakeGitHub::start();
    let step = Step::new();
    let (code, _, stderr) = run(step.command(emu, &scratch, repo, &pr_event(repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    scratch.comments()[0].2.clone()
}

/// Carol's role in Search, if she is a member.
fn carol_in_search(emu: &orgops::emulator::RunningEmulator) -> Option<String> {
    let search = org::project_id(emu, "Search");
    let carol = org::user_id(emu, "carol@example.com");
    let members = org::call(
        emu,
        reqwest::Method::GET,
        &format!("/organization/projects/{search}/users?limit=100"),
        None,
    );
    members["data"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["id"] == json!(carol))
        .and_then(|m| m["role"].as_str().map(str::to_string))
}

fn apply_merged(
    emu: &orgops::emulator::RunningEmulator,
    fake: &FakeGitHub,
    repo: &Repo,
    step: &Step,
) -> (i32, String, String) {
    run(step
        .command(emu, fake, repo, &push_event(repo))
        .env("GITHUB_SHA", &repo.head)
        .args(["github", "apply", "-f", "orgops.yaml"]))
}

#[test]
fn a_plan_comment_forged_by_another_user_is_never_edited_nor_applied() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    let forged = genuine_plan_body(&emu, &repo);

    // `github plan` leaves the author's copy alone and writes its own comment.
    let mallory = fake.post_comment_as(7, "mallory", "User", &forged);
    let (code, _, stderr) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !fake.calls().contains(&format!(
            "PATCH /repos/acme/org-config/issues/comments/{mallory}"
        )),
        "the author's comment was edited: {:?}",
        fake.calls()
    );
    let comments = fake.stored_comments();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert_eq!(comments[0].body, forged, "the forged comment is untouched");
    assert_eq!(comments[1].login, "github-actions[bot]");

    // A merged pull request whose only plan comment is the author's: nothing is applied.
    fake.post_comment_as(8, "mallory", "User", &forged);
    fake.merge(&repo.head, 8);
    let (code, stdout, stderr) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(step.outputs()["failure_reason"], "no-approved-plan");
    assert_eq!(step.outputs()["approved"], "false");
    assert_eq!(carol_in_search(&emu), None, "zero writes to the org");
}

#[test]
fn a_plan_comment_posing_as_the_bot_with_another_user_type_is_ignored() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    let forged = genuine_plan_body(&emu, &repo);
    // Same login as the workflow's bot, but a user account (or an edited copy of the JSON).
    fake.post_comment_as(7, "github-actions[bot]", "User", &forged);
    fake.merge(&repo.head, 7);
    let (code, stdout, stderr) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(step.outputs()["failure_reason"], "no-approved-plan");
    assert_eq!(carol_in_search(&emu), None, "zero writes to the org");
    assert!(
        fake.calls().iter().all(|c| !c.starts_with("PATCH")),
        "{:?}",
        fake.calls()
    );
}

#[test]
fn re_running_the_plan_job_after_the_merge_cannot_approve_a_changed_plan() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    let (code, _, stderr) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let approved_body = fake.comments()[0].2.clone();
    fake.approve(7);
    fake.merge(&repo.head, 7);

    // Before the apply runs, carol is made an owner of Search: the plan changes.
    let search = org::project_id(&emu, "Search");
    let carol = org::user_id(&emu, "carol@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "owner"})),
    );
    let (code, stdout, _) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 4, "{stdout}");
    let fresh = step.outputs()["plan_hash"].clone();
    let refusal = fake
        .comments()
        .into_iter()
        .find(|(_, _, b)| b.contains("<!-- orgops:apply path=\"orgops.yaml\" -->"))
        .expect("the refusal is posted")
        .2;
    assert!(
        !refusal.contains(&fresh),
        "the refusal offers the fresh hash: {refusal}"
    );
    assert!(!stdout.contains(&fresh), "{stdout}");
    assert!(refusal.contains("open a new pull request"), "{refusal}");
    assert!(!refusal.contains("Re-run"), "{refusal}");

    // Re-running the plan job of the merged pull request touches nothing.
    fake.clear_calls();
    let (code, stdout, _) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(step.outputs()["failure_reason"], "pull-request-closed");
    assert!(stdout.contains("open a new pull request"), "{stdout}");
    assert!(
        fake.calls()
            .iter()
            .all(|c| !c.starts_with("PATCH") && !c.starts_with("POST")),
        "{:?}",
        fake.calls()
    );
    assert_eq!(fake.comments()[0].2, approved_body);

    // Even if the comment is edited after the merge (a re-run of an older orgops, a
    // maintainer's edit), the approval is what stood at the merge: the refusal stands.
    let id = fake.comments()[0].1;
    {
        let mut s = fake.state.lock().expect("lock");
        s.clock += 1;
        let now = s.clock;
        let c = s.comments.iter_mut().find(|c| c.id == id).expect("comment");
        c.body = genuine_plan_body(&emu, &repo);
        c.updated_at = now;
    }
    let (code, stdout, _) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(step.outputs()["failure_reason"], "no-approved-plan");
    assert_eq!(
        carol_in_search(&emu).as_deref(),
        Some("owner"),
        "zero writes to the org"
    );
}

#[test]
fn a_closed_pull_request_keeps_its_plan_comment() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    fake.close(7);
    let (code, stdout, _) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(step.outputs()["failure_reason"], "pull-request-closed");
    assert!(fake.comments().is_empty());
}

#[test]
fn the_workflow_identity_is_discovered_for_each_kind_of_token() {
    // (who writes, what GET /user answers, ORGOPS_GITHUB_BOT_LOGIN)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<(&'a str, &'a str)>,
        Option<&'a str>,
    );
    let cases: [Case; 3] = [
        ("github-actions[bot]", "Bot", None, None),
        ("orgops-app[bot]", "Bot", None, Some("orgops-app[bot]")),
        ("ci-admin", "User", Some(("ci-admin", "User")), None),
    ];
    for (login, user_type, token_user, bot_login) in cases {
        let emu = org::start(LIVE);
        let fake = FakeGitHub::start();
        fake.set_token_identity(login, user_type);
        fake.set_token_user(token_user);
        let repo = Repo::new(&base_file(), &head_file());
        let step = Step::new();
        let with_login = |mut cmd: assert_cmd::Command| {
            if let Some(b) = bot_login {
                cmd.env("ORGOPS_GITHUB_BOT_LOGIN", b);
            }
            cmd
        };
        for _ in 0..2 {
            let mut cmd = with_login(step.command(&emu, &fake, &repo, &pr_event(&repo)));
            let (code, _, stderr) = run(cmd.args(["github", "plan", "-f", "orgops.yaml"]));
            assert_eq!(code, 0, "{login}: {stderr}");
        }
        assert_eq!(
            fake.comments().len(),
            1,
            "{login}: its own comment is found again"
        );
        fake.approve(7);
        fake.merge(&repo.head, 7);
        let mut cmd = with_login(step.command(&emu, &fake, &repo, &push_event(&repo)));
        let (code, stdout, stderr) =
            run(cmd
                .env("GITHUB_SHA", &repo.head)
                .args(["github", "apply", "-f", "orgops.yaml"]));
        assert_eq!(code, 0, "{login}: {stdout}\n{stderr}");
        assert_eq!(step.outputs()["approved"], "true");
        assert_eq!(carol_in_search(&emu).as_deref(), Some("member"), "{login}");
    }
}

// ------------------------------------------------- what the reviewer saw is what runs (issue 20)

/// The bot's comment with its hidden fields (marker, hash, digests) kept and the visible
/// plan replaced by a harmless-looking one: what another workflow's token can write.
fn forged_edit(genuine: &str) -> String {
    let hidden: Vec<&str> = genuine
        .lines()
        .take_while(|l| l.starts_with("<!-- orgops:"))
        .collect();
    assert!(hidden.len() >= 2, "marker and hash: {genuine}");
    format!(
        "{}\n### orgops plan: `orgops.yaml`\n\n**Apply after the merge: no changes.** The organization already matches the file.\n",
        hidden.join("\n")
    )
}

/// Plans pull request 7 and returns the bot comment's id and body.
fn plan_pull_request(
    emu: &orgops::emulator::RunningEmulator,
    fake: &FakeGitHub,
    repo: &Repo,
    step: &Step,
) -> (u64, String) {
    let (code, _, stderr) = run(step.command(emu, fake, repo, &pr_event(repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let comments = fake.comments();
    let (_, id, body) = comments.last().expect("the plan comment").clone();
    (id, body)
}

#[test]
fn a_forged_edit_of_the_bots_plan_comment_is_refused_at_apply() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    let (id, genuine) = plan_pull_request(&emu, &fake, &repo, &step);
    assert!(genuine.contains("carol@example.com"), "{genuine}");

    // Another workflow (any branch's, with `pull-requests: write`) rewrites what the reviewer
    // reads, keeping the marker, the hash and the digests; the author is still the bot.
    let forged = forged_edit(&genuine);
    fake.edit_comment_with_token(id, &forged, "ghs_another_workflows_token");
    let stored = fake.stored_comments();
    assert_eq!(stored[0].login, "github-actions[bot]");
    assert_eq!(stored[0].body, forged);
    // The reviewer approves what they read, after the edit; the pull request is merged.
    fake.approve(7);
    fake.merge(&repo.head, 7);

    let (code, stdout, stderr) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 4, "the forged comment is refused: {stdout}\n{stderr}");
    let outputs = step.outputs();
    assert_eq!(outputs["failure_reason"], "comment-changed");
    assert_eq!(outputs["approved"], "false");
    assert_eq!(carol_in_search(&emu), None, "zero writes to the org");
    let summary = std::fs::read_to_string(step.file("summary")).expect("summary written");
    assert!(
        summary.contains("does not show the plan apply would run"),
        "{summary}"
    );
    assert!(
        summary.contains("project:Search/member:carol@example.com"),
        "the summary shows what would have run: {summary}"
    );
    assert!(stdout.contains("::error::"), "{stdout}");

    // The genuine comment, untouched, applies (the same flow, another pull request).
    let fake = FakeGitHub::start();
    let step = Step::new();
    plan_pull_request(&emu, &fake, &repo, &step);
    fake.approve(7);
    fake.merge(&repo.head, 7);
    let (code, stdout, stderr) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(carol_in_search(&emu).as_deref(), Some("member"));
}

#[test]
fn only_an_approving_review_after_the_comments_last_edit_approves_it() {
    let emu = org::start(LIVE);
    let repo = Repo::new(&base_file(), &head_file());

    // (what happens between the plan and the merge, what apply must say)
    type Case = (&'static str, fn(&FakeGitHub, u64, &str), &'static str);
    let cases: [Case; 5] = [
        ("no review at all", |_, _, _| {}, "no approving review"),
        (
            "a review that asks for changes",
            |fake, _, _| fake.review(7, "maintainer", "User", "MEMBER", "CHANGES_REQUESTED"),
            "no approving review",
        ),
        (
            "an approval by a bot (another workflow's token can approve)",
            |fake, _, _| fake.review(7, "github-actions[bot]", "Bot", "NONE", "APPROVED"),
            "no approving review",
        ),
        (
            "an approval by someone without access to the repository",
            |fake, _, _| fake.review(7, "passer-by", "User", "NONE", "APPROVED"),
            "no approving review",
        ),
        (
            // Forged before the review, restored after it: the text now matches the plan,
            // but the reviewer approved the forged one.
            "the reviewer approved a forged text that was restored afterwards",
            |fake, id, genuine| {
                fake.edit_comment_with_token(
                    id,
                    &forged_edit(genuine),
                    "ghs_another_workflows_token",
                );
                fake.approve(7);
                fake.edit_comment_with_token(id, genuine, "ghs_another_workflows_token");
            },
            "after the plan comment was last edited",
        ),
    ];
    for (what, between, message) in cases {
        let fake = FakeGitHub::start();
        let step = Step::new();
        let (id, genuine) = plan_pull_request(&emu, &fake, &repo, &step);
        between(&fake, id, &genuine);
        fake.merge(&repo.head, 7);
        let (code, stdout, stderr) = apply_merged(&emu, &fake, &repo, &step);
        assert_eq!(code, 1, "{what}: {stdout}\n{stderr}");
        assert_eq!(
            step.outputs()["failure_reason"],
            "no-approved-plan",
            "{what}"
        );
        assert!(stdout.contains(message), "{what}: {stdout}");
        assert_eq!(
            carol_in_search(&emu),
            None,
            "{what}: zero writes to the org"
        );
    }

    // Re-running the plan job after the review with nothing changed keeps the comment as it
    // is (no edit), so the approval stands.
    let fake = FakeGitHub::start();
    let step = Step::new();
    let (id, genuine) = plan_pull_request(&emu, &fake, &repo, &step);
    fake.approve(7);
    fake.clear_calls();
    plan_pull_request(&emu, &fake, &repo, &step);
    assert!(
        !fake.calls().contains(&format!(
            "PATCH /repos/acme/org-config/issues/comments/{id}"
        )),
        "an unchanged comment is not edited: {:?}",
        fake.calls()
    );
    assert_eq!(fake.comments()[0].2, genuine);
    fake.merge(&repo.head, 7);
    let (code, stdout, stderr) = apply_merged(&emu, &fake, &repo, &step);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(carol_in_search(&emu).as_deref(), Some("member"));
}

// ------------------------------------------------------------------ renderings (issue 13)

#[test]
fn a_hostile_live_name_cannot_hide_the_rest_of_the_plan_comment() {
    let emu = org::start(LIVE);
    let hostile = "A\u{1b}[2J\u{0}\n```\n</details><!-- the rest is hidden";
    for name in [hostile, "Zeta"] {
        org::call(
            &emu,
            reqwest::Method::POST,
            "/organization/projects",
            Some(json!({ "name": name })),
        );
    }
    let policy = "policy:\n  max_removals: 10\n  unmanaged:\n    admin_api_keys: ignore\n    projects: archive\n";
    let base = base_file().replace(POLICY, policy);
    let head = head_file().replace(POLICY, policy);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base, &head);
    let step = Step::new();
    let (code, stdout, stderr) = run(step.command(&emu, &fake, &repo, &pr_event(&repo)).args([
        "github",
        "plan",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let body = fake.comments()[0].2.clone();
    // The hidden fields are the first lines; below them no name may open a comment.
    let markdown: String = body
        .lines()
        .skip_while(|l| l.starts_with("<!-- orgops:"))
        .collect::<Vec<_>>()
        .join("\n");
    let visible = crate::support::markdown::visible(&markdown)
        .unwrap_or_else(|html| panic!("raw HTML {html:?} in:\n{markdown}"));
    assert!(visible.contains("project:Zeta"), "{markdown}");
    assert!(visible.contains("carol@example.com"), "{markdown}");
    assert!(
        visible.contains("project:A\\u{1b}[2J\\u{0}\\u{a}```\\u{a}</details><!-- the rest"),
        "{markdown}"
    );
    for line in stdout.lines() {
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a raw control character: {line:?}"
        );
    }
}

#[test]
fn workflow_commands_escape_what_they_carry() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &head_file());
    let step = Step::new();
    fake.merge(&repo.head, 9);
    let path = "100%\r\n::warning file=x.yaml::forged,yes.yaml";
    let (code, stdout, _) = run(step
        .command(&emu, &fake, &repo, &push_event(&repo))
        .env("GITHUB_SHA", &repo.head)
        .args(["github", "apply", "-f", path]));
    assert_eq!(code, 1, "{stdout}");
    for line in stdout.lines() {
        assert!(
            !line.trim_start().starts_with("::warning"),
            "a name started a workflow command: {stdout}"
        );
    }
    assert!(
        stdout.contains("100%25%0D%0A::warning file=x.yaml::forged,yes.yaml"),
        "{stdout}"
    );
}

#[test]
fn drift_of_objects_under_report_opens_no_issue_unless_fail_on_unmanaged() {
    let emu = org::start(LIVE);
    let fake = FakeGitHub::start();
    let repo = Repo::new(&base_file(), &base_file());
    let step = Step::new();
    let schedule = json!({"schedule": "0 6 * * *"});
    // carol joins Search outside the file: an undeclared member, and the policy for project
    // members is `report` (the default), so apply would change nothing.
    let carol = org::user_id(&emu, "carol@example.com");
    let search = org::project_id(&emu, "Search");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "member"})),
    );
    let (code, stdout, stderr) = run(step.command(&emu, &fake, &repo, &schedule).args([
        "github",
        "drift",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fake.calls(),
        vec!["GET /repos/acme/org-config/issues"],
        "no tracking issue for what apply would not change"
    );
    assert!(fake.issues().is_empty());
    let outputs = step.outputs();
    assert_eq!(outputs["drift"], "false");
    assert_eq!(outputs["changes"], "0");
    assert!(
        stdout.contains("project:Search/member:carol@example.com"),
        "still listed for information: {stdout}"
    );

    // `--fail-on-unmanaged` counts it: the issue is opened.
    fake.clear_calls();
    let (code, _, stderr) = run(step.command(&emu, &fake, &repo, &schedule).args([
        "github",
        "drift",
        "--fail-on-unmanaged",
        "-f",
        "orgops.yaml",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fake.calls(),
        vec![
            "GET /repos/acme/org-config/issues",
            "POST /repos/acme/org-config/issues"
        ]
    );
    assert_eq!(step.outputs()["drift"], "true");
    let issues = fake.issues();
    assert!(
        issues[0]
            .2
            .contains("project:Search/member:carol@example.com")
    );
}

// ------------------------------------------------------- the comment shows the net plan (issue 12.4)

/// A repository on branch `main` holding `base` (with the quickstart's certificate), and a
/// branch `pr` holding `head` on top: `plan --base main` from it is the pull request's view.
pub(crate) fn pr_repo(base: &str, head: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs");
    std::fs::copy(
        crate::support::cli::root().join("examples/quickstart/certs/acme-mtls.pem"),
        certs.join("acme-mtls.pem"),
    )
    .expect("copy cert");
    std::fs::write(dir.path().join("orgops.yaml"), base).expect("write");
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "base"]);
    git(dir.path(), &["checkout", "-qb", "pr"]);
    std::fs::write(dir.path().join("orgops.yaml"), head).expect("write");
    git(dir.path(), &["commit", "--allow-empty", "-qam", "head"]);
    dir
}

/// `plan --base main` of the repository, against the emulator seeded from `live` (a path).
pub(crate) fn pr_plan(dir: &Path, live: &Path, format: &str) -> String {
    let (code, stdout, stderr) = run(crate::support::cli::orgops()
        .current_dir(dir)
        .args([
            "plan",
            "--base",
            "main",
            "-f",
            "orgops.yaml",
            "--format",
            format,
        ])
        .arg("--emulator")
        .arg(live));
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// The numbers of an arithmetic line `N = a x + b y + ...`: N and the terms.
fn sum_line(markdown: &str, after: &str) -> (usize, Vec<usize>) {
    let start = markdown
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} in:\n{markdown}"));
    let line = markdown[start..]
        .lines()
        .find(|l| l.contains(" = "))
        .unwrap_or_else(|| panic!("no sum after {after:?} in:\n{markdown}"));
    let number = |s: &str| -> usize {
        let digits: String = s
            .trim_start_matches(['*', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("no number at {s:?} in {line:?}"))
    };
    let (total, terms) = line.split_once(" = ").expect("a sum");
    let total = number(total.rsplit(' ').next().unwrap_or(total));
    (total, terms.split(" + ").map(number).collect())
}

fn quickstart_pr_base() -> String {
    let head = std::fs::read_to_string(
        crate::support::cli::root().join("examples/quickstart/orgops.yaml"),
    )
    .expect("quickstart");
    // Before the pull request: no Research project, and gpt-4o as live has it.
    let start = head.find("  - name: Research\n").expect("Research");
    // To the next project, or the end (projects are in canonical order).
    let end = head[start + 1..]
        .find("\n  - name: ")
        .map_or(head.len(), |at| start + 2 + at);
    let base = format!("{}{}", &head[..start], &head[end..]);
    base.replace(
        "max_requests_per_1_minute: 500",
        "max_requests_per_1_minute: 300",
    )
}

/// A repository whose pull request adds the quickstart's `Research` project and raises
/// Production's `gpt-4o` limit, and the quickstart's live state.
pub(crate) fn quickstart_pr_repo() -> (tempfile::TempDir, std::path::PathBuf) {
    let head = std::fs::read_to_string(
        crate::support::cli::root().join("examples/quickstart/orgops.yaml"),
    )
    .expect("quickstart");
    let dir = pr_repo(&quickstart_pr_base(), &head);
    let live = crate::support::cli::root().join("examples/quickstart/live.yaml");
    (dir, live)
}

/// Issue 25 item 7: what the pull request itself changes comes first, unfolded, right after
/// what needs attention; the rest of the net plan and the drift follow.
#[test]
fn the_pull_requests_own_changes_come_first() {
    let (dir, live) = quickstart_pr_repo();
    let markdown = pr_plan(dir.path(), &live, "markdown");
    let at = |what: &str| {
        markdown
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} in:\n{markdown}"))
    };
    let own = at("#### This pull request introduces");
    for later in ["#### Destructive changes", "#### Order", "<details>"] {
        assert!(
            own < at(later),
            "the pull request's changes come after {later:?}"
        );
    }
    let section = &markdown[own..];
    let section = &section[..section[5..]
        .find("\n#### ")
        .map_or(section.len(), |e| e + 5)];
    assert!(!section.contains("<details>"), "folded:\n{section}");
    assert!(section.contains("+ create project:Research"), "{section}");
    assert!(
        section.contains("max_requests_per_1_minute: 300 → 500"),
        "{section}"
    );
}

#[test]
fn the_quickstart_pull_request_comment_shows_the_net_plan_first() {
    let (dir, live) = quickstart_pr_repo();
    let markdown = pr_plan(dir.path(), &live, "markdown");
    insta::assert_snapshot!("quickstart_pull_request_markdown", markdown);

    let view: Value = serde_json::from_str(&pr_plan(dir.path(), &live, "json")).expect("JSON");
    let count = |part: &str| view[part]["changes"].as_array().map_or(0, Vec::len);
    let net = count("plan");
    assert!(net > 0);

    // The net plan comes first: its count is the first thing after the title.
    let first = markdown
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .expect("a line");
    assert!(
        first.starts_with(&format!("**Apply after the merge: {net} changes**")),
        "{first}"
    );
    // Where the net changes come from adds up to the net plan.
    let (total, terms) = sum_line(&markdown, "**Apply after the merge");
    assert_eq!(total, net);
    assert_eq!(terms.iter().sum::<usize>(), net, "{terms:?}");
    // Each explanation adds up to its own plan.
    let (introduced, intro_terms) = sum_line(&markdown, "#### This pull request introduces");
    assert_eq!(introduced, count("introduced"));
    assert_eq!(intro_terms.iter().sum::<usize>(), introduced);
    let (drift, drift_terms) = sum_line(&markdown, "#### Drift that merging also corrects");
    assert_eq!(drift, count("pre_existing"));
    assert_eq!(drift_terms.iter().sum::<usize>(), drift);
    // The changes of each explanation found in the plan are the net ones they explain:
    // only-PR + only-drift + both (+ neither) = net.
    let (pr_only, drift_only, both) = (terms[0], terms[1], terms[2]);
    assert_eq!(intro_terms[0], pr_only + both);
    assert_eq!(drift_terms[0], drift_only + both);

    // Order of the sections: net, needs attention, the pull request's own changes,
    // destructive, waiting for invites, order picture, then the drift.
    let at = |needle: &str| {
        markdown
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{markdown}"))
    };
    assert!(at("#### Needs attention") < at("#### This pull request introduces"));
    assert!(at("#### This pull request introduces") < at("#### Destructive changes"));
    assert!(at("#### Destructive changes") < at("#### Waiting for invites"));
    assert!(at("#### Waiting for invites") < at("```mermaid\nflowchart LR\n"));
    assert!(at("```mermaid") < at("#### Drift that merging also corrects"));
    assert!(markdown.contains("group:research/member:carol@acme.example"));
    // Folded sections are named in words, not kind names.
    assert!(
        markdown.contains("<b>Project roles of members</b>"),
        "{markdown}"
    );
    assert!(
        !markdown.contains("<b>project_member_role</b>"),
        "{markdown}"
    );
}

#[test]
fn a_rate_limit_raised_over_drift_shows_the_net_change_apply_runs() {
    let file = |limit: u32| {
        format!(
            "version: 1\npolicy:\n  unmanaged:\n    admin_api_keys: ignore\nusers:\n  - {{email: ada@example.com, role: owner}}\nprojects:\n  - name: Search\n    rate_limits:\n      gpt-4o: {{max_requests_per_1_minute: {limit}}}\n"
        )
    };
    let dir = pr_repo(&file(300), &file(600));
    // Drift: live holds 900.
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        file(900).replace("policy:\n  unmanaged:\n    admin_api_keys: ignore\n", ""),
    )
    .expect("live");
    let markdown = pr_plan(dir.path(), &live, "markdown");
    let section = |heading: &str| -> &str {
        let start = markdown
            .find(heading)
            .unwrap_or_else(|| panic!("no {heading:?} in:\n{markdown}"));
        let rest = &markdown[start + heading.len()..];
        &rest[..rest.find("\n#### ").unwrap_or(rest.len())]
    };
    // A lowered limit is destructive: the net change is there, never folded.
    let destructive = section("#### Destructive changes");
    assert!(
        destructive.contains("! update project:Search/rate_limit:gpt-4o"),
        "{markdown}"
    );
    assert!(
        destructive.contains("max_requests_per_1_minute: 900 → 600"),
        "the net change is not in the net section:\n{markdown}"
    );
    assert!(!destructive.contains("<details>"));
    assert!(
        section("#### Needs attention").contains("900 → 600 requests per minute (lowered)"),
        "{markdown}"
    );
    // The explanations say what each side says.
    assert!(
        section("#### This pull request introduces").contains("300 → 600"),
        "{markdown}"
    );
    assert!(
        section("#### Drift that merging also corrects").contains("900 → 300"),
        "{markdown}"
    );
}
