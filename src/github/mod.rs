//! The GitHub integration: `orgops github plan|apply|drift`, driven by the Actions
//! environment (see `docs/github-action.md`).
//!
//! - **plan** (on `pull_request_target`, reading the pull request's files as data):
//!   validation errors become `::error file=…,line=…,col=…::`
//!   annotations; the pull-request view of the plan (`plan --base` with the event's base
//!   commit) goes to one sticky comment per configuration path, found again by a hidden
//!   marker and edited in place, carrying the plan's [semantic hash](hash) in a hidden field;
//!   the same markdown goes to the job summary. Without an admin key (a fork's pull request
//!   unless a maintainer opts it in) it validates and says why it cannot plan. The sticky comment is
//!   the one written by the workflow's own [identity]; comments by anyone else are never
//!   edited, and the comment of a merged or closed pull request is never touched again.
//! - **apply** (on `push` to the default branch): finds the merged pull request of the pushed
//!   commit, reads the hash approved by the workflow's own comment as it stood when the pull
//!   request was merged (and approved by a review submitted after its last edit), makes a
//!   fresh plan and applies only when the hashes are equal and the comment is the one the
//!   fresh plan renders (what the reviewer read is what runs); otherwise it fails with
//!   `failure_reason=plan-changed` or `comment-changed` and posts what differs (and that a
//!   new pull request is the way to review it).
//! - **drift** (on `schedule`): opens one tracking issue (found by a marker) when the org has
//!   drifted (apply would change something; with `--fail-on-unmanaged`, also when undeclared
//!   objects under `report` are listed), updates it while drift persists, closes it when the
//!   org is back in sync.
//!
//! Every run writes the outputs `changes`, `to_add`, `to_change`, `to_remove`, `plan_path`,
//! `failure_reason` (and `plan_hash`, `approved`, `issue`, `comment` where they apply) to
//! `GITHUB_OUTPUT`.

pub mod actions;
pub mod client;

pub mod identity;
pub mod markers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{self, LoadMode};
use crate::exit::ExitStatus;
use crate::git::GitCli;
use crate::ops::plan::{PlanFailure, Planned};
use crate::plan::digest::{self as hash, PlanDifference};
use crate::plan::{Plan, PlanOptions, saved};
use crate::printer::Printer;
use actions::{ActionsEnv, Outputs, append_summary};
use client::GitHubClient;
use identity::{Identity, parse_timestamp};

/// The `failure_reason` output values.
pub mod failure {
    /// The desired state is invalid (annotations point at the lines).
    pub const INVALID: &str = "invalid";
    /// No admin key: a pull request from a fork, or the secret is not set.
    pub const NO_ADMIN_KEY: &str = "no-admin-key";
    /// A safety gate refused the plan.
    pub const REFUSED: &str = "refused";
    /// The fresh plan differs from the approved one.
    pub const PLAN_CHANGED: &str = "plan-changed";
    /// The plan comment by the workflow's identity does not show the plan apply would run
    /// (its text differs from the fresh plan's comment: edited by someone, or a live change
    /// the hash does not cover).
    pub const COMMENT_CHANGED: &str = "comment-changed";
    /// The pushed commit has no merged pull request, or it carries no approved plan (a plan
    /// comment by the workflow's identity, unchanged since the merge, with an approving
    /// review submitted after its last edit).
    pub const NO_APPROVED_PLAN: &str = "no-approved-plan";
    /// `github plan` ran for a merged or closed pull request: its comment is left as it was.
    pub const PULL_REQUEST_CLOSED: &str = "pull-request-closed";
    /// Some changes of the approved plan failed (the next run plans what is left).
    pub const APPLY_FAILED: &str = "apply-failed";
    /// Anything else (API, git, GitHub errors).
    pub const ERROR: &str = "error";
}

/// What a GitHub run needs besides the environment.
#[derive(Debug)]
pub struct RunOptions {
    pub file: PathBuf,
    /// How the file is read (`--allow-sink-outside`).
    pub load: crate::config::LoadOptions,
    pub target: crate::ops::target::Connect,
    /// Overrides the base revision the event names.
    pub base: Option<String>,
    /// Overrides the pull request the event names (plan) or the commit belongs to (apply).
    pub pull_request: Option<u64>,
    pub plan_options: PlanOptions,
    /// Drift: the audit log is searched from this time on (Unix seconds).
    pub since: i64,
    /// Drift: objects the policy only reports count as drift (open the issue) too.
    pub fail_on_unmanaged: bool,
}

/// The configuration path as markers and titles show it.
fn display_path(file: &Path) -> String {
    file.display().to_string()
}

fn has_credentials(options: &RunOptions) -> bool {
    options.target.emulator.is_some()
        || std::env::var("OPENAI_ADMIN_KEY").is_ok_and(|v| !v.trim().is_empty())
}

fn set_counts(outputs: &mut Outputs, plan: &Plan) {
    let s = plan.summary();
    outputs.set("changes", plan.changes.len());
    outputs.set("to_add", s.add);
    outputs.set("to_change", s.change + s.replace);
    outputs.set("to_remove", s.remove + s.archive);
}

fn zero_counts(outputs: &mut Outputs) {
    for name in ["changes", "to_add", "to_change", "to_remove"] {
        outputs.set(name, 0);
    }
}

/// A GitHub client when the repository and a token are known.
fn github_client(env: &ActionsEnv) -> anyhow::Result<Option<GitHubClient>> {
    match (&env.repository, &env.token) {
        (Some(repo), Some(token)) => Ok(Some(GitHubClient::new(&env.api_url, repo, token)?)),
        _ => Ok(None),
    }
}

/// The client and the workflow's identity on GitHub.
struct GitHub {
    client: GitHubClient,
    identity: Identity,
}

impl GitHub {
    fn connect(
        env: &ActionsEnv,
        runtime: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Option<GitHub>> {
        let Some(client) = github_client(env)? else {
            return Ok(None);
        };
        let identity = runtime.block_on(identity::discover(&client, env.bot_login.as_deref()))?;
        eprintln!(
            "orgops's own comments are those written by {}",
            identity.describe()
        );
        Ok(Some(GitHub { client, identity }))
    }
}

/// Creates the comment of `number` carrying `marker`, or edits it in place: only a comment
/// written by `identity` is ever edited (anyone can post a comment carrying the marker).
/// Returns the id.
async fn upsert_comment(
    github: &GitHub,
    number: u64,
    marker: &str,
    body: &str,
) -> anyhow::Result<u64> {
    let client = &github.client;
    let comments = client.list_issue_comments(number).await?;
    let existing = comments.iter().find(|c| {
        github.identity.wrote(c.user.as_ref())
            && c.body.as_deref().is_some_and(|b| b.contains(marker))
    });
    let comment = match existing {
        // An unchanged comment is left as it is: editing it would move `updated_at` past the
        // reviews that approved it (apply requires a review after the last edit).
        Some(c) if c.body.as_deref().map(normalized) == Some(normalized(body)) => {
            eprintln!("the comment is unchanged; not edited");
            c.clone()
        }
        Some(c) => client.update_issue_comment(c.id, body).await?,
        None => {
            let created = client.create_issue_comment(number, body).await?;
            if let Some(author) = &created.user
                && !github.identity.wrote(Some(author))
            {
                crate::outln!(
                    "{}",
                    actions::command(
                        "warning",
                        &format!(
                            "the comment was written by {} ({}), not {}: orgops will not find it again nor accept it as an approval. Set the action's `bot-login` input ({}) to {}.",
                            author.login,
                            author.kind,
                            github.identity.describe(),
                            identity::BOT_LOGIN_ENV,
                            author.login
                        )
                    )
                );
            }
            created
        }
    };
    Ok(comment.id)
}

/// A comment body as compared: line endings as `\n` (GitHub may store `\r\n` for text
/// edited in the browser), no trailing white space at the end.
fn normalized(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end().to_string()
}

/// Whether pull request `number` is still open; a merged or closed one keeps its plan
/// comment as it was (for a merged one, that comment is the approval apply reads).
async fn still_open(github: &GitHub, number: u64) -> anyhow::Result<Option<String>> {
    let pull = github.client.pull_request(number).await?;
    let state = pull.state.as_deref().unwrap_or("unknown");
    Ok(if state == "open" && pull.merged_at.is_none() {
        None
    } else if pull.merged_at.is_some() {
        Some("merged".to_string())
    } else {
        Some(state.to_string())
    })
}

/// Writes the saved plan beside the run's other files and returns its path.
fn save_plan(env: &ActionsEnv, planned: &Planned) -> anyhow::Result<PathBuf> {
    let saved = saved::save(
        &planned.plan,
        &planned.desired.doc,
        &planned.live,
        planned.target.identity()?,
    );
    let path = env.temp_dir.join("orgops-plan.json");
    std::fs::write(&path, saved::to_json(&saved))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// Annotations and a markdown body for an invalid desired state.
fn invalid_report(path: &str, diagnostics: &config::Diagnostics) -> String {
    crate::out!("{}", diagnostics.render_github());
    let mut body = String::new();
    let _ = writeln!(
        body,
        "### orgops plan: {}\n",
        crate::text::escape::code_span(path)
    );
    let _ = writeln!(
        body,
        "**The desired state is invalid**; nothing was planned. The errors are annotated on the changed lines.\n"
    );
    let text = crate::text::escape::code_lines(&diagnostics.render_human(false)).into_owned();
    let fence = crate::text::escape::fence(&text);
    let _ = writeln!(body, "{fence}text\n{text}{fence}");
    body
}

/// Comment body: markers first (so they survive a cut), then the markdown.
fn comment_body(marker: &str, hidden: &[String], markdown: &str) -> String {
    let mut body = String::from(marker);
    body.push('\n');
    for field in hidden {
        body.push_str(field);
        body.push('\n');
    }
    body.push_str(markdown);
    body
}

/// Room left for markdown in a comment after the hidden fields.
fn markdown_room(marker: &str, hidden: &[String]) -> usize {
    let used: usize = marker.len() + hidden.iter().map(|h| h.len() + 1).sum::<usize>() + 1;
    crate::render::markdown::MAX_CHARS.saturating_sub(used + 100)
}

/// The frame every `orgops github` command runs in: outputs that are always set (empty
/// failure reason and plan path, zero counts), the Actions environment, and one place that
/// turns an error into `failure_reason=error` and writes outputs and the job summary.
fn in_actions(
    options: &RunOptions,
    printer: Printer,
    inner: fn(&RunOptions, &ActionsEnv, Printer, &mut Outputs) -> anyhow::Result<ExitStatus>,
) -> (ExitStatus, Outputs) {
    let mut outputs = Outputs::default();
    outputs.set("failure_reason", "");
    outputs.set("plan_path", "");
    zero_counts(&mut outputs);
    let env = match ActionsEnv::from_env() {
        Ok(env) => env,
        Err(e) => return fail(&mut outputs, failure::ERROR, e),
    };
    let status = match inner(options, &env, printer, &mut outputs) {
        Ok(status) => status,
        Err(e) => fail(&mut outputs, failure::ERROR, e).0,
    };
    finish(&env, status, outputs)
}

/// `orgops github plan`.
pub fn plan(options: &RunOptions, printer: Printer) -> (ExitStatus, Outputs) {
    in_actions(options, printer, plan_inner)
}

fn fail(outputs: &mut Outputs, reason: &str, e: anyhow::Error) -> (ExitStatus, Outputs) {
    eprintln!(
        "error: {}",
        crate::text::escape::text_lines(&format!("{e:#}"))
    );
    crate::outln!("{}", actions::command("error", &format!("{e:#}")));
    outputs.set("failure_reason", reason);
    (ExitStatus::Failure, outputs.clone())
}

fn finish(env: &ActionsEnv, status: ExitStatus, outputs: Outputs) -> (ExitStatus, Outputs) {
    if let Err(e) = outputs.write(env) {
        eprintln!("error: {e:#}");
        return (ExitStatus::Failure, outputs);
    }
    (status, outputs)
}

fn plan_inner(
    options: &RunOptions,
    env: &ActionsEnv,
    printer: Printer,
    outputs: &mut Outputs,
) -> anyhow::Result<ExitStatus> {
    let path = display_path(&options.file);
    let marker = markers::marker("plan", &path);
    let number = options.pull_request.or(env.pull_request_number());
    let runtime = crate::ops::runtime()?;
    // GitHub is written to only with an admin key (a fork's workflow gets neither).
    let github = if has_credentials(options) {
        GitHub::connect(env, &runtime)?
    } else {
        None
    };
    if let (Some(github), Some(number)) = (&github, number)
        && let Some(state) = runtime.block_on(still_open(github, number))?
    {
        crate::outln!(
            "{}",
            actions::command(
                "error",
                &format!(
                    "pull request #{number} is {state}: orgops does not plan it again nor touch its plan comment (for a merged pull request, that comment as it stood at the merge is what apply runs). To review a changed plan, open a new pull request (an empty commit on a new branch is enough)."
                )
            )
        );
        outputs.set("failure_reason", failure::PULL_REQUEST_CLOSED);
        return Ok(ExitStatus::Failure);
    }

    // Validate first: annotations work without any secret.
    let desired = match config::load_with(&options.file, LoadMode::Desired, options.load) {
        Ok(desired) => desired,
        Err(diagnostics) => {
            let body = invalid_report(&path, &diagnostics);
            append_summary(env, &body)?;
            if let (Some(github), Some(number)) = (&github, number) {
                let id = runtime.block_on(upsert_comment(
                    github,
                    number,
                    &marker,
                    &comment_body(&marker, &[], &body),
                ))?;
                outputs.set("comment", id);
            }
            outputs.set("failure_reason", failure::INVALID);
            return Ok(ExitStatus::Failure);
        }
    };
    crate::out!("{}", desired.warnings.render_github());

    if !has_credentials(options) {
        let why = "orgops cannot plan: no admin key (OPENAI_ADMIN_KEY is empty); the file was \
                   validated. A pull request from a fork is only validated: a maintainer adds \
                   the label orgops-plan to plan it (docs/github-action.md, \"Pull requests \
                   from forks\").";
        crate::outln!("::warning::{why}");
        append_summary(
            env,
            &format!(
                "### orgops plan: {}\n\n**Valid**, but not planned.\n\n{why}\n",
                crate::text::escape::code_span(&path)
            ),
        )?;
        outputs.set("failure_reason", failure::NO_ADMIN_KEY);
        return Ok(ExitStatus::Success);
    }

    let base = options.base.clone().or(env.pull_request_base_sha());
    let view = PlanView::make(options, base.as_deref(), printer)?;
    let plan = &view.planned().plan;
    let plan_hash = hash::semantic_hash(plan);
    set_counts(outputs, plan);
    outputs.set("plan_hash", &plan_hash);
    let plan_path = save_plan(env, view.planned())?;
    outputs.set("plan_path", plan_path.display());

    let mut hidden = vec![markers::hash_field(&plan_hash)];
    hidden.extend(markers::digests_field(&hash::change_digests(plan)));
    let markdown = view.markdown(&path, markdown_room(&marker, &hidden));
    actions::print_inert(&view.text());
    append_summary(env, &markdown)?;
    if let (Some(github), Some(number)) = (&github, number) {
        let id = runtime.block_on(upsert_comment(
            github,
            number,
            &marker,
            &comment_body(&marker, &hidden, &markdown),
        ))?;
        outputs.set("comment", id);
        eprintln!("updated the plan comment on #{number}");
    }
    if plan.is_refused() {
        outputs.set("failure_reason", failure::REFUSED);
        crate::outln!("::error::the plan is refused by a safety gate; it must not be applied");
        return Ok(ExitStatus::Refused);
    }
    Ok(ExitStatus::Success)
}

fn plan_failure(failure: PlanFailure) -> anyhow::Error {
    match failure {
        PlanFailure::Invalid(diagnostics) => {
            crate::out!("{}", diagnostics.render_github());
            anyhow::anyhow!("the desired state is invalid")
        }
        PlanFailure::Other(e) => e,
    }
}

/// A plan, with or without the pull-request split.
enum PlanView {
    Plain(Box<Planned>),
    PullRequest(Box<crate::ops::pull_request::PullRequestPlan>),
}

impl PlanView {
    fn make(
        options: &RunOptions,
        base: Option<&str>,
        printer: Printer,
    ) -> anyhow::Result<PlanView> {
        Ok(match base {
            Some(base) => {
                let git = GitCli::discover(&options.file)?;
                PlanView::PullRequest(Box::new(
                    crate::ops::pull_request::plan_pull_request(
                        &options.file,
                        options.load,
                        base,
                        &git,
                        &options.target,
                        &options.plan_options,
                        printer,
                    )
                    .map_err(plan_failure)?,
                ))
            }
            None => PlanView::Plain(Box::new(
                crate::ops::plan::plan(
                    &options.file,
                    options.load,
                    &options.target,
                    &options.plan_options,
                    printer,
                )
                .map_err(plan_failure)?,
            )),
        })
    }

    /// The document at the base, used as the baseline (adopt vs update) when re-planning.
    fn baseline(&self) -> Option<crate::model::Document> {
        match self {
            PlanView::PullRequest(pr) => match &pr.base {
                crate::ops::pull_request::BaseState::Valid(doc) => Some(doc.as_ref().clone()),
                _ => None,
            },
            PlanView::Plain(_) => None,
        }
    }

    fn planned(&self) -> &Planned {
        match self {
            PlanView::Plain(planned) => planned,
            PlanView::PullRequest(pr) => &pr.planned,
        }
    }

    fn markdown(&self, path: &str, limit: usize) -> String {
        match self {
            PlanView::Plain(planned) => {
                let rendered = crate::render::markdown::render_with_limit(&planned.plan, limit);
                rendered.replacen(
                    "### orgops plan\n",
                    &format!(
                        "### orgops plan: {}\n",
                        crate::text::escape::code_span(path)
                    ),
                    1,
                )
            }
            PlanView::PullRequest(pr) => crate::render::pull_request::markdown_with_limit(
                &pr.view(),
                &format!("orgops plan: {}", crate::text::escape::code_span(path)),
                limit,
            ),
        }
    }

    fn text(&self) -> String {
        match self {
            PlanView::Plain(planned) => crate::render::text::render(&planned.plan, false),
            PlanView::PullRequest(pr) => crate::render::pull_request::text(&pr.view(), false),
        }
    }
}

/// `orgops github apply`.
pub fn apply(options: &RunOptions, printer: Printer) -> (ExitStatus, Outputs) {
    in_actions(options, printer, apply_inner)
}

/// What a merged pull request approved.
struct Approval {
    hash: String,
    digests: Option<BTreeMap<String, String>>,
    /// The comment as the reviewer read it.
    body: String,
}

/// Reviewers whose approval counts: people with a relation to the repository that branch
/// protection can accept (`NONE`, `CONTRIBUTOR`, `FIRST_TIMER`... are anyone's).
const REVIEWER_ASSOCIATIONS: [&str; 3] = ["OWNER", "MEMBER", "COLLABORATOR"];

/// An approving review by a person with access, submitted after `edited` (the plan
/// comment's last edit) and not after `merged`. `Err` says what is missing.
async fn approving_review_after(
    github: &GitHub,
    number: u64,
    edited: i64,
    edited_at: &str,
    merged: i64,
) -> anyhow::Result<Result<(), String>> {
    let reviews = github.client.pull_request_reviews(number).await?;
    let counts = |r: &&client::Review| {
        r.state.as_deref() == Some("APPROVED")
            && r.user.as_ref().is_some_and(|u| u.kind == "User")
            && r.author_association
                .as_deref()
                .is_some_and(|a| REVIEWER_ASSOCIATIONS.contains(&a))
    };
    let approvals: Vec<i64> = reviews
        .iter()
        .filter(counts)
        .filter_map(|r| r.submitted_at.as_deref().and_then(parse_timestamp))
        .filter(|at| *at <= merged)
        .collect();
    if approvals.iter().any(|at| *at > edited) {
        return Ok(Ok(()));
    }
    Ok(Err(if approvals.is_empty() {
        format!(
            "pull request #{number} has no approving review by a person with access to the repository: orgops applies only a plan a reviewer approved"
        )
    } else {
        format!(
            "no approving review of pull request #{number} was submitted after the plan comment was last edited ({edited_at}): the reviewers approved a text that is no longer the comment, so orgops applies nothing. Open a new pull request to get the plan reviewed"
        )
    }))
}

/// The approved plan of the merged pull request `number` for `path`: the hash and per-change
/// digests carried by the plan comment **written by the workflow's identity**, **last
/// edited before the pull request was merged** and, unless `require_review` is off,
/// **approved by a review submitted after that last edit**. Comments by anyone else
/// (whatever they carry), a comment edited after the merge and a comment edited after its
/// approval approve nothing. `Err` says why there is no approval.
async fn approved_plan(
    github: &GitHub,
    number: u64,
    plan_marker: &str,
    require_review: bool,
) -> anyhow::Result<Result<Approval, String>> {
    let pull = github.client.pull_request(number).await?;
    let Some(merged_at) = pull.merged_at.as_deref() else {
        return Ok(Err(format!(
            "pull request #{number} is not merged: only a merged pull request approves a plan"
        )));
    };
    let Some(merged) = parse_timestamp(merged_at) else {
        anyhow::bail!("GitHub: pull request #{number} has an unreadable merged_at {merged_at:?}");
    };
    let comments = github.client.list_issue_comments(number).await?;
    let carrying: Vec<_> = comments
        .iter()
        .filter(|c| c.body.as_deref().is_some_and(|b| b.contains(plan_marker)))
        .collect();
    let others = carrying
        .iter()
        .filter(|c| !github.identity.wrote(c.user.as_ref()))
        .count();
    let ignored = if others > 0 {
        format!(
            " ({others} comment{} carrying the marker, written by someone else, {} ignored)",
            if others == 1 { "" } else { "s" },
            if others == 1 { "was" } else { "were" }
        )
    } else {
        String::new()
    };
    let Some(own) = carrying
        .iter()
        .find(|c| github.identity.wrote(c.user.as_ref()))
    else {
        return Ok(Err(format!(
            "pull request #{number} has no orgops plan comment written by {}{ignored}: nothing approved to apply",
            github.identity.login
        )));
    };
    let edited = own
        .updated_at
        .as_deref()
        .or(own.created_at.as_deref())
        .and_then(parse_timestamp);
    let edited_at = own.updated_at.as_deref().unwrap_or("an unknown time");
    let edited = match edited {
        Some(edited) if edited < merged => edited,
        _ => {
            return Ok(Err(format!(
                "the orgops plan comment of pull request #{number} was edited at {edited_at} after the pull request was merged at {merged_at}: orgops applies only the plan as it stood when the pull request was merged{ignored}"
            )));
        }
    };
    if require_review
        && let Err(why) = approving_review_after(github, number, edited, edited_at, merged).await?
    {
        return Ok(Err(why));
    }
    let body = own.body.as_deref().unwrap_or_default();
    match markers::find_hash(body) {
        Some(hash) => Ok(Ok(Approval {
            hash,
            digests: markers::find_digests(body),
            body: body.to_string(),
        })),
        None => Ok(Err(format!(
            "pull request #{number} has no orgops plan comment with a plan hash (the plan was refused or invalid): nothing approved to apply"
        ))),
    }
}

/// The merged pull request of `sha` (its merge commit, else the first merged one).
async fn merged_pull_request(github: &GitHubClient, sha: &str) -> anyhow::Result<Option<u64>> {
    let pulls = github.pulls_of_commit(sha).await?;
    let merged: Vec<_> = pulls.iter().filter(|p| p.merged_at.is_some()).collect();
    Ok(merged
        .iter()
        .find(|p| p.merge_commit_sha.as_deref() == Some(sha))
        .or(merged.first())
        .map(|p| p.number))
}

/// The refusal comment when the fresh plan differs from the approved one. It names what
/// differs and that a new pull request is the way to get it reviewed; it never shows the
/// fresh hash (a plan is approved by review, not by copying a hash).
fn difference_markdown(
    path: &str,
    diff: Option<&PlanDifference>,
    approved: &str,
    plan_md: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### orgops apply refused: {}\n",
        crate::text::escape::code_span(path)
    );
    let _ = writeln!(
        out,
        "**The plan changed since it was approved**, so nothing was applied (`failure_reason=plan-changed`).\n\n- approved in this pull request: `{approved}`\n"
    );
    match diff {
        Some(diff) => {
            for (title, ids) in [
                ("New since approval", &diff.added),
                ("No longer planned", &diff.dropped),
                ("Planned differently", &diff.altered),
            ] {
                if ids.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "**{title}** ({}):\n", ids.len());
                for id in ids.iter().take(100) {
                    let _ = writeln!(out, "- {}", crate::text::escape::code_span(id));
                }
                if ids.len() > 100 {
                    let _ = writeln!(out, "- … and {} more", ids.len() - 100);
                }
                out.push('\n');
            }
        }
        None => {
            let _ = writeln!(
                out,
                "The approved comment was too large to carry per-change digests; compare the plans below.\n"
            );
        }
    }
    let _ = writeln!(
        out,
        "This pull request approved only the plan it showed when it was merged. To review the changed plan, open a new pull request (an empty commit on a new branch is enough): orgops plans it there, and applies it when that pull request is merged.\n\n<details><summary>The plan as it is now (not approved)</summary>\n\n{}\n</details>",
        plan_md.replacen("### orgops plan", "#### orgops plan", 1)
    );
    out
}

/// The refusal when the approved comment's text is not the comment the fresh plan renders:
/// the first line that differs (escaped), and the plan that would have run.
fn comment_mismatch_markdown(path: &str, number: u64, approved: &str, rendered: &str) -> String {
    let approved = normalized(approved);
    let rendered = normalized(rendered);
    let (a, r): (Vec<&str>, Vec<&str>) = (approved.lines().collect(), rendered.lines().collect());
    let at = a
        .iter()
        .zip(&r)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(r.len()));
    let line = |lines: &[&str]| {
        lines
            .get(at)
            .map_or_else(|| "(the text ends here)".to_string(), |l| l.to_string())
    };
    let quoted = |text: String| text_block(&text);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### orgops apply refused: {}\n",
        crate::text::escape::code_span(path)
    );
    let _ = writeln!(
        out,
        "**The plan comment of #{number} does not show the plan apply would run**, so nothing was applied (`failure_reason=comment-changed`). Its hidden plan hash matches, but its text is not the text orgops renders for that plan: someone edited the comment (any workflow of the repository writes as the same bot), or the live organization changed something the comment shows and the hash does not cover (a value before the change, an object the file does not manage).\n"
    );
    let _ = writeln!(
        out,
        "First difference, line {}:\n\nthe comment says\n\n{}\norgops renders\n\n{}",
        at + 1,
        quoted(line(&a)),
        quoted(line(&r))
    );
    let markdown = rendered
        .lines()
        .skip_while(|l| l.starts_with("<!-- orgops:"))
        .collect::<Vec<_>>()
        .join("\n");
    let _ = writeln!(
        out,
        "The reviewer approved the text they read. To review the plan, open a new pull request (an empty commit on a new branch is enough).\n\n<details><summary>The plan apply would have run (not approved)</summary>\n\n{}\n</details>",
        markdown.replacen("### orgops plan", "#### orgops plan", 1)
    );
    out
}

/// Why apply wrote nothing, when the approval does not cover the fresh plan.
struct Refusal {
    /// Markdown for the pull request and the job summary.
    body: String,
    /// The log's `::error::` line.
    error: String,
    reason: &'static str,
}

/// Posts `refusal` on pull request `number` (one comment per path, found by the apply
/// marker) and in the job summary, logs its error and sets its failure reason: exit 4.
fn refuse_apply(
    github: &GitHub,
    runtime: &tokio::runtime::Runtime,
    env: &ActionsEnv,
    outputs: &mut Outputs,
    path: &str,
    number: u64,
    refusal: Refusal,
) -> anyhow::Result<ExitStatus> {
    let apply_marker = markers::marker("apply", path);
    let id = runtime.block_on(upsert_comment(
        github,
        number,
        &apply_marker,
        &comment_body(&apply_marker, &[], &refusal.body),
    ))?;
    outputs.set("comment", id);
    append_summary(env, &refusal.body)?;
    crate::outln!("{}", actions::command("error", &refusal.error));
    outputs.set("failure_reason", refusal.reason);
    Ok(ExitStatus::Stale)
}

fn apply_inner(
    options: &RunOptions,
    env: &ActionsEnv,
    printer: Printer,
    outputs: &mut Outputs,
) -> anyhow::Result<ExitStatus> {
    outputs.set("approved", false);
    let path = display_path(&options.file);
    let plan_marker = markers::marker("plan", &path);
    let runtime = crate::ops::runtime()?;
    let Some(github) = GitHub::connect(env, &runtime)? else {
        anyhow::bail!(
            "apply on merge needs GITHUB_REPOSITORY and GITHUB_TOKEN to read the approved plan"
        );
    };
    let number = match options.pull_request {
        Some(n) => Some(n),
        None => match env.head_sha() {
            Some(sha) => runtime.block_on(merged_pull_request(&github.client, &sha))?,
            None => None,
        },
    };
    let Some(number) = number else {
        crate::outln!(
            "::error::no merged pull request for this commit: orgops applies only plans approved in a pull request"
        );
        outputs.set("failure_reason", failure::NO_APPROVED_PLAN);
        return Ok(ExitStatus::Failure);
    };
    outputs.set("pull_request", number);
    let Approval {
        hash: approved_hash,
        digests: approved_digests,
        body: approved_body,
    } = match runtime.block_on(approved_plan(
        &github,
        number,
        &plan_marker,
        env.require_review,
    ))? {
        Ok(approval) => approval,
        Err(why) => {
            crate::outln!("{}", actions::command("error", &format!("{path}: {why}")));
            outputs.set("failure_reason", failure::NO_APPROVED_PLAN);
            return Ok(ExitStatus::Failure);
        }
    };

    if let Err(diagnostics) = config::load_with(&options.file, LoadMode::Desired, options.load) {
        crate::out!("{}", diagnostics.render_github());
        outputs.set("failure_reason", failure::INVALID);
        return Ok(ExitStatus::Failure);
    }
    // The baseline is the file before the push, as the pull request's base was.
    let base = options.base.clone().or(env.push_before());
    let view = PlanView::make(options, base.as_deref(), printer)?;
    let plan = &view.planned().plan;
    let fresh_hash = hash::semantic_hash(plan);
    set_counts(outputs, plan);
    outputs.set("plan_hash", &fresh_hash);
    let plan_path = save_plan(env, view.planned())?;
    outputs.set("plan_path", plan_path.display());

    if fresh_hash != approved_hash {
        let diff = approved_digests
            .as_ref()
            .map(|approved| PlanDifference::between(approved, &hash::change_digests(plan)));
        let plan_md = view.markdown(&path, 30_000);
        let refusal = Refusal {
            body: difference_markdown(&path, diff.as_ref(), &approved_hash, &plan_md),
            error: format!(
                "the plan changed since pull request #{number} approved it ({approved_hash}); nothing was applied. To review the changed plan, open a new pull request."
            ),
            reason: failure::PLAN_CHANGED,
        };
        return refuse_apply(&github, &runtime, env, outputs, &path, number, refusal);
    }
    // The same hash is not enough: the reviewer read the comment's text, which anyone who
    // can write as the workflow's identity (every workflow of the repository) can edit while
    // keeping the hidden hash. The comment must be the one `github plan` renders now.
    let mut hidden = vec![markers::hash_field(&fresh_hash)];
    hidden.extend(markers::digests_field(&hash::change_digests(plan)));
    let rendered = comment_body(
        &plan_marker,
        &hidden,
        &view.markdown(&path, markdown_room(&plan_marker, &hidden)),
    );
    if normalized(&approved_body) != normalized(&rendered) {
        let refusal = Refusal {
            body: comment_mismatch_markdown(&path, number, &approved_body, &rendered),
            error: format!(
                "{path}: the plan comment of pull request #{number} does not show the plan apply would run (edited, or the live organization changed what it shows); nothing was applied. To review the plan, open a new pull request."
            ),
            reason: failure::COMMENT_CHANGED,
        };
        return refuse_apply(&github, &runtime, env, outputs, &path, number, refusal);
    }
    if plan.is_refused() {
        outputs.set("failure_reason", failure::REFUSED);
        crate::outln!("::error::the plan is refused by a safety gate; it must not be applied");
        return Ok(ExitStatus::Refused);
    }
    outputs.set("approved", true);
    eprintln!("the fresh plan matches the plan approved in #{number} ({fresh_hash})");
    let apply_options = PlanOptions {
        baseline: view.baseline(),
        ..options.plan_options.clone()
    };
    match apply_approved_plan(view.planned(), &approved_hash, &apply_options, printer)? {
        ApplyOutcome::Applied(report) => {
            actions::print_inert(&report);
            append_summary(
                env,
                &format!(
                    "### orgops apply: {}\n\nApplied the plan approved in #{number}.\n\n{}",
                    crate::text::escape::code_span(&path),
                    text_block(&report)
                ),
            )?;
            Ok(ExitStatus::Success)
        }
        ApplyOutcome::Changed(fresh) => {
            outputs.set("approved", false);
            outputs.set("plan_hash", &fresh);
            outputs.set("failure_reason", failure::PLAN_CHANGED);
            crate::outln!(
                "::error::the plan changed just before applying (approved {approved_hash}); nothing was applied. To review the changed plan, open a new pull request."
            );
            Ok(ExitStatus::Stale)
        }
        ApplyOutcome::Partial(report) => {
            actions::print_inert(&report);
            crate::outln!(
                "::error::some changes of the approved plan failed; the next run plans what is left"
            );
            append_summary(
                env,
                &format!(
                    "### orgops apply: {}\n\nSome changes failed.\n\n{}",
                    crate::text::escape::code_span(&path),
                    text_block(&report)
                ),
            )?;
            outputs.set("failure_reason", failure::APPLY_FAILED);
            Ok(ExitStatus::Failure)
        }
    }
}

/// A text report as a fenced markdown block nothing in it can close.
fn text_block(report: &str) -> String {
    let text = crate::text::escape::code_lines(report);
    let fence = crate::text::escape::fence(&text);
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}text\n{text}{newline}{fence}\n")
}

/// How the hand-off to apply ended.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// Every change applied or already satisfied; the text report.
    Applied(String),
    /// Between the check and the execution the plan changed again (the fresh hash).
    Changed(String),
    /// Some changes failed; the text report.
    Partial(String),
}

/// Applies the approved plan, after its semantic hash matched the approved one.
///
/// The live organization is read again on the runtime that executes (the client's pooled
/// connections belong to the runtime that opened them, see `ops::apply`), the plan is made
/// again from that read and its hash checked once more, so the window between the check and
/// the first write is one plan long; then the changes are executed.
pub fn apply_approved_plan(
    planned: &Planned,
    approved_hash: &str,
    options: &PlanOptions,
    printer: Printer,
) -> anyhow::Result<ApplyOutcome> {
    let runtime = crate::ops::runtime()?;
    // One apply at a time per organization on this machine (the workflow's `concurrency:`
    // group guards across machines), taken before the read the changes are made from.
    let _lock = crate::ops::lock::for_target(&planned.target, std::time::Duration::ZERO)?;
    let scope = crate::live::ReadScope::for_document(&planned.desired.doc);
    let live = crate::ops::plan::read_live(&runtime, &planned.target, &scope, printer)?;
    let plan = crate::ops::plan::plan_against(&planned.desired.doc, &live, options)?;
    let fresh = hash::semantic_hash(&plan);
    if fresh != approved_hash {
        return Ok(ApplyOutcome::Changed(fresh));
    }
    if plan.is_empty() {
        return Ok(ApplyOutcome::Applied(
            "Nothing to apply: the organization already matches the approved plan.".into(),
        ));
    }
    let report = crate::ops::apply::execute(
        &runtime,
        &planned.target,
        &planned.desired,
        &live,
        &plan.changes,
        &crate::apply::report::NoApplyProgress,
    );
    let text = report.render_text();
    Ok(if report.all_succeeded() {
        ApplyOutcome::Applied(text)
    } else {
        ApplyOutcome::Partial(text)
    })
}

/// `orgops github drift`.
pub fn drift(options: &RunOptions, printer: Printer) -> (ExitStatus, Outputs) {
    in_actions(options, printer, drift_inner)
}

fn drift_inner(
    options: &RunOptions,
    env: &ActionsEnv,
    printer: Printer,
    outputs: &mut Outputs,
) -> anyhow::Result<ExitStatus> {
    use crate::drift::render;
    let path = display_path(&options.file);
    let marker = markers::marker("drift", &path);
    let runtime = crate::ops::runtime()?;
    let drifted = match crate::ops::drift::drift(
        &options.file,
        options.load,
        &options.target,
        options.since,
        options.fail_on_unmanaged,
        crate::costs::DEFAULT_THRESHOLD_PERCENT,
        printer,
    ) {
        Ok(d) => d,
        Err(PlanFailure::Invalid(diagnostics)) => {
            crate::out!("{}", diagnostics.render_github());
            outputs.set("failure_reason", failure::INVALID);
            return Ok(ExitStatus::Failure);
        }
        Err(PlanFailure::Other(e)) => return Err(e),
    };
    let report = &drifted.report;
    // What counts as drift: what apply would change (and, with `--fail-on-unmanaged`, what
    // the policy only reports). Objects listed for information neither count nor open the
    // issue.
    let s = report.drift_summary();
    outputs.set("changes", s.total());
    outputs.set("to_add", s.missing);
    outputs.set("to_change", s.changed);
    outputs.set("to_remove", s.unmanaged);
    outputs.set("drift", !report.in_sync());
    let report_path = env.temp_dir.join("orgops-drift.json");
    std::fs::write(&report_path, render::json(report))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", report_path.display()))?;
    outputs.set("plan_path", report_path.display());

    let markdown = render::markdown_with_limit(report, markdown_room(&marker, &[])).replacen(
        "### orgops drift\n",
        &format!(
            "### orgops drift: {}\n",
            crate::text::escape::code_span(&path)
        ),
        1,
    );
    actions::print_inert(&render::text(report));
    append_summary(env, &markdown)?;
    let Some(github) = github_client(env)? else {
        eprintln!("no GITHUB_REPOSITORY/GITHUB_TOKEN: the drift report is not filed as an issue");
        return Ok(ExitStatus::Success);
    };
    let body = comment_body(&marker, &[], &markdown);
    let issues = runtime.block_on(github.list_open_issues())?;
    let tracking = issues
        .iter()
        .find(|i| i.body.as_deref().is_some_and(|b| b.contains(&marker)));
    match (report.in_sync(), tracking) {
        (false, None) => {
            let title = format!(
                "orgops: the organization drifted from {}",
                crate::text::escape::text(&path)
            );
            let issue = runtime.block_on(github.create_issue(&title, &body))?;
            outputs.set("issue", issue.number);
            eprintln!("opened drift issue #{}", issue.number);
        }
        (false, Some(issue)) => {
            runtime.block_on(github.update_issue(issue.number, &body, false))?;
            outputs.set("issue", issue.number);
            eprintln!("updated drift issue #{}", issue.number);
        }
        (true, Some(issue)) => {
            runtime.block_on(github.update_issue(issue.number, &body, true))?;
            outputs.set("issue", issue.number);
            eprintln!("closed drift issue #{}: back in sync", issue.number);
        }
        (true, None) => {}
    }
    Ok(ExitStatus::Success)
}
