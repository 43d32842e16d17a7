//! Escaping of text that comes from outside (names in the file or in the live organization,
//! paths, API error messages) for each place orgops prints it. Names may contain anything the
//! API accepts: a project named `` ```\n<!-- `` would otherwise close a code block and open
//! an HTML comment that hides the rest of a pull-request comment, and a name with ESC or NUL
//! would drive the terminal. Validation refuses such names in the file; live names are only
//! made safe here, at render time.
//!
//! - [`text`]: terminals and logs. Control characters (C0, DEL, C1), the line and paragraph
//!   separators and the bidirectional controls are shown as `\u{1b}` escapes.
//! - [`code`], [`code_span`], [`table_code_span`], [`fence`]: markdown code. As [`text`],
//!   and `<` as `\u{3c}`, so no name can start an HTML comment or tag in any context;
//!   spans and fences are delimited by more backticks than the longest run inside.
//! - [`fenced`]: a line inside a fenced code block, whose fence outlasts every backtick run:
//!   as [`text`] only. Nothing inside a fenced block is markup, so `<` shows as it is.
//! - [`html`]: text inside an HTML element of the markdown (a `<summary>`), where markdown is
//!   not read: as [`text`], then `&`, `<`, `>`, `"` as entities.
//! - [`prose_with_code`]: a sentence orgops wrote with `` `code` `` in it (a refusal, a hint):
//!   each backtick pair becomes a [`code_span`], everything else [`prose`].
//! - [`prose`]: markdown outside code. As [`text`], then `&`, `<`, `>` as entities and the
//!   characters markdown interprets (`` \ ` * _ [ ] | ~ ``) escaped with a backslash.
//! - [`workflow_data`], [`workflow_property`]: GitHub workflow commands (`::error file=…::`).
//! - [`json_pretty`], [`json_compact`], [`write_json`]: JSON for a terminal or a file a person
//!   reads (plan, drift, audit, saved plans, reports). serde_json escapes C0 controls only;
//!   these write DEL, C1 controls, the line separators and the bidirectional controls as
//!   `\uXXXX` too, so the text shows what it holds and decodes to the very same strings.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters no rendering prints raw.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape_with(
    s: &str,
    keep: impl Fn(char) -> bool,
    extra: impl Fn(char, &mut String) -> bool,
) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| (is_hidden(c) && !keep(c)) || extra(c, &mut String::new()))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) && !keep(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else if !extra(c, &mut out) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a terminal or a log line: hidden characters as `\u{…}` escapes.
pub fn text(s: &str) -> Cow<'_, str> {
    escape_with(s, |_| false, |_, _| false)
}

/// Like [`text`] but keeps line feeds: for multi-line text orgops composed itself (an API
/// error, a report) whose lines are each escaped.
pub fn text_lines(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| c == '\n', |_, _| false)
}

/// Text inside markdown code (a span or a fenced block): as [`text`], and `<` as `\u{3c}`.
pub fn code(s: &str) -> Cow<'_, str> {
    escape_with(s, |_| false, angle)
}

/// Like [`code`] but keeps line feeds, for the content of a fenced block.
pub fn code_lines(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| c == '\n', angle)
}

/// A line inside a fenced code block (the fence from [`fence`] outlasts every backtick run,
/// and line breaks are escaped): nothing in it is markup, so only hidden characters are
/// escaped and `<` shows as it is.
pub fn fenced(s: &str) -> Cow<'_, str> {
    text(s)
}

/// Text inside an HTML element of the markdown (`<summary>…</summary>`, where GitHub does not
/// read markdown): as [`text`], then `&`, `<`, `>` and `"` as entities.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in text(s).chars() {
        if c == '"' {
            out.push_str("&quot;");
        } else if !entity(c, &mut out) {
            out.push(c);
        }
    }
    out
}

/// `&`, `<` and `>` as HTML entities (pushed to `out`: true), anything else not (false).
fn entity(c: char, out: &mut String) -> bool {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        _ => return false,
    }
    true
}

/// A sentence orgops composed with `` `code` `` in it (a refusal message and its override
/// hint, which may quote names): each backtick pair becomes a [`code_span`] of what it
/// encloses, the rest is [`prose`]. An unpaired backtick is shown as a character. Whatever the
/// quoted names hold, every piece is escaped for where it lands, so nothing becomes markup.
pub fn prose_with_code(s: &str) -> String {
    let pieces: Vec<&str> = s.split('`').collect();
    let pairs = (pieces.len() - 1) / 2;
    let mut out = String::with_capacity(s.len() + 8);
    for (i, piece) in pieces.iter().enumerate() {
        if i % 2 == 1 && i <= 2 * pairs {
            out.push_str(&code_span(piece));
        } else {
            if i > 2 * pairs {
                out.push_str("\\`");
            }
            out.push_str(&prose(piece));
        }
    }
    out
}

fn angle(c: char, out: &mut String) -> bool {
    if c == '<' {
        out.push_str("\\u{3c}");
        true
    } else {
        false
    }
}

fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// An inline code span showing `s`: escaped as [`code`], delimited by more backticks than
/// its longest run, padded with a space when it starts or ends with a backtick or a space.
pub fn code_span(s: &str) -> String {
    span(&code(s))
}

fn span(content: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(content) + 1);
    let pad =
        content.is_empty() || content.starts_with(['`', ' ']) || content.ends_with(['`', ' ']);
    if pad {
        format!("{ticks} {content} {ticks}")
    } else {
        format!("{ticks}{content}{ticks}")
    }
}

/// A code span inside a table cell: `|` is escaped too (GitHub splits cells before it
/// parses code spans, and shows `\|` in a span as `|`).
pub fn table_code_span(s: &str) -> String {
    span(&code(s).replace('|', "\\|"))
}

/// The fence for a code block holding `content`: backticks, one more than its longest run,
/// at least three.
pub fn fence(content: &str) -> String {
    "`".repeat((longest_backtick_run(content) + 1).max(3))
}

/// Text in markdown prose (outside code): nothing in it is markup.
pub fn prose(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in text(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if entity(c, &mut out) => {}
            c => out.push(c),
        }
    }
    out
}

/// The message of a workflow command (`::error::MESSAGE`): `%`, CR and LF percent-encoded as
/// GitHub decodes them, other hidden characters as `\u{…}`.
pub fn workflow_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if is_hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A property value of a workflow command (`file=…`): as [`workflow_data`], and `:` and `,`
/// percent-encoded.
pub fn workflow_property(s: &str) -> String {
    workflow_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A workflow command line (without the line feed): `::error::message`, properties escaped.
pub fn workflow_command(command: &str, properties: &[(&str, String)], message: &str) -> String {
    let properties = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", workflow_property(v)))
        .collect::<Vec<_>>()
        .join(",");
    let sep = if properties.is_empty() { "" } else { " " };
    format!("::{command}{sep}{properties}::{}", workflow_data(message))
}

/// A serde_json formatter that writes every [`is_hidden`] character of a string as a
/// `\uXXXX` escape (serde_json itself escapes only C0 controls, `"` and `\`), around
/// another formatter (compact or pretty) for everything else. Outside strings JSON has no
/// such characters, so the document means the same.
struct HiddenEscaping<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for HiddenEscaping<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_hidden(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // Every hidden character is in the Basic Multilingual Plane: one escape.
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as JSON (pretty: two-space indent, as `serde_json::to_string_pretty`)
/// with hidden characters escaped; nothing is buffered beyond what `writer` buffers.
pub fn write_json<W: std::io::Write, T: serde::Serialize + ?Sized>(
    writer: W,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    if pretty {
        let formatter = HiddenEscaping(serde_json::ser::PrettyFormatter::new());
        value.serialize(&mut serde_json::Serializer::with_formatter(
            writer, formatter,
        ))
    } else {
        let formatter = HiddenEscaping(serde_json::ser::CompactFormatter);
        value.serialize(&mut serde_json::Serializer::with_formatter(
            writer, formatter,
        ))
    }
}

fn json_string<T: serde::Serialize + ?Sized>(value: &T, pretty: bool) -> String {
    let mut bytes = Vec::new();
    // Plain data with string map keys (every caller's): serializing cannot fail, and the
    // formatter writes only UTF-8 (escapes are ASCII, fragments are whole characters).
    write_json(&mut bytes, value, pretty).expect("plain data serializes to JSON");
    String::from_utf8(bytes).expect("JSON is UTF-8")
}

/// `value` as pretty JSON, hidden characters escaped (see [`write_json`]).
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> String {
    json_string(value, true)
}

/// `value` as compact JSON, hidden characters escaped (see [`write_json`]).
pub fn json_compact<T: serde::Serialize + ?Sized>(value: &T) -> String {
    json_string(value, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_hidden_characters_and_decodes_to_the_same_value() {
        let value =
            serde_json::json!({"name": "a\u{9b}b\u{202e}c\u{7f}\u{1b}\u{2028}", "n": [1, "é"]});
        for text in [json_pretty(&value), json_compact(&value)] {
            assert!(!text.chars().any(|c| is_hidden(c) && c != '\n'), "{text:?}");
            assert!(
                text.contains("a\\u009bb\\u202ec\\u007f\\u001b\\u2028"),
                "{text}"
            );
            assert!(text.contains('é'));
            let back: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(back, value);
        }
        assert_eq!(
            json_pretty(&value.clone()),
            serde_json::to_string_pretty(&value)
                .expect("JSON")
                .replace('\u{9b}', "\\u009b")
                .replace('\u{202e}', "\\u202e")
                .replace('\u{7f}', "\\u007f")
                .replace('\u{2028}', "\\u2028")
        );
    }

    #[test]
    fn text_shows_hidden_characters_as_escapes() {
        assert_eq!(text("plain"), "plain");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(
            text("a\u{1b}[2J\u{0}\nb\u{202e}"),
            "a\\u{1b}[2J\\u{0}\\u{a}b\\u{202e}"
        );
        assert_eq!(text_lines("a\nb\u{7f}"), "a\nb\\u{7f}");
    }

    #[test]
    fn code_spans_and_fences_outlast_every_backtick_run() {
        assert_eq!(code_span("Search"), "`Search`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span("<!-- x"), "`\\u{3c}!-- x`");
        assert_eq!(table_code_span("a|b"), "`a\\|b`");
        assert_eq!(fence("no ticks"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }

    #[test]
    fn fenced_lines_html_and_prose_with_code() {
        assert_eq!(fenced("R&D <beta>\u{1b}"), "R&D <beta>\\u{1b}");
        assert_eq!(html("`main` <b>&\""), "`main` &lt;b&gt;&amp;&quot;");
        assert_eq!(
            prose_with_code("see `policy.min_owners` *now*"),
            "see `policy.min_owners` \\*now\\*"
        );
        assert_eq!(prose_with_code("a `b"), "a \\`b");
        assert_eq!(prose_with_code("`x`y` z"), "`x`y\\` z");
        assert_eq!(prose_with_code("`</details>`"), "`\\u{3c}/details>`");
    }

    #[test]
    fn prose_has_no_markup() {
        assert_eq!(
            prose("`x` <!-- *a* [l](u) & </details>\n"),
            "\\`x\\` &lt;!-- \\*a\\* \\[l\\](u) &amp; &lt;/details&gt;\\\\u{a}"
        );
    }

    #[test]
    fn workflow_commands_escape_data_and_properties() {
        assert_eq!(
            workflow_command(
                "error",
                &[("file", "a,b:c.yaml".into())],
                "50%\r\n::warning::x"
            ),
            "::error file=a%2Cb%3Ac.yaml::50%25%0D%0A::warning::x"
        );
        assert_eq!(
            workflow_command("warning", &[], "a\u{1b}"),
            "::warning::a\\u{1b}"
        );
    }
}
