//! Located problems and their three renderings.
//!
//! A [`Diagnostic`] names a file, a 1-based line and column, a severity, a message and an
//! optional hint. [`Diagnostics`] is the sorted list plus the source text of every file it
//! points into, so the human rendering can show the offending line with a caret:
//!
//! ```text
//! orgops.yaml:4:11: error: `ownr` is not one of: owner, reader
//!    4 |     role: ownr
//!      |           ^^^^
//!   help: did you mean `owner`?
//! ```
//!
//! `github` renders workflow commands (`::error file=…,line=…,col=…::…`), which GitHub turns
//! into annotations on the offending line of a pull request; `json` renders a list.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::source_map::Position;
use crate::text::escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One located problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file as the user named it (or the in-memory name given to `parse_str`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Characters to underline in the human rendering.
    #[serde(skip)]
    pub width: usize,
}

impl Diagnostic {
    pub fn error(file: &str, at: Position, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: at.line,
            column: at.column,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
            width: at.width.max(1),
        }
    }

    pub fn warning(file: &str, at: Position, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, at, message)
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    fn sort_key(&self) -> (&str, usize, usize, Severity, &str) {
        (
            &self.file,
            self.line,
            self.column,
            self.severity,
            &self.message,
        )
    }
}

/// A list of diagnostics and the sources they point into.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// File name -> text, for snippets.
    sources: BTreeMap<String, String>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Remembers a file's text so its diagnostics can show the offending line.
    pub fn add_source(&mut self, file: &str, text: &str) {
        self.sources.insert(file.to_string(), text.to_string());
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
        self.sources.extend(other.sources);
    }

    /// Diagnostics sorted by file, line, column (then severity and message, for determinism).
    pub fn items(&self) -> Vec<&Diagnostic> {
        let mut sorted: Vec<&Diagnostic> = self.items.iter().collect();
        sorted.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        sorted.dedup_by(|a, b| a == b);
        sorted
    }

    pub fn len(&self) -> usize {
        self.items().len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn error_count(&self) -> usize {
        self.items()
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Splits off the warnings (kept when a load succeeds).
    pub fn warnings(&self) -> Diagnostics {
        Diagnostics {
            items: self
                .items
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .cloned()
                .collect(),
            sources: self.sources.clone(),
        }
    }

    /// `FILE:LINE:COL: error: message`, the source line with a caret, then `help: …`.
    pub fn render_human(&self, color: bool) -> String {
        let paint = |code: &str, text: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let mut out = String::new();
        for d in self.items() {
            let severity = match d.severity {
                Severity::Error => paint("1;31", "error"),
                Severity::Warning => paint("1;33", "warning"),
            };
            // File names and messages may carry names from the file: never raw controls.
            let _ = writeln!(
                out,
                "{}:{}:{}: {severity}: {}",
                escape::text(&d.file),
                d.line,
                d.column,
                escape::text_lines(&d.message)
            );
            let line_text = self
                .sources
                .get(&d.file)
                .and_then(|text| text.lines().nth(d.line.saturating_sub(1)));
            if let Some(line_text) = line_text {
                let number = d.line.to_string();
                let gutter = " ".repeat(number.len());
                let spaced: String = line_text
                    .chars()
                    .map(|c| if c == '\t' { ' ' } else { c })
                    .collect();
                let shown = escape::text(&spaced);
                let _ = writeln!(
                    out,
                    "{} {} {shown}",
                    paint("1;34", &format!(" {number}")),
                    paint("1;34", "|")
                );
                let caret = format!(
                    "{}{}",
                    " ".repeat(d.column.saturating_sub(1)),
                    "^".repeat(d.width.max(1))
                );
                let caret_color = if d.severity == Severity::Error {
                    "1;31"
                } else {
                    "1;33"
                };
                let _ = writeln!(
                    out,
                    " {gutter} {} {}",
                    paint("1;34", "|"),
                    paint(caret_color, &caret)
                );
            }
            if let Some(hint) = &d.hint {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    paint("1;36", "help"),
                    escape::text_lines(hint)
                );
            }
        }
        out
    }

    /// GitHub workflow commands, one per diagnostic.
    pub fn render_github(&self) -> String {
        let mut out = String::new();
        for d in self.items() {
            let mut message = d.message.clone();
            if let Some(hint) = &d.hint {
                let _ = write!(message, " (help: {hint})");
            }
            let _ = writeln!(
                out,
                "::{} file={},line={},col={}::{}",
                d.severity.as_str(),
                escape_github_property(&d.file),
                d.line,
                d.column,
                escape_github_data(&message)
            );
        }
        out
    }

    /// A JSON list of `{file, line, column, severity, message, hint?}`.
    pub fn render_json(&self) -> String {
        let mut text = crate::text::escape::json_pretty(&self.items());
        text.push('\n');
        text
    }
}

pub use crate::text::suggest::did_you_mean;

fn escape_github_data(text: &str) -> String {
    escape::workflow_data(text)
}

fn escape_github_property(text: &str) -> String {
    escape::workflow_property(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        diagnostics.add_source("b.yaml", "users:\n  - email: a@x\n    role: ownr\n");
        diagnostics.push(
            Diagnostic::error(
                "b.yaml",
                Position {
                    line: 3,
                    column: 11,
                    width: 4,
                },
                "bad role",
            )
            .with_hint(Some("did you mean `owner`?".into())),
        );
        diagnostics.push(Diagnostic::warning(
            "a,1.yaml",
            Position::START,
            "100% odd\nsecond",
        ));
        diagnostics
    }

    #[test]
    fn human_shows_line_caret_and_help_sorted_by_file() {
        let text = sample().render_human(false);
        assert_eq!(
            text,
            "a,1.yaml:1:1: warning: 100% odd\nsecond\n\
             b.yaml:3:11: error: bad role\n 3 |     role: ownr\n   |           ^^^^\n  help: did you mean `owner`?\n"
        );
        assert!(
            sample()
                .render_human(true)
                .contains("\x1b[1;31merror\x1b[0m")
        );
    }

    #[test]
    fn github_escapes_data_and_properties() {
        let text = sample().render_github();
        assert_eq!(
            text,
            "::warning file=a%2C1.yaml,line=1,col=1::100%25 odd%0Asecond\n\
             ::error file=b.yaml,line=3,col=11::bad role (help: did you mean `owner`?)\n"
        );
    }

    #[test]
    fn did_you_mean_picks_the_closest_plausible_candidate() {
        assert_eq!(
            did_you_mean("ownr", ["owner", "reader"]),
            Some("did you mean `owner`?".into())
        );
        assert_eq!(did_you_mean("zzz", ["owner", "reader"]), None);
        assert_eq!(did_you_mean("owner", ["owner"]), None);
        assert_eq!(
            did_you_mean("root@acme.example", ["bob@acme.example"]),
            None
        );
        assert_eq!(
            did_you_mean("Owner", ["owner"]),
            Some("did you mean `owner`?".into())
        );
    }

    #[test]
    fn json_is_a_list_without_internal_fields() {
        let value: serde_json::Value =
            serde_json::from_str(&sample().render_json()).expect("valid JSON");
        assert_eq!(value[1]["file"], "b.yaml");
        assert_eq!(value[1]["hint"], "did you mean `owner`?");
        assert!(value[1].get("width").is_none());
        assert!(value[0].get("hint").is_none());
        assert_eq!(sample().error_count(), 1);
    }
}
