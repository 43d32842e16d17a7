//! What orgops reads and writes on disk (issue 13, items 2, 3 and 7): sinks that would
//! overwrite an input, inputs that are not regular files, and the last validate gaps. Every
//! test runs the real binary.
//!
//! Commands that used to hang (a FIFO, `/dev/zero`) run under a generous kill-guard
//! (`GUARD`): it only turns a hang into a failure, nothing asserts how long a run takes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::cli::{Run, orgops, run};

/// Kills a run that hangs (the old behaviour on FIFOs and devices), so the test fails
/// instead of blocking the suite. Not a timing assertion: a passing run takes milliseconds.
const GUARD: Duration = Duration::from_secs(120);

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dirs");
    }
    std::fs::write(&path, text).expect("write file");
    path
}

/// A desired state whose admin key `ci` (line 6) sends its value to `sink`.
fn org_with_sink(sink: &str) -> String {
    format!(
        "version: 1\nusers:\n  - {{email: ada@x.example, role: owner}}\nadmin_api_keys:\n  - name: ci\n    sink: {{file: '{sink}'}}\n"
    )
}

/// `orgops validate ARGS` run in `cwd`.
fn validate_in(cwd: &Path, args: &[&str]) -> Run {
    run(orgops()
        .current_dir(cwd)
        .arg("validate")
        .args(args)
        .timeout(GUARD))
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn assert_refused(run: &Run, needles: &[&str]) {
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "missing `{needle}` in:\n{}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------
// Item 2: sinks never overwrite what orgops reads

#[test]
fn a_sink_back_into_the_desired_file_through_dot_dot_is_refused_and_apply_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("cfg");
    let text = org_with_sink("../cfg/orgops.yaml");
    write(&cfg, "orgops.yaml", &text);
    let refused = validate_in(&cfg, &["-f", "orgops.yaml"]);
    assert_refused(&refused, &["orgops.yaml:6:", "an input file"]);

    // The same file through apply: refused before anything is written, the YAML intact.
    write(
        dir.path(),
        "live.yaml",
        "users: [{email: ada@x.example, role: owner}]\n",
    );
    let apply = run(orgops()
        .current_dir(&cfg)
        .args(["apply", "--auto-approve", "-f", "orgops.yaml"])
        .args(["--emulator", "../live.yaml"]));
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(
        std::fs::read_to_string(cfg.join("orgops.yaml")).expect("read back"),
        text,
        "the committed YAML was overwritten"
    );
}

#[cfg(unix)]
#[test]
fn sinks_through_symlinks_and_absolute_paths_onto_inputs_and_certificates_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(&cfg).expect("cfg");
    // `keys` is the configuration directory itself, under another name.
    symlink(".", &cfg.join("keys"));
    let pem = "-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n";
    write(&cfg, "certs/ca.pem", pem);
    let absolute = cfg.join("b.yaml").display().to_string();
    write(
        &cfg,
        "a.yaml",
        &format!(
            "version: 1\nusers:\n  - {{email: ada@x.example, role: owner}}\ncertificates:\n  - {{name: ca, file: certs/ca.pem}}\nadmin_api_keys:\n  - {{name: one, sink: {{file: keys/a.yaml}}}}\n  - {{name: two, sink: {{file: keys/certs/ca.pem}}}}\n  - {{name: three, sink: {{file: '{absolute}'}}}}\n  - {{name: four, sink: {{file: keys/new.yaml}}}}\n"
        ),
    );
    write(&cfg, "b.yaml", "projects: [{name: Search}]\n");
    let refused = validate_in(&cfg, &["-f", "."]);
    assert_refused(
        &refused,
        &[
            "a.yaml:7:",
            "sink file `keys/a.yaml` is an input file",
            "a.yaml:8:",
            "sink file `keys/certs/ca.pem` is a certificate file",
            "a.yaml:9:",
            "is an input file",
            "a.yaml:10:",
            "sink file `keys/new.yaml` would become an input file",
        ],
    );
    assert_eq!(
        refused.stderr.matches(": error: ").count(),
        4,
        "{}",
        refused.stderr
    );
}

#[cfg(unix)]
#[test]
fn sinks_outside_the_configuration_tree_need_allow_sink_outside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(dir.path().join("elsewhere")).expect("elsewhere");
    std::fs::create_dir_all(&cfg).expect("cfg");
    // A directory symlink that leaves the tree.
    symlink("../elsewhere", &cfg.join("out"));
    write(
        &cfg,
        "orgops.yaml",
        "version: 1\nusers:\n  - {email: ada@x.example, role: owner}\nadmin_api_keys:\n  - {name: one, sink: {file: ../outside.key}}\n  - {name: two, sink: {file: out/k.key}}\n  - {name: three, sink: {file: secrets/new/dir/k.key}}\n",
    );
    let refused = validate_in(&cfg, &["-f", "orgops.yaml"]);
    assert_refused(
        &refused,
        &[
            "orgops.yaml:5:",
            "sink file `../outside.key` is outside the configuration's directory",
            "orgops.yaml:6:",
            "sink file `out/k.key` is outside",
            "--allow-sink-outside",
        ],
    );
    assert_eq!(
        refused.stderr.matches(": error: ").count(),
        2,
        "{}",
        refused.stderr
    );
    let allowed = validate_in(&cfg, &["-f", "orgops.yaml", "--allow-sink-outside"]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    // The flag never allows overwriting an input.
    write(&cfg, "orgops.yaml", &org_with_sink("../cfg/orgops.yaml"));
    let still = validate_in(&cfg, &["-f", "orgops.yaml", "--allow-sink-outside"]);
    assert_refused(&still, &["orgops.yaml:6:", "an input file"]);
}

// ---------------------------------------------------------------------------------------
// Item 3: inputs are regular files, read with a cap

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_as_the_desired_state_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe.yaml");
    mkfifo(&fifo);
    let refused = validate_in(dir.path(), &["-f", "pipe.yaml"]);
    assert_refused(&refused, &["pipe.yaml:1:1:", "FIFO", "not a regular file"]);
    let zero = validate_in(dir.path(), &["-f", "/dev/zero"]);
    assert_refused(&zero, &["/dev/zero:1:1:", "device", "not a regular file"]);
}

#[cfg(unix)]
#[test]
fn a_device_as_a_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "orgops.yaml",
        "version: 1\ncertificates:\n  - {name: ca, file: /dev/zero}\n",
    );
    let refused = validate_in(dir.path(), &["-f", "orgops.yaml"]);
    assert_refused(&refused, &["orgops.yaml:3:", "not a regular file"]);
}

#[cfg(unix)]
#[test]
fn a_device_or_fifo_as_a_saved_plan_or_a_live_seed_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "orgops.yaml",
        "version: 1\nprojects: [{name: Search}]\n",
    );
    write(dir.path(), "live.yaml", "projects: [{name: Search}]\n");
    let apply = run(orgops()
        .current_dir(dir.path())
        .args(["apply", "-f", "orgops.yaml", "--emulator", "live.yaml"])
        .args(["--plan", "/dev/zero"])
        .timeout(GUARD));
    assert_refused(&apply, &["/dev/zero", "not a regular file"]);
    let fifo = dir.path().join("seed.yaml");
    mkfifo(&fifo);
    let plan = run(orgops()
        .current_dir(dir.path())
        .args(["plan", "-f", "orgops.yaml", "--emulator", "seed.yaml"])
        .timeout(GUARD));
    assert_refused(&plan, &["seed.yaml", "FIFO"]);
}

#[cfg(unix)]
#[test]
fn a_matching_file_in_a_directory_that_cannot_be_read_is_an_error_not_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("cfg");
    write(
        &cfg,
        "a.yaml",
        "version: 1\nusers:\n  - {email: ada@x.example, role: owner}\n",
    );
    symlink("missing.yaml", &cfg.join("b.yaml"));
    symlink("c.yaml", &cfg.join("c.yaml"));
    mkfifo(&cfg.join("d.yml"));
    let refused = validate_in(dir.path(), &["-f", "cfg"]);
    assert_refused(
        &refused,
        &[
            "cfg/b.yaml:1:1:",
            "dangling symbolic link",
            "cfg/c.yaml:1:1:",
            "cfg/d.yml:1:1:",
            "FIFO",
        ],
    );
    assert_eq!(
        refused.stderr.matches(": error: ").count(),
        3,
        "{}",
        refused.stderr
    );
}

// ---------------------------------------------------------------------------------------
// Item 7: validate closes the remaining gaps

#[test]
fn version_as_a_string_says_a_number_not_a_string() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "orgops.yaml", "version: \"1\"\n");
    let refused = validate_in(dir.path(), &["-f", "orgops.yaml"]);
    assert_refused(&refused, &["orgops.yaml:1:10:", "a number, not a string"]);
}

#[test]
fn unknown_yaml_tags_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "orgops.yaml",
        "version: 1\nprojects:\n  - name: !Ref Search\n  - name: !!binary U2VhcmNo\n",
    );
    let refused = validate_in(dir.path(), &["-f", "orgops.yaml"]);
    assert_refused(
        &refused,
        &[
            "orgops.yaml:3:",
            "YAML tag `!Ref`",
            "orgops.yaml:4:",
            "YAML tag `!!binary`",
        ],
    );
}

#[test]
fn emails_with_invisible_or_mixed_script_characters_get_a_warning_naming_the_code_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "orgops.yaml",
        "version: 1\nusers:\n  - {email: \"ada\u{200B}@x.example\", role: owner}\n  - {email: \"b\u{043E}b@x.example\", role: owner}\n",
    );
    let warned = validate_in(dir.path(), &["-f", "orgops.yaml"]);
    assert_eq!(warned.code, 0, "{}", warned.stderr);
    assert!(
        warned.stderr.contains("orgops.yaml:3:") && warned.stderr.contains("U+200B"),
        "{}",
        warned.stderr
    );
    assert!(
        warned.stderr.contains("orgops.yaml:4:") && warned.stderr.contains("U+043E"),
        "{}",
        warned.stderr
    );
    assert_eq!(
        warned.stderr.matches(": warning: ").count(),
        2,
        "{}",
        warned.stderr
    );
}

#[test]
fn lengths_past_the_api_limits_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = "g".repeat(256);
    let fits = "p".repeat(255);
    write(
        dir.path(),
        "orgops.yaml",
        &format!(
            "version: 1\ngroups:\n  - name: {long}\nprojects:\n  - name: {fits}\n  - name: x{fits}\n"
        ),
    );
    let refused = validate_in(dir.path(), &["-f", "orgops.yaml"]);
    assert_refused(
        &refused,
        &[
            "orgops.yaml:3:",
            "group name is 256 characters; the API accepts at most 255",
            "orgops.yaml:6:",
            "project name is 256 characters",
        ],
    );
    assert_eq!(
        refused.stderr.matches(": error: ").count(),
        2,
        "{}",
        refused.stderr
    );
}
