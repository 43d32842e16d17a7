//! The GitHub Actions environment: the event, the repository, and the two files a step
//! reports through (`GITHUB_OUTPUT` for outputs, `GITHUB_STEP_SUMMARY` for the job summary).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

/// What the Actions runner tells a step, read from the environment.
#[derive(Debug, Clone, Default)]
pub struct ActionsEnv {
    pub repository: Option<String>,
    pub api_url: String,
    pub token: Option<String>,
    pub event_name: Option<String>,
    pub event: Value,
    pub sha: Option<String>,
    pub output_file: Option<PathBuf>,
    pub summary_file: Option<PathBuf>,
    pub temp_dir: PathBuf,
    /// The workflow's bot login when given (`ORGOPS_GITHUB_BOT_LOGIN`, see [`super::identity`]).
    pub bot_login: Option<String>,
    /// Apply requires an approving review submitted after the plan comment's last edit
    /// (`ORGOPS_GITHUB_REQUIRE_REVIEW`, the action's `require-review` input; only `false`
    /// turns it off).
    pub require_review: bool,
}

/// The environment variable that can turn off the review requirement of apply.
pub const REQUIRE_REVIEW_ENV: &str = "ORGOPS_GITHUB_REQUIRE_REVIEW";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ActionsEnv {
    pub fn from_env() -> anyhow::Result<ActionsEnv> {
        let event = match var("GITHUB_EVENT_PATH") {
            Some(path) => {
                let text = crate::input::read_text(
                    std::path::Path::new(&path),
                    crate::input::MAX_INPUT_BYTES,
                )
                .with_context(|| format!("reading the event file {path}"))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("the event file {path} is not JSON"))?
            }
            None => Value::Null,
        };
        Ok(ActionsEnv {
            repository: var("GITHUB_REPOSITORY"),
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            token: var("GITHUB_TOKEN"),
            event_name: var("GITHUB_EVENT_NAME"),
            event,
            sha: var("GITHUB_SHA"),
            output_file: var("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            temp_dir: var("RUNNER_TEMP")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
            bot_login: var(super::identity::BOT_LOGIN_ENV),
            require_review: var(REQUIRE_REVIEW_ENV).is_none_or(|v| v.trim() != "false"),
        })
    }

    /// The pull request number of a `pull_request` event.
    pub fn pull_request_number(&self) -> Option<u64> {
        self.event
            .pointer("/pull_request/number")
            .and_then(Value::as_u64)
    }

    /// The base commit of a `pull_request` event.
    pub fn pull_request_base_sha(&self) -> Option<String> {
        self.event
            .pointer("/pull_request/base/sha")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The commit before a push (absent for a branch's first push, all zeros on creation).
    pub fn push_before(&self) -> Option<String> {
        self.event
            .get("before")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && !s.chars().all(|c| c == '0'))
            .map(str::to_string)
    }

    /// The commit a push or the run is about.
    pub fn head_sha(&self) -> Option<String> {
        self.event
            .get("after")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| self.sha.clone())
    }
}

/// What a run reports through `GITHUB_OUTPUT`, written once at the end (sorted by name).
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    values: BTreeMap<&'static str, String>,
}

impl Outputs {
    pub fn set(&mut self, name: &'static str, value: impl ToString) {
        // Outputs are single-line `name=value`; a value never carries a newline.
        let value = value.to_string().replace(['\n', '\r'], " ");
        self.values.insert(name, value);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Appends to `GITHUB_OUTPUT` when set; prints nothing otherwise.
    pub fn write(&self, env: &ActionsEnv) -> anyhow::Result<()> {
        let Some(path) = &env.output_file else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in &self.values {
            text.push_str(&format!("{name}={value}\n"));
        }
        append(path, &text)
    }
}

fn append(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// A workflow command line (`::error::message`), escaped so that nothing in `message` can
/// end the command or start another one.
pub fn command(name: &str, message: &str) -> String {
    crate::text::escape::workflow_command(name, &[], message)
}

/// Prints `text` (a rendering holding names from the file or the organization) to the log
/// with workflow commands stopped around it, so no line of it is read as a command. The
/// token is derived from the text itself, so the output is deterministic and the text
/// cannot contain the token that resumes commands.
pub fn print_inert(text: &str) {
    let token = crate::text::hex::sha256_hex(text.as_bytes());
    crate::outln!("::stop-commands::{token}");
    crate::out!("{text}");
    if !text.ends_with('\n') {
        crate::outln!();
    }
    crate::outln!("::{token}::");
}

/// Appends markdown to the job summary when `GITHUB_STEP_SUMMARY` is set.
pub fn append_summary(env: &ActionsEnv, markdown: &str) -> anyhow::Result<()> {
    match &env.summary_file {
        Some(path) => append(path, &format!("{markdown}\n")),
        None => Ok(()),
    }
}
