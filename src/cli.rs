//! The command-line model (clap derive) and nothing else. Every doc comment is `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "orgops",
    version,
    about = "An OpenAI organization managed as code"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, schema-check and semantically check the desired state.
    Validate(ValidateArgs),
    /// Read the live organization, diff it against the desired state and print the plan.
    Plan(PlanArgs),
    /// Write the live organization as a desired-state file.
    Export(ExportArgs),
    /// Report what differs between the live organization and the file, and who changed it
    /// (exit 0 in sync, 2 drift, 1 error). Drift means apply would change something;
    /// undeclared objects under `policy.unmanaged: report` are listed for information.
    Drift(DriftArgs),
    /// Run inside GitHub Actions: plan comments, apply on merge, drift issues.
    Github(GithubArgs),
    /// Serve a local, stateful emulator of the OpenAI Admin API (prints its URL first).
    Emulator(EmulatorArgs),
    /// Apply a fresh plan (confirmed on a terminal, or `--auto-approve`) or a saved one.
    Apply(ApplyArgs),
}

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Seed the organization from a desired-state file (every declared user is a member;
    /// a top-level `invites:` list seeds invites).
    #[arg(long, conflicts_with = "generate")]
    pub state: Option<PathBuf>,
    /// Generate a synthetic organization:
    /// `users=N,projects=P,project_members=M,groups=G,group_members=K,service_accounts=S`.
    #[arg(long)]
    pub generate: Option<String>,
    /// Seed for every random choice (ids, faults).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// An admin key the emulator accepts, optionally with its owner's email (repeatable).
    /// Without any, the emulator accepts `$OPENAI_ADMIN_KEY`, or a fixed test key.
    #[arg(long = "admin-key", value_name = "KEY[=OWNER_EMAIL]")]
    pub admin_keys: Vec<String>,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests per minute allowed per route template (token bucket); 429 beyond.
    #[arg(long)]
    pub rate_limit_rpm: Option<u32>,
    /// Send `Retry-After` on 429 responses.
    #[arg(long)]
    pub retry_after: bool,
    /// Fraction (0 to 1) of API requests that fail with 500/502/503 or a dropped connection.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Let project API key deletion remove service-account keys (newer API behaviour)
    /// instead of answering 400 (the spec's behaviour).
    #[arg(long)]
    pub allow_service_account_key_delete: bool,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The desired-state file, or a directory whose `*.yaml` files are merged.
    #[arg(short = 'f', long = "file", default_value = "orgops.yaml")]
    pub file: PathBuf,
    /// Accept sink files outside the configuration's directory tree (a sink onto an input
    /// file or a certificate is refused regardless).
    #[arg(long)]
    pub allow_sink_outside: bool,
    /// The largest desired-state file read (bytes, or with a unit: 64MiB, 1GiB); a
    /// larger file is refused before it is parsed.
    #[arg(long, value_name = "SIZE", env = "ORGOPS_MAX_FILE_SIZE", default_value = "64MiB", value_parser = crate::input::parse_size)]
    pub max_file_size: u64,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// `FILE:LINE:COL: error: ...` with the source line and a caret.
    Human,
    /// GitHub workflow annotations (`::error file=...,line=...,col=...::...`).
    Github,
    /// A JSON list of diagnostics.
    Json,
}

/// Where the desired state comes from.
#[derive(Debug, clap::Args)]
pub struct DesiredArgs {
    /// The desired-state file, or a directory whose `*.yaml` files are merged.
    #[arg(short = 'f', long = "file", default_value = "orgops.yaml")]
    pub file: PathBuf,
    /// Accept sink files outside the configuration's directory tree (a sink onto an input
    /// file or a certificate is refused regardless).
    #[arg(long)]
    pub allow_sink_outside: bool,
    /// The largest desired-state file read (bytes, or with a unit: 64MiB, 1GiB); a
    /// larger file is refused before it is parsed.
    #[arg(long, value_name = "SIZE", env = "ORGOPS_MAX_FILE_SIZE", default_value = "64MiB", value_parser = crate::input::parse_size)]
    pub max_file_size: u64,
}

impl DesiredArgs {
    /// How the desired state is read.
    pub fn load_options(&self) -> crate::config::LoadOptions {
        crate::config::LoadOptions {
            allow_sink_outside: self.allow_sink_outside,
            max_file_bytes: self.max_file_size,
        }
    }
}

/// Which organization to talk to. Without `--emulator`: the Admin API named by
/// `OPENAI_BASE_URL` (default https://api.openai.com/v1) with the key in `OPENAI_ADMIN_KEY`.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Run against an in-process emulator seeded from this state file instead of the real
    /// API (no key needed).
    #[arg(long, value_name = "STATE")]
    pub emulator: Option<PathBuf>,
    /// At most this many API requests in flight at once (default 8); the rate-limit
    /// controller lowers it per route when the API answers 429.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}

/// The overrides of the plan's safety gates.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// Lift the `policy.max_removals` gate for this run.
    #[arg(long)]
    pub allow_removals: bool,
    /// Replace `policy.max_removals` for this run.
    #[arg(long, value_name = "N")]
    pub max_removals: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan (with the fingerprints `apply --plan` checks) to this file.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 when it has none).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Pull-request view: also show what the change since REF (a git revision of the
    /// repository holding the file) introduces, apart from pre-existing drift.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// How far back the audit log is searched for who caused the drift.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub since_days: u32,
    /// Count undeclared objects the policy only reports (`report`) as drift (exit 2) too.
    #[arg(long)]
    pub fail_on_unmanaged: bool,
}

#[derive(Debug, clap::Args)]
pub struct GithubArgs {
    #[command(subcommand)]
    pub command: GithubCommand,
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// On a pull request: annotate errors, post or update the plan comment, job summary.
    Plan(GithubRunArgs),
    /// On a push to the default branch: apply only the plan the merged pull request approved.
    Apply(GithubRunArgs),
    /// On a schedule: open, update or close the drift tracking issue.
    Drift(GithubRunArgs),
}

/// Arguments of the GitHub runs; everything else comes from the Actions environment.
#[derive(Debug, clap::Args)]
pub struct GithubRunArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// The base revision (default: the pull request's base commit for plan, the commit
    /// before the push for apply).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// The pull request (default: from the event for plan, the pushed commit's merged pull
    /// request for apply).
    #[arg(long = "pull-request", value_name = "N")]
    pub pull_request: Option<u64>,
    /// How far back the audit log is searched (drift).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub since_days: u32,
    /// Drift: undeclared objects the policy only reports (`report`) open the tracking issue
    /// too.
    #[arg(long)]
    pub fail_on_unmanaged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// One line per change, field-level details, a summary line (coloured on a terminal).
    Text,
    /// GitHub-flavoured markdown for pull-request comments (at most 65,536 characters).
    Markdown,
    /// Versioned JSON, documented by `schema/plan.schema.json`.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write to this file instead of stdout; certificates are written beside it under
    /// `certs/`.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out custom-role assignments of users, groups and project members (one request
    /// per principal, slow under the API's rate limit); their `roles` lists are not written,
    /// so the file does not manage them.
    #[arg(long)]
    pub skip_role_assignments: bool,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// Apply the changes this saved plan (`orgops plan --out PLAN`) approves, rebuilt from a
    /// fresh plan: refused if it is stale or its changes are not the fresh plan's (exit 4)
    /// or malformed (exit 1); no confirmation is asked. The safety gates are checked again
    /// with this command's `--allow-removals`/`--max-removals`.
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// When another apply to the same organization runs on this machine, wait up to this
    /// many seconds for it to finish; 0 (the default) fails at once naming it.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Also write each change's outcome as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}
