//! The pull-request view of a plan (`plan --base REF`): what merging will apply, split into
//! the changes the pull request introduces and the drift that was already there.
//!
//! Three plans come from one live read (scoped to what either revision manages):
//!
//! - **full** = desired@HEAD against live, with desired@base as the baseline (so rate limits
//!   say `adopt` for a model the base did not manage and `update` otherwise). This is what
//!   merging and applying will do; its semantic hash is what the pull request approves.
//! - **introduced** = desired@HEAD against a live state simulated from desired@base: the base
//!   document as if it were applied, with the ids, default project, key owner and unmanaged
//!   rate-limit models of the real live read. This is the pull request's own diff, through the
//!   planner, so it speaks in the plan's verbs.
//! - **pre-existing** = desired@base against live: drift that merging also corrects.
//!
//! When the path did not exist at the base, everything is introduced and there is no
//! pre-existing drift to show. When the base file was invalid, only the full plan is shown.

use std::path::Path;

use crate::config::{self, LoadMode};
use crate::git::{self, GitSource, TempTree};
use crate::live::{LiveState, ReadScope};
use crate::model::Document;
use crate::ops::plan::{PlanFailure, Planned, read_live};
use crate::ops::target::{Connect, Target};
use crate::plan::{Plan, PlanOptions};
use crate::printer::Printer;

/// What the base revision held.
#[derive(Debug, Clone)]
pub enum BaseState {
    /// A valid desired state.
    Valid(Box<Document>),
    /// The path did not exist at the base.
    Absent,
    /// The base's desired state was invalid (the message says why).
    Invalid(String),
}

/// The pull-request view.
pub struct PullRequestPlan {
    /// desired@HEAD against live: what applying after the merge does.
    pub planned: Planned,
    /// The revision as given and the commit it names.
    pub base_ref: String,
    pub base_commit: String,
    pub base: BaseState,
    /// desired@HEAD against desired@base (as if applied); `None` when the base was invalid.
    pub introduced: Option<Plan>,
    /// desired@base against live; `None` when the base was absent or invalid.
    pub pre_existing: Option<Plan>,
}

impl PullRequestPlan {
    /// What the renderings show of it.
    pub fn view(&self) -> crate::render::pull_request::PullRequestView<'_> {
        use crate::render::pull_request::{BaseView, PullRequestView};
        PullRequestView {
            plan: &self.planned.plan,
            base_ref: &self.base_ref,
            base_commit: &self.base_commit,
            base: match &self.base {
                BaseState::Valid(_) => BaseView::Valid,
                BaseState::Absent => BaseView::Absent,
                BaseState::Invalid(why) => BaseView::Invalid(why),
            },
            introduced: self.introduced.as_ref(),
            pre_existing: self.pre_existing.as_ref(),
        }
    }
}

/// What one live read serving all three plans must read: what either document needs,
/// each kind asked about each (a merged document would lose what only the base manages in
/// a place the head also names, such as the organization's settings).
fn scope_for_both(head: &Document, base: Option<&Document>) -> ReadScope {
    let scope = ReadScope::for_document(head);
    match base {
        Some(base) => scope.union(ReadScope::for_document(base)),
        None => scope,
    }
}

/// The live org as it would be had `base` been applied: `base`'s objects, with what only the
/// live read knows (server ids, the default project, the key owner, rate limits of models the
/// base does not manage, since rate limits exist per model whether managed or not).
pub fn simulated_live(base: &Document, live: &LiveState) -> LiveState {
    let mut org = base.clone();
    org.invites.clear();
    for project in &mut org.projects {
        if let Some(live_project) = live.org.projects.iter().find(|p| p.name == project.name) {
            for (model, limits) in &live_project.rate_limits {
                project
                    .rate_limits
                    .entry(model.clone())
                    .or_insert_with(|| limits.clone());
            }
        }
    }
    if let Some(default) = &live.default_project
        && !org.projects.iter().any(|p| &p.name == default)
        && let Some(p) = live.org.projects.iter().find(|p| &p.name == default)
    {
        org.projects.push(p.clone());
    }
    LiveState {
        org,
        ids: live.ids.clone(),
        key_owner: live.key_owner.clone(),
        admin_keys_in_use: live.admin_keys_in_use.clone(),
        default_project: live.default_project.clone(),
        scope: live.scope.clone(),
        roleless_service_accounts: Default::default(),
        duplicates: live.duplicates.clone(),
        // Keys cannot be created: the base would have left the live ones it keeps.
        project_api_keys: live.project_api_keys.clone(),
        spend_alerts: live.spend_alerts.clone(),
        external_keys: live.external_keys.clone(),
        external_storage: live.external_storage.clone(),
        workload_identity: live.workload_identity.clone(),
        health_alert_rules: live.health_alert_rules.clone(),
    }
}

/// Loads the desired state at `base_ref` through `git`.
pub fn load_base(
    git: &dyn GitSource,
    base_ref: &str,
    file: &Path,
    load: config::LoadOptions,
) -> anyhow::Result<(String, BaseState)> {
    let commit = git.resolve(base_ref)?;
    let rel = git::repo_relative(git, file)?;
    let tree = TempTree::new("orgops-base")?;
    let state = match git::materialize(git, &commit, &rel, tree.path())? {
        None => BaseState::Absent,
        Some(path) => match config::load_with(&path, LoadMode::Desired, load) {
            Ok(desired) => BaseState::Valid(Box::new(desired.doc)),
            Err(diagnostics) => {
                let shown = diagnostics.render_human(false);
                let prefix = format!("{}/", tree.path().display());
                BaseState::Invalid(shown.replace(&prefix, ""))
            }
        },
    };
    Ok((commit, state))
}

/// Plans `file` for a pull request whose base is `base_ref` (see the module doc).
pub fn plan_pull_request(
    file: &Path,
    load: config::LoadOptions,
    base_ref: &str,
    git: &dyn GitSource,
    target: &Connect,
    options: &PlanOptions,
    printer: Printer,
) -> Result<PullRequestPlan, PlanFailure> {
    let desired = config::load_with(file, LoadMode::Desired, load).map_err(PlanFailure::Invalid)?;
    let (base_commit, base) = load_base(git, base_ref, file, load)?;
    let base_doc = match &base {
        BaseState::Valid(doc) => Some(doc.as_ref()),
        _ => None,
    };
    let target = Target::open_with(target.emulator.as_deref(), target.concurrency)?
        .reading_snapshot(target.snapshot.clone());
    let scope = scope_for_both(&desired.doc, base_doc);
    let runtime = crate::ops::runtime()?;
    let live = read_live(&runtime, &target, &scope, printer)?;
    let requests = target.client.attempts();
    crate::ops::plan::check_live(&desired, &live, load)?;
    let full_options = PlanOptions {
        baseline: base_doc.cloned(),
        ..options.clone()
    };
    let full = crate::ops::plan::plan_against(&desired.doc, &live, &full_options)?;
    let (introduced, pre_existing) = match &base {
        BaseState::Valid(base_doc) => {
            let simulated = simulated_live(base_doc, &live);
            let introduced =
                crate::ops::plan::plan_against(&desired.doc, &simulated, &full_options)?;
            let pre_existing = crate::ops::plan::plan_against(
                base_doc,
                &live,
                &PlanOptions {
                    baseline: Some(base_doc.as_ref().clone()),
                    ..options.clone()
                },
            )?;
            (Some(introduced), Some(pre_existing))
        }
        BaseState::Absent => (Some(full.clone()), None),
        BaseState::Invalid(_) => (None, None),
    };
    Ok(PullRequestPlan {
        planned: Planned {
            desired,
            live,
            plan: full,
            target,
            requests,
        },
        base_ref: base_ref.to_string(),
        base_commit,
        base,
        introduced,
        pre_existing,
    })
}
