//! Issue 21 items 8 and 9: the apply lock against a local attacker. Its directory is 0700
//! and owned by the user, its file 0600 and never opened through a symbolic link, and the
//! holder it names is escaped (and dated) before it reaches the terminal.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::cli::{Run, run};
use crate::support::org;

/// The file: the org as it is (nothing to apply; apply still takes the lock).
fn desired(dir: &Path) -> PathBuf {
    let path = dir.join("orgops.yaml");
    std::fs::write(
        &path,
        format!(
            "{}policy:\n  unmanaged:\n    admin_api_keys: ignore\n",
            org::ORG
        ),
    )
    .expect("desired");
    path
}

/// `orgops apply` against `emu` with only `env` deciding where the lock goes.
fn apply(emu: &orgops::emulator::RunningEmulator, file: &Path, env: &[(&str, &Path)]) -> Run {
    let mut command = org::orgops(emu);
    for var in [
        "ORGOPS_LOCK_DIR",
        "XDG_RUNTIME_DIR",
        "XDG_CACHE_HOME",
        "HOME",
    ] {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    run(command.args(["apply", "--auto-approve", "-f"]).arg(file))
}

/// Every `*.lock` file under `dir`.
fn lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "lock") {
                found.push(path);
            }
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Item 8: without HOME or XDG directories the lock lives under the temporary directory,
/// where another user could plant `lockname -> ~victim/.bashrc`. The lock file is never
/// opened through a link: the planted one is refused and its target left as it was.
#[test]
fn the_lock_never_writes_through_a_planted_symbolic_link() {
    let emu = org::start(org::ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let first = apply(&emu, &file, &[("TMPDIR", &tmp)]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let locks = lock_files(&tmp);
    assert_eq!(locks.len(), 1, "{locks:?}");
    let victim = dir.path().join("victim-bashrc");
    std::fs::write(&victim, "precious\n").expect("victim");
    std::fs::remove_file(&locks[0]).expect("remove the lock file");
    std::os::unix::fs::symlink(&victim, &locks[0]).expect("plant the link");

    let second = apply(&emu, &file, &[("TMPDIR", &tmp)]);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n",
        "the lock wrote through the planted link (apply exited {})",
        second.code
    );
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains("symbolic link"), "{}", second.stderr);
}

/// Item 9: the lock directory is 0700 and the lock file 0600, so no other local user can
/// open it (a read-only descriptor is enough to `flock` it and block every apply); a
/// directory left 0755 (and a file left 0644) by an older orgops is tightened.
#[test]
fn the_lock_directory_and_file_are_private_to_their_user() {
    let emu = org::start(org::ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    let home = dir.path().join("home");
    let old = home.join(".cache/orgops/locks");
    std::fs::create_dir_all(&old).expect("an older lock directory");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = apply(&emu, &file, &[("HOME", &home)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let locks = lock_files(&home);
    assert_eq!(locks.len(), 1, "{locks:?}");
    let lock_dir = locks[0].parent().expect("its directory");
    assert_eq!(mode(lock_dir), 0o700, "{}", lock_dir.display());
    assert_eq!(mode(&locks[0]), 0o600, "{}", locks[0].display());

    // A file another version left readable by everyone is made private again.
    std::fs::set_permissions(&locks[0], std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = apply(&emu, &file, &[("HOME", &home)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&locks[0]), 0o600, "{}", locks[0].display());

    // Without HOME or XDG, the fallback under the temporary directory is private too.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let out = apply(&emu, &file, &[("TMPDIR", &tmp)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let locks = lock_files(&tmp);
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(mode(locks[0].parent().expect("dir")), 0o700);
    assert_eq!(mode(&locks[0]), 0o600);
}

/// Item 9: the holder's note is text from a file: printed escaped (no ESC or OSC reaches
/// the terminal), and orgops's own note gives the time as a date.
#[test]
fn the_holder_is_named_escaped_and_dated() {
    let emu = org::start(org::ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    let locks = dir.path().join("locks");
    let first = apply(&emu, &file, &[("ORGOPS_LOCK_DIR", &locks)]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let path = lock_files(&locks).pop().expect("the lock file");

    // Another holder wrote a hostile note.
    {
        let mut held = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open the lock");
        held.lock().expect("hold the lock");
        use std::io::Write as _;
        held.set_len(0).expect("truncate");
        held.write_all(b"pid 1 on \x1b]0;pwned\x07host\x1b[2J \xe2\x80\xae, since unix time 1")
            .expect("note");
        let out = apply(&emu, &file, &[("ORGOPS_LOCK_DIR", &locks)]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let raw: Vec<char> = out
            .stderr
            .chars()
            .filter(|&c| (c.is_control() && c != '\n') || c == '\u{202e}')
            .collect();
        assert!(raw.is_empty(), "raw {raw:?} in {:?}", out.stderr);
        assert!(
            out.stderr.contains("\\u{1b}]0;pwned\\u{7}host"),
            "{}",
            out.stderr
        );
    }

    // orgops's own note: a date, not seconds since 1970.
    let held = orgops::ops::lock::acquire(
        path.clone(),
        "the test organization",
        std::time::Duration::ZERO,
    )
    .expect("take the lock in this process");
    let out = apply(&emu, &file, &[("ORGOPS_LOCK_DIR", &locks)]);
    drop(held);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let year = 1970
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            / 31_556_952);
    assert!(
        !out.stderr.contains("unix time")
            && (out.stderr.contains(&format!("since {year}-"))
                || out.stderr.contains(&format!("since {}-", year - 1))),
        "{}",
        out.stderr
    );
}
