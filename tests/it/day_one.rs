//! Day one with an existing organization (issue 23): the habits a Terraform user brings,
//! errors that say what to do, and outputs a script can read.

use crate::support::cli::{QUICKSTART, QUICKSTART_LIVE, orgops, root, run};
use crate::support::org;

/// A port nobody listens on: bound, then released.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

// --- 23.4: Terraform habits ----------------------------------------------------------------

/// `-out=plan.json`, `-auto-approve`, `-target x`: a single-dash long flag is an error naming
/// the double-dash form, never a short flag with the rest as its value (`-o ut=plan.json`).
#[test]
fn single_dash_long_flags_are_refused_naming_the_double_dash_form() {
    let dir = tempfile::tempdir().expect("temp dir");
    let quickstart = root().join(QUICKSTART);
    let live = root().join(QUICKSTART_LIVE);
    let (file, state) = (
        quickstart.to_str().expect("utf-8"),
        live.to_str().expect("utf-8"),
    );
    for (args, double) in [
        (
            vec!["plan", "-f", file, "--emulator", state, "-out=plan.json"],
            "'--out=plan.json'",
        ),
        (
            vec!["apply", "-f", file, "--emulator", state, "-auto-approve"],
            "'--auto-approve'",
        ),
        (
            vec![
                "plan",
                "-f",
                file,
                "--emulator",
                state,
                "-target",
                "project:X",
            ],
            "'--target'",
        ),
        (vec!["export", "-output", "x.yaml"], "'--output'"),
        (vec!["plan", "-format", "json"], "'--format'"),
        (vec!["-version"], "'--version'"),
    ] {
        let failed = run(orgops().current_dir(dir.path()).args(&args));
        assert_eq!(
            failed.code, 1,
            "{args:?}: {}{}",
            failed.stdout, failed.stderr
        );
        assert!(
            failed.stderr.contains(double) && failed.stderr.contains("two dashes"),
            "{args:?}: {}",
            failed.stderr
        );
    }
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(written.is_empty(), "files written: {written:?}");

    // A short flag with its value attached still works: `-fFILE`, `-oFILE`.
    let attached = run(orgops()
        .current_dir(dir.path())
        .arg("plan")
        .arg(format!("-f{file}"))
        .args(["--emulator", state])
        .arg("-op.json"));
    assert_eq!(attached.code, 0, "{}", attached.stderr);
    assert!(dir.path().join("p.json").is_file());
    // A single-dash word that is no flag at all names what orgops has.
    let unknown = run(orgops().args(["plan", "-chdir=infra"]));
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("two dashes") && unknown.stderr.contains("-C DIR"),
        "{}",
        unknown.stderr
    );
}

// --- 23.5: export refuses before it reads ---------------------------------------------------

/// An existing `-o FILE` without `--force` is refused before the organization is read: the
/// organization here is a port nobody listens on, so a read would fail with "connection
/// refused" instead.
#[test]
fn export_onto_an_existing_file_is_refused_before_reading_the_organization() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(&file, "# mine, edited since the last export\n").expect("write");
    let refused = run(orgops()
        .env("OPENAI_BASE_URL", refused_url())
        .env("OPENAI_ADMIN_KEY", "sk-admin-unused")
        .args(["export", "-o"])
        .arg(&file));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("already exists") && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("connection refused"),
        "{}",
        refused.stderr
    );
    let split = dir.path().join("split");
    std::fs::create_dir_all(&split).expect("mkdir");
    std::fs::write(split.join("org.yaml"), "# mine\n").expect("write");
    let refused = run(orgops()
        .env("OPENAI_BASE_URL", refused_url())
        .env("OPENAI_ADMIN_KEY", "sk-admin-unused")
        .args(["export", "--split", "-o"])
        .arg(&split));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not empty") && !refused.stderr.contains("connection refused"),
        "{}",
        refused.stderr
    );
}

// --- 23.6: a certificate failure is not transient ------------------------------------------

/// A TLS server on 127.0.0.1 presenting a self-signed certificate (made here, with rcgen):
/// the handshake is all it does. Returns the base URL, the count of connections accepted and
/// the certificate (PEM).
fn self_signed_tls_server() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    String,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("a self-signed certificate");
    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("a private key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .expect("a server config");
    let config = Arc::new(config);
    let pem = certified.cert.pem();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(mut tls) = rustls::ServerConnection::new(config) else {
                    return;
                };
                // A client that does not trust the certificate gives up here.
                if tls.complete_io(&mut stream).is_err() {
                    return;
                }
                // One that does gets a 401 for its request.
                use std::io::{Read as _, Write as _};
                let mut tls = rustls::Stream::new(&mut tls, &mut stream);
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
                let _ = write!(
                    tls,
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
            });
        }
    });
    (format!("https://127.0.0.1:{port}/v1"), connections, pem)
}

/// An untrusted certificate fails at once, in one line saying what failed and what to do:
/// not retried (one connection for one request), and none of the TLS verifier's own log
/// lines (they came through as ~28 warnings, over 7 s of retries).
#[test]
fn an_untrusted_certificate_fails_at_once_in_one_line_that_says_what_to_do() {
    let (url, connections, pem) = self_signed_tls_server();
    let failed = run(orgops()
        .env_remove("RUST_LOG")
        .env("OPENAI_BASE_URL", &url)
        .env("OPENAI_ADMIN_KEY", "sk-admin-unused")
        .args(["audit", "--limit", "1"]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let lines: Vec<&str> = failed
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{}", failed.stderr);
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    assert!(
        line.contains("certificate") && line.contains(&url),
        "{line}"
    );
    assert!(line.contains("SSL_CERT_FILE"), "{line}");
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("sk-admin-unused"));

    // The advice works: with the certificate in SSL_CERT_FILE the handshake succeeds, and the
    // server's answer (401) is what is reported.
    if cfg!(target_os = "linux") {
        let dir = tempfile::tempdir().expect("temp dir");
        let bundle = dir.path().join("ca.pem");
        std::fs::write(&bundle, pem).expect("write");
        let trusted = run(orgops()
            .env_remove("RUST_LOG")
            .env("SSL_CERT_FILE", &bundle)
            .env("OPENAI_BASE_URL", &url)
            .env("OPENAI_ADMIN_KEY", "sk-admin-unused")
            .args(["audit", "--limit", "1"]));
        assert_eq!(trusted.code, 1, "{}", trusted.stderr);
        assert!(
            !trusted.stderr.contains("certificate"),
            "{}",
            trusted.stderr
        );
        assert!(trusted.stderr.contains("HTTP 401"), "{}", trusted.stderr);
    }
}

// --- 23.9: the small ones -------------------------------------------------------------------

/// A base URL ending in another version (`/v2`) is told to end in `/v1` instead, not to
/// append it (`/v2/v1`).
#[test]
fn a_base_url_with_another_version_is_told_the_v1_url() {
    let emu = org::start(org::ORG);
    let root_url = emu.url().trim_end_matches("/v1").to_string();
    let failed = run(org::orgops(&emu)
        .env("OPENAI_BASE_URL", format!("{root_url}/v2"))
        .args(["audit", "--limit", "1"]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains(&format!("OPENAI_BASE_URL={root_url}/v1")),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("/v2/v1"), "{}", failed.stderr);
}

/// Without a key, the message says once what to set and once what the alternative is.
#[test]
fn the_missing_key_message_says_it_once() {
    let failed = run(orgops().arg("export"));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(
        failed.stderr.matches("--emulator").count(),
        1,
        "{}",
        failed.stderr
    );
    assert_eq!(
        failed.stderr.matches("OPENAI_ADMIN_KEY").count(),
        1,
        "{}",
        failed.stderr
    );
}

/// A saved plan that is not there: the OS error once.
#[test]
fn show_of_a_missing_file_gives_the_os_error_once() {
    let failed = run(orgops().args(["show", "missing.json"]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(
        failed.stderr.matches("No such file").count()
            + failed.stderr.matches("cannot find").count(),
        1,
        "{}",
        failed.stderr
    );
}

/// The API's message ends with a full stop; the hint after it does not make it two.
#[test]
fn an_api_message_and_its_hint_are_one_sentence_each() {
    let emu = org::start(org::ORG);
    let failed = run(org::orgops(&emu)
        .env("OPENAI_ADMIN_KEY", "sk-admin-wrong")
        .args(["audit", "--limit", "1"]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("Incorrect API key provided"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("provided.."), "{}", failed.stderr);
}

/// A tab in the indentation is located where the tab is, and the hint says to use spaces
/// (the parser reported the line before, in its own words: "while scanning a plain scalar,
/// found a tab").
#[test]
fn a_tab_in_the_indentation_is_located_with_a_use_spaces_hint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(
        &file,
        "version: 1\nusers:\n  - {email: a@x.example, role: owner}\n  - email: b@x.example\n\trole: owner\n",
    )
    .expect("write");
    let failed = run(orgops().arg("validate").arg("-f").arg(&file));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("orgops.yaml:5:1: error:"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("spaces"), "{}", failed.stderr);
}

/// Apply's progress lines name a change the way its report does: `create project:Research`,
/// not `project:create:project:Research`.
#[test]
fn apply_progress_names_changes_as_the_report_does() {
    // A copy: apply writes the generated keys beside the file.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = crate::drift::copy_example(QUICKSTART, dir.path());
    let applied = run(orgops()
        .env_remove("ORGOPS_NO_PROGRESS")
        .args([
            "apply",
            "--auto-approve",
            "--emulator",
            QUICKSTART_LIVE,
            "-f",
        ])
        .arg(&file));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(
        applied.stderr.contains("applied create project:Research"),
        "{}",
        applied.stderr
    );
    assert!(
        applied
            .stdout
            .contains("✓ create project:Research (applied)")
    );
    assert!(!applied.stderr.contains(":create:"), "{}", applied.stderr);
}

/// docs/plan.md says how long the quickstart's export is, both ways: the counts are the
/// export's.
#[test]
fn the_export_line_counts_in_the_docs_are_the_exports() {
    let lines = |extra: &[&str]| {
        let export = run(orgops()
            .args(["export", "--emulator", QUICKSTART_LIVE])
            .args(extra));
        assert_eq!(export.code, 0, "{}", export.stderr);
        export.stdout.lines().count()
    };
    let (differing, all) = (lines(&[]), lines(&["--rate-limits", "all"]));
    let docs = std::fs::read_to_string(root().join("docs/plan.md")).expect("docs/plan.md");
    let said = format!("from {all} lines (every limit) to {differing}");
    assert!(
        docs.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&said),
        "docs/plan.md does not say {said:?}"
    );
}

/// No page of the docs has the same heading twice (a link to it would reach the first).
#[test]
fn no_docs_page_repeats_a_heading() {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("read");
        let mut seen = std::collections::BTreeSet::new();
        let mut in_code = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_code = !in_code;
            }
            if !in_code && line.starts_with('#') {
                assert!(
                    seen.insert(line.to_string()),
                    "{} repeats the heading {line:?}",
                    page.display()
                );
            }
        }
    }
}

// --- 23.8: drift says what to do, and which side is which ------------------------------------

fn quickstart_drift(format: &str) -> String {
    let drift = run(orgops().args([
        "drift",
        "-f",
        QUICKSTART,
        "--emulator",
        QUICKSTART_LIVE,
        "--format",
        format,
    ]));
    assert_eq!(drift.code, 2, "{}", drift.stderr);
    drift.stdout
}

/// A changed value names its sides (`owner (live) -> reader (file)`), a list diff says which
/// sign is which, the report ends with the two ways out (apply reverts; editing the file
/// accepts), and an unattributed object reads the same in text and markdown.
#[test]
fn drift_labels_live_and_file_says_what_to_do_and_words_unattributed_alike() {
    for format in ["text", "markdown"] {
        let report = quickstart_drift(format);
        assert!(
            report.contains("role: owner (live) -> reader (file)"),
            "{format}: {report}"
        );
        assert!(
            report.contains("permissions (- live, + file):"),
            "{format}: {report}"
        );
        assert!(report.contains("orgops apply"), "{format}: {report}");
        assert!(
            report.contains("orgops drift --write"),
            "{format}: {report}"
        );
        assert!(
            report.contains("no audit event found"),
            "{format}: {report}"
        );
        assert!(!report.contains("_unknown_"), "{format}: {report}");
    }
}

// --- 23.7: audit names what it can, and says what changed ------------------------------------

/// ada (the test key's owner) adds a service account (with a key) to Search and an admin
/// key, makes bob an owner, removes bob from Search, and removes carol (who joined through an
/// invite) from the organization. The table names every object (no `svc_acct_…`, `key_…` or
/// `user:user_…`), says what changed, and the two removals read differently.
#[test]
fn audit_names_objects_says_what_changed_and_tells_the_two_removals_apart() {
    use reqwest::Method;
    use serde_json::json;
    let emu = org::start(&format!(
        "{}invites:\n  - {{email: carol.new@example.com, role: reader, status: pending}}\n",
        org::ORG
    ));
    crate::support::control::call(
        emu.base_url(),
        Method::POST,
        "/invites/accept",
        Some(json!({"email": "carol.new@example.com"})),
    );
    let search = org::project_id(&emu, "Search");
    let bob = org::user_id(&emu, "bob@example.com");
    let carol = org::user_id(&emu, "carol.new@example.com");
    org::call(
        &emu,
        Method::POST,
        &format!("/organization/projects/{search}/service_accounts"),
        Some(json!({"name": "ci-bot"})),
    );
    org::call(
        &emu,
        Method::POST,
        "/organization/admin_api_keys",
        Some(json!({"name": "deploy"})),
    );
    org::call(
        &emu,
        Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    org::call(
        &emu,
        Method::DELETE,
        &format!("/organization/projects/{search}/users/{bob}"),
        None,
    );
    org::call(
        &emu,
        Method::DELETE,
        &format!("/organization/users/{carol}"),
        None,
    );
    let audit = run(org::orgops(&emu).arg("audit"));
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    let table = &audit.stdout;
    for raw in ["svc_acct_", "key_", "user:user_"] {
        assert!(!table.contains(raw), "{raw} in:\n{table}");
    }
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains("CHANGE"), "{table}");
    let row = |event: &str, object: &str| -> String {
        table
            .lines()
            .find(|l| l.contains(event) && l.contains(object))
            .unwrap_or_else(|| panic!("no {event} row about {object}:\n{table}"))
            .to_string()
    };
    row(
        "service_account.created",
        "project:Search/service_account:ci-bot",
    );
    row("api_key.created", "admin_api_key:deploy");
    assert!(
        row("user.updated", "user:bob@example.com").contains("role: owner"),
        "{table}"
    );
    let from_project = row("user.deleted", "user:bob@example.com");
    let from_org = row("user.deleted", "user:carol.new@example.com");
    assert!(from_project.contains("removed from a project"), "{table}");
    assert!(
        from_org.contains("removed from the organization"),
        "{table}"
    );
}

// --- Machine-readable everything --------------------------------------------------------------

/// `apply --format json`: stdout is exactly the outcome report (the `-o` file's JSON); the
/// plan and the text report go to stderr for a person watching the log.
#[test]
fn apply_format_json_prints_the_report_on_stdout() {
    // A copy: apply writes the generated keys beside the file.
    let dir = tempfile::tempdir().expect("temp dir");
    let desired = crate::drift::copy_example(QUICKSTART, dir.path());
    let file = dir.path().join("report.json");
    let applied = run(orgops()
        .args(["apply", "--auto-approve", "--format", "json"])
        .args(["--emulator", QUICKSTART_LIVE, "-f"])
        .arg(&desired)
        .arg("-o")
        .arg(&file));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&applied.stdout).expect("stdout is one JSON document");
    assert_eq!(report["result"], "applied", "{report:#}");
    assert_eq!(report["summary"]["applied"], 21, "{report:#}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("report")).expect("json");
    assert_eq!(written["changes"], report["changes"]);
    assert!(
        applied.stderr.contains("+ create     project:Research"),
        "{}",
        applied.stderr
    );
    assert!(
        applied.stderr.contains("Apply complete"),
        "{}",
        applied.stderr
    );
}

/// `export -o FILE --format json`: the outcome as JSON on stdout (what was written where).
#[test]
fn export_format_json_describes_the_outcome() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("split");
    let export = run(orgops()
        .args([
            "export",
            "--split",
            "--format",
            "json",
            "--emulator",
            QUICKSTART_LIVE,
            "-o",
        ])
        .arg(&out));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let outcome: serde_json::Value =
        serde_json::from_str(&export.stdout).expect("stdout is one JSON document");
    assert_eq!(outcome["format_version"], 1, "{outcome:#}");
    assert_eq!(outcome["users"], 5, "{outcome:#}");
    let files: Vec<&str> = outcome["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert!(files.contains(&"org.yaml"), "{outcome:#}");
    for file in &files {
        assert!(out.join(file).is_file(), "{file} listed but not written");
    }
    assert_eq!(outcome["removed"], serde_json::json!([]), "{outcome:#}");
    // Without -o the export itself is stdout: JSON has no outcome to describe there.
    let refused = run(orgops().args(["export", "--format", "json", "--emulator", QUICKSTART_LIVE]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("-o"), "{}", refused.stderr);
}

/// One flag style for time windows: `drift --since 30d` like `audit --since 30d`;
/// `--since-days N` still works, with a warning, and is hidden from `--help`.
#[test]
fn drift_takes_since_like_audit_and_warns_on_since_days() {
    let drift = |args: &[&str]| {
        run(orgops()
            .args([
                "drift",
                "--format",
                "json",
                "-f",
                QUICKSTART,
                "--emulator",
                QUICKSTART_LIVE,
            ])
            .args(args))
    };
    let since = drift(&["--since", "7d"]);
    assert_eq!(since.code, 2, "{}", since.stderr);
    assert!(!since.stderr.contains("deprecated"), "{}", since.stderr);
    let report: serde_json::Value = serde_json::from_str(&since.stdout).expect("json");
    assert_eq!(report["audit"]["status"], "read", "{report:#}");
    let old = drift(&["--since-days", "7"]);
    assert_eq!(old.code, 2, "{}", old.stderr);
    assert!(
        old.stderr.contains("--since-days is deprecated") && old.stderr.contains("--since 7d"),
        "{}",
        old.stderr
    );
    let old_report: serde_json::Value = serde_json::from_str(&old.stdout).expect("json");
    assert_eq!(old_report["items"], report["items"]);
    let help = run(orgops().args(["drift", "--help"]));
    assert!(help.stdout.contains("--since <WHEN>"), "{}", help.stdout);
    assert!(!help.stdout.contains("--since-days"), "{}", help.stdout);
    let both = drift(&["--since", "7d", "--since-days", "7"]);
    assert_eq!(both.code, 1, "{}", both.stderr);
}

/// `--no-color`, anywhere on the line: no escape sequence even on a terminal (`script` gives
/// the command one; without the flag the same run is coloured).
#[cfg(target_os = "linux")]
#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let bin = assert_cmd::cargo::cargo_bin!("orgops");
    let on_a_terminal = |extra: &str| -> String {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-q", "-e", "-c"])
            .arg(format!(
                "'{}' plan {extra} -f {QUICKSTART} --emulator {QUICKSTART_LIVE}",
                bin.display()
            ))
            .arg("/dev/null")
            .current_dir(root())
            .env_remove("NO_COLOR")
            .env("ORGOPS_NO_PROGRESS", "1");
        let out = cmd.output().expect("script runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        on_a_terminal("").contains('\u{1b}'),
        "no colour without the flag"
    );
    let plain = on_a_terminal("--no-color");
    assert!(plain.contains("create"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
}

/// `fmt --format json`: which files were checked and which changed (or, with `--check`,
/// would change), on stdout, with no diff mixed in.
#[test]
fn fmt_format_json_says_which_files_were_checked_and_changed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tidy = "version: 1\n\nusers:\n  - email: ada@x.example\n    role: owner\n";
    let untidy = "users:\n  - role: owner\n    email: bob@x.example\nversion: 1\n";
    std::fs::write(dir.path().join("a.yaml"), tidy).expect("write");
    std::fs::write(dir.path().join("b.yaml"), untidy).expect("write");
    let d = dir.path().to_str().expect("utf-8");
    let check = run(orgops().args(["fmt", "-f", d, "--check", "--format", "json"]));
    assert_eq!(check.code, 1, "{}", check.stderr);
    let outcome: serde_json::Value =
        serde_json::from_str(&check.stdout).expect("fmt --format json is JSON");
    let a = dir.path().join("a.yaml").display().to_string();
    let b = dir.path().join("b.yaml").display().to_string();
    assert_eq!(
        outcome,
        serde_json::json!({
            "format_version": 1,
            "check": true,
            "files": [{"path": a, "changed": false}, {"path": b, "changed": true}],
            "checked": 2,
            "changed": 1,
        })
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b.yaml")).expect("read"),
        untidy,
        "--check writes nothing"
    );
    let write = run(orgops().args(["fmt", "-f", d, "--format", "json"]));
    assert_eq!(write.code, 0, "{}", write.stderr);
    let outcome: serde_json::Value = serde_json::from_str(&write.stdout).expect("JSON");
    assert_eq!(outcome["check"], false);
    assert_eq!(outcome["changed"], 1);
    assert_eq!(
        outcome["files"][1],
        serde_json::json!({"path": b, "changed": true})
    );
    let again = run(orgops().args(["fmt", "-f", d, "--check", "--format", "json"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    let outcome: serde_json::Value = serde_json::from_str(&again.stdout).expect("JSON");
    assert_eq!(outcome["changed"], 0);
}

// --- A picture where people would rather look: `orgops graph` -------------------------------

/// The edges of a DOT or mermaid graph, as `(from, to)` node ids.
fn graph_edges(text: &str, arrow: &str) -> std::collections::BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim().trim_end_matches(';').split_once(arrow))
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .collect()
}

/// `orgops graph`: every change of the plan a node (`n<i>`, `i` its position in the plan's
/// JSON), every `depends_on` an edge from the change that runs first, in DOT and mermaid;
/// the same bytes twice and from the saved plan.
#[test]
fn graph_draws_the_plans_dependencies_as_dot_and_mermaid() {
    let plan = run(orgops().args([
        "plan",
        "-f",
        QUICKSTART,
        "--emulator",
        QUICKSTART_LIVE,
        "--format",
        "json",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let changes = plan["changes"].as_array().expect("changes");
    let position: std::collections::BTreeMap<&str, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c["id"].as_str().expect("id"), i))
        .collect();
    let mut expected = std::collections::BTreeSet::new();
    for (i, change) in changes.iter().enumerate() {
        for dep in change["depends_on"].as_array().expect("depends_on") {
            let from = position[dep.as_str().expect("an id")];
            expected.insert((format!("n{from}"), format!("n{i}")));
        }
    }
    assert!(!expected.is_empty(), "the quickstart plan has dependencies");

    let graph = |format: &str| {
        let out = run(orgops().args([
            "graph",
            "-f",
            QUICKSTART,
            "--emulator",
            QUICKSTART_LIVE,
            "--format",
            format,
        ]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let dot = graph("dot");
    assert!(dot.starts_with("digraph orgops_plan {\n"), "{dot}");
    assert_eq!(graph_edges(&dot, "->"), expected, "{dot}");
    for (i, change) in changes.iter().enumerate() {
        let key = change["key"].as_str().expect("key");
        let node = format!("  n{i} [label=\"{}. ", i + 1);
        let line = dot
            .lines()
            .find(|l| l.starts_with(&node))
            .unwrap_or_else(|| panic!("node {i} in {dot}"));
        assert!(line.contains(key), "{line} names {key}");
        assert_eq!(
            line.contains("color=\"#cc0000\""),
            change["destructive"] == true,
            "{line}"
        );
    }
    assert_eq!(graph("dot"), dot, "the same plan gives the same bytes");

    let mermaid = graph("mermaid");
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert_eq!(graph_edges(&mermaid, "-->"), expected, "{mermaid}");
    assert_eq!(
        mermaid.lines().filter(|l| l.contains("[\"")).count(),
        changes.len(),
        "every change a node: {mermaid}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let saved = crate::support::cli::save_quickstart_plan(dir.path());
    let from_saved = run(orgops()
        .args(["graph", "--plan"])
        .arg(&saved)
        .args(["--format", "dot"]));
    assert_eq!(from_saved.code, 0, "{}", from_saved.stderr);
    assert_eq!(from_saved.stdout, dot);
}

/// A name from the file cannot end a DOT label or a mermaid node early (control characters
/// never get that far: names with them are refused when the file is read).
#[test]
fn graph_escapes_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(
        &file,
        "version: 1\nprojects:\n  - name: 'a\"b\\c]\"x'\n  - name: 'x\" -> n0; n9 [label=\"y'\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8");
    for format in ["dot", "mermaid"] {
        let out = run(orgops().args([
            "graph",
            "-f",
            file,
            "--emulator",
            QUICKSTART_LIVE,
            "--format",
            format,
        ]));
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        let nodes: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.contains("create project:"))
            .collect();
        assert_eq!(nodes.len(), 2, "{format}: {}", out.stdout);
        for node in nodes {
            match format {
                "dot" => {
                    let label = node
                        .split_once("label=\"")
                        .and_then(|(_, rest)| rest.strip_suffix("\"];"))
                        .unwrap_or_else(|| panic!("{node}"));
                    let unescaped_quote =
                        label.replace("\\\\", "").replace("\\\"", "").contains('"');
                    assert!(!unescaped_quote, "{node}");
                }
                _ => assert_eq!(node.matches('"').count(), 2, "{node}"),
            }
        }
    }
}
