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

use std::collections::BTreeMap;

use serde_saphyr::granit_parser::{Event, Parser};

use crate::model::{Document, normalize_email};

/// The canonical YAML of `doc` (sorted; `version` only when `with_version`), without
/// comments.
pub fn canonical_yaml(doc: &Document, with_version: bool) -> anyhow::Result<String> {
    let mut doc = doc.clone();
    doc.sort_canonical();
    let body = serde_saphyr::to_string(&doc)
        .map_err(|e| anyhow::anyhow!("serializing the document: {e}"))?;
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
