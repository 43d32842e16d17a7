//! Project model permissions (reference §3.17), `projects[].model_permissions`, key
//! `project:<name>/model_permissions`: `{mode: allow_list | deny_list, models: [...]}`, a full
//! replace on write (`model_ids` in the API), compared as a set. The API has a DELETE, so a
//! block removed from the file is `unset` under `policy.unmanaged.settings: remove`. "Not
//! configured" reads as a deny list of nothing (the emulator's rule, `rules.rs`), which is
//! what a `set` changes from.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ResourceKind;
use std::collections::BTreeSet;

use super::{Finding, Level, SettingKind, through};
use crate::model::Document;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionMode {
    AllowList,
    DenyList,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPermissions {
    pub mode: PermissionMode,
    /// Model ids; compared as a set.
    #[serde(default)]
    pub models: Vec<String>,
}

fn normalize(value: Value) -> Value {
    match serde_json::from_value::<ModelPermissions>(value.clone()) {
        Ok(mut m) => {
            m.models.sort();
            m.models.dedup();
            serde_json::to_value(m).unwrap_or(value)
        }
        Err(_) => value,
    }
}

fn unrestricted() -> Value {
    json!({"mode": "deny_list", "models": []})
}

/// Which models become allowed or denied, in words (`Kind::attention`). An `unset` goes
/// back to "every model allowed": from a deny list that allows the models it denied.
fn attention(change: &super::Change) -> Option<String> {
    use crate::text::words::list;
    let read = |v: Option<&Value>| serde_json::from_value::<ModelPermissions>(v?.clone()).ok();
    let before = read(change.before.as_ref()).unwrap_or(ModelPermissions {
        mode: PermissionMode::DenyList,
        models: vec![],
    });
    let after = read(change.after.as_ref()).unwrap_or(ModelPermissions {
        mode: PermissionMode::DenyList,
        models: vec![],
    });
    let are = |models: &[String]| if models.len() == 1 { "is" } else { "are" };
    let not_in = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|m| !b.contains(m)).cloned().collect()
    };
    let mut parts = Vec::new();
    let unset = change.action == super::Action::Unset;
    match (before.mode, after.mode) {
        (PermissionMode::DenyList, PermissionMode::DenyList) => {
            let allowed = not_in(&before.models, &after.models);
            let denied = not_in(&after.models, &before.models);
            if !allowed.is_empty() {
                parts.push(format!(
                    "{} {} allowed (denied until now)",
                    list(&allowed),
                    are(&allowed)
                ));
            }
            if !denied.is_empty() {
                parts.push(format!("{} {} denied", list(&denied), are(&denied)));
            }
        }
        (PermissionMode::AllowList, PermissionMode::AllowList) => {
            let allowed = not_in(&after.models, &before.models);
            let denied = not_in(&before.models, &after.models);
            if !allowed.is_empty() {
                parts.push(format!("{} {} allowed", list(&allowed), are(&allowed)));
            }
            if !denied.is_empty() {
                parts.push(format!(
                    "{} {} no longer allowed",
                    list(&denied),
                    are(&denied)
                ));
            }
        }
        (PermissionMode::AllowList, PermissionMode::DenyList) => {
            parts.push(if after.models.is_empty() {
                format!(
                    "every model is allowed (only {} until now)",
                    list(&before.models)
                )
            } else {
                format!(
                    "every model but {} is allowed (only {} until now)",
                    list(&after.models),
                    list(&before.models)
                )
            });
        }
        (PermissionMode::DenyList, PermissionMode::AllowList) => {
            parts.push(format!(
                "only {} {} allowed",
                list(&after.models),
                are(&after.models)
            ));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let head = if unset {
        "model permissions removed: "
    } else {
        "models: "
    };
    Some(format!("{head}{}", parts.join("; ")))
}

/// Fewer models allowed (an allow list shrinks, a deny list grows, or the mode changes) is
/// not marked destructive here: only limits and retention are (issue 10); access changes
/// show as updates.
fn destructive(_before: Option<&Value>, _after: &Value) -> bool {
    false
}

pub static KIND: SettingKind = SettingKind {
    resource: ResourceKind::ProjectModelPermissions,
    title: "Project model permissions",
    field: "model_permissions",
    audit_field: "model_permissions",
    level: Level::Project,
    route: "/organization/projects/{project_id}/model_permissions",
    deletable: true,
    partial: false,
    absent_is_404: true,
    parse: through::<ModelPermissions>,
    from_api: |body| {
        let mode = body
            .get("mode")
            .cloned()
            .ok_or("the model permissions object has no `mode`")?;
        let models = body.get("model_ids").cloned().unwrap_or_else(|| json!([]));
        let value = normalize(json!({"mode": mode, "models": models}));
        serde_json::from_value::<ModelPermissions>(value.clone())
            .map_err(|e| format!("unexpected model permissions object: {e}"))?;
        Ok((value != unrestricted()).then_some(value))
    },
    to_api: |value| json!({"mode": value.get("mode"), "model_ids": value.get("models").cloned().unwrap_or_else(|| json!([]))}),
    default: || Some(unrestricted()),
    destructive,
    check,
    normalize,
    attention,
};

/// Model ids of a permission list: the models the file's rate limits name are the ones
/// orgops knows exist (every project has a rate limit per model). An id none of them names is
/// likely a typo: a warning with a did-you-mean (it may also be a model the file simply sets
/// no rate limit for, so it is not an error).
fn check(kind: &SettingKind, doc: &Document) -> Vec<Finding> {
    let known: BTreeSet<&str> = doc
        .projects
        .iter()
        .flat_map(|p| p.rate_limits.keys().map(String::as_str))
        .collect();
    if known.is_empty() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    for (i, project) in doc.projects.iter().enumerate() {
        let Some(permissions) = kind
            .get(doc, Some(&project.name))
            .and_then(|v| serde_json::from_value::<ModelPermissions>(v).ok())
        else {
            continue;
        };
        for (j, model) in permissions.models.iter().enumerate() {
            if known.contains(model.as_str()) {
                continue;
            }
            let hint =
                crate::text::suggest::did_you_mean(model, known.iter().copied()).or_else(|| {
                    Some("check the model id; the file's `rate_limits` name no such model".into())
                });
            findings.push(Finding {
                at_key: false,
                pointer: format!("/projects/{i}/model_permissions/models/{j}"),
                error: false,
                message: format!(
                    "model {model:?} is not a model any `rate_limits` entry of the file names"
                ),
                hint,
            });
        }
    }
    findings
}
