//! The terminal rendering: one line per change (`+ ~ - ±`, the verb, the key, and
//! `(irreversible)` or `(destructive)` where the verb does not say it takes something away), its field
//! lines indented below, then what waits for invites to be accepted (by email), reported
//! unmanaged objects, refusals, and the summary line. A partial plan (`--target`) says so
//! first, with its targets, and again last.
//! ANSI colour only when `color` is true (the caller decides from `NO_COLOR` and the TTY).
//! Names and values are printed through [`escape::text`]: a control character in a name is
//! shown as `\u{1b}`, never sent to the terminal.

use std::fmt::Write;

use super::{FieldLine, LineTag, change_lines, summary_sentence};
use crate::plan::{Action, ActionClass, Plan};
use crate::text::escape;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const MAGENTA: &str = "\x1b[35m";
const DIM: &str = "\x1b[2m";

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn action_color(action: Action) -> &'static str {
        match action.class() {
            ActionClass::Add => GREEN,
            ActionClass::Change => YELLOW,
            ActionClass::Replace => MAGENTA,
            ActionClass::Remove | ActionClass::Archive => RED,
        }
    }

    fn field(&self, line: &FieldLine) -> String {
        let text = escape::text(&line.text);
        match line.tag {
            LineTag::Plain => text.into_owned(),
            LineTag::Added => self.paint(GREEN, &format!("  + {text}")),
            LineTag::Removed => self.paint(RED, &format!("  - {text}")),
            LineTag::Unchanged => self.paint(DIM, &format!("    {text}")),
        }
    }
}

/// Width of the verb column: the longest verb.
const VERB_WIDTH: usize = 10;

/// Render `plan` for a terminal.
pub fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write(plan, color, &mut out);
    out
}

/// [`render`] written to `out` line by line (`orgops plan` streams it to stdout: a large
/// plan's text is never held whole).
pub fn write(plan: &Plan, color: bool, out: &mut (impl Write + ?Sized)) -> std::fmt::Result {
    let p = Painter { color };
    if plan.is_partial() {
        writeln!(
            out,
            "{}",
            p.paint(
                YELLOW,
                "Warning: this is a partial plan (--target): only the changes of these targets and what they depend on."
            )
        )?;
        for target in &plan.targets {
            writeln!(out, "  --target {}", escape::text(target))?;
        }
        writeln!(
            out,
            "Every other difference between the file and the organization is left out, and apply will not make it.\n"
        )?;
    }
    if plan.changes.is_empty() {
        out.write_str(super::no_changes(plan))?;
        out.write_char('\n')?;
    } else {
        writeln!(out, "orgops will make these changes, in this order:\n")?;
        for change in &plan.changes {
            let marker = format!(
                "{} {:<VERB_WIDTH$}",
                change.action.symbol(),
                change.action.as_str()
            );
            let note = if change.action == Action::Archive {
                "  (irreversible)"
            } else if change.destructive && !change.action.is_destructive() {
                // Takes something away without a removal verb (a lowered or first spend
                // limit, zero retention turned on): counted by `max_removals`, so said.
                "  (destructive)"
            } else {
                ""
            };
            let head = format!(
                "{} {}{}",
                p.paint(Painter::action_color(change.action), &marker),
                escape::text(&change.key),
                note
            );
            writeln!(out, "{}", head.trim_end())?;
            for line in change_lines(change, "->") {
                writeln!(out, "      {}", p.field(&line))?;
            }
        }
    }
    if !plan.waiting.is_empty() {
        writeln!(
            out,
            "\n{}",
            p.paint(
                BOLD,
                "Waiting for invites (not part of this apply; the first run after acceptance plans them):"
            )
        )?;
        for waiting in &plan.waiting {
            writeln!(
                out,
                "  {} ({}):",
                escape::text(&waiting.email),
                super::invite_state(plan, waiting)
            )?;
            for key in &waiting.deferred {
                writeln!(out, "      {}", escape::text(key))?;
            }
        }
    }
    if !plan.unmanaged.is_empty() {
        writeln!(
            out,
            "\n{}",
            p.paint(BOLD, "Not in the file (reported, not changed):")
        )?;
        for object in &plan.unmanaged {
            match &object.note {
                Some(note) => {
                    writeln!(
                        out,
                        "  ? {} ({})",
                        escape::text(&object.key),
                        escape::text(note)
                    )?;
                }
                None => {
                    writeln!(out, "  ? {}", escape::text(&object.key))?;
                }
            }
        }
        let all: Vec<_> = plan.unmanaged.iter().collect();
        let lines = super::removal_lines(&all);
        if !lines.is_empty() {
            let _ = writeln!(
                out,
                "  apply leaves them; to remove them instead, set in the file ({}):",
                super::POLICY_PLACE
            );
            for (line, n) in lines {
                let _ = writeln!(out, "    {line}   ({n} listed above)");
            }
        }
    }
    if !plan.refusals.is_empty() {
        writeln!(
            out,
            "\n{}",
            p.paint(RED, "Refused: this plan must not be applied.")
        )?;
        for refusal in &plan.refusals {
            writeln!(
                out,
                "  [{}] {}",
                refusal.rule.as_str(),
                escape::text(&refusal.message)
            )?;
            let objects: Vec<_> = refusal.objects.iter().map(|o| escape::text(o)).collect();
            writeln!(out, "    objects: {}", objects.join(", "))?;
            writeln!(
                out,
                "    to override: {}",
                escape::text(&refusal.override_hint)
            )?;
        }
    }
    writeln!(out, "\n{}", p.paint(BOLD, &summary_sentence(plan)))?;
    if plan.is_partial() {
        writeln!(
            out,
            "{}",
            p.paint(
                YELLOW,
                "This is a partial plan (--target): run `orgops plan` without --target to see everything apply would change."
            )
        )?;
    }
    Ok(())
}
