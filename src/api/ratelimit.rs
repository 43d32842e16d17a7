//! The one rate-limit controller every request of a [`Client`](super::Client) goes through.
//!
//! Three layers, applied in this order before each attempt:
//! 1. **Per route template** (e.g. `GET /organization/projects/{project_id}/users`, the unit
//!    the Admin API is reported to rate-limit, at ~7–10 requests/min): a "not before" instant
//!    (set by `Retry-After`/`Retry-After-Ms` or by backoff), a pacing interval between request
//!    starts, and a concurrency limit. Both adapt AIMD-style: a 429 halves the route's
//!    concurrency and widens its pacing interval; each success raises concurrency by `1/limit`
//!    and narrows the interval by a small factor, so a route converges on the pace the server
//!    accepts instead of hammering it.
//! 2. **Global concurrency**: a semaphore bounds requests in flight across all routes
//!    (default 8). A permit is held only for the HTTP exchange, never while sleeping.
//! 3. **Deadlines** (enforced by the client): a per-attempt timeout, and a per-request
//!    deadline for all retries of one logical request.
//!
//! The retry *decision* (which failures are retried for which kind of request) lives in the
//! client; this module only decides *when* the next attempt may start.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Tunables for the controller and the client's retries.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests in flight at once, across all routes.
    pub max_concurrency: usize,
    /// Bound on one HTTP exchange (connect, send, read the whole body).
    pub attempt_timeout: Duration,
    /// Bound on one logical request, all retries and waits included, counted from its first
    /// attempt.
    pub request_deadline: Duration,
    /// Attempts for failures other than 429 (5xx, transport errors, timeouts) before giving up.
    pub max_attempts: u32,
    /// First backoff after a 429 without `Retry-After`, and after a 5xx.
    pub initial_backoff: Duration,
    /// Longest single backoff. Must exceed the real API's refill period (~6–9 s at 7–10
    /// requests per minute), hence the one-minute default.
    pub max_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrency: 8,
            attempt_timeout: Duration::from_secs(60),
            request_deadline: Duration::from_secs(15 * 60),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Adaptive state of one route template.
#[derive(Debug)]
struct RouteState {
    /// No attempt on this route starts before this instant.
    not_before: Instant,
    /// Minimum spacing between attempt starts; zero until the route has seen a 429.
    interval: Duration,
    /// Current concurrency limit (fractional so additive increase can be gradual).
    limit: f64,
    in_flight: usize,
    /// When the route last slowed down. A 429 for an attempt started before then was already
    /// accounted for (it was in flight), so it does not slow the route again.
    adapted_at: Option<Instant>,
    /// Whether an attempt started after the last slow-down succeeded. Until one does, the
    /// pace is still too fast and widens quickly (×2); after, gently (×1.25).
    succeeded_since_adapted: bool,
    /// Woken when an attempt on this route finishes.
    notify: Arc<Notify>,
}

/// What an attempt's outcome tells the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// The server accepted the request rate (any non-429 answer).
    Ok,
    /// 429 with a server-stated wait.
    RateLimited(Option<Duration>),
    /// A server or transport failure: back off this route by the given delay.
    Failed(Duration),
}

/// The shared controller. Cheap to clone behind an `Arc`.
#[derive(Debug)]
pub struct RateController {
    limits: Limits,
    global: Arc<Semaphore>,
    routes: Mutex<BTreeMap<String, RouteState>>,
}

/// Held for the duration of one attempt; releases the route slot and global permit on drop.
#[derive(Debug)]
pub struct AttemptSlot {
    controller: Arc<RateController>,
    route: String,
    _permit: OwnedSemaphorePermit,
}

impl Drop for AttemptSlot {
    fn drop(&mut self) {
        let mut routes = self.controller.lock_routes();
        if let Some(state) = routes.get_mut(&self.route) {
            state.in_flight = state.in_flight.saturating_sub(1);
            state.notify.notify_waiters();
        }
    }
}

impl RateController {
    pub fn new(limits: Limits) -> Arc<Self> {
        let permits = limits.max_concurrency.max(1);
        Arc::new(RateController {
            limits,
            global: Arc::new(Semaphore::new(permits)),
            routes: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock_routes(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, RouteState>> {
        // A panic while holding this lock leaves only counters behind; they stay usable.
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn new_route(&self) -> RouteState {
        RouteState {
            not_before: Instant::now(),
            interval: Duration::ZERO,
            limit: self.limits.max_concurrency.max(1) as f64,
            in_flight: 0,
            adapted_at: None,
            succeeded_since_adapted: false,
            notify: Arc::new(Notify::new()),
        }
    }

    /// Waits until `route` may start an attempt, then reserves a route slot and a global
    /// permit. Returns `None` if that cannot happen before `deadline`.
    pub async fn acquire(self: &Arc<Self>, route: &str, deadline: Instant) -> Option<AttemptSlot> {
        loop {
            let wait = {
                let mut routes = self.lock_routes();
                let state = routes
                    .entry(route.to_string())
                    .or_insert_with(|| self.new_route());
                let now = Instant::now();
                if state.not_before > now {
                    Wait::Until(state.not_before)
                } else if (state.in_flight as f64) >= state.limit.floor().max(1.0) {
                    Wait::Slot(state.notify.clone())
                } else {
                    state.in_flight += 1;
                    // Pacing: the next start on this route is at least `interval` later.
                    state.not_before = now + state.interval;
                    Wait::Ready
                }
            };
            match wait {
                Wait::Ready => break,
                Wait::Until(at) => {
                    if at > deadline {
                        return None;
                    }
                    tokio::time::sleep_until(at).await;
                }
                Wait::Slot(notify) => {
                    let notified = notify.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    // Re-check after registering, so a release between the check and the
                    // registration is not missed.
                    let still_full = {
                        let routes = self.lock_routes();
                        routes
                            .get(route)
                            .is_some_and(|s| (s.in_flight as f64) >= s.limit.floor().max(1.0))
                    };
                    if still_full && tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return None;
                    }
                }
            }
        }
        let permit =
            match tokio::time::timeout_at(deadline, self.global.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                // Timed out, or the semaphore was closed (never happens: it is never closed).
                _ => {
                    self.release_route(route);
                    return None;
                }
            };
        Some(AttemptSlot {
            controller: self.clone(),
            route: route.to_string(),
            _permit: permit,
        })
    }

    fn release_route(&self, route: &str) {
        let mut routes = self.lock_routes();
        if let Some(state) = routes.get_mut(route) {
            state.in_flight = state.in_flight.saturating_sub(1);
            state.notify.notify_waiters();
        }
    }

    /// Records the outcome of an attempt that started at `started` and returns how long the
    /// caller should wait before retrying (the route's `not_before` moves accordingly, so
    /// concurrent requests on the same route wait too).
    pub fn feedback(&self, route: &str, feedback: Feedback, started: Instant) -> Duration {
        let max_concurrency = self.limits.max_concurrency.max(1) as f64;
        let mut routes = self.lock_routes();
        let state = routes
            .entry(route.to_string())
            .or_insert_with(|| self.new_route());
        let now = Instant::now();
        let fresh = state.adapted_at.is_none_or(|at| started >= at);
        match feedback {
            Feedback::Ok => {
                state.limit = (state.limit + 1.0 / state.limit.max(1.0)).min(max_concurrency);
                if fresh {
                    state.succeeded_since_adapted = true;
                    // Narrow the pace slowly: a route that was limited stays near the rate
                    // it proved it can sustain rather than snapping back into a burst.
                    state.interval = state.interval.mul_f64(0.97);
                    if state.interval < Duration::from_millis(20) {
                        state.interval = Duration::ZERO;
                    }
                }
                Duration::ZERO
            }
            Feedback::RateLimited(stated) => {
                if fresh {
                    state.limit = (state.limit / 2.0).max(1.0);
                    state.adapted_at = Some(now);
                }
                let wait = match stated {
                    Some(wait) => {
                        if fresh {
                            // The server said how long; space later requests a little too.
                            state.interval =
                                state.interval.max(self.limits.initial_backoff.min(wait));
                        }
                        wait
                    }
                    None => {
                        if fresh {
                            let factor = if state.succeeded_since_adapted {
                                1.25
                            } else {
                                2.0
                            };
                            let widened = if state.interval.is_zero() {
                                self.limits.initial_backoff
                            } else {
                                state.interval.mul_f64(factor)
                            };
                            state.interval = widened.min(self.limits.max_backoff);
                        }
                        jitter(state.interval)
                    }
                };
                if fresh {
                    state.succeeded_since_adapted = false;
                }
                state.not_before = state.not_before.max(now + wait);
                wait
            }
            Feedback::Failed(wait) => {
                let wait = jitter(wait);
                state.not_before = state.not_before.max(now + wait);
                wait
            }
        }
    }

    /// The exponential backoff for the `attempt`-th failure (1-based), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.limits
            .initial_backoff
            .saturating_mul(factor)
            .min(self.limits.max_backoff)
    }

    /// The route's current concurrency limit and pacing interval (for tests and diagnostics).
    pub fn route_state(&self, route: &str) -> Option<(f64, Duration)> {
        self.lock_routes().get(route).map(|s| (s.limit, s.interval))
    }
}

enum Wait {
    Ready,
    Until(Instant),
    Slot(Arc<Notify>),
}

/// Spreads `base` over [0.75, 1.25]·base so concurrent clients do not retry in lockstep.
fn jitter(base: Duration) -> Duration {
    if base.is_zero() {
        return base;
    }
    // Seeded per call from the clock and a counter: jitter needs spread, not secrecy.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let seed = nanos
        ^ CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let factor: f64 = SmallRng::seed_from_u64(seed).random_range(0.75..=1.25);
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_concurrency: 8,
            initial_backoff: Duration::from_millis(100),
            ..Limits::default()
        }
    }

    #[test]
    fn rate_limit_without_header_halves_concurrency_and_widens_pace() {
        let controller = RateController::new(limits());
        let route = "GET /organization/users";
        let first = controller.feedback(route, Feedback::RateLimited(None), Instant::now());
        assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
        let (limit, interval) = controller.route_state(route).expect("route recorded");
        assert_eq!(limit, 4.0);
        assert_eq!(interval, Duration::from_millis(100));
        controller.feedback(route, Feedback::RateLimited(None), Instant::now());
        let (limit, interval) = controller.route_state(route).expect("route recorded");
        assert_eq!(limit, 2.0);
        assert_eq!(
            interval,
            Duration::from_millis(200),
            "no success yet: the pace doubles"
        );
        controller.feedback(route, Feedback::Ok, Instant::now());
        controller.feedback(route, Feedback::RateLimited(None), Instant::now());
        let (_, interval) = controller.route_state(route).expect("route recorded");
        assert_eq!(
            interval,
            Duration::from_millis(200).mul_f64(0.97).mul_f64(1.25),
            "after a success: gently"
        );
        // Other routes are untouched.
        assert!(
            controller
                .route_state("GET /organization/invites")
                .is_none()
        );
    }

    #[test]
    fn a_burst_of_429s_from_requests_already_in_flight_slows_the_route_once() {
        let controller = RateController::new(limits());
        let route = "GET /organization/projects/{project_id}/users";
        let in_flight_since = Instant::now();
        for _ in 0..8 {
            controller.feedback(route, Feedback::RateLimited(None), in_flight_since);
        }
        let (limit, interval) = controller.route_state(route).expect("route recorded");
        assert_eq!((limit, interval), (4.0, Duration::from_millis(100)));
    }

    #[test]
    fn successes_raise_concurrency_again_up_to_the_maximum() {
        let controller = RateController::new(limits());
        let route = "GET /organization/groups";
        controller.feedback(route, Feedback::RateLimited(None), Instant::now());
        controller.feedback(route, Feedback::RateLimited(None), Instant::now());
        controller.feedback(route, Feedback::RateLimited(None), Instant::now());
        assert_eq!(controller.route_state(route).map(|s| s.0), Some(1.0));
        for _ in 0..200 {
            controller.feedback(route, Feedback::Ok, Instant::now());
        }
        let (limit, interval) = controller.route_state(route).expect("route recorded");
        assert_eq!(limit, 8.0);
        assert_eq!(interval, Duration::ZERO);
    }

    #[test]
    fn stated_retry_after_is_used_as_is() {
        let controller = RateController::new(limits());
        let wait = controller.feedback(
            "GET /x",
            Feedback::RateLimited(Some(Duration::from_secs(7))),
            Instant::now(),
        );
        assert_eq!(wait, Duration::from_secs(7));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let controller = RateController::new(Limits {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            ..Limits::default()
        });
        assert_eq!(controller.backoff(1), Duration::from_millis(500));
        assert_eq!(controller.backoff(2), Duration::from_secs(1));
        assert_eq!(controller.backoff(30), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn route_concurrency_limit_is_enforced() {
        let controller = RateController::new(limits());
        let route = "GET /organization/projects";
        controller.feedback(
            route,
            Feedback::RateLimited(Some(Duration::ZERO)),
            Instant::now(),
        );
        controller.feedback(
            route,
            Feedback::RateLimited(Some(Duration::ZERO)),
            Instant::now(),
        );
        controller.feedback(
            route,
            Feedback::RateLimited(Some(Duration::ZERO)),
            Instant::now(),
        );
        // Limit is now 1: a second acquire must wait until the first slot is dropped.
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = controller
            .acquire(route, deadline)
            .await
            .expect("first slot");
        let short = Instant::now() + Duration::from_millis(300);
        assert!(
            controller.acquire(route, short).await.is_none(),
            "second slot must wait"
        );
        drop(first);
        assert!(controller.acquire(route, deadline).await.is_some());
    }
}
