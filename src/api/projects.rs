//! Projects: `GET /organization/projects`, `POST /organization/projects`,
//! `POST /organization/projects/{project_id}`, `POST /organization/projects/{project_id}/archive`.
//! Projects are never deleted, only archived (irreversibly).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::ProjectId;

/// `Project`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Project {
    pub id: ProjectId,
    pub name: Option<String>,
    pub created_at: Option<i64>,
    pub archived_at: Option<i64>,
    /// `active` | `archived`.
    pub status: Option<String>,
    pub external_key_id: Option<String>,
    pub residency: Option<String>,
}

impl Project {
    /// Archived per `status`, or per `archived_at` when `status` is absent.
    pub fn is_archived(&self) -> bool {
        match self.status.as_deref() {
            Some(status) => status.eq_ignore_ascii_case("archived"),
            None => self.archived_at.is_some(),
        }
    }
}

/// The body of a project create.
#[derive(Debug, Clone, Default)]
pub struct NewProject<'a> {
    pub name: &'a str,
    pub residency: Option<&'a str>,
    pub external_key_id: Option<&'a str>,
    /// Deprecated by the API (SDK 3.63.0 only); never together with `residency`.
    pub geography: Option<&'a str>,
}

impl Client {
    /// `GET /organization/projects?include_archived=...` — style A, 100 per page.
    pub async fn list_projects(&self, include_archived: bool) -> Result<Vec<Project>, Error> {
        let call = Call::get("/organization/projects", "/organization/projects".into())
            .query("include_archived", include_archived);
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// [`Client::list_projects`], handing each page to `on_page` as it arrives, so the live
    /// read can start a project's own lists before the last page of projects.
    pub async fn list_projects_by_page(
        &self,
        include_archived: bool,
        on_page: impl FnMut(Vec<Project>),
    ) -> Result<(), Error> {
        let call = Call::get("/organization/projects", "/organization/projects".into())
            .query("include_archived", include_archived);
        self.for_each_page(call, Style::LastId, MAX_PAGE_A, on_page)
            .await
    }

    /// `POST /organization/projects` — create a project.
    pub async fn create_project(&self, project: &NewProject<'_>) -> Result<Project, Error> {
        let mut body = Map::new();
        body.insert("name".into(), json!(project.name));
        if let Some(residency) = project.residency {
            body.insert("residency".into(), json!(residency));
        }
        if let Some(key) = project.external_key_id {
            body.insert("external_key_id".into(), json!(key));
        }
        if let Some(geography) = project.geography {
            body.insert("geography".into(), json!(geography));
        }
        let call = Call::post(
            "/organization/projects",
            "/organization/projects".into(),
            RequestKind::Create,
            Value::Object(body),
        );
        self.execute(&call).await
    }

    /// `POST /organization/projects/{project_id}` — rename and/or set the external key.
    pub async fn modify_project(
        &self,
        project: &ProjectId,
        name: Option<&str>,
        external_key_id: Option<&str>,
    ) -> Result<Project, Error> {
        let mut body = Map::new();
        if let Some(name) = name {
            body.insert("name".into(), json!(name));
        }
        if let Some(key) = external_key_id {
            body.insert("external_key_id".into(), json!(key));
        }
        let call = Call::post(
            "/organization/projects/{project_id}",
            format!("/organization/projects/{}", seg(project.as_str())),
            RequestKind::Idempotent,
            Value::Object(body),
        );
        self.execute(&call).await
    }

    /// `POST /organization/projects/{project_id}/archive` — archive (irreversible).
    pub async fn archive_project(&self, project: &ProjectId) -> Result<Project, Error> {
        let call = Call::post(
            "/organization/projects/{project_id}/archive",
            format!("/organization/projects/{}/archive", seg(project.as_str())),
            RequestKind::Idempotent,
            json!({}),
        );
        self.execute(&call).await
    }
}
