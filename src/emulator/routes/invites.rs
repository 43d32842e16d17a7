//! Invites: list (style A), create, retrieve, delete; acceptance happens out of band
//! (`POST /_emulator/invites/accept` calls [`accept`]).
//!
//! Lifecycle: `pending` until accepted or past `expires_at` (then `expired`); `accepted`
//! invites stay listable and cannot be deleted. Omitted `projects` grants the default project
//! (legacy behaviour), `[]` grants none; projects are granted on acceptance.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Actor, audit, audit_project};
use crate::emulator::AppState;
use crate::emulator::http::{
    ApiError, ApiResult, JsonBody, LIMIT_1_100_20, PageParams, PageRequest, QueryParams, ok, page_a,
};
use crate::emulator::rules;
use crate::emulator::state::{IdKind, Invite, InviteStatus, OrgState, ProjectUser, now};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization/invites", get(list).post(create))
        .route(
            "/organization/invites/{invite_id}",
            get(retrieve).delete(remove),
        )
}

pub fn invite_json(invite: &Invite) -> Value {
    json!({
        "object": "organization.invite",
        "id": invite.id,
        "email": invite.email,
        "role": invite.role,
        "status": invite.status.as_str(),
        "created_at": invite.created_at,
        "expires_at": invite.expires_at,
        "accepted_at": invite.accepted_at,
        "projects": invite.projects.iter().map(|(id, role)| json!({"id": id, "role": role})).collect::<Vec<_>>(),
    })
}

/// Pending invites past their expiry become `expired` (checked whenever invites are read).
pub fn expire_invites(org: &mut OrgState) {
    let t = now();
    for invite in org.invites.values_mut() {
        if invite.status == InviteStatus::Pending && invite.expires_at <= t {
            invite.status = InviteStatus::Expired;
        }
    }
}

const PAGE: PageParams = PageParams {
    limit: LIMIT_1_100_20,
    order: None,
    before: false,
    opaque_cursor: false,
};

async fn list(State(app): State<AppState>, q: QueryParams) -> ApiResult {
    let req = PageRequest::from_query(&q, PAGE)?;
    let mut org = app.org();
    expire_invites(&mut org);
    ok(page_a(&org.invites, |_| true, &req, invite_json)?)
}

async fn retrieve(State(app): State<AppState>, Path(invite_id): Path<String>) -> ApiResult {
    let mut org = app.org();
    expire_invites(&mut org);
    let invite = org
        .invites
        .get(&invite_id)
        .ok_or_else(|| ApiError::not_found("invite", &invite_id))?;
    ok(invite_json(invite))
}

#[derive(Debug, Deserialize)]
struct InviteProjectBody {
    id: String,
    role: String,
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    email: String,
    role: String,
    #[serde(default)]
    projects: Option<Vec<InviteProjectBody>>,
}

async fn create(
    State(app): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    if !matches!(body.role.as_str(), "owner" | "reader") {
        return Err(ApiError::invalid_param(
            "role",
            format!("Invalid role '{}': must be 'owner' or 'reader'", body.role),
        ));
    }
    let email = body.email.trim().to_string();
    if !email.contains('@') || email.len() < 3 {
        return Err(ApiError::invalid_param(
            "email",
            format!("Invalid email address '{email}'"),
        ));
    }
    let mut org = app.org();
    expire_invites(&mut org);
    if let Some(why) = rules::invite_conflict(&org, &email) {
        return Err(ApiError::duplicate("email", format!("{email} is {why}")));
    }
    let projects = match body.projects {
        None => org
            .default_project_id()
            .map(|id| vec![(id.to_string(), "member".to_string())])
            .unwrap_or_default(),
        Some(list) => {
            let mut out = Vec::new();
            for p in list {
                if !matches!(p.role.as_str(), "owner" | "member") {
                    return Err(ApiError::invalid_param(
                        "projects",
                        format!(
                            "Invalid project role '{}': must be 'owner' or 'member'",
                            p.role
                        ),
                    ));
                }
                let project = org.projects.get(&p.id).ok_or_else(|| {
                    ApiError::invalid_param("projects", format!("No such project: '{}'", p.id))
                })?;
                if project.is_archived() {
                    return Err(ApiError::invalid_param(
                        "projects",
                        format!("Project '{}' is archived", p.id),
                    ));
                }
                out.push((p.id, p.role));
            }
            out
        }
    };
    let id = org.ids.id(IdKind::Invite);
    let at = now();
    let invite = Invite {
        id: id.clone(),
        email: email.clone(),
        role: body.role.clone(),
        status: InviteStatus::Pending,
        created_at: at,
        expires_at: at + rules::INVITE_LIFETIME_SECONDS,
        accepted_at: None,
        projects,
    };
    let rendered = invite_json(&invite);
    org.invites.insert(id.clone(), invite);
    audit(
        &mut org,
        &actor,
        "invite.sent",
        &id,
        json!({"id": id, "data": {"email": email, "role": body.role}}),
    );
    ok(rendered)
}

async fn remove(
    State(app): State<AppState>,
    actor: Actor,
    Path(invite_id): Path<String>,
) -> ApiResult {
    let mut org = app.org();
    expire_invites(&mut org);
    let invite = org
        .invites
        .get(&invite_id)
        .ok_or_else(|| ApiError::not_found("invite", &invite_id))?;
    if invite.status == InviteStatus::Accepted {
        return Err(ApiError::bad_request(format!(
            "Invite '{invite_id}' has already been accepted and cannot be deleted"
        )));
    }
    org.invites.shift_remove(&invite_id);
    audit(
        &mut org,
        &actor,
        "invite.deleted",
        &invite_id,
        json!({"id": invite_id}),
    );
    ok(json!({"object": "organization.invite.deleted", "id": invite_id, "deleted": true}))
}

/// Accepts a pending invite as the invited person: they become a member with the invite's
/// role and get its projects (see `rules::grants_on_acceptance`). Returns their email.
pub fn accept(org: &mut OrgState, invite_id: &str) -> Result<String, ApiError> {
    expire_invites(org);
    let invite = org
        .invites
        .get(invite_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("invite", invite_id))?;
    if invite.status != InviteStatus::Pending {
        return Err(ApiError::bad_request(format!(
            "Invite '{invite_id}' is {}",
            invite.status.as_str()
        )));
    }
    let at = now();
    let user_id = match org.user_by_email(&invite.email) {
        Some(u) => u.id.clone(),
        None => org.add_user(&invite.email, &invite.role),
    };
    for (project_id, role) in &invite.projects {
        if !rules::grants_on_acceptance(org, project_id) {
            continue;
        }
        if let Some(project) = org.projects.get_mut(project_id) {
            project.users.entry(user_id.clone()).or_insert(ProjectUser {
                role: role.clone(),
                added_at: at,
                roles: Default::default(),
            });
        }
    }
    if let Some(i) = org.invites.get_mut(invite_id) {
        i.status = InviteStatus::Accepted;
        i.accepted_at = Some(at);
    }
    let actor =
        json!({"type": "session", "session": {"user": {"id": user_id, "email": invite.email}}});
    let project = audit_project(org);
    org.record(
        "invite.accepted",
        actor,
        invite_id,
        project,
        json!({"id": invite_id}),
    );
    Ok(invite.email)
}
