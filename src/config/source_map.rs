//! JSON pointer -> source position, so every diagnostic points at the offending node.
//!
//! The map is built from the parser's event stream (`granit_parser`, the parser serde-saphyr
//! itself uses) rather than from a loaded tree: events never expand aliases, so a file that
//! reuses anchors costs no more to map than to read, and the walk is iterative, so nesting
//! depth cannot overflow the stack. The loader only builds it after serde-saphyr's budgeted
//! parse has accepted the text.
//!
//! Two spans are kept per mapping entry: the value's (`/users/0/role` -> `owner`) and the
//! key's (`/users/0/role` -> `role`), because an unknown key is best shown at the key itself.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, Span as ParserSpan};

/// A 1-based line and column (in characters) and the width of the node on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    /// Characters to underline (at least 1).
    pub width: usize,
}

impl Position {
    /// The start of a file: where a problem with the file as a whole is reported.
    pub const START: Position = Position {
        line: 1,
        column: 1,
        width: 1,
    };

    fn from_span(span: &ParserSpan) -> Position {
        let (start, end) = (span.start, span.end);
        let width = if end.line() == start.line() && end.col() > start.col() {
            end.col() - start.col()
        } else {
            1
        };
        Position {
            line: start.line(),
            column: start.col() + 1,
            width,
        }
    }
}

/// Source positions of every node of one YAML document, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
    /// Nodes with a tag outside the YAML core schema (`!Ref`, `!!binary`), as written, in
    /// document order. orgops gives no tag a meaning, so each is an error.
    unknown_tags: Vec<(Position, String)>,
}

enum Frame {
    Sequence {
        pointer: String,
        next_index: usize,
    },
    Mapping {
        pointer: String,
        pending_key: Option<String>,
    },
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl SourceMap {
    /// Maps the first document of `text`. Text the parser rejects yields the part mapped so
    /// far (the loader reports the parse error itself, from serde-saphyr).
    pub fn build(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            if let Event::Scalar(_, _, _, Some(tag))
            | Event::SequenceStart(_, _, Some(tag))
            | Event::MappingStart(_, _, Some(tag)) = &event
                && tag.core_suffix().is_none()
            {
                map.unknown_tags
                    .push((Position::from_span(&span), tag.original()));
            }
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(pointer) = map.place_node(&mut stack, &span, Some(&value)) {
                        map.values.insert(pointer, Position::from_span(&span));
                    }
                }
                Event::Alias(_) => {
                    if let Some(pointer) = map.place_node(&mut stack, &span, None) {
                        map.values.insert(pointer, Position::from_span(&span));
                    }
                }
                Event::SequenceStart(..) => {
                    let pointer = map.place_node(&mut stack, &span, None).unwrap_or_default();
                    map.values
                        .entry(pointer.clone())
                        .or_insert(Position::from_span(&span));
                    stack.push(Frame::Sequence {
                        pointer,
                        next_index: 0,
                    });
                }
                Event::MappingStart(..) => {
                    let pointer = map.place_node(&mut stack, &span, None).unwrap_or_default();
                    map.values
                        .entry(pointer.clone())
                        .or_insert(Position::from_span(&span));
                    stack.push(Frame::Mapping {
                        pointer,
                        pending_key: None,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                }
                Event::DocumentEnd => break,
                _ => {}
            }
        }
        map
    }

    /// Decides the pointer of the node that starts now. Returns `None` for a scalar mapping
    /// key (recorded in `keys` instead); a collection used as a key gets a placeholder.
    fn place_node(
        &mut self,
        stack: &mut [Frame],
        span: &ParserSpan,
        scalar: Option<&str>,
    ) -> Option<String> {
        match stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Sequence {
                pointer,
                next_index,
            }) => {
                let child = format!("{pointer}/{next_index}");
                *next_index += 1;
                Some(child)
            }
            Some(Frame::Mapping {
                pointer,
                pending_key,
            }) => match pending_key.take() {
                Some(key) => Some(format!("{pointer}/{}", escape_segment(&key))),
                None => {
                    let key = scalar.unwrap_or("?").to_string();
                    let key_pointer = format!("{pointer}/{}", escape_segment(&key));
                    self.keys
                        .entry(key_pointer.clone())
                        .or_insert(Position::from_span(span));
                    *pending_key = Some(key);
                    match scalar {
                        Some(_) => None,
                        // A complex key: its own children are mapped under a placeholder.
                        None => Some(format!("{key_pointer}/?key")),
                    }
                }
            },
        }
    }

    /// Where the value at `pointer` is; for a pointer the file does not contain (a missing
    /// required key), the nearest existing ancestor.
    pub fn value(&self, pointer: &str) -> Position {
        let mut current = pointer;
        loop {
            if let Some(position) = self.values.get(current) {
                return *position;
            }
            match current.rfind('/') {
                Some(cut) => current = &current[..cut],
                None => return Position::START,
            }
        }
    }

    /// Where the key of the mapping entry at `pointer` is, falling back to its value.
    pub fn key(&self, pointer: &str) -> Position {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }

    /// Whether the document contains the key at `pointer` (e.g. `/policy`).
    /// Tags outside the YAML core schema (`!!str`, `!!int`... are core), with their place.
    pub fn unknown_tags(&self) -> &[(Position, String)] {
        &self.unknown_tags
    }

    pub fn has_key(&self, pointer: &str) -> bool {
        self.keys.contains_key(pointer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1\nusers:\n  - email: a@x.example\n    role: owner\nprojects:\n  - name: Search\n    members: [{email: b@x, role: member}]\n    rate_limits:\n      gpt-4o/mini: {max_requests_per_1_minute: 5}\n";

    #[test]
    fn pointers_resolve_to_values_and_keys() {
        let map = SourceMap::build(TEXT);
        assert_eq!(
            map.value("/users/0/email"),
            Position {
                line: 3,
                column: 12,
                width: 11
            }
        );
        assert_eq!(
            map.key("/users/0/role"),
            Position {
                line: 4,
                column: 5,
                width: 4
            }
        );
        assert_eq!(map.value("/users/0/role").column, 11);
        assert_eq!(map.value("/projects/0/members/0/role").line, 7);
        assert_eq!(map.value("/projects/0/members/0/role").column, 34);
        assert_eq!(map.key("/projects/0/rate_limits/gpt-4o~1mini").line, 9);
    }

    #[test]
    fn missing_pointers_fall_back_to_the_nearest_ancestor() {
        let map = SourceMap::build(TEXT);
        assert_eq!(map.value("/users/0/roles/3"), map.value("/users/0"));
        assert_eq!(map.value("/nothing/here"), map.value(""));
        assert!(map.has_key("/projects"));
        assert!(!map.has_key("/policy"));
    }

    #[test]
    fn aliases_are_mapped_without_expansion() {
        let map = SourceMap::build("a: &x [1, 2]\nb: *x\n");
        assert_eq!(
            map.value("/b"),
            Position {
                line: 2,
                column: 4,
                width: 2
            }
        );
        assert_eq!(map.value("/a/1").column, 11);
    }
}
