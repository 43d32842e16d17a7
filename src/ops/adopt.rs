//! Writing live objects into an existing desired-state file or directory: `export --target
//! KEY` (adopt one object and what it owns) and `drift --write` (accept drift).
//!
//! Each natural key (`user:EMAIL`, `project:NAME/service_account:NAME`, ...) names a place in
//! the document ([`path_of`]: the `users` item with that email, the project's
//! `service_accounts` item with that name; a key this table does not know is its closest
//! enclosing object's). At that place the file gets the live value from the export of the
//! live read ([`crate::ops::export::build`]): set where live has it, removed where it does
//! not. What only the file knows is kept from the file: `sink` (where a new secret goes),
//! certificate `file`, `geography` and `expires_in_days` (sent only at creation).
//!
//! - **Adopt** (`export --target`): the object becomes live's whole (its lists included).
//! - **Refresh** (`drift --write`): only what the file already writes is refreshed, so a
//!   list or field the file leaves out (not managed) stays out.
//!
//! Which file: the one that declares the object, or its closest declared parent (a project's
//! service account goes into the file declaring the project); a new project of a directory in
//! the `export --split` layout gets a `project-<name>.yaml` of its own; anything else new goes
//! to the file that already writes that top-level list, else the one with `version`, else the
//! first. Each changed file is rewritten by [`crate::config::merge::merge_text`]: only what
//! changed is edited, comments and layout of everything else stay byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::model::{Document, normalize_email};

/// Fields only the file knows: the live value never replaces or removes them.
const FILE_ONLY: [&str; 4] = ["sink", "file", "geography", "expires_in_days"];

/// One step into a document: a mapping key, or the list item with this identity
/// (`email=...`, `name=...`, `=value`, as `fmt` tells items apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Item(String),
}

/// How the live value replaces the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The object whole, as live has it.
    Adopt,
    /// Only what the file writes.
    Refresh,
}

fn field(name: &str) -> Step {
    Step::Field(name.to_string())
}

fn by_name(name: &str) -> Step {
    Step::Item(format!("name={name}"))
}

fn by_email(email: &str) -> Step {
    Step::Item(format!("email={}", normalize_email(email)))
}

fn by_value(value: &str) -> Step {
    Step::Item(format!("={}", normalize_email(value)))
}

/// Where the object with natural key `key` is declared (see the module doc); `None` for a key
/// of no known shape.
pub fn path_of(key: &str) -> Option<Vec<Step>> {
    // A duplicate's key ends `#<id>`: its place is the object's.
    let key = key.split_once('#').map_or(key, |(k, _)| k);
    let mut parts = key.split('/');
    let (kind, rest) = parts.next()?.split_once(':')?;
    let mut path = match kind {
        "user" | "invite" => vec![field("users"), by_email(rest)],
        "group" => vec![field("groups"), by_name(rest)],
        "role" => vec![field("roles"), by_name(rest)],
        "certificate" => vec![field("certificates"), by_name(rest)],
        "admin_api_key" => vec![field("admin_api_keys"), by_name(rest)],
        "project" => vec![field("projects"), by_name(rest)],
        "settings" => match rest.split_once(':') {
            Some((item, _)) => vec![field("settings"), field(&format!("{item}s"))],
            None => vec![field("settings"), field(rest)],
        },
        _ => return None,
    };
    let in_project = kind == "project";
    for part in parts {
        let step: Vec<Step> = match part.split_once(':') {
            None => vec![field(part)],
            Some(("member", email)) if in_project => vec![field("members"), by_email(email)],
            Some(("member", email)) => vec![field("members"), by_value(email)],
            Some(("group", name)) => vec![field("groups"), by_name(name)],
            Some(("role", name)) if in_project && path.len() == 2 => {
                vec![field("roles"), by_name(name)]
            }
            Some(("role", name)) => vec![field("roles"), by_value(name)],
            Some(("service_account", name)) => vec![field("service_accounts"), by_name(name)],
            Some(("rate_limit", model)) => vec![field("rate_limits"), field(model)],
            Some(("certificate", name)) => vec![field("certificates"), by_value(name)],
            Some(("scope", "organization")) => vec![field("active")],
            Some((item, _)) => vec![field(&format!("{item}s"))],
        };
        path.extend(step);
    }
    Some(path)
}

/// How `fmt` tells a list item apart (see [`Step::Item`]).
fn identity(item: &Value) -> Option<String> {
    match item {
        Value::String(s) => Some(format!("={}", normalize_email(s))),
        Value::Object(map) => {
            if let Some(Value::String(email)) = map.get("email") {
                return Some(format!("email={}", normalize_email(email)));
            }
            match map.get("name") {
                Some(Value::String(name)) => Some(format!("name={name}")),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The value at `path`, if any.
pub fn get<'v>(value: &'v Value, path: &[Step]) -> Option<&'v Value> {
    let mut at = value;
    for step in path {
        at = match (step, at) {
            (Step::Field(name), Value::Object(map)) => map.get(name)?,
            (Step::Item(id), Value::Array(items)) => {
                items.iter().find(|i| identity(i).as_deref() == Some(id))?
            }
            _ => return None,
        };
    }
    Some(at)
}

/// `live` over `file` (see [`Mode`]); what only the file knows stays.
fn merge(file: &Value, live: &Value, mode: Mode) -> Value {
    match (file, live) {
        (Value::Object(f), Value::Object(l)) => {
            let mut out = Map::new();
            for (key, fv) in f {
                if FILE_ONLY.contains(&key.as_str()) {
                    out.insert(key.clone(), fv.clone());
                } else if let Some(lv) = l.get(key) {
                    out.insert(key.clone(), merge(fv, lv, mode));
                }
            }
            if mode == Mode::Adopt {
                for (key, lv) in l {
                    if !out.contains_key(key) && !FILE_ONLY.contains(&key.as_str()) {
                        out.insert(key.clone(), lv.clone());
                    }
                }
            }
            Value::Object(out)
        }
        (Value::Array(f), Value::Array(l)) => Value::Array(
            l.iter()
                .map(|lv| {
                    let id = identity(lv);
                    match f.iter().find(|fv| id.is_some() && identity(fv) == id) {
                        Some(fv) => merge(fv, lv, mode),
                        None => lv.clone(),
                    }
                })
                .collect(),
        ),
        _ => live.clone(),
    }
}

/// A new object at an item step: what identifies it (`{"name": ...}`).
fn stub(id: &str) -> Value {
    match id.split_once('=') {
        Some(("", value)) => Value::String(value.to_string()),
        Some((key, value)) => {
            let mut map = Map::new();
            map.insert(key.to_string(), Value::String(value.to_string()));
            Value::Object(map)
        }
        None => Value::Null,
    }
}

/// What writing one place did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Added,
    Updated,
    Removed,
    Unchanged,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::Updated => "updated",
            Outcome::Removed => "removed",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Sets `path` of `file` to live's value there (`None`: removes it).
pub fn write_place(file: &mut Value, path: &[Step], live: Option<&Value>, mode: Mode) -> Outcome {
    let Some((last, parents)) = path.split_last() else {
        return Outcome::Unchanged;
    };
    let Some(live) = live else {
        // Gone live: gone from the file.
        let Some(parent) = get_mut(file, parents) else {
            return Outcome::Unchanged;
        };
        let removed = match (last, parent) {
            (Step::Field(name), Value::Object(map)) => map.shift_remove(name).is_some(),
            (Step::Item(id), Value::Array(items)) => {
                let before = items.len();
                items.retain(|i| identity(i).as_deref() != Some(id));
                items.len() != before
            }
            _ => false,
        };
        return if removed {
            Outcome::Removed
        } else {
            Outcome::Unchanged
        };
    };
    let mut at = file;
    for (i, step) in path.iter().enumerate() {
        let next_is_item = matches!(path.get(i + 1), Some(Step::Item(_)));
        let empty = || {
            if next_is_item {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        let is_last = i + 1 == path.len();
        at = match (step, at) {
            (Step::Field(name), Value::Object(map)) => {
                if is_last {
                    return match map.get_mut(name) {
                        Some(existing) => {
                            let merged = merge(existing, live, mode);
                            if *existing == merged {
                                Outcome::Unchanged
                            } else {
                                *existing = merged;
                                Outcome::Updated
                            }
                        }
                        None => {
                            map.insert(name.clone(), merge(&Value::Null, live, Mode::Adopt));
                            Outcome::Added
                        }
                    };
                }
                map.entry(name.clone()).or_insert_with(empty)
            }
            (Step::Item(id), Value::Array(items)) => {
                let found = items
                    .iter()
                    .position(|i| identity(i).as_deref() == Some(id));
                if is_last {
                    return match found {
                        Some(p) => {
                            let merged = merge(&items[p], live, mode);
                            if items[p] == merged {
                                Outcome::Unchanged
                            } else {
                                items[p] = merged;
                                Outcome::Updated
                            }
                        }
                        None => {
                            items.push(live.clone());
                            Outcome::Added
                        }
                    };
                }
                let p = match found {
                    Some(p) => p,
                    None => {
                        items.push(stub(id));
                        items.len() - 1
                    }
                };
                &mut items[p]
            }
            _ => return Outcome::Unchanged,
        };
    }
    Outcome::Unchanged
}

fn get_mut<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut at = value;
    for step in path {
        at = match (step, at) {
            (Step::Field(name), Value::Object(map)) => map.get_mut(name)?,
            (Step::Item(id), Value::Array(items)) => items
                .iter_mut()
                .find(|i| identity(i).as_deref() == Some(id))?,
            _ => return None,
        };
    }
    Some(at)
}

/// One file of the desired state, as read.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    pub doc: Document,
    pub value: Value,
    /// Not on disk yet (a new `project-<name>.yaml`).
    pub new: bool,
}

/// The desired state's files: one, or each `*.yaml`/`*.yml` directly in a directory.
pub struct SourceFiles {
    pub directory: Option<PathBuf>,
    pub files: Vec<SourceFile>,
}

impl SourceFiles {
    /// Reads `path` (a file or a directory); a file that does not load is refused with its
    /// diagnostics.
    pub fn read(path: &Path) -> anyhow::Result<SourceFiles> {
        let directory = path.is_dir().then(|| path.to_path_buf());
        let paths = match &directory {
            None => {
                if !path.is_file() {
                    anyhow::bail!(
                        "{}: no such desired-state file or directory (export --target merges into an existing one: export it whole first with `orgops export -o {}`)",
                        path.display(),
                        path.display()
                    );
                }
                vec![path.to_path_buf()]
            }
            Some(dir) => {
                let mut files = Vec::new();
                for entry in
                    std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
                {
                    let entry = entry.map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
                    let file = entry.path();
                    if file.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                        files.push(file);
                    }
                }
                files.sort();
                files
            }
        };
        let mut files = Vec::new();
        for path in paths {
            let label = path.display().to_string();
            let text = crate::input::read_text(&path, crate::input::MAX_INPUT_BYTES)
                .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
            let doc = crate::config::format::load_document(&text, &label).map_err(|(d, _)| {
                anyhow::anyhow!(
                    "{label}: not a valid desired-state file, so nothing was written into it:\n{}",
                    d.trim_end()
                )
            })?;
            let value = serde_json::to_value(&doc)?;
            files.push(SourceFile {
                path,
                text,
                doc,
                value,
                new: false,
            });
        }
        if files.is_empty() {
            anyhow::bail!(
                "{}: no *.yaml or *.yml file in this directory",
                path.display()
            );
        }
        Ok(SourceFiles { directory, files })
    }

    /// The file that declares `path`'s object or its closest declared parent, or where a new
    /// one goes (see the module doc).
    pub fn file_for(&mut self, path: &[Step]) -> anyhow::Result<usize> {
        for depth in (1..=path.len()).rev() {
            if !matches!(path[depth - 1], Step::Item(_)) && depth != path.len() {
                continue;
            }
            if let Some(i) = self
                .files
                .iter()
                .position(|f| get(&f.value, &path[..depth]).is_some())
            {
                return Ok(i);
            }
        }
        let top = match path.first() {
            Some(Step::Field(top)) => top.as_str(),
            _ => "",
        };
        if top == "projects"
            && let Some(dir) = &self.directory
            && self.split_layout()
            && let Some(Step::Item(id)) = path.get(1)
        {
            let name = id.strip_prefix("name=").unwrap_or(id);
            let existing: Vec<String> = self
                .files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect();
            let stem = crate::ops::export_write::project_stem(name, &existing)?;
            let file = dir.join(format!("project-{stem}.yaml"));
            let doc = Document {
                projects: crate::model::ManagedList::managed(Vec::new()),
                ..Document::default()
            };
            let text = crate::ops::export_write::project_file_yaml(&doc)?;
            let value = serde_json::to_value(&doc)?;
            self.files.push(SourceFile {
                path: file,
                text,
                doc,
                value,
                new: true,
            });
            return Ok(self.files.len() - 1);
        }
        let holds = |f: &SourceFile| f.value.get(top).is_some();
        let version = |f: &SourceFile| f.text.lines().any(|l| l.starts_with("version:"));
        Ok(self
            .files
            .iter()
            .position(holds)
            .or_else(|| self.files.iter().position(version))
            .unwrap_or(0))
    }

    /// A directory in `export --split`'s layout: some file holds one project and nothing else.
    fn split_layout(&self) -> bool {
        self.files.iter().any(|f| {
            f.doc.projects.len() == 1
                && Document {
                    projects: f.doc.projects.clone(),
                    ..Document::default()
                } == Document {
                    version: f.doc.version,
                    ..f.doc.clone()
                }
        })
    }

    /// The new text of every changed file (path, text, dropped comment lines), merged.
    pub fn merged(&self) -> anyhow::Result<Vec<(PathBuf, String, Vec<usize>)>> {
        let mut out = Vec::new();
        for file in &self.files {
            let label = file.path.display().to_string();
            let new: Document = serde_json::from_value(file.value.clone()).map_err(|e| {
                anyhow::anyhow!("{label}: the live value does not fit the file format: {e}")
            })?;
            if new == file.doc && !file.new {
                continue;
            }
            let merged = crate::config::merge::merge_text(&file.text, &file.doc, &new, &label)
                .map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;
            if merged.text != file.text || file.new {
                out.push((file.path.clone(), merged.text, merged.dropped));
            }
        }
        Ok(out)
    }
}

/// Emails that a group's or project's `members` names and no file's `users` declares
/// (normalised, sorted).
fn undeclared_members(files: &SourceFiles) -> BTreeSet<String> {
    let mut declared = BTreeSet::new();
    let mut named = BTreeSet::new();
    let emails = |list: Option<&Value>, out: &mut BTreeSet<String>| {
        for item in list.and_then(Value::as_array).into_iter().flatten() {
            let email = item
                .as_str()
                .or_else(|| item.get("email").and_then(Value::as_str));
            if let Some(email) = email {
                out.insert(normalize_email(email));
            }
        }
    };
    for file in &files.files {
        emails(file.value.get("users"), &mut declared);
        for key in ["groups", "projects"] {
            for object in file
                .value
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                emails(object.get("members"), &mut named);
            }
        }
    }
    // Only when the file manages users at all: otherwise members need no declaration.
    if files.files.iter().all(|f| f.value.get("users").is_none()) {
        return BTreeSet::new();
    }
    named.difference(&declared).cloned().collect()
}

/// The notes to print about comments that went with what they were inside, one per file.
pub fn dropped_notes(written: &Written) -> Vec<String> {
    written
        .files
        .iter()
        .filter(|(_, dropped)| !dropped.is_empty())
        .map(|(path, dropped)| {
            let lines: Vec<String> = dropped.iter().map(|l| l.to_string()).collect();
            format!(
                "note: {}: the comment(s) on line(s) {} went with what they were inside",
                path.display(),
                lines.join(", ")
            )
        })
        .collect()
}

/// Keys of every object of `doc` (what a target may name), each kind's own.
pub fn keys_of(doc: &Document) -> BTreeSet<String> {
    crate::kinds::ResourceKind::ALL
        .iter()
        .flat_map(|k| k.def().declared_keys(doc))
        .collect()
}

/// The matched keys without those inside another matched key (`project:S` covers
/// `project:S/member:a`).
pub fn outermost(keys: BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        if !out.iter().any(|k| key.starts_with(&format!("{k}/"))) {
            out.push(key);
        }
    }
    out
}

/// Writes `files` (path -> text): each replaced by rename, as export writes.
pub fn write_files(files: &[(PathBuf, String, Vec<usize>)]) -> anyhow::Result<()> {
    for (path, text, _) in files {
        crate::apply::secrets::replace_file(path, text.as_bytes(), 0o666, "export")
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What was written: each key's place and what became of it, the files rewritten (with the
/// source lines of comments removed with what they were inside), and the live read's
/// requests.
pub struct Written {
    pub places: Vec<(String, Outcome, PathBuf)>,
    pub files: Vec<(PathBuf, Vec<usize>)>,
    pub requests: u64,
}

/// The read `export --target` needs: everything of the organization lists (one list each:
/// a user's place needs the users and invites), but the lists read per object only for the
/// objects the targets name (the per-project lists of `project:Search`, the role assignments
/// of `user:bob@x`); their own children follow from them. A glob reads everything.
pub fn narrow_for_adoption(scope: &mut crate::live::ReadScope, targets: &[String]) {
    use crate::live::Select;
    if targets.iter().any(|t| t.contains(['*', '?'])) {
        return;
    }
    let mut named: BTreeSet<String> = BTreeSet::new();
    for target in targets {
        let mut at = 0;
        while let Some(i) = target[at..].find('/') {
            named.insert(target[..at + i].to_string());
            at += i + 1;
        }
        named.insert(target.clone());
    }
    for (kind, select) in scope.kinds.iter_mut() {
        let Some(parent) = kind.def().source().and_then(|s| s.parent) else {
            continue; // an organization list
        };
        if parent.def().source().is_some_and(|s| s.parent.is_none()) {
            *select = Select::Only(named.clone());
        }
    }
    scope.kinds.retain(|_, select| !select.is_nothing());
}

/// Validates the whole desired state at `path` after `written` replaced some of its files;
/// when it does not load, puts the files back as they were (`before`: path -> text, `None`
/// for a file that did not exist) and says why.
fn check_or_restore(
    path: &Path,
    before: &[(PathBuf, Option<String>)],
) -> anyhow::Result<crate::config::DesiredState> {
    match crate::config::load_with(
        path,
        crate::config::LoadMode::Desired,
        crate::config::LoadOptions::default(),
    ) {
        Ok(desired) => Ok(desired),
        Err(diagnostics) => {
            for (file, text) in before {
                match text {
                    Some(text) => {
                        let _ = crate::apply::secrets::replace_file(
                            file,
                            text.as_bytes(),
                            0o666,
                            "export",
                        );
                    }
                    None => {
                        let _ = std::fs::remove_file(file);
                    }
                }
            }
            anyhow::bail!(
                "the desired state would not be valid with the live values written in, so every file was left as it was:\n{}",
                diagnostics.render_human(false).trim_end()
            )
        }
    }
}

/// Writes the places of `keys` into `files` from `live` (the live export's value), merges
/// and writes the changed files, and checks the whole desired state at `root`.
fn write_keys(
    root: &Path,
    mut files: SourceFiles,
    keys: &[(String, Mode)],
    live: &Value,
    extra: &BTreeMap<PathBuf, String>,
) -> anyhow::Result<(Written, crate::config::DesiredState)> {
    let mut places = Vec::new();
    for (key, mode) in keys {
        let Some(path) = path_of(key) else {
            anyhow::bail!(
                "`{}` names no place in a desired-state file that orgops knows; nothing was written",
                crate::text::escape::text(key)
            );
        };
        let at = files.file_for(&path)?;
        let outcome = write_place(&mut files.files[at].value, &path, get(live, &path), *mode);
        places.push((key.clone(), outcome, files.files[at].path.clone()));
    }
    // A member must be a declared user: the people an added membership names are adopted
    // too (as live has them).
    for email in undeclared_members(&files) {
        let key = crate::kinds::keys::user(&email);
        let Some(path) = path_of(&key) else { continue };
        if get(live, &path).is_none() {
            continue;
        }
        let at = files.file_for(&path)?;
        let outcome = write_place(
            &mut files.files[at].value,
            &path,
            get(live, &path),
            Mode::Adopt,
        );
        places.push((key, outcome, files.files[at].path.clone()));
    }
    let merged = files.merged()?;
    let before: Vec<(PathBuf, Option<String>)> = merged
        .iter()
        .map(|(path, _, _)| {
            let old = files
                .files
                .iter()
                .find(|f| f.path == *path && !f.new)
                .map(|f| f.text.clone());
            (path.clone(), old)
        })
        .collect();
    for (path, pem) in extra {
        if let Ok(existing) = std::fs::read_to_string(path)
            && existing != *pem
        {
            anyhow::bail!(
                "{} exists with another certificate: move it, or point the certificate's `file` elsewhere; nothing was written",
                path.display()
            );
        }
    }
    for (path, pem) in extra {
        if !path.exists() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
            }
            crate::apply::secrets::replace_file(path, pem.as_bytes(), 0o666, "export")
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
    }
    write_files(&merged)?;
    let desired = check_or_restore(root, &before)?;
    Ok((
        Written {
            places,
            files: merged.into_iter().map(|(p, _, d)| (p, d)).collect(),
            requests: 0,
        },
        desired,
    ))
}

/// `export --target`: reads what `targets` need, and adopts each live object they name into
/// the existing file or directory `output` (see the module doc). A target that names no live
/// object is an error with the closest keys, before anything is written.
pub fn export_targets(
    output: &Path,
    targets: &[String],
    connect: &crate::ops::target::Target,
    options: crate::ops::export::ExportOptions,
    all_rate_limits: bool,
    printer: crate::printer::Printer,
) -> anyhow::Result<Written> {
    crate::plan::target::check_patterns(targets)?;
    if !output.exists() {
        // Refused before anything is read (the same message as [`SourceFiles::read`]).
        SourceFiles::read(output)?;
    }
    // The file loads while the organization is read (a large file takes a moment).
    std::thread::scope(|scope| {
        let files = scope.spawn(|| SourceFiles::read(output));
        let read = read_for_targets(targets, connect, options, all_rate_limits, printer);
        let files = files
            .join()
            .map_err(|_| anyhow::anyhow!("reading {} failed", output.display()))??;
        let (export, requests) = read?;
        adopt_into(output, files, targets, export, requests)
    })
}

/// The live read `targets` need ([`narrow_for_adoption`]) as an export, and its requests.
fn read_for_targets(
    targets: &[String],
    connect: &crate::ops::target::Target,
    options: crate::ops::export::ExportOptions,
    all_rate_limits: bool,
    printer: crate::printer::Printer,
) -> anyhow::Result<(crate::ops::export::Export, u64)> {
    let runtime = crate::ops::runtime()?;
    let mut scope = if options.skip_role_assignments {
        crate::live::ReadScope::everything_but_role_assignments()
    } else {
        crate::live::ReadScope::everything()
    };
    narrow_for_adoption(&mut scope, targets);
    let announce = |reads: &crate::live::AssignmentReads| {
        eprintln!("note: {}", crate::ops::export::assignment_note(reads))
    };
    let live =
        crate::ops::plan::read_live_announcing(&runtime, connect, &scope, printer, &announce)?;
    let requests = connect.client.attempts();
    let mut export = crate::ops::export::build(live)?;
    if !all_rate_limits {
        crate::ops::export_write::leave_out_common_rate_limits(&mut export.doc);
    }
    Ok((export, requests))
}

/// Adopts what `targets` name in `export` into `files` (at `output`).
fn adopt_into(
    output: &Path,
    files: SourceFiles,
    targets: &[String],
    export: crate::ops::export::Export,
    requests: u64,
) -> anyhow::Result<Written> {
    let universe = keys_of(&export.doc);
    let mut matched = BTreeSet::new();
    let mut unmatched = Vec::new();
    for target in targets {
        let hits: Vec<&String> = universe
            .iter()
            .filter(|k| crate::plan::target::matches(target, k))
            .collect();
        if hits.is_empty() {
            let close = crate::plan::target::close_keys(target, &universe);
            let mut line = format!(
                "--target `{}` names no object of the live organization",
                crate::text::escape::text(target)
            );
            if close.is_empty() {
                line.push_str(" (keys look like `user:EMAIL`, `group:NAME`, `project:NAME`, `project:NAME/service_account:NAME`)");
            } else {
                let close: Vec<String> = close
                    .iter()
                    .map(|k| format!("`{}`", crate::text::escape::text(k)))
                    .collect();
                line.push_str(&format!("; did you mean {}?", close.join(", ")));
            }
            unmatched.push(line);
        }
        matched.extend(hits.into_iter().cloned());
    }
    if !unmatched.is_empty() {
        anyhow::bail!("{}\nNothing was written.", unmatched.join("\n"));
    }
    let keys: Vec<(String, Mode)> = outermost(matched)
        .into_iter()
        .map(|k| (k, Mode::Adopt))
        .collect();
    let live_value = serde_json::to_value(&export.doc)?;
    // Certificates adopted new: their PEM beside the file that declares them.
    let mut extra = BTreeMap::new();
    for (key, _) in &keys {
        if let Some(path) = path_of(key)
            && path.first() == Some(&field("certificates"))
            && let Some(Value::String(rel)) = get(&live_value, &path).and_then(|c| c.get("file"))
            && let Some(pem) = export.certificate_files.get(rel)
        {
            let declared = files.files.iter().any(|f| get(&f.value, &path).is_some());
            if !declared {
                let base = files
                    .directory
                    .clone()
                    .or_else(|| output.parent().map(Path::to_path_buf))
                    .unwrap_or_default();
                extra.insert(base.join(rel), pem.clone());
            }
        }
    }
    let (mut written, _) = write_keys(output, files, &keys, &live_value, &extra)?;
    written.requests = requests;
    Ok(written)
}

/// Drift `drift --write` could not accept, and why when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remaining {
    pub key: String,
    pub why: Option<&'static str>,
}

/// Why an item still differs after the file was written, for those a file cannot express.
fn why_remaining(item: &crate::drift::DriftItem) -> Option<&'static str> {
    let expired = item.kind == crate::kinds::ResourceKind::Invite
        && item
            .live
            .as_ref()
            .and_then(|live| live.get("status"))
            .and_then(Value::as_str)
            == Some("expired");
    expired.then_some(
        "an expired invite, which no file can declare: the person never joined, so the file \
         no longer declares them, and `policy.unmanaged.invites: remove` has apply revoke the \
         invite (set it to `report` to leave expired invites alone)",
    )
}

/// `drift --write`: accepts each item of `report` that counts as drift into the file(s) at
/// `path` (a changed object refreshed, one deleted live removed, an undeclared one added),
/// from the live read the report was made of. Returns what was written and the drift that
/// remains (by a plan of the written file against the same read; empty unless the file
/// format cannot say it).
pub fn accept_drift(
    path: &Path,
    report: &crate::drift::DriftReport,
    live: &crate::live::LiveState,
) -> anyhow::Result<(Written, Vec<Remaining>)> {
    use crate::drift::DriftClass;
    let files = SourceFiles::read(path)?;
    let export = crate::ops::export::build(live.clone())?;
    let live_value = serde_json::to_value(&export.doc)?;
    let keys: Vec<(String, Mode)> = report
        .items
        .iter()
        .filter(|i| report.counts(i))
        .map(|i| {
            let mode = match i.class {
                DriftClass::Unmanaged => Mode::Adopt,
                DriftClass::Changed | DriftClass::Missing => Mode::Refresh,
            };
            (i.key.clone(), mode)
        })
        .collect();
    if keys.is_empty() {
        return Ok((
            Written {
                places: Vec::new(),
                files: Vec::new(),
                requests: 0,
            },
            Vec::new(),
        ));
    }
    let (written, desired) = write_keys(path, files, &keys, &live_value, &BTreeMap::new())?;
    let plan = crate::ops::plan::plan_against(&desired.doc, live, &Default::default())?;
    let items = crate::drift::classify(&plan, &desired.doc, &live.ids);
    let remaining = items
        .iter()
        .filter(|i| !i.informational() || report.fail_on_unmanaged)
        .map(|i| Remaining {
            key: i.key.clone(),
            why: why_remaining(i),
        })
        .collect();
    Ok((written, remaining))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_place() {
        assert_eq!(
            path_of("project:Search/service_account:ci"),
            Some(vec![
                field("projects"),
                by_name("Search"),
                field("service_accounts"),
                by_name("ci")
            ])
        );
        assert_eq!(
            path_of("user:Alice@X.example"),
            Some(vec![
                field("users"),
                Step::Item("email=alice@x.example".into())
            ])
        );
        assert_eq!(
            path_of("group:eng/member:a@x"),
            Some(vec![
                field("groups"),
                by_name("eng"),
                field("members"),
                by_value("a@x")
            ])
        );
        assert_eq!(path_of("nonsense"), None);
    }

    #[test]
    fn refresh_keeps_what_the_file_leaves_out_and_what_only_it_knows() {
        let file = serde_json::json!({"name": "ci", "role": "member", "sink": {"file": "k"}});
        let live = serde_json::json!({"name": "ci", "role": "owner", "extra": 1});
        assert_eq!(
            merge(&file, &live, Mode::Refresh),
            serde_json::json!({"name": "ci", "role": "owner", "sink": {"file": "k"}})
        );
        assert_eq!(
            merge(&file, &live, Mode::Adopt),
            serde_json::json!({"name": "ci", "role": "owner", "sink": {"file": "k"}, "extra": 1})
        );
    }
}
