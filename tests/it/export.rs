//! `orgops export` writes a file people keep: rate limits only where they differ from what
//! most projects have, `--split` into one file per project, no silent overwrite, and an
//! export whose `plan` is empty and whose `drift` lists nothing, on the quickstart, the
//! enterprise example (applied to an emulator first) and a generated 1,000-user org.

use orgops::emulator::{EmulatorOptions, RunningEmulator};
use serde_json::{Value, json};

use crate::support::cli::{QUICKSTART_LIVE, Run, orgops, run};
use crate::support::org::labelled_pem;

/// The binary pointed at `emu` with its admin key.
fn against(emu: &RunningEmulator) -> assert_cmd::Command {
    let mut cmd = orgops();
    cmd.env("OPENAI_ADMIN_KEY", emu.admin_key())
        .env("OPENAI_BASE_URL", emu.url());
    cmd
}

/// `export -o DIR/ --split`, then `plan --detailed-exitcode` and `drift --fail-on-unmanaged`
/// of that directory: all exit 0, and drift lists no object at all.
/// `command(ARGS)` is `orgops ARGS` pointed at the organization under test.
fn assert_split_round_trip(command: impl Fn(&[&str]) -> assert_cmd::Command, label: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let export = run(command(&["export", "--split"]).arg("-o").arg(&out));
    assert_eq!(export.code, 0, "{label}: export: {}", export.stderr);
    assert!(out.join("org.yaml").is_file(), "{label}: no org.yaml");
    let validate = run(orgops().arg("validate").arg("-f").arg(&out));
    assert_eq!(validate.code, 0, "{label}: {}", validate.stderr);
    let plan = run(command(&["plan", "--detailed-exitcode"])
        .arg("-f")
        .arg(&out));
    assert_eq!(
        plan.code, 0,
        "{label}: plan of the export: {}{}",
        plan.stdout, plan.stderr
    );
    let drift = run(
        command(&["drift", "--fail-on-unmanaged", "--format", "json"])
            .arg("-f")
            .arg(&out),
    );
    assert_eq!(
        drift.code, 0,
        "{label}: drift of the export: {}{}",
        drift.stdout, drift.stderr
    );
    let report: Value = serde_json::from_str(&drift.stdout).expect("drift JSON");
    assert_eq!(report["items"], json!([]), "{label}: {report:#}");
}

#[test]
fn split_export_of_the_quickstart_plans_empty_and_is_in_sync() {
    assert_split_round_trip(
        |args| {
            let mut cmd = orgops();
            cmd.args(args).args(["--emulator", QUICKSTART_LIVE]);
            cmd
        },
        "quickstart",
    );
}

/// The enterprise example applied to an org that holds only its owner, every invite
/// accepted, applied again (group memberships wait for acceptance), then exported.
#[test]
fn split_export_of_the_applied_enterprise_example_plans_empty_and_is_in_sync() {
    let seed = orgops::emulator::seed::parse_state(
        "version: 1\nusers:\n  - {email: amara@globex.example, role: owner}\n",
    )
    .expect("seed parses");
    let emu = orgops::emulator::start_in_background(
        seed,
        EmulatorOptions {
            admin_keys: vec![(
                "sk-admin-export-test".to_string(),
                Some("amara@globex.example".to_string()),
            )],
            ..EmulatorOptions::default()
        },
    )
    .expect("emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let example = crate::drift::copy_example("examples/enterprise", dir.path());
    for round in 0..2 {
        let applied = run(against(&emu)
            .args(["apply", "--auto-approve", "-f"])
            .arg(&example));
        assert_eq!(
            applied.code, 0,
            "apply {round}: {}{}",
            applied.stdout, applied.stderr
        );
        accept_every_invite(&emu);
    }
    assert_split_round_trip(
        |args| {
            let mut cmd = against(&emu);
            cmd.args(args);
            cmd
        },
        "enterprise",
    );
}

/// Every pending invite accepted, as the invited people would (emulator control plane).
fn accept_every_invite(emu: &RunningEmulator) {
    let url = format!("{}/_emulator/invites/accept", emu.base_url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a test runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .send()
            .await
            .expect("control plane answers");
        assert!(response.status().is_success(), "{}", response.status());
    });
}

#[test]
fn split_export_of_a_generated_thousand_user_org_plans_empty_and_is_in_sync() {
    let spec =
        "users=1000,projects=25,project_members=40,groups=10,group_members=50,service_accounts=2"
            .parse()
            .expect("generate spec");
    let org = orgops::emulator::generate::generate(spec, 5);
    let emu = orgops::emulator::start_state_in_background(
        org,
        vec![("sk-admin-export-test".to_string(), None)],
        EmulatorOptions::default(),
    )
    .expect("emulator starts");
    assert_split_round_trip(
        |args| {
            let mut cmd = against(&emu);
            cmd.args(args);
            cmd
        },
        "generated",
    );
}

/// By default a rate limit is written only where it differs from what most projects have
/// for that model; the quickstart export is at most half as long as with every one
/// (`--rate-limits all`, what export wrote before), and both plan empty.
#[test]
fn export_writes_only_the_rate_limits_that_differ() {
    let dir = tempfile::tempdir().expect("temp dir");
    let export = |name: &str, extra: &[&str]| -> String {
        let file = dir.path().join(name);
        let export = run(orgops()
            .args(["export", "--emulator", QUICKSTART_LIVE])
            .args(extra)
            .arg("-o")
            .arg(&file));
        assert_eq!(export.code, 0, "{}", export.stderr);
        let plan = run(orgops()
            .args([
                "plan",
                "--detailed-exitcode",
                "--emulator",
                QUICKSTART_LIVE,
                "-f",
            ])
            .arg(&file));
        assert_eq!(plan.code, 0, "{name}: {}{}", plan.stdout, plan.stderr);
        std::fs::read_to_string(&file).expect("export written")
    };
    let default = export("default.yaml", &[]);
    let all = export("all.yaml", &["--rate-limits", "all"]);
    let (short, long) = (default.lines().count(), all.lines().count());
    assert!(
        2 * short <= long,
        "the default export has {short} lines, the full one {long}"
    );
    let doc: Value = serde_saphyr::from_str(&default).expect("export is YAML");
    let limits: Vec<(String, Value)> = doc["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .filter(|p| p.get("rate_limits").is_some())
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["rate_limits"].clone(),
            )
        })
        .collect();
    // Only Production's gpt-4o differs from the other projects (live.yaml sets it), and
    // only in the two fields it sets.
    assert_eq!(
        limits,
        vec![(
            "Production".to_string(),
            json!({"gpt-4o": {"max_requests_per_1_minute": 300, "max_tokens_per_1_minute": 150000}})
        )],
        "{default}"
    );
}

/// Ties: the emulator's Default project and two seeded projects, three values for a model:
/// none is "what most projects have", so all are written. Two of three alike: the odd ones
/// out are written.
#[test]
fn a_rate_limit_tie_writes_every_project() {
    let state = |values: &[u64]| {
        let mut yaml =
            String::from("version: 1\nusers:\n  - {email: a@x.example, role: owner}\nprojects:\n");
        for (i, v) in values.iter().enumerate() {
            yaml.push_str(&format!(
                "  - name: P{i}\n    rate_limits:\n      gpt-4o: {{max_requests_per_1_minute: {v}}}\n"
            ));
        }
        yaml
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let written = |values: &[u64]| -> Vec<String> {
        let seed = dir.path().join("seed.yaml");
        std::fs::write(&seed, state(values)).expect("seed");
        let export = run(orgops().arg("export").arg("--emulator").arg(&seed));
        assert_eq!(export.code, 0, "{}", export.stderr);
        let doc: Value = serde_saphyr::from_str(&export.stdout).expect("YAML");
        doc["projects"]
            .as_array()
            .expect("projects")
            .iter()
            .filter(|p| p["rate_limits"]["gpt-4o"]["max_requests_per_1_minute"].is_u64())
            .map(|p| p["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(written(&[100, 200]), vec!["Default project", "P0", "P1"]);
    assert_eq!(written(&[100, 200, 200]), vec!["Default project", "P0"]);
}

/// An existing file, or a non-empty directory, is not overwritten without `--force`.
#[test]
fn export_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(&file, "# mine\n").expect("write");
    let refused = run(orgops()
        .args(["export", "--emulator", QUICKSTART_LIVE, "-o"])
        .arg(&file));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "# mine\n");
    let forced = run(orgops()
        .args(["export", "--force", "--emulator", QUICKSTART_LIVE, "-o"])
        .arg(&file));
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        std::fs::read_to_string(&file)
            .expect("read")
            .contains("version: 1")
    );

    // --split into a directory holding anything: refused; an empty one is fine.
    let out = dir.path().join("split");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "keep").expect("write");
    let refused: Run = run(orgops()
        .args(["export", "--split", "--emulator", QUICKSTART_LIVE, "-o"])
        .arg(&out));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("not empty"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert!(!out.join("org.yaml").exists());
    std::fs::remove_file(out.join("notes.txt")).expect("rm");
    let ok = run(orgops()
        .args(["export", "--split", "--emulator", QUICKSTART_LIVE, "-o"])
        .arg(&out));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
}

/// Expired and accepted invites: the export's drift lists nothing (today the expired invite
/// of a person nobody declares is reported as `invite:dave`), and its plan is empty.
#[test]
fn an_export_with_expired_and_accepted_invites_is_in_sync() {
    let state = r#"
version: 1
users:
  - {email: root@x.example, role: owner}
  - {email: ann@x.example, role: reader}
projects:
  - name: Search
    members:
      - {email: ann@x.example, role: member}
invites:
  - {email: dave@x.example, role: reader, status: expired}
  - {email: ann@x.example, role: reader, status: accepted}
  - {email: gone@x.example, role: reader, status: accepted}
  - {email: pat@x.example, role: owner, status: pending, projects: [{name: Search, role: owner}]}
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = dir.path().join("seed.yaml");
    std::fs::write(&seed, state).expect("seed");
    let file = dir.path().join("orgops.yaml");
    let export = run(orgops()
        .arg("export")
        .arg("--emulator")
        .arg(&seed)
        .arg("-o")
        .arg(&file));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let plan = run(orgops()
        .args(["plan", "--detailed-exitcode", "--emulator"])
        .arg(&seed)
        .arg("-f")
        .arg(&file));
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let drift = run(orgops()
        .args(["drift", "--fail-on-unmanaged", "--emulator"])
        .arg(&seed)
        .arg("-f")
        .arg(&file));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(!drift.stdout.contains("invite:"), "{}", drift.stdout);
}

/// Projects whose file names would meet (two non-ASCII names and `Project 2`, case and
/// separator variants, a name that is itself a numbered stem) and certificates whose PEM
/// files would (`a b`, `a_b`, `A_b`): every project keeps a file of its own and every
/// certificate its own PEM, and the split export plans empty and drifts nothing.
#[test]
fn a_split_export_keeps_every_project_and_certificate_whose_names_would_meet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certificates = ["a b", "a_b", "A_b"];
    let mut seed = String::from("version: 1\nusers:\n  - {email: a@x.example, role: owner}\n");
    seed.push_str("certificates:\n");
    for (i, name) in certificates.iter().enumerate() {
        std::fs::write(dir.path().join(format!("c{i}.pem")), labelled_pem(name)).expect("pem");
        seed.push_str(&format!("  - {{name: \"{name}\", file: c{i}.pem}}\n"));
    }
    let projects = [
        "研究",
        "開発",
        "Project 2",
        "Support Assistant",
        "support-assistant",
        "Support  Assistant",
        "project",
        "support-assistant-2",
    ];
    seed.push_str("projects:\n");
    for name in projects {
        seed.push_str(&format!("  - name: \"{name}\"\n"));
    }
    let seed_file = dir.path().join("seed.yaml");
    std::fs::write(&seed_file, &seed).expect("seed");
    let command = |args: &[&str]| {
        let mut cmd = orgops();
        cmd.args(args).arg("--emulator").arg(&seed_file);
        cmd
    };
    let out = dir.path().join("out");
    let export = run(command(&["export", "--split"]).arg("-o").arg(&out));
    assert_eq!(export.code, 0, "{}", export.stderr);
    // One file per project (and the emulator's default project).
    let project_files = std::fs::read_dir(&out)
        .expect("out")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with("project-")
        })
        .count();
    assert_eq!(project_files, projects.len() + 1, "{}", export.stderr);
    // Each certificate's file holds that certificate.
    let org: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(out.join("org.yaml")).expect("org.yaml"))
            .expect("YAML");
    let listed = org["certificates"].as_array().expect("certificates");
    assert_eq!(listed.len(), certificates.len(), "{org:#}");
    for cert in listed {
        let name = cert["name"].as_str().expect("name");
        let file = cert["file"].as_str().expect("file");
        assert_eq!(
            std::fs::read_to_string(out.join(file)).expect("the PEM is written"),
            labelled_pem(name),
            "{name}: {file}"
        );
    }
    let plan = run(command(&["plan", "--detailed-exitcode"])
        .arg("-f")
        .arg(&out));
    assert!(
        !plan.stdout.contains("Not in the file"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    assert_split_round_trip(command, "names that would meet");
}

/// `--force` replaces a symbolic link at a file export writes (the output file, a PEM)
/// instead of writing through it, and refuses a linked `certs` directory: nothing is
/// written outside the directory named.
#[cfg(unix)]
#[test]
fn export_force_never_writes_through_a_symbolic_link() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().expect("temp dir");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("victim");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).expect("outside");
    let export = |args: &[&str], out: &std::path::Path| {
        run(orgops()
            .args(["export", "--force", "--emulator", QUICKSTART_LIVE])
            .args(args)
            .arg("-o")
            .arg(out))
    };
    let is_link = |p: &std::path::Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
    };

    // `-o link --force`, and a PEM that is a link: both links replaced, the victim intact.
    let one = dir.path().join("one");
    std::fs::create_dir_all(one.join("certs")).expect("mkdir");
    symlink(&victim, one.join("orgops.yaml")).expect("link");
    symlink(&victim, one.join("certs/acme-mtls.pem")).expect("link");
    let done = export(&[], &one.join("orgops.yaml"));
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
    assert!(!is_link(&one.join("orgops.yaml")));
    assert!(!is_link(&one.join("certs/acme-mtls.pem")));
    assert!(
        std::fs::read_to_string(one.join("orgops.yaml"))
            .expect("export")
            .contains("version: 1")
    );

    // A `certs` directory that is a link out of the tree: refused, nothing written there.
    for split in [false, true] {
        let two = dir.path().join(format!("two-{split}"));
        std::fs::create_dir(&two).expect("mkdir");
        symlink(&outside, two.join("certs")).expect("link");
        let (args, out): (&[&str], _) = if split {
            (&["--split"], two.clone())
        } else {
            (&[], two.join("orgops.yaml"))
        };
        let refused = export(args, &out);
        assert_eq!(refused.code, 1, "split {split}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("symbolic link"),
            "split {split}: {}",
            refused.stderr
        );
        assert_eq!(
            std::fs::read_dir(&outside).expect("outside").count(),
            0,
            "split {split}: written outside"
        );
    }

    // `--split --force` over a project file that is a link: not orgops's file, refused.
    let three = dir.path().join("three");
    std::fs::create_dir(&three).expect("mkdir");
    symlink(&victim, three.join("project-production.yaml")).expect("link");
    let refused = export(&["--split"], &three);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("project-production.yaml"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
    assert!(!three.join("org.yaml").exists());
}

/// `export --split --force` into a directory removes only files an earlier export wrote
/// (they carry its header); any other `*.yaml`/`*.yml` (a repository's `action.yml`,
/// `docker-compose.yml`, `.pre-commit-config.yaml`) is listed and the export refused, with
/// nothing written or removed.
#[test]
fn split_force_removes_only_files_an_export_wrote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("repo");
    let first = run(orgops()
        .args(["export", "--split", "--emulator", QUICKSTART_LIVE, "-o"])
        .arg(&out));
    assert_eq!(first.code, 0, "{}", first.stderr);
    // A project that is gone from the org: its file is an earlier export's.
    std::fs::rename(
        out.join("project-production.yaml"),
        out.join("project-retired.yaml"),
    )
    .expect("rename");
    let foreign = [
        "action.yml",
        "docker-compose.yml",
        ".pre-commit-config.yaml",
    ];
    for name in foreign {
        std::fs::write(out.join(name), "on: push\n").expect("write");
    }
    std::fs::write(out.join("notes.txt"), "keep").expect("write");
    std::fs::remove_file(out.join("org.yaml")).expect("rm");
    let force = || {
        run(orgops()
            .args([
                "export",
                "--split",
                "--force",
                "--emulator",
                QUICKSTART_LIVE,
                "-o",
            ])
            .arg(&out))
    };
    let refused = force();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    for name in foreign {
        assert!(refused.stderr.contains(name), "{name}: {}", refused.stderr);
        assert!(out.join(name).exists(), "{name} removed");
    }
    assert!(
        !refused.stderr.contains("project-retired.yaml"),
        "{}",
        refused.stderr
    );
    assert!(out.join("project-retired.yaml").exists());
    assert!(!out.join("org.yaml").exists(), "written although refused");

    for name in foreign {
        std::fs::remove_file(out.join(name)).expect("rm");
    }
    let done = force();
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stderr.contains("project-retired.yaml"),
        "{}",
        done.stderr
    );
    assert!(!out.join("project-retired.yaml").exists());
    assert!(out.join("project-production.yaml").exists());
    assert!(out.join("notes.txt").exists());
}
