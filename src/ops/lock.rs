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
//! `$XDG_CACHE_HOME/orgops/locks`, else `~/.cache/orgops/locks`, else
//! `orgops-locks-<uid>` in the temporary directory. Across machines the lock cannot help:
//! the CI workflow's `concurrency:` group is the guard there (see `docs/github-action.md`).
//!
//! Against another local user (Unix): the directory is made 0700 and must be a real
//! directory (not a symbolic link) owned by this user; the file is opened with
//! `O_NOFOLLOW`, created 0600, and must be a regular file owned by this user. A directory or
//! file of this user that is open to others (left 0755/0644 by an older orgops) is made
//! private; one owned by someone else is refused, naming it. So nobody else can plant a
//! link that makes the lock truncate their victim's file, or open the file to `flock` it and
//! block every apply. The holder's note is text from a file: it is shown escaped.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
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

/// The directory lock files live in (see the module documentation).
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
    // Shared by every user of the machine: one directory per user, whose owner is checked.
    std::env::temp_dir().join(format!("orgops-locks-{}", current_uid()))
}

#[cfg(unix)]
fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// The lock file of the organization at `base_url` (with `org_id` when known).
pub fn lock_path(base_url: &str, org_id: Option<&str>) -> PathBuf {
    let identity = format!(
        "{}\n{}",
        base_url.trim_end_matches('/'),
        org_id.unwrap_or("")
    );
    let digest = Sha256::digest(identity.as_bytes());
    let hex = crate::text::hex::hex(&digest[..8]);
    lock_dir().join(format!("apply-{hex}.lock"))
}

/// Takes the apply lock of `organization` (shown in messages) at `path`. When another
/// process holds it: fails at once with `timeout` zero, else waits up to `timeout` (saying so
/// on stderr once), then fails naming the holder.
pub fn acquire(path: PathBuf, organization: &str, timeout: Duration) -> anyhow::Result<ApplyLock> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let mut file = open_private(&path)?;
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
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default();
    let since = crate::text::time::format_utc(since);
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into());
    let text = format!(
        "pid {} on {host}, since {since}, applying to {organization}\n",
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
    let org_id = target.requested_org.as_deref();
    let organization = match org_id {
        Some(id) => format!(
            "{base_url} (organization {})",
            crate::text::escape::text(id)
        ),
        None => base_url.to_string(),
    };
    acquire(lock_path(base_url, org_id), &organization, timeout).map(Some)
}

/// Who holds the lock, from its note (bounded read; the note is one short line), escaped:
/// whoever wrote the file may have put terminal escapes in it.
fn holder(file: &mut File) -> String {
    let mut bytes = Vec::new();
    let read = file
        .rewind()
        .and_then(|()| file.take(512).read_to_end(&mut bytes));
    let text = String::from_utf8_lossy(&bytes);
    match read {
        Ok(_) if !text.trim().is_empty() => crate::text::escape::text(text.trim()).into_owned(),
        _ => "holder unknown".into(),
    }
}

/// Creates `dir` (0700) when missing, and makes sure it is this user's private directory:
/// not a symbolic link, owned by this user, open to nobody else (tightened when it is).
#[cfg(unix)]
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the lock directory {}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("reading the lock directory {}", dir.display()))?;
    if meta.file_type().is_symlink() {
        anyhow::bail!(
            "the lock directory {} is a symbolic link: refusing to use it (another local user \
             may have planted it). Remove it, or set ORGOPS_LOCK_DIR to a directory of yours",
            dir.display()
        );
    }
    if !meta.is_dir() {
        anyhow::bail!(
            "the lock directory {} is not a directory: remove it, or set ORGOPS_LOCK_DIR",
            dir.display()
        );
    }
    let uid = current_uid();
    if meta.uid() != uid {
        anyhow::bail!(
            "the lock directory {} belongs to uid {}, not to this user (uid {uid}): refusing \
             to use it (another local user could read, replace or block the lock). Remove it, \
             or set ORGOPS_LOCK_DIR to a directory of yours",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).with_context(
            || {
                format!(
                    "making the lock directory {} private (chmod 700)",
                    dir.display()
                )
            },
        )?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the lock directory {}", dir.display()))
}

/// Opens (creating, 0600) the lock file without following a symbolic link, and makes sure
/// it is this user's regular file, open to nobody else (tightened when it is).
#[cfg(unix)]
fn open_private(path: &Path) -> anyhow::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
            "the apply lock {} is a symbolic link: refusing to open it (another local user \
             may have planted it to make orgops overwrite a file of yours). Remove it and run \
             again",
            path.display()
        ),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("opening the apply lock {}", path.display()));
        }
    };
    let meta = file
        .metadata()
        .with_context(|| format!("reading the apply lock {}", path.display()))?;
    let uid = current_uid();
    if !meta.is_file() {
        anyhow::bail!(
            "the apply lock {} is not a regular file: remove it and run again",
            path.display()
        );
    }
    if meta.uid() != uid {
        anyhow::bail!(
            "the apply lock {} belongs to uid {}, not to this user (uid {uid}): refusing it. \
             Remove it and run again",
            path.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| {
                format!(
                    "making the apply lock {} private (chmod 600)",
                    path.display()
                )
            })?;
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening the apply lock {}", path.display()))
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

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_for_the_directory_or_the_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("real dir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("dir link");
        let error = acquire(link.join("apply-x.lock"), "org A", Duration::ZERO)
            .expect_err("a linked directory");
        assert!(
            format!("{error:#}").contains("is a symbolic link"),
            "{error:#}"
        );

        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        std::os::unix::fs::symlink(&victim, real.join("apply-y.lock")).expect("file link");
        let error =
            acquire(real.join("apply-y.lock"), "org A", Duration::ZERO).expect_err("a linked file");
        assert!(
            format!("{error:#}").contains("is a symbolic link"),
            "{error:#}"
        );
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
    }

    #[test]
    fn the_holder_note_is_escaped_and_dated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("apply-z.lock");
        let held = acquire(path.clone(), "org \u{1b}[2J", Duration::ZERO).expect("lock");
        let text = format!(
            "{:#}",
            acquire(path, "org", Duration::ZERO).expect_err("held")
        );
        drop(held);
        assert!(
            !text.contains('\u{1b}') && text.contains("org \\u{1b}[2J"),
            "{text}"
        );
        assert!(text.contains(", since 20") && text.ends_with(")"), "{text}");
    }

    #[test]
    fn lock_paths_differ_by_organization_and_endpoint() {
        let a = lock_path("https://api.openai.com/v1", Some("org-1"));
        assert_eq!(a, lock_path("https://api.openai.com/v1/", Some("org-1")));
        assert_ne!(a, lock_path("https://api.openai.com/v1", Some("org-2")));
        assert_ne!(a, lock_path("http://127.0.0.1:9/v1", Some("org-1")));
    }
}
