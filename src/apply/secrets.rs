//! Where generated keys go, and nowhere else.
//!
//! A key is generated when orgops creates a service account whose entry declares a `sink`
//! (without one the account is created with `create_service_account_only`: no key exists) or
//! an admin API key. Its value is a [`Secret`] (prints as `[redacted]`) and is handed to
//! exactly one place:
//!
//! - `sink: { file: PATH }`: PATH is relative to the YAML file that declares the object.
//!   Missing directories are created 0700. The value is written to a new file in the same
//!   directory, created exclusively (`O_EXCL`) with mode 0600, synced, then renamed over
//!   PATH: a reader never sees a partial key, an existing file (or a symlink planted at
//!   PATH) is replaced rather than written through, and the result is 0600 whatever was there.
//! - `sink: { command: [PROGRAM, ARGS...] }`: PROGRAM runs without a shell, in the declaring
//!   file's directory, and gets the value on its standard input (no trailing newline); its
//!   output is discarded, so a program that echoes its input cannot leak the key; it must
//!   exit 0 within [`COMMAND_TIMEOUT`]. It inherits orgops's environment except the
//!   credentials orgops itself holds ([`WITHHELD_FROM_SINKS`]: the admin key, the GitHub
//!   token): the program gets the one key it is for, not the key that can mint every other.
//!
//! Sinks are checked before the object is created ([`SinkTarget::check`]), so an unwritable
//! directory or a missing program fails the change before a one-time key could be lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::api::Secret;
use crate::config::DesiredState;
use crate::model::Sink;

/// How long a command sink may take to accept a key.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables a sink command does not inherit: the credentials orgops reads
/// (a sink that logs or forwards its environment would otherwise leak them).
pub const WITHHELD_FROM_SINKS: [&str; 2] = ["OPENAI_ADMIN_KEY", "GITHUB_TOKEN"];

/// A sink that cannot take the key. The message never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// A declared sink and the directory its relative paths start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkTarget {
    pub sink: Sink,
    /// The directory of the YAML file that declares the sink.
    pub base_dir: PathBuf,
}

/// Every sink the desired state declares, by the natural key of the object whose key it takes.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    by_owner: BTreeMap<String, SinkTarget>,
}

fn service_account_owner(project: &str, name: &str) -> String {
    format!("projects/{project}/service_accounts/{name}")
}

fn admin_api_key_owner(name: &str) -> String {
    format!("admin_api_keys/{name}")
}

impl Sinks {
    /// The sinks of `state`, each resolved against the file that declares it.
    pub fn from_desired(state: &DesiredState) -> Sinks {
        let fallback = state
            .files
            .first()
            .map(|f| parent_dir(f))
            .unwrap_or_else(|| PathBuf::from("."));
        let base_dir = |owner: &str| {
            state
                .declared_at
                .get(owner)
                .map(|at| parent_dir(Path::new(&at.file)))
                .unwrap_or_else(|| fallback.clone())
        };
        let mut by_owner = BTreeMap::new();
        for key in &state.doc.admin_api_keys {
            if let Some(sink) = &key.sink {
                let owner = admin_api_key_owner(&key.name);
                let target = SinkTarget {
                    sink: sink.clone(),
                    base_dir: base_dir(&owner),
                };
                by_owner.insert(owner, target);
            }
        }
        for project in &state.doc.projects {
            for account in &project.service_accounts {
                if let Some(sink) = &account.sink {
                    let owner = service_account_owner(&project.name, &account.name);
                    let target = SinkTarget {
                        sink: sink.clone(),
                        base_dir: base_dir(&owner),
                    };
                    by_owner.insert(owner, target);
                }
            }
        }
        Sinks { by_owner }
    }

    pub fn service_account(&self, project: &str, name: &str) -> Option<&SinkTarget> {
        self.by_owner.get(&service_account_owner(project, name))
    }

    pub fn admin_api_key(&self, name: &str) -> Option<&SinkTarget> {
        self.by_owner.get(&admin_api_key_owner(name))
    }
}

fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl SinkTarget {
    /// Where a file sink writes (None for a command sink).
    pub fn file_path(&self) -> Option<PathBuf> {
        match &self.sink {
            Sink::File(path) => Some(self.base_dir.join(path)),
            Sink::Command(_) => None,
        }
    }

    /// What the report says about the sink (never the key).
    pub fn describe(&self) -> String {
        match &self.sink {
            Sink::File(_) => match self.file_path() {
                Some(path) => format!("file {}", path.display()),
                None => "a file".to_string(),
            },
            Sink::Command(argv) => format!(
                "the standard input of `{}`",
                argv.first().map(String::as_str).unwrap_or_default()
            ),
        }
    }

    /// Checks, before anything is created, that the sink can take a key: a file sink's
    /// directory exists (or can be created) and accepts a new file; a command sink's program
    /// can be found.
    pub fn check(&self) -> Result<(), SinkError> {
        match &self.sink {
            Sink::File(_) => {
                let path = self.file_path().unwrap_or_default();
                let dir = parent_dir(&path);
                create_private_dirs(&dir).map_err(|e| {
                    SinkError(format!(
                        "the sink directory {} cannot be created: {e}",
                        dir.display()
                    ))
                })?;
                let probe = temp_name(&dir, "probe");
                match new_private_file(&probe) {
                    Ok(_) => {
                        let _ = std::fs::remove_file(&probe);
                        if path.is_dir() {
                            return Err(SinkError(format!(
                                "the sink {} is a directory",
                                path.display()
                            )));
                        }
                        Ok(())
                    }
                    Err(e) => Err(SinkError(format!(
                        "the sink directory {} does not accept new files: {e}",
                        dir.display()
                    ))),
                }
            }
            Sink::Command(argv) => {
                let program = self.program(argv)?;
                if program.components().count() > 1 || program.is_absolute() {
                    if program.is_file() {
                        Ok(())
                    } else {
                        Err(SinkError(format!(
                            "the sink command {} does not exist",
                            program.display()
                        )))
                    }
                } else if find_in_path(&program).is_some() {
                    Ok(())
                } else {
                    Err(SinkError(format!(
                        "the sink command `{}` is not on PATH",
                        program.display()
                    )))
                }
            }
        }
    }

    /// A relative program with a directory part is relative to the declaring file.
    fn program(&self, argv: &[String]) -> Result<PathBuf, SinkError> {
        let Some(first) = argv.first().filter(|p| !p.trim().is_empty()) else {
            return Err(SinkError("the sink command names no program".into()));
        };
        let program = PathBuf::from(first);
        if program.is_relative() && program.components().count() > 1 {
            Ok(self.base_dir.join(program))
        } else {
            Ok(program)
        }
    }

    /// Hands `secret` to the sink. Returns what the report may say about where it went.
    pub async fn deliver(&self, secret: &Secret) -> Result<String, SinkError> {
        match &self.sink {
            Sink::File(_) => {
                let path = self.file_path().unwrap_or_default();
                let value = secret.expose().as_bytes().to_vec();
                let target = path.clone();
                tokio::task::spawn_blocking(move || write_private_file(&target, &value))
                    .await
                    .map_err(|e| SinkError(format!("writing the key file failed: {e}")))?
                    .map_err(|e| {
                        SinkError(format!(
                            "the key could not be written to {}: {e}",
                            path.display()
                        ))
                    })?;
                Ok(format!("key written to {}", path.display()))
            }
            Sink::Command(argv) => {
                let program = self.program(argv)?;
                run_command(&program, &argv[1..], &self.base_dir, secret).await?;
                Ok(format!("key sent to `{}`", program.display()))
            }
        }
    }
}

async fn run_command(
    program: &Path,
    args: &[String],
    dir: &Path,
    secret: &Secret,
) -> Result<(), SinkError> {
    let shown = program.display().to_string();
    let mut command = tokio::process::Command::new(program);
    for name in WITHHELD_FROM_SINKS {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SinkError(format!("the sink command `{shown}` could not start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(secret.expose().as_bytes()).await;
        let _ = stdin.shutdown().await;
    }
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            SinkError(format!(
                "the sink command `{shown}` did not finish within {}s",
                COMMAND_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| SinkError(format!("the sink command `{shown}` failed: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .replace(secret.expose(), "[redacted]");
    Err(SinkError(format!(
        "the sink command `{shown}` exited with {}{}",
        output.status,
        if last.is_empty() {
            String::new()
        } else {
            format!(": {}", last.chars().take(200).collect::<String>())
        }
    )))
}

fn find_in_path(program: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn temp_name(dir: &Path, label: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(
        ".orgops-{label}-{}-{nanos}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    new_file(path, 0o600)
}

/// A new file, created exclusively (`O_EXCL`: never an existing file or a link) with `mode`
/// (before the umask) on Unix.
fn new_file(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Writes `value` to `path` through an exclusive 0600 temporary file and a rename.
fn write_private_file(path: &Path, value: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    create_private_dirs(&dir)?;
    replace_file(path, value, 0o600, "key")
}

/// Writes `value` to `path` (whose directory exists) through a new file beside it, created
/// exclusively with `mode` (before the umask), synced, then renamed over `path`: a reader
/// never sees a partial file, and an existing file or link at `path` is replaced, never
/// written through. How sinks (0600) and `orgops export` (0666) write.
pub(crate) fn replace_file(
    path: &Path,
    value: &[u8],
    mode: u32,
    label: &str,
) -> std::io::Result<()> {
    use std::io::Write;
    let temp = temp_name(&parent_dir(path), label);
    let written = (|| {
        let mut file = new_file(&temp, mode)?;
        file.write_all(value)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

impl crate::kinds::apply::SecretSink for SinkTarget {
    fn check(&self) -> Result<(), String> {
        SinkTarget::check(self).map_err(|e| e.to_string())
    }

    fn deliver<'a>(
        &'a self,
        secret: &'a Secret,
    ) -> crate::kinds::apply::BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            SinkTarget::deliver(self, secret)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

impl crate::kinds::apply::SecretSinks for Sinks {
    /// `key`: the owner as `DesiredState::declared_at` names it
    /// (`projects/<p>/service_accounts/<n>`, `admin_api_keys/<n>`).
    fn sink(&self, key: &str) -> Option<&dyn crate::kinds::apply::SecretSink> {
        self.by_owner
            .get(key)
            .map(|t| t as &dyn crate::kinds::apply::SecretSink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(sink: Sink, dir: &Path) -> SinkTarget {
        SinkTarget {
            sink,
            base_dir: dir.to_path_buf(),
        }
    }

    #[tokio::test]
    async fn a_file_sink_is_created_0600_relative_to_the_declaring_file_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = target(Sink::File("keys/ci.key".into()), dir.path());
        sink.check().expect("writable");
        let path = dir.path().join("keys/ci.key");
        std::fs::write(&path, "an older, longer key value").expect("old key");
        let said = sink
            .deliver(&Secret::new("sk-svc-canary"))
            .await
            .expect("written");
        assert!(!said.contains("sk-svc-canary"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "sk-svc-canary"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }

    #[tokio::test]
    async fn a_command_sink_gets_the_key_on_stdin_and_a_failing_one_names_no_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = target(
            Sink::Command(vec![
                "sh".into(),
                "-c".into(),
                "cat > received; echo done".into(),
            ]),
            dir.path(),
        );
        sink.check().expect("sh is on PATH");
        sink.deliver(&Secret::new("sk-admin-canary"))
            .await
            .expect("delivered");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("received")).expect("read"),
            "sk-admin-canary"
        );
        let failing = target(
            Sink::Command(vec![
                "sh".into(),
                "-c".into(),
                "read k; echo \"bad key $k\" >&2; exit 3".into(),
            ]),
            dir.path(),
        );
        let error = failing
            .deliver(&Secret::new("sk-admin-canary"))
            .await
            .expect_err("exit 3");
        assert!(error.0.contains("exited"), "{error}");
        assert!(!error.0.contains("sk-admin-canary"), "{error}");
    }

    #[test]
    fn missing_programs_and_unwritable_directories_are_caught_before_creating() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = target(
            Sink::Command(vec!["orgops-no-such-program-xyz".into()]),
            dir.path(),
        );
        assert!(missing.check().is_err());
        let relative = target(Sink::Command(vec!["./bin/absent".into()]), dir.path());
        assert!(relative.check().is_err());
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "a file, not a directory").expect("file");
        let under_file = target(Sink::File("blocked/key".into()), dir.path());
        assert!(under_file.check().is_err());
    }
}
