//! Invites: `GET /organization/invites`, `POST /organization/invites`,
//! `DELETE /organization/invites/{invite_id}`. No update: a changed invite is deleted and
//! re-created.

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{Deleted, InviteId, ProjectId, WireOrgRole, WireProjectRole, wire_enum};
use crate::model::{OrgRole, ProjectRole};

wire_enum! {
    /// `Invite.status`.
    WireInviteStatus { Pending = "pending", Expired = "expired", Accepted = "accepted", }
}

/// `Invite`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Invite {
    pub id: InviteId,
    pub email: String,
    pub role: WireOrgRole,
    pub status: WireInviteStatus,
    /// `created_at` in current specs, `invited_at` in older ones; both are read.
    pub created_at: Option<i64>,
    pub invited_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub projects: Vec<InviteProject>,
}

/// A project an invite grants on acceptance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InviteProject {
    pub id: ProjectId,
    pub role: WireProjectRole,
}

impl Client {
    /// `GET /organization/invites` — every invite, whatever its status (style A, 100 per page).
    pub async fn list_invites(&self) -> Result<Vec<Invite>, Error> {
        let call = Call::get("/organization/invites", "/organization/invites".into());
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `POST /organization/invites` — invite `email` with `role`, granting `projects` on
    /// acceptance. The list is always sent, so an empty one means "no project", never the
    /// API's legacy "default project when omitted".
    pub async fn create_invite(
        &self,
        email: &str,
        role: OrgRole,
        projects: &[(ProjectId, ProjectRole)],
    ) -> Result<Invite, Error> {
        let projects: Vec<_> = projects
            .iter()
            .map(|(id, role)| json!({ "id": id.as_str(), "role": role.as_str() }))
            .collect();
        let call = Call::post(
            "/organization/invites",
            "/organization/invites".into(),
            RequestKind::Create,
            json!({ "email": email, "role": role.as_str(), "projects": projects }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/invites/{invite_id}` — withdraw an invite (not once accepted).
    pub async fn delete_invite(&self, invite: &InviteId) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/invites/{invite_id}",
            format!("/organization/invites/{}", seg(invite.as_str())),
        );
        self.execute(&call).await
    }
}
