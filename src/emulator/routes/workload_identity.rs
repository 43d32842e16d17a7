//! Workload identity providers and their federation rules, as the official SDK has them
//! (`openai==3.63.0`, `resources/admin/organization/workload_identity_providers/`, the
//! `WorkloadIdentityProvider` and `FederationRule` models and their create and update
//! params): list (cursor pages: `after` the last id, `limit`, `order`; rules also by
//! `service_account_id`), create, retrieve, update (`POST`, the fields given) and delete
//! (`{id, deleted, object}`) for both. A body field the params do not have is refused with
//! a 400 naming it.
//!
//! A rule names an active project and one of its service accounts. Deleting a provider
//! deletes its rules (their routes are under it; unverified against the real API, which
//! orgops never relies on: it deletes the rules first). Writes record the spec's audit
//! events (`workload_identity_provider.*`, and `workload_identity_provider_mapping.*` for a
//! rule, with the details the spec documents). Seeded from
//! `settings.workload_identity_providers` (rules by project and service-account name) and
//! dumped back there in the same shape, the API's defaults left out.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::external_keys::required_text;
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_a,
};
use crate::emulator::state::{FederationRule, IdKind, OrgState, WorkloadIdentityProvider, now};
use crate::model::Document;

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_100_20,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: false,
};

/// The provider create params (`WorkloadIdentityProviderCreateParams`).
const PROVIDER_CREATE: &[&str] = &[
    "name",
    "type",
    "issuer",
    "audience",
    "attribute_transformations",
    "description",
    "enabled",
    "verification",
];
/// The provider update params (`type` cannot change).
const PROVIDER_UPDATE: &[&str] = &[
    "name",
    "issuer",
    "audience",
    "attribute_transformations",
    "description",
    "enabled",
    "verification",
];
/// The rule create params.
const RULE_CREATE: &[&str] = &[
    "attribute_matchers",
    "project_id",
    "service_account_id",
    "description",
    "enabled",
    "name",
    "permissions",
];
/// The rule update params (project and service account cannot change).
const RULE_UPDATE: &[&str] = &[
    "attribute_matchers",
    "description",
    "enabled",
    "name",
    "permissions",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organization/workload_identity_providers",
            get(list_providers).post(create_provider),
        )
        .route(
            "/organization/workload_identity_providers/{workload_identity_provider_id}",
            get(retrieve_provider)
                .post(update_provider)
                .delete(delete_provider),
        )
        .route(
            "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules/{workload_identity_federation_rule_id}",
            get(retrieve_rule).post(update_rule).delete(delete_rule),
        )
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::bad_request("The body must be a JSON object."))
}

/// The first field of `body` not in `known`, refused.
fn only(body: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    crate::emulator::http::reject_unknown(body, known, "")
}

fn invalid(field: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid_param(
        field,
        format!("Invalid type for '{field}': expected {expected}, but got {got}."),
    )
}

/// Each field of `body` that is given (not null where `nullable`), checked, into `out`.
fn checked_provider_fields(
    body: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    for (field, value) in body {
        let v = match (field.as_str(), value) {
            ("name" | "issuer" | "audience", _) => json!(required_text(body, field)?),
            ("type", Value::String(t)) if t == "oidc" => value.clone(),
            ("type", _) => {
                return Err(ApiError::invalid_param(
                    "type",
                    format!("Invalid 'type': {value}. Expected oidc."),
                ));
            }
            ("description", Value::String(_) | Value::Null) => value.clone(),
            ("enabled", Value::Bool(_)) => value.clone(),
            ("attribute_transformations", Value::Array(items)) => {
                for item in items {
                    let ok = item.as_object().is_some_and(|o| {
                        o.len() == 2
                            && o.get("attribute").is_some_and(Value::is_string)
                            && o.get("expression").is_some_and(Value::is_string)
                    });
                    if !ok {
                        return Err(invalid(field, "a list of {attribute, expression}", item));
                    }
                }
                value.clone()
            }
            ("verification", Value::Object(o)) => {
                let ok = match o.get("type").and_then(Value::as_str) {
                    Some("discovery") => {
                        o.keys().all(|k| k == "type" || k == "discovery_url")
                            && o.get("discovery_url")
                                .is_none_or(|u| u.is_string() || u.is_null())
                    }
                    Some("uploaded_jwks") => {
                        o.keys().all(|k| k == "type" || k == "jwks")
                            && o.get("jwks").is_some_and(Value::is_object)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(invalid(
                        field,
                        "{type: discovery, discovery_url} or {type: uploaded_jwks, jwks}",
                        value,
                    ));
                }
                let mut v = value.clone();
                if o.get("type").and_then(Value::as_str) == Some("discovery") {
                    v["discovery_url"] = o.get("discovery_url").cloned().unwrap_or(Value::Null);
                }
                v
            }
            (field, value) => {
                let expected = match field {
                    "description" => "a string",
                    "enabled" => "a boolean",
                    "attribute_transformations" => "an array",
                    _ => "an object",
                };
                return Err(invalid(field, expected, value));
            }
        };
        out.insert(field.clone(), v);
    }
    Ok(())
}

fn checked_rule_fields(
    body: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    for (field, value) in body {
        let v = match (field.as_str(), value) {
            ("project_id" | "service_account_id", _) => json!(required_text(body, field)?),
            ("name" | "description", Value::String(_) | Value::Null) => value.clone(),
            ("enabled", Value::Bool(_)) => value.clone(),
            ("attribute_matchers", Value::Object(o)) => {
                if o.values()
                    .any(|v| !(v.is_string() || v.is_boolean() || v.is_number()))
                {
                    return Err(invalid(
                        field,
                        "an object of strings, booleans and numbers",
                        value,
                    ));
                }
                value.clone()
            }
            ("permissions", Value::Object(o)) => {
                let ok = match o.get("type").and_then(Value::as_str) {
                    Some("service_account_default") => o.len() == 1,
                    Some("restricted") => {
                        o.len() == 2
                            && o.get("scopes")
                                .and_then(Value::as_array)
                                .is_some_and(|s| s.iter().all(Value::is_string))
                    }
                    _ => false,
                };
                if !ok {
                    return Err(invalid(
                        field,
                        "{type: service_account_default} or {type: restricted, scopes}",
                        value,
                    ));
                }
                value.clone()
            }
            (field, value) => {
                let expected = match field {
                    "name" | "description" => "a string",
                    "enabled" => "a boolean",
                    _ => "an object",
                };
                return Err(invalid(field, expected, value));
            }
        };
        out.insert(field.clone(), v);
    }
    Ok(())
}

fn missing(field: &str) -> ApiError {
    ApiError::invalid_param(field, format!("Missing required parameter: '{field}'."))
}

/// The `WorkloadIdentityProvider` model.
fn provider_json(p: &WorkloadIdentityProvider) -> Value {
    let f = |k: &str| p.fields.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": p.id,
        "object": "organization.workload_identity_provider",
        "name": f("name"),
        "type": "oidc",
        "issuer": f("issuer"),
        "audience": f("audience"),
        "description": f("description"),
        "enabled": p.fields.get("enabled").cloned().unwrap_or(json!(true)),
        "attribute_transformations": p.fields.get("attribute_transformations").cloned().unwrap_or(json!([])),
        "verification": p.fields.get("verification").cloned()
            .unwrap_or(json!({"type": "discovery", "discovery_url": null})),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

/// The `FederationRule` model.
fn rule_json(r: &FederationRule) -> Value {
    let f = |k: &str| r.fields.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": r.id,
        "object": "organization.workload_identity_federation_rule",
        "workload_identity_provider_id": r.provider_id,
        "name": f("name"),
        "project_id": f("project_id"),
        "service_account_id": f("service_account_id"),
        "attribute_matchers": f("attribute_matchers"),
        "description": f("description"),
        "enabled": r.fields.get("enabled").cloned().unwrap_or(json!(true)),
        "permissions": r.fields.get("permissions").cloned()
            .unwrap_or(json!({"type": "service_account_default"})),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

fn provider<'a>(org: &'a OrgState, id: &str) -> Result<&'a WorkloadIdentityProvider, ApiError> {
    org.workload_identity_providers
        .get(id)
        .ok_or_else(|| ApiError::not_found("workload identity provider", id))
}

fn rule<'a>(
    org: &'a OrgState,
    provider_id: &str,
    id: &str,
) -> Result<&'a FederationRule, ApiError> {
    provider(org, provider_id)?;
    org.federation_rules
        .get(id)
        .filter(|r| r.provider_id == provider_id)
        .ok_or_else(|| ApiError::not_found("federation rule", id))
}

/// A provider created from checked create params.
fn add_provider(org: &mut OrgState, body: &Value) -> Result<WorkloadIdentityProvider, ApiError> {
    let body = object(body)?;
    only(body, PROVIDER_CREATE)?;
    for field in ["name", "type", "issuer", "audience"] {
        if body.get(field).is_none_or(Value::is_null) {
            return Err(missing(field));
        }
    }
    let mut fields = Map::new();
    checked_provider_fields(body, &mut fields)?;
    let at = now();
    let p = WorkloadIdentityProvider {
        id: org.ids.id(IdKind::WorkloadIdentityProvider),
        created_at: at,
        updated_at: at,
        fields,
    };
    org.workload_identity_providers
        .insert(p.id.clone(), p.clone());
    Ok(p)
}

/// A rule created from checked create params, its project active and its service account
/// one of that project's.
fn add_rule(
    org: &mut OrgState,
    provider_id: &str,
    body: &Value,
) -> Result<FederationRule, ApiError> {
    provider(org, provider_id)?;
    let body = object(body)?;
    only(body, RULE_CREATE)?;
    for field in ["attribute_matchers", "project_id", "service_account_id"] {
        if body.get(field).is_none_or(Value::is_null) {
            return Err(missing(field));
        }
    }
    let mut fields = Map::new();
    checked_rule_fields(body, &mut fields)?;
    let project_id = required_text(body, "project_id")?;
    let account = required_text(body, "service_account_id")?;
    let project = super::projects::find_active(org, project_id)?;
    if !project.service_accounts.contains_key(account) {
        return Err(ApiError::invalid_param(
            "service_account_id",
            format!("No service account '{account}' in project '{project_id}'."),
        ));
    }
    let at = now();
    let r = FederationRule {
        id: org.ids.id(IdKind::FederationRule),
        provider_id: provider_id.to_string(),
        created_at: at,
        updated_at: at,
        fields,
    };
    org.federation_rules.insert(r.id.clone(), r.clone());
    Ok(r)
}

async fn list_providers(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    ok(page_a(
        &org.workload_identity_providers,
        |_| true,
        &req,
        provider_json,
    )?)
}

async fn create_provider(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let mut org = app.org();
    let p = add_provider(&mut org, &body)?;
    audit(
        &mut org,
        &actor,
        "workload_identity_provider.created",
        &p.id,
        json!({"id": p.id, "data": body}),
    );
    ok(provider_json(&p))
}

async fn retrieve_provider(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(provider_json(provider(&org, &id)?))
}

async fn update_provider(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let mut org = app.org();
    provider(&org, &id)?;
    let fields = object(&body)?;
    only(fields, PROVIDER_UPDATE)?;
    let mut changes = Map::new();
    checked_provider_fields(fields, &mut changes)?;
    let updated = {
        let Some(p) = org.workload_identity_providers.get_mut(&id) else {
            return Err(ApiError::not_found("workload identity provider", &id));
        };
        for (k, v) in changes {
            p.fields.insert(k, v);
        }
        p.updated_at = now();
        p.clone()
    };
    audit(
        &mut org,
        &actor,
        "workload_identity_provider.updated",
        &id,
        json!({"id": id, "changes_requested": body}),
    );
    ok(provider_json(&updated))
}

async fn delete_provider(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    let name = provider(&org, &id)?.fields.get("name").cloned();
    org.workload_identity_providers.shift_remove(&id);
    org.federation_rules.retain(|_, r| r.provider_id != id);
    audit(
        &mut org,
        &actor,
        "workload_identity_provider.deleted",
        &id,
        json!({"id": id, "name": name}),
    );
    ok(
        json!({"id": id, "deleted": true, "object": "organization.workload_identity_provider.deleted"}),
    )
}

async fn list_rules(
    State(app): State<AppState>,
    Path(provider_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let account = q.get("service_account_id").map(str::to_string);
    let org = app.org();
    provider(&org, &provider_id)?;
    let keep = |r: &FederationRule| {
        r.provider_id == provider_id
            && account.as_deref().is_none_or(|a| {
                r.fields.get("service_account_id").and_then(Value::as_str) == Some(a)
            })
    };
    ok(page_a(&org.federation_rules, keep, &req, rule_json)?)
}

async fn create_rule(
    State(app): State<AppState>,
    actor: Actor,
    Path(provider_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let mut org = app.org();
    let r = add_rule(&mut org, &provider_id, &body)?;
    audit(
        &mut org,
        &actor,
        "workload_identity_provider_mapping.created",
        &r.id,
        json!({"id": r.id, "identity_provider_id": provider_id, "data": body}),
    );
    ok(rule_json(&r))
}

async fn retrieve_rule(
    State(app): State<AppState>,
    Path((provider_id, id)): Path<(String, String)>,
) -> ApiResult {
    let org = app.org();
    ok(rule_json(rule(&org, &provider_id, &id)?))
}

async fn update_rule(
    State(app): State<AppState>,
    actor: Actor,
    Path((provider_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let mut org = app.org();
    rule(&org, &provider_id, &id)?;
    let fields = object(&body)?;
    only(fields, RULE_UPDATE)?;
    let mut changes = Map::new();
    checked_rule_fields(fields, &mut changes)?;
    let updated = {
        let Some(r) = org.federation_rules.get_mut(&id) else {
            return Err(ApiError::not_found("federation rule", &id));
        };
        for (k, v) in changes {
            r.fields.insert(k, v);
        }
        r.updated_at = now();
        r.clone()
    };
    audit(
        &mut org,
        &actor,
        "workload_identity_provider_mapping.updated",
        &id,
        json!({"id": id, "identity_provider_id": provider_id, "changes_requested": body}),
    );
    ok(rule_json(&updated))
}

async fn delete_rule(
    State(app): State<AppState>,
    actor: Actor,
    Path((provider_id, id)): Path<(String, String)>,
) -> ApiResult {
    let mut org = app.org();
    let r = rule(&org, &provider_id, &id)?.clone();
    org.federation_rules.shift_remove(&id);
    audit(
        &mut org,
        &actor,
        "workload_identity_provider_mapping.deleted",
        &id,
        json!({
            "id": id,
            "identity_provider_id": provider_id,
            "project_id": r.fields.get("project_id"),
            "service_account_id": r.fields.get("service_account_id"),
        }),
    );
    ok(
        json!({"id": id, "deleted": true, "object": "organization.workload_identity_federation_rule.deleted"}),
    )
}

/// Seeds `settings.workload_identity_providers` (after the projects and their service
/// accounts): each provider's create params, and its `federation_rules` with `project` and
/// `service_account` by name.
pub fn seed(org: &mut OrgState, doc: &Document) -> anyhow::Result<()> {
    let providers = doc
        .settings
        .fields
        .get("workload_identity_providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for declared in &providers {
        let Some(o) = declared.as_object() else {
            anyhow::bail!("workload identity provider: not an object: {declared}");
        };
        let mut body = o.clone();
        let rules = body.shift_remove("federation_rules");
        body.entry("type").or_insert(json!("oidc"));
        let p = add_provider(org, &Value::Object(body))
            .map_err(|e| anyhow::anyhow!("workload identity provider: {}", e.message))?;
        for r in rules
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(mut body) = r.as_object().cloned() else {
                anyhow::bail!("federation rule: not an object: {r}");
            };
            let project = body
                .shift_remove("project")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let account = body
                .shift_remove("service_account")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let Some(pj) = org
                .projects
                .values()
                .find(|pj| pj.name == project && !pj.is_archived())
            else {
                anyhow::bail!("federation rule names project {project:?}, which is not seeded");
            };
            let Some(sa) = pj.service_accounts.values().find(|sa| sa.name == account) else {
                anyhow::bail!(
                    "federation rule names service account {account:?} of project {project:?}, which is not seeded"
                );
            };
            body.insert("project_id".into(), json!(pj.id));
            body.insert("service_account_id".into(), json!(sa.id));
            add_rule(org, &p.id, &Value::Object(body))
                .map_err(|e| anyhow::anyhow!("federation rule: {}", e.message))?;
        }
    }
    Ok(())
}

/// Whether a field holds the API's default (left out of a dump).
fn is_default(field: &str, value: &Value) -> bool {
    match field {
        "type" => value == "oidc",
        "enabled" => value == &json!(true),
        "description" => value.is_null() || value == "",
        "attribute_transformations" => value.as_array().is_some_and(Vec::is_empty),
        "verification" => value == &json!({"type": "discovery", "discovery_url": null}),
        "permissions" => value == &json!({"type": "service_account_default"}),
        _ => false,
    }
}

/// Writes the providers (the oldest of a name) to `settings.workload_identity_providers`,
/// each with its named rules (the oldest of a name), project and service account by name.
pub fn dump(org: &OrgState, doc: &mut Document) {
    let mut listed: std::collections::BTreeMap<String, Value> = Default::default();
    for p in org.workload_identity_providers.values() {
        let name = p.fields.get("name").and_then(Value::as_str).unwrap_or("");
        if listed.contains_key(name) {
            continue;
        }
        let mut out: Map<String, Value> = p
            .fields
            .iter()
            .filter(|(k, v)| !is_default(k, v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut rules: std::collections::BTreeMap<String, Value> = Default::default();
        for r in org
            .federation_rules
            .values()
            .filter(|r| r.provider_id == p.id)
        {
            let Some(rule_name) = r.fields.get("name").and_then(Value::as_str) else {
                continue;
            };
            if rules.contains_key(rule_name) {
                continue;
            }
            let mut v = Map::new();
            for (k, value) in &r.fields {
                if is_default(k, value) {
                    continue;
                }
                match k.as_str() {
                    "project_id" => {
                        let project = org.projects.get(value.as_str().unwrap_or(""));
                        v.insert(
                            "project".into(),
                            json!(project.map_or(value.as_str().unwrap_or(""), |p| &p.name)),
                        );
                    }
                    "service_account_id" => {
                        let id = value.as_str().unwrap_or("");
                        let named = org
                            .projects
                            .values()
                            .find_map(|p| p.service_accounts.get(id))
                            .map_or(id, |sa| sa.name.as_str());
                        v.insert("service_account".into(), json!(named));
                    }
                    _ => {
                        v.insert(k.clone(), value.clone());
                    }
                }
            }
            rules.insert(rule_name.to_string(), Value::Object(v));
        }
        if !rules.is_empty() {
            out.insert(
                "federation_rules".into(),
                Value::Array(rules.into_values().collect()),
            );
        }
        listed.insert(name.to_string(), Value::Object(out));
    }
    if !listed.is_empty() {
        doc.settings.fields.insert(
            "workload_identity_providers".into(),
            Value::Array(listed.into_values().collect()),
        );
    }
}
