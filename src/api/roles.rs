//! Custom roles, organization and project scope:
//! `GET|POST /organization/roles`, `POST|DELETE /organization/roles/{role_id}`,
//! `GET|POST /projects/{project_id}/roles`, `POST|DELETE /projects/{project_id}/roles/{role_id}`.

use serde_json::{Map, Value, json};

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_B, Style};
use super::types::{Deleted, ProjectId, Role, RoleId};

/// A role's writable fields. On update, `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct RoleSpec<'a> {
    pub name: Option<&'a str>,
    pub permissions: Option<&'a [String]>,
    pub description: Option<&'a str>,
}

impl RoleSpec<'_> {
    fn body(&self) -> Value {
        let mut body = Map::new();
        if let Some(name) = self.name {
            body.insert("role_name".into(), json!(name));
        }
        if let Some(permissions) = self.permissions {
            body.insert("permissions".into(), json!(permissions));
        }
        if let Some(description) = self.description {
            body.insert("description".into(), json!(description));
        }
        Value::Object(body)
    }

    fn create_body(&self) -> Value {
        let mut body = self.body();
        // `permissions` is required on create.
        if self.permissions.is_none() {
            body["permissions"] = json!([]);
        }
        body
    }
}

fn project_roles_path(project: &ProjectId) -> String {
    format!("/projects/{}/roles", seg(project.as_str()))
}

impl Client {
    /// `GET /organization/roles` — predefined and custom organization roles (style B, 1000).
    pub async fn list_org_roles(&self) -> Result<Vec<Role>, Error> {
        let call = Call::get("/organization/roles", "/organization/roles".into());
        self.list_all(call, Style::Next, MAX_PAGE_B).await
    }

    /// `POST /organization/roles` — create a custom organization role.
    pub async fn create_org_role(&self, role: &RoleSpec<'_>) -> Result<Role, Error> {
        let call = Call::post(
            "/organization/roles",
            "/organization/roles".into(),
            RequestKind::Create,
            role.create_body(),
        );
        self.execute(&call).await
    }

    /// `POST /organization/roles/{role_id}` — update a custom organization role in place.
    pub async fn update_org_role(&self, id: &RoleId, role: &RoleSpec<'_>) -> Result<Role, Error> {
        let call = Call::post(
            "/organization/roles/{role_id}",
            format!("/organization/roles/{}", seg(id.as_str())),
            RequestKind::Idempotent,
            role.body(),
        );
        self.execute(&call).await
    }

    /// `DELETE /organization/roles/{role_id}`.
    pub async fn delete_org_role(&self, id: &RoleId) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/organization/roles/{role_id}",
            format!("/organization/roles/{}", seg(id.as_str())),
        );
        self.execute(&call).await
    }

    /// `GET /projects/{project_id}/roles` — predefined and custom project roles (style B, 1000).
    pub async fn list_project_roles(&self, project: &ProjectId) -> Result<Vec<Role>, Error> {
        let call = Call::get("/projects/{project_id}/roles", project_roles_path(project));
        self.list_all(call, Style::Next, MAX_PAGE_B).await
    }

    /// `POST /projects/{project_id}/roles` — create a custom project role.
    pub async fn create_project_role(
        &self,
        project: &ProjectId,
        role: &RoleSpec<'_>,
    ) -> Result<Role, Error> {
        let call = Call::post(
            "/projects/{project_id}/roles",
            project_roles_path(project),
            RequestKind::Create,
            role.create_body(),
        );
        self.execute(&call).await
    }

    /// `POST /projects/{project_id}/roles/{role_id}` — update a custom project role in place.
    pub async fn update_project_role(
        &self,
        project: &ProjectId,
        id: &RoleId,
        role: &RoleSpec<'_>,
    ) -> Result<Role, Error> {
        let call = Call::post(
            "/projects/{project_id}/roles/{role_id}",
            format!("{}/{}", project_roles_path(project), seg(id.as_str())),
            RequestKind::Idempotent,
            role.body(),
        );
        self.execute(&call).await
    }

    /// `DELETE /projects/{project_id}/roles/{role_id}`.
    pub async fn delete_project_role(
        &self,
        project: &ProjectId,
        id: &RoleId,
    ) -> Result<Deleted, Error> {
        let call = Call::delete(
            "/projects/{project_id}/roles/{role_id}",
            format!("{}/{}", project_roles_path(project), seg(id.as_str())),
        );
        self.execute(&call).await
    }
}
