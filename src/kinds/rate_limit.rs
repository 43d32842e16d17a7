//! Project rate limits, key `project:<project>/rate_limit:<model>`. Rows pre-exist per model
//! and can only be updated: there is no create and no delete. Only the fields the file gives
//! are managed; the others are neither shown nor written, and an undeclared model is not
//! reported. The verb is `adopt` for first management (the project is created by this plan,
//! or the baseline did not manage the model) and `update` otherwise.
//!
//! A model must be one the project has a row for, or apply would fail halfway: checked
//! after the live read, before anything is planned or written ([`Kind::check_live`]: a
//! located error with did-you-mean), against the live project's own list, or, for a project
//! the plan creates, against the models the live projects that were read list (the read
//! adds the default project's list for that: every project gets the organization's rows).
//! The diff refuses the same models (`unknown_rate_limit`), for plans made without the check.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::rate_limits::RateLimit as WireRateLimit;
use crate::api::types::ProjectId as ReadProjectId;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::context::{Context, Draft, Output};
use super::keys;
use super::kind::{Finding, Kind};
use super::{Action, Operation, RefusalRule, ResourceKind};
use crate::model::RateLimit;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, Step, api};
use super::keys::refs;
use super::keys::refs::project;
use crate::api::safe::retry_transient;
use crate::api::types::{ProjectId, RateLimitId};

const KIND: ResourceKind = ResourceKind::RateLimit;

/// The API's name for the default project (the default-project rule's first choice,
/// `wire::default_project`): its rate limits are read whenever a project's are, as the
/// models a project the plan creates will have.
const DEFAULT_PROJECT: &str = "Default project";

/// A model the file gives a project that the project will have no rate-limit row for.
struct UnknownModel<'d> {
    /// The project's index in the file's `projects`.
    index: usize,
    project: &'d str,
    model: &'d str,
    /// The models it was checked against, sorted.
    known: Vec<&'d str>,
    /// What those are: `project "P"'s rate limits` or, for a project the plan creates,
    /// the live projects whose lists were read.
    against: String,
}

impl UnknownModel<'_> {
    fn message(&self) -> String {
        format!(
            "project {:?} has no rate limit for model {:?} (checked against {}); rate limits cannot be created",
            self.project, self.model, self.against
        )
    }

    fn hint(&self) -> String {
        let suggestion = crate::text::suggest::did_you_mean(self.model, self.known.iter().copied());
        let listed = if self.known.len() > 12 {
            format!(
                "{}, ... ({} models)",
                self.known[..12].join(", "),
                self.known.len()
            )
        } else {
            self.known.join(", ")
        };
        match suggestion {
            _ if self.known.is_empty() => {
                "the project lists no rate limits: remove the model from `rate_limits`".to_string()
            }
            Some(s) => format!("{s} The models listed: {listed}"),
            None => {
                format!("use one of the models listed ({listed}), or remove it from `rate_limits`")
            }
        }
    }
}

/// Every model of `doc`'s rate limits that the project will not have: for a live project
/// whose list was `read`, one its own list lacks; for a project the plan creates, one no
/// live project that was read lists (nothing is checked when none was read).
fn unknown_models<'d>(
    doc: &'d ReadDocument,
    live: &'d ReadDocument,
    read: &dyn Fn(&str) -> bool,
) -> Vec<UnknownModel<'d>> {
    let active = || {
        live.projects
            .iter()
            .filter(|p| !p.archived && read(&p.name))
    };
    let mut listed: Vec<&str> = active()
        .filter(|p| !p.rate_limits.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    listed.sort();
    let mut organization: Vec<&str> = active()
        .flat_map(|p| p.rate_limits.keys().map(String::as_str))
        .collect();
    organization.sort();
    organization.dedup();
    let mut out = Vec::new();
    for (index, project) in doc.projects.iter().enumerate() {
        if project.archived || project.rate_limits.is_empty() {
            continue;
        }
        let (known, against) = match live.projects.iter().find(|p| p.name == project.name) {
            Some(p) if p.archived || !read(&p.name) => continue,
            Some(p) => (
                p.rate_limits.keys().map(String::as_str).collect::<Vec<_>>(),
                format!(
                    "the project's own rate limits, {} models",
                    p.rate_limits.len()
                ),
            ),
            None if organization.is_empty() => continue,
            None => {
                let names: Vec<String> = listed.iter().take(3).map(|n| format!("{n:?}")).collect();
                let more = listed.len().saturating_sub(3);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                (
                    organization.clone(),
                    format!(
                        "the models the organization's projects list: the rate limits of project {}{more}, {} models; the project is created by this plan",
                        names.join(", "),
                        organization.len()
                    ),
                )
            }
        };
        for model in project.rate_limits.keys() {
            if !known.contains(&model.as_str()) {
                out.push(UnknownModel {
                    index,
                    project: &project.name,
                    model,
                    known: known.clone(),
                    against: against.clone(),
                });
            }
        }
    }
    out
}

/// The managed fields (those `desired` gives) with `source`'s values.
fn managed_view(desired: &RateLimit, source: Option<&RateLimit>) -> Value {
    let mut map = Map::new();
    let values = source.map(RateLimit::fields);
    for (i, (name, wanted)) in desired.fields().into_iter().enumerate() {
        if wanted.is_some() {
            let value = values.map(|v| v[i].1).unwrap_or(wanted);
            map.insert(name.to_string(), json!(value));
        }
    }
    Value::Object(map)
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    UpdateRateLimit {
        project: String,
        model: String,
        fields: BTreeMap<String, u64>,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Rate limits.
pub(crate) struct RateLimitKind;

impl Kind for RateLimitKind {
    fn title(&self) -> &'static str {
        "Rate limits"
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Missing, "rate_limit.deleted", Id),
            rule(Changed, "rate_limit.updated", Id),
        ]
    }

    /// Every change of a limit, in words: `rate limit of gpt-4o: 900 → 600 requests per
    /// minute (lowered)`.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        use crate::text::words::{rate_limit_field, thousands};
        let Op::UpdateRateLimit { project, model, .. } = &change.op.decode::<Op>().ok()?;
        let parts: Vec<String> = change
            .fields
            .iter()
            .filter_map(|f| {
                let after = f.after.as_ref()?.as_u64()?;
                let field = rate_limit_field(&f.field);
                Some(match f.before.as_ref().and_then(Value::as_u64) {
                    Some(before) => format!(
                        "{} → {} {field} ({})",
                        thousands(before),
                        thousands(after),
                        super::attention::direction(before, after)
                    ),
                    None => format!("{} {field}", thousands(after)),
                })
            })
            .collect();
        (!parts.is_empty()).then(|| {
            super::Attention::new(
                project,
                format!("rate limit of {model}: {}", parts.join(", ")),
            )
        })
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        // Every list counts here: a `--target` plan drops the refusals of other objects.
        let unknown = unknown_models(&ctx.desired, &ctx.live, &|_| true);
        for unknown in &unknown {
            out.refuse(
                RefusalRule::UnknownRateLimit,
                unknown.message(),
                vec![keys::rate_limit(unknown.project, unknown.model)],
                "remove the model from `rate_limits` or use a model name the project lists",
            );
        }
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            for (model, desired) in &desired_project.rate_limits {
                let key = keys::rate_limit(project, model);
                let live = live_project.and_then(|p| p.rate_limits.get(model));
                if unknown
                    .iter()
                    .any(|u| u.project == project && u.model == model)
                {
                    continue;
                }
                let live_fields = live.map(RateLimit::fields);
                let mut fields = BTreeMap::new();
                for (i, (name, wanted)) in desired.fields().into_iter().enumerate() {
                    if let Some(wanted) = wanted
                        && live_fields.map(|f| f[i].1) != Some(Some(wanted))
                    {
                        fields.insert(name.to_string(), wanted);
                    }
                }
                if fields.is_empty() {
                    continue;
                }
                let first_management = live.is_none()
                    || ctx.baseline_manages_rate_limit(project, model) == Some(false);
                let action = if first_management {
                    Action::Adopt
                } else {
                    Action::Update
                };
                let before = live.map(|l| managed_view(desired, Some(l)));
                // A lowered limit makes requests fail sooner: it takes something away.
                let lowered = live_fields.is_some_and(|live| {
                    fields.iter().any(|(name, &wanted)| {
                        live.iter()
                            .any(|(n, v)| n == name && v.is_some_and(|v| wanted < v))
                    })
                });
                out.push(
                    Draft::new(
                        KIND,
                        key,
                        action,
                        Op::UpdateRateLimit {
                            project: project.clone(),
                            model: model.clone(),
                            fields,
                        },
                    )
                    .before(before)
                    .destructive(lowered)
                    .after(Some(managed_view(desired, None)))
                    .diffed(&[])
                    .parents([keys::project(project)]),
                );
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::UpdateRateLimit {
                project: p, model, ..
            } => vec![project(p), refs::rate_limit(p, model)],
        };
        ids.sort();
        ids.dedup();
        ids
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let op: Op = op.decode()?;
            let c = &cx.client;
            match &op {
                Op::UpdateRateLimit {
                    project: p,
                    model,
                    fields,
                } => {
                    let pid = ProjectId::from(cx.need(&project(p))?);
                    let reference = crate::kinds::keys::refs::rate_limit(p, model);
                    if cx.ids.get(&reference).is_none() {
                        // A project created by this run: its rows exist now; learn their IDs.
                        let rows = retry_transient(|| c.list_rate_limits(&pid))
                            .await
                            .map_err(api)?;
                        for row in rows {
                            let row_ref = crate::kinds::keys::refs::rate_limit(p, &row.model);
                            cx.ids.record(&row_ref, row.id.as_str());
                        }
                    }
                    let id = RateLimitId::from(cx.need(&reference)?);
                    let limits = rate_limit_fields(fields)?;
                    retry_transient(|| c.update_rate_limit(&pid, &id, &limits))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut crate::kinds::LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        use super::simulate::*;
        match &op {
            Op::UpdateRateLimit {
                project: p,
                model,
                fields,
            } => {
                let row = project(s, p).rate_limits.entry(model.clone()).or_default();
                for (field, value) in fields {
                    let slot = match field.as_str() {
                        "max_requests_per_1_minute" => &mut row.max_requests_per_1_minute,
                        "max_tokens_per_1_minute" => &mut row.max_tokens_per_1_minute,
                        "max_images_per_1_minute" => &mut row.max_images_per_1_minute,
                        "max_audio_megabytes_per_1_minute" => {
                            &mut row.max_audio_megabytes_per_1_minute
                        }
                        "max_requests_per_1_day" => &mut row.max_requests_per_1_day,
                        "batch_1_day_max_input_tokens" => &mut row.batch_1_day_max_input_tokens,
                        other => panic!("simulated apply: unknown rate-limit field {other}"),
                    };
                    *slot = Some(*value);
                }
            }
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::per(ResourceKind::Project))
    }

    /// The rate limits of the projects that declare some, and then the default project's
    /// (the models a project the plan creates will have: see [`unknown_models`]).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let wanted = |p: &&crate::model::Project| !p.archived && !p.rate_limits.is_empty();
        Select::only_if(
            doc.projects.iter().any(|p| wanted(&p)),
            doc.projects
                .iter()
                .filter(wanted)
                .map(|p| keys::project(&p.name))
                .chain([keys::project(DEFAULT_PROJECT)]),
        )
    }

    /// A model the project will not have (a typo such as `gpt-4o-minii`): an error at the
    /// model's key, with did-you-mean, before anything is planned or written.
    fn check_live(&self, doc: &ReadDocument, live: &LiveState) -> Vec<Finding> {
        let read = |name: &str| live.scope.reads(KIND, Some(&keys::project(name)));
        unknown_models(doc, &live.org, &read)
            .into_iter()
            .map(|u| Finding {
                // A model name is one JSON-pointer token (RFC 6901: `~` and `/` escaped).
                pointer: format!(
                    "/projects/{}/rate_limits/{}",
                    u.index,
                    u.model.replace('~', "~0").replace('/', "~1")
                ),
                error: true,
                at_key: true,
                message: u.message(),
                hint: Some(u.hint()),
            })
            .collect()
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = ReadProjectId::from(parent.map(Parent::id).unwrap_or_default());
            one_page(&pages, client.list_rate_limits(&id).await?);
            Ok(())
        })
    }

    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        for (i, _, limits) in super::read::project_lists::<WireRateLimit>(raw, KIND, state) {
            let name = state.org.projects[i].name.clone();
            for limit in limits {
                state
                    .ids
                    .set(refs::rate_limit(&name, &limit.model), limit.id.to_string());
                state.org.projects[i]
                    .rate_limits
                    .insert(limit.model.clone(), limit.to_model());
            }
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.projects
            .iter()
            .flat_map(|p| p.rate_limits.keys().map(|m| keys::rate_limit(&p.name, m)))
            .collect()
    }
}

fn rate_limit_fields(fields: &BTreeMap<String, u64>) -> Result<RateLimit, String> {
    let mut limits = RateLimit::default();
    for (field, &value) in fields {
        let slot = match field.as_str() {
            "max_requests_per_1_minute" => &mut limits.max_requests_per_1_minute,
            "max_tokens_per_1_minute" => &mut limits.max_tokens_per_1_minute,
            "max_images_per_1_minute" => &mut limits.max_images_per_1_minute,
            "max_audio_megabytes_per_1_minute" => &mut limits.max_audio_megabytes_per_1_minute,
            "max_requests_per_1_day" => &mut limits.max_requests_per_1_day,
            "batch_1_day_max_input_tokens" => &mut limits.batch_1_day_max_input_tokens,
            other => return Err(format!("unknown rate-limit field `{other}`")),
        };
        *slot = Some(value);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_fields_map_by_api_name_and_unknown_ones_are_refused() {
        let fields = BTreeMap::from([
            ("max_requests_per_1_minute".to_string(), 500),
            ("batch_1_day_max_input_tokens".to_string(), 7),
        ]);
        let limits = rate_limit_fields(&fields).expect("known");
        assert_eq!(limits.max_requests_per_1_minute, Some(500));
        assert_eq!(limits.batch_1_day_max_input_tokens, Some(7));
        assert_eq!(limits.max_tokens_per_1_minute, None);
        let bad = BTreeMap::from([("max_unicorns".to_string(), 1)]);
        assert!(rate_limit_fields(&bad).is_err());
    }
}
