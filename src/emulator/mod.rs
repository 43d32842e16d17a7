//! A local, stateful emulator of the OpenAI Admin API (axum): the ground the tests,
//! benchmarks and sandbox run on. Product code: a client written for the real API must not
//! be able to tell the difference on the endpoints served (see `docs/emulator.md`).
//!
//! - [`state`]: the organization in memory; [`rules`]: every behaviour the reference leaves
//!   open, decided once.
//! - [`http`]: error envelope, query/body extraction, pagination; [`faults`]: latency, rate
//!   limits, injected failures, request counters.
//! - [`routes`]: the `/v1` router, one file per endpoint family; [`control`]: `/_emulator/*`.
//! - [`seed`]: `Document` <-> state; [`generate`]: synthetic orgs for benchmarks.
//!
//! Entry points: [`serve`] (the `orgops emulator` command) and [`start_in_background`] (tests
//! and `--emulator STATE` on other commands).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::Context;
use axum::Router;

use crate::model::Document;

pub mod control;
pub mod faults;
pub mod generate;
pub mod http;
pub mod routes;
pub mod rules;
pub mod seed;
pub mod state;

pub use faults::FaultSettings;
pub use state::OrgState;

/// How an emulator runs. `Default` is a quiet, fault-free emulator with seed 0.
#[derive(Debug, Clone, Default)]
pub struct EmulatorOptions {
    /// Makes every random choice (ids, faults) reproducible.
    pub seed: u64,
    /// Added to every `/v1` request.
    pub latency_ms: u64,
    /// Per route template; `None` = unlimited.
    pub rate_limit_rpm: Option<u32>,
    /// Whether 429s carry `Retry-After`.
    pub retry_after: bool,
    /// Fraction of `/v1` requests that fail (0..=1).
    pub fault_rate: f64,
    /// Admin keys that authenticate: (secret, owner email). A missing owner defaults to the
    /// first owner in the state.
    pub admin_keys: Vec<(String, Option<String>)>,
    /// Allow deleting service-account-owned keys through the project API key endpoint (newer
    /// SDK behaviour) instead of answering 400 (spec behaviour). See `rules`.
    pub allow_service_account_key_delete: bool,
    /// PEM text of seeded certificates by certificate name; a certificate without one gets
    /// a synthetic PEM.
    pub certificate_pems: BTreeMap<String, String>,
    /// The organization every `/v1` response names in `openai-organization`, as the API
    /// does; [`DEFAULT_ORGANIZATION_ID`] when `None`.
    pub organization_id: Option<String>,
}

impl EmulatorOptions {
    pub fn fault_settings(&self) -> FaultSettings {
        FaultSettings {
            latency_ms: self.latency_ms,
            rate_limit_rpm: self.rate_limit_rpm,
            retry_after: self.retry_after,
            fault_rate: self.fault_rate,
        }
    }
}

/// Behaviour switches fixed at start.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub allow_service_account_key_delete: bool,
}

/// Everything a request handler can reach.
#[derive(Debug)]
pub struct Emulator {
    pub org: Mutex<OrgState>,
    pub faults: faults::Faults,
    pub behaviour: Behaviour,
    /// The seed the emulator started with (re-used when `PUT /_emulator/state` reloads).
    pub seed: u64,
    /// What `openai-organization` says on every `/v1` response.
    pub organization_id: String,
    /// Responses served so far: the number behind each `x-request-id`.
    pub responses: std::sync::atomic::AtomicU64,
}

impl Emulator {
    /// The organization, locked. Handlers never hold it across an `.await`.
    pub fn org(&self) -> MutexGuard<'_, OrgState> {
        faults::lock(&self.org)
    }
}

/// Shared handle passed to every route.
pub type AppState = Arc<Emulator>;

/// The default admin key when none is given (tests, `--emulator STATE`).
pub const DEFAULT_ADMIN_KEY: &str = "sk-admin-emulator-0000000000000000";

/// The organization an emulator reports when not told (`orgops emulator --org-id`).
pub const DEFAULT_ORGANIZATION_ID: &str = "org-emulator";

/// Registers the command-line admin keys on `state`; owners default to the first owner.
pub fn install_admin_keys(
    state: &mut OrgState,
    keys: &[(String, Option<String>)],
) -> anyhow::Result<()> {
    let first_owner = state.first_owner().map(|u| u.id.clone());
    for (i, (value, owner_email)) in keys.iter().enumerate() {
        if value.trim().is_empty() {
            anyhow::bail!("an --admin-key value is empty");
        }
        let owner = match owner_email {
            Some(email) => Some(
                state
                    .user_by_email(email)
                    .map(|u| u.id.clone())
                    .with_context(|| {
                        format!("admin key owner {email} is not a member of the organization")
                    })?,
            ),
            None => first_owner.clone(),
        };
        if let Some(existing) = state.admin_keys_by_value.get(value).cloned() {
            // Same key given twice (or already in a reloaded state): keep one, update the owner.
            if let Some(key) = state.admin_keys.get_mut(&existing) {
                key.owner_user_id = owner;
            }
            continue;
        }
        let name = if keys.len() == 1 {
            "orgops emulator key".to_string()
        } else {
            format!("orgops emulator key {}", i + 1)
        };
        state.add_admin_key(Some(name), Some(value.clone()), owner, None);
    }
    Ok(())
}

/// Builds the shared state from an already seeded organization.
pub fn app_state(mut org: OrgState, options: &EmulatorOptions) -> anyhow::Result<AppState> {
    let settings = options.fault_settings();
    settings.validate().map_err(anyhow::Error::msg)?;
    install_admin_keys(&mut org, &options.admin_keys)?;
    Ok(Arc::new(Emulator {
        org: Mutex::new(org),
        faults: faults::Faults::new(options.seed, settings),
        behaviour: Behaviour {
            allow_service_account_key_delete: options.allow_service_account_key_delete,
        },
        seed: options.seed,
        organization_id: options
            .organization_id
            .clone()
            .unwrap_or_else(|| DEFAULT_ORGANIZATION_ID.to_string()),
        responses: std::sync::atomic::AtomicU64::new(0),
    }))
}

/// The complete application: `/v1/...` plus `/_emulator/...`.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Serves until the listener fails. The `orgops emulator` command calls this.
pub async fn serve(
    org: OrgState,
    options: EmulatorOptions,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let state = app_state(org, &options)?;
    axum::serve(listener, app(state))
        .await
        .context("the emulator server stopped")
}

/// An emulator running on its own thread and runtime, bound to `127.0.0.1:<free port>`.
/// Dropping it stops the server.
#[derive(Debug)]
pub struct RunningEmulator {
    base: String,
    admin_key: String,
    state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// Base URL of the API, ending in `/v1` (what `OPENAI_BASE_URL` takes).
    pub fn url(&self) -> String {
        format!("{}/v1", self.base)
    }
    /// `http://127.0.0.1:PORT`, where `/_emulator/*` lives.
    pub fn base_url(&self) -> &str {
        &self.base
    }
    /// An admin key that authenticates (the first configured one).
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }
    /// Direct access to the shared state (in-process inspection).
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // The receiver is gone only if the server thread already ended.
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Seeds an emulator from `doc` and starts it in the background. With no admin key in
/// `options`, [`DEFAULT_ADMIN_KEY`] is installed.
pub fn start_in_background(
    doc: Document,
    mut options: EmulatorOptions,
) -> anyhow::Result<RunningEmulator> {
    let org = seed::from_document(&doc, &options.certificate_pems, options.seed)?;
    start_state_in_background(org, std::mem::take(&mut options.admin_keys), options)
}

/// Like [`start_in_background`] for an already built organization (e.g. a generated one).
pub fn start_state_in_background(
    org: OrgState,
    admin_keys: Vec<(String, Option<String>)>,
    mut options: EmulatorOptions,
) -> anyhow::Result<RunningEmulator> {
    options.admin_keys = if admin_keys.is_empty() {
        vec![(DEFAULT_ADMIN_KEY.to_string(), None)]
    } else {
        admin_keys
    };
    let admin_key = options.admin_keys[0].0.clone();
    let state = app_state(org, &options)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("binding 127.0.0.1:0 for the emulator")?;
    listener
        .set_nonblocking(true)
        .context("configuring the emulator socket")?;
    let addr = listener
        .local_addr()
        .context("reading the emulator address")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("orgops-emulator")
        .enable_all()
        .build()
        .context("starting the emulator runtime")?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = app(state.clone());
    let thread = std::thread::Builder::new()
        .name("orgops-emulator".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                tokio::select! {
                    _ = axum::serve(listener, router) => {}
                    _ = rx => {}
                }
            });
            // Open connections belong to tasks on this runtime; stop them now.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
        })
        .context("spawning the emulator thread")?;
    Ok(RunningEmulator {
        base: format!("http://{addr}"),
        admin_key,
        state,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}
