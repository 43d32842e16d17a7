//! The desired state: YAML file(s) -> [`DesiredState`], or located diagnostics.
//!
//! # How loading works
//!
//! [`load()`] takes a file, or a directory whose `*.yaml`/`*.yml` files are read in file-name
//! order. Each file goes through [`load`](mod@self::load) on its own:
//!
//! 1. **Read** within limits: at most [`load::MAX_FILE_BYTES`], UTF-8, not empty.
//! 2. **Parse** in one pass over the parser's events, each item of a root list checked and
//!    typed as soon as it is read (a valid file is never held whole as a JSON value); any
//!    problem sends the file through the whole-value path (`load`), which parses anything
//!    unusual with serde-saphyr under a budget (one document, bounded depth, nodes and alias
//!    replay), so hostile input gets a located error instead of exhausting the machine.
//!    A large file's YAML is parsed on a second thread, a batch of events ahead
//!    (`config/events.rs`).
//! 3. **Schema**: the embedded `schema/orgops.schema.json` ([`schema`]) reports every
//!    violation at once, each located through the file's [`source_map::SourceMap`] (JSON
//!    pointer -> line and column; unknown keys point at the key).
//! 4. **Typed**: the file is deserialized into [`crate::model::Document`].
//!
//! The documents are then merged (lists concatenated; `policy` from at most one file;
//! `version` must agree) and the [`semantic`] checks run on the whole, so a reference in one
//! file may point at a declaration in another and a duplicate across files names both places.
//! A file with schema errors takes part with what remains of it ([`load::Salvage`]): the
//! semantic checks run on every part of every file that did parse, a value the schema refused
//! is not reported again, and a reference to a declaration the schema refused is not called
//! undeclared (nor, when a file could not be parsed at all, any reference). Every problem is
//! collected before returning: a user fixes the files in one round. Emails are then
//! normalised (lower-cased) and certificate PEMs read.
//!
//! [`parse_str`] runs the same pipeline on in-memory text (an emulator seed), without the
//! checks that need a directory (certificate files, sink paths relative to the file).

pub mod diagnostics;
pub mod discover;
mod events;
pub mod format;
pub mod limits;
pub mod load;
pub mod merge;
pub mod schema;
pub mod semantic;
pub mod source_map;
mod yaml_safe;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use diagnostics::{Diagnostic, Diagnostics, Severity};

use crate::model::{Document, normalize_email};
use load::{List, Merged};

/// What the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// A desired-state file: `invites` are refused and the owner gate is checked.
    Desired,
    /// An emulator seed or state dump: `invites` are allowed (they are live state).
    Seed,
}

/// A place in an input file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceLocation {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// A validated desired state, normalised (emails lower-cased) and ready to plan.
#[derive(Debug, Clone)]
pub struct DesiredState {
    /// The merged document.
    pub doc: Document,
    /// The files it was read from, in merge order.
    pub files: Vec<PathBuf>,
    /// Certificate name -> the PEM text read from its `file`.
    pub certificate_pems: BTreeMap<String, String>,
    /// Where each declared object that can own something file-relative is, by natural key:
    /// `groups/<name>`, `roles/<name>`, `certificates/<name>`, `admin_api_keys/<name>`,
    /// `projects/<name>`, `projects/<name>/groups/<name>`, `projects/<name>/roles/<name>`,
    /// `projects/<name>/service_accounts/<name>`, `policy`. A key sink resolves against the
    /// file that declares its owner ([`crate::apply::secrets`]). Users, project members and
    /// rate limits are not recorded: nothing reads them, and at 10,000 users locating each
    /// was about 15 % of the load (BENCHMARKS.md, issue 14).
    pub declared_at: BTreeMap<String, SourceLocation>,
    /// Problems that do not make the state invalid.
    pub warnings: Diagnostics,
}

/// Command-line switches that change what loading accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// `--allow-sink-outside`: sink files may resolve outside the configuration's directory
    /// tree (never onto an input file or a certificate).
    pub allow_sink_outside: bool,
    /// `--max-file-size` / `ORGOPS_MAX_FILE_SIZE`: the largest desired-state file read, in
    /// bytes (default [`load::MAX_FILE_BYTES`]).
    pub max_file_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            allow_sink_outside: false,
            max_file_bytes: load::MAX_FILE_BYTES,
        }
    }
}

/// Loads, checks and merges the desired state at `path` (a file or a directory).
pub fn load(path: &Path, mode: LoadMode) -> Result<DesiredState, Diagnostics> {
    load_with(path, mode, LoadOptions::default())
}

/// [`load()`] with command-line [`LoadOptions`].
pub fn load_with(
    path: &Path,
    mode: LoadMode,
    options: LoadOptions,
) -> Result<DesiredState, Diagnostics> {
    let paths = load::input_files(path)?;
    let mut diagnostics = Diagnostics::new();
    let mut parsed = Vec::with_capacity(paths.len());
    // A file not parsed at all hides its declarations from the semantic checks.
    let mut unread = false;
    for file_path in &paths {
        let name = file_path.display().to_string();
        let cap = options.max_file_bytes;
        let (file, problems) = match load::read_file_capped(file_path, cap) {
            Ok(text) => load::parse_salvaging_capped(text, &name, Some(file_path.clone()), cap),
            Err(problems) => (None, problems),
        };
        diagnostics.extend(problems);
        match file {
            Some(file) => parsed.push(file),
            None => unread = true,
        }
    }
    if parsed.is_empty() {
        return Err(diagnostics);
    }
    let sinks = semantic::SinkRules {
        allow_outside: options.allow_sink_outside,
        input_dir: std::fs::metadata(path)
            .is_ok_and(|m| m.is_dir())
            .then(|| path.to_path_buf()),
    };
    let (merged, certificate_pems) =
        merge_and_check(parsed, mode, unread, &sinks, &mut diagnostics)?;
    let declared_at = declared_at(&merged);
    let mut doc = normalised(merged.doc);
    // What the plan compares a live certificate's content with.
    for certificate in doc.certificates.iter_mut() {
        certificate.pem = certificate_pems.get(&certificate.name).cloned();
    }
    Ok(DesiredState {
        doc,
        files: paths,
        certificate_pems,
        declared_at,
        warnings: diagnostics,
    })
}

/// Findings a kind made against the live organization (`Kind::check_live`), located in the
/// files `desired` was read from. The files are read and parsed again, only when there is
/// something to show, so a plan without findings pays nothing for locating them; a file that
/// can no longer be read is named at its start.
pub fn locate_findings(
    desired: &DesiredState,
    findings: &[crate::kinds::Finding],
    options: LoadOptions,
) -> Diagnostics {
    let mut parsed = Vec::with_capacity(desired.files.len());
    for path in &desired.files {
        let name = path.display().to_string();
        if let Ok(text) = load::read_file_capped(path, options.max_file_bytes) {
            let (file, _) = load::parse_salvaging_capped(
                text,
                &name,
                Some(path.clone()),
                options.max_file_bytes,
            );
            parsed.extend(file);
        }
    }
    let mut ignored = Diagnostics::new();
    let merged = load::merge(parsed, &mut ignored);
    let mut diagnostics = Diagnostics::new();
    for finding in findings {
        let (file, at) = merged.locate(&finding.pointer, finding.at_key);
        let file = if merged.files.is_empty() {
            desired
                .files
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| file.to_string())
        } else {
            file.to_string()
        };
        let diagnostic = if finding.error {
            Diagnostic::error(&file, at, finding.message.clone())
        } else {
            Diagnostic::warning(&file, at, finding.message.clone())
        };
        diagnostics.push(diagnostic.with_hint(finding.hint.clone()));
    }
    for file in &merged.files {
        diagnostics.add_source(&file.name, &file.text);
    }
    diagnostics
}

/// The top-level keys of the desired state at `path` that are written in block style with a
/// value (`users:` followed by a list), found by a line scan long before the file is parsed:
/// what `plan` may start reading while the file loads. Conservative: a key written another
/// way (quoted, in a flow mapping, with a null value) is not reported; unreadable input
/// reports nothing (the load says why).
pub fn top_level_keys(path: &Path, max_file_bytes: u64) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let Ok(paths) = load::input_files(path) else {
        return keys;
    };
    for file in paths {
        let Ok(text) = crate::input::read_text(&file, max_file_bytes) else {
            continue;
        };
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(first) = line.bytes().next() else {
                continue;
            };
            if !(first.is_ascii_alphabetic() || first == b'_') {
                continue;
            }
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            let rest = rest.split(" #").next().unwrap_or("").trim();
            let has_value = if rest.is_empty() {
                // A block value follows on the next meaningful line, indented or a `- ` item.
                loop {
                    match lines.peek() {
                        Some(next)
                            if next.trim().is_empty() || next.trim_start().starts_with('#') =>
                        {
                            lines.next();
                        }
                        Some(next) => break next.starts_with(' ') || next.starts_with("- "),
                        None => break false,
                    }
                }
            } else {
                !rest.starts_with('#') && rest != "~" && rest != "null"
            };
            if has_value {
                keys.insert(key.to_string());
            }
        }
    }
    keys
}

/// Checks in-memory text (e.g. an emulator seed) named `name` in diagnostics.
pub fn parse_str(text: &str, name: &str, mode: LoadMode) -> Result<Document, Diagnostics> {
    let (file, mut diagnostics) = load::parse_salvaging(text.to_string(), name, None);
    let Some(file) = file else {
        return Err(diagnostics);
    };
    let (merged, _) = merge_and_check(
        vec![file],
        mode,
        false,
        &Default::default(),
        &mut diagnostics,
    )?;
    Ok(normalised(merged.doc))
}

fn merge_and_check(
    files: Vec<load::ParsedFile>,
    mode: LoadMode,
    unread: bool,
    sinks: &semantic::SinkRules,
    diagnostics: &mut Diagnostics,
) -> Result<(Merged, BTreeMap<String, String>), Diagnostics> {
    let mut merged = load::merge(files, diagnostics);
    merged.dropped.all |= unread;
    let pems = semantic::check(&merged, mode, sinks, diagnostics);
    // Sources are only kept when something will be shown.
    if !diagnostics.is_empty() {
        for file in &merged.files {
            diagnostics.add_source(&file.name, &file.text);
        }
    }
    if diagnostics.has_errors() {
        return Err(std::mem::take(diagnostics));
    }
    Ok((merged, pems))
}

/// Lower-cases every email, the one normal form the plan compares.
fn normalised(mut doc: Document) -> Document {
    let lower = |email: &mut String| *email = normalize_email(email);
    doc.users.iter_mut().for_each(|u| lower(&mut u.email));
    doc.groups
        .iter_mut()
        .flat_map(|g| g.members.iter_mut())
        .for_each(lower);
    doc.policy.protect.users.iter_mut().for_each(lower);
    doc.invites.iter_mut().for_each(|i| lower(&mut i.email));
    for project in &mut doc.projects {
        project.members.iter_mut().for_each(|m| lower(&mut m.email));
    }
    doc
}

fn declared_at(merged: &Merged) -> BTreeMap<String, SourceLocation> {
    let mut out = BTreeMap::new();
    let mut put = |key: String, (file, at): (&str, source_map::Position)| {
        out.entry(key).or_insert(SourceLocation {
            file: file.to_string(),
            line: at.line,
            column: at.column,
        });
    };
    let doc = &merged.doc;
    for (i, x) in doc.groups.iter().enumerate() {
        put(format!("groups/{}", x.name), merged.at(List::Groups, i, ""));
    }
    for (i, x) in doc.roles.iter().enumerate() {
        put(format!("roles/{}", x.name), merged.at(List::Roles, i, ""));
    }
    for (i, x) in doc.certificates.iter().enumerate() {
        put(
            format!("certificates/{}", x.name),
            merged.at(List::Certificates, i, ""),
        );
    }
    for (i, x) in doc.admin_api_keys.iter().enumerate() {
        put(
            format!("admin_api_keys/{}", x.name),
            merged.at(List::AdminApiKeys, i, ""),
        );
    }
    for (i, p) in doc.projects.iter().enumerate() {
        let base = format!("projects/{}", p.name);
        put(base.clone(), merged.at(List::Projects, i, ""));
        for (j, x) in p.groups.iter().enumerate() {
            put(
                format!("{base}/groups/{}", x.name),
                merged.at(List::Projects, i, &format!("/groups/{j}")),
            );
        }
        for (j, x) in p.roles.iter().enumerate() {
            put(
                format!("{base}/roles/{}", x.name),
                merged.at(List::Projects, i, &format!("/roles/{j}")),
            );
        }
        for (j, x) in p.service_accounts.iter().enumerate() {
            put(
                format!("{base}/service_accounts/{}", x.name),
                merged.at(List::Projects, i, &format!("/service_accounts/{j}")),
            );
        }
    }
    if merged.policy_file.is_some() {
        put("policy".into(), merged.policy_at("", true));
    }
    out
}

/// The text of every YAML file under `examples/` and `tests/fixtures/`, for tests that check
/// two ways of loading agree on all of them.
#[cfg(test)]
pub(crate) fn example_and_fixture_texts() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("examples"), root.join("tests/fixtures")];
    let mut texts = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) && let Ok(text) = std::fs::read_to_string(&path)
            {
                texts.push(text);
            }
        }
    }
    texts
}

#[cfg(test)]
mod prefetch_tests {
    use super::*;

    #[test]
    fn top_level_keys_are_block_keys_with_a_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("orgops.yaml");
        std::fs::write(
            &file,
            "# header\nversion: 1\nusers:\n  # people\n  - {email: a@x.example, role: owner}\ngroups: []\nroles:\nadmin_api_keys: ~\n\"projects\": []\ncertificates: # a list at the key's own indentation\n\n- c\n",
        )
        .expect("write");
        let keys = top_level_keys(&file, 1 << 20);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        assert_eq!(keys, ["certificates", "groups", "users", "version"]);
        assert!(top_level_keys(&dir.path().join("missing.yaml"), 1 << 20).is_empty());
    }
}
