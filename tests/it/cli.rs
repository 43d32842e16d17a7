//! The command-line conventions (issue 11): exit codes, `--help` of every subcommand, the
//! errors that say what to do, one `--format`/`-o` vocabulary, completions, the man page,
//! `--version`, config discovery and `-C`.
//!
//! The command tree is walked from `orgops::cli::Cli`, so a subcommand added later is covered
//! (and needs its `--help` snapshot accepted) without touching this file.

use std::path::Path;

use clap::CommandFactory;

use crate::support::cli::{Run, orgops, root, run};
use crate::support::org;

/// Every subcommand path (`["github", "plan"]`, ...), root first, in declaration order.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        out.push(prefix.to_vec());
        for sub in command.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&orgops::cli::Cli::command(), &[], &mut out);
    out
}

/// `text` as the snapshot `name`, with loopback ports masked, and the request named in an API
/// error too (the live reads run concurrently: whichever fails first is reported).
fn assert_masked_snapshot(name: &str, text: &str) {
    let filters = vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"GET /organization/[a-z_/{}]+", "GET ROUTE"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(name, text);
    });
}

/// The `error: ...` lines of `stderr`.
fn error_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A fixed help width, whatever terminal the tests run in.
fn orgops_fixed_width() -> assert_cmd::Command {
    let mut cmd = orgops();
    cmd.env("COLUMNS", "100");
    cmd
}

#[test]
fn the_command_tree_is_walked() {
    let paths = command_paths();
    for expected in [vec!["plan"], vec!["github", "drift"], vec!["completions"]] {
        assert!(
            paths.iter().any(|p| p == &expected),
            "{expected:?} not in {paths:?}"
        );
    }
}

#[test]
fn every_subcommand_rejects_an_unknown_flag_with_exit_1() {
    for path in command_paths() {
        let failed = run(orgops().args(&path).arg("--no-such-flag"));
        assert_eq!(
            failed.code,
            1,
            "orgops {} --no-such-flag: {}",
            path.join(" "),
            failed.stderr
        );
        assert!(
            failed
                .stderr
                .contains("unexpected argument '--no-such-flag'"),
            "orgops {}: {}",
            path.join(" "),
            failed.stderr
        );
    }
}

#[test]
fn missing_and_bad_values_exit_1_with_clap_message() {
    for (args, says) in [
        (
            &["plan", "--format"][..],
            "a value is required for '--format",
        ),
        (&["plan", "--format", "yaml"][..], "invalid value 'yaml'"),
        (
            &["drift", "--since-day", "5"][..],
            "unexpected argument '--since-day'",
        ),
        (
            &["drift", "--since-days", "five"][..],
            "invalid value 'five'",
        ),
        (&["no-such-command"][..], "unrecognized subcommand"),
        (&[][..], "Usage: orgops"),
    ] {
        let failed = run(orgops().args(args));
        assert_eq!(failed.code, 1, "{args:?}: {}", failed.stderr);
        assert!(failed.stderr.contains(says), "{args:?}: {}", failed.stderr);
    }
    let typo = run(orgops().args(["drift", "--since-day", "5"]));
    assert_masked_snapshot("usage_error_since_day", &typo.stderr);
    // Help and version are not errors.
    assert_eq!(run(orgops().arg("--help")).code, 0);
    assert_eq!(run(orgops().arg("--version")).code, 0);
}

/// `orgops --help` ends with the one exit-code table, and the README holds the same table.
#[test]
fn the_exit_code_table_is_in_help_and_in_the_readme() {
    let help = run(orgops_fixed_width().arg("--help"));
    assert_eq!(help.code, 0);
    let table_start = help
        .stdout
        .find("Exit codes:")
        .unwrap_or_else(|| panic!("no exit-code table in --help:\n{}", help.stdout));
    let table: Vec<&str> = help.stdout[table_start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    assert!(table.len() >= 5, "{table:?}");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    for row in &table {
        let (code, meaning) = row.split_once(' ').expect("CODE MEANING");
        let readme_row = format!("| {code} | {} |", meaning.trim());
        assert!(
            readme.contains(&readme_row),
            "README.md lacks the row {readme_row:?}"
        );
    }
}

#[test]
fn help_of_every_subcommand() {
    for path in command_paths() {
        let help = run(orgops_fixed_width().args(&path).arg("--help"));
        assert_eq!(help.code, 0, "{path:?}: {}", help.stderr);
        let name = if path.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", path.join("_"))
        };
        insta::assert_snapshot!(name, help.stdout);
    }
}

#[test]
fn drift_help_names_its_schema() {
    let help = run(orgops_fixed_width().args(["drift", "--help"]));
    assert!(
        help.stdout.contains("schema/drift.schema.json"),
        "{}",
        help.stdout
    );
}

/// Each `orgops github` subcommand lists only the flags it uses.
#[test]
fn github_subcommands_show_only_their_flags() {
    let help = |sub: &str| run(orgops_fixed_width().args(["github", sub, "--help"])).stdout;
    let (plan, apply, drift) = (help("plan"), help("apply"), help("drift"));
    assert!(!plan.contains("--since ") && !plan.contains("--fail-on-unmanaged"));
    assert!(!apply.contains("--since ") && !apply.contains("--fail-on-unmanaged"));
    assert!(drift.contains("--since ") && drift.contains("--fail-on-unmanaged"));
    for gated in [
        "--allow-removals",
        "--max-removals",
        "--pull-request",
        "--base",
    ] {
        assert!(!drift.contains(gated), "github drift --help shows {gated}");
    }
}

// --- errors that say what to do ---------------------------------------------------------

#[test]
fn a_base_url_without_v1_says_it_must_end_in_v1() {
    let emu = org::start("version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n");
    let bare = emu.url().trim_end_matches("/v1").to_string();
    let failed = run(org::orgops(&emu)
        .env("OPENAI_BASE_URL", &bare)
        .arg("export"));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("the base URL must end in /v1"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(&format!("{bare}/v1")),
        "{}",
        failed.stderr
    );
    assert_masked_snapshot("base_url_without_v1", &error_lines(&failed.stderr));
}

#[test]
fn no_desired_file_in_the_current_directory_names_f_and_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    for command in ["validate", "plan", "drift", "apply"] {
        let failed = run(orgops().current_dir(dir.path()).arg(command));
        assert_eq!(failed.code, 1, "{command}: {}", failed.stderr);
        assert!(failed.stderr.contains("-f"), "{command}: {}", failed.stderr);
        assert!(
            failed.stderr.contains("orgops export"),
            "{command}: {}",
            failed.stderr
        );
    }
    let failed = run(orgops().current_dir(dir.path()).arg("validate"));
    insta::assert_snapshot!("no_desired_file", failed.stderr);
}

/// A port nobody listens on: bound, then released.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

#[test]
fn a_refused_connection_fails_at_once_naming_the_url() {
    let url = refused_url();
    let failed = run(orgops()
        .env("OPENAI_BASE_URL", &url)
        .env("OPENAI_ADMIN_KEY", "sk-admin-unused")
        .env("RUST_LOG", "orgops=debug")
        .arg("export"));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains(&url), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("connection refused"),
        "{}",
        failed.stderr
    );
    // Not retried: the retry loop logs each retry at debug level.
    assert!(
        !failed.stderr.contains("retrying after"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("sk-admin-unused"));
    assert_masked_snapshot("connection_refused", &error_lines(&failed.stderr));
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

const MINIMAL: &str = "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n";

#[test]
fn a_missing_base_revision_gives_the_exact_fetch_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("orgops.yaml"), MINIMAL).expect("write");
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "orgops.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "org"]);
    for (base, fetch) in [
        ("origin/main", "git fetch origin main"),
        (
            "main-does-not-exist",
            "git fetch origin main-does-not-exist",
        ),
    ] {
        let failed = run(orgops().current_dir(dir.path()).args([
            "plan",
            "--emulator",
            "orgops.yaml",
            "--base",
            base,
        ]));
        assert_eq!(failed.code, 1, "{}", failed.stderr);
        assert!(
            failed.stderr.contains(&format!("`{fetch}`")),
            "{base}: {}",
            failed.stderr
        );
        if base == "origin/main" {
            assert_masked_snapshot("base_not_fetched", &error_lines(&failed.stderr));
        }
    }
}

#[test]
fn github_commands_outside_actions_name_the_missing_variables() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("orgops.yaml"), MINIMAL).expect("write");
    for sub in ["plan", "apply", "drift"] {
        let failed = run(orgops()
            .current_dir(dir.path())
            .env_remove("GITHUB_REPOSITORY")
            .env_remove("GITHUB_TOKEN")
            .args(["github", sub, "--emulator", "orgops.yaml"]));
        assert_eq!(failed.code, 1, "github {sub}: {}", failed.stderr);
        for var in ["GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_REPOSITORY"] {
            assert!(
                failed.stderr.contains(var),
                "github {sub} does not name {var}: {}",
                failed.stderr
            );
        }
        assert!(
            failed.stderr.contains(&format!("orgops {sub}")),
            "github {sub}: {}",
            failed.stderr
        );
        assert_masked_snapshot(&format!("github_{sub}_outside_actions"), &failed.stderr);
    }
}

/// The prompt is only shown on a terminal: `script` gives the command one.
#[cfg(target_os = "linux")]
#[test]
fn the_confirmation_prompt_names_the_organization() {
    let emu = org::start(MINIMAL);
    // The same emulator behind a gateway that drops `openai-organization`.
    let silent = crate::support::hostile::Gateway::serve(emu.base_url(), &["/v1"], "");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("orgops.yaml"),
        format!("{MINIMAL}  - {{email: bob@example.com, role: reader}}\n"),
    )
    .expect("write");
    let bin = assert_cmd::cargo::cargo_bin!("orgops");
    let prompt_of = |base_url: &str, org_id: Option<&str>| -> Run {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-q", "-e", "-c"])
            .arg(format!("'{}' apply", bin.display()))
            .arg("/dev/null")
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("ORGOPS_NO_PROGRESS", "1")
            .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
            .env("OPENAI_BASE_URL", base_url)
            .env("ORGOPS_LOCK_DIR", dir.path().join("locks"));
        match org_id {
            Some(id) => cmd.env("OPENAI_ORG_ID", id),
            None => cmd.env_remove("OPENAI_ORG_ID"),
        };
        run(assert_cmd::Command::from_std(cmd).write_stdin("no\n"))
    };
    // The organization the API names, whatever OPENAI_ORG_ID claims.
    let named = prompt_of(&emu.url(), Some("org-acme"));
    assert_eq!(named.code, 1, "{}", named.stdout);
    assert!(
        named.stdout.contains(&format!(
            "Apply this change to organization org-emulator at {}?",
            emu.url()
        )),
        "{}",
        named.stdout
    );
    assert!(named.stdout.contains("Apply cancelled"), "{}", named.stdout);
    let unnamed = prompt_of(&format!("{}/v1", silent.url()), None);
    assert!(
        unnamed
            .stdout
            .contains("Apply this change to the organization of OPENAI_ADMIN_KEY"),
        "{}",
        unnamed.stdout
    );
    assert!(
        unnamed.stdout.contains("(the API named none)"),
        "{}",
        unnamed.stdout
    );
    let question = |run: &Run| -> String {
        run.stdout
            .lines()
            .find(|line| line.contains("Only 'yes'"))
            .map(|line| format!("{}\n", line.trim_end_matches('\r')))
            .unwrap_or_default()
    };
    assert_masked_snapshot(
        "confirmation_prompts",
        &format!("{}{}", question(&named), question(&unnamed)),
    );
}

// --- one vocabulary ---------------------------------------------------------------------

#[test]
fn validate_format_text_and_its_hidden_alias_human() {
    let file = root().join("examples/quickstart/orgops.yaml");
    for format in ["text", "human"] {
        let ok = run(orgops()
            .current_dir(root().join("examples/quickstart"))
            .args(["validate", "-f"])
            .arg(&file)
            .args(["--format", format]));
        assert_eq!(ok.code, 0, "--format {format}: {}", ok.stderr);
    }
    let help = run(orgops_fixed_width().args(["validate", "--help"])).stdout;
    assert!(help.contains("text") && !help.contains("human"), "{help}");
}

#[test]
fn every_command_writing_a_file_takes_o_and_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("orgops.yaml"), MINIMAL).expect("write");
    let emulated = ["--emulator", "orgops.yaml"];
    for (args, name) in [
        (&["plan", "-f", "orgops.yaml"][..], "plan.json"),
        (&["export"][..], "export.yaml"),
        (
            &["apply", "-f", "orgops.yaml", "--auto-approve"][..],
            "report.json",
        ),
    ] {
        for flag in ["-o", "--out"] {
            let out = dir.path().join(format!("out{flag}-{name}"));
            let done = run(orgops()
                .current_dir(dir.path())
                .args(args)
                .args(emulated)
                .arg(flag)
                .arg(&out));
            assert_eq!(done.code, 0, "{args:?} {flag}: {}", done.stderr);
            assert!(out.is_file(), "{args:?} {flag} wrote nothing");
        }
    }
    // The old spellings keep working (hidden).
    for (args, old) in [
        (&["export"][..], "--output"),
        (
            &["apply", "--auto-approve", "-f", "orgops.yaml"][..],
            "--report",
        ),
    ] {
        let out = dir.path().join(format!("old{old}"));
        let done = run(orgops()
            .current_dir(dir.path())
            .args(args)
            .args(["--emulator", "orgops.yaml", old])
            .arg(&out));
        assert_eq!(done.code, 0, "{old}: {}", done.stderr);
        assert!(out.is_file(), "{old} wrote nothing");
    }
}

/// The action and the example workflows use the current flag names only.
#[test]
fn the_action_and_workflows_use_the_current_flags() {
    let mut files = vec![root().join("action.yml")];
    for entry in std::fs::read_dir(root().join("examples/workflows")).expect("workflows") {
        files.push(entry.expect("entry").path());
    }
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for old in ["--format human", "--output ", "--report "] {
            assert!(!text.contains(old), "{} still uses {old:?}", file.display());
        }
    }
}

// --- completions, man page, version -----------------------------------------------------

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "_orgops()"),
        ("zsh", "#compdef orgops"),
        ("fish", "complete -c orgops"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let done = run(orgops().args(["completions", shell]));
        assert_eq!(done.code, 0, "{shell}: {}", done.stderr);
        assert!(done.stdout.contains(marker), "{shell}: {}", done.stdout);
        assert!(done.stdout.contains("export"), "{shell}: no subcommands");
    }
    let bad = run(orgops().args(["completions", "tcsh"]));
    assert_eq!(bad.code, 1);
}

#[test]
fn the_man_page_covers_every_subcommand() {
    let done = run(orgops().arg("man"));
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stdout.starts_with(".ie"),
        "{}",
        &done.stdout[..200.min(done.stdout.len())]
    );
    assert!(done.stdout.contains(".TH orgops 1"), "not a man page");
    for path in command_paths().iter().filter(|p| p.len() == 1) {
        assert!(
            done.stdout.contains(&format!("orgops\\-{}", path[0])),
            "the man page lacks {path:?}"
        );
    }
    assert!(
        done.stdout
            .contains(".SH \"EXIT STATUS\"\n.nf\n  0  success"),
        "{}",
        done.stdout
    );
}

#[test]
fn man_out_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("man1");
    let done = run(orgops().args(["man", "-o"]).arg(&out));
    assert_eq!(done.code, 0, "{}", done.stderr);
    for path in command_paths() {
        let page = out.join(if path.is_empty() {
            "orgops.1".to_string()
        } else {
            format!("orgops-{}.1", path.join("-"))
        });
        assert!(page.is_file(), "{} missing", page.display());
    }
    let root_page = std::fs::read_to_string(out.join("orgops.1")).expect("orgops.1");
    assert_eq!(root_page, run(orgops().arg("man")).stdout);
}

#[test]
fn version_names_the_git_commit_in_a_checkout() {
    let done = run(orgops().arg("--version"));
    assert_eq!(done.code, 0);
    let line = done.stdout.trim();
    let expected_prefix = format!("orgops {} (", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected_prefix), "{line}");
    let inside = line
        .trim_start_matches(&expected_prefix)
        .trim_end_matches(')');
    let commit = inside.split_whitespace().next().unwrap_or_default();
    assert!(
        commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
}

// --- config discovery and -C ------------------------------------------------------------

#[test]
fn the_desired_state_is_discovered_in_the_current_directory() {
    let yml = tempfile::tempdir().expect("temp dir");
    std::fs::write(yml.path().join("orgops.yml"), MINIMAL).expect("write");
    let ok = run(orgops().current_dir(yml.path()).arg("validate"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains("orgops.yml"), "{}", ok.stderr);

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("orgops")).expect("mkdir");
    std::fs::write(dir.path().join("orgops/org.yaml"), MINIMAL).expect("write");
    let ok = run(orgops().current_dir(dir.path()).arg("validate"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // Two candidates: refused, naming both.
    std::fs::write(dir.path().join("orgops.yaml"), MINIMAL).expect("write");
    let ambiguous = run(orgops().current_dir(dir.path()).arg("validate"));
    assert_eq!(ambiguous.code, 1, "{}", ambiguous.stderr);
    assert!(
        ambiguous.stderr.contains("orgops.yaml") && ambiguous.stderr.contains("orgops/"),
        "{}",
        ambiguous.stderr
    );
    assert!(ambiguous.stderr.contains("-f"), "{}", ambiguous.stderr);
}

#[test]
fn dash_c_runs_as_if_started_in_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("orgops.yaml"), MINIMAL).expect("write");
    let ok = run(orgops().arg("-C").arg(dir.path()).arg("validate"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // Accepted after the subcommand too (a global flag).
    let ok = run(orgops().arg("validate").arg("-C").arg(dir.path()));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let missing = run(orgops()
        .arg("-C")
        .arg(dir.path().join("nope"))
        .arg("validate"));
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("nope"), "{}", missing.stderr);
}
