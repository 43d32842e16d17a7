//! `export --target KEY` (adopt one live object into an existing file or directory) and
//! `drift --write` (accept drift into the file): what changes is edited, everything else
//! (comments, order, layout) stays byte for byte, and the plan is empty afterwards.

use std::path::Path;

use serde_json::json;

use crate::support::cli::{Run, run};
use crate::support::org::{self, plan_json};

/// The live organization: ada owns it; bob, carol, dave; Search (bob), Labs (a service
/// account `ci`); group eng (bob).
const LIVE: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bob@example.com, role: reader}
  - {email: carol@example.com, role: reader}
  - {email: dave@example.com, role: reader}
groups:
  - {name: eng, members: [bob@example.com]}
projects:
  - name: Labs
    service_accounts:
      - {name: ci, role: member}
  - name: Search
    members:
      - {email: bob@example.com, role: member}
"#;

/// The admin's file: hand-written, commented, in its own layout; it declares ada, bob and
/// Search only.
const FILE: &str = r#"# Our organization.
version: 1

policy:
  unmanaged:
    admin_api_keys: ignore   # the emulator's own key

users:
  # The founders.
  - {email: ada@example.com, role: owner}   # owner
  - email: bob@example.com
    role: reader   # bob reads

projects:
  - name: Search   # the search team
    members:
      - {email: bob@example.com, role: member}
# end of file
"#;

fn adopt(emu: &orgops::emulator::RunningEmulator, out: &Path, targets: &[&str]) -> Run {
    let mut cmd = org::orgops(emu);
    cmd.arg("export").arg("-o").arg(out);
    for t in targets {
        cmd.args(["--target", t]);
    }
    run(&mut cmd)
}

/// The lines of `after` that are not in `before`, checking that removing them gives
/// `before` back byte for byte (nothing else moved).
fn inserted(before: &str, after: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut added = Vec::new();
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Delete => {
                panic!(
                    "line removed or changed: {:?}\n---\n{after}",
                    change.value()
                )
            }
            similar::ChangeTag::Insert => added.push(change.value().to_string()),
            similar::ChangeTag::Equal => {}
        }
    }
    added
}

fn plan_keys(emu: &orgops::emulator::RunningEmulator, file: &Path) -> Vec<String> {
    let plan = plan_json(emu, file);
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["key"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn export_target_adds_a_user_where_fmt_puts_it_and_leaves_every_other_byte() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = org::write(dir.path(), "orgops.yaml", FILE);
    let out = adopt(&emu, &file, &["user:dave@example.com"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("added user:dave@example.com in"),
        "{}",
        out.stderr
    );
    let after = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        inserted(FILE, &after),
        vec!["  - email: dave@example.com\n", "    role: reader\n"],
        "{after}"
    );
    // After bob (canonical order), before `projects:`.
    assert!(
        after.contains("    role: reader   # bob reads\n  - email: dave@example.com\n    role: reader\n\nprojects:"),
        "{after}"
    );
    assert!(
        !plan_keys(&emu, &file).iter().any(|k| k.contains("dave")),
        "dave is planned after adoption"
    );
}

#[test]
fn export_target_adopts_a_service_account_of_an_undeclared_project_and_updates_a_declared_user() {
    let emu = org::start(LIVE);
    // bob becomes an owner live: the declared user is updated in place.
    let bob = org::user_id(&emu, "bob@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = org::write(dir.path(), "orgops.yaml", FILE);
    let out = adopt(
        &emu,
        &file,
        &["project:Labs/service_account:ci", "user:bob@example.com"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let after = std::fs::read_to_string(&file).expect("read");
    // The changed field in place, its comment kept.
    assert!(after.contains("    role: owner   # bob reads\n"), "{after}");
    assert_eq!(
        after
            .replace(
                "    role: owner   # bob reads\n",
                "    role: reader   # bob reads\n"
            )
            .lines()
            .filter(|l| !FILE.lines().any(|f| f == *l))
            .collect::<Vec<_>>(),
        vec![
            "  - name: Labs",
            "    service_accounts:",
            "      - name: ci",
            "        role: member"
        ],
        "{after}"
    );
    // Labs sorts before Search: above Search's line (and its comment stays on it).
    assert!(
        after.contains("projects:\n  - name: Labs\n    service_accounts:\n      - name: ci\n        role: member\n  - name: Search   # the search team\n"),
        "{after}"
    );
    let keys = plan_keys(&emu, &file);
    assert!(
        !keys
            .iter()
            .any(|k| k.starts_with("project:Labs") || k.contains("bob")),
        "{keys:?}"
    );
}

#[test]
fn export_target_unknown_key_suggests_the_closest_and_writes_nothing() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = org::write(dir.path(), "orgops.yaml", FILE);
    let out = adopt(&emu, &file, &["user:dvae@example.com"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("--target `user:dvae@example.com` names no object of the live organization; did you mean `user:dave@example.com`"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), FILE);
    // A file that does not exist yet is not a merge.
    let missing = dir.path().join("new.yaml");
    let out = adopt(&emu, &missing, &["user:dave@example.com"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("export --target merges into an existing one"),
        "{}",
        out.stderr
    );
}

#[test]
fn export_target_refuses_rather_than_lose_a_comment_inside_a_value_that_changes_shape() {
    let emu = org::start(LIVE);
    let eng = r#"
groups:
  - name: eng
    members: [
      bob@example.com,  # the lead
    ]
"#;
    let text = format!("{FILE}{eng}");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = org::write(dir.path(), "orgops.yaml", &text);
    // carol joins eng live.
    let group = org::call(
        &emu,
        reqwest::Method::GET,
        "/organization/groups?limit=100",
        None,
    )["data"][0]["id"]
        .as_str()
        .expect("group id")
        .to_string();
    let carol = org::user_id(&emu, "carol@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/groups/{group}/users"),
        Some(json!({"user_id": carol})),
    );
    let out = adopt(&emu, &file, &["group:eng"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("orgops.yaml:23: this comment is inside a value that changes shape"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), text);
}

#[test]
fn export_target_into_a_split_directory_gives_a_new_project_its_own_file() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let split = dir.path().join("org");
    let out = run(org::orgops(&emu)
        .args(["export", "--split", "-o"])
        .arg(&split));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let labs = split.join("project-labs.yaml");
    std::fs::remove_file(&labs).expect("remove Labs");
    let org_yaml = split.join("org.yaml");
    let before = std::fs::read_to_string(&org_yaml).expect("read");
    let search = std::fs::read_to_string(split.join("project-search.yaml")).expect("read");
    let out = adopt(&emu, &split, &["project:Labs"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let labs_text = std::fs::read_to_string(&labs).expect("Labs has its own file again");
    assert!(
        labs_text.contains("  - name: Labs\n")
            && labs_text.contains("      - name: ci\n        role: member\n"),
        "{labs_text}"
    );
    assert_eq!(std::fs::read_to_string(&org_yaml).expect("read"), before);
    assert_eq!(
        std::fs::read_to_string(split.join("project-search.yaml")).expect("read"),
        search
    );
    assert!(plan_keys(&emu, &split).is_empty());
}

#[test]
fn drift_write_accepts_changed_missing_and_unmanaged_keeping_comments() {
    let emu = org::start(LIVE);
    let text = format!(
        "{}{}",
        FILE.replace(
            "    admin_api_keys: ignore   # the emulator's own key\n",
            "    admin_api_keys: ignore   # the emulator's own key\n    project_members: remove\n"
        ),
        "\ngroups:\n  # engineering\n  - name: eng\n    members:\n      - bob@example.com   # lead\n"
    );
    let text = text.replace(
        "  - email: bob@example.com\n    role: reader   # bob reads\n",
        "  - email: bob@example.com\n    role: reader   # bob reads\n  - email: erin@example.com   # left last week\n    role: reader\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = org::write(dir.path(), "orgops.yaml", &text);
    // The file declares erin, who is not in the organization (missing), and live: bob is
    // an owner (changed), carol joined Search (unmanaged, policy remove).
    let bob = org::user_id(&emu, "bob@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    let search = org::project_id(&emu, "Search");
    let carol = org::user_id(&emu, "carol@example.com");
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}/users"),
        Some(json!({"user_id": carol, "role": "member"})),
    );
    let out = run(org::orgops(&emu)
        .args(["drift", "--write", "-f"])
        .arg(&file));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("updated   user:bob@example.com"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("removed   invite:erin@example.com"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("added     project:Search/member:carol@example.com"),
        "{}",
        out.stdout
    );
    // carol is declared because her membership needs it; dave is an undeclared user under
    // `report`: listed, not added.
    assert!(
        out.stdout.contains("added     user:carol@example.com"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("were not added (pass --fail-on-unmanaged"),
        "{}",
        out.stderr
    );
    let after = std::fs::read_to_string(&file).expect("read");
    let expected = text
        .replace("    role: reader   # bob reads\n", "    role: owner   # bob reads\n")
        .replace(
            "  - email: erin@example.com   # left last week\n    role: reader\n",
            "  - email: carol@example.com\n    role: reader\n",
        )
        .replace(
            "      - {email: bob@example.com, role: member}\n",
            "      - {email: bob@example.com, role: member}\n      - email: carol@example.com\n        role: member\n",
        );
    assert_eq!(after, expected);
    let drift = run(org::orgops(&emu).args(["drift", "-f"]).arg(&file));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("In sync"), "{}", drift.stdout);
    assert!(plan_keys(&emu, &file).is_empty());
}

#[test]
fn drift_write_in_a_directory_edits_the_file_that_declares_the_object() {
    let emu = org::start(LIVE);
    let dir = tempfile::tempdir().expect("tempdir");
    let split = dir.path().join("org");
    let out = run(org::orgops(&emu)
        .args(["export", "--split", "-o"])
        .arg(&split));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let org_yaml = std::fs::read_to_string(split.join("org.yaml")).expect("read");
    let labs = split.join("project-labs.yaml");
    let labs_before = std::fs::read_to_string(&labs).expect("read");
    // ci becomes an owner of Labs live.
    make_ci_an_owner_of_labs(&emu);
    let out = run(org::orgops(&emu)
        .args(["drift", "--write", "-f"])
        .arg(&split));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(split.join("org.yaml")).expect("read"),
        org_yaml
    );
    assert_eq!(
        std::fs::read_to_string(&labs).expect("read"),
        labs_before.replace("        role: member\n", "        role: owner\n")
    );
    assert!(plan_keys(&emu, &split).is_empty());
}

#[test]
fn export_target_updates_a_declared_service_account_and_keeps_its_sink() {
    let emu = org::start(LIVE);
    let text = format!(
        "{FILE}\n  - name: Labs\n    service_accounts:\n      - name: ci\n        role: member   # read-only bot\n        sink: {{file: ci.key}}   # the key goes here\n"
    )
    .replace("# end of file\n\n", "# end of file\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = org::write(dir.path(), "orgops.yaml", &text);
    make_ci_an_owner_of_labs(&emu);
    let out = run(org::orgops(&emu)
        .args([
            "export",
            "--format",
            "json",
            "--target",
            "project:Labs/service_account:ci",
            "-o",
        ])
        .arg(&file));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let outcome: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        outcome["adopted"][0]["outcome"],
        json!("updated"),
        "{outcome:#}"
    );
    let after = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        after,
        text.replace(
            "role: member   # read-only bot",
            "role: owner   # read-only bot"
        )
    );
    assert!(!after.contains("sk-"), "no secret in the file: {after}");
    assert!(
        !plan_keys(&emu, &file)
            .iter()
            .any(|k| k.contains("service_account:ci"))
    );
}

#[test]
fn drift_write_on_the_quickstart_says_why_an_expired_invite_still_differs() {
    // The quickstart's live org "differs in every way", dave's invite among it: expired.
    let root = crate::support::cli::root();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orgops.yaml");
    std::fs::copy(root.join("examples/quickstart/orgops.yaml"), &file).expect("copy");
    std::fs::create_dir(dir.path().join("certs")).expect("mkdir");
    for cert in std::fs::read_dir(root.join("examples/quickstart/certs")).expect("certs") {
        let cert = cert.expect("entry");
        std::fs::copy(cert.path(), dir.path().join("certs").join(cert.file_name())).expect("copy");
    }
    let out = run(crate::support::cli::orgops()
        .current_dir(root.join("examples/quickstart"))
        .args(["drift", "--write", "--emulator", "live.yaml", "-f"])
        .arg(&file));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    // The person who never joined is no longer declared...
    let after = std::fs::read_to_string(&file).expect("read");
    assert!(!after.contains("dave@acme.example"), "{after}");
    // ...and the one thing left is the expired invite itself, explained.
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: still differs after writing: invite:dave@acme.example: an expired invite, \
          which no file can declare: the person never joined, so the file no longer declares \
          them, and `policy.unmanaged.invites: remove` has apply revoke the invite (set it to \
          `report` to leave expired invites alone)"
        ],
        "{}",
        out.stderr
    );
}

/// Labs's service account ci becomes an owner of it, out of band.
fn make_ci_an_owner_of_labs(emu: &orgops::emulator::RunningEmulator) {
    let labs = org::project_id(emu, "Labs");
    let accounts = org::call(
        emu,
        reqwest::Method::GET,
        &format!("/organization/projects/{labs}/service_accounts?limit=100"),
        None,
    );
    let ci = accounts["data"][0]["id"].as_str().expect("ci").to_string();
    org::call(
        emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{labs}/service_accounts/{ci}"),
        Some(json!({"role": "owner"})),
    );
}
