//! Project members: `GET|POST /organization/projects/{project_id}/users`,
//! `POST|DELETE /organization/projects/{project_id}/users/{user_id}`.

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{Deleted, ProjectId, UserId, WireProjectRole};
use crate::model::ProjectRole;

/// `ProjectUser`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ProjectUser {
    pub id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
    /// `owner` | `member` (a predefined role id such as `role-api-project-owner` is also
    /// understood when normalising).
    pub role: WireProjectRole,
    pub added_at: Option<i64>,
}

fn users_path(project: &ProjectId) -> String {
    format!("/organization/projects/{}/users", seg(project.as_str()))
}

fn user_path(project: &ProjectId, user: &UserId) -> String {
    format!(
        "/organization/projects/{}/users/{}",
        seg(project.as_str()),
        seg(user.as_str())
    )
}

impl Client {
    /// `GET /organization/projects/{project_id}/users` — style A, 100 per page.
    pub async fn list_project_users(&self, project: &ProjectId) -> Result<Vec<ProjectUser>, Error> {
        let call = Call::get(
            "/organization/projects/{project_id}/users",
            users_path(project),
        );
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `POST /organization/projects/{project_id}/users` — add an org member to the project.
    pub async fn add_project_user(
        &self,
        project: &ProjectId,
        user: &UserId,
        role: ProjectRole,
    ) -> Result<ProjectUser, Error> {
        let call = Call::post(
            "/organization/projects/{project_id}/users",
            users_path(project),
            RequestKind::Create,
            json!({ "user_id": user.as_str(), "role": role.as_str() }),
        );
        self.execute(&call).await
    }

    /// `POST /organization/projects/{project_id}/users/{user_id}` — change a member's role.
    pub async fn modify_project_user(
        &self,
        project: &ProjectId,
        user: &UserId,
        role: ProjectRole,
    ) -> Result<ProjectUser, Error> {
        let call = Call::post(
            "/organization/projects/{project_id}/users/{user_id}",
            user_path(project, user),
            RequestKind::Idempotent,
            json!({ "role": role.as_str() }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/projects/{project_id}/users/{user_id}` — remove a member.
    pub async fn remove_project_user(
        &self,
        project: &ProjectId,
        user: &UserId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/projects/{project_id}/users/{user_id}",
            user_path(project, user),
        );
        self.execute(&call).await
    }
}
