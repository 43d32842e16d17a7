//! What `orgops export` writes, and where: the rate limits worth keeping, the one-file and
//! the split (`org.yaml` plus one file per project) layouts, and the refusal to overwrite.
//!
//! - **Rate limits.** The API lists a limit per model per project and does not say which are
//!   defaults. By default export writes a project's rate-limit field for a model only where
//!   it differs from the value most projects have for that (model, field); on a tie for the
//!   most common value none is taken as the default and every project's value is written.
//!   A field or model left out is not managed (see `plan::kinds::rate_limit`), so the
//!   round trip stays an empty plan. [`RateLimitSelection::All`] writes every one.
//! - **Layouts.** One file (`-o FILE` or stdout), or with `--split` a directory holding
//!   `org.yaml` (everything organization-wide) and `project-<name>.yaml` per project (the
//!   layout `docs/configuration.md` recommends), which `-f DIR` merges back. Certificates go
//!   under `certs/` beside the file that declares them (`org.yaml`'s directory).
//! - **No silent overwrite.** An existing file whose content would change, or a directory
//!   that is not empty, is refused unless `force`. With `force` into a directory, the other
//!   `*.yaml`/`*.yml` files directly in it are removed, since `-f DIR` would merge them in,
//!   but only those an earlier export wrote (its header, [`EXPORT_MARKER`]); any other is
//!   listed and the export refused. Files are replaced by rename, never written through a
//!   symbolic link, and a linked directory inside the output (`certs`) is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{Document, ManagedList, RateLimit};
use crate::ops::export::Export;
use crate::text::stems::distinct_stems;

/// Which rate limits export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitSelection {
    /// Only the fields that differ from the most common value for the model (the default).
    Differing,
    /// Every field of every model of every project.
    All,
}

/// Leaves out, per project and model, the rate-limit fields whose value is the one most
/// projects have for that model and field (a tie names no such value: all are kept).
pub fn leave_out_common_rate_limits(doc: &mut Document) {
    // (model, field index) -> value -> how many projects have it.
    let mut counts: BTreeMap<(String, usize), BTreeMap<u64, usize>> = BTreeMap::new();
    for project in doc.projects.iter() {
        for (model, limit) in &project.rate_limits {
            for (i, (_, value)) in limit.fields().into_iter().enumerate() {
                if let Some(value) = value {
                    *counts
                        .entry((model.clone(), i))
                        .or_default()
                        .entry(value)
                        .or_default() += 1;
                }
            }
        }
    }
    let common: BTreeMap<(String, usize), u64> = counts
        .into_iter()
        .filter_map(|(field, values)| {
            let most = values.values().copied().max()?;
            let mut at_most = values.iter().filter(|(_, n)| **n == most);
            let (value, _) = at_most.next()?;
            at_most.next().is_none().then_some((field, *value))
        })
        .collect();
    for project in doc.projects.iter_mut() {
        for (model, limit) in project.rate_limits.iter_mut() {
            let slots = [
                &mut limit.max_requests_per_1_minute,
                &mut limit.max_tokens_per_1_minute,
                &mut limit.max_images_per_1_minute,
                &mut limit.max_audio_megabytes_per_1_minute,
                &mut limit.max_requests_per_1_day,
                &mut limit.batch_1_day_max_input_tokens,
            ];
            for (i, slot) in slots.into_iter().enumerate() {
                if slot.is_some() && *slot == common.get(&(model.clone(), i)).copied() {
                    *slot = None;
                }
            }
        }
        project
            .rate_limits
            .retain(|_, limit| *limit != RateLimit::default());
    }
}

/// The files of one export: relative path -> content, in writing order.
pub struct Files {
    pub files: BTreeMap<PathBuf, String>,
}

/// The one-file layout: the document at `file`'s name, certificates beside it.
pub fn single_file(export: &Export, file_name: &Path) -> anyhow::Result<Files> {
    let mut files = BTreeMap::new();
    files.insert(
        file_name.to_path_buf(),
        crate::ops::export::to_yaml(&export.doc)?,
    );
    for (path, pem) in &export.certificate_files {
        files.insert(PathBuf::from(path), pem.clone());
    }
    Ok(Files { files })
}

/// The split layout: `org.yaml` without projects, `project-<name>.yaml` per project (a
/// document holding only `projects:`), certificates under `certs/`.
pub fn split(export: &Export) -> anyhow::Result<Files> {
    let mut files = BTreeMap::new();
    let mut org = export.doc.clone();
    let projects = std::mem::take(&mut org.projects);
    if projects.is_managed() && projects.is_empty() {
        // No project at all: `projects: []` still says the file manages projects.
        org.projects = ManagedList::managed(Vec::new());
    }
    files.insert(
        PathBuf::from("org.yaml"),
        crate::ops::export::to_yaml(&org)?,
    );
    let stems = distinct_stems(projects.iter().map(|p| p.name.as_str()), slug)
        .map_err(anyhow::Error::msg)?;
    for project in projects {
        let stem = stems.get(&project.name).cloned().unwrap_or_default();
        let name = format!("project-{stem}.yaml");
        let part = Document {
            projects: ManagedList::managed(vec![project]),
            ..Document::default()
        };
        files.insert(PathBuf::from(name), project_file_yaml(&part)?);
    }
    for (path, pem) in &export.certificate_files {
        files.insert(PathBuf::from(path), pem.clone());
    }
    Ok(Files { files })
}

/// The stem of a new project's file in the split layout (`project-<stem>.yaml`), as
/// [`split`] names it; refused when a file of that name is among `existing`.
pub fn project_stem(name: &str, existing: &[String]) -> anyhow::Result<String> {
    let stems = distinct_stems([name], slug).map_err(anyhow::Error::msg)?;
    let stem = stems.get(name).cloned().unwrap_or_default();
    let file = format!("project-{stem}.yaml");
    if existing
        .iter()
        .any(|e| e.ends_with(&format!("/{file}")) || *e == file)
    {
        anyhow::bail!(
            "{file} already exists but does not declare project `{}`: declare the project there, or move that file",
            crate::text::escape::text(name)
        );
    }
    Ok(stem)
}

/// A project file of the split layout: no `version` (`org.yaml` has it) and a one-line
/// header naming the export.
pub fn project_file_yaml(part: &Document) -> anyhow::Result<String> {
    let body = crate::config::format::canonical_yaml(part, false)?;
    Ok(format!(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/orgops/orgops/main/schema/orgops.schema.json\n\
         {EXPORT_MARKER} --split`: one project of the live organization.\n{body}"
    ))
}

/// A file-name-safe, lower-case form of a project name (`Support Assistant` ->
/// `support-assistant`), at most [`MAX_STEM_CHARS`] characters; empty when the name has no
/// ASCII letter or digit.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-')
        .chars()
        .take(MAX_STEM_CHARS)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The longest readable part of a file name export makes from an object's name.
const MAX_STEM_CHARS: usize = 64;

/// What begins a comment line of every file export writes (`# Exported by `orgops
/// export`...`): how `--split --force` knows a file in the directory is an earlier export's.
pub const EXPORT_MARKER: &str = "# Exported by `orgops export";

/// Whether `path` is a regular file (not a link) whose leading comment lines carry
/// [`EXPORT_MARKER`]: a file an earlier export wrote (`fmt` keeps the comment).
fn written_by_export(path: &Path) -> bool {
    use std::io::Read;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head));
    if read.is_err() {
        return false;
    }
    let head = String::from_utf8_lossy(&head);
    head.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .take_while(|line| line.is_empty() || line.starts_with('#'))
        .any(|line| line.starts_with(EXPORT_MARKER))
}

/// The refusals that need no export, checked before the organization is read (a large
/// organization's read can take half an hour): without `force`, an existing `output` file
/// (whatever it holds: its content is only known to differ once the export is made), or,
/// with `split`, a directory that is not empty. [`write()`] checks again with the content.
pub fn refuse_before_reading(output: &Path, split: bool, force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    if split {
        return match std::fs::read_dir(output).map(|mut entries| entries.next().is_some()) {
            Ok(true) => anyhow::bail!(
                "{} is not empty: export --split writes into a new or empty directory; pass --force to write into it anyway (its other *.yaml files are then removed, since `-f {}` would merge them in)",
                output.display(),
                output.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => anyhow::bail!(
                "{} is not a directory: --split writes a directory",
                output.display()
            ),
            _ => Ok(()),
        };
    }
    if output.is_dir() {
        anyhow::bail!(
            "{} is a directory: name a file, or pass --split to write one file per project into it",
            output.display()
        );
    }
    if std::fs::symlink_metadata(output).is_ok() {
        anyhow::bail!(
            "{} already exists: pass --force to overwrite it (nothing was read)",
            output.display()
        );
    }
    Ok(())
}

/// Writes `files` under `dir`, refusing (without `force`) to change an existing file. With
/// `directory` (the split layout) a non-empty `dir` is refused too; with `force` the
/// directory's other `*.yaml`/`*.yml` files are removed, but only those an earlier export
/// wrote ([`EXPORT_MARKER`]): any other one that would be removed or replaced is listed and
/// the export refused. Nothing is written through a symbolic link: a link at a file's
/// place is replaced (each file is written to a new temporary file beside it, then renamed
/// over it, as sinks are), and a directory inside `dir` that is a link (`certs`) is refused.
/// Everything is checked before the first file is written. Returns the removed files.
pub fn write(
    files: &Files,
    dir: &Path,
    directory: bool,
    force: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    if directory {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut names: Vec<PathBuf> = Vec::new();
                for entry in entries {
                    let entry =
                        entry.map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
                    names.push(entry.path());
                }
                names.sort();
                if !names.is_empty() && !force {
                    anyhow::bail!(
                        "{} is not empty ({} entries): export --split writes into a new or empty directory; pass --force to write into it anyway (the *.yaml files an earlier export wrote there are then replaced or removed, since `-f {}` would merge them in; any other *.yaml file is refused)",
                        dir.display(),
                        names.len(),
                        dir.display()
                    );
                }
                let mut foreign = Vec::new();
                for path in names {
                    let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
                    if !yaml {
                        continue;
                    }
                    if !written_by_export(&path) {
                        foreign.push(path);
                    } else if path
                        .strip_prefix(dir)
                        .is_ok_and(|rel| !files.files.contains_key(rel))
                    {
                        stale.push(path);
                    }
                }
                if !foreign.is_empty() {
                    let list: Vec<String> = foreign
                        .iter()
                        .map(|p| format!("  {}", p.display()))
                        .collect();
                    anyhow::bail!(
                        "{} holds *.yaml/*.yml files that orgops export did not write (they do not begin with the comment an export writes, \"{EXPORT_MARKER}...\", or are links):\n{}\n`-f {}` would read them in, and --force replaces or removes only an earlier export's files: move them out of the directory, or export into another one. Nothing was written.",
                        dir.display(),
                        list.join("\n"),
                        dir.display()
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                anyhow::bail!(
                    "{} is not a directory: --split writes a directory",
                    dir.display()
                )
            }
            Err(e) => anyhow::bail!("reading {}: {e}", dir.display()),
        }
    }
    for (rel, content) in &files.files {
        let path = dir.join(rel);
        check_no_link_inside(dir, rel)?;
        let existing = std::fs::symlink_metadata(&path).ok();
        if existing.as_ref().is_some_and(|m| m.is_dir()) {
            anyhow::bail!(
                "{} is a directory: name a file, or pass --split to write one file per project into it",
                path.display()
            );
        }
        if !force
            && !directory
            && let Some(existing) = existing
            && (!existing.is_file()
                || std::fs::read(&path).map_or(true, |bytes| bytes != content.as_bytes()))
        {
            anyhow::bail!(
                "{} already exists: pass --force to overwrite it",
                path.display()
            );
        }
    }
    for (rel, content) in &files.files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
        }
        // As sinks write: a link at the file's place is replaced, never written through.
        crate::apply::secrets::replace_file(&path, content.as_bytes(), 0o666, "export")
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    for path in &stale {
        std::fs::remove_file(path)
            .map_err(|e| anyhow::anyhow!("removing {}: {e}", path.display()))?;
    }
    Ok(stale)
}

/// Refuses when a directory between `dir` and `dir/rel`'s file (`certs` in `certs/x.pem`)
/// is a symbolic link or not a directory: export writes only inside the directory named.
fn check_no_link_inside(dir: &Path, rel: &Path) -> anyhow::Result<()> {
    let mut at = dir.to_path_buf();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for part in parent.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => anyhow::bail!(
                "{} is a symbolic link: export writes only inside {} and never follows a link out of it; remove the link (or export elsewhere). Nothing was written.",
                at.display(),
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
                .display()
            ),
            Ok(m) if !m.is_dir() => anyhow::bail!(
                "{} is not a directory: export writes {} there. Nothing was written.",
                at.display(),
                rel.display()
            ),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => anyhow::bail!("reading {}: {e}", at.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("Support Assistant"), "support-assistant");
        assert_eq!(slug("R&D / ML"), "r-d-ml");
        assert_eq!(slug("../.."), "");
        assert_eq!(slug(&"ab ".repeat(40)).len(), MAX_STEM_CHARS);
        assert_eq!(slug(&"a ".repeat(40)).chars().last(), Some('a'));
    }

    /// Names whose readable forms meet, or are empty, get the hash of the exact name; the
    /// others keep the readable form alone; none meet, even ignoring case.
    #[test]
    fn stems_never_meet() {
        let names = [
            "研究",
            "開発",
            "Project 2",
            "Support Assistant",
            "support-assistant",
            "SUPPORT ASSISTANT",
            "Search",
        ];
        let stems = distinct_stems(names, slug).expect("distinct");
        assert_eq!(stems["Project 2"], "project-2");
        assert_eq!(stems["Search"], "search");
        assert!(stems["研究"].len() == 10, "{stems:?}");
        assert!(stems["Support Assistant"].starts_with("support-assistant-"));
        let lower: std::collections::BTreeSet<String> =
            stems.values().map(|s| s.to_lowercase()).collect();
        assert_eq!(lower.len(), names.len(), "{stems:?}");
    }

    /// A name whose readable form is another name's hashed stem: refused, never merged.
    #[test]
    fn stems_that_would_still_meet_are_refused() {
        let stems = distinct_stems(["a b", "a_b"], |n: &str| n.replace(' ', "_")).expect("ok");
        let hashed = stems["a b"].clone();
        let error = distinct_stems(["a b", "a_b", hashed.as_str()], |n: &str| {
            n.replace(' ', "_")
        })
        .expect_err("refused");
        assert!(error.to_string().contains("files of their own"), "{error}");
    }
}
