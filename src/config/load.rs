//! Reading input: a file or a directory of files -> parsed, schema-checked, typed documents,
//! merged into one with a record of where every top-level object came from.
//!
//! Per file, in order, each step stopping the file at its first failure:
//! 1. read through [`crate::input`], refusing anything but a regular file (a FIFO, a device,
//!    a dangling symbolic link: a located error, never a silent skip), more than
//!    [`MAX_FILE_BYTES`] read, empty files and invalid UTF-8 (located at the first bad byte);
//! 2. the success path (`parse_streaming`): one pass over the YAML parser's events builds
//!    the [`SourceMap`] and, for plain YAML (no anchor, alias, tag, float, null, duplicate
//!    key, second document, and far from the budget), the value, but never the whole file's
//!    value at once: each item of a root list (`users[i]`, `projects[i]`, ... every list
//!    [`schema::streamable_lists`] allows) is, as soon as it is complete, checked against the
//!    items' schema, converted to its type and its value dropped; the root, with those lists
//!    standing in as empty arrays, is checked against the whole schema and converted. Peak
//!    memory is the text, the source map, the typed document and one item's value;
//! 3. at the first thing the success path does not take (YAML it leaves to serde-saphyr, a
//!    schema error, a value the typed model refuses), the file goes through the whole-value
//!    path from its text (`parse_whole`), so every diagnostic and the salvage are exactly
//!    what that path says: the same one pass (with the whole value), or serde-saphyr under a
//!    [`Budget`](serde_saphyr::Budget) for anything unusual (one document, bounded depth,
//!    nodes, events and alias replay, so alias bombs and deep nesting are refused with the
//!    parser's location instead of exhausting memory or stack, and every YAML error is its);
//!    then the JSON Schema on the whole value, collecting every error; then the typed
//!    [`Document`] (re-parsing with serde-saphyr only on failure, for a located error on the
//!    rare value the schema cannot tell apart, such as `1e3`). A file that fails pays for two
//!    passes; a valid one for one.
//!
//! Reading and YAML errors stop the file at their first failure. A schema error does not: the file is
//! *salvaged* ([`parse_salvaging`]): each object the schema refused (a list item such as
//! `users[2]` or `projects[0].members[1]`, a `rate_limits` entry, a `policy` value, an unknown
//! key) is set aside and the rest is converted, so the semantic checks still run on every
//! part of the file that did parse. [`Salvage`] keeps what was set aside: the original index
//! of every kept list item (locations stay right), and the names of the declarations dropped,
//! so a reference to them is not called undeclared.
//!
//! Then [`merge`] concatenates the files' lists in file-name order; `policy` may come from at
//! most one file and `version`, where given, must agree.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::diagnostics::{Diagnostic, Diagnostics};
use super::schema::{self, Fault};
use super::source_map::{ItemSink, OnePassLimits, Position, SourceMap, escape_segment};
use crate::input::{self, InputError};
use crate::model::{
    AdminApiKey, Certificate, Document, Group, Invite, ManagedList, Project, Role, User,
    normalize_email,
};

/// Files larger than this are refused unless `--max-file-size` says otherwise (the export of a
/// 10,000-user org is about 4 MB, of a 100,000-user org about 39 MB); counted on the bytes
/// read, see [`crate::input`].
pub const MAX_FILE_BYTES: u64 = input::MAX_INPUT_BYTES;
/// Deepest nesting a valid file needs is 6 (`projects[].service_accounts[].sink.command[]`).
pub const MAX_DEPTH: usize = 32;

/// A node takes at least about 3 bytes of text (`a: b` is two nodes in 5 bytes with its
/// newline): the node budget follows the size cap, so a larger cap admits larger files and
/// nothing else.
fn max_nodes(cap: u64) -> usize {
    usize::try_from(cap / 3)
        .unwrap_or(usize::MAX)
        .max(4_000_000)
}

fn yaml_options(cap: u64) -> serde_saphyr::Options {
    let max_nodes = max_nodes(cap);
    let mut options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_documents: 1,
            max_nodes: max_nodes,
            max_events: max_nodes.saturating_mul(2),
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_total_scalar_bytes: usize::try_from(cap).unwrap_or(usize::MAX),
        },
        with_snippet: false,
    };
    // Billion laughs: each alias level multiplies the replayed events; cap the total far
    // below what memory allows but far above what a hand-written file with anchors needs.
    options.alias_limits.max_total_replayed_events = 200_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options
}

/// One input file after parsing.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// The name diagnostics use (the path as the user gave it, or the in-memory name).
    pub name: String,
    /// The file on disk; `None` for in-memory text.
    pub path: Option<PathBuf>,
    pub text: String,
    pub map: SourceMap,
    /// The file's document. [`merge`] moves its lists (all but `invites`) into the merged
    /// document, leaving them empty and unmanaged here.
    pub doc: Document,
    /// Whether the file itself contains these keys (the typed document has defaults).
    pub declares_policy: bool,
    pub declares_version: bool,
    /// What schema errors took out of `doc` (nothing for a valid file).
    pub salvage: Salvage,
}

/// A kind of declaration that references name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    User,
    Group,
    Role,
    Certificate,
    Project,
    /// A project's custom role; the scope is the project's name.
    ProjectRole,
    /// A service account, named `project/name`; the scope of "any" is the project's name.
    ServiceAccount,
}

/// Declarations set aside because the schema refused them. A reference to one of them is not
/// reported as undeclared: the schema error already says what is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct Dropped {
    /// (kind, scope, name): a dropped declaration whose name could still be read. The scope
    /// is the project's name for project roles, empty otherwise.
    names: BTreeSet<(Kind, String, String)>,
    /// (kind, scope): some declaration of this kind was dropped and its name cannot be read
    /// (or a whole list was), so any name of it may be declared.
    any: BTreeSet<(Kind, String)>,
    /// A file was not read at all (unreadable, not YAML): any name may be declared there.
    pub all: bool,
    /// Some `policy` value was dropped.
    pub policy: bool,
}

impl Dropped {
    /// Whether `name` (normalised as the checks compare it) may be declared by a dropped entry.
    pub fn may_declare(&self, kind: Kind, scope: &str, name: &str) -> bool {
        self.all
            || self.any.contains(&(kind, scope.to_string()))
            || self
                .names
                .contains(&(kind, scope.to_string(), name.to_string()))
            || (kind == Kind::ServiceAccount
                && self.any.iter().any(|(k, project)| {
                    (*k == Kind::ServiceAccount && name.starts_with(&format!("{project}/")))
                        || (*k == Kind::Project && project.is_empty())
                }))
    }

    /// Whether any declaration of `kind` was dropped (a count over it would be wrong).
    pub fn touches(&self, kind: Kind) -> bool {
        self.all
            || self.any.iter().any(|(k, _)| *k == kind)
            || self.names.iter().any(|(k, _, _)| *k == kind)
    }

    fn extend(&mut self, other: &Dropped) {
        self.names.extend(other.names.iter().cloned());
        self.any.extend(other.any.iter().cloned());
        self.all |= other.all;
        self.policy |= other.policy;
    }

    /// Records the declaration at `unit` (a pointer into `raw`) as dropped.
    fn record(&mut self, raw: &Value, unit: &str) {
        let segments: Vec<&str> = unit.split('/').skip(1).collect();
        let name_at = |pointer: String, key: &str| {
            raw.pointer(&pointer)
                .and_then(|item| item.get(key))
                .and_then(scalar_text)
        };
        let mut put = |kind: Kind, scope: String, name: Option<String>| match name {
            Some(name) => {
                self.names.insert((kind, scope, name));
            }
            None => {
                self.any.insert((kind, scope));
            }
        };
        let top = |list: &str| match list {
            "users" => Some((Kind::User, "email")),
            "groups" => Some((Kind::Group, "name")),
            "roles" => Some((Kind::Role, "name")),
            "certificates" => Some((Kind::Certificate, "name")),
            "projects" => Some((Kind::Project, "name")),
            _ => None,
        };
        match segments.as_slice() {
            ["policy", ..] => self.policy = true,
            [list] => {
                if let Some((kind, _)) = top(list) {
                    put(kind, String::new(), None);
                }
            }
            ["projects", i] => {
                let name = name_at(format!("/projects/{i}"), "name");
                if let Some(project) = &name {
                    put(Kind::ProjectRole, project.clone(), None);
                    put(Kind::ServiceAccount, project.clone(), None);
                }
                put(Kind::Project, String::new(), name);
            }
            ["projects", i, list @ ("roles" | "service_accounts"), j] => {
                let project = name_at(format!("/projects/{i}"), "name").unwrap_or_default();
                let name = name_at(format!("/projects/{i}/{list}/{j}"), "name");
                if *list == "roles" {
                    put(Kind::ProjectRole, project, name);
                } else {
                    match name {
                        Some(name) => put(
                            Kind::ServiceAccount,
                            String::new(),
                            Some(format!("{project}/{name}")),
                        ),
                        None => put(Kind::ServiceAccount, project, None),
                    }
                }
            }
            [list, i] => {
                if let Some((kind, key)) = top(list) {
                    let name = name_at(format!("/{list}/{i}"), key);
                    let name = if kind == Kind::User {
                        name.map(|email| normalize_email(&email))
                    } else {
                        name
                    };
                    put(kind, String::new(), name);
                }
            }
            _ => {}
        }
    }
}

/// A scalar as the text a reference would use (`42` for a number); `None` for anything else.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What was set aside from a file that failed the schema, and how to locate what remains.
#[derive(Debug, Clone, Default)]
pub struct Salvage {
    /// A list's pointer (in the file's own indices) -> the original index of each item kept.
    kept: BTreeMap<String, Vec<usize>>,
    pub dropped: Dropped,
}

impl Salvage {
    /// The pointer into the file of `pointer`, a pointer into the salvaged document.
    pub fn original<'p>(&self, pointer: &'p str) -> Cow<'p, str> {
        if self.kept.is_empty() {
            return Cow::Borrowed(pointer);
        }
        let mut out = String::with_capacity(pointer.len());
        for segment in pointer.split('/').skip(1) {
            let index = segment.parse::<usize>().ok();
            let original = index.and_then(|i| self.kept.get(&out).and_then(|k| k.get(i)));
            out.push('/');
            match original {
                Some(original) => out.push_str(&original.to_string()),
                None => out.push_str(segment),
            }
        }
        Cow::Owned(out)
    }
}

/// The part of the document a schema error at `pointer` takes out: the list item or
/// `rate_limits` entry around it, or the `policy` value itself. Empty: the whole document.
fn unit_of(pointer: &str) -> String {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let take = |n: usize| -> String {
        segments
            .iter()
            .take(n)
            .map(|segment| format!("/{segment}"))
            .collect()
    };
    match segments.as_slice() {
        [] => String::new(),
        [
            "projects",
            _,
            "members" | "groups" | "roles" | "service_accounts" | "certificates" | "rate_limits",
            _,
            ..,
        ] => take(4),
        ["projects", ..] => take(2),
        ["policy", "protect", _, _, ..] => take(4),
        ["policy", ..] => pointer.to_string(),
        _ => take(2),
    }
}

/// `value` without the nodes at the pointers in `remove`; records the original index of every
/// item kept in a list that lost some.
fn prune(
    value: &Value,
    pointer: &str,
    remove: &BTreeSet<String>,
    kept: &mut BTreeMap<String, Vec<usize>>,
) -> Value {
    let prefix = format!("{pointer}/");
    let below = remove
        .range(prefix.clone()..)
        .next()
        .is_some_and(|p| p.starts_with(&prefix));
    if !below {
        return value.clone();
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(key, child)| {
                    let at = format!("{prefix}{}", escape_segment(key));
                    (!remove.contains(&at)).then(|| (key.clone(), prune(child, &at, remove, kept)))
                })
                .collect(),
        ),
        Value::Array(items) => {
            let mut indices = Vec::with_capacity(items.len());
            let mut out = Vec::with_capacity(items.len());
            for (i, child) in items.iter().enumerate() {
                let at = format!("{prefix}{i}");
                if !remove.contains(&at) {
                    indices.push(i);
                    out.push(prune(child, &at, remove, kept));
                }
            }
            if indices.len() < items.len() {
                kept.insert(pointer.to_string(), indices);
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// What remains of `value` once the nodes the schema refused (`faults`) are set aside, typed;
/// `None` when nothing sensible remains (the root itself is wrong). A value the typed model
/// refuses although the schema let it through (`1e3` for an integer) is set aside with its
/// own error, located at its object, added to `diagnostics`.
fn salvage(
    value: &Value,
    faults: &[Fault],
    name: &str,
    map: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> Option<(Document, Salvage, bool)> {
    if !value.is_object() {
        return None;
    }
    let mut remove = BTreeSet::new();
    let mut units = BTreeSet::new();
    for fault in faults {
        match fault {
            Fault::UnknownKey(pointer) => {
                remove.insert(pointer.clone());
            }
            Fault::Value(pointer) => {
                let unit = unit_of(pointer);
                if unit.is_empty() {
                    return None;
                }
                remove.insert(unit.clone());
                units.insert(unit);
            }
        }
    }
    // At most two rounds: the second sets aside what the typed model refused in the first.
    for _ in 0..2 {
        let mut kept = BTreeMap::new();
        let pruned = prune(value, "", &remove, &mut kept);
        let mut salvaged = Salvage {
            kept,
            dropped: Dropped::default(),
        };
        let declares_version = pruned.get("version").is_some();
        if let Ok(doc) = serde_json::from_value::<Document>(pruned.clone()) {
            for unit in &units {
                salvaged.dropped.record(value, unit);
            }
            return Some((doc, salvaged, declares_version));
        }
        let Value::Object(top) = &pruned else {
            return None;
        };
        for (key, part) in top {
            let items: Vec<(String, &Value)> = match part {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let pointer = format!("/{}/{i}", escape_segment(key));
                        (salvaged.original(&pointer).into_owned(), item)
                    })
                    .collect(),
                other => vec![(format!("/{}", escape_segment(key)), other)],
            };
            for (unit, item) in items {
                let alone = match part {
                    Value::Array(_) => Value::Array(vec![item.clone()]),
                    _ => item.clone(),
                };
                let alone = Value::Object([(key.clone(), alone)].into_iter().collect());
                if let Err(error) = serde_json::from_value::<Document>(alone) {
                    diagnostics.push(Diagnostic::error(name, map.value(&unit), error.to_string()));
                    remove.insert(unit.clone());
                    units.insert(unit);
                }
            }
        }
    }
    None
}

impl ParsedFile {
    /// A file that loaded without a problem (its text is attached by the caller).
    fn clean(name: &str, path: Option<PathBuf>, map: SourceMap, doc: Document) -> ParsedFile {
        ParsedFile {
            name: name.to_string(),
            path,
            declares_policy: map.has_key("/policy"),
            declares_version: map.has_key("/version"),
            text: String::new(),
            map,
            doc,
            salvage: Salvage::default(),
        }
    }

    /// The directory that relative paths in this file (certificates, sinks) are resolved in.
    pub fn base_dir(&self) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        Some(match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        })
    }
}

/// The files `path` names: itself, or every `*.yaml`/`*.yml` directly in it, by file name.
pub fn input_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    let name = path.display().to_string();
    let fail = |message: String| {
        let mut diagnostics = Diagnostics::new();
        diagnostics.push(Diagnostic::error(&name, Position::START, message));
        diagnostics
    };
    // Anything but a directory is one input file; [`read_file`] says what is wrong with it
    // (missing, a dangling link, a FIFO...).
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| fail(format!("cannot list {name}: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| fail(format!("cannot list {name}: {e}")))?;
        let file_path = entry.path();
        let is_yaml = matches!(
            file_path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        // Every matching name is an input, whatever it is: a dangling symbolic link, a loop
        // or a FIFO is refused when it is read, never skipped (a skipped file's objects
        // would be planned for removal).
        if is_yaml {
            files.push(file_path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if files.is_empty() {
        return Err(fail(format!(
            "{name} is a directory with no *.yaml or *.yml file"
        )));
    }
    Ok(files)
}

/// Reads a file within the input limits, through the one bounded reader
/// ([`crate::input`]): a regular file, at most [`MAX_FILE_BYTES`] read, UTF-8.
pub fn read_file(path: &Path) -> Result<String, Diagnostics> {
    read_file_capped(path, MAX_FILE_BYTES)
}

/// [`read_file`] with another size cap (`--max-file-size`).
pub fn read_file_capped(path: &Path, cap: u64) -> Result<String, Diagnostics> {
    let name = path.display().to_string();
    let fail = |at: Position, message: String| {
        let mut diagnostics = Diagnostics::new();
        diagnostics.push(Diagnostic::error(&name, at, message));
        diagnostics
    };
    match input::read_text(path, cap) {
        Ok(text) => Ok(text),
        Err(InputError::NotUtf8(e)) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let prefix = std::str::from_utf8(valid).unwrap_or_default();
            let line = prefix.matches('\n').count() + 1;
            let column = prefix
                .rsplit('\n')
                .next()
                .map_or(0, |last| last.chars().count())
                + 1;
            Err(fail(
                Position {
                    line,
                    column,
                    width: 1,
                },
                "file is not valid UTF-8 (YAML files must be UTF-8 text)".to_string(),
            ))
        }
        Err(InputError::TooLarge { cap }) => {
            let mut diagnostics = Diagnostics::new();
            diagnostics.push(
                Diagnostic::error(&name, Position::START, format!("file is over the {cap}-byte limit"))
                    .with_hint(Some(
                        "raise the limit with --max-file-size SIZE (or ORGOPS_MAX_FILE_SIZE), e.g. --max-file-size 256MiB"
                            .into(),
                    )),
            );
            Err(diagnostics)
        }
        Err(error) => Err(fail(
            Position::START,
            format!("cannot read {name}: {error}"),
        )),
    }
}

/// Parses one file's text: YAML under budget, schema, typed document. Any error refuses it.
pub fn parse_text(
    text: String,
    name: &str,
    path: Option<PathBuf>,
) -> Result<ParsedFile, Diagnostics> {
    match parse_salvaging(text, name, path) {
        (Some(file), diagnostics) if !diagnostics.has_errors() => Ok(file),
        (_, diagnostics) => Err(diagnostics),
    }
}

/// Like [`parse_text`], but a file with schema errors still yields what remains of it (see
/// [`Salvage`]) next to its diagnostics, for the semantic checks. `None` when the text is not
/// a YAML mapping at all.
pub fn parse_salvaging(
    text: String,
    name: &str,
    path: Option<PathBuf>,
) -> (Option<ParsedFile>, Diagnostics) {
    parse_salvaging_capped(text, name, path, MAX_FILE_BYTES)
}

/// [`parse_salvaging`] with another size cap (`--max-file-size`).
pub fn parse_salvaging_capped(
    text: String,
    name: &str,
    path: Option<PathBuf>,
    cap: u64,
) -> (Option<ParsedFile>, Diagnostics) {
    let (file, mut diagnostics) = parse_borrowed(&text, name, path, cap);
    // The text is kept once, in the file; the diagnostics get a copy only when they have
    // something to show in it (a 50,000-user file is 18 MB).
    if !diagnostics.is_empty() {
        diagnostics.add_source(name, &text);
    }
    let file = file.map(|file| ParsedFile { text, ..file });
    (file, diagnostics)
}

/// [`parse_salvaging_capped`] on borrowed text: the file returned has an empty `text`.
fn parse_borrowed(
    text: &str,
    name: &str,
    path: Option<PathBuf>,
    cap: u64,
) -> (Option<ParsedFile>, Diagnostics) {
    if let Some(file) = parse_streaming(text, name, path.clone(), cap) {
        return (Some(file), Diagnostics::new());
    }
    parse_whole(text, name, path, cap)
}

/// The root lists [`parse_streaming`] may take item by item (those the schema allows, see
/// [`schema::streamable_lists`]), numbered by their place here.
const STREAMED: [List; 7] = [
    List::Users,
    List::Groups,
    List::Roles,
    List::Certificates,
    List::AdminApiKeys,
    List::Projects,
    List::Invites,
];

/// The items of the root lists, each checked against its schema and converted to its type
/// as soon as the one pass completes it, so its [`Value`] is dropped at once.
#[derive(Default)]
struct TypedLists {
    users: Option<Vec<User>>,
    groups: Option<Vec<Group>>,
    roles: Option<Vec<Role>>,
    certificates: Option<Vec<Certificate>>,
    admin_api_keys: Option<Vec<AdminApiKey>>,
    projects: Option<Vec<Project>>,
    invites: Option<Vec<Invite>>,
}

impl ItemSink for TypedLists {
    fn list(&self, key: &str) -> Option<usize> {
        STREAMED
            .iter()
            .position(|list| list.key() == key)
            .filter(|_| schema::streams(key))
    }

    fn item(&mut self, list: usize, item: Value) -> bool {
        fn push<T: serde::de::DeserializeOwned>(slot: &mut Option<Vec<T>>, item: Value) -> bool {
            match serde_json::from_value(item) {
                Ok(item) => {
                    slot.get_or_insert_with(Vec::new).push(item);
                    true
                }
                Err(_) => false,
            }
        }
        let Some(list) = STREAMED.get(list) else {
            return false;
        };
        if !schema::item_is_valid(list.key(), &item) {
            return false;
        }
        match list {
            List::Users => push(&mut self.users, item),
            List::Groups => push(&mut self.groups, item),
            List::Roles => push(&mut self.roles, item),
            List::Certificates => push(&mut self.certificates, item),
            List::AdminApiKeys => push(&mut self.admin_api_keys, item),
            List::Projects => push(&mut self.projects, item),
            List::Invites => push(&mut self.invites, item),
        }
    }
}

impl TypedLists {
    /// Puts the items into `doc`, converted from the root where each list is empty.
    fn install(self, doc: &mut Document) {
        fn put<T>(list: &mut ManagedList<T>, items: Option<Vec<T>>) {
            if let Some(mut items) = items {
                // As tight as the list a whole-value conversion builds.
                items.shrink_to_fit();
                *list = ManagedList::managed(items);
            }
        }
        put(&mut doc.users, self.users);
        put(&mut doc.groups, self.groups);
        put(&mut doc.roles, self.roles);
        put(&mut doc.certificates, self.certificates);
        put(&mut doc.admin_api_keys, self.admin_api_keys);
        put(&mut doc.projects, self.projects);
        if let Some(mut invites) = self.invites {
            invites.shrink_to_fit();
            doc.invites = invites;
        }
    }
}

/// The success path of a plain, valid file, without ever holding the whole file as a
/// [`Value`]: one pass over the parser's events builds the source map and hands each item of
/// the root lists, once complete, to [`TypedLists`] (checked against the items' schema,
/// converted, its value dropped); the root, with those lists standing in as empty arrays,
/// is checked against the whole schema and converted. `None` at the first thing this path
/// does not take (YAML the one pass leaves to serde-saphyr, any schema or conversion error):
/// the caller then runs [`parse_whole`] from the text, so every diagnostic and the salvage
/// are exactly what they are without this path.
fn parse_streaming(text: &str, name: &str, path: Option<PathBuf>, cap: u64) -> Option<ParsedFile> {
    if text.len() as u64 > cap || text.trim().is_empty() {
        return None;
    }
    let limits = OnePassLimits {
        max_depth: MAX_DEPTH,
        max_nodes: max_nodes(cap),
        max_scalar_bytes: usize::try_from(cap).unwrap_or(usize::MAX),
    };
    let mut lists = TypedLists::default();
    let (map, root) = SourceMap::build_streaming(text, limits, &mut lists);
    let root = root?;
    if !map.unknown_tags().is_empty() || !schema::is_valid(&root) {
        return None;
    }
    let mut doc: Document = serde_json::from_value(root).ok()?;
    lists.install(&mut doc);
    Some(ParsedFile::clean(name, path, map, doc))
}

/// Parses one file holding the whole file as a [`Value`]: what every file that
/// [`parse_streaming`] does not take goes through, and what reports every problem.
fn parse_whole(
    text: &str,
    name: &str,
    path: Option<PathBuf>,
    cap: u64,
) -> (Option<ParsedFile>, Diagnostics) {
    let mut diagnostics = Diagnostics::new();
    if text.len() as u64 > cap {
        diagnostics.push(Diagnostic::error(
            name,
            Position::START,
            format!("input is over the {cap}-byte limit"),
        ));
        return (None, diagnostics);
    }
    if text.trim().is_empty() {
        diagnostics.push(
            Diagnostic::error(name, Position::START, "file is empty")
                .with_hint(Some("a minimal desired state is `version: 1`".into())),
        );
        return (None, diagnostics);
    }
    // One pass over the parser's events builds the source map and, for the plain YAML
    // orgops files are made of, the value itself; anything else (anchors, tags, floats,
    // syntax errors, the budget's neighbourhood) is parsed by serde-saphyr, which reports
    // every error and enforces the budget, exactly as before.
    let limits = OnePassLimits {
        max_depth: MAX_DEPTH,
        max_nodes: max_nodes(cap),
        max_scalar_bytes: usize::try_from(cap).unwrap_or(usize::MAX),
    };
    let (map, fast) = SourceMap::build_with_value(text, limits);
    // A tag orgops does not know would otherwise be dropped silently (`!Ref x` reads as
    // `x`): refuse each, whether or not the parser could make sense of it.
    if !map.unknown_tags().is_empty() {
        for (at, tag) in map.unknown_tags() {
            diagnostics.push(
                Diagnostic::error(name, *at, format!("YAML tag `{tag}` is not supported"))
                    .with_hint(Some(
                        "orgops files are plain YAML: remove the tag (only core tags such as `!!str` are accepted)"
                            .into(),
                    )),
            );
        }
        return (None, diagnostics);
    }
    let parsed = match fast {
        Some(value) => Ok(value),
        None => serde_saphyr::from_str_with_options::<Value>(text, yaml_options(cap)),
    };
    let value: Value = match parsed {
        Ok(value) => value,
        Err(error) => {
            diagnostics.push(yaml_error(name, text, &error));
            return (None, diagnostics);
        }
    };
    if value.is_null() {
        diagnostics.push(
            Diagnostic::error(
                name,
                Position::START,
                "file has no content (only comments or `null`)",
            )
            .with_hint(Some("a minimal desired state is `version: 1`".into())),
        );
        return (None, diagnostics);
    }
    let schema_errors = schema::check_with_faults(&value, name, &map);
    if !schema_errors.is_empty() {
        let mut faults = Vec::with_capacity(schema_errors.len());
        for (error, fault) in schema_errors {
            diagnostics.push(error);
            faults.push(fault);
        }
        let Some((doc, salvage, declares_version)) =
            salvage(&value, &faults, name, &map, &mut diagnostics)
        else {
            return (None, diagnostics);
        };
        let file = ParsedFile {
            name: name.to_string(),
            path,
            declares_policy: map.has_key("/policy"),
            declares_version,
            text: String::new(),
            map,
            doc,
            salvage,
        };
        return (Some(file), diagnostics);
    }
    // Converting the checked value is cheap; only when it fails (a value the schema cannot
    // tell apart, like `1e3` for an integer) is the text parsed again, for the location.
    let doc: Document = match serde_json::from_value(value) {
        Ok(doc) => doc,
        Err(json_error) => {
            let located =
                match serde_saphyr::from_str_with_options::<Document>(text, yaml_options(cap)) {
                    Err(error) => yaml_error(name, text, &error),
                    Ok(_) => Diagnostic::error(name, Position::START, json_error.to_string()),
                };
            diagnostics.push(located);
            return (None, diagnostics);
        }
    };
    (Some(ParsedFile::clean(name, path, map, doc)), diagnostics)
}

/// A serde-saphyr error as a diagnostic at its location (the file start when it has none).
/// An error about a tab is located at the tab instead (see [`tab_in_indentation`]).
fn yaml_error(name: &str, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let at = error
        .location()
        .filter(|l| l.line() > 0)
        .map_or(Position::START, |l| Position {
            line: l.line() as usize,
            column: l.column().max(1) as usize,
            width: 1,
        });
    let rendered = error
        .without_snippet()
        .render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        });
    let (message, hint) = friendly_yaml_message(&rendered);
    if message.contains("tab")
        && let Some(tab) = tab_in_indentation(text, at.line)
    {
        return Diagnostic::error(
            name,
            tab,
            "a tab in the indentation: YAML indents with spaces only",
        )
        .with_hint(Some("replace the tab with spaces".into()));
    }
    Diagnostic::error(name, at, message.trim().to_string()).with_hint(hint)
}

/// Where the tab an error is about is: the parser reports where the scalar or block it was
/// reading began (often the line before), so the first tab in a line's leading whitespace
/// from the reported line on is taken, else the first one before it.
fn tab_in_indentation(text: &str, reported_line: usize) -> Option<Position> {
    let tabs: Vec<Position> = text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
            let column = indent.find('\t')?;
            Some(Position {
                line: i + 1,
                column: indent[..column].chars().count() + 1,
                width: 1,
            })
        })
        .collect();
    tabs.iter()
        .find(|p| p.line >= reported_line)
        .or_else(|| tabs.last())
        .copied()
}

/// serde-saphyr's wording, made about the user's file rather than the parser's options.
fn friendly_yaml_message(rendered: &str) -> (String, Option<String>) {
    let budget_hint = || {
        Some(format!(
            "orgops refuses input beyond its budget: nesting deeper than {MAX_DEPTH}, alias expansion (\"billion laughs\"), more than one document"
        ))
    };
    let first_line = rendered.lines().next().unwrap_or_default();
    // The plain rendering ends with " at line L, column C"; the diagnostic carries that already.
    let message = match first_line.rfind(" at line ") {
        Some(cut) if first_line[cut..].contains("column") && !first_line[cut..].contains('(') => {
            &first_line[..cut]
        }
        _ => first_line,
    };
    if message.contains("alias replay") || message.contains("Alias") {
        return (
            "aliases expand beyond the limit (an alias bomb?)".into(),
            budget_hint(),
        );
    }
    if message.contains("Depth") {
        return (
            format!("nesting is deeper than {MAX_DEPTH} levels"),
            budget_hint(),
        );
    }
    if message.contains("Documents") || message.contains("multiple documents") {
        return (
            "a file holds one YAML document; remove the `---` separators".into(),
            budget_hint(),
        );
    }
    if let Some(what) = message.strip_prefix("budget breached: ") {
        return (
            format!("input exceeds the parse budget ({what})"),
            budget_hint(),
        );
    }
    if let Some(cut) = message.find(", set DuplicateKeyPolicy") {
        return (message[..cut].to_string(), None);
    }
    if message.starts_with("invalid u32") || message.starts_with("invalid u64") {
        return (
            "expected a whole number (no decimals or exponent)".into(),
            None,
        );
    }
    (message.trim().to_string(), None)
}

/// A top-level list of the document, for locating merged objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum List {
    Users,
    Groups,
    Roles,
    Certificates,
    AdminApiKeys,
    Projects,
    Invites,
}

impl List {
    pub fn key(self) -> &'static str {
        match self {
            List::Users => "users",
            List::Groups => "groups",
            List::Roles => "roles",
            List::Certificates => "certificates",
            List::AdminApiKeys => "admin_api_keys",
            List::Projects => "projects",
            List::Invites => "invites",
        }
    }
}

/// Where one merged object came from: which file, and its index in that file's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: usize,
    pub index: usize,
}

/// The merged document and the provenance needed to locate anything in it.
#[derive(Debug, Clone)]
pub struct Merged {
    pub doc: Document,
    pub files: Vec<ParsedFile>,
    pub origins: std::collections::BTreeMap<List, Vec<Origin>>,
    /// The file `policy` came from, if any declared it.
    pub policy_file: Option<usize>,
    /// Declarations the files' schema errors set aside (see [`Salvage`]).
    pub dropped: Dropped,
}

impl Merged {
    fn origin(&self, list: List, index: usize) -> Origin {
        self.origins
            .get(&list)
            .and_then(|o| o.get(index))
            .copied()
            .unwrap_or(Origin { file: 0, index })
    }

    /// File name and position of the value at `suffix` (a JSON pointer, possibly empty) in
    /// the merged object `list[index]`.
    pub fn at(&self, list: List, index: usize, suffix: &str) -> (&str, Position) {
        let origin = self.origin(list, index);
        self.position_in(
            origin.file,
            &format!("/{}/{}{suffix}", list.key(), origin.index),
            false,
        )
    }

    /// Like [`Merged::at`] but for the key of a mapping entry (`suffix` names the entry).
    pub fn key_at(&self, list: List, index: usize, suffix: &str) -> (&str, Position) {
        let origin = self.origin(list, index);
        self.position_in(
            origin.file,
            &format!("/{}/{}{suffix}", list.key(), origin.index),
            true,
        )
    }

    /// Position of `suffix` under `/policy` in the file that declared the policy.
    pub fn policy_at(&self, suffix: &str, key: bool) -> (&str, Position) {
        self.position_in(
            self.policy_file.unwrap_or(0),
            &format!("/policy{suffix}"),
            key,
        )
    }

    /// The file, line and column of a JSON pointer into the merged document (of the key of
    /// the entry it names when `key`): an item of a top-level list through its origin,
    /// anything else in the first file that writes its top-level key.
    pub fn locate(&self, pointer: &str, key: bool) -> (&str, Position) {
        let mut parts = pointer.trim_start_matches('/').splitn(3, '/');
        let (top, index, rest) = (parts.next(), parts.next(), parts.next());
        let list = [
            List::Users,
            List::Groups,
            List::Roles,
            List::Certificates,
            List::AdminApiKeys,
            List::Projects,
        ]
        .into_iter()
        .find(|l| Some(l.key()) == top);
        if let (Some(list), Some(Ok(index))) = (list, index.map(str::parse::<usize>)) {
            let suffix = rest.map(|r| format!("/{r}")).unwrap_or_default();
            return if key {
                self.key_at(list, index, &suffix)
            } else {
                self.at(list, index, &suffix)
            };
        }
        let top = top.unwrap_or_default();
        let file = self
            .files
            .iter()
            .position(|f| {
                serde_json::to_value(&f.doc)
                    .ok()
                    .is_some_and(|v| v.get(top).is_some())
            })
            .unwrap_or(0);
        self.position_in(file, pointer, key)
    }

    /// The file a merged object was declared in.
    pub fn file_of(&self, list: List, index: usize) -> Option<&ParsedFile> {
        self.files.get(self.origin(list, index).file)
    }

    pub fn position_in(&self, file: usize, pointer: &str, key: bool) -> (&str, Position) {
        match self.files.get(file) {
            Some(parsed) => {
                let pointer = parsed.salvage.original(pointer);
                let at = if key {
                    parsed.map.key(&pointer)
                } else {
                    parsed.map.value(&pointer)
                };
                (parsed.name.as_str(), at)
            }
            None => ("<input>", Position::START),
        }
    }
}

/// Appends `from`'s items to `into`; the result is managed when either is.
fn absorb<T>(into: &mut ManagedList<T>, from: ManagedList<T>) {
    if from.is_unmanaged() {
        return;
    }
    let mut items = std::mem::take(into).into_vec();
    if items.is_empty() {
        items = from.into_vec();
    } else {
        items.extend(from);
    }
    *into = ManagedList::managed(items);
}

/// Concatenates the files' documents. `policy` in more than one file and disagreeing
/// `version`s are errors naming both places.
pub fn merge(mut files: Vec<ParsedFile>, diagnostics: &mut Diagnostics) -> Merged {
    let mut doc = Document::default();
    let mut origins: std::collections::BTreeMap<List, Vec<Origin>> =
        std::collections::BTreeMap::new();
    let mut policy_file: Option<usize> = None;
    let mut version_file: Option<usize> = None;
    let mut dropped = Dropped::default();
    for (file_index, parsed) in files.iter().enumerate() {
        let part = &parsed.doc;
        dropped.extend(&parsed.salvage.dropped);
        if parsed.declares_version {
            match version_file {
                Some(first) if files[first].doc.version != part.version => {
                    let first_at = files[first].map.value("/version");
                    diagnostics.push(Diagnostic::error(
                        &parsed.name,
                        parsed.map.value("/version"),
                        format!(
                            "version {} disagrees with version {} in {}:{}:{}",
                            part.version,
                            files[first].doc.version,
                            files[first].name,
                            first_at.line,
                            first_at.column
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    version_file = Some(file_index);
                    doc.version = part.version;
                }
            }
        }
        if parsed.declares_policy {
            match policy_file {
                Some(first) => {
                    let first_at = files[first].map.key("/policy");
                    diagnostics.push(
                        Diagnostic::error(
                            &parsed.name,
                            parsed.map.key("/policy"),
                            format!(
                                "`policy` is declared in more than one file (also at {}:{}:{})",
                                files[first].name, first_at.line, first_at.column
                            ),
                        )
                        .with_hint(Some(
                            "keep the one `policy` block in one file (e.g. org.yaml)".into(),
                        )),
                    );
                }
                None => {
                    policy_file = Some(file_index);
                    doc.policy = part.policy.clone();
                }
            }
        }
        let mut record = |list: List, count: usize| {
            origins
                .entry(list)
                .or_default()
                .extend((0..count).map(|index| Origin {
                    file: file_index,
                    index,
                }));
        };
        record(List::Users, part.users.len());
        record(List::Groups, part.groups.len());
        record(List::Roles, part.roles.len());
        record(List::Certificates, part.certificates.len());
        record(List::AdminApiKeys, part.admin_api_keys.len());
        record(List::Projects, part.projects.len());
        record(List::Invites, part.invites.len());
        // The semantic checks look for `invites` per file.
        doc.invites.extend(part.invites.iter().cloned());
        // `settings:` is one block, in one file (like `policy`).
        if !part.settings.is_empty() {
            if doc.settings.is_empty() {
                doc.settings = part.settings.clone();
            } else {
                diagnostics.push(
                    Diagnostic::error(
                        &parsed.name,
                        parsed.map.key("/settings"),
                        "`settings` is declared in more than one file".to_string(),
                    )
                    .with_hint(Some(
                        "keep the one `settings` block in one file (e.g. org.yaml)".into(),
                    )),
                );
            }
        }
    }
    // A list written in any file is written (managed) in the merge. Its items move rather
    // than being copied: a file keeps what locates them (its map, its salvage), and the
    // merged document is the only copy of every declaration.
    for parsed in &mut files {
        let part = &mut parsed.doc;
        absorb(&mut doc.users, std::mem::take(&mut part.users));
        absorb(&mut doc.groups, std::mem::take(&mut part.groups));
        absorb(&mut doc.roles, std::mem::take(&mut part.roles));
        absorb(
            &mut doc.certificates,
            std::mem::take(&mut part.certificates),
        );
        absorb(
            &mut doc.admin_api_keys,
            std::mem::take(&mut part.admin_api_keys),
        );
        absorb(&mut doc.projects, std::mem::take(&mut part.projects));
    }
    Merged {
        doc,
        files,
        origins,
        policy_file,
        dropped,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parsed(name: &str, text: &str) -> ParsedFile {
        parse_text(text.to_string(), name, None)
            .unwrap_or_else(|d| panic!("{name} parses: {}", d.render_human(false)))
    }

    fn only_error(result: Result<ParsedFile, Diagnostics>) -> Diagnostic {
        let diagnostics = result.expect_err("input is refused");
        let items = diagnostics.items();
        assert_eq!(items.len(), 1, "{}", diagnostics.render_human(false));
        items[0].clone()
    }

    #[test]
    fn merge_keeps_file_order_and_origins() {
        let mut diagnostics = Diagnostics::new();
        let merged = merge(
            vec![
                parsed("a.yaml", "users:\n  - {email: a@x.example, role: owner}\n"),
                parsed(
                    "b.yaml",
                    "users:\n  - {email: b@x.example, role: reader}\n  - {email: c@x.example, role: reader}\n",
                ),
            ],
            &mut diagnostics,
        );
        assert!(diagnostics.is_empty());
        assert_eq!(merged.doc.users.len(), 3);
        let (file, at) = merged.at(List::Users, 2, "/email");
        assert_eq!((file, at.line), ("b.yaml", 3));
    }

    #[test]
    fn merge_moves_the_lists_and_keeps_what_any_file_manages() {
        let mut diagnostics = Diagnostics::new();
        let merged = merge(
            vec![
                parsed(
                    "a.yaml",
                    "groups: []
users:
  - {email: a@x.example, role: owner}
",
                ),
                parsed(
                    "b.yaml",
                    "projects:
  - {name: P}
users: []
",
                ),
                parsed(
                    "c.yaml",
                    "users:
  - {email: c@x.example, role: reader}
",
                ),
            ],
            &mut diagnostics,
        );
        assert!(diagnostics.is_empty());
        let doc = &merged.doc;
        assert!(
            doc.users
                .iter()
                .map(|u| &u.email)
                .eq(["a@x.example", "c@x.example"])
        );
        assert!(doc.groups.is_managed() && doc.groups.is_empty());
        assert!(doc.projects.len() == 1 && doc.roles.is_unmanaged());
        assert!(merged.files.iter().all(|f| f.doc.users.is_unmanaged()));
        assert_eq!(merged.at(List::Users, 1, "").0, "c.yaml");
    }

    #[test]
    fn versions_must_agree_and_policy_comes_from_one_file() {
        let mut first = parsed("a.yaml", "version: 1\npolicy: {min_owners: 2}\n");
        let mut second = parsed("b.yaml", "version: 1\npolicy: {max_removals: 3}\n");
        // Only version 1 passes the schema today; a future version must still be compared.
        first.doc.version = 1;
        second.doc.version = 2;
        let mut diagnostics = Diagnostics::new();
        let merged = merge(vec![first, second], &mut diagnostics);
        let messages: Vec<String> = diagnostics
            .items()
            .iter()
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(
            messages,
            vec![
                "version 2 disagrees with version 1 in a.yaml:1:10".to_string(),
                "`policy` is declared in more than one file (also at a.yaml:2:1)".to_string(),
            ]
        );
        assert_eq!(merged.doc.policy.min_owners, Some(2));
    }

    #[test]
    fn a_file_with_schema_errors_keeps_what_parsed_with_its_original_places() {
        let text = "users:\n  - {email: A@x.example, role: ownr}\n  - {email: b@x.example, role: reader}\nprojects:\n  - name: P\n    members:\n      - {email: a@x.example, role: boss}\n      - {email: b@x.example, role: member}\n    rate_limits:\n      gpt-4o: {max_requests_per_1_minute: -1}\n      o1: {max_requests_per_1_minute: 5}\n    roles:\n      - {name: r, permissions: nope}\n";
        let (file, diagnostics) = parse_salvaging(text.into(), "s.yaml", None);
        assert_eq!(
            diagnostics.error_count(),
            4,
            "{}",
            diagnostics.render_human(false)
        );
        let file = file.expect("salvaged");
        assert!(file.doc.users.iter().map(|u| &u.email).eq(["b@x.example"]));
        let project = &file.doc.projects[0];
        assert!(project.members.iter().map(|m| &m.email).eq(["b@x.example"]));
        assert!(project.rate_limits.keys().eq(["o1"]));
        assert!(project.roles.is_empty());
        assert_eq!(file.salvage.original("/users/0/email"), "/users/1/email");
        assert_eq!(
            file.salvage.original("/projects/0/members/0/role"),
            "/projects/0/members/1/role"
        );
        assert_eq!(
            file.salvage.original("/projects/0/name"),
            "/projects/0/name"
        );
        let dropped = &file.salvage.dropped;
        assert!(dropped.may_declare(Kind::User, "", "a@x.example"));
        assert!(!dropped.may_declare(Kind::User, "", "c@x.example"));
        assert!(dropped.may_declare(Kind::ProjectRole, "P", "r"));
        assert!(!dropped.may_declare(Kind::ProjectRole, "P", "s"));
        assert!(dropped.touches(Kind::User) && !dropped.touches(Kind::Group) && !dropped.policy);
        // A strict parse still refuses the file.
        assert!(parse_text(text.into(), "s.yaml", None).is_err());
    }

    #[test]
    fn a_dropped_list_or_unreadable_name_excuses_every_reference_of_its_kind() {
        let (file, _) = parse_salvaging(
            "groups: {name: g}\nprojects:\n  - {name: [P], archived: true}\n".into(),
            "d.yaml",
            None,
        );
        let dropped = file.expect("salvaged").salvage.dropped;
        assert!(dropped.may_declare(Kind::Group, "", "anything"));
        assert!(dropped.may_declare(Kind::Project, "", "anything"));
        assert!(dropped.may_declare(Kind::ServiceAccount, "", "Q/ci"));
        assert!(!dropped.may_declare(Kind::Role, "", "anything"));
    }

    #[test]
    fn a_value_only_the_model_refuses_is_set_aside_with_its_own_error() {
        let (file, diagnostics) = parse_salvaging(
            "version: 2\npolicy: {max_removals: 1e3}\nusers:\n  - {email: a@x.example, role: owner}\n"
                .into(),
            "f.yaml",
            None,
        );
        let lines: Vec<usize> = diagnostics.items().iter().map(|d| d.line).collect();
        assert_eq!(lines, [1, 2], "{}", diagnostics.render_human(false));
        let file = file.expect("salvaged");
        assert_eq!(file.doc.users.len(), 1);
        assert!(file.salvage.dropped.policy);
        assert!(!file.declares_version);
    }

    #[test]
    fn a_root_that_is_not_a_mapping_cannot_be_salvaged() {
        let (file, diagnostics) = parse_salvaging("[1, 2]\n".into(), "r.yaml", None);
        assert!(file.is_none());
        assert_eq!(diagnostics.error_count(), 1);
    }

    #[test]
    fn empty_and_comment_only_files_are_refused() {
        assert_eq!(
            only_error(parse_text("  \n".into(), "e.yaml", None)).message,
            "file is empty"
        );
        let error = only_error(parse_text("# nothing\n".into(), "c.yaml", None));
        assert!(error.message.contains("no content"), "{}", error.message);
    }

    #[test]
    fn malformed_yaml_is_located() {
        let error = only_error(parse_text(
            "users:\n  - email: [a\n    role: owner\n".into(),
            "m.yaml",
            None,
        ));
        assert!(error.line >= 2, "{error:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut previous = "a";
        for name in names {
            text.push_str(&format!("{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"));
            previous = name;
        }
        let error = only_error(parse_text(text, "bomb.yaml", None));
        assert!(error.line > 1, "{error:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("users: {}{}\n", "[".repeat(200), "]".repeat(200));
        let error = only_error(parse_text(text, "deep.yaml", None));
        assert_eq!(error.line, 1);
        assert!(error.column > 1, "{error:?}");
    }

    #[test]
    fn two_documents_are_refused() {
        let error = only_error(parse_text(
            "version: 1\n---\nversion: 1\n".into(),
            "two.yaml",
            None,
        ));
        assert!(error.line >= 2, "{error:?}");
    }

    /// Counts the bytes allocated and not yet freed on each thread, and their peak, so a test
    /// can see what one load holds at once.
    /// The lib tests' global allocator: bytes held by this thread and their peak (also used
    /// by the plan's memory tests, `plan::tests`).
    pub(crate) mod probe {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        pub struct Probe;

        thread_local! {
            static LIVE: Cell<i64> = const { Cell::new(0) };
            static PEAK: Cell<i64> = const { Cell::new(0) };
        }

        fn account(delta: i64) {
            let _ = LIVE.try_with(|live| {
                let now = live.get() + delta;
                live.set(now);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
            });
        }

        fn size(n: usize) -> i64 {
            i64::try_from(n).unwrap_or(i64::MAX)
        }

        // SAFETY: every call is forwarded to the system allocator unchanged.
        unsafe impl GlobalAlloc for Probe {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                let p = unsafe { System.alloc(layout) };
                if !p.is_null() {
                    account(size(layout.size()));
                }
                p
            }
            unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
                let p = unsafe { System.alloc_zeroed(layout) };
                if !p.is_null() {
                    account(size(layout.size()));
                }
                p
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                unsafe { System.dealloc(ptr, layout) };
                account(-size(layout.size()));
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                let p = unsafe { System.realloc(ptr, layout, new_size) };
                if !p.is_null() {
                    account(size(new_size) - size(layout.size()));
                }
                p
            }
        }

        #[global_allocator]
        static PROBE: Probe = Probe;

        /// Bytes this thread holds now; the peak is reset to it.
        pub fn start() -> i64 {
            let live = LIVE.with(Cell::get);
            PEAK.with(|peak| peak.set(live));
            live
        }

        /// (bytes held now, most bytes held since [`start`]).
        pub fn now_and_peak() -> (i64, i64) {
            (LIVE.with(Cell::get), PEAK.with(Cell::get))
        }
    }

    /// A file shaped like `orgops export`'s output: block style, users, admin keys, settings
    /// and projects with members.
    fn exported(users: usize, projects: usize, members: usize) -> String {
        let mut out = String::from("# Exported by `orgops export`\nversion: 1\n\nusers:\n");
        for i in 0..users {
            let role = if i < 2 { "owner" } else { "reader" };
            out.push_str(&format!(
                "  - email: user{i:06}@example.com\n    role: {role}\n"
            ));
        }
        out.push_str("\ngroups: []\n\ncertificates: []\n\nadmin_api_keys:\n  - name: orgops key\n\nsettings:\n  data_retention: zero_data_retention\n\nprojects:\n  - name: Default project\n    members: []\n");
        for p in 0..projects {
            out.push_str(&format!("  - name: project-{p:04}\n    members:\n"));
            for m in 0..members {
                let role = if m == 0 { "owner" } else { "member" };
                let i = (p * 31 + m) % users.max(1);
                out.push_str(&format!(
                    "      - email: user{i:06}@example.com\n        role: {role}\n"
                ));
            }
            out.push_str("    service_accounts: []\n");
        }
        out
    }

    /// A large file is parsed on a second thread (`config::events`); whatever its tail holds,
    /// the load's outcome (the typed file or every diagnostic, with its location) is the one
    /// the single-thread parse gives.
    #[test]
    fn a_large_file_loads_the_same_on_the_parser_thread_and_on_this_one() {
        let prefix = exported(7_000, 4, 3);
        assert!(prefix.len() > 300 * 1024, "{}", prefix.len());
        let tails = [
            "",
            "  - name: \"unclosed\n",
            "  - name: a\n\t members: []\n",
            "  - name: a\n    name: b\n",
            "  - &x {name: anchored}\n  - *x\n",
            "  - name: !custom tagged\n",
            "---\nversion: 1\n",
            "  - {name: unclosed\n",
            "  - ? [complex, key]\n    : value\n",
            "  - name: nul \u{0}\n",
            "  - name: bom \u{feff}\n",
            "  - name: 1e3\n",
            "  - name: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[deep]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
            "policy:\n  unmanaged:\n    users: nonsense\n",
            "  - name: late\n    members:\n      - {email: nobody@example.com, role: member}\n",
        ];
        for tail in tails {
            let text = format!("{prefix}{tail}");
            let load = |here: bool| {
                crate::config::events::ON_THIS_THREAD.with(|h| h.set(here));
                let outcome = parse_text(text.clone(), "big.yaml", None);
                crate::config::events::ON_THIS_THREAD.with(|h| h.set(false));
                match outcome {
                    Ok(file) => format!(
                        "{:?}",
                        (file.doc, file.salvage.kept, file.map.unknown_tags())
                    ),
                    Err(diagnostics) => format!("{diagnostics:?}"),
                }
            };
            assert_eq!(load(false), load(true), "tail {tail:?}");
        }
    }

    #[test]
    fn a_valid_file_is_loaded_without_ever_holding_its_whole_value() {
        let text = exported(3_000, 150, 20);
        // The schema's validators are compiled once, on first use: not part of what is measured.
        parse_text(exported(3, 2, 2), "small.yaml", None).expect("valid");
        // The probe counts per thread: parse on this one (the parser thread of a large file
        // holds at most its batches in flight, about 1 MB, see `config::events`).
        crate::config::events::ON_THIS_THREAD.with(|here| here.set(true));
        let start = probe::start();
        let file = parse_text(text, "big.yaml", None).expect("the exported file is valid");
        let (now, peak) = probe::now_and_peak();
        // What the loaded file keeps: its text, its source map, its typed document.
        let kept = now - start;
        let transient = peak - now;
        assert_eq!(file.doc.users.len(), 3_000);
        assert!(
            transient * 10 < kept,
            "loading held {transient} bytes beyond the {kept} bytes the loaded file keeps"
        );
    }

    /// The file through the streaming path and through the whole-value path: whenever the
    /// streaming path takes it, the whole-value path finds nothing to say and builds the
    /// same file. Returns whether the streaming path took it.
    fn both_paths_agree(text: &str) -> bool {
        let cap = MAX_FILE_BYTES;
        let streamed = parse_streaming(text, "f.yaml", None, cap);
        let (whole, diagnostics) = parse_whole(text, "f.yaml", None, cap);
        let Some(streamed) = streamed else {
            return false;
        };
        assert!(
            diagnostics.is_empty(),
            "streamed, but the whole path says: {}",
            diagnostics.render_human(false)
        );
        let whole = whole.expect("the whole path builds the file");
        assert_eq!(streamed.doc, whole.doc, "the documents differ on {text:?}");
        assert_eq!(
            (streamed.declares_policy, streamed.declares_version),
            (whole.declares_policy, whole.declares_version)
        );
        assert!(whole.salvage.kept.is_empty() && streamed.salvage.kept.is_empty());
        true
    }

    #[test]
    fn streaming_and_whole_value_paths_agree_on_every_example_and_fixture() {
        let texts = crate::config::example_and_fixture_texts();
        let seen = texts.len();
        let taken = texts.iter().filter(|text| both_paths_agree(text)).count();
        assert!(
            taken >= 5,
            "only {taken} of {seen} files took the streaming path"
        );
        assert!(both_paths_agree(&exported(50, 5, 3)));
    }

    /// One generated list item: (key, value as YAML) pairs, written in block or flow style.
    type Item = Vec<(String, String)>;

    fn user_item() -> impl Strategy<Value = Item> {
        (0u32..500, any::<bool>(), prop::option::of(0usize..3)).prop_map(|(i, owner, roles)| {
            let mut item = vec![
                ("email".to_string(), format!("User{i}@Example.com")),
                ("role".into(), if owner { "owner" } else { "reader" }.into()),
            ];
            if let Some(n) = roles {
                let names: Vec<String> = (0..n).map(|r| format!("role-{r}")).collect();
                item.push(("roles".into(), format!("[{}]", names.join(", "))));
            }
            item
        })
    }

    fn project_item() -> impl Strategy<Value = Item> {
        (
            0u32..200,
            any::<bool>(),
            prop::collection::vec((0u32..500, any::<bool>()), 0..4),
            prop::option::of(1u64..100_000),
            0u8..3,
        )
            .prop_map(|(p, quoted, members, limit, accounts)| {
                let name = if quoted {
                    format!("\"Project: {p}\"")
                } else {
                    format!("project-{p}")
                };
                let members: Vec<String> = members
                    .iter()
                    .map(|(i, owner)| {
                        let role = if *owner { "owner" } else { "member" };
                        format!("{{email: user{i}@example.com, role: {role}}}")
                    })
                    .collect();
                let mut item = vec![
                    ("name".to_string(), name),
                    ("members".into(), format!("[{}]", members.join(", "))),
                ];
                match accounts {
                    0 => {}
                    1 => item.push(("service_accounts".into(), "[]".into())),
                    _ => item.push((
                        "service_accounts".into(),
                        "[{name: ci, role: member, sink: {command: [vault, write, 'x']}}]".into(),
                    )),
                }
                if let Some(n) = limit {
                    item.push((
                        "rate_limits".into(),
                        format!("{{gpt-4o: {{max_requests_per_1_minute: {n}}}}}"),
                    ));
                }
                item
            })
    }

    fn group_item() -> impl Strategy<Value = Item> {
        (0u32..50, prop::collection::vec(0u32..500, 0..3)).prop_map(|(g, members)| {
            let members: Vec<String> = members
                .iter()
                .map(|i| format!("user{i}@x.example"))
                .collect();
            vec![
                ("name".to_string(), format!("Team {g}")),
                ("members".into(), format!("[{}]", members.join(", "))),
            ]
        })
    }

    /// What goes wrong in one item of a generated file, if anything.
    #[derive(Debug, Clone, Copy)]
    enum Fault {
        BadEnum,
        UnknownKey,
        MissingKey,
        NumberForString,
        Float,
        Anchor,
        DuplicateKey,
        Null,
        RootVersion,
    }

    fn fault() -> impl Strategy<Value = Option<(usize, Fault)>> {
        prop::option::of((
            0usize..64,
            prop::sample::select(vec![
                Fault::BadEnum,
                Fault::UnknownKey,
                Fault::MissingKey,
                Fault::NumberForString,
                Fault::Float,
                Fault::Anchor,
                Fault::DuplicateKey,
                Fault::Null,
                Fault::RootVersion,
            ]),
        ))
    }

    fn damage(item: &mut Item, fault: Fault) {
        let first = item[0].clone();
        match fault {
            Fault::BadEnum => match item.iter_mut().find(|(k, _)| k == "role") {
                Some(role) => role.1 = "ownr".into(),
                None => item[0].1 = "[x]".into(),
            },
            Fault::UnknownKey => item.push(("roel".into(), "x".into())),
            Fault::MissingKey => {
                item.remove(0);
            }
            Fault::NumberForString => item[0].1 = "42".into(),
            Fault::Float => item[0].1 = "1.5".into(),
            Fault::Anchor => item[0].1 = format!("&a {}", first.1),
            Fault::DuplicateKey => item.push(first),
            Fault::Null => item[0].1 = "~".into(),
            Fault::RootVersion => {}
        }
    }

    fn render(lists: &[(&str, Vec<(Item, bool)>)], version: bool, fault: Fault) -> String {
        let mut out = String::from("# generated\n");
        match fault {
            Fault::RootVersion => out.push_str("version: 2\n"),
            _ if version => out.push_str("version: 1\n"),
            _ => {}
        }
        out.push_str("settings: {data_retention: zero_data_retention}\n");
        for (key, items) in lists {
            if items.is_empty() {
                out.push_str(&format!("{key}: []\n"));
                continue;
            }
            out.push_str(&format!("{key}:\n"));
            for (item, flow) in items {
                if *flow {
                    let pairs: Vec<String> =
                        item.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    out.push_str(&format!("  - {{{}}}\n", pairs.join(", ")));
                } else {
                    for (n, (k, v)) in item.iter().enumerate() {
                        let lead = if n == 0 { "  - " } else { "    " };
                        out.push_str(&format!("{lead}{k}: {v}\n"));
                    }
                    if item.is_empty() {
                        out.push_str("  - {}\n");
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Exported-looking files, valid or with one fault: the streaming path takes exactly
        /// the valid ones and builds what the whole-value path builds.
        #[test]
        fn streaming_and_whole_value_paths_agree_on_generated_files(
            users in prop::collection::vec((user_item(), any::<bool>()), 0..12),
            groups in prop::collection::vec((group_item(), any::<bool>()), 0..4),
            projects in prop::collection::vec((project_item(), any::<bool>()), 0..6),
            version in any::<bool>(),
            fault in fault(),
        ) {
            let mut lists = vec![("users", users), ("groups", groups), ("projects", projects)];
            let total: usize = lists.iter().map(|(_, items)| items.len()).sum();
            let fault = fault.filter(|(_, f)| total > 0 || matches!(f, Fault::RootVersion));
            if let Some((at, f)) = fault {
                let mut at = at % total.max(1);
                for (_, items) in &mut lists {
                    if let Some((item, _)) = items.get_mut(at) {
                        damage(item, f);
                        break;
                    }
                    at -= items.len();
                }
            }
            let text = render(&lists, version, fault.map_or(Fault::UnknownKey, |(_, f)| f));
            let text = if fault.is_none() { text.replace("version: 2", "version: 1") } else { text };
            let taken = both_paths_agree(&text);
            prop_assert_eq!(taken, fault.is_none(), "{}", text);
        }
    }

    #[test]
    fn the_streaming_path_leaves_every_problem_to_the_whole_value_path() {
        for text in [
            // Schema errors in an item, in the root, in a list that is not a list.
            "users:\n  - {email: a@x.example, role: ownr}\n",
            "users:\n  - {email: a@x.example, role: owner}\nversion: 2\n",
            "users: {email: a@x.example}\n",
            "users: [1]\n",
            "nope: 1\nusers: []\n",
            // A value only the typed model refuses, a duplicate list, YAML it does not take.
            "admin_api_keys:\n  - {name: k, expires_in_days: 1e3}\n",
            "users: []\nusers:\n  - {email: a@x.example, role: owner}\n",
            "users:\n  - &u {email: a@x.example, role: owner}\n  - *u\n",
            "users:\n  - {email: a@x.example, role: owner}\n---\nversion: 1\n",
            "users:\n  - {email: a@x.example, role: !x owner}\n",
            "users:\n  - [a\n",
            "[1, 2]\n",
            "null\n",
        ] {
            assert!(
                parse_streaming(text, "f.yaml", None, MAX_FILE_BYTES).is_none(),
                "the streaming path took {text:?}"
            );
            let (file, diagnostics) = parse_salvaging(text.into(), "f.yaml", None);
            let (whole, whole_diagnostics) = parse_whole(text, "f.yaml", None, MAX_FILE_BYTES);
            assert_eq!(
                diagnostics.render_human(false),
                {
                    let mut d = whole_diagnostics;
                    if !d.is_empty() {
                        d.add_source("f.yaml", text);
                    }
                    d.render_human(false)
                },
                "{text:?}"
            );
            assert_eq!(file.map(|f| f.doc), whole.map(|f| f.doc), "{text:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_located_at_the_first_bad_byte() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, b"version: 1\nusers:\n  - email: \xff@x\n").expect("write");
        let diagnostics = read_file(&path).expect_err("refused");
        let items = diagnostics.items();
        assert_eq!((items[0].line, items[0].column), (3, 12));
    }
}
