//! Organization users: `GET /organization/users`, `GET|POST|DELETE
//! /organization/users/{user_id}`. There is no create: people join through invites.

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{Deleted, UserId, WireOrgRole};
use crate::model::OrgRole;

/// `User` (only the fields orgops reads; the rest is ignored).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct User {
    pub id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
    /// `owner` | `reader` (nullable since 2026).
    pub role: Option<WireOrgRole>,
    pub added_at: Option<i64>,
    pub is_service_account: Option<bool>,
    pub is_scim_managed: Option<bool>,
}

impl Client {
    /// `GET /organization/users` — every member (style A, 100 per page).
    pub async fn list_users(&self) -> Result<Vec<User>, Error> {
        let call = Call::get("/organization/users", "/organization/users".into());
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `GET /organization/users/{user_id}` — one member; `None` when the organization has no
    /// such member (any more).
    pub async fn retrieve_user(&self, user: &UserId) -> Result<Option<User>, Error> {
        let call = Call::get(
            "/organization/users/{user_id}",
            format!("/organization/users/{}", seg(user.as_str())),
        );
        match self.execute(&call).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /organization/users/{user_id}` — change a member's organization role.
    pub async fn modify_user_role(&self, user: &UserId, role: OrgRole) -> Result<User, Error> {
        let call = Call::post(
            "/organization/users/{user_id}",
            format!("/organization/users/{}", seg(user.as_str())),
            RequestKind::Idempotent,
            json!({ "role": role.as_str() }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/users/{user_id}` — remove a member from the organization.
    pub async fn delete_user(&self, user: &UserId) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/users/{user_id}",
            format!("/organization/users/{}", seg(user.as_str())),
        );
        self.execute(&call).await
    }
}
