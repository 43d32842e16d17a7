//! JSON pointer -> source position, so every diagnostic points at the offending node.
//!
//! The map is built from the parser's event stream (`granit_parser`, the parser serde-saphyr
//! itself uses) rather than from a loaded tree: events never expand aliases, so a file that
//! reuses anchors costs no more to map than to read, and the walk is iterative, so nesting
//! depth cannot overflow the stack. Text the parser rejects yields the part mapped so far;
//! the loader reports the error itself, from serde-saphyr's budgeted parse.
//!
//! The same walk can build the document's value ([`SourceMap::build_with_value`]) or, for
//! the loader's success path, hand each item of the root's lists to an [`ItemSink`] as soon
//! as it is complete ([`SourceMap::build_streaming`]), so no more than one item's value is
//! ever held besides the root's own keys.
//!
//! Two spans are kept per mapping entry: the value's (`/users/0/role` -> `owner`) and the
//! key's (`/users/0/role` -> `role`), because an unknown key is best shown at the key itself.

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{Event, ScalarStyle, Span as ParserSpan};

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
///
/// Stored as a tree in flat arrays rather than a map of pointer strings: building it makes no
/// allocation per node (the pointer of a node is never formatted), and a lookup walks the
/// pointer's segments (a sequence index is direct, a mapping key is a short scan, or a binary
/// search in a large mapping). Duplicate keys resolve to the first entry.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    nodes: Vec<Node>,
    /// Child node ids, contiguous per collection (`Node::children`).
    children: Vec<u32>,
    /// The text of every mapping key, end to end (`Node::key`).
    key_text: String,
    /// Nodes with a tag outside the YAML core schema (`!Ref`, `!!binary`), as written, in
    /// document order. orgops gives no tag a meaning, so each is an error.
    unknown_tags: Vec<(Position, String)>,
}

/// A position as stored (line, column, width).
#[derive(Debug, Clone, Copy, Default)]
struct Compact(u32, u32, u32);

impl Compact {
    fn new(p: Position) -> Compact {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Compact(narrow(p.line), narrow(p.column), narrow(p.width))
    }
    fn get(self) -> Position {
        Position {
            line: self.0 as usize,
            column: self.1 as usize,
            width: self.2 as usize,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Node {
    value: Compact,
    /// The key of the mapping entry this node is the value of.
    key: Option<(u32, u32, Compact)>,
    /// (start, length) in `children`; for a mapping of more than [`SCAN`] entries the
    /// children are sorted by key.
    children: (u32, u32),
    mapping: bool,
}

/// Mappings up to this size are scanned; larger ones are sorted once and searched.
const SCAN: usize = 8;

enum Frame {
    Sequence {
        node: u32,
        first: usize,
    },
    Mapping {
        node: u32,
        first: usize,
        pending_key: Option<(u32, u32, Compact)>,
    },
    /// A collection used as a mapping key: built, but not reachable by pointer.
    Detached {
        node: u32,
        first: usize,
    },
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Unescapes one JSON-pointer segment, without allocating when there is nothing to undo.
fn unescape_segment(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        std::borrow::Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
    } else {
        std::borrow::Cow::Borrowed(segment)
    }
}

fn id(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl SourceMap {
    /// Maps the first document of `text`. Text the parser rejects yields the part mapped so
    /// far (the loader reports the parse error itself, from serde-saphyr).
    pub fn build(text: &str) -> SourceMap {
        SourceMap::build_inner(text, None)
    }

    /// Maps `text` and, from the same parser events, builds the document as a
    /// [`serde_json::Value`] when the text is plain enough for the result to be exactly what
    /// serde-saphyr would build (see `OnePass`). `None` for the value means: parse it with
    /// serde-saphyr (which also reports every error and enforces the budget); the map is
    /// complete either way.
    pub fn build_with_value(text: &str, limits: OnePassLimits) -> (SourceMap, Option<Value>) {
        let mut builder = OnePass::new(limits, None);
        let map = SourceMap::build_inner(text, Some(&mut builder));
        (map, builder.finish())
    }

    /// Like [`SourceMap::build_with_value`], but the items of the root's lists that `sink`
    /// takes ([`ItemSink::list`]) are handed to it one by one as each is complete, and never
    /// held together: the value returned is the root with each such list standing in as an
    /// empty array. `None` for the value means what it means for
    /// [`SourceMap::build_with_value`], or that the sink refused an item; whatever the sink
    /// took is then to be thrown away, and so is the map, which stops where the build gave
    /// up (the caller parses the text again, the whole-value way).
    pub fn build_streaming(
        text: &str,
        limits: OnePassLimits,
        sink: &mut dyn ItemSink,
    ) -> (SourceMap, Option<Value>) {
        let mut builder = OnePass::new(limits, Some(sink));
        let map = SourceMap::build_inner(text, Some(&mut builder));
        (map, builder.finish())
    }

    fn build_inner(text: &str, value: Option<&mut OnePass<'_>>) -> SourceMap {
        super::events::with_events(text, |events| SourceMap::build_from(events, value))
    }

    fn build_from(
        mut events: super::events::Events<'_>,
        mut value: Option<&mut OnePass<'_>>,
    ) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        // Ids of the children of every open collection, innermost last.
        let mut open: Vec<u32> = Vec::new();
        loop {
            let (event, span) = match events.next() {
                Some(Ok(next)) => next,
                // A parse error: serde-saphyr reports it.
                Some(Err(_)) | None => {
                    if let Some(builder) = value.as_deref_mut() {
                        builder.give_up();
                    }
                    break;
                }
            };
            if let Some(builder) = value.as_deref_mut() {
                builder.event(&event);
                // A streaming build that gave up is redone from the text: nothing it would
                // map from here on is used.
                if builder.failed && builder.sink.is_some() {
                    break;
                }
            }
            if let Event::Scalar(_, _, _, Some(tag))
            | Event::SequenceStart(_, _, Some(tag))
            | Event::MappingStart(_, _, Some(tag)) = &event
                && tag.core_suffix().is_none()
            {
                map.unknown_tags
                    .push((Position::from_span(&span), tag.original()));
            }
            let at = Compact::new(Position::from_span(&span));
            match event {
                Event::Scalar(value, ..) => {
                    map.place_node(&mut stack, &mut open, at, Some(&value), false);
                }
                Event::Alias(_) => {
                    map.place_node(&mut stack, &mut open, at, None, false);
                }
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    let mapping = matches!(event, Event::MappingStart(..));
                    let (node, detached) = map.place_node(&mut stack, &mut open, at, None, true);
                    if let Some(n) = map.nodes.get_mut(node as usize) {
                        n.mapping = mapping;
                    }
                    let first = open.len();
                    stack.push(if detached {
                        Frame::Detached { node, first }
                    } else if mapping {
                        Frame::Mapping {
                            node,
                            first,
                            pending_key: None,
                        }
                    } else {
                        Frame::Sequence { node, first }
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, first) = match stack.pop() {
                        Some(Frame::Sequence { node, first })
                        | Some(Frame::Mapping { node, first, .. })
                        | Some(Frame::Detached { node, first }) => (node, first),
                        None => continue,
                    };
                    map.close(node, &mut open, first);
                }
                Event::DocumentEnd => {
                    // The map is the first document's; the value also needs the rest of the
                    // stream to be clean (a second document, a later syntax error).
                    if let Some(builder) = value.as_deref_mut() {
                        builder.finish_stream(&mut events);
                    }
                    break;
                }
                Event::StreamEnd => break,
                _ => {}
            }
        }
        map
    }

    /// Moves the children of `node` (the tail of `open` from `first`) to the arena.
    fn close(&mut self, node: u32, open: &mut Vec<u32>, first: usize) {
        let start = self.children.len();
        let first = first.min(open.len());
        self.children.extend(open.drain(first..));
        let count = self.children.len() - start;
        let Some(n) = self.nodes.get_mut(node as usize) else {
            return;
        };
        n.children = (id(start), id(count));
        if n.mapping && count > SCAN {
            let (nodes, key_text) = (&self.nodes, &self.key_text);
            self.children[start..].sort_by(|a, b| {
                let key = |i: &u32| {
                    nodes
                        .get(*i as usize)
                        .and_then(|n| n.key)
                        .and_then(|(s, l, _)| key_text.get(s as usize..(s + l) as usize))
                        .unwrap_or("")
                };
                key(a).cmp(key(b))
            });
        }
    }

    /// Records the node that starts now at `at`. A scalar (or alias) that is a mapping key
    /// becomes the pending key instead of a node. Returns the new node's id and whether it is
    /// detached (a collection used as a mapping key).
    fn place_node(
        &mut self,
        stack: &mut [Frame],
        open: &mut Vec<u32>,
        at: Compact,
        scalar: Option<&str>,
        collection: bool,
    ) -> (u32, bool) {
        let node_id = id(self.nodes.len());
        let mut node = Node {
            value: at,
            mapping: false,
            ..Node::default()
        };
        let mut detached = false;
        match stack.last_mut() {
            None | Some(Frame::Sequence { .. }) => {
                if !stack.is_empty() {
                    open.push(node_id);
                }
            }
            Some(Frame::Detached { .. }) => {}
            Some(Frame::Mapping { pending_key, .. }) => match pending_key.take() {
                Some(key) => {
                    node.key = Some(key);
                    open.push(node_id);
                }
                None => {
                    let start = id(self.key_text.len());
                    self.key_text.push_str(scalar.unwrap_or("?"));
                    let len = id(self.key_text.len()) - start;
                    *pending_key = Some((start, len, at));
                    if !collection {
                        return (node_id, false);
                    }
                    // A complex key: its own children are kept, unreachable by pointer.
                    detached = true;
                }
            },
        }
        self.nodes.push(node);
        (node_id, detached)
    }

    /// The node at `pointer`, or the nearest existing ancestor; `exact` says whether every
    /// segment was found.
    fn find(&self, pointer: &str) -> Option<(&Node, bool)> {
        let mut node = self.nodes.first()?;
        if pointer.is_empty() {
            return Some((node, true));
        }
        let rest = pointer.strip_prefix('/')?;
        for segment in rest.split('/') {
            match self.child(node, segment) {
                Some(child) => node = child,
                None => return Some((node, false)),
            }
        }
        Some((node, true))
    }

    fn child(&self, node: &Node, segment: &str) -> Option<&Node> {
        let (start, count) = (node.children.0 as usize, node.children.1 as usize);
        let children = self.children.get(start..start + count)?;
        if !node.mapping {
            let canonical = segment == "0"
                || (!segment.starts_with('0') && segment.bytes().all(|b| b.is_ascii_digit()));
            if !canonical || segment.is_empty() {
                return None;
            }
            let index: usize = segment.parse().ok()?;
            return self.nodes.get(*children.get(index)? as usize);
        }
        let wanted = unescape_segment(segment);
        let key_of = |i: u32| -> &str {
            self.nodes
                .get(i as usize)
                .and_then(|n| n.key)
                .and_then(|(s, l, _)| self.key_text.get(s as usize..(s + l) as usize))
                .unwrap_or("")
        };
        let found = if children.len() > SCAN {
            let at = children.partition_point(|&i| key_of(i) < wanted.as_ref());
            children.get(at).filter(|&&i| key_of(i) == wanted.as_ref())
        } else {
            children.iter().find(|&&i| key_of(i) == wanted.as_ref())
        };
        self.nodes.get(*found? as usize)
    }

    /// Where the value at `pointer` is; for a pointer the file does not contain (a missing
    /// required key), the nearest existing ancestor.
    pub fn value(&self, pointer: &str) -> Position {
        self.find(pointer)
            .map_or(Position::START, |(node, _)| node.value.get())
    }

    /// Where the key of the mapping entry at `pointer` is, falling back to its value.
    pub fn key(&self, pointer: &str) -> Position {
        match self.find(pointer) {
            Some((node, true)) => match node.key {
                Some((_, _, at)) => at.get(),
                None => node.value.get(),
            },
            Some((node, false)) => node.value.get(),
            None => Position::START,
        }
    }

    /// Tags outside the YAML core schema (`!!str`, `!!int`... are core), with their place.
    pub fn unknown_tags(&self) -> &[(Position, String)] {
        &self.unknown_tags
    }

    /// Whether the document contains the key at `pointer` (e.g. `/policy`).
    pub fn has_key(&self, pointer: &str) -> bool {
        matches!(self.find(pointer), Some((node, true)) if node.key.is_some())
    }
}

/// Limits under which [`SourceMap::build_with_value`] builds the value itself; beyond them
/// (or anywhere near them) it leaves the text to serde-saphyr's budgeted parse, so the
/// budget's errors are unchanged.
#[derive(Debug, Clone, Copy)]
pub struct OnePassLimits {
    /// Deepest nesting (collections open at once).
    pub max_depth: usize,
    /// Nodes (scalars and collections, keys included).
    pub max_nodes: usize,
    /// Bytes of scalar text in total.
    pub max_scalar_bytes: usize,
}

/// Takes the items of some of the root mapping's lists as [`SourceMap::build_streaming`]
/// completes them.
pub trait ItemSink {
    /// Whether the items of the list under the root key `key` go to the sink (and under
    /// which number it will know them).
    fn list(&self, key: &str) -> Option<usize>;
    /// One complete item of list `list`, in file order. `false`: the sink cannot take it,
    /// and the build gives up its value.
    fn item(&mut self, list: usize, item: Value) -> bool;
}

enum Open {
    Sequence(Vec<Value>),
    Mapping(Map<String, Value>, Option<String>),
    /// A root list whose items go to the sink, under its number.
    Streamed(usize),
}

/// Builds a [`Value`] from parser events for the plain YAML orgops files are made of, and
/// gives up (leaving the text to serde-saphyr) on anything whose meaning is not certain to be
/// what serde-saphyr gives it: any anchor, alias or tag; a merge key (`<<`); a duplicate key;
/// a key that is not a plain string; a plain scalar that could be a null, a float, a YAML 1.1
/// boolean or an integer in another spelling than canonical decimal; more than one document;
/// a syntax error; anything within a factor of two of the budget. What it does build is
/// checked against serde-saphyr's own result in the tests.
///
/// With a sink ([`SourceMap::build_streaming`]), a sequence that is the value of a root key
/// the sink takes is not built: each of its items goes to the sink as soon as its end event
/// arrives, and the sequence is an empty array in the value.
struct OnePass<'s> {
    limits: OnePassLimits,
    sink: Option<&'s mut dyn ItemSink>,
    stack: Vec<Open>,
    root: Option<Value>,
    nodes: usize,
    scalar_bytes: usize,
    failed: bool,
}

impl<'s> OnePass<'s> {
    fn new(limits: OnePassLimits, sink: Option<&'s mut dyn ItemSink>) -> OnePass<'s> {
        OnePass {
            limits,
            sink,
            stack: Vec::new(),
            root: None,
            nodes: 0,
            scalar_bytes: 0,
            failed: false,
        }
    }

    fn give_up(&mut self) {
        if !self.failed {
            self.failed = true;
            self.stack = Vec::new();
            self.root = None;
        }
    }

    fn event(&mut self, event: &Event<'_>) {
        if self.failed {
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if *anchor != 0 || tag.is_some() || !self.count(text.len()) {
                    return self.give_up();
                }
                let plain = matches!(style, ScalarStyle::Plain);
                if let Some(Open::Mapping(_, pending @ None)) = self.stack.last_mut() {
                    // A key: a string as written, never a null, number or merge key.
                    if plain && !matches!(plain_scalar(text), Some(Value::String(_))) {
                        return self.give_up();
                    }
                    *pending = Some(text.to_string());
                    return;
                }
                let value = if plain {
                    match plain_scalar(text) {
                        Some(value) => value,
                        None => return self.give_up(),
                    }
                } else {
                    Value::String(text.to_string())
                };
                self.put(value);
            }
            Event::SequenceStart(_, anchor, tag) | Event::MappingStart(_, anchor, tag) => {
                if *anchor != 0 || tag.is_some() || !self.count(0) {
                    return self.give_up();
                }
                // A collection as a mapping key, or nesting near the budget's depth.
                if matches!(self.stack.last(), Some(Open::Mapping(_, None)))
                    || self.stack.len() + 1 >= self.limits.max_depth / 2
                {
                    return self.give_up();
                }
                let streamed = match (&self.sink, self.stack.as_slice(), event) {
                    (Some(sink), [Open::Mapping(_, Some(key))], Event::SequenceStart(..)) => {
                        sink.list(key)
                    }
                    _ => None,
                };
                self.stack.push(match streamed {
                    Some(list) => Open::Streamed(list),
                    None if matches!(event, Event::MappingStart(..)) => {
                        Open::Mapping(Map::new(), None)
                    }
                    None => Open::Sequence(Vec::new()),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Sequence(items)) => self.put(Value::Array(items)),
                Some(Open::Streamed(_)) => self.put(Value::Array(Vec::new())),
                Some(Open::Mapping(map, None)) => self.put(Value::Object(map)),
                _ => self.give_up(),
            },
            Event::Alias(_) | Event::UnresolvedAlias(_) => self.give_up(),
            Event::DocumentStart(..) if self.root.is_some() => self.give_up(),
            _ => {}
        }
    }

    /// Counts one node of `bytes` of text; `false` when near the budget.
    fn count(&mut self, bytes: usize) -> bool {
        self.nodes += 1;
        self.scalar_bytes += bytes;
        self.nodes <= self.limits.max_nodes / 2
            && self.scalar_bytes <= self.limits.max_scalar_bytes / 2
    }

    /// Places a finished node in its parent (or as the root).
    fn put(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_some() {
                    return self.give_up();
                }
                self.root = Some(value);
            }
            Some(Open::Sequence(items)) => items.push(value),
            Some(Open::Streamed(list)) => {
                let list = *list;
                let taken = self
                    .sink
                    .as_deref_mut()
                    .is_some_and(|s| s.item(list, value));
                if !taken {
                    self.give_up();
                }
            }
            Some(Open::Mapping(map, pending)) => match pending.take() {
                Some(key) => {
                    if map.insert(key, value).is_some() {
                        self.give_up();
                    }
                }
                None => self.give_up(),
            },
        }
    }

    /// Reads the event after the first document: anything but the stream's end gives up.
    fn finish_stream(&mut self, events: &mut super::events::Events<'_>) {
        match events.next() {
            Some(Ok((Event::StreamEnd, _))) | None => {}
            Some(Ok(_)) | Some(Err(_)) => self.give_up(),
        }
    }

    fn finish(self) -> Option<Value> {
        if self.failed || !self.stack.is_empty() {
            return None;
        }
        // An empty document (serde-saphyr's "no content" null) is left to it as well.
        self.root
    }
}

/// What serde-saphyr makes of a plain scalar, when that is certain: `true`, `false`, a
/// canonical decimal integer, or a string that no YAML resolution could read as anything
/// else. `None` otherwise (the caller leaves the text to serde-saphyr).
fn plain_scalar(text: &str) -> Option<Value> {
    let canonical = |digits: &str| {
        digits == "0"
            || (!digits.starts_with('0')
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit()))
    };
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    let first = text.chars().next()?;
    if first.is_ascii_digit() {
        return canonical(text)
            .then(|| text.parse::<u64>().ok().map(Value::from))
            .flatten();
    }
    if let Some(digits) = text.strip_prefix('-')
        && digits != "0"
        && canonical(digits)
    {
        return text.parse::<i64>().ok().map(Value::from);
    }
    if !(first.is_alphabetic() || first == '_' || first == '/' || first == '$')
        || text.chars().any(|c| c.is_whitespace() && c != ' ')
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    // The words below are all short: a longer text needs no lowercase copy.
    if text.len() > 8 {
        return Some(Value::String(text.to_string()));
    }
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "inf"
            | "infinity"
            | "nan"
    ) {
        return None;
    }
    Some(Value::String(text.to_string()))
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

    #[test]
    fn large_mappings_and_escaped_keys_resolve() {
        let mut text = String::from("rate_limits:\n");
        for i in (0..40).rev() {
            text.push_str(&format!("  m{i:02}/x~y: {i}\n"));
        }
        text.push_str("list: [a, b, c]\n");
        let map = SourceMap::build(&text);
        assert_eq!(map.value("/rate_limits/m07~1x~0y").line, 2 + 32);
        assert_eq!(map.key("/rate_limits/m39~1x~0y").column, 3);
        assert!(map.has_key("/rate_limits/m00~1x~0y"));
        assert!(!map.has_key("/rate_limits/m40~1x~0y"));
        assert_eq!(map.value("/rate_limits/nope"), map.value("/rate_limits"));
        assert_eq!(map.value("/list/2").column, 14);
        assert_eq!(
            map.value("/list/02"),
            map.value("/list"),
            "not a canonical index"
        );
        assert_eq!(map.value("/list/+1"), map.value("/list"));
        assert_eq!(map.value("no-slash"), Position::START);
    }

    #[test]
    fn complex_keys_and_aliases_as_keys_do_not_derail_the_map() {
        let map = SourceMap::build("k: &x v\n? [a, b]\n: 1\n*x : 2\nafter: 3\n");
        assert_eq!(map.value("/after").line, 5);
        assert_eq!(map.value("/k").line, 1);
        assert_eq!(SourceMap::build("").value("/x"), Position::START);
    }

    fn limits() -> OnePassLimits {
        OnePassLimits {
            max_depth: 32,
            max_nodes: 4_000_000,
            max_scalar_bytes: 16 << 20,
        }
    }

    fn one_pass(text: &str) -> Option<Value> {
        SourceMap::build_with_value(text, limits()).1
    }

    /// The one-pass value is serde-saphyr's value whenever it is built at all.
    fn agrees(text: &str) -> bool {
        let fast = one_pass(text);
        if let Some(fast) = &fast {
            let slow = serde_saphyr::from_str::<Value>(text);
            assert_eq!(
                slow.as_ref().ok(),
                Some(fast),
                "one pass and serde-saphyr disagree on {text:?}"
            );
        }
        fast.is_some()
    }

    #[test]
    fn one_pass_builds_what_serde_saphyr_builds_or_leaves_it_to_it() {
        // Taken by the one pass.
        for text in [
            TEXT,
            "version: 1\n",
            "a: true\nb: false\nc: 0\nd: 42\ne: -7\nf: 18446744073709551615\ng: -9223372036854775808\n",
            "s: 'null'\nt: \"1.5\"\nu: |\n  block\n  text\nv: >\n  folded\n  text\nw: \"\\u00e9\\n\"\n",
            "name: Search Team\nemail: a.b+c@x.example\nmodel: gpt-4o-mini\npath: /etc/x\n",
            "list: [a, b, {c: d}, []]\nempty: {}\n'quoted key': 1\n\"1\": x\n",
            "plain: multi\n  line\n  scalar\n",
            "---\nversion: 1\n...\n",
            "yes_no: yesterday\nnull_like: nullable\nonly: on_call\n",
        ] {
            assert!(agrees(text), "expected the one pass to take {text:?}");
        }
        // Left to serde-saphyr (which may read them as anything).
        for text in [
            "",
            "# only a comment\n",
            "a:\n",
            "a: ~\n",
            "a: null\n",
            "a: Null\n",
            "a: 1.5\n",
            "a: 1e3\n",
            "a: .inf\n",
            "a: -.inf\n",
            "a: .nan\n",
            "a: 0x1F\n",
            "a: 0o17\n",
            "a: 017\n",
            "a: +1\n",
            "a: -0\n",
            "a: 1_000\n",
            "a: 18446744073709551616\n",
            "a: -9223372036854775809\n",
            "a: yes\n",
            "a: No\n",
            "a: on\n",
            "a: OFF\n",
            "a: y\n",
            "a: True\n",
            "a: FALSE\n",
            "a: 2026-11-30\n",
            "a: 12:30\n",
            "a: .5\n",
            "a: inf\n",
            "a: NaN\n",
            "true: 1\n",
            "1: a\n",
            "null: a\n",
            "<<: {a: 1}\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: !Ref b\n",
            "a: 1\na: 2\n",
            "? [a, b]\n: 1\n",
            "a: 1\n---\nb: 2\n",
            "a: [1, 2\n",
            "a: b\n  c: d\n",
            "- a\n- b\n",
        ] {
            let taken = agrees(text);
            if text.starts_with("- a") {
                assert!(taken, "a sequence root is plain YAML");
            } else {
                assert!(
                    !taken,
                    "expected the one pass to leave {text:?} to serde-saphyr"
                );
            }
        }
    }

    #[test]
    fn one_pass_gives_up_near_the_budget() {
        let deep = format!("{}1{}\n", "[".repeat(20), "]".repeat(20));
        assert_eq!(one_pass(&deep), None);
        let tight = OnePassLimits {
            max_depth: 32,
            max_nodes: 10,
            max_scalar_bytes: 1 << 20,
        };
        let (map, value) = SourceMap::build_with_value("[a, b, c, d, e, f]\n", tight);
        assert_eq!(value, None);
        assert_eq!(
            map.value("/5").column,
            17,
            "the map is complete all the same"
        );
    }

    /// Takes the items of `users` and `groups`, refusing any item equal to `refuse`.
    struct Collect {
        items: Vec<(usize, Value)>,
        refuse: Value,
    }

    impl ItemSink for Collect {
        fn list(&self, key: &str) -> Option<usize> {
            ["users", "groups"].iter().position(|k| *k == key)
        }
        fn item(&mut self, list: usize, item: Value) -> bool {
            if item == self.refuse {
                return false;
            }
            self.items.push((list, item));
            true
        }
    }

    #[test]
    fn streaming_hands_over_the_root_lists_items_and_keeps_the_rest() {
        let text = "version: 1\nusers:\n  - {email: a}\n  - b\ngroups: []\nprojects: [{name: P, members: [c]}]\nsettings: {users: [d]}\n";
        let mut sink = Collect {
            items: Vec::new(),
            refuse: Value::Null,
        };
        let (map, root) = SourceMap::build_streaming(text, limits(), &mut sink);
        assert_eq!(
            root,
            Some(
                serde_json::json!({"version": 1, "users": [], "groups": [], "projects": [{"name": "P", "members": ["c"]}], "settings": {"users": ["d"]}})
            )
        );
        assert_eq!(
            sink.items,
            [
                (0, serde_json::json!({"email": "a"})),
                (0, serde_json::json!("b"))
            ]
        );
        assert_eq!(map.value("/settings/users/0").line, 7);
        // An item refused: no value, and the walk stops there.
        let mut sink = Collect {
            items: Vec::new(),
            refuse: serde_json::json!("b"),
        };
        let (map, root) = SourceMap::build_streaming(text, limits(), &mut sink);
        assert_eq!((root, sink.items.len()), (None, 1));
        assert_eq!(map.value("/settings"), Position::START);
    }

    #[test]
    fn one_pass_agrees_on_every_example_and_fixture() {
        let taken = crate::config::example_and_fixture_texts()
            .iter()
            .filter(|text| agrees(text))
            .count();
        assert!(taken >= 5, "only {taken} example files took the one pass");
    }
}
