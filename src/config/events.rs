//! The YAML parser's events, produced on a second thread for large texts.
//!
//! Scanning and parsing YAML (granit_parser) is about half of loading a large desired-state
//! file, and building the source map and the value from the events the other half. On a
//! machine with a second core the parser runs there, a batch of events ahead, so the two
//! halves overlap; the events and their order are exactly the parser's either way. Small
//! texts, and machines with one core, parse on the calling thread.

use std::sync::mpsc;

use serde_saphyr::granit_parser::{Event, Parser, Span};

/// Texts from this size on are parsed on a second thread (below it, starting a thread costs
/// more than the overlap gains).
const THREADED_FROM_BYTES: usize = 256 * 1024;
/// Events per batch sent between the threads, and batches in flight: at most 8,192 events
/// (about 1 MB) ahead of the consumer.
const BATCH: usize = 1024;
const BATCHES_IN_FLIGHT: usize = 8;

#[cfg(test)]
thread_local! {
    /// Set by a test that measures what one thread allocates: parse on that thread.
    pub static ON_THIS_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One parser event, or `Err` where the parser rejected the text (the loader reports that
/// error itself, through serde-saphyr, with its location).
pub type Item<'a> = Result<(Event<'a>, Span), ()>;

/// The events of a text, in the parser's order, ending after the last one or the first error.
pub enum Events<'a> {
    /// Boxed: the parser is large and the enum is moved into the consumer.
    Here(Box<Parser<'a, serde_saphyr::granit_parser::StrInput<'a>>>),
    Thread {
        batches: mpsc::Receiver<Vec<Item<'a>>>,
        batch: std::vec::IntoIter<Item<'a>>,
    },
}

impl<'a> Iterator for Events<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        match self {
            Events::Here(parser) => parser.next_event().map(|item| item.map_err(|_| ())),
            Events::Thread { batches, batch } => loop {
                if let Some(item) = batch.next() {
                    return Some(item);
                }
                // The producer hung up: every event was handed over.
                *batch = batches.recv().ok()?.into_iter();
            },
        }
    }
}

/// Runs `consume` over the events of `text`. Whatever `consume` leaves unread is dropped:
/// the producer stops at its next send, and this returns once it has.
pub fn with_events<'a, R>(text: &'a str, consume: impl FnOnce(Events<'a>) -> R) -> R {
    let here = || Events::Here(Box::new(Parser::new_from_str(text)));
    if text.len() < THREADED_FROM_BYTES || forced_here() || !second_core() {
        return consume(here());
    }
    std::thread::scope(|scope| {
        let (sender, batches) = mpsc::sync_channel::<Vec<Item<'a>>>(BATCHES_IN_FLIGHT);
        let producer = std::thread::Builder::new()
            .name("yaml-parser".into())
            .spawn_scoped(scope, move || {
                let mut parser = Parser::new_from_str(text);
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(item) = parser.next_event() {
                    let failed = item.is_err();
                    batch.push(item.map_err(|_| ()));
                    if batch.len() == BATCH || failed {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        // A send fails only when the consumer is done: stop parsing.
                        if sender.send(full).is_err() || failed {
                            return;
                        }
                    }
                }
                let _ = sender.send(batch);
            });
        match producer {
            Ok(_) => consume(Events::Thread {
                batches,
                batch: Vec::new().into_iter(),
            }),
            // No thread to be had: parse here, as on one core.
            Err(_) => consume(here()),
        }
    })
}

fn second_core() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

#[cfg(test)]
fn forced_here() -> bool {
    ON_THIS_THREAD.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn forced_here() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The threaded stream is the parser's own, event for event and span for span, across
    /// batch boundaries and up to an error.
    #[test]
    fn threaded_events_are_the_parsers_events() {
        let mut text = String::from("version: 1\nusers:\n");
        while text.len() < THREADED_FROM_BYTES * 2 {
            let n = text.len();
            text.push_str(&format!("  - email: u{n}@example.com\n    role: reader\n"));
        }
        let broken = format!("{text}  - [unclosed\n");
        for text in [text.as_str(), broken.as_str()] {
            let mut here = Parser::new_from_str(text);
            let expected: Vec<String> = std::iter::from_fn(|| here.next_event())
                .map(|item| format!("{:?}", item.map_err(|_| ())))
                .collect();
            let threaded: Vec<String> = with_events(text, |events| {
                assert_eq!(matches!(events, Events::Thread { .. }), second_core());
                events.map(|item| format!("{item:?}")).collect()
            });
            let error_at = expected.iter().position(|e| e.starts_with("Err"));
            let expected = match error_at {
                Some(i) => &expected[..=i],
                None => &expected[..],
            };
            assert!(expected.len() > BATCH * 2, "{}", expected.len());
            assert_eq!(threaded, expected);
        }
    }

    /// A consumer that stops early does not leave the producer blocked (the call returns).
    #[test]
    fn a_consumer_may_stop_early() {
        let text = "- a\n".repeat(THREADED_FROM_BYTES);
        let first: Vec<Item<'_>> = with_events(&text, |events| events.take(3).collect());
        assert_eq!(first.len(), 3);
    }
}
