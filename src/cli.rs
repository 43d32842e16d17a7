//! The command-line model (clap derive) and nothing else. Every doc comment is `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The exit codes, one table for every command (README.md holds the same table; a test
/// keeps them equal).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success; plan --detailed-exitcode and drift: nothing to change
  1  error: usage, bad input, API failure, partial apply, cancelled
  2  changes (plan --detailed-exitcode) or drift found (drift)
  3  refused by a safety gate (plan, apply, github plan, github apply)
  4  the saved plan is stale or was edited (apply --plan, github apply)";

/// Terraform's habit (`-out=plan.json`, `-auto-approve`, `-target x`): a single dash before
/// a long flag's name. clap reads `-out=plan.json` as `-o` with the value `ut=plan.json`, and
/// `-auto-approve` as unknown short flags, so the arguments are checked before clap sees
/// them: a single-dash word naming a long flag of any orgops command, or one whose first
/// letter is not a short flag taking a value (so it cannot be `-fFILE`), is an error naming
/// the double-dash form. Arguments after `--` are left alone. `args` excludes the program.
pub fn single_dash_long_flag(args: &[std::ffi::OsString]) -> Option<String> {
    use clap::CommandFactory as _;
    use std::collections::BTreeSet;
    fn walk(command: &clap::Command, longs: &mut BTreeSet<String>, shorts: &mut BTreeSet<char>) {
        for arg in command.get_arguments() {
            longs.extend(
                arg.get_long_and_visible_aliases()
                    .into_iter()
                    .flatten()
                    .map(str::to_string),
            );
            longs.extend(
                arg.get_all_aliases()
                    .into_iter()
                    .flatten()
                    .map(str::to_string),
            );
            if arg.get_action().takes_values()
                && let Some(short) = arg.get_short()
            {
                shorts.insert(short);
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, longs, shorts);
        }
    }
    let command = Cli::command();
    let mut longs: BTreeSet<String> = ["help", "version"].map(str::to_string).into();
    let mut value_shorts = BTreeSet::new();
    walk(&command, &mut longs, &mut value_shorts);
    for arg in args {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        let Some(word) = arg.strip_prefix('-').filter(|w| !w.starts_with('-')) else {
            continue;
        };
        let name = word.split_once('=').map_or(word, |(name, _)| name);
        let mut chars = name.chars();
        let Some(first) = chars.next().filter(char::is_ascii_alphabetic) else {
            continue;
        };
        if name.len() < 2 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        if longs.contains(name) {
            return Some(format!(
                "unexpected argument '{arg}': orgops's long flags take two dashes: '-{arg}'"
            ));
        }
        if !value_shorts.contains(&first) {
            // Terraform's `-chdir=DIR` is orgops's (and git's) `-C DIR`.
            let near = if name == "chdir" {
                " (orgops's is `-C DIR`)".to_string()
            } else {
                longs
                    .iter()
                    .map(|long| (strsim::jaro_winkler(name, long), long))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, long)| format!(" (did you mean '--{long}'?)"))
                    .unwrap_or_default()
            };
            return Some(format!(
                "unexpected argument '{arg}': orgops's long flags take two dashes, and no orgops \
                 command has '--{name}'{near}; `orgops COMMAND --help` lists a command's flags"
            ));
        }
    }
    None
}

#[derive(Debug, Parser)]
#[command(
    name = "orgops",
    version = crate::VERSION,
    about = "An OpenAI organization managed as code",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Run as if orgops was started in DIR: relative paths and the discovery of
    /// `orgops.yaml` start there (like `git -C`).
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,
    /// Never colour the output, even on a terminal (as `NO_COLOR=1` does).
    #[arg(long, global = true)]
    pub no_color: bool,
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
    /// Query the organization's audit log (newest first; exit 0, or 1 on error).
    Audit(AuditArgs),
    /// Print a shell completion script to stdout, e.g. `orgops completions bash >
    /// ~/.local/share/bash-completion/completions/orgops`.
    Completions(CompletionsArgs),
    /// Print the man page orgops(1) to stdout (`orgops man | man -l -`), or write it and one
    /// page per subcommand (orgops-plan(1), ...) into a directory with `-o DIR`.
    Man(ManArgs),
    /// Render a saved plan (`orgops plan --out PLAN`) exactly as `plan` printed it, without
    /// reading the organization (format: `schema/saved-plan.schema.json`).
    Show(ShowArgs),
    /// Who can reach what: each project's people (directly or through a group), groups and
    /// service accounts with their roles, and the admin keys' owners, from the live
    /// organization or the file (`--source file`).
    Access(AccessArgs),
    /// What each project cost this month (UTC, to date), beside its spend limit and spend
    /// alerts: the file's (`-f`), else the live organization's (docs/costs.md).
    Costs(CostsArgs),
    /// The plan's dependency graph (the order apply runs the changes in) as DOT or mermaid,
    /// from a fresh plan or a saved one (`--plan PLAN`).
    Graph(GraphArgs),
    /// Rewrite desired-state files in canonical order and layout (the form `export` writes),
    /// keeping comments; `--check` only reports (exit 1 with a diff when not formatted).
    Fmt(FmtArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
orgops access --project Payments                 # who can use Payments, with which role, how\n  \
orgops access --user ada@acme.example            # what ada can reach\n  \
orgops access --source file --format csv > access.csv\n  \
orgops access --project Payments --format mermaid")]
pub struct AccessArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where access is read from: the live organization, or the desired-state file (what
    /// the file grants). `-f PATH` alone means `file`.
    #[arg(long, value_enum, value_name = "WHERE")]
    pub source: Option<AccessSource>,
    /// The desired-state file or directory, with `--source file` [default: `orgops.yaml`,
    /// `orgops.yml` or `orgops/`, whichever is in the current directory].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Only this project (repeatable): who can use it, with which role, directly or through
    /// which group.
    #[arg(long, value_name = "NAME")]
    pub project: Vec<String>,
    /// Only what this person can reach (repeatable): projects (directly or through a group),
    /// groups, organization roles, admin keys they own.
    #[arg(long, value_name = "EMAIL")]
    pub user: Vec<String>,
    /// How to print it (`json` has a `format_version`; `mermaid` draws user → group →
    /// project for a small scope: narrow it with --project or --user).
    #[arg(long, value_enum, default_value_t = AccessFormat::Text)]
    pub format: AccessFormat,
    /// Live: leave out custom-role assignments (one request per principal where a custom
    /// role exists).
    #[arg(long)]
    pub skip_role_assignments: bool,
    /// The largest desired-state file read (as for `plan`).
    #[arg(long, value_name = "SIZE", env = "ORGOPS_MAX_FILE_SIZE", default_value = "64MiB", value_parser = crate::input::parse_size)]
    pub max_file_size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessSource {
    Live,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessFormat {
    Text,
    Markdown,
    Csv,
    Json,
    Mermaid,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Draw this saved plan (`orgops plan --out PLAN`) instead of planning afresh; nothing
    /// is read.
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// `dot` (Graphviz: `orgops graph | dot -Tsvg > plan.svg`) or `mermaid`.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    #[command(flatten)]
    pub targets: TargetsArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `orgops.1` and a page per subcommand into this directory (created if needed)
    /// instead of printing `orgops.1`.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The saved plan. A malformed or edited one is refused as `apply --plan` refuses it
    /// (exit 1), one from another orgops version too (exit 4).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How to print the plan (byte-identical to `plan --format` of the same plan).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, clap::Args)]
pub struct FmtArgs {
    /// The desired-state file, or a directory whose `*.yaml`/`*.yml` files are each formatted
    /// [default: `orgops.yaml`, `orgops.yml` or `orgops/`, whichever is in the current
    /// directory].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Change nothing: exit 1 and print a unified diff for each file that is not formatted,
    /// 0 when every file is.
    #[arg(long)]
    pub check: bool,
    /// How to report the outcome: lines on stderr (and `--check`'s diffs on stdout), or JSON
    /// on stdout (each file checked, whether it changed or would change; no diff).
    #[arg(long, value_enum, default_value_t = OutcomeFormat::Text)]
    pub format: OutcomeFormat,
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
    /// The organization id every API response names in its `openai-organization` header
    /// (default `org-emulator`).
    #[arg(long, value_name = "ORG_ID")]
    pub org_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
    pub format: DiagnosticFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// `FILE:LINE:COL: error: ...` with the source line and a caret (on stderr).
    #[value(alias = "human")]
    Text,
    /// GitHub workflow annotations (`::error file=...,line=...,col=...::...`).
    Github,
    /// A JSON list of diagnostics.
    Json,
}

/// Where the desired state comes from.
#[derive(Debug, clap::Args)]
pub struct DesiredArgs {
    /// The desired-state file, or a directory whose `*.yaml` files are merged [default:
    /// `orgops.yaml`, `orgops.yml` or `orgops/`, whichever is in the current directory].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file_flag: Option<PathBuf>,
    /// The path `-f` names, or the one discovered ([`DesiredArgs::resolve`]); set before a
    /// command runs.
    #[arg(skip)]
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
    /// Fills [`DesiredArgs::file`]: `-f PATH`, or the desired state discovered in the current
    /// directory (see [`crate::config::discover`]).
    pub fn resolve(&mut self) -> anyhow::Result<()> {
        self.file = match &self.file_flag {
            Some(path) => path.clone(),
            None => crate::config::discover::in_current_dir()?,
        };
        Ok(())
    }

    /// How the desired state is read.
    pub fn load_options(&self) -> crate::config::LoadOptions {
        crate::config::LoadOptions {
            allow_sink_outside: self.allow_sink_outside,
            max_file_bytes: self.max_file_size,
        }
    }
}

/// Which organization to talk to. Without `--emulator`: the Admin API named by
/// `OPENAI_BASE_URL` (default `https://api.openai.com/v1`) with the key in `OPENAI_ADMIN_KEY`.
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

impl TargetArgs {
    /// Where the command connects, for `ops`.
    pub fn connect(&self) -> crate::ops::target::Connect {
        crate::ops::target::Connect {
            emulator: self.emulator.clone(),
            concurrency: self.concurrency,
            snapshot: None,
        }
    }
}

/// Incremental reads (`plan`, `drift`): see docs/plan.md.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Keep what this read observed and the audit-log position it is valid at in FILE, and
    /// when FILE holds a valid snapshot, re-read only what the audit log says changed since.
    #[arg(long, value_name = "FILE", group = "snapshot_source")]
    pub snapshot: Option<PathBuf>,
    /// Like --snapshot, with one file per organization in DIR (named by a digest of the
    /// organization the API names): for a cache shared by several organizations.
    #[arg(long, value_name = "DIR", group = "snapshot_source")]
    pub snapshot_dir: Option<PathBuf>,
    /// The oldest snapshot to read from (`30m`, `12h`, `1d`, `2w`); an older one means a
    /// full read.
    #[arg(long, value_name = "AGE", default_value = "1d", value_parser = parse_age, requires = "snapshot_source")]
    pub snapshot_max_age: u64,
    /// The longest incremental reads may follow one another (`12h`, `1d`, `1w`): then a full
    /// read, compared with the snapshot.
    #[arg(long, value_name = "AGE", default_value = "1d", value_parser = parse_age, requires = "snapshot_source")]
    pub full_read_every: u64,
    /// Read the whole organization whatever the snapshot says, compare it with the snapshot,
    /// and write a fresh one.
    #[arg(long, requires = "snapshot_source")]
    pub full: bool,
}

impl SnapshotArgs {
    /// The options `ops` reads, when `--snapshot` or `--snapshot-dir` is given.
    pub fn options(&self) -> Option<crate::ops::target::SnapshotOptions> {
        let (path, dir) = match (&self.snapshot, &self.snapshot_dir) {
            (Some(file), _) => (file.clone(), false),
            (None, Some(dir)) => (dir.clone(), true),
            (None, None) => return None,
        };
        Some(crate::ops::target::SnapshotOptions {
            path,
            dir,
            max_age_secs: self.snapshot_max_age,
            full_read_every_secs: self.full_read_every,
            full: self.full,
        })
    }
}

/// An age, written as `--since` writes a duration (`30m`, `12h`, `1d`, `2w`).
fn parse_age(text: &str) -> Result<u64, String> {
    let duration = text.trim().ends_with(|c: char| c.is_ascii_alphabetic());
    match crate::audit::parse_time(text, 0) {
        Ok(back) if duration && back <= 0 => Ok(back.unsigned_abs()),
        Ok(_) => Err(format!(
            "{text:?} is not an age: expected a duration such as 30m, 12h, 1d or 2w"
        )),
        Err(e) => Err(e),
    }
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
    pub snapshot: SnapshotArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan (with the fingerprints `apply --plan` checks) to this file.
    #[arg(short = 'o', long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Exit 2 when apply could change something now, 0 when it could not. Changes waiting
    /// for an invite to be accepted and objects only reported (`policy.unmanaged: report`)
    /// do not count: a plan of only those exits 0.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Pull-request view: also show what the change since REF (a git revision of the
    /// repository holding the file) introduces, apart from pre-existing drift.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    #[command(flatten)]
    pub targets: TargetsArg,
}

/// `--target`: a partial plan.
#[derive(Debug, clap::Args)]
pub struct TargetsArg {
    /// Plan only this object and what it depends on (repeatable): a natural key of the plan
    /// (`project:Search`, which includes everything inside it, `user:bob@x.example`) or a
    /// glob (`*` any characters, `?` one): `'project:Search/*'`. The plan says it is
    /// partial; a saved plan records its targets.
    #[arg(long = "target", value_name = "KEY")]
    pub targets: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// How to print the report (`json` is documented by `schema/drift.schema.json`).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    #[command(flatten)]
    pub window: AuditWindowArgs,
    /// Count undeclared objects the policy only reports (`report`) as drift (exit 2) too.
    #[arg(long)]
    pub fail_on_unmanaged: bool,
    /// Accept the drift into the file instead of reporting it (like Terraform's refresh-only
    /// apply): each changed object gets its live value, each one deleted live is removed,
    /// each undeclared one apply would remove is added (with --fail-on-unmanaged, also those
    /// the policy only reports); comments and layout of the rest stay byte for byte.
    #[arg(long)]
    pub write: bool,
    /// Report each project whose cost this month reached this percentage of the spend limit
    /// the file declares for it (1 to 1000; read only when the file declares a project
    /// spend limit). Reported, not drift: it does not change the exit status.
    #[arg(long, value_name = "PERCENT", default_value_t = crate::costs::DEFAULT_THRESHOLD_PERCENT,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub cost_threshold: u32,
}

/// How far back drift looks in the audit log, in `audit --since`'s words.
#[derive(Debug, clap::Args)]
pub struct AuditWindowArgs {
    /// How far back the audit log is searched for who caused the drift: a duration back from
    /// now (30m, 12h, 7d, 2w), an RFC 3339 time or a date, as for `orgops audit --since`
    /// [default: 30d].
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Deprecated spelling of `--since Nd` (a warning says so).
    #[arg(long, value_name = "DAYS", hide = true, conflicts_with = "since")]
    pub since_days: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct GithubArgs {
    #[command(subcommand)]
    pub command: GithubCommand,
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// On a pull request: annotate errors, post or update the plan comment, job summary.
    Plan(GithubPlanArgs),
    /// On a push to the default branch: apply only the plan the merged pull request approved.
    Apply(GithubApplyArgs),
    /// On a schedule: open, update or close the drift tracking issue.
    Drift(GithubDriftArgs),
}

/// `github plan`; everything else comes from the Actions environment.
#[derive(Debug, clap::Args)]
pub struct GithubPlanArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// The base revision (default: the pull request's base commit).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// The pull request (default: from the event).
    #[arg(long = "pull-request", value_name = "N")]
    pub pull_request: Option<u64>,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// `github apply`; everything else comes from the Actions environment.
#[derive(Debug, clap::Args)]
pub struct GithubApplyArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// The base revision (default: the commit before the push).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// The pull request (default: the pushed commit's merged pull request).
    #[arg(long = "pull-request", value_name = "N")]
    pub pull_request: Option<u64>,
}

/// `github drift`; everything else comes from the Actions environment.
#[derive(Debug, clap::Args)]
pub struct GithubDriftArgs {
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub window: AuditWindowArgs,
    /// Undeclared objects the policy only reports (`report`) open the tracking issue too.
    #[arg(long)]
    pub fail_on_unmanaged: bool,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
orgops costs                                   # this month to date, limits and alerts as the organization has them\n  \
orgops costs -f orgops.yaml                    # ... beside the limits and alerts the file declares\n  \
orgops costs --month 2026-11 --format markdown # a past month, for a report\n  \
orgops costs --format json > costs.json")]
pub struct CostsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The desired-state file (or directory) whose spend limits and alerts are shown beside
    /// the costs; without it, the live organization's are read.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// How to print the costs.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// A whole past month (YYYY-MM, UTC) instead of the current month to date.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    /// Daily buckets per request (1 to 180, the API's maximum).
    #[arg(long, value_name = "N", default_value_t = 180)]
    pub page_size: u32,
    /// The largest desired-state file read (bytes, or with a unit: 64MiB, 1GiB).
    #[arg(long, value_name = "SIZE", env = "ORGOPS_MAX_FILE_SIZE", default_value = "64MiB", value_parser = crate::input::parse_size)]
    pub max_file_size: u64,
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
    /// Write to this file instead of stdout (with `--split`, into this directory);
    /// certificates are written beside it under `certs/`. An existing file is not
    /// overwritten without `--force`.
    #[arg(short = 'o', long = "out", alias = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Write `org.yaml` and one `project-<name>.yaml` per project into the directory `-o`
    /// names (`-f DIR` reads them back). The directory must be new or empty.
    #[arg(long, requires = "output")]
    pub split: bool,
    /// Overwrite an existing file; with `--split`, write into a non-empty directory,
    /// replacing or removing the `*.yaml`/`*.yml` files an earlier export wrote there
    /// (which `-f DIR` would merge in); any other such file is listed and refused.
    #[arg(long)]
    pub force: bool,
    /// Which rate limits to write: only where a project differs from the value most
    /// projects have for the model (a tie writes them all), or every one.
    #[arg(long, value_enum, value_name = "WHICH", default_value_t = ExportRateLimits::Differing)]
    pub rate_limits: ExportRateLimits,
    /// Leave out custom-role assignments of users, groups and project members (one request
    /// per principal, slow under the API's rate limit); their `roles` lists are not written,
    /// so the file does not manage them.
    #[arg(long)]
    pub skip_role_assignments: bool,
    /// How to report the outcome of `-o`: a line on stderr, or JSON on stdout (the files
    /// written, the counts, the files removed). Without `-o` the export itself is stdout.
    #[arg(long, value_enum, default_value_t = OutcomeFormat::Text)]
    pub format: OutcomeFormat,
    /// Adopt only this live object and what it owns (repeatable; `plan --target`'s keys:
    /// `user:bob@x.example`, `project:Search`, `project:Search/service_account:ci`, or a
    /// glob) into the existing file or directory `-o` names: merged in where `fmt` would put
    /// it, the rest of the file (comments, order, layout) left byte for byte; a declared one
    /// is updated to the live value. Reads only what the objects need.
    #[arg(long = "target", value_name = "KEY", requires = "output")]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportRateLimits {
    /// Only the fields that differ from the most common value for the model.
    Differing,
    /// Every field of every model of every project, as the API lists them.
    All,
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
    /// Also write each change's outcome as JSON to this file (the report).
    #[arg(short = 'o', long = "out", alias = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// What stdout carries: the plan and the outcome as text, or only the outcome report as
    /// JSON (the `-o` file's format), with the plan and the text report on stderr.
    #[arg(long, value_enum, default_value_t = OutcomeFormat::Text)]
    pub format: OutcomeFormat,
    // Not with `--plan`, which applies exactly the saved plan (and its targets).
    #[command(flatten)]
    pub targets: TargetsArg,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Filters of different kinds must all match; values of one repeated \
filter are alternatives (--type a --type b: either type).\n\
Examples:\n  \
orgops audit --since 1d --type project.created\n  \
orgops audit --since 2026-11-01 --until 2026-11-30T12:00:00Z --actor ada@acme.example\n  \
orgops audit --object project:Search --format ndjson > search.ndjson"
)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only events at or after this time: a duration back from now (30m, 12h, 7d, 2w), an
    /// RFC 3339 time (2026-11-30T12:00:00Z) or a date (2026-11-30, midnight UTC).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events at or before this time (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only events by this actor: a user's email, or a user, service account or API key id
    /// (repeatable).
    #[arg(long, value_name = "EMAIL|ID")]
    pub actor: Vec<String>,
    /// Only events of this type, e.g. project.created (repeatable).
    #[arg(long = "type", value_name = "EVENT_TYPE")]
    pub event_types: Vec<String>,
    /// Only events the API associates with this project, by name or id (repeatable). Actions
    /// taken through admin API keys are associated with the default project: use --object to
    /// find events about a project itself.
    #[arg(long, value_name = "NAME|ID")]
    pub project: Vec<String>,
    /// Only events about this object: project:NAME, user:EMAIL (or an email), group:NAME,
    /// role:NAME, certificate:NAME, or any resource id (repeatable).
    #[arg(long, value_name = "KEY|ID")]
    pub object: Vec<String>,
    /// Print at most N events (the newest); no more pages are requested than needed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Events per API request (1-100).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: u32,
    /// Only events older than this event id, newest first (the API's `after` cursor: continue
    /// where a run stopped by --limit left off).
    #[arg(long, value_name = "EVENT_ID", conflicts_with = "before")]
    pub after: Option<String>,
    /// Only events newer than this event id, printed oldest first (the API's `before`
    /// cursor: resume a periodic export from the newest event it saw).
    #[arg(long, value_name = "EVENT_ID")]
    pub before: Option<String>,
    /// How to print the events: a table, one JSON array, or one JSON object per line
    /// (streamed page by page: for large ranges).
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// A table: time (UTC), actor, event type, object by its orgops key (streamed).
    Text,
    /// One JSON array of the API's event objects, printed once every page was read.
    Json,
    /// One API event object per line, printed as each page arrives.
    Ndjson,
}
