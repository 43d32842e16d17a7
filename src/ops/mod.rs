//! Operations: what the commands do, apart from argument parsing and printing (cargo's
//! `ops`). Each command file in `commands/` is glue over one function here.
//!
//! - [`access`]: who can reach what, from the live organization or the file.
//! - [`apply`]: read live, plan or check a saved plan, execute (see [`crate::apply`]).
//! - [`plan`]: load the desired state, read what it manages of the live org, plan.
//! - [`incremental`]: the live read from a snapshot and the audit log since (`--snapshot`).
//! - [`lock`]: one apply at a time per organization on one machine (an OS file lock).
//! - [`export`]: read the whole live org and shape it as a desired-state document.
//! - [`drift`]: the plan framed as a drift report, attributed from the audit log.
//! - [`pull_request`]: the plan split into what a change since a base revision introduces and
//!   pre-existing drift (`plan --base REF`).
//! - [`target`]: which organization to talk to — the real Admin API from the environment, or
//!   an in-process emulator seeded from a state file (`--emulator STATE`).

pub mod access;
pub mod adopt;
pub mod apply;
pub mod costs;
pub mod drift;
pub mod export;
pub mod export_write;
pub mod incremental;
pub mod lock;
pub mod plan;
pub mod pull_request;
pub mod target;

/// The async runtime commands run their API work on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))
}

/// The process's peak resident memory so far in MiB (`VmHWM`), for the `RUST_LOG=orgops=info`
/// timings the benchmarks read; `None` where `/proc` has no such line (not Linux).
pub fn peak_rss_mib() -> Option<u64> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}
