//! Customer-managed keys (EKM), as the official SDK has them (`openai==3.63.0`,
//! `resources/admin/organization/external_keys.py`, the `ExternalKey` model and the four
//! `V1OrganizationExternalKeysPostRequest*` create bodies): list (style A, `purpose`
//! filter), create, retrieve, delete (answers the deleted key) and `validate` (`{status}`).
//!
//! The emulator reaches no KMS: a key validates (`valid`) unless one of its provider fields
//! contains [`UNREACHABLE`] (`invalid`). Deleting a key that projects still use is allowed
//! (unverified; the projects keep the dangling id). Keys are seeded from
//! `settings.external_keys` and dumped back there; a project's `external_key` names one.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_a, reject_unknown,
};
use crate::emulator::rules;
use crate::emulator::state::{ExternalKey, IdKind, OrgState};
use crate::model::Document;

/// A provider field holding this word makes validation fail.
pub const UNREACHABLE: &str = "unreachable";

/// Per `type`: required, then optional create fields (the SDK's create params).
const PROVIDERS: &[(&str, &[&str], &[&str])] = &[
    ("aws", &["external_id", "kms_arn", "role_arn"], &[]),
    (
        "gcp",
        &[
            "audience",
            "kms_key_location",
            "kms_key_name",
            "kms_key_ring_name",
            "kms_project_id",
            "workload_identity_pool_id",
            "workload_identity_project_number",
            "workload_identity_provider_id",
        ],
        &["kms_key_version"],
    ),
    (
        "azure",
        &["key_name", "tenant_id", "vault_uri"],
        &["key_version"],
    ),
    (
        "oci",
        &["key_ocid", "region", "vault_ocid"],
        &["key_version_ocid"],
    ),
];
/// Every provider field the `ExternalKey` model carries.
const ALL_FIELDS: &[&str] = &[
    "audience",
    "external_id",
    "key_name",
    "key_ocid",
    "key_version",
    "key_version_ocid",
    "kms_arn",
    "kms_key_location",
    "kms_key_name",
    "kms_key_ring_name",
    "kms_key_version",
    "kms_project_id",
    "region",
    "role_arn",
    "tenant_id",
    "vault_ocid",
    "vault_uri",
    "workload_identity_pool_id",
    "workload_identity_project_number",
    "workload_identity_provider_id",
];
const PURPOSES: &[&str] = &["ekm", "psp_decryption"];

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_100_20,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: false,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/external_keys", get(list).post(create))
        .route(
            "/organization/external_keys/{external_key_id}",
            get(retrieve).delete(delete),
        )
        .route(
            "/organization/external_keys/{external_key_id}/validate",
            post(validate),
        )
}

/// `body[field]` as a non-empty string, or the API's 400 naming it.
pub fn required_text<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        None | Some(Value::Null) => Err(ApiError::invalid_param(
            field,
            format!("Missing required parameter: '{field}'."),
        )),
        Some(other) => Err(ApiError::invalid_param(
            field,
            format!("Invalid type for '{field}': expected a non-empty string, but got {other}."),
        )),
    }
}

/// Whether a provider's fields hold [`UNREACHABLE`].
pub fn unreachable(fields: &Map<String, Value>) -> bool {
    fields
        .values()
        .any(|v| v.as_str().is_some_and(|s| s.contains(UNREACHABLE)))
}

/// A create body checked against the SDK's params: the key's `type`, `purpose` and fields.
fn checked(body: &Value) -> Result<(String, Map<String, Value>), ApiError> {
    let Some(body) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    };
    // Unknown first, as for every body: a field no provider has.
    let any: Vec<&str> = ["name", "type", "purpose"]
        .iter()
        .chain(ALL_FIELDS)
        .copied()
        .collect();
    reject_unknown(body, &any, "")?;
    let name = required_text(body, "name")?.to_string();
    let kind = required_text(body, "type")?;
    let Some((_, required, optional)) = PROVIDERS.iter().find(|(t, _, _)| *t == kind) else {
        return Err(ApiError::invalid_param(
            "type",
            format!("Invalid 'type': '{kind}'. Expected one of aws, gcp, azure, oci."),
        ));
    };
    let known: Vec<&str> = ["name", "type", "purpose"]
        .iter()
        .chain(*required)
        .chain(*optional)
        .copied()
        .collect();
    reject_unknown(body, &known, "")?;
    let mut fields = Map::new();
    fields.insert("type".into(), json!(kind));
    let purpose = match body.get("purpose") {
        None | Some(Value::Null) => "ekm".to_string(),
        Some(Value::String(p)) if PURPOSES.contains(&p.as_str()) => p.clone(),
        Some(other) => {
            return Err(ApiError::invalid_param(
                "purpose",
                format!("Invalid 'purpose': {other}. Expected one of ekm, psp_decryption."),
            ));
        }
    };
    fields.insert("purpose".into(), json!(purpose));
    for field in *required {
        fields.insert(field.to_string(), json!(required_text(body, field)?));
    }
    for field in *optional {
        if body.get(*field).is_some_and(|v| !v.is_null()) {
            fields.insert(field.to_string(), json!(required_text(body, field)?));
        }
    }
    Ok((name, fields))
}

/// The `ExternalKey` model.
pub fn to_json(org: &OrgState, k: &ExternalKey) -> Value {
    let mut v = json!({
        "id": k.id,
        "object": "organization.external_key",
        "name": k.name,
        "created_at": k.created_at,
        "workspace_id": rules::ORGANIZATION_ID,
        "api_project_ids": org
            .projects
            .values()
            .filter(|p| p.external_key_id.as_deref() == Some(k.id.as_str()))
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
    });
    for field in ["type", "purpose"].iter().chain(ALL_FIELDS) {
        v[*field] = k.fields.get(*field).cloned().unwrap_or(Value::Null);
    }
    v
}

fn add(org: &mut OrgState, name: String, fields: Map<String, Value>) -> ExternalKey {
    let key = ExternalKey {
        id: org.ids.id(IdKind::ExternalKey),
        name,
        created_at: crate::emulator::state::now(),
        fields,
    };
    org.external_keys.insert(key.id.clone(), key.clone());
    key
}

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let purpose = q.get("purpose").map(str::to_string);
    if let Some(p) = &purpose
        && !PURPOSES.contains(&p.as_str())
    {
        return Err(ApiError::invalid_param(
            "purpose",
            format!("Invalid 'purpose': '{p}'. Expected one of ekm, psp_decryption."),
        ));
    }
    let org = app.org();
    let keep = |k: &ExternalKey| {
        purpose
            .as_deref()
            .is_none_or(|p| k.fields.get("purpose").and_then(Value::as_str) == Some(p))
    };
    ok(page_a(&org.external_keys, keep, &req, |k| {
        to_json(&org, k)
    })?)
}

async fn create(
    State(app): State<AppState>,
    actor: super::Actor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (name, fields) = checked(&body)?;
    let mut org = app.org();
    let key = add(&mut org, name, fields);
    let rendered = to_json(&org, &key);
    // The spec's `external_key.registered` details: the key's id and its configuration.
    super::audit(
        &mut org,
        &actor,
        "external_key.registered",
        &key.id,
        json!({"id": key.id, "data": rendered}),
    );
    ok(rendered)
}

fn get_key<'a>(org: &'a OrgState, id: &str) -> Result<&'a ExternalKey, ApiError> {
    org.external_keys
        .get(id)
        .ok_or_else(|| ApiError::not_found("external key", id))
}

async fn retrieve(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let org = app.org();
    ok(to_json(&org, get_key(&org, &id)?))
}

async fn delete(
    State(app): State<AppState>,
    actor: super::Actor,
    Path(id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    let rendered = to_json(&org, get_key(&org, &id)?);
    org.external_keys.shift_remove(&id);
    super::audit(
        &mut org,
        &actor,
        "external_key.removed",
        &id,
        json!({ "id": id }),
    );
    ok(rendered)
}

async fn validate(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let org = app.org();
    let key = get_key(&org, &id)?;
    let status = if unreachable(&key.fields) {
        "invalid"
    } else {
        "valid"
    };
    ok(json!({ "status": status }))
}

/// Seeds `settings.external_keys`, and each project's `external_key` (by name) or
/// `external_key_id`, after the projects.
pub fn seed(org: &mut OrgState, doc: &Document) -> anyhow::Result<()> {
    let keys = doc
        .settings
        .fields
        .get("external_keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for key in &keys {
        let (name, fields) =
            checked(key).map_err(|e| anyhow::anyhow!("external key: {}", e.message))?;
        add(org, name, fields);
    }
    for project in doc.projects.iter() {
        let Some(name) = project.fields.get("external_key").and_then(Value::as_str) else {
            continue;
        };
        let Some(id) = org
            .external_keys
            .values()
            .find(|k| k.name == name)
            .map(|k| k.id.clone())
        else {
            anyhow::bail!(
                "project {:?} names external key {name:?}, which is not seeded",
                project.name
            );
        };
        if let Some(p) = org.projects.values_mut().find(|p| p.name == project.name) {
            p.external_key_id = Some(id);
        }
    }
    Ok(())
}

/// Writes the keys to `settings.external_keys` (oldest of a name), and a project's key by
/// name where it is one of them.
pub fn dump(org: &OrgState, doc: &mut Document) {
    let mut listed: Vec<Value> = Vec::new();
    let mut names: std::collections::BTreeMap<&str, &str> = Default::default();
    for k in org.external_keys.values() {
        if names.values().any(|n| *n == k.name) {
            continue;
        }
        names.insert(&k.id, &k.name);
        let mut v = json!({"name": k.name});
        for (field, value) in &k.fields {
            if !(field == "purpose" && value == "ekm") {
                v[field] = value.clone();
            }
        }
        listed.push(v);
    }
    listed.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if !listed.is_empty() {
        doc.settings
            .fields
            .insert("external_keys".into(), Value::Array(listed));
    }
    for project in doc.projects.iter_mut() {
        if let Some(name) = project
            .external_key_id
            .as_deref()
            .and_then(|id| names.get(id))
        {
            project.fields.insert("external_key".into(), json!(name));
            project.external_key_id = None;
        }
    }
}
