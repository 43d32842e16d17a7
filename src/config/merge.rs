//! Writing a changed document back into the file it came from, touching only what changed:
//! what `export --target` (adopt one live object) and `drift --write` (accept drift) write.
//!
//! The file's document and the new one are both rendered in canonical form (`fmt`'s,
//! [`super::format::canonical_yaml`]) and compared node by node (mapping entries by key,
//! list items by their identity: `email`, `name`, or the value, as `fmt` places comments).
//! Only where they differ is the file's own text edited:
//!
//! - a scalar that changed is replaced where it stands (its quoting becomes `fmt`'s; a
//!   comment after it stays);
//! - a new list item or mapping entry is inserted in `fmt`'s layout, re-indented to its
//!   siblings, where the canonical order puts it (before the first sibling that follows it
//!   in that order, above that sibling's own comments; a new top-level key with a blank line);
//! - a list item or entry that is gone is removed with its lines, and the comments inside
//!   those lines go with it (they were about it; each is counted in [`Merged::dropped`]);
//!   comments above it stay;
//! - a value whose shape changes (a flow list `[a, b]`, `members: []` becoming a list) is
//!   rewritten whole in `fmt`'s layout; a comment after its key stays on the key's line, and
//!   any other comment inside it refuses the merge ([`MergeError`], naming the line), rather
//!   than losing it, unless the value becomes empty (its items, and their comments, are gone).
//!
//! Everything else (other declarations, comments, key order, blank lines, quoting) stays
//! byte for byte. The result is loaded again and must mean exactly the new document, or
//! nothing is written.

use std::collections::BTreeMap;

use super::format::{FormatError, Node, Pos, Tree, canonical_yaml, check_meaning, comment_start};
use crate::model::Document;

/// Why the new document cannot be written into the file without losing something.
pub type MergeError = FormatError;

/// The merged text and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    /// Source lines of comments that were removed with what they were inside.
    pub dropped: Vec<usize>,
}

/// The byte-order mark a file may start with.
const BOM: char = '\u{feff}';

/// One edit of the source's lines: lines `from..to` (0-based) become `lines`.
struct Edit {
    from: usize,
    to: usize,
    lines: Vec<String>,
    seq: usize,
}

struct Ctx<'a> {
    label: &'a str,
    source: &'a Tree,
    src: Vec<&'a str>,
    out: Vec<&'a str>,
    edits: Vec<Edit>,
    dropped: Vec<usize>,
}

/// `text` (the file `label`, whose document is `old`) rewritten to declare `new`, with only
/// what differs edited (see the module doc).
pub fn merge_text(
    text: &str,
    old: &Document,
    new: &Document,
    label: &str,
) -> Result<Merged, MergeError> {
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (BOM.to_string(), rest),
        None => (String::new(), text),
    };
    let source =
        Tree::parse(body).map_err(|e| FormatError(format!("{label}: cannot be read: {e}")))?;
    let declares_version = matches!(&source.root, Some(Node::Map { entries, .. }) if entries.iter().any(|(k, _, _)| k == "version"));
    let render = |doc: &Document| {
        canonical_yaml(doc, declares_version).map_err(|e| FormatError(format!("{label}: {e}")))
    };
    let old_body = render(old)?;
    let new_body = render(new)?;
    if old_body == new_body {
        return Ok(Merged {
            text: text.to_string(),
            dropped: Vec::new(),
        });
    }
    let parse = |t: &str| {
        Tree::parse(t)
            .map_err(|e| FormatError(format!("{label}: the canonical form does not parse: {e}")))
    };
    let old_tree = parse(&old_body)?;
    let new_tree = parse(&new_body)?;
    let mut cx = Ctx {
        label,
        source: &source,
        src: body.split('\n').collect(),
        out: new_body.split('\n').collect(),
        edits: Vec::new(),
        dropped: Vec::new(),
    };
    match (&old_tree.root, &new_tree.root, &source.root) {
        (Some(o), Some(n), Some(s)) => cx.node(o, n, s, None)?,
        (_, Some(n), None) if body.trim().is_empty() || source.root.is_none() => {
            // An empty file: the new document whole.
            let lines: Vec<String> = cx.out[n.line() - 1..=n.last_line() - 1]
                .iter()
                .map(|l| l.to_string())
                .collect();
            cx.push(
                cx.src.len().saturating_sub(1),
                cx.src.len().saturating_sub(1),
                lines,
            );
        }
        _ => {
            return Err(FormatError(format!(
                "{label}: the file and the document to write do not line up (please report this)"
            )));
        }
    }
    let text = bom + &cx.apply()?;
    // A safety net, as fmt's: the file now says exactly `new`.
    check_meaning(
        &text,
        new.clone(),
        label,
        "the merged file would not say what was asked",
    )?;
    let mut dropped = cx.dropped;
    dropped.sort_unstable();
    dropped.dedup();
    Ok(Merged { text, dropped })
}

/// Where a value sits in its parent: what is replaced or removed with it.
#[derive(Clone, Copy)]
struct Slot<'n> {
    /// Where the slot starts: a mapping entry's key, or a list item's dash.
    at: Pos,
    value: &'n Node,
}

fn same(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Scalar { value: x, .. }, Node::Scalar { value: y, .. }) => x == y,
        (Node::Seq { items: x, .. }, Node::Seq { items: y, .. }) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Node::Map { entries: x, .. }, Node::Map { entries: y, .. }) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, _, v1), (k2, _, v2))| k1 == k2 && same(v1, v2))
        }
        _ => false,
    }
}

/// Whether a flow mapping (`{email: a@x, role: reader}`) can be edited in place: the same
/// keys in the file's form, the new one and the source, and every value that changes a
/// one-line scalar in all three (its text is replaced where it stands).
fn scalars_only(
    o: &[(String, Pos, Node)],
    n: &[(String, Pos, Node)],
    s: &[(String, Pos, Node)],
) -> bool {
    let keys = |list: &[(String, Pos, Node)]| -> Vec<String> {
        let mut keys: Vec<String> = list.iter().map(|(k, _, _)| k.clone()).collect();
        keys.sort();
        keys
    };
    let one_line = |node: &Node| matches!(node, Node::Scalar { start, end, .. } if start.line == end.line && end.col > start.col);
    keys(o) == keys(n)
        && keys(o) == keys(s)
        && o.iter().all(|(key, _, ov)| {
            let nv = n.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v);
            let sv = s.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v);
            match (nv, sv) {
                (Some(nv), Some(sv)) => {
                    same(ov, nv) || (one_line(ov) && one_line(nv) && one_line(sv))
                }
                _ => false,
            }
        })
}

/// A list's items by identity (the n-th of equal identities gets `#n`, as fmt's walk).
fn keyed(items: &[Node]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item.identity().unwrap_or_else(|| format!("#{i}"));
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            format!("{id}#{n}")
        })
        .collect()
}

/// The column of the dash of the list item starting at `item` on `line`.
fn dash_col(line: &str, item: Pos) -> usize {
    let chars: Vec<char> = line.chars().collect();
    (0..item.col.min(chars.len()))
        .rev()
        .find(|&c| chars[c] == '-')
        .unwrap_or(item.col.saturating_sub(2))
}

fn chars_from(line: &str, col: usize) -> String {
    line.chars().skip(col).collect()
}

fn chars_to(line: &str, col: usize) -> String {
    line.chars().take(col).collect()
}

impl<'a> Ctx<'a> {
    fn push(&mut self, from: usize, to: usize, lines: Vec<String>) {
        let seq = self.edits.len();
        self.edits.push(Edit {
            from,
            to,
            lines,
            seq,
        });
    }

    fn err(&self, line: usize, what: &str) -> MergeError {
        FormatError(format!("{}:{line}: {what}", self.label))
    }

    /// The comment on source line `line` (1-based), if any.
    fn comment(&self, line: usize) -> Option<String> {
        let raw = self.src.get(line - 1)?;
        comment_start(raw, line, self.source).map(|at| raw[at..].trim_end().to_string())
    }

    fn own_line_comment(&self, line: usize) -> bool {
        self.src.get(line - 1).is_some_and(|raw| {
            comment_start(raw, line, self.source).is_some_and(|at| raw[..at].trim().is_empty())
        })
    }

    /// The canonical output's lines of slot `n` (starting at its column `from`), re-indented
    /// to start at column `to`: the first line without indentation.
    fn out_lines(&self, n: Slot<'_>, from: usize, to: usize) -> Vec<String> {
        let first = n.at.line;
        let last = n.value.last_line().max(first);
        (first..=last)
            .map(|l| {
                let line = self.out[l - 1];
                if l == first {
                    chars_from(line, from)
                } else if line.is_empty() {
                    String::new()
                } else {
                    let indent = line.chars().take_while(|c| *c == ' ').count();
                    format!(
                        "{}{}",
                        " ".repeat(to + indent.saturating_sub(from)),
                        chars_from(line, indent)
                    )
                }
            })
            .collect()
    }

    /// Compares `o` (the file's canonical form) with `n` (the new one) at a node whose source
    /// is `s`, in slots `slots` (the source's and the new one's) when not the root.
    fn node(
        &mut self,
        o: &Node,
        n: &Node,
        s: &Node,
        slots: Option<(Slot<'_>, Slot<'_>, bool)>,
    ) -> Result<(), MergeError> {
        if same(o, n) {
            return Ok(());
        }
        match (o, n, s) {
            (
                Node::Map { entries: oe, .. },
                Node::Map { entries: ne, .. },
                Node::Map {
                    entries: se, flow, ..
                },
            ) if !n.is_flow() && (!flow || scalars_only(oe, ne, se)) => {
                let top = slots.is_none();
                for (i, (key, n_at, n_value)) in ne.iter().enumerate() {
                    let n_slot = Slot {
                        at: *n_at,
                        value: n_value,
                    };
                    let s_index = se.iter().position(|(k, _, _)| k == key);
                    match (oe.iter().find(|(k, _, _)| k == key), s_index) {
                        (Some((_, _, o_value)), Some(si)) => {
                            let (_, s_at, s_value) = &se[si];
                            let s_slot = Slot {
                                at: *s_at,
                                value: s_value,
                            };
                            self.value(o_value, n_slot, s_slot, false)?;
                        }
                        (None, Some(si)) => {
                            // Written in the file with its default value: replaced.
                            let (_, s_at, s_value) = &se[si];
                            let s_slot = Slot {
                                at: *s_at,
                                value: s_value,
                            };
                            self.replace(s_slot, n_slot, false)?;
                        }
                        (Some(_), None) => {
                            return Err(self.err(
                                s.line(),
                                &format!(
                                    "`{key}` is not where it was expected (please report this)"
                                ),
                            ));
                        }
                        (None, None) => {
                            // After the closest preceding key the file has, else before the
                            // first that follows.
                            let before = ne[..i]
                                .iter()
                                .rev()
                                .find_map(|(k, _, _)| se.iter().find(|(sk, _, _)| sk == k));
                            let col = se.first().map_or(0, |(_, at, _)| at.col);
                            let mut lines = self.out_lines(n_slot, n_at.col, col);
                            if let Some(first) = lines.first_mut() {
                                *first = format!("{}{first}", " ".repeat(col));
                            }
                            match before {
                                Some((_, _, v)) => {
                                    let after = v.last_line();
                                    if top {
                                        lines.insert(0, String::new());
                                    }
                                    self.push(after, after, lines);
                                }
                                None => {
                                    let Some((_, first_at, _)) = se.first() else {
                                        return Err(self.err(s.line(), "an empty mapping"));
                                    };
                                    if !self.src[first_at.line - 1]
                                        .chars()
                                        .take(first_at.col)
                                        .all(|c| c == ' ')
                                    {
                                        // `- first: ...`: after the first entry instead.
                                        let after = se[0].2.last_line();
                                        self.push(after, after, lines);
                                    } else {
                                        let at = self.above_comments(first_at.line);
                                        if top {
                                            lines.push(String::new());
                                        }
                                        self.push(at - 1, at - 1, lines);
                                    }
                                }
                            }
                        }
                    }
                }
                for (key, _, _) in oe {
                    if ne.iter().any(|(k, _, _)| k == key) {
                        continue;
                    }
                    if let Some((_, s_at, s_value)) = se.iter().find(|(k, _, _)| k == key) {
                        self.delete(Slot {
                            at: *s_at,
                            value: s_value,
                        })?;
                    }
                }
                Ok(())
            }
            (
                Node::Seq { items: oi, .. },
                Node::Seq { items: ni, .. },
                Node::Seq {
                    items: si,
                    flow: false,
                    ..
                },
            ) if !n.is_flow() && !si.is_empty() => {
                let (ok, nk, sk) = (keyed(oi), keyed(ni), keyed(si));
                // Linear in the list: positions by identity.
                let index = |ids: &[String]| -> BTreeMap<String, usize> {
                    ids.iter()
                        .enumerate()
                        .map(|(i, id)| (id.clone(), i))
                        .collect()
                };
                let (o_at, n_at, s_at) = (index(&ok), index(&nk), index(&sk));
                for (i, id) in nk.iter().enumerate() {
                    let n_item = &ni[i];
                    let n_slot = Slot {
                        at: Pos {
                            line: n_item.line(),
                            col: dash_col(self.out[n_item.line() - 1], n_item.start()),
                        },
                        value: n_item,
                    };
                    match (o_at.get(id).copied(), s_at.get(id).copied()) {
                        (Some(oi_at), Some(si_at)) => {
                            let s_item = &si[si_at];
                            let s_slot = Slot {
                                at: Pos {
                                    line: s_item.line(),
                                    col: dash_col(self.src[s_item.line() - 1], s_item.start()),
                                },
                                value: s_item,
                            };
                            self.value(&oi[oi_at], n_slot, s_slot, true)?;
                        }
                        (None, Some(_)) | (Some(_), None) => {
                            return Err(self.err(
                                s.line(),
                                "a list item is not where it was expected (please report this)",
                            ));
                        }
                        (None, None) => {
                            let next = nk[i + 1..].iter().find_map(|k| s_at.get(k).copied());
                            let s_first = &si[0];
                            let col = dash_col(self.src[s_first.line() - 1], s_first.start());
                            let mut lines = self.out_lines(n_slot, n_slot.at.col, col);
                            if let Some(first) = lines.first_mut() {
                                *first = format!("{}{first}", " ".repeat(col));
                            }
                            match next {
                                Some(at) => {
                                    let line = self.above_comments(si[at].line());
                                    self.push(line - 1, line - 1, lines);
                                }
                                None => {
                                    let after = si[si.len() - 1].last_line();
                                    self.push(after, after, lines);
                                }
                            }
                        }
                    }
                }
                for id in &ok {
                    if n_at.contains_key(id) {
                        continue;
                    }
                    if let Some(&at) = s_at.get(id) {
                        let s_item = &si[at];
                        self.delete(Slot {
                            at: Pos {
                                line: s_item.line(),
                                col: dash_col(self.src[s_item.line() - 1], s_item.start()),
                            },
                            value: s_item,
                        })?;
                    }
                }
                Ok(())
            }
            _ => match slots {
                Some((s_slot, n_slot, item)) => self.replace(s_slot, n_slot, item),
                None => Err(self.err(
                    1,
                    "the file is not a mapping of the desired-state format (please report this)",
                )),
            },
        }
    }

    /// A value in its slot: a scalar changed in place when both are on one line; otherwise
    /// compared node by node ([`Ctx::node`]).
    fn value(&mut self, o: &Node, n: Slot<'_>, s: Slot<'_>, item: bool) -> Result<(), MergeError> {
        if same(o, n.value) {
            return Ok(());
        }
        if let (
            Node::Scalar { .. },
            Node::Scalar { start, end, .. },
            Node::Scalar {
                start: s_start,
                end: s_end,
                ..
            },
        ) = (o, n.value, s.value)
            && start.line == end.line
            && s_start.line == s_end.line
            && s_end.col > s_start.col
        {
            let new: String = self.out[start.line - 1]
                .chars()
                .skip(start.col)
                .take(end.col - start.col)
                .collect();
            let line = self.src[s_start.line - 1];
            let text = format!(
                "{}{new}{}",
                chars_to(line, s_start.col),
                chars_from(line, s_end.col)
            );
            self.push(s_start.line - 1, s_start.line, vec![text]);
            return Ok(());
        }
        self.node(o, n.value, s.value, Some((s, n, item)))
    }

    /// The first line of the comments directly above line `line` (own-line comments with no
    /// blank line between), or `line`.
    fn above_comments(&self, line: usize) -> usize {
        let mut at = line;
        while at > 1 && self.own_line_comment(at - 1) {
            at -= 1;
        }
        at
    }

    /// Removes slot `s`'s lines; the comments inside them go with it.
    fn delete(&mut self, s: Slot<'_>) -> Result<(), MergeError> {
        let (first, last) = (s.at.line, s.value.last_line().max(s.at.line));
        if !chars_to(self.src[first - 1], s.at.col).trim().is_empty() {
            return Err(self.err(
                first,
                "this cannot be removed on its own (it shares its line with another key): run `orgops fmt` on the file first",
            ));
        }
        for line in first..=last {
            if self.comment(line).is_some() {
                self.dropped.push(line);
            }
        }
        self.push(first - 1, last, Vec::new());
        Ok(())
    }

    /// Rewrites slot `s` whole as the new slot `n`, in fmt's layout.
    fn replace(&mut self, s: Slot<'_>, n: Slot<'_>, _item: bool) -> Result<(), MergeError> {
        let (first, last) = (s.at.line, s.value.last_line().max(s.at.line));
        let empty = matches!(n.value, Node::Seq { items, .. } if items.is_empty())
            || matches!(n.value, Node::Map { entries, .. } if entries.is_empty());
        // A comment on the key's line stays on it.
        let kept = self.comment(first);
        for line in first + 1..=last {
            if self.comment(line).is_some() {
                if empty {
                    self.dropped.push(line);
                } else {
                    return Err(self.err(
                        line,
                        "this comment is inside a value that changes shape, which is rewritten whole: move the comment above the key it is in, then run again",
                    ));
                }
            }
        }
        let prefix = chars_to(self.src[first - 1], s.at.col);
        let mut lines = self.out_lines(n, n.at.col, s.at.col);
        if let Some(head) = lines.first_mut() {
            *head = format!("{prefix}{head}");
            if let Some(comment) = kept {
                head.push_str("  ");
                head.push_str(&comment);
            }
        }
        self.push(first - 1, last, lines);
        Ok(())
    }

    /// The source with the edits made.
    fn apply(&mut self) -> Result<String, MergeError> {
        self.edits.sort_by_key(|e| (e.from, e.to > e.from, e.seq));
        let mut out: Vec<String> = Vec::with_capacity(self.src.len() + 16);
        let mut at = 0;
        for edit in &self.edits {
            if edit.from < at {
                return Err(FormatError(format!(
                    "{}:{}: two changes meet on one line; it was left as it is (please report this)",
                    self.label,
                    edit.from + 1
                )));
            }
            out.extend(self.src[at..edit.from].iter().map(|l| l.to_string()));
            out.extend(edit.lines.iter().cloned());
            at = edit.to;
        }
        out.extend(self.src[at..].iter().map(|l| l.to_string()));
        Ok(out.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::format::load_document;

    fn doc(text: &str) -> Document {
        load_document(text, "t.yaml").expect("loads")
    }

    #[test]
    fn a_changed_scalar_is_replaced_where_it_stands_even_in_a_flow_mapping() {
        let text = "users:\n  # people\n  - {email: a@x.example, role: reader}   # a\n  - email: b@x.example\n    role: reader  # b\n";
        let new = doc(
            "users:\n  - {email: a@x.example, role: owner}\n  - {email: b@x.example, role: owner}\n",
        );
        let merged = merge_text(text, &doc(text), &new, "t.yaml").expect("merges");
        assert_eq!(
            merged.text,
            "users:\n  # people\n  - {email: a@x.example, role: owner}   # a\n  - email: b@x.example\n    role: owner  # b\n"
        );
        assert!(merged.dropped.is_empty());
    }

    #[test]
    fn a_removed_item_takes_its_own_comments_and_leaves_the_others() {
        let text = "users:\n  - email: a@x.example\n    role: reader\n  # b is a contractor\n  - email: b@x.example   # until June\n    role: reader\n  - email: c@x.example\n    role: reader\n";
        let new = doc(
            "users:\n  - {email: a@x.example, role: reader}\n  - {email: c@x.example, role: reader}\n",
        );
        let merged = merge_text(text, &doc(text), &new, "t.yaml").expect("merges");
        assert_eq!(
            merged.text,
            "users:\n  - email: a@x.example\n    role: reader\n  # b is a contractor\n  - email: c@x.example\n    role: reader\n"
        );
        assert_eq!(merged.dropped, vec![5]);
    }

    #[test]
    fn a_new_top_level_key_lands_in_canonical_order_with_a_blank_line() {
        let text = "version: 1\nusers:\n  - {email: a@x.example, role: owner}  # me\n\nprojects:\n  - name: P\n";
        let new = doc(
            "version: 1\nusers:\n  - {email: a@x.example, role: owner}\ngroups:\n  - name: g\n    members: [a@x.example]\nprojects:\n  - name: P\n",
        );
        let merged = merge_text(text, &doc(text), &new, "t.yaml").expect("merges");
        assert_eq!(
            merged.text,
            "version: 1\nusers:\n  - {email: a@x.example, role: owner}  # me\n\ngroups:\n  - name: g\n    members:\n      - a@x.example\n\nprojects:\n  - name: P\n"
        );
    }

    #[test]
    fn an_empty_list_becomes_the_new_items_in_fmt_layout() {
        let text = "# header\nprojects: []\n";
        let new = doc(
            "projects:\n  - name: Labs\n    members: []\n    service_accounts:\n      - {name: ci, role: member}\n",
        );
        let merged = merge_text(text, &doc(text), &new, "t.yaml").expect("merges");
        assert_eq!(
            merged.text,
            "# header\nprojects:\n  - name: Labs\n    members: []\n    service_accounts:\n      - name: ci\n        role: member\n"
        );
    }
}
