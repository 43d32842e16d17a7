//! The canonical form of a desired-state file: what `orgops export` writes and what
//! `orgops fmt` rewrites a file to.
//!
//! Content: the file's [`Document`] with every list sorted by its natural key
//! ([`Document::sort_canonical`]). Layout: keys in the order of the format (`version`,
//! `policy`, `users`, `groups`, `roles`, `certificates`, `admin_api_keys`, `projects`; in
//! each object, the order of `docs/configuration.md`), block style, two-space indentation,
//! one blank line between top-level keys. `version` is written when the file declares it
//! (a per-project file of a directory need not).
//!
//! Comments are kept ([`format_text`]): a comment on its own line(s) stays before the key or
//! list item it precedes, re-indented to it; a comment after a value stays at the end of
//! that key's or item's line; comments after the last node stay at the end. A comment whose
//! place the canonical form does not write (inside a flow collection that spans lines, or
//! before a key whose value is the default and is not written) cannot be kept: `fmt`
//! refuses the file naming the comment's line, rather than drop or move it.
//!
//! A file is read with the loader `orgops validate` uses ([`crate::config::load()`]: bounded,
//! tags, schema, types), so what it refuses in a file `fmt` refuses with the same
//! diagnostics. Linear in the file: comments are located with a binary search over the
//! scalars' spans.

use std::collections::{BTreeMap, BTreeSet};

use serde_saphyr::granit_parser::{Event, Parser, StructureStyle};

use crate::model::{Document, normalize_email};

/// Why a file cannot be formatted; the message names the line and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

/// The byte-order mark a file may start with: kept where it is, and not content.
const BOM: char = '\u{feff}';

/// `text` (the content of `label`) in canonical form, its comments kept (see the module
/// doc). Refused: text that `orgops validate` refuses for what the file itself says (read
/// by the same bounded loader, [`crate::config::load::parse_text`]: YAML under its budget,
/// tags, schema, types; its diagnostics are the error), and comments whose place the
/// canonical form does not write. A leading byte-order mark stays.
pub fn format_text(text: &str, label: &str) -> Result<String, FormatError> {
    let doc = load_document(text, label).map_err(|(diagnostics, _)| {
        FormatError(format!(
            "{label}: not a valid desired-state file, so it was not formatted (`orgops validate -f {label}` says the same):\n{}",
            diagnostics.trim_end()
        ))
    })?;
    let (bom, text) = match text.strip_prefix(BOM) {
        Some(rest) => (BOM.to_string(), rest),
        None => (String::new(), text),
    };
    let source =
        Tree::parse(text).map_err(|e| FormatError(format!("{label}: cannot be formatted: {e}")))?;
    let declares_version = matches!(&source.root, Some(Node::Map { entries, .. }) if entries.iter().any(|(k, _, _)| k == "version"));
    let body =
        canonical_yaml(&doc, declares_version).map_err(|e| FormatError(format!("{label}: {e}")))?;
    let output = Tree::parse(&body)
        .map_err(|e| FormatError(format!("{label}: the canonical form does not parse: {e}")))?;
    let comments = comments(text, &source);
    let formatted = bom + &place_comments(&body, &output, &source, comments, label)?;
    // A safety net: formatting never changes what the file means.
    check_meaning(
        &formatted,
        doc,
        label,
        "formatting would change the file's meaning",
    )?;
    Ok(formatted)
}

/// Refuses `text` (the file `label` rewritten) unless it loads and means exactly `expected`
/// (both compared in canonical form): `otherwise` says what went wrong.
pub(crate) fn check_meaning(
    text: &str,
    mut expected: Document,
    label: &str,
    otherwise: &str,
) -> Result<(), FormatError> {
    expected.sort_canonical();
    crate::kinds::canonical_fields(&mut expected);
    match load_document(text, label) {
        Ok(mut after) => {
            after.sort_canonical();
            crate::kinds::canonical_fields(&mut after);
            if after != expected {
                return Err(FormatError(format!(
                    "{label}: {otherwise}; it was left as it is (please report this)"
                )));
            }
            Ok(())
        }
        Err((_, first)) => Err(FormatError(format!(
            "{label}: the rewritten file would not load ({first}); it was left as it is (please report this)"
        ))),
    }
}

/// The file's document as `orgops validate` reads one file (the bounded loader), or its
/// diagnostics rendered (no colour) and the first one's message.
pub(crate) fn load_document(text: &str, label: &str) -> Result<Document, (String, String)> {
    crate::config::load::parse_text(text.to_string(), label, None)
        .map(|file| file.doc)
        .map_err(|diagnostics| {
            let first = diagnostics
                .items()
                .first()
                .map(|d| d.message.clone())
                .unwrap_or_default();
            (diagnostics.render_human(false), first)
        })
}

/// A position in a text: 1-based line, 0-based column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A parsed node with the line it starts on (1-based; a mapping entry starts at its key),
/// where its content starts and ends (`end`: just after its last character), and, for a
/// collection, whether it is written in flow style (`[a, b]`).
pub(crate) enum Node {
    Scalar {
        value: String,
        line: usize,
        start: Pos,
        end: Pos,
    },
    Seq {
        line: usize,
        items: Vec<Node>,
        start: Pos,
        end: Pos,
        flow: bool,
    },
    Map {
        line: usize,
        /// (key, where the key starts, value).
        entries: Vec<(String, Pos, Node)>,
        start: Pos,
        end: Pos,
        flow: bool,
    },
}

impl Node {
    pub(crate) fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }

    pub(crate) fn start(&self) -> Pos {
        match self {
            Node::Scalar { start, .. } | Node::Seq { start, .. } | Node::Map { start, .. } => {
                *start
            }
        }
    }

    pub(crate) fn end(&self) -> Pos {
        match self {
            Node::Scalar { end, .. } | Node::Seq { end, .. } | Node::Map { end, .. } => *end,
        }
    }

    /// The last line holding its content (a block scalar's end is at the start of the line
    /// after it).
    pub(crate) fn last_line(&self) -> usize {
        let (start, end) = (self.start(), self.end());
        if end.col == 0 && end.line > start.line {
            end.line - 1
        } else {
            end.line
        }
    }

    pub(crate) fn is_flow(&self) -> bool {
        matches!(
            self,
            Node::Seq { flow: true, .. } | Node::Map { flow: true, .. }
        )
    }

    /// How a list item is told apart from its siblings, whatever their order: its
    /// `email`, its (`project`, `name`) or `name`, or its own value.
    pub(crate) fn identity(&self) -> Option<String> {
        match self {
            Node::Scalar { value, .. } => Some(format!("={}", normalize_email(value))),
            Node::Map { entries, .. } => {
                let get = |key: &str| {
                    entries.iter().find_map(|(k, _, v)| match v {
                        Node::Scalar { value, .. } if k == key => Some(value.clone()),
                        _ => None,
                    })
                };
                if let Some(email) = get("email") {
                    return Some(format!("email={}", normalize_email(&email)));
                }
                match (get("project"), get("name")) {
                    (Some(project), Some(name)) => Some(format!("project={project}/name={name}")),
                    (None, Some(name)) => Some(format!("name={name}")),
                    _ => None,
                }
            }
            Node::Seq { .. } => None,
        }
    }
}

/// The node tree of one YAML document, and the character spans of its scalars (where a `#`
/// is content, not a comment).
pub(crate) struct Tree {
    pub root: Option<Node>,
    /// (start line, start column, end line, end column), 1-based lines, 0-based columns.
    scalar_spans: Vec<(usize, usize, usize, usize)>,
}

enum Frame {
    Seq(usize, Vec<Node>, Pos, bool),
    Map(
        usize,
        Vec<(String, Pos, Node)>,
        Option<(String, Pos)>,
        Pos,
        bool,
    ),
}

impl Tree {
    pub(crate) fn parse(text: &str) -> Result<Tree, String> {
        let mut parser = Parser::new_from_str(text);
        let mut stack: Vec<Frame> = Vec::new();
        let mut root = None;
        let mut scalar_spans = Vec::new();
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| e.to_string())?;
            let line = span.start.line();
            let start = Pos {
                line,
                col: span.start.col(),
            };
            let end = Pos {
                line: span.end.line(),
                col: span.end.col(),
            };
            let node = match event {
                Event::Scalar(value, ..) => {
                    scalar_spans.push((line, span.start.col(), span.end.line(), span.end.col()));
                    if let Some(Frame::Map(_, _, pending @ None, _, _)) = stack.last_mut() {
                        *pending = Some((value.to_string(), start));
                        continue;
                    }
                    Node::Scalar {
                        value: value.to_string(),
                        line,
                        start,
                        end,
                    }
                }
                Event::Alias(_) => Node::Scalar {
                    value: "*".to_string(),
                    line,
                    start,
                    end,
                },
                Event::SequenceStart(style, ..) => {
                    stack.push(Frame::Seq(
                        line,
                        Vec::new(),
                        start,
                        style == StructureStyle::Flow,
                    ));
                    continue;
                }
                Event::MappingStart(style, ..) => {
                    if let Some(Frame::Map(_, _, None, _, _)) = stack.last() {
                        return Err(format!("line {line}: a mapping used as a key"));
                    }
                    stack.push(Frame::Map(
                        line,
                        Vec::new(),
                        None,
                        start,
                        style == StructureStyle::Flow,
                    ));
                    continue;
                }
                Event::SequenceEnd => match stack.pop() {
                    Some(Frame::Seq(line, items, start, flow)) => {
                        let last = items.last().map(Node::end).unwrap_or(start);
                        Node::Seq {
                            line,
                            items,
                            start,
                            end: if flow { end } else { last },
                            flow,
                        }
                    }
                    _ => return Err("unbalanced sequence".into()),
                },
                Event::MappingEnd => match stack.pop() {
                    Some(Frame::Map(line, entries, _, start, flow)) => {
                        let last = entries.last().map(|(_, _, v)| v.end()).unwrap_or(start);
                        Node::Map {
                            line,
                            entries,
                            start,
                            end: if flow { end } else { last },
                            flow,
                        }
                    }
                    _ => return Err("unbalanced mapping".into()),
                },
                Event::DocumentEnd => break,
                _ => continue,
            };
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(_, items, _, _)) => items.push(node),
                Some(Frame::Map(_, entries, pending, _, _)) => match pending.take() {
                    Some((key, key_at)) => entries.push((key, key_at, node)),
                    None => return Err(format!("line {line}: a collection used as a key")),
                },
            }
        }
        // In document order already; sorted so that [`Tree::in_scalar`] may rely on it.
        scalar_spans.sort_unstable();
        Ok(Tree { root, scalar_spans })
    }

    /// Calls `visit` with every node's identity path and the line it starts on, in
    /// document order (the caller keeps the few it needs: no path is copied here).
    fn walk(&self, visit: &mut dyn FnMut(&[String], usize)) {
        fn walk(
            node: &Node,
            line: usize,
            path: &mut Vec<String>,
            visit: &mut dyn FnMut(&[String], usize),
        ) {
            visit(path, line);
            match node {
                Node::Scalar { .. } => {}
                Node::Map { entries, .. } => {
                    for (key, key_at, value) in entries {
                        path.push(format!("{key}:"));
                        walk(value, key_at.line, path, visit);
                        path.pop();
                    }
                }
                Node::Seq { items, .. } => {
                    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                    for (i, item) in items.iter().enumerate() {
                        let id = item.identity().unwrap_or_else(|| format!("#{i}"));
                        let n = seen.entry(id.clone()).or_default();
                        *n += 1;
                        path.push(format!("{id}#{n}"));
                        walk(item, item.line(), path, visit);
                        path.pop();
                    }
                }
            }
        }
        if let Some(root) = &self.root {
            walk(root, root.line(), &mut Vec::new(), visit);
        }
    }

    /// Whether (line, column) falls inside a scalar. The spans come in document order and
    /// do not overlap, so the one that may hold it is the last starting at or before it.
    pub(crate) fn in_scalar(&self, line: usize, col: usize) -> bool {
        let at = (line, col);
        let after = self
            .scalar_spans
            .partition_point(|&(l0, c0, _, _)| (l0, c0) <= at);
        after > 0 && {
            let (_, _, l1, c1) = self.scalar_spans[after - 1];
            at < (l1, c1)
        }
    }
}

/// A comment of the source file and where it belongs.
struct Comment {
    /// The source line it is on (a block: its first line), for messages.
    line: usize,
    anchor: Anchor,
    /// Comment lines (trimmed; an empty string is a blank line inside a block).
    text: Vec<String>,
    blank_before: bool,
    blank_after: bool,
}

enum Anchor {
    /// Own lines before the content line given.
    Before(usize),
    /// At the end of the content line given.
    After(usize),
    /// After the last node.
    End,
}

/// The comments of `text`, each with the content line it belongs to.
fn comments(text: &str, tree: &Tree) -> Vec<Comment> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut block: Option<Comment> = None;
    let mut previous_blank = false;
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        let comment_at = comment_start(raw, line, tree);
        let own_line = comment_at.is_some_and(|c| raw[..c].trim().is_empty());
        if own_line {
            let block = block.get_or_insert_with(|| Comment {
                line,
                anchor: Anchor::End,
                text: Vec::new(),
                blank_before: previous_blank && line > 1,
                blank_after: false,
            });
            if previous_blank && !block.text.is_empty() {
                block.text.push(String::new());
            }
            block.text.push(trimmed.to_string());
            previous_blank = false;
            continue;
        }
        if trimmed.is_empty() || trimmed == "---" {
            previous_blank = trimmed.is_empty();
            continue;
        }
        if let Some(mut b) = block.take() {
            b.anchor = Anchor::Before(line);
            b.blank_after = previous_blank;
            out.push(b);
        }
        previous_blank = false;
        if let Some(at) = comment_at {
            out.push(Comment {
                line,
                anchor: Anchor::After(line),
                text: vec![raw[at..].trim_end().to_string()],
                blank_before: false,
                blank_after: false,
            });
        }
    }
    if let Some(b) = block {
        out.push(b);
    }
    out
}

/// The byte offset of the comment on `raw` (line `line`), if any: a `#` at the start or
/// after whitespace, outside any scalar.
pub(crate) fn comment_start(raw: &str, line: usize, tree: &Tree) -> Option<usize> {
    let mut previous: Option<char> = None;
    for (col, (at, c)) in raw.char_indices().enumerate() {
        if c == '#' && previous.is_none_or(char::is_whitespace) && !tree.in_scalar(line, col) {
            return Some(at);
        }
        previous = Some(c);
    }
    None
}

/// `body` (the canonical text, tree `output`) with `comments` of the source (tree
/// `source`) put back at the nodes they belong to.
fn place_comments(
    body: &str,
    output: &Tree,
    source: &Tree,
    comments: Vec<Comment>,
    label: &str,
) -> Result<String, FormatError> {
    // Source: each comment's line -> the shallowest node starting on it (the first in
    // document order).
    let anchors: BTreeSet<usize> = comments
        .iter()
        .filter_map(|c| match c.anchor {
            Anchor::Before(line) | Anchor::After(line) => Some(line),
            Anchor::End => None,
        })
        .collect();
    let mut at_line: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    source.walk(&mut |path, line| {
        if anchors.contains(&line) && !at_line.contains_key(&line) {
            at_line.insert(line, path.to_vec());
        }
    });
    // Output: those nodes' paths -> their lines.
    let wanted: BTreeSet<Vec<String>> = at_line.values().cloned().collect();
    let mut out_line: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    output.walk(&mut |path, line| {
        if wanted.contains(path) {
            out_line.insert(path.to_vec(), line);
        }
    });
    let mut before: BTreeMap<usize, Vec<&Comment>> = BTreeMap::new();
    let mut after: BTreeMap<usize, Vec<&Comment>> = BTreeMap::new();
    let mut end: Vec<&Comment> = Vec::new();
    for comment in &comments {
        let (line, list) = match comment.anchor {
            Anchor::End => {
                end.push(comment);
                continue;
            }
            Anchor::Before(line) => (line, &mut before),
            Anchor::After(line) => (line, &mut after),
        };
        let Some(path) = at_line.get(&line) else {
            return Err(FormatError(format!(
                "{label}:{}: this comment is not before or after a key or list item (it is inside a value that spans lines), so fmt cannot keep it in place: move it onto its own line before the key it is about",
                comment.line
            )));
        };
        let Some(&target) = out_line.get(path) else {
            return Err(FormatError(format!(
                "{label}:{}: this comment is about `{}`, which the canonical form does not write (a default value): move the comment or delete it, then run fmt again",
                comment.line,
                path.last()
                    .map(|s| s.trim_end_matches(':'))
                    .unwrap_or("the document")
            )));
        };
        list.entry(target).or_default().push(comment);
    }
    let mut out = String::with_capacity(body.len() + 1024);
    let mut last_blank = true;
    let mut last_indent: Option<usize> = None;
    let push_blank = |out: &mut String, last_blank: &mut bool| {
        if !*last_blank {
            out.push('\n');
            *last_blank = true;
        }
    };
    for (i, line) in body.lines().enumerate() {
        let number = i + 1;
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        if line.is_empty() {
            push_blank(&mut out, &mut last_blank);
            continue;
        }
        for comment in before.get(&number).into_iter().flatten() {
            // A blank line kept before a comment, except right under its parent's key (the
            // item it separated may now come first).
            if comment.blank_before && last_indent.is_some_and(|last| last >= indent.len()) {
                push_blank(&mut out, &mut last_blank);
            }
            for text in &comment.text {
                if text.is_empty() {
                    push_blank(&mut out, &mut last_blank);
                } else {
                    out.push_str(&indent);
                    out.push_str(text);
                    out.push('\n');
                    last_blank = false;
                }
            }
            if comment.blank_after {
                push_blank(&mut out, &mut last_blank);
            }
        }
        last_indent = Some(indent.len());
        out.push_str(line);
        for comment in after.get(&number).into_iter().flatten() {
            out.push_str("  ");
            out.push_str(&comment.text.join(" "));
        }
        out.push('\n');
        last_blank = false;
    }
    for comment in end {
        if comment.blank_before {
            push_blank(&mut out, &mut last_blank);
        }
        for text in &comment.text {
            if text.is_empty() {
                push_blank(&mut out, &mut last_blank);
            } else {
                out.push_str(text);
                out.push('\n');
                last_blank = false;
            }
        }
    }
    Ok(out)
}

/// The canonical YAML of `doc` (sorted; `version` only when `with_version`), without
/// comments.
pub fn canonical_yaml(doc: &Document, with_version: bool) -> anyhow::Result<String> {
    let mut doc = doc.clone();
    doc.sort_canonical();
    crate::kinds::canonical_fields(&mut doc);
    let mut options = serde_saphyr::SerializerOptions::default();
    // List items indented under their key (`users:` / `  - email: ...`), as the docs write.
    options.compact_list_indent = false;
    let mut body = serde_saphyr::to_string_with_options(&doc, options.clone())
        .map_err(|e| anyhow::anyhow!("serializing the document: {e}"))?;
    if super::yaml_safe::has_raw_hidden(&body) {
        // A live name with a bidirectional control: escaped, never written raw.
        let value = serde_json::to_value(&doc)
            .map_err(|e| anyhow::anyhow!("serializing the document: {e}"))?;
        body = super::yaml_safe::quote_hidden(&value, options)?;
    }
    let body = if with_version {
        body
    } else {
        let version_line = format!("version: {}\n", doc.version);
        match body.strip_prefix(&version_line) {
            Some(rest) => rest.to_string(),
            None => body,
        }
    };
    // One blank line between top-level keys.
    let mut out = String::with_capacity(body.len() + 64);
    for (i, line) in body.lines().enumerate() {
        let top_level_key = !line.starts_with([' ', '-', '#']) && !line.is_empty();
        if i > 0 && top_level_key {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `#` inside a quoted or block scalar is content, not a comment, and survives.
    #[test]
    fn hashes_in_scalars_are_not_comments() {
        let text = "version: 1\nroles:\n  - name: 'a #1'  # the first\n    description: |\n      line # one\n    permissions: []\n";
        let formatted = format_text(text, "t.yaml").expect("formats");
        assert_eq!(
            formatted,
            "version: 1\n\nroles:\n  - name: \"a #1\"  # the first\n    permissions: []\n    description: |\n      line # one\n"
        );
        assert_eq!(
            format_text(&formatted, "t.yaml").expect("formats"),
            formatted
        );
    }

    #[test]
    fn a_file_that_is_not_a_document_is_refused_by_name() {
        let error = format_text("users: 3\n", "x.yaml").expect_err("refused");
        assert!(
            error
                .0
                .starts_with("x.yaml: not a valid desired-state file"),
            "{error}"
        );
    }
}
