//! Project rate limits, key `project:<project>/rate_limit:<model>`. Rows pre-exist per model
//! and can only be updated: there is no create and no delete. Only the fields the file gives
//! are managed; the others are neither shown nor written, and an undeclared model is not
//! reported. The verb is `adopt` for first management (the project is created by this plan,
//! or the baseline did not manage the model) and `update` otherwise. A model the live project
//! has no row for is refused (`unknown_rate_limit`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::context::{Context, Draft, Output};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, RefusalRule, ResourceKind};
use crate::model::RateLimit;

const KIND: ResourceKind = ResourceKind::RateLimit;

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

/// Rate limits.
pub(crate) struct RateLimitKind;

impl Kind for RateLimitKind {
    fn title(&self) -> &'static str {
        "Rate limits"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        for (desired_project, live_project) in ctx.child_projects() {
            let project = &desired_project.name;
            for (model, desired) in &desired_project.rate_limits {
                let key = keys::rate_limit(project, model);
                let live = live_project.and_then(|p| p.rate_limits.get(model));
                if live_project.is_some() && live.is_none() {
                    out.refuse(
                    RefusalRule::UnknownRateLimit,
                    format!("project {project:?} has no rate limit for model {model:?}; rate limits cannot be created"),
                    vec![key],
                    "remove the model from `rate_limits` or use a model name the project lists",
                );
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
                        Operation::UpdateRateLimit {
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
}
