//! Day one with an existing organization (issue 23): the habits a Terraform user brings,
//! errors that say what to do, and outputs a script can read.

use crate::support::cli::{QUICKSTART, QUICKSTART_LIVE, orgops, root, run};

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
