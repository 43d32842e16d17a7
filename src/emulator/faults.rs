//! Fault injection and request accounting: latency, per-route rate limiting (token bucket),
//! random server failures and dropped connections, and request counters by route template.
//!
//! A route template is the method plus the spec's path template without `/v1`, e.g.
//! `GET /organization/projects/{project_id}/users` (axum's matched path uses the same
//! `{param}` syntax as the spec).
//!
//! Fault choices come from their own seeded RNG (separate from the id RNG so that turning
//! faults on does not change ids): the same seed and the same request sequence produce the
//! same faults.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The runtime-adjustable fault settings (`--latency-ms`, `--rate-limit-rpm`,
/// `--retry-after`, `--fault-rate`; `POST /_emulator/faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Added to every `/v1` request.
    #[serde(default)]
    pub latency_ms: u64,
    /// Requests per minute per route template; `None` = unlimited.
    #[serde(default)]
    pub rate_limit_rpm: Option<u32>,
    /// Whether 429 responses carry `Retry-After` (the real admin endpoints reportedly omit it).
    #[serde(default)]
    pub retry_after: bool,
    /// Fraction (0..=1) of requests that fail with 500/502/503 or a dropped connection.
    #[serde(default)]
    pub fault_rate: f64,
}

/// The longest latency the emulator adds to a request: one minute. Longer is no test of
/// anything, and an unbounded value (2^64 ms) would hang every request.
pub const MAX_LATENCY_MS: u64 = 60_000;

impl FaultSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency_ms must be at most {MAX_LATENCY_MS}, got {}",
                self.latency_ms
            ));
        }
        if !(0.0..=1.0).contains(&self.fault_rate) || self.fault_rate.is_nan() {
            return Err(format!(
                "fault_rate must be between 0 and 1, got {}",
                self.fault_rate
            ));
        }
        if self.rate_limit_rpm == Some(0) {
            return Err("rate_limit_rpm must be at least 1 (omit it for no limit)".to_string());
        }
        Ok(())
    }
}

/// What a faulty request gets instead of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FaultKind {
    /// 500, 502 or 503 with the error envelope.
    Status(u16),
    /// The connection is closed without a response.
    Drop,
}

/// For writes: whether the mutation happened before the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FaultTiming {
    BeforeApply,
    AfterApply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub timing: FaultTiming,
}

/// Request counters: `{"total": N, "by_route": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub total: u64,
    pub by_route: BTreeMap<String, u64>,
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// All fault and accounting state of one emulator.
#[derive(Debug)]
pub struct Faults {
    settings: Mutex<FaultSettings>,
    rng: Mutex<StdRng>,
    buckets: Mutex<HashMap<String, Bucket>>,
    stats: Mutex<Stats>,
}

/// Locks a mutex, recovering the data if a previous holder panicked: every critical
/// section here leaves the data consistent, so poisoning carries no information.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Distinguishes the fault RNG stream from the id stream for the same seed.
const FAULT_STREAM: u64 = 0x6661_756c_7473;

impl Faults {
    pub fn new(seed: u64, settings: FaultSettings) -> Self {
        Faults {
            settings: Mutex::new(settings),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ FAULT_STREAM)),
            buckets: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
        }
    }

    pub fn settings(&self) -> FaultSettings {
        lock(&self.settings).clone()
    }

    /// Replaces the settings; rate-limit buckets restart full.
    pub fn set(&self, settings: FaultSettings) {
        *lock(&self.settings) = settings;
        lock(&self.buckets).clear();
    }

    pub fn count(&self, route: &str) {
        let mut stats = lock(&self.stats);
        stats.total += 1;
        *stats.by_route.entry(route.to_string()).or_default() += 1;
    }

    pub fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }

    /// Takes one token from the route's bucket. `Err(seconds)` = rate limited; retry after
    /// that many seconds (≥ 1). Buckets hold `rpm` tokens and refill at `rpm / 60` per second.
    pub fn take_token(&self, route: &str) -> Result<(), u64> {
        let Some(rpm) = lock(&self.settings).rate_limit_rpm else {
            return Ok(());
        };
        let capacity = f64::from(rpm);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(route.to_string()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil() as u64;
            Err(wait.max(1))
        }
    }

    /// Draws whether this request fails, and how. One draw per request whatever the rate,
    /// so the sequence for a seed does not depend on the rate's history.
    pub fn decide(&self, is_write: bool) -> Option<Fault> {
        let rate = lock(&self.settings).fault_rate;
        let mut rng = lock(&self.rng);
        let roll: f64 = rng.random();
        let kind_roll: u8 = rng.random_range(0..4);
        let after: bool = rng.random();
        if roll >= rate {
            return None;
        }
        let kind = match kind_roll {
            0 => FaultKind::Status(500),
            1 => FaultKind::Status(502),
            2 => FaultKind::Status(503),
            _ => FaultKind::Drop,
        };
        let timing = if is_write && after {
            FaultTiming::AfterApply
        } else {
            FaultTiming::BeforeApply
        };
        Some(Fault { kind, timing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fault_sequence() {
        let settings = FaultSettings {
            fault_rate: 0.5,
            ..Default::default()
        };
        let a = Faults::new(3, settings.clone());
        let b = Faults::new(3, settings.clone());
        let c = Faults::new(4, settings);
        let seq = |f: &Faults| (0..64).map(|i| f.decide(i % 2 == 0)).collect::<Vec<_>>();
        let sa = seq(&a);
        assert_eq!(sa, seq(&b));
        assert_ne!(sa, seq(&c));
        let failed = sa.iter().filter(|f| f.is_some()).count();
        assert!((10..=54).contains(&failed), "about half fail, got {failed}");
        assert!(sa.iter().any(|f| matches!(
            f,
            Some(Fault {
                timing: FaultTiming::AfterApply,
                ..
            })
        )));
    }

    #[test]
    fn zero_rate_never_fails() {
        let f = Faults::new(1, FaultSettings::default());
        assert!((0..100).all(|_| f.decide(true).is_none()));
    }

    #[test]
    fn bucket_empties_then_limits() {
        let f = Faults::new(
            1,
            FaultSettings {
                rate_limit_rpm: Some(2),
                ..Default::default()
            },
        );
        assert!(f.take_token("GET /a").is_ok());
        assert!(f.take_token("GET /a").is_ok());
        let wait = f
            .take_token("GET /a")
            .expect_err("third within the minute is limited");
        assert!((1..=30).contains(&wait));
        assert!(f.take_token("GET /b").is_ok(), "buckets are per route");
    }

    #[test]
    fn settings_are_validated() {
        assert!(
            FaultSettings {
                fault_rate: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            FaultSettings {
                rate_limit_rpm: Some(0),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(FaultSettings::default().validate().is_ok());
    }
}
