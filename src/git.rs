//! The desired state at another revision of the local repository (`plan --base REF`).
//!
//! Why the `git` CLI and not a library: orgops needs two read-only things from git, a blob
//! at a revision (`git cat-file`) and a directory listing (`git ls-tree`). git is on every CI
//! runner and developer machine; libgit2 (git2) would add a vendored C build and has had
//! unsoundness advisories, gix triples the build time, and neither can fetch without network
//! features, so `action.yml` fetches the base ref with the CLI anyway. The small
//! [`GitSource`] trait keeps the choice replaceable and lets tests substitute a fake.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Read access to a repository's history.
pub trait GitSource {
    /// The bytes of `path` (relative to the repository root, `/`-separated) at `rev`, or
    /// `None` when the path is not a file there.
    fn read(&self, rev: &str, path: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// The files directly inside directory `dir` at `rev` (repository-relative paths), or
    /// `None` when `dir` is not a directory there.
    fn list_dir(&self, rev: &str, dir: &str) -> anyhow::Result<Option<Vec<String>>>;
    /// The commit `rev` names.
    fn resolve(&self, rev: &str) -> anyhow::Result<String>;
    /// The repository's root directory on disk.
    fn root(&self) -> &Path;
}

/// [`GitSource`] over the `git` command line.
#[derive(Debug, Clone)]
pub struct GitCli {
    root: PathBuf,
}

/// Refuses revisions git could read as an option, or that are empty.
fn check_rev(rev: &str) -> anyhow::Result<()> {
    if rev.is_empty() || rev.starts_with('-') || rev.contains(['\0', '\n']) {
        bail!("{rev:?} is not a git revision");
    }
    Ok(())
}

impl GitCli {
    /// The repository containing `start` (a file or directory).
    pub fn discover(start: &Path) -> anyhow::Result<GitCli> {
        let dir = if start.is_dir() {
            start.to_path_buf()
        } else {
            match start.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }
        };
        let output = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .context("running git (is it installed?)")?;
        if !output.status.success() {
            bail!(
                "{} is not inside a git repository: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let root = String::from_utf8(output.stdout)
            .context("git printed a repository path that is not UTF-8")?;
        Ok(GitCli {
            root: PathBuf::from(root.trim_end_matches(['\n', '\r'])),
        })
    }

    fn git(&self) -> Command {
        let mut command = Command::new("git");
        command.arg("-C").arg(&self.root);
        command
    }
}

impl GitSource for GitCli {
    fn read(&self, rev: &str, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        check_rev(rev)?;
        let spec = format!("{rev}:{path}");
        let kind = self
            .git()
            .args(["cat-file", "-t", &spec])
            .output()
            .context("running git cat-file")?;
        if !kind.status.success() || kind.stdout.trim_ascii() != b"blob" {
            return Ok(None);
        }
        // The same cap as every input (`crate::input`), checked before the blob is buffered.
        let size = self
            .git()
            .args(["cat-file", "-s", &spec])
            .output()
            .context("running git cat-file")?;
        let bytes: u64 = std::str::from_utf8(size.stdout.trim_ascii())
            .ok()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("git cannot size {spec}"))?;
        if bytes > crate::input::MAX_INPUT_BYTES {
            bail!(
                "{spec} is {bytes} bytes, over the {}-byte input limit",
                crate::input::MAX_INPUT_BYTES
            );
        }
        let output = self
            .git()
            .args(["cat-file", "blob", &spec])
            .output()
            .context("running git cat-file")?;
        if !output.status.success() {
            bail!(
                "git cannot read {spec}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Some(output.stdout))
    }

    fn list_dir(&self, rev: &str, dir: &str) -> anyhow::Result<Option<Vec<String>>> {
        check_rev(rev)?;
        let spec = if dir.is_empty() {
            rev.to_string()
        } else {
            format!("{rev}:{dir}")
        };
        let kind = self
            .git()
            .args(["cat-file", "-t", &spec])
            .output()
            .context("running git cat-file")?;
        if !kind.status.success() || kind.stdout.trim_ascii() != b"tree" {
            return Ok(None);
        }
        let output = self
            .git()
            .args(["ls-tree", "-z", &spec])
            .output()
            .context("running git ls-tree")?;
        if !output.status.success() {
            bail!(
                "git cannot list {spec}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let mut files = Vec::new();
        for entry in output.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            // `<mode> <type> <object>\t<name>`
            let entry = String::from_utf8_lossy(entry);
            let Some((meta, name)) = entry.split_once('\t') else {
                continue;
            };
            if meta.split(' ').nth(1) == Some("blob") {
                files.push(if dir.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir}/{name}")
                });
            }
        }
        files.sort();
        Ok(Some(files))
    }

    fn resolve(&self, rev: &str) -> anyhow::Result<String> {
        check_rev(rev)?;
        let output = self
            .git()
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ])
            .output()
            .context("running git rev-parse")?;
        if !output.status.success() {
            let remotes = self
                .git()
                .arg("remote")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let remotes: Vec<&str> = remotes.lines().map(str::trim).collect();
            bail!(
                "git does not know the revision {rev:?} here (a shallow or single-branch \
                 clone?): fetch it first with `{}`",
                fetch_command(rev, &remotes)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    fn root(&self) -> &Path {
        &self.root
    }
}

/// The command that fetches `rev`: `origin/main` is branch `main` of remote `origin`
/// (`git fetch origin main`, not `git fetch origin origin/main`, which fails); anything else
/// (a branch, a tag, a commit) is fetched from `origin`.
fn fetch_command(rev: &str, remotes: &[&str]) -> String {
    let rev = rev.strip_prefix("refs/remotes/").unwrap_or(rev);
    match rev.split_once('/') {
        Some((remote, branch))
            if !branch.is_empty() && (remotes.contains(&remote) || remote == "origin") =>
        {
            format!("git fetch {remote} {branch}")
        }
        _ => format!("git fetch origin {rev}"),
    }
}

/// `path` relative to the repository root, `/`-separated, resolved lexically against the
/// current directory (the path may not exist on disk at all).
pub fn repo_relative(git: &dyn GitSource, path: &Path) -> anyhow::Result<String> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let mut normal = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    // The root git prints is canonical; so must the path's existing ancestors be.
    let root = git
        .root()
        .canonicalize()
        .unwrap_or_else(|_| git.root().to_path_buf());
    let mut existing = normal.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(name) => rest.push(name.to_os_string()),
            None => break,
        }
        if !existing.pop() {
            break;
        }
    }
    let mut canonical = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        canonical.push(name);
    }
    let relative = canonical.strip_prefix(&root).map_err(|_| {
        anyhow::anyhow!(
            "{} is outside the git repository at {}",
            path.display(),
            root.display()
        )
    })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// A directory under the system temp directory, removed when dropped.
#[derive(Debug)]
pub struct TempTree {
    path: PathBuf,
}

impl TempTree {
    pub fn new(prefix: &str) -> anyhow::Result<TempTree> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempTree { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        // Best effort: a leftover temp directory is harmless.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Writes `rel` (repository-relative) from `rev` into `tree`; false when absent at `rev`.
fn copy_out(git: &dyn GitSource, rev: &str, rel: &str, tree: &Path) -> anyhow::Result<bool> {
    let Some(bytes) = git.read(rev, rel)? else {
        return Ok(false);
    };
    let dest = tree.join(rel);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
    Ok(true)
}

/// Lexically joins a `/`-separated relative reference onto a repository-relative directory;
/// `None` when it climbs out of the repository.
fn join_rel(dir: &str, reference: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in reference.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The desired-state input (`rel`: a file or a directory of `*.yaml`) as it was at `rev`,
/// written into `tree` with the certificate files it references, so the ordinary loader can
/// read it. Returns the path to load, or `None` when `rel` did not exist at `rev`.
pub fn materialize(
    git: &dyn GitSource,
    rev: &str,
    rel: &str,
    tree: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    let yaml_files: Vec<String> = if git.read(rev, rel)?.is_some() {
        vec![rel.to_string()]
    } else {
        match git.list_dir(rev, rel)? {
            Some(files) => files
                .into_iter()
                .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
                .collect(),
            None => return Ok(None),
        }
    };
    for file in &yaml_files {
        copy_out(git, rev, file, tree)?;
        // Certificates are read relative to the YAML file; bring along the ones it names.
        // A file that does not parse brings none, and the loader reports why.
        let text = crate::input::read_text(&tree.join(file), crate::input::MAX_INPUT_BYTES)
            .unwrap_or_default();
        let Ok(doc) = crate::config::parse_str(&text, file, crate::config::LoadMode::Desired)
        else {
            continue;
        };
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
        for certificate in &doc.certificates {
            let reference = &certificate.file;
            if let Some(cert) = join_rel(dir, reference) {
                copy_out(git, rev, &cert, tree)?;
            }
        }
    }
    if yaml_files.is_empty() {
        // An empty directory: let the loader say so.
        std::fs::create_dir_all(tree.join(rel))?;
    }
    Ok(Some(if rel.is_empty() {
        tree.to_path_buf()
    } else {
        tree.join(rel)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references_stay_inside_the_repository() {
        assert_eq!(
            join_rel("config", "certs/a.pem").as_deref(),
            Some("config/certs/a.pem")
        );
        assert_eq!(join_rel("config", "../a.pem").as_deref(), Some("a.pem"));
        assert_eq!(join_rel("", "../a.pem"), None);
    }

    #[test]
    fn fetch_commands_split_the_remote_off() {
        assert_eq!(fetch_command("origin/main", &[]), "git fetch origin main");
        assert_eq!(
            fetch_command("upstream/release/2", &["origin", "upstream"]),
            "git fetch upstream release/2"
        );
        assert_eq!(
            fetch_command("refs/remotes/origin/main", &["origin"]),
            "git fetch origin main"
        );
        assert_eq!(
            fetch_command("feature/x", &["origin"]),
            "git fetch origin feature/x"
        );
        assert_eq!(fetch_command("abc123", &[]), "git fetch origin abc123");
    }

    #[test]
    fn options_are_not_revisions() {
        assert!(check_rev("--output=/tmp/x").is_err());
        assert!(check_rev("").is_err());
        assert!(check_rev("origin/main").is_ok());
    }
}
