//! Certificates: upload (PEM required, at most `rules::MAX_CERTIFICATES` per organization,
//! never auto-activated), list (style A, `order` default desc), retrieve (`include=content` /
//! `include[]=content` adds the PEM; `active` is not returned), rename (only the name can
//! change), delete (only when inactive at the organization and in every project), and
//! activate/deactivate at organization and project scope (1 to
//! `rules::MAX_CERTIFICATES_PER_TOGGLE` ids, atomic, idempotent).
//!
//! `object` follows the spec per operation: `certificate` for upload/retrieve/modify,
//! `organization.certificate` in the organization list and toggles,
//! `organization.project.certificate` in the project list and toggles.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::projects::{find, find_active_mut};
use super::{Actor, audit};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, Order, PageParams, PageRequest, QueryParams, ok,
    page_a,
};
use crate::emulator::rules;
use crate::emulator::state::{Certificate, OrgState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/certificates", get(list).post(upload))
        .route("/organization/certificates/activate", post(activate_org))
        .route(
            "/organization/certificates/deactivate",
            post(deactivate_org),
        )
        .route(
            "/organization/certificates/{certificate_id}",
            get(retrieve).post(modify).delete(remove),
        )
        .route(
            "/organization/projects/{project_id}/certificates",
            get(list_project),
        )
        .route(
            "/organization/projects/{project_id}/certificates/activate",
            post(activate_project),
        )
        .route(
            "/organization/projects/{project_id}/certificates/deactivate",
            post(deactivate_project),
        )
}

/// A certificate as `object`; `active` is added by the list and toggle renderings only.
fn certificate_json(c: &Certificate, object: &str, active: Option<bool>, content: bool) -> Value {
    let mut details = json!({"valid_at": c.valid_at, "expires_at": c.expires_at});
    if content {
        details["content"] = json!(c.content);
    }
    let mut v = json!({
        "object": object,
        "id": c.id,
        "name": c.name,
        "created_at": c.created_at,
        "certificate_details": details,
    });
    if let Some(active) = active {
        v["active"] = json!(active);
    }
    v
}

fn find_cert<'a>(org: &'a OrgState, id: &str) -> Result<&'a Certificate, ApiError> {
    org.certificates
        .get(id)
        .ok_or_else(|| ApiError::not_found("certificate", id))
}

/// Whether `content` is a PEM certificate: a `BEGIN CERTIFICATE` block with a body, ending in
/// its `END` line. The emulator does not parse the DER inside (see `rules`).
fn is_pem_certificate(content: &str) -> bool {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = content.trim();
    let (Some(rest), true) = (text.strip_prefix(BEGIN), text.ends_with(END)) else {
        return false;
    };
    let body = &rest[..rest.len() - END.len()];
    body.chars()
        .any(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: Some(Order::Desc),
    before: false,
    opaque_cursor: false,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    ok(page_a(
        &org.certificates,
        |_| true,
        &req,
        |c| certificate_json(c, "organization.certificate", Some(c.active), false),
    )?)
}

async fn list_project(
    State(app): State<AppState>,
    Path(project_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let org = app.org();
    let p = find(&org, &project_id)?;
    let keep = |c: &Certificate| {
        rules::PROJECT_CERTIFICATE_LIST_SHOWS_ALL || p.certificates.contains(&c.id)
    };
    ok(page_a(&org.certificates, keep, &req, |c| {
        certificate_json(
            c,
            "organization.project.certificate",
            Some(p.certificates.contains(&c.id)),
            false,
        )
    })?)
}

#[derive(Debug, Deserialize)]
struct UploadBody {
    certificate: String,
    #[serde(default)]
    name: Option<String>,
}

async fn upload(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<UploadBody>,
) -> ApiResult {
    if !is_pem_certificate(&body.certificate) {
        return Err(ApiError::invalid_param(
            "certificate",
            "The certificate must be PEM-encoded (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
        ));
    }
    let mut org = app.org();
    if org.certificates.len() >= rules::MAX_CERTIFICATES {
        return Err(ApiError::invalid_param(
            "certificate",
            format!(
                "Organizations can upload up to {} certificates; delete one first",
                rules::MAX_CERTIFICATES
            ),
        ));
    }
    let id = org.add_certificate(body.name.clone(), body.certificate.trim().to_string());
    let rendered = certificate_json(find_cert(&org, &id)?, "certificate", None, false);
    audit(
        &mut org,
        &actor,
        "certificate.created",
        &id,
        json!({"id": id, "name": body.name}),
    );
    ok(rendered)
}

async fn retrieve(
    State(app): State<AppState>,
    Path(certificate_id): Path<String>,
    q: QueryParams,
) -> ApiResult {
    let mut content = false;
    for value in q.list("include") {
        match value.as_str() {
            "content" => content = true,
            other => {
                return Err(ApiError::invalid_param(
                    "include",
                    format!("Invalid 'include': '{other}'. The only supported value is 'content'."),
                ));
            }
        }
    }
    let org = app.org();
    ok(certificate_json(
        find_cert(&org, &certificate_id)?,
        "certificate",
        None,
        content,
    ))
}

#[derive(Debug, Deserialize)]
struct ModifyBody {
    #[serde(default)]
    name: Option<String>,
}

async fn modify(
    State(app): State<AppState>,
    actor: Actor,
    Path(certificate_id): Path<String>,
    JsonBody(body): JsonBody<ModifyBody>,
) -> ApiResult {
    let mut org = app.org();
    find_cert(&org, &certificate_id)?;
    let c = org
        .certificates
        .get_mut(&certificate_id)
        .ok_or_else(|| ApiError::not_found("certificate", &certificate_id))?;
    if let Some(name) = &body.name {
        c.name = Some(name.clone());
    }
    let rendered = certificate_json(c, "certificate", None, false);
    let name = c.name.clone();
    audit(
        &mut org,
        &actor,
        "certificate.updated",
        &certificate_id,
        json!({"id": certificate_id, "name": name}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path(certificate_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    let c = find_cert(&org, &certificate_id)?;
    if c.active {
        return Err(ApiError::bad_request(format!(
            "Certificate '{certificate_id}' is active for the organization; deactivate it before deleting it"
        )));
    }
    let active_in: Vec<&str> = org
        .projects
        .values()
        .filter(|p| p.certificates.contains(&certificate_id))
        .map(|p| p.id.as_str())
        .collect();
    if !active_in.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Certificate '{certificate_id}' is active in project(s) {}; deactivate it there before deleting it",
            active_in.join(", ")
        )));
    }
    let c = org
        .certificates
        .shift_remove(&certificate_id)
        .ok_or_else(|| ApiError::not_found("certificate", &certificate_id))?;
    audit(
        &mut org,
        &actor,
        "certificate.deleted",
        &certificate_id,
        json!({"id": c.id, "name": c.name, "certificate": c.content}),
    );
    ok(json!({"object": "certificate.deleted", "id": certificate_id}))
}

#[derive(Debug, Deserialize)]
struct ToggleBody {
    certificate_ids: Vec<String>,
}

/// The ids of a toggle call, deduplicated in request order; 400 on 0 or more than the
/// maximum, or on any unknown id (nothing changes: the call is atomic).
fn toggle_ids(org: &OrgState, body: &ToggleBody) -> Result<Vec<String>, ApiError> {
    let n = body.certificate_ids.len();
    if n == 0 || n > rules::MAX_CERTIFICATES_PER_TOGGLE {
        return Err(ApiError::invalid_param(
            "certificate_ids",
            format!(
                "Between 1 and {} certificate ids can be given at a time (got {n})",
                rules::MAX_CERTIFICATES_PER_TOGGLE
            ),
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(n);
    for id in &body.certificate_ids {
        if !org.certificates.contains_key(id) {
            return Err(ApiError::invalid_param(
                "certificate_ids",
                format!("No such certificate: '{id}'"),
            ));
        }
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    Ok(ids)
}

/// Records the toggle event for the certificates that changed (none: no event).
fn audit_toggle(
    org: &mut OrgState,
    actor: &Actor,
    event_type: &str,
    resource_id: &str,
    changed: &[String],
) {
    if rules::CERTIFICATE_TOGGLE_RECORDS_ONLY_CHANGES && changed.is_empty() {
        return;
    }
    let certificates: Vec<Value> = changed
        .iter()
        .filter_map(|id| org.certificates.get(id))
        .map(|c| json!({"id": c.id, "name": c.name}))
        .collect();
    audit(
        org,
        actor,
        event_type,
        resource_id,
        json!({"certificates": certificates}),
    );
}

fn toggle_org(app: AppState, actor: Actor, body: ToggleBody, activate: bool) -> ApiResult {
    let mut org = app.org();
    let ids = toggle_ids(&org, &body)?;
    let mut changed = Vec::new();
    let mut data = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(c) = org.certificates.get_mut(id) {
            if c.active != activate {
                c.active = activate;
                changed.push(id.clone());
            }
            data.push(certificate_json(
                c,
                "organization.certificate",
                Some(c.active),
                false,
            ));
        }
    }
    let (object, event) = if activate {
        (
            "organization.certificate.activation",
            "certificates.activated",
        )
    } else {
        (
            "organization.certificate.deactivation",
            "certificates.deactivated",
        )
    };
    audit_toggle(&mut org, &actor, event, rules::ORGANIZATION_ID, &changed);
    ok(json!({"object": object, "data": data}))
}

fn toggle_project(
    app: AppState,
    actor: Actor,
    project_id: String,
    body: ToggleBody,
    activate: bool,
) -> ApiResult {
    let mut org = app.org();
    find_active_mut(&mut org, &project_id)?;
    let ids = toggle_ids(&org, &body)?;
    let p = find_active_mut(&mut org, &project_id)?;
    let mut changed = Vec::new();
    for id in &ids {
        let was_active = p.certificates.contains(id);
        if activate && !was_active {
            p.certificates.insert(id.clone());
            changed.push(id.clone());
        } else if !activate && was_active {
            p.certificates.shift_remove(id);
            changed.push(id.clone());
        }
    }
    let data: Vec<Value> = ids
        .iter()
        .filter_map(|id| org.certificates.get(id))
        .map(|c| certificate_json(c, "organization.project.certificate", Some(activate), false))
        .collect();
    let (object, event) = if activate {
        (
            "organization.project.certificate.activation",
            "certificates.activated",
        )
    } else {
        (
            "organization.project.certificate.deactivation",
            "certificates.deactivated",
        )
    };
    audit_toggle(&mut org, &actor, event, &project_id, &changed);
    ok(json!({"object": object, "data": data}))
}

async fn activate_org(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<ToggleBody>,
) -> ApiResult {
    toggle_org(app, actor, body, true)
}

async fn deactivate_org(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<ToggleBody>,
) -> ApiResult {
    toggle_org(app, actor, body, false)
}

async fn activate_project(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<ToggleBody>,
) -> ApiResult {
    toggle_project(app, actor, project_id, body, true)
}

async fn deactivate_project(
    State(app): State<AppState>,
    actor: Actor,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody<ToggleBody>,
) -> ApiResult {
    toggle_project(app, actor, project_id, body, false)
}
