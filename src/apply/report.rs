//! What happened to each change, for people (text, stdout) and machines (JSON,
//! `--report FILE`), and the progress display on stderr while it happens.
//!
//! Nothing here ever holds a key value: outcomes carry the API's error text (already
//! scrubbed of the admin key by the client) and sink descriptions (paths and program names).

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::plan::{Action, Change, ChangeId, ResourceKind};

/// Version of the JSON report format.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// How one change ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The API calls were made and succeeded.
    Applied {
        /// E.g. where a generated key went.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Nothing needed doing: already gone, already invited, already a member.
    AlreadySatisfied { reason: String },
    /// The API (or a sink) refused; the message says why.
    Failed { error: String },
    /// Not attempted because something it depends on did not succeed.
    Skipped { reason: String },
}

impl Outcome {
    /// Applied or already satisfied: dependents may go ahead.
    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            Outcome::Applied { .. } | Outcome::AlreadySatisfied { .. }
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Applied { .. } => "applied",
            Outcome::AlreadySatisfied { .. } => "already satisfied",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Applied { note } => note.as_deref(),
            Outcome::AlreadySatisfied { reason } | Outcome::Skipped { reason } => Some(reason),
            Outcome::Failed { error } => Some(error),
        }
    }
}

/// One change and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeReport {
    pub id: ChangeId,
    pub kind: ResourceKind,
    pub key: String,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Counts per outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    pub applied: usize,
    pub already_satisfied: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Every change of the plan, in plan order, with its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub changes: Vec<ChangeReport>,
    /// Wall time of the execution.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl ApplyReport {
    pub fn summary(&self) -> ReportSummary {
        let mut summary = ReportSummary::default();
        for change in &self.changes {
            match change.outcome {
                Outcome::Applied { .. } => summary.applied += 1,
                Outcome::AlreadySatisfied { .. } => summary.already_satisfied += 1,
                Outcome::Failed { .. } => summary.failed += 1,
                Outcome::Skipped { .. } => summary.skipped += 1,
            }
        }
        summary
    }

    /// Every change applied or already satisfied.
    pub fn all_succeeded(&self) -> bool {
        self.changes.iter().all(|c| c.outcome.succeeded())
    }

    /// The JSON report (`--report FILE`), pretty, with a trailing newline.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "format_version": REPORT_FORMAT_VERSION,
            "orgops_version": env!("CARGO_PKG_VERSION"),
            "result": if self.all_succeeded() { "applied" } else { "partial" },
            "summary": self.summary(),
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "changes": self.changes,
        });
        let mut text = crate::text::escape::json_pretty(&value);
        text.push('\n');
        text
    }

    /// The text report: failures and skips with their reasons, then one summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let marker = match change.outcome {
                Outcome::Applied { .. } => "✓",
                Outcome::AlreadySatisfied { .. } => "=",
                Outcome::Failed { .. } => "✗",
                Outcome::Skipped { .. } => "·",
            };
            // Keys and API messages may carry names from the organization: never raw controls.
            out.push_str(&format!(
                "{marker} {} {} ({})",
                change.action,
                crate::text::escape::text(&change.key),
                change.outcome.label()
            ));
            if let Some(detail) = change.outcome.detail() {
                out.push_str(": ");
                out.push_str(&crate::text::escape::text(detail));
            }
            out.push('\n');
        }
        let s = self.summary();
        out.push_str(&format!(
            "Apply {}: {} applied, {} already satisfied, {} failed, {} skipped ({:.1}s).\n",
            if self.all_succeeded() {
                "complete"
            } else {
                "incomplete"
            },
            s.applied,
            s.already_satisfied,
            s.failed,
            s.skipped,
            self.elapsed.as_secs_f64()
        ));
        out
    }
}

/// Told about each change as it starts and ends. Implementations must be cheap: they are
/// called from the executor's scheduling loop.
pub trait ApplyProgress: Send + Sync {
    fn begin(&self, total: usize);
    fn finished(&self, change: &Change, outcome: &Outcome);
    fn end(&self);
}

/// No display (tests, benchmarks).
#[derive(Debug, Default)]
pub struct NoApplyProgress;

impl ApplyProgress for NoApplyProgress {
    fn begin(&self, _total: usize) {}
    fn finished(&self, _change: &Change, _outcome: &Outcome) {}
    fn end(&self) {}
}

/// Progress on stderr: an indicatif bar on a terminal, one plain line per change otherwise.
pub struct StderrApplyProgress {
    bar: Option<indicatif::ProgressBar>,
    state: Mutex<(usize, usize)>,
}

impl StderrApplyProgress {
    pub fn new(stderr_is_tty: bool) -> Self {
        let bar = stderr_is_tty.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} applying [{bar:30}] {pos}/{len} {wide_msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        StderrApplyProgress {
            bar,
            state: Mutex::new((0, 0)),
        }
    }
}

impl ApplyProgress for StderrApplyProgress {
    fn begin(&self, total: usize) {
        if let Ok(mut state) = self.state.lock() {
            *state = (0, total);
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        }
    }

    fn finished(&self, change: &Change, outcome: &Outcome) {
        let (done, total) = match self.state.lock() {
            Ok(mut state) => {
                state.0 += 1;
                *state
            }
            Err(_) => (0, 0),
        };
        // Named as the report names it (`create project:Research`); keys carry names from
        // the organization: never raw controls on the terminal.
        let id = format!(
            "{} {}",
            change.action,
            crate::text::escape::text(&change.key)
        );
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{} {id}", outcome.label()));
                if !outcome.succeeded() {
                    bar.println(format!(
                        "{} {id}: {}",
                        outcome.label(),
                        crate::text::escape::text(outcome.detail().unwrap_or_default())
                    ));
                }
            }
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "[{done}/{total}] {} {id}",
                    outcome.label()
                );
            }
        }
    }

    fn end(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome) -> ChangeReport {
        ChangeReport {
            id: ChangeId("project:create:Search".into()),
            kind: ResourceKind::Project,
            key: "project:Search".into(),
            action: Action::Create,
            outcome,
        }
    }

    #[test]
    fn text_and_json_say_what_happened_and_why() {
        let apply = ApplyReport {
            changes: vec![
                report(Outcome::Applied { note: None }),
                report(Outcome::Failed {
                    error: "POST /organization/projects failed: HTTP 400".into(),
                }),
                report(Outcome::Skipped {
                    reason: "depends on project:create:Search, which failed".into(),
                }),
                report(Outcome::AlreadySatisfied {
                    reason: "already gone".into(),
                }),
            ],
            elapsed: Duration::from_millis(1500),
        };
        assert!(!apply.all_succeeded());
        let text = apply.render_text();
        assert!(
            text.contains("✗ create project:Search (failed): POST /organization/projects failed")
        );
        assert!(text.contains(
            "Apply incomplete: 1 applied, 1 already satisfied, 1 failed, 1 skipped (1.5s)."
        ));
        let json: serde_json::Value = serde_json::from_str(&apply.to_json()).expect("json");
        assert_eq!(json["result"], "partial");
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["changes"][2]["status"], "skipped");
        assert_eq!(json["changes"][2]["kind"], "project");
        assert!(
            json["changes"][2]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("which failed"))
        );
    }
}
