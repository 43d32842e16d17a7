//! One apply at a time per organization, on one machine.
//!
//! `orgops apply` takes an exclusive OS file lock (`flock` on Unix, `LockFileEx` on
//! Windows, through std's `File::try_lock`) on a file named after the organization (API
//! base URL and `OPENAI_ORG_ID`) before the live read its plan is made from, and holds it
//! until the process ends. The kernel releases it when the holder exits, however it exits,
//! so a crashed apply never leaves a stale lock. The file holds who took it (pid, host,
//! start time, organization) so a second apply can say who it waits for.
//!
//! Where: `$ORGOPS_LOCK_DIR` if set, else `$XDG_RUNTIME_DIR/orgops`, else
//! `$XDG_CACHE_HOME/orgops/locks`, else `~/.cache/orgops/locks`, else the temporary
//! directory. Across machines the lock cannot help: the CI workflow's `concurrency:` group is
//! the guard there (see `docs/github-action.md`).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

/// The environment variable naming the lock directory (tests isolate themselves with it).
pub const LOCK_DIR_ENV: &str = "ORGOPS_LOCK_DIR";

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct ApplyLock {
    _file: File,
    pub path: PathBuf,
}

/// The directory lock files live in.
pub fn lock_dir() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var(LOCK_DIR_ENV) {
        return dir;
    }
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        return dir.join("orgops");
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("orgops").join("locks");
    }
    if let Some(home) = var("HOME") {
        return home.join(".cache").join("orgops").join("locks");
    }
    std::env::temp_dir().join("orgops-locks")
}

/// The lock file of the organization at `base_url` (with `org_id` when known).
pub fn lock_path(base_url: &str, org_id: Option<&str>) -> PathBuf {
    let identity = format!(
        "{}\n{}",
        base_url.trim_end_matches('/'),
        org_id.unwrap_or("")
    );
    let digest = Sha256::digest(identity.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    lock_dir().join(format!("apply-{hex}.lock"))
}

/// Takes the apply lock of `organization` (shown in messages) at `path`. When another
/// process holds it: fails at once with `timeout` zero, else waits up to `timeout` (saying so
/// on stderr once), then fails naming the holder.
pub fn acquire(path: PathBuf, organization: &str, timeout: Duration) -> anyhow::Result<ApplyLock> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the lock directory {}", dir.display()))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the apply lock {}", path.display()))?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&mut file);
                if started.elapsed() >= timeout {
                    anyhow::bail!(
                        "another orgops apply holds the lock for {organization} ({holder}); \
                         nothing was applied. Wait for it to finish and run again, or give \
                         --lock-timeout SECONDS to wait (lock file: {})",
                        path.display()
                    );
                }
                if !said {
                    eprintln!(
                        "waiting up to {}s for another orgops apply on {organization} ({holder}) to finish...",
                        timeout.as_secs()
                    );
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(TryLockError::Error(error)) => {
                return Err(error)
                    .with_context(|| format!("locking the apply lock {}", path.display()));
            }
        }
    }
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into());
    let text = format!(
        "pid {} on {host}, since unix time {since}, applying to {organization}\n",
        std::process::id()
    );
    // The holder's note is informative only: failing to write it does not stop the apply.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.flush());
    Ok(ApplyLock { _file: file, path })
}

/// The apply lock of `target`'s organization, or none for an emulator inside this process
/// (no other process can reach it).
pub fn for_target(
    target: &crate::ops::target::Target,
    timeout: Duration,
) -> anyhow::Result<Option<ApplyLock>> {
    if target.is_in_process() {
        return Ok(None);
    }
    let base_url = target.client.base_url();
    let org_id = target.org.org_id.as_deref();
    let organization = match org_id {
        Some(id) => format!("{base_url} (organization {id})"),
        None => base_url.to_string(),
    };
    acquire(lock_path(base_url, org_id), &organization, timeout).map(Some)
}

/// Who holds the lock, from its note (bounded read; the note is one short line).
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .rewind()
        .and_then(|()| file.take(512).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "holder unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_dropped_lock_is_free_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("apply-test.lock");
        let first = acquire(path.clone(), "org A", Duration::ZERO).expect("first lock");
        let error = acquire(path.clone(), "org A", Duration::ZERO).expect_err("held");
        let text = format!("{error:#}");
        assert!(
            text.contains("another orgops apply")
                && text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        acquire(path, "org A", Duration::ZERO).expect("free again");
    }

    #[test]
    fn lock_paths_differ_by_organization_and_endpoint() {
        let a = lock_path("https://api.openai.com/v1", Some("org-1"));
        assert_eq!(a, lock_path("https://api.openai.com/v1/", Some("org-1")));
        assert_ne!(a, lock_path("https://api.openai.com/v1", Some("org-2")));
        assert_ne!(a, lock_path("http://127.0.0.1:9/v1", Some("org-1")));
    }
}
