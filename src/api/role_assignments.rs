//! Role assignments of users and groups, organization and project scope:
//! `GET|POST /organization/users/{user_id}/roles`, `DELETE /organization/users/{user_id}/roles/{role_id}`,
//! `GET|POST /organization/groups/{group_id}/roles`, `DELETE /organization/groups/{group_id}/roles/{role_id}`,
//! `GET|POST /projects/{project_id}/users/{user_id}/roles`,
//! `DELETE /projects/{project_id}/users/{user_id}/roles/{role_id}`,
//! `GET|POST /projects/{project_id}/groups/{group_id}/roles`,
//! `DELETE /projects/{project_id}/groups/{group_id}/roles/{role_id}`.
//! All lists are style B at 1000 per page; there is no update (unassign + assign).

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_B, Style};
use super::types::{AssignedRole, Deleted, GroupId, ProjectId, Role, RoleId, UserId};

/// `UserRoleAssignment` / `GroupRoleAssignment` (only the role is kept).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RoleAssignment {
    pub object: Option<String>,
    pub role: Option<Role>,
}

/// Whose role assignments: one of the four principal scopes.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    User(&'a UserId),
    Group(&'a GroupId),
    ProjectUser(&'a ProjectId, &'a UserId),
    ProjectGroup(&'a ProjectId, &'a GroupId),
}

impl Principal<'_> {
    fn route(&self) -> (&'static str, &'static str) {
        match self {
            Principal::User(_) => (
                "/organization/users/{user_id}/roles",
                "/organization/users/{user_id}/roles/{role_id}",
            ),
            Principal::Group(_) => (
                "/organization/groups/{group_id}/roles",
                "/organization/groups/{group_id}/roles/{role_id}",
            ),
            Principal::ProjectUser(..) => (
                "/projects/{project_id}/users/{user_id}/roles",
                "/projects/{project_id}/users/{user_id}/roles/{role_id}",
            ),
            Principal::ProjectGroup(..) => (
                "/projects/{project_id}/groups/{group_id}/roles",
                "/projects/{project_id}/groups/{group_id}/roles/{role_id}",
            ),
        }
    }

    fn path(&self) -> String {
        match self {
            Principal::User(user) => format!("/organization/users/{}/roles", seg(user.as_str())),
            Principal::Group(group) => {
                format!("/organization/groups/{}/roles", seg(group.as_str()))
            }
            Principal::ProjectUser(project, user) => {
                format!(
                    "/projects/{}/users/{}/roles",
                    seg(project.as_str()),
                    seg(user.as_str())
                )
            }
            Principal::ProjectGroup(project, group) => {
                format!(
                    "/projects/{}/groups/{}/roles",
                    seg(project.as_str()),
                    seg(group.as_str())
                )
            }
        }
    }
}

impl Client {
    /// `GET .../roles` — the roles assigned to a principal (predefined and custom).
    pub async fn list_role_assignments(
        &self,
        principal: Principal<'_>,
    ) -> Result<Vec<AssignedRole>, Error> {
        let call = Call::get(principal.route().0, principal.path());
        self.list_all(call, Style::Next, MAX_PAGE_B).await
    }

    /// `POST .../roles` — assign a role to a principal.
    pub async fn assign_role(
        &self,
        principal: Principal<'_>,
        role: &RoleId,
    ) -> Result<RoleAssignment, Error> {
        let call = Call::post(
            principal.route().0,
            principal.path(),
            RequestKind::Create,
            json!({ "role_id": role.as_str() }),
        );
        self.execute(&call).await
    }

    /// `DELETE .../roles/{role_id}` — unassign a role from a principal.
    pub async fn unassign_role(
        &self,
        principal: Principal<'_>,
        role: &RoleId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            principal.route().1,
            format!("{}/{}", principal.path(), seg(role.as_str())),
        );
        self.execute(&call).await
    }
}
