//! The few GitHub REST endpoints orgops uses, over reqwest: issue comments (list, create,
//! update), issues (list, create, update), the pull requests of a commit, one pull request
//! and its reviews, and the token's own account (`GET /user`). The base URL is
//! `GITHUB_API_URL` (so GitHub Enterprise and the tests' loopback fake work); the token is
//! sent as a bearer token and never printed.

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};

/// Items per page GitHub allows at most.
const PER_PAGE: usize = 100;
/// A bound on pagination, so a misbehaving server cannot loop forever.
const MAX_PAGES: usize = 100;

/// A GitHub account as comments and issues name their author.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// The author (never changes, whoever edits the comment).
    #[serde(default)]
    pub user: Option<Account>,
    #[serde(default)]
    pub created_at: Option<String>,
    /// The last edit, by anyone.
    #[serde(default)]
    pub updated_at: Option<String>,
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
    #[serde(default)]
    pub user: Option<Account>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    /// `open` or `closed` (merged pull requests are closed).
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
}

/// A submitted review of a pull request.
#[derive(Debug, Clone, Deserialize)]
pub struct Review {
    #[serde(default)]
    pub user: Option<Account>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    #[serde(default)]
    pub state: Option<String>,
    /// The reviewer's relation to the repository: `OWNER`, `MEMBER`, `COLLABORATOR`, ...
    #[serde(default)]
    pub author_association: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
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

    /// The account the token belongs to (`GET /user`), or `None` when GitHub refuses the
    /// question: installation tokens (`GITHUB_TOKEN`, a GitHub App's) answer 401 or 403.
    pub async fn token_account(&self) -> anyhow::Result<Option<Account>> {
        let response = self
            .http
            .get(format!("{}/user", self.api_url))
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .context("GitHub GET /user")?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !status.is_success() {
            bail!("GitHub GET /user answered {status}");
        }
        let account: Account = response
            .json()
            .await
            .context("GitHub GET /user: unexpected account")?;
        Ok(Some(account))
    }

    /// One pull request (`GET /repos/{repo}/pulls/{number}`).
    pub async fn pull_request(&self, number: u64) -> anyhow::Result<PullRequest> {
        let v = self
            .send(reqwest::Method::GET, &format!("/pulls/{number}"), &[], None)
            .await?;
        serde_json::from_value(v).context("GitHub: unexpected pull request")
    }

    /// The reviews of a pull request (`GET /repos/{repo}/pulls/{number}/reviews`), oldest
    /// first.
    pub async fn pull_request_reviews(&self, number: u64) -> anyhow::Result<Vec<Review>> {
        self.list(&format!("/pulls/{number}/reviews"), &[]).await
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
