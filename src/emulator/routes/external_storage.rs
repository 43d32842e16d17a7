//! External storage configurations, as the official SDK has them (`openai==3.63.0`,
//! `resources/admin/organization/external_storage.py`, `ExternalStorageConfiguration` and
//! the four `*ExternalStorageProvider` models): list (style A, `project_id` filter),
//! create (`{project_id, provider}`, status `pending`), retrieve, delete
//! (`organization.external_storage.deleted`) and `validate` (the configuration, now
//! `validated`, or `unhealthy` when a provider field contains
//! [`super::external_keys::UNREACHABLE`]: the emulator reaches no bucket).
//!
//! A read adds what the real service derives (`account_id`, `external_id`, `region` for
//! AWS; `region` for Azure; `audience` and `region` for GCP). Seeded from, and dumped to,
//! `projects[].external_storage`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::external_keys::{required_text, unreachable};
use super::projects::find_active_mut;
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_0_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_a, reject_unknown,
};
use crate::emulator::state::{ExternalStorage, IdKind, OrgState};
use crate::model::Document;

/// Per `type`: the create call's provider fields (all required).
const PROVIDERS: &[(&str, &[&str])] = &[
    ("aws", &["bucket", "role_arn"]),
    (
        "azure",
        &[
            "account_name",
            "container",
            "resource_group",
            "subscription_id",
            "tenant_id",
        ],
    ),
    (
        "gcp",
        &[
            "bucket",
            "workload_identity_pool_id",
            "workload_identity_project_number",
            "workload_identity_provider_id",
        ],
    ),
    ("oci", &["bucket", "region", "tenancy_ocid"]),
];

const PAGE: PageParams = PageParams {
    limit: LIMIT_0_100_20,
    order: Some(Order::Asc),
    before: false,
    opaque_cursor: false,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/external_storage", get(list).post(create))
        .route(
            "/organization/external_storage/{external_storage_id}",
            get(retrieve).delete(delete),
        )
        .route(
            "/organization/external_storage/{external_storage_id}/validate",
            post(validate),
        )
}

fn checked_provider(value: Option<&Value>) -> Result<Map<String, Value>, ApiError> {
    let Some(body) = value.and_then(Value::as_object) else {
        return Err(ApiError::invalid_param(
            "provider",
            "Missing required parameter: 'provider'.",
        ));
    };
    let kind = required_text(body, "type").map_err(|e| e.with_param("provider.type"))?;
    let Some((_, fields)) = PROVIDERS.iter().find(|(t, _)| *t == kind) else {
        return Err(ApiError::invalid_param(
            "provider.type",
            format!("Invalid 'provider.type': '{kind}'. Expected one of aws, azure, gcp, oci."),
        ));
    };
    let known: Vec<&str> = std::iter::once("type")
        .chain(fields.iter().copied())
        .collect();
    reject_unknown(body, &known, "provider.")?;
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    for field in *fields {
        let v =
            required_text(body, field).map_err(|e| e.with_param(&format!("provider.{field}")))?;
        out.insert(field.to_string(), json!(v));
    }
    Ok(out)
}

/// The `ExternalStorageConfiguration` model, with what a read derives.
pub fn to_json(s: &ExternalStorage) -> Value {
    let mut provider = s.provider.clone();
    let text = |k: &str| s.provider.get(k).and_then(Value::as_str).unwrap_or("");
    match text("type") {
        "aws" => {
            let account = text("role_arn").split(':').nth(4).unwrap_or("").to_string();
            provider.insert("account_id".into(), json!(account));
            provider.insert("external_id".into(), json!(format!("openai-{}", s.id)));
            provider.insert("region".into(), json!("us-east-1"));
        }
        "azure" => {
            provider.insert("region".into(), json!("eastus"));
        }
        "gcp" => {
            provider.insert(
                "audience".into(),
                json!(format!(
                    "//iam.googleapis.com/projects/{}/locations/global/workloadIdentityPools/{}/providers/{}",
                    text("workload_identity_project_number"),
                    text("workload_identity_pool_id"),
                    text("workload_identity_provider_id")
                )),
            );
            provider.insert("region".into(), json!("us-central1"));
        }
        _ => {}
    }
    json!({
        "id": s.id,
        "object": "organization.external_storage",
        "created_at": s.created_at,
        "geography": "US",
        "project_id": s.project_id,
        "provider": provider,
        "status": s.status,
    })
}

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let project = q.get("project_id").map(str::to_string);
    let org = app.org();
    let keep = |s: &ExternalStorage| project.as_deref().is_none_or(|p| s.project_id == p);
    ok(page_a(&org.external_storage, keep, &req, to_json)?)
}

fn add(org: &mut OrgState, project_id: String, provider: Map<String, Value>) -> ExternalStorage {
    let s = ExternalStorage {
        id: org.ids.id(IdKind::ExternalStorage),
        project_id,
        created_at: crate::emulator::state::now(),
        provider,
        status: "pending".into(),
    };
    org.external_storage.insert(s.id.clone(), s.clone());
    s
}

async fn create(State(app): State<AppState>, JsonBody(body): JsonBody<Value>) -> ApiResult {
    let Some(body) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    };
    reject_unknown(body, &["project_id", "provider"], "")?;
    let project_id = required_text(body, "project_id")?.to_string();
    let provider = checked_provider(body.get("provider"))?;
    let mut org = app.org();
    find_active_mut(&mut org, &project_id)?;
    let s = add(&mut org, project_id, provider);
    ok(to_json(&s))
}

fn get_one<'a>(org: &'a mut OrgState, id: &str) -> Result<&'a mut ExternalStorage, ApiError> {
    org.external_storage
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("external storage configuration", id))
}

async fn retrieve(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let mut org = app.org();
    ok(to_json(get_one(&mut org, &id)?))
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let mut org = app.org();
    get_one(&mut org, &id)?;
    org.external_storage.shift_remove(&id);
    ok(json!({"id": id, "deleted": true, "object": "organization.external_storage.deleted"}))
}

async fn validate(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let mut org = app.org();
    let s = get_one(&mut org, &id)?;
    s.status = if unreachable(&s.provider) {
        "unhealthy".into()
    } else {
        "validated".into()
    };
    ok(to_json(s))
}

/// Seeds each project's `external_storage` (validated), after the projects.
pub fn seed(org: &mut OrgState, doc: &Document) -> anyhow::Result<()> {
    for project in doc.projects.iter() {
        let Some(value) = project
            .fields
            .get("external_storage")
            .filter(|v| !v.is_null())
        else {
            continue;
        };
        let provider = checked_provider(Some(value)).map_err(|e| {
            anyhow::anyhow!(
                "project {:?}: external storage: {}",
                project.name,
                e.message
            )
        })?;
        let Some(pid) = org
            .projects
            .values()
            .find(|p| p.name == project.name)
            .map(|p| p.id.clone())
        else {
            continue;
        };
        let id = add(org, pid, provider).id;
        if let Ok(s) = get_one(org, &id) {
            s.status = "validated".into();
        }
    }
    Ok(())
}

/// Writes each project's oldest configuration to its `external_storage`.
pub fn dump(org: &OrgState, doc: &mut Document) {
    for s in org.external_storage.values() {
        let Some(name) = org.projects.get(&s.project_id).map(|p| p.name.clone()) else {
            continue;
        };
        if let Some(p) = doc.projects.iter_mut().find(|p| p.name == name)
            && !p.fields.contains_key("external_storage")
        {
            p.fields
                .insert("external_storage".into(), Value::Object(s.provider.clone()));
        }
    }
}
