//! Progress of a live read, as requests done out of requests expected.
//!
//! "Expected" grows as the read learns more: one request per collection it decides to list,
//! plus one for every page that says `has_more`. On a terminal stderr it is an indicatif bar;
//! otherwise (CI) plain lines `reading live org: 12/40 requests`, at most one every two
//! seconds plus a final one, so logs stay short.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives request counts from a live read. Called only from the reading task.
pub trait Progress: Sync {
    /// `requests` more requests are now expected.
    fn expect(&self, requests: u64);
    /// `requests` more requests are done.
    fn done(&self, requests: u64);
    /// The read is over (successfully or not).
    fn finish(&self);
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn expect(&self, _: u64) {}
    fn done(&self, _: u64) {}
    fn finish(&self) {}
}

/// Counts only; for tests and benchmarks that compare requests to the minimum.
#[derive(Debug, Default)]
pub struct CountingProgress {
    counts: Mutex<(u64, u64)>,
}

impl CountingProgress {
    /// (done, expected).
    pub fn counts(&self) -> (u64, u64) {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for CountingProgress {
    fn expect(&self, requests: u64) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).1 += requests;
    }
    fn done(&self, requests: u64) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).0 += requests;
    }
    fn finish(&self) {}
}

/// The progress display on stderr.
pub struct StderrProgress {
    display: Display,
}

enum Display {
    Bar(ProgressBar),
    Lines(Mutex<LineState>),
}

struct LineState {
    done: u64,
    expected: u64,
    last_print: Option<Instant>,
}

const LINE_INTERVAL: Duration = Duration::from_secs(2);

impl StderrProgress {
    /// A bar when `stderr_is_tty` (see [`crate::printer::Printer`]), plain lines otherwise.
    pub fn new(stderr_is_tty: bool) -> Self {
        let display = if stderr_is_tty {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "reading live org {bar:30} {pos}/{len} requests, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            Display::Bar(bar)
        } else {
            Display::Lines(Mutex::new(LineState {
                done: 0,
                expected: 0,
                last_print: Some(Instant::now()),
            }))
        };
        StderrProgress { display }
    }

    fn line(&self, force: bool) {
        if let Display::Lines(state) = &self.display {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            let due = state
                .last_print
                .is_none_or(|at| at.elapsed() >= LINE_INTERVAL);
            if force || due {
                state.last_print = Some(Instant::now());
                // A failed write to stderr is not worth failing the read for.
                let _ = writeln!(
                    std::io::stderr(),
                    "reading live org: {}/{} requests",
                    state.done,
                    state.expected
                );
            }
        }
    }
}

impl Progress for StderrProgress {
    fn expect(&self, requests: u64) {
        match &self.display {
            Display::Bar(bar) => bar.inc_length(requests),
            Display::Lines(state) => {
                state.lock().unwrap_or_else(|p| p.into_inner()).expected += requests
            }
        }
    }

    fn done(&self, requests: u64) {
        match &self.display {
            Display::Bar(bar) => bar.inc(requests),
            Display::Lines(state) => {
                state.lock().unwrap_or_else(|p| p.into_inner()).done += requests;
                self.line(false);
            }
        }
    }

    fn finish(&self) {
        match &self.display {
            Display::Bar(bar) => bar.finish_and_clear(),
            Display::Lines(_) => self.line(true),
        }
    }
}
