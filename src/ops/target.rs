//! Which organization a command talks to.
//!
//! Without `--emulator`, the real Admin API: `OPENAI_ADMIN_KEY` (environment only, never a
//! flag), `OPENAI_BASE_URL` and `OPENAI_ORG_ID`. With `--emulator STATE`, an emulator seeded
//! from STATE runs inside this process on 127.0.0.1 and the client talks to it over HTTP
//! exactly as it would to the real API; no key is needed.
//!
//! Which organization that is ([`Target::identity`], what a saved plan is bound to) is what
//! the API reported on its responses (`openai-organization`), not what `OPENAI_ORG_ID` says:
//! the variable only asks for an organization, and the key decides.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::api::{Client, ClientConfig, ReportedOrganization, Secret};
use crate::emulator::{self, EmulatorOptions, RunningEmulator, seed};
use crate::plan::saved::OrgIdentity;

/// Where a command connects, as its options say (`--emulator STATE`, `--concurrency N`).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// Run against an in-process emulator seeded from this state file (no key needed).
    pub emulator: Option<PathBuf>,
    /// At most this many API requests in flight at once (default 8).
    pub concurrency: Option<usize>,
    /// Read incrementally from a snapshot, and keep one (`--snapshot`; see
    /// [`crate::ops::plan`] and docs/plan.md).
    pub snapshot: Option<SnapshotOptions>,
}

/// `--snapshot FILE` or `--snapshot-dir DIR`, `--snapshot-max-age`, `--full-read-every`,
/// `--full`.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    pub path: PathBuf,
    /// `path` is a directory holding one snapshot per organization (`--snapshot-dir`).
    pub dir: bool,
    /// The oldest snapshot read from (seconds).
    pub max_age_secs: u64,
    /// The longest incremental reads follow one another before a full read (seconds).
    pub full_read_every_secs: u64,
    /// Read everything, whatever the snapshot (and write a fresh one).
    pub full: bool,
}

/// A connected client, and the emulator behind it when there is one (kept alive as long as
/// the target is).
pub struct Target {
    pub client: Client,
    /// `OPENAI_ORG_ID`, when set: sent as `OpenAI-Organization` and part of the apply
    /// lock's name; never an identity by itself.
    pub requested_org: Option<String>,
    /// The state file of an in-process emulator: its identity.
    emulator_state: Option<String>,
    /// Held only to keep the in-process emulator serving until the command ends.
    _emulator: Option<RunningEmulator>,
    /// Read incrementally and keep a snapshot (set from [`Connect::snapshot`] by the
    /// workflows that support it: plan and drift).
    pub snapshot: Option<SnapshotOptions>,
}

impl Target {
    /// Whether the organization is an emulator inside this process (nothing else can reach
    /// it, so no other process can apply to it).
    pub fn is_in_process(&self) -> bool {
        self._emulator.is_some()
    }

    /// This target, reading incrementally from `snapshot` when given.
    pub fn reading_snapshot(mut self, snapshot: Option<SnapshotOptions>) -> Target {
        self.snapshot = snapshot;
        self
    }

    /// Connects to the emulator seeded from `emulator_state`, or to the API the environment
    /// names.
    pub fn open(emulator_state: Option<&Path>) -> anyhow::Result<Target> {
        Self::open_with(emulator_state, None)
    }

    /// Like [`Target::open`], with at most `concurrency` requests in flight (default 8).
    pub fn open_with(
        emulator_state: Option<&Path>,
        concurrency: Option<usize>,
    ) -> anyhow::Result<Target> {
        match emulator_state {
            Some(state) => Self::emulator(state, concurrency),
            None => Self::from_env(concurrency),
        }
    }

    fn from_env(concurrency: Option<usize>) -> anyhow::Result<Target> {
        // The error says what to set, and the alternative (`--emulator STATE`).
        let mut config = ClientConfig::from_env().context("connecting to the Admin API")?;
        if let Some(n) = concurrency {
            config.limits.max_concurrency = n.max(1);
        }
        let requested_org = config.organization.clone();
        let client = Client::new(config)?;
        Ok(Target {
            client,
            requested_org,
            emulator_state: None,
            _emulator: None,
            snapshot: None,
        })
    }

    fn emulator(state: &Path, concurrency: Option<usize>) -> anyhow::Result<Target> {
        let (doc, pems) = seed::load_state_file(state)?;
        let options = EmulatorOptions {
            certificate_pems: pems,
            ..EmulatorOptions::default()
        };
        let running = emulator::start_in_background(doc, options)
            .with_context(|| format!("starting the emulator from {}", state.display()))?;
        let mut config = ClientConfig::new(running.url(), Secret::new(running.admin_key()));
        if let Some(n) = concurrency {
            config.limits.max_concurrency = n.max(1);
        }
        let client = Client::new(config)?;
        Ok(Target {
            client,
            requested_org: None,
            emulator_state: Some(state.display().to_string()),
            _emulator: Some(running),
            snapshot: None,
        })
    }

    /// The organization this target is, once the API answered (call it after the live
    /// read): the endpoint and the organization the API named on its responses. An
    /// in-process emulator's port changes every run, so its identity is the state it was
    /// seeded from, and `apply --plan` against the same state matches.
    ///
    /// Refused when two responses named two organizations. What the header holds (an id, a
    /// slug) is the API's business: it is compared, never interpreted, and not against
    /// `OPENAI_ORG_ID`.
    pub fn identity(&self) -> anyhow::Result<OrgIdentity> {
        if let Some(state) = &self.emulator_state {
            return Ok(OrgIdentity {
                endpoint: "emulator".to_string(),
                org_id: Some(state.clone()),
            });
        }
        let reported = match self.client.reported_organization() {
            ReportedOrganization::Unknown => None,
            ReportedOrganization::Id(id) => Some(id),
            ReportedOrganization::Conflict(a, b) => anyhow::bail!(
                "the API named two organizations on its responses ({a} and {b}): which one \
                 this run talks to is unknown, so no plan is bound to it. Check OPENAI_BASE_URL"
            ),
        };
        Ok(OrgIdentity::from_base_url(
            self.client.base_url(),
            reported.as_deref(),
        ))
    }
}
