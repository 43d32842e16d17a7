//! Day one with an existing organization (issue 23): an exported file is the truth (deleting
//! someone from it removes them, guarded by `max_removals`), a deletion the policy only
//! reports is said loudly with the line to add, and a mistyped model is a located error with
//! did-you-mean before anything is written. `adoption_walk` is the scripted walk
//! (`scripts/adoption_walk.sh` does the same for people).

use orgops::emulator::{EmulatorOptions, RunningEmulator};

use crate::support::cli::{Run, orgops, run};

/// The binary pointed at `emu` with its admin key.
fn against(emu: &RunningEmulator) -> assert_cmd::Command {
    let mut cmd = orgops();
    cmd.env("OPENAI_ADMIN_KEY", emu.admin_key())
        .env("OPENAI_BASE_URL", emu.url());
    cmd
}

/// `GET /_emulator/state`: the whole organization as YAML (what any write would change).
fn state(emu: &RunningEmulator) -> String {
    let url = format!("{}/_emulator/state", emu.base_url());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a test runtime")
        .block_on(async move {
            reqwest::get(url)
                .await
                .expect("control plane answers")
                .text()
                .await
                .expect("state body")
        })
}

/// A generated organization of `users` people, served.
fn generated(users: usize) -> RunningEmulator {
    let spec = format!(
        "users={users},projects=3,project_members=20,groups=3,group_members=10,service_accounts=1"
    )
    .parse()
    .expect("generate spec");
    let org = orgops::emulator::generate::generate(spec, 23);
    orgops::emulator::start_state_in_background(
        org,
        vec![("sk-admin-adoption".to_string(), None)],
        EmulatorOptions::default(),
    )
    .expect("emulator starts")
}

/// `text` without every line that names `email` (a user, a group member, a project member
/// and its role line).
fn without(text: &str, email: &str) -> String {
    let mut out = String::new();
    let mut skip_role_at: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(at) = skip_role_at.take()
            && indent == at
            && line.trim_start().starts_with("role:")
        {
            continue;
        }
        if line
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches("email: ")
            == email
        {
            if line.trim_start().starts_with("- email: ") {
                skip_role_at = Some(indent + 2);
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The first project member of an exported file (someone in a project and the org).
fn first_project_member(exported: &str) -> String {
    let projects = exported.find("\nprojects:").expect("projects");
    exported[projects..]
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("- email: "))
        .expect("a project member")
        .to_string()
}

fn output(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

/// The walk of issue 23: a 300-user organization is exported, someone is deleted from the
/// file, the plan removes them (from the organization and their project), apply does it, and
/// drift is in sync; then a mistyped model is a located error with did-you-mean, on an
/// existing project and on one the plan would create, and nothing is written.
#[test]
fn adoption_walk() {
    let emu = generated(300);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    let export = run(against(&emu).arg("export").arg("-o").arg(&file));
    assert_eq!(export.code, 0, "{}", output(&export));
    let exported = std::fs::read_to_string(&file).expect("export written");
    assert!(
        exported.matches("- email: ").count() >= 300,
        "not every user was exported"
    );

    // Delete someone from the file: the plan removes them.
    let victim = first_project_member(&exported);
    std::fs::write(&file, without(&exported, &victim)).expect("edit");
    let plan = run(against(&emu).arg("plan").arg("-f").arg(&file));
    assert_eq!(plan.code, 0, "{}", output(&plan));
    assert!(
        plan.stdout.contains(&format!("- remove     user:{victim}")),
        "the deletion is not planned:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("/member:{victim}")),
        "the project membership is not planned:\n{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("Not in the file"),
        "something is only reported:\n{}",
        plan.stdout
    );
    let apply = run(against(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(apply.code, 0, "{}", output(&apply));
    assert!(!state(&emu).contains(&victim), "{victim} is still live");
    let drift = run(against(&emu)
        .args(["drift", "--fail-on-unmanaged", "-f"])
        .arg(&file));
    assert_eq!(drift.code, 0, "{}", output(&drift));
    assert!(drift.stdout.contains("In sync"), "{}", drift.stdout);

    assert_mistyped_model_refused(&emu, &file);
}

/// `plan` and `apply` of `file` (holding `text`) against `emu` both exit 1 with an error
/// at the `gpt-4o-minii` key (line and column) suggesting `gpt-4o-mini`; apply's stderr.
fn refused_at(emu: &RunningEmulator, file: &std::path::Path, text: &str) -> String {
    let line = text
        .lines()
        .position(|l| l.contains("gpt-4o-minii"))
        .expect("the typo")
        + 1;
    let mut stderr = String::new();
    for command in ["plan", "apply"] {
        let mut cmd = against(emu);
        cmd.arg(command).arg("-f").arg(file);
        if command == "apply" {
            cmd.arg("--auto-approve");
        }
        let refused = run(&mut cmd);
        assert_eq!(refused.code, 1, "{command}: {}", output(&refused));
        assert!(
            refused
                .stderr
                .contains(&format!("orgops.yaml:{line}:7: error:")),
            "{command}: not located at line {line}:\n{}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("did you mean `gpt-4o-mini`?"),
            "{command}: no suggestion:\n{}",
            refused.stderr
        );
        stderr = refused.stderr;
    }
    stderr
}

/// A mistyped model on an existing project, and on a project the plan would create, is a
/// located error with did-you-mean at `plan` and at `apply` (`file` is an export of `emu`),
/// and nothing is written.
fn assert_mistyped_model_refused(emu: &RunningEmulator, file: &std::path::Path) {
    let before = state(emu);
    let edited = std::fs::read_to_string(file).expect("file");
    let existing = edited.replacen(
        "  - name: project-0000\n",
        "  - name: project-0000\n    rate_limits:\n      gpt-4o-minii:\n        max_requests_per_1_minute: 100\n",
        1,
    );
    assert_ne!(existing, edited, "no project-0000 in the export");
    std::fs::write(file, &existing).expect("edit");
    refused_at(emu, file, &existing);
    let created = edited.replacen(
        "projects:\n",
        "projects:\n  - name: Brand New\n    rate_limits:\n      gpt-4o-minii:\n        max_requests_per_1_minute: 100\n",
        1,
    );
    std::fs::write(file, &created).expect("edit");
    let stderr = refused_at(emu, file, &created);
    assert!(
        stderr.contains("Default project"),
        "does not say what it checked against:\n{stderr}"
    );
    assert_eq!(state(emu), before, "something was written");
}

/// An export is the truth: it says so in `policy`, removing members, memberships and role
/// grants the file stops listing, guarded by `max_removals`; objects whose removal destroys
/// something (groups, roles, projects, keys, service accounts, certificates) are reported.
#[test]
fn an_export_manages_members_and_memberships_and_reports_the_rest() {
    let emu = generated(20);
    let export = run(against(&emu).arg("export"));
    assert_eq!(export.code, 0, "{}", output(&export));
    let doc: serde_json::Value = serde_saphyr::from_str(&export.stdout).expect("the export parses");
    let unmanaged = &doc["policy"]["unmanaged"];
    for (kind, action) in [
        ("users", "remove"),
        ("group_members", "remove"),
        ("project_members", "remove"),
        ("project_groups", "remove"),
        ("invites", "report"),
        ("groups", "report"),
        ("service_accounts", "report"),
        ("admin_api_keys", "report"),
        ("projects", "report"),
    ] {
        assert_eq!(unmanaged[kind], action, "{kind}: {unmanaged:#}");
    }
    assert_eq!(doc["policy"]["max_removals"], 10);
    // No `remove` that can never act: the export validates without a warning.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(&file, &export.stdout).expect("write");
    let validate = run(orgops().arg("validate").arg("-f").arg(&file));
    assert_eq!(validate.code, 0, "{}", output(&validate));
    assert!(!validate.stderr.contains("warning"), "{}", validate.stderr);
}

/// A file that leaves `policy.unmanaged.users` at `report`: someone deleted from it stays,
/// and the plan says so with the line to add.
#[test]
fn a_deletion_the_policy_only_reports_is_said_with_the_line_to_add() {
    let base = "version: 1\nusers:\n  - {email: owner@example.com, role: owner}\n  - {email: gone@example.com, role: reader}\n";
    let head = "version: 1\nusers:\n  - {email: owner@example.com, role: owner}\n";
    let dir = crate::github::pr_repo(base, head);
    let live = dir.path().join("live.yaml");
    std::fs::write(&live, base).expect("live");
    // The plain plan: reported, and how to remove it.
    let plan = run(orgops().current_dir(dir.path()).args([
        "plan",
        "-f",
        "orgops.yaml",
        "--emulator",
        "live.yaml",
    ]));
    assert_eq!(plan.code, 0, "{}", output(&plan));
    assert!(
        plan.stdout.contains("policy.unmanaged.users: remove"),
        "no line to add:\n{}",
        plan.stdout
    );
    // The pull-request view: loud, naming what the pull request deletes.
    let text = crate::github::pr_plan(dir.path(), &live, "text");
    assert!(
        text.contains("Warning: this pull request deletes 1 declaration that apply will not remove: policy.unmanaged.users is report"),
        "not loud:\n{text}"
    );
    assert!(text.contains("user:gone@example.com"), "{text}");
    assert!(text.contains("policy.unmanaged.users: remove"), "{text}");
    let markdown = crate::github::pr_plan(dir.path(), &live, "markdown");
    assert!(markdown.contains("> [!WARNING]"), "not loud:\n{markdown}");
    assert!(
        markdown.contains("`policy.unmanaged.users: remove`"),
        "no line to add:\n{markdown}"
    );
    assert!(markdown.contains("`user:gone@example.com`"), "{markdown}");
    let warning = markdown.find("[!WARNING]").expect("warning");
    let table = markdown.find("Not in the file").unwrap_or(markdown.len());
    assert!(warning < table, "the warning comes after the details");
}

/// Issue 23 item 2, alone: a model the organization does not have (`gpt-4o-minii`) is a
/// located error with did-you-mean before any write, on an existing project and on one the
/// plan would create.
#[test]
fn a_mistyped_model_is_a_located_error_before_any_write() {
    let emu = generated(30);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    let export = run(against(&emu).arg("export").arg("-o").arg(&file));
    assert_eq!(export.code, 0, "{}", output(&export));
    assert_mistyped_model_refused(&emu, &file);
}
