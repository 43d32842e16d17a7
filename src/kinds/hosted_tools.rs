//! Project hosted-tool permissions (reference §3.17), `projects[].hosted_tools`, key
//! `project:<name>/hosted_tools`: `{file_search, web_search, image_generation, mcp,
//! code_interpreter}`, each `true` (enabled) or `false`. Only the tools the file names are
//! managed (compared and written: the API's POST is a partial update). No delete: removing
//! the block never writes (`? no longer managed`). Every tool is enabled by default.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ResourceKind;
use super::{Level, SettingKind, no_findings, through};

const TOOLS: [&str; 5] = [
    "file_search",
    "web_search",
    "image_generation",
    "mcp",
    "code_interpreter",
];

/// `true`: enabled. A tool left out is not managed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedTools {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_search: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_generation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_interpreter: Option<bool>,
}

fn all_enabled() -> Value {
    Value::Object(TOOLS.iter().map(|t| (t.to_string(), json!(true))).collect())
}

/// Tools switched off or on, in words (`Kind::attention`).
fn attention(change: &super::Change) -> Option<String> {
    let name = |tool: &str| match tool {
        "file_search" => "file search".to_string(),
        "web_search" => "web search".to_string(),
        "image_generation" => "image generation".to_string(),
        "mcp" => "MCP".to_string(),
        "code_interpreter" => "code interpreter".to_string(),
        other => other.replace('_', " "),
    };
    let mut off = Vec::new();
    let mut on = Vec::new();
    for field in &change.fields {
        match field.after.as_ref().and_then(Value::as_bool) {
            Some(false) => off.push(name(&field.field)),
            Some(true) => on.push(name(&field.field)),
            None => {}
        }
    }
    let mut parts = Vec::new();
    if !off.is_empty() {
        parts.push(format!(
            "hosted tools switched off: {}",
            crate::text::words::list(&off)
        ));
    }
    if !on.is_empty() {
        parts.push(format!(
            "hosted tools switched on: {}",
            crate::text::words::list(&on)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub static KIND: SettingKind = SettingKind {
    resource: ResourceKind::ProjectHostedTools,
    title: "Project hosted tools",
    field: "hosted_tools",
    audit_field: "hosted_tool_permissions",
    level: Level::Project,
    route: "/organization/projects/{project_id}/hosted_tool_permissions",
    deletable: false,
    partial: true,
    absent_is_404: false,
    parse: through::<HostedTools>,
    // `{tool: {enabled}}` -> `{tool: bool}`; the tools still at their default (enabled) are
    // left out, so an untouched project reads (and exports) as "not configured".
    from_api: |body| {
        let mut out = Map::new();
        for tool in TOOLS {
            let enabled = match body.get(tool) {
                None | Some(Value::Null) => true,
                Some(v) => v
                    .get("enabled")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| format!("hosted tool {tool:?} has no boolean `enabled`"))?,
            };
            if !enabled {
                out.insert(tool.to_string(), json!(false));
            }
        }
        Ok((!out.is_empty()).then_some(Value::Object(out)))
    },
    to_api: |value| {
        let mut body = Map::new();
        if let Some(tools) = value.as_object() {
            for (tool, enabled) in tools {
                body.insert(tool.clone(), json!({ "enabled": enabled }));
            }
        }
        Value::Object(body)
    },
    default: || Some(all_enabled()),
    destructive: |_, _| false,
    check: no_findings,
    normalize: |v| v,
    attention,
};
