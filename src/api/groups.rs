//! Groups, their members, and their access to projects:
//! `GET|POST /organization/groups`, `POST|DELETE /organization/groups/{group_id}`,
//! `GET|POST /organization/groups/{group_id}/users`,
//! `DELETE /organization/groups/{group_id}/users/{user_id}`,
//! `GET|POST /organization/projects/{project_id}/groups`,
//! `DELETE /organization/projects/{project_id}/groups/{group_id}`.

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_B, MAX_PAGE_PROJECT_GROUPS, Style};
use super::types::{Deleted, GroupId, ProjectId, RoleId, UserId};

/// `GroupResponse` (also decodes the update's `GroupResourceWithSuccess`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub created_at: Option<i64>,
    pub is_scim_managed: Option<bool>,
    /// `group` | `tenant_group`.
    pub group_type: Option<String>,
}

/// `GroupUser`: a member as the group-members list shows it.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct GroupUser {
    pub id: UserId,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// `ProjectGroup`: a group's access to a project. Its role is not in this object; it is
/// read from the project group-role assignments.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ProjectGroup {
    pub project_id: ProjectId,
    pub group_id: GroupId,
    pub group_name: String,
    pub group_type: Option<String>,
    pub created_at: Option<i64>,
}

/// `GroupUserAssignment`: confirmation of a member added to a group.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GroupUserAssignment {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
}

fn group_path(group: &GroupId) -> String {
    format!("/organization/groups/{}", seg(group.as_str()))
}

fn project_groups_path(project: &ProjectId) -> String {
    format!("/organization/projects/{}/groups", seg(project.as_str()))
}

impl Client {
    /// `GET /organization/groups` — style B, 1000 per page.
    pub async fn list_groups(&self) -> Result<Vec<Group>, Error> {
        let call = Call::get("/organization/groups", "/organization/groups".into());
        self.list_all(call, Style::Next, MAX_PAGE_B).await
    }

    /// `POST /organization/groups` — create a group.
    pub async fn create_group(&self, name: &str) -> Result<Group, Error> {
        let call = Call::post(
            "/organization/groups",
            "/organization/groups".into(),
            RequestKind::Create,
            json!({ "name": name }),
        );
        self.execute(&call).await
    }

    /// `POST /organization/groups/{group_id}` — rename a group.
    pub async fn rename_group(&self, group: &GroupId, name: &str) -> Result<Group, Error> {
        let call = Call::post(
            "/organization/groups/{group_id}",
            group_path(group),
            RequestKind::Idempotent,
            json!({ "name": name }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/groups/{group_id}`.
    pub async fn delete_group(&self, group: &GroupId) -> Result<Deleted, Error> {
        let call = Call::delete("/organization/groups/{group_id}", group_path(group));
        self.execute(&call).await
    }

    /// `GET /organization/groups/{group_id}/users` — style B, 1000 per page.
    pub async fn list_group_users(&self, group: &GroupId) -> Result<Vec<GroupUser>, Error> {
        let call = Call::get(
            "/organization/groups/{group_id}/users",
            format!("{}/users", group_path(group)),
        );
        self.list_all(call, Style::Next, MAX_PAGE_B).await
    }

    /// `POST /organization/groups/{group_id}/users` — add a member.
    pub async fn add_group_user(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> Result<GroupUserAssignment, Error> {
        let call = Call::post(
            "/organization/groups/{group_id}/users",
            format!("{}/users", group_path(group)),
            RequestKind::Create,
            json!({ "user_id": user.as_str() }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/groups/{group_id}/users/{user_id}` — remove a member.
    pub async fn remove_group_user(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/groups/{group_id}/users/{user_id}",
            format!("{}/users/{}", group_path(group), seg(user.as_str())),
        );
        self.execute(&call).await
    }

    /// `GET /organization/projects/{project_id}/groups` — style B, 100 per page (its maximum).
    pub async fn list_project_groups(
        &self,
        project: &ProjectId,
    ) -> Result<Vec<ProjectGroup>, Error> {
        let call = Call::get(
            "/organization/projects/{project_id}/groups",
            project_groups_path(project),
        );
        self.list_all(call, Style::Next, MAX_PAGE_PROJECT_GROUPS)
            .await
    }

    /// `POST /organization/projects/{project_id}/groups` — grant a group access with a
    /// project role id (e.g. [`crate::model::ProjectRole::predefined_role_id`]).
    pub async fn add_project_group(
        &self,
        project: &ProjectId,
        group: &GroupId,
        role: &RoleId,
    ) -> Result<ProjectGroup, Error> {
        let call = Call::post(
            "/organization/projects/{project_id}/groups",
            project_groups_path(project),
            RequestKind::Create,
            json!({ "group_id": group.as_str(), "role": role.as_str() }),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/projects/{project_id}/groups/{group_id}` — revoke access.
    pub async fn remove_project_group(
        &self,
        project: &ProjectId,
        group: &GroupId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/projects/{project_id}/groups/{group_id}",
            format!("{}/{}", project_groups_path(project), seg(group.as_str())),
        );
        self.execute(&call).await
    }
}
