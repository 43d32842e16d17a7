//! The few GitHub REST endpoints orgops uses, over reqwest: issue comments (list, create,
//! update), issues (list, create, update) and the pull requests of a commit. The base URL is
//! `GITHUB_API_URL` (so GitHub Enterprise and the tests' loopback fake work); the token is
//! sent as a bearer token and never printed.

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};

/// Items per page GitHub allows at most.
const PER_PAGE: usize = 100;
/// A bound on pagination, so a misbehaving server cannot loop forever.
const MAX_PAGES: usize = 100;

#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// Present when the "issue" is a pull request (the issues list includes them).
    #[serde(default)]
    pub pull_request: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
}

/// A client for one repository.
pub struct GitHubClient {
    http: reqwest::Client,
    api_url: String,
    repository: String,
    token: String,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

impl GitHubClient {
    /// `repository` is `owner/name`.
    pub fn new(api_url: &str, repository: &str, token: &str) -> anyhow::Result<GitHubClient> {
        if repository.split('/').filter(|p| !p.is_empty()).count() != 2 {
            bail!("GITHUB_REPOSITORY must be owner/name, not {repository:?}");
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("orgops/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("building the GitHub HTTP client")?;
        Ok(GitHubClient {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            repository: repository.to_string(),
            token: token.to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/repos/{}{path}", self.api_url, self.repository)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .query(query)
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("GitHub {method} {path}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| text.chars().take(200).collect());
            let hint = if status == reqwest::StatusCode::FORBIDDEN
                || status == reqwest::StatusCode::NOT_FOUND
            {
                " (does the workflow grant `issues: write` and `pull-requests: write`?)"
            } else {
                ""
            };
            bail!("GitHub {method} {path} answered {status}: {message}{hint}");
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("GitHub {method} {path}: not JSON"))
    }

    async fn list<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Vec<T>> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("per_page", PER_PAGE.to_string()));
            q.push(("page", page.to_string()));
            let value = self.send(reqwest::Method::GET, path, &q, None).await?;
            let items: Vec<T> = serde_json::from_value(value)
                .with_context(|| format!("GitHub GET {path}: unexpected list"))?;
            let n = items.len();
            out.extend(items);
            if n < PER_PAGE {
                return Ok(out);
            }
        }
        bail!("GitHub GET {path}: more than {MAX_PAGES} pages")
    }

    pub async fn list_issue_comments(&self, number: u64) -> anyhow::Result<Vec<Comment>> {
        self.list(&format!("/issues/{number}/comments"), &[]).await
    }

    pub async fn create_issue_comment(&self, number: u64, body: &str) -> anyhow::Result<Comment> {
        let v = self
            .send(
                reqwest::Method::POST,
                &format!("/issues/{number}/comments"),
                &[],
                Some(json!({ "body": body })),
            )
            .await?;
        serde_json::from_value(v).context("GitHub: unexpected comment")
    }

    pub async fn update_issue_comment(&self, id: u64, body: &str) -> anyhow::Result<Comment> {
        let v = self
            .send(
                reqwest::Method::PATCH,
                &format!("/issues/comments/{id}"),
                &[],
                Some(json!({ "body": body })),
            )
            .await?;
        serde_json::from_value(v).context("GitHub: unexpected comment")
    }

    /// Open issues (pull requests excluded).
    pub async fn list_open_issues(&self) -> anyhow::Result<Vec<Issue>> {
        let issues: Vec<Issue> = self.list("/issues", &[("state", "open".into())]).await?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .collect())
    }

    pub async fn create_issue(&self, title: &str, body: &str) -> anyhow::Result<Issue> {
        let v = self
            .send(
                reqwest::Method::POST,
                "/issues",
                &[],
                Some(json!({ "title": title, "body": body })),
            )
            .await?;
        serde_json::from_value(v).context("GitHub: unexpected issue")
    }

    /// Updates an issue's body, and closes it when `close` (as completed).
    pub async fn update_issue(
        &self,
        number: u64,
        body: &str,
        close: bool,
    ) -> anyhow::Result<Issue> {
        let mut patch = json!({ "body": body });
        if close {
            patch["state"] = json!("closed");
            patch["state_reason"] = json!("completed");
        }
        let v = self
            .send(
                reqwest::Method::PATCH,
                &format!("/issues/{number}"),
                &[],
                Some(patch),
            )
            .await?;
        serde_json::from_value(v).context("GitHub: unexpected issue")
    }

    /// The pull requests a commit belongs to (`GET /repos/{repo}/commits/{sha}/pulls`).
    pub async fn pulls_of_commit(&self, sha: &str) -> anyhow::Result<Vec<PullRequest>> {
        self.list(&format!("/commits/{sha}/pulls"), &[]).await
    }
}
