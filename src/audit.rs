//! `orgops audit`: the organization's audit log as a query.
//!
//! - [`parse_time`]: `--since`/`--until` values (`7d`, `12h`, an RFC 3339 time, a date).
//! - [`resolve_query`]: the filters as an [`AuditLogQuery`]. Emails and ids go to the API as
//!   they are (`actor_emails[]`, `actor_ids[]`, `resource_ids[]`); only names cost a read, and
//!   only the one list the filter names (projects for `--project`, groups for
//!   `--object group:NAME`, ...), once.
//! - [`Names`]: server ids to orgops keys (`project:Search`, `group:ml/member:bob@x`) for the
//!   text table, read lazily: a kind's list is read the first time an event needs it.
//! - [`text_header`], [`text_row`]: the table, every value from the API escaped for a
//!   terminal ([`crate::text::escape::text`]).
//!
//! Paging itself is the API client's strict style-A listing
//! (`Client::for_each_audit_log_page`), shared with drift attribution.

pub mod naming;

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use crate::api::Client;
use crate::api::audit_logs::{AuditLog, AuditLogQuery};
use crate::plan::keys;
use crate::text::escape;
use crate::text::time::days_from_civil;

/// A `--since`/`--until` value as Unix seconds: a duration back from `now` (`90s`, `30m`,
/// `12h`, `7d`, `2w`), an RFC 3339 time (`2026-11-30T12:00:00Z`, `...+02:00`, fractions
/// ignored) or a date (`2026-11-30`, midnight UTC).
pub fn parse_time(value: &str, now: i64) -> Result<i64, String> {
    let v = value.trim();
    let expected = "expected a duration back from now such as 30m, 12h, 7d or 2w, an RFC 3339 \
                    time such as 2026-11-30T12:00:00Z, or a date such as 2026-11-30";
    if v.is_empty() {
        return Err(format!("empty value: {expected}"));
    }
    if let Some(unit) = v.chars().last().filter(char::is_ascii_alphabetic)
        && v.len() > 1
        && v[..v.len() - 1].bytes().all(|b| b.is_ascii_digit())
    {
        let n: i64 = v[..v.len() - 1]
            .parse()
            .map_err(|_| format!("{v:?}: the number is too large"))?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            other => {
                return Err(format!(
                    "{v:?}: unknown unit {other:?} (use s, m, h, d or w); {expected}"
                ));
            }
        };
        return n
            .checked_mul(seconds)
            .and_then(|back| now.checked_sub(back))
            .ok_or_else(|| format!("{v:?}: the duration is too large"));
    }
    parse_rfc3339(v).ok_or_else(|| format!("{v:?} is not a valid time: {expected}"))
}

fn parse_rfc3339(v: &str) -> Option<i64> {
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = match v.find(['T', 't', ' ']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let mut parts = date.split('-');
    let (year, month, day) = (
        num(parts.next().filter(|p| p.len() == 4)?)?,
        num(parts.next().filter(|p| p.len() == 2)?)?,
        num(parts.next().filter(|p| p.len() == 2)?)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[(month - 1) as usize] {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let Some(time) = time else {
        return Some(days * 86_400);
    };
    // HH:MM:SS[.frac](Z|±HH:MM)
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (clock, zone) = (&time[..i], &time[i..]);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m) = (num(h)?, num(m)?);
        if h > 23 || m > 59 {
            return None;
        }
        (clock, sign * (h * 3_600 + m * 60))
    };
    let clock = clock.split_once('.').map_or(clock, |(whole, frac)| {
        if frac.bytes().all(|b| b.is_ascii_digit()) && !frac.is_empty() {
            whole
        } else {
            "invalid"
        }
    });
    let mut hms = clock.split(':');
    let (h, m, s) = (
        num(hms.next().filter(|p| p.len() == 2)?)?,
        num(hms.next().filter(|p| p.len() == 2)?)?,
        num(hms.next().filter(|p| p.len() == 2)?)?,
    );
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3_600 + m * 60 + s - offset)
}

/// The refusal of an event type the API does not have (it answers 400 to one), with a
/// did-you-mean; `None` for one it has ([`crate::api::audit_logs::EVENT_TYPES`]).
pub fn unknown_event_type(event_type: &str) -> Option<String> {
    use crate::api::audit_logs::EVENT_TYPES;
    if EVENT_TYPES.contains(&event_type) {
        return None;
    }
    Some(format!(
        "--type {:?} is not an audit event type of the API{}",
        escape::text(event_type),
        suggest(event_type, EVENT_TYPES.iter().copied())
    ))
}

/// Whether the API lists `event_type` only with `tenant_only=true` (the spec: "Required for
/// tenant-scoped events such as `role.bound_to_resource` and `role.unbound_from_resource`").
pub fn is_tenant_scoped(event_type: &str) -> bool {
    event_type.starts_with("tenant.")
        || matches!(
            event_type,
            "role.bound_to_resource" | "role.unbound_from_resource"
        )
}

/// What the user asked for, before any name is resolved.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Emails (`actor_emails[]`) or ids (`actor_ids[]`).
    pub actors: Vec<String>,
    pub event_types: Vec<String>,
    /// Project names or ids.
    pub projects: Vec<String>,
    /// `KIND:NAME` orgops keys, emails (users) or ids.
    pub objects: Vec<String>,
}

/// The closest of `candidates` to `name`, for a did-you-mean.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {:?}?)", escape::text(c)))
        .unwrap_or_default()
}

/// Resolves `filters` into the API query, reading only the lists whose names they use.
/// Tenant-scoped event types are listed only with `tenant_only=true`, which excludes every
/// other type: asking for both at once is an error.
/// The lists read here stay in `names`, for naming the events' objects afterwards.
pub async fn resolve_query(
    names: &mut Names<'_>,
    filters: &Filters,
) -> anyhow::Result<AuditLogQuery> {
    let (tenant, other): (Vec<&String>, Vec<&String>) = filters
        .event_types
        .iter()
        .partition(|t| is_tenant_scoped(t));
    if !tenant.is_empty() && !other.is_empty() {
        bail!(
            "--type {:?} is tenant-scoped and --type {:?} is not: the API lists tenant-scoped \
             events only on their own (tenant_only), so query them in separate runs",
            escape::text(tenant[0]),
            escape::text(other[0])
        );
    }
    let mut query = AuditLogQuery {
        tenant_only: !tenant.is_empty(),
        effective_at_gte: filters.since,
        effective_at_lte: filters.until,
        event_types: filters.event_types.clone(),
        ..AuditLogQuery::default()
    };
    for actor in &filters.actors {
        if actor.contains('@') {
            query
                .actor_emails
                .push(crate::model::normalize_email(actor));
        } else {
            query.actor_ids.push(actor.clone());
        }
    }
    for project in &filters.projects {
        query.project_ids.push(names.project_id(project).await?);
    }
    for object in &filters.objects {
        query.resource_ids.push(names.object_id(object).await?);
    }
    Ok(query)
}

/// Server ids to names, each kind's list read at most once, when first needed.
pub struct Names<'c> {
    client: &'c Client,
    /// Kind (`project`, `user`, `group`, `role`, `certificate`) -> id -> name.
    by_kind: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// Project id -> role id -> name of the project's roles.
    project_roles: BTreeMap<String, BTreeMap<String, String>>,
}

impl<'c> Names<'c> {
    pub fn new(client: &'c Client) -> Self {
        Names {
            client,
            by_kind: BTreeMap::new(),
            project_roles: BTreeMap::new(),
        }
    }

    /// Lists needed to name objects are read once: ids and names of `kind`.
    async fn kind(&mut self, kind: &'static str) -> anyhow::Result<&BTreeMap<String, String>> {
        if !self.by_kind.contains_key(kind) {
            let c = self.client;
            let pairs: Vec<(String, String)> = match kind {
                "project" => c
                    .list_projects(true)
                    .await?
                    .into_iter()
                    .map(|p| {
                        let name = p.name.unwrap_or_else(|| p.id.to_string());
                        (p.id.to_string(), name)
                    })
                    .collect(),
                "user" => c
                    .list_users()
                    .await?
                    .into_iter()
                    .filter_map(|u| Some((u.id.to_string(), u.email?)))
                    .collect(),
                "group" => c
                    .list_groups()
                    .await?
                    .into_iter()
                    .map(|g| (g.id.to_string(), g.name))
                    .collect(),
                "role" => c
                    .list_org_roles()
                    .await?
                    .into_iter()
                    .map(|r| (r.id.to_string(), r.name))
                    .collect(),
                "certificate" => c
                    .list_certificates()
                    .await?
                    .into_iter()
                    .filter_map(|x| Some((x.id.to_string(), x.name?)))
                    .collect(),
                other => bail!("no list of {other} objects"),
            };
            self.by_kind.insert(kind, pairs.into_iter().collect());
        }
        self.by_kind
            .get(kind)
            .ok_or_else(|| anyhow!("the {kind} list was not read"))
    }

    /// The id of the object of `kind` named `name` (exactly one), or a clear error.
    async fn id_by_name(&mut self, kind: &'static str, name: &str) -> anyhow::Result<String> {
        let list = self
            .kind(kind)
            .await
            .with_context(|| format!("reading the {kind}s to resolve {name:?}"))?;
        let matching: Vec<&String> = list
            .iter()
            .filter(|(_, n)| {
                if kind == "user" {
                    n.eq_ignore_ascii_case(name)
                } else {
                    n.as_str() == name
                }
            })
            .map(|(id, _)| id)
            .collect();
        match matching.as_slice() {
            [id] => Ok((*id).clone()),
            [] => Err(anyhow!(
                "no {kind} named {:?} in the organization{}",
                escape::text(name),
                suggest(name, list.values().map(String::as_str))
            )),
            ids => Err(anyhow!(
                "{} {kind}s are named {:?} ({}): give the id instead",
                ids.len(),
                escape::text(name),
                ids.iter()
                    .map(|id| escape::text(id).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// `--project`: a project name, else a project id.
    pub async fn project_id(&mut self, value: &str) -> anyhow::Result<String> {
        let list = self.kind("project").await.context("reading the projects")?;
        if list.contains_key(value) && !list.values().any(|n| n == value) {
            return Ok(value.to_string());
        }
        self.id_by_name("project", value)
            .await
            .context("--project takes a project name or id")
    }

    /// `--object`: `KIND:NAME` (`project:`, `user:`, `group:`, `role:`, `certificate:`),
    /// an email (a user), or anything else as a resource id, sent as it is.
    pub async fn object_id(&mut self, value: &str) -> anyhow::Result<String> {
        let (kind, name) = match value.split_once(':') {
            Some(("project", name)) => ("project", name),
            Some(("user", name)) => ("user", name),
            Some(("group", name)) => ("group", name),
            Some(("role", name)) => ("role", name),
            Some(("certificate", name)) => ("certificate", name),
            Some((kind, _)) if !kind.contains('@') => bail!(
                "--object {:?}: unknown kind {:?} (use project:NAME, user:EMAIL, group:NAME, \
                 role:NAME, certificate:NAME, an email, or an id)",
                escape::text(value),
                escape::text(kind)
            ),
            _ if value.contains('@') => ("user", value),
            _ => return Ok(value.to_string()),
        };
        self.id_by_name(kind, name)
            .await
            .with_context(|| format!("--object {:?}", escape::text(value)))
    }

    /// The name of `id` among `kind`, when that list can be read and holds it.
    async fn name(&mut self, kind: &'static str, id: &str) -> Option<String> {
        match self.kind(kind).await {
            Ok(list) => list.get(id).cloned(),
            Err(e) => {
                tracing::warn!("naming {kind} {id}: {e:#}");
                self.by_kind.insert(kind, BTreeMap::new());
                None
            }
        }
    }

    /// The name of the role `role` of project `project` (its roles read once).
    async fn project_role_name(&mut self, project: &str, role: &str) -> Option<String> {
        if !self.project_roles.contains_key(project) {
            let project_id = crate::api::types::ProjectId::from(project);
            let roles = match self.client.list_project_roles(&project_id).await {
                Ok(roles) => roles
                    .into_iter()
                    .map(|r| (r.id.to_string(), r.name))
                    .collect(),
                Err(e) => {
                    tracing::warn!("naming the roles of project {project}: {e:#}");
                    BTreeMap::new()
                }
            };
            self.project_roles.insert(project.to_string(), roles);
        }
        self.project_roles.get(project)?.get(role).cloned()
    }

    /// `KIND:NAME` for the object `id` names, guessed from the id's documented prefix; the
    /// raw id when the kind is unknown or the object is gone.
    async fn key_of_id(&mut self, id: &str) -> String {
        let kind = if id.starts_with("proj_") {
            "project"
        } else if id.starts_with("user") {
            "user"
        } else if id.starts_with("group_") {
            "group"
        } else if id.starts_with("role") {
            "role"
        } else if id.starts_with("cert_") {
            "certificate"
        } else {
            return id.to_string();
        };
        match (kind, self.name(kind, id).await) {
            ("project", Some(n)) => keys::project(&n),
            ("user", Some(n)) => keys::user(&n),
            ("group", Some(n)) => keys::group(&n),
            ("role", Some(n)) => keys::role(&n),
            ("certificate", Some(n)) => keys::certificate(&n),
            _ => format!("{kind}:{id}"),
        }
    }

    /// The orgops key of what `event` is about: `project:Search`,
    /// `group:ml/member:bob@x.example`, `project:Search/group:ml` (a group's project role),
    /// `user:bob@x.example/role:auditor`; an id where the name is unknown (a deleted object,
    /// or a kind orgops cannot name from the event alone).
    pub async fn object_key(&mut self, event: &AuditLog) -> String {
        let Some(details) = event.details.get(&event.event_type) else {
            return String::new();
        };
        let field = |name: &str| details.get(name).and_then(Value::as_str);
        let id = field("id").unwrap_or_default().to_string();
        let ty = event.event_type.as_str();
        if ty.starts_with("project.") {
            if let Some(name) = details
                .pointer("/data/name")
                .and_then(Value::as_str)
                .filter(|_| ty == "project.created")
            {
                return keys::project(name);
            }
            return self.key_of_id(&id).await;
        }
        if ty.starts_with("invite.")
            && let Some(email) = details.pointer("/data/email").and_then(Value::as_str)
        {
            return keys::invite(email);
        }
        if ty.starts_with("group.") {
            let group = self.key_of_id(&id).await;
            let changes = details.get("changes_requested");
            for change in ["user_added", "user_removed"] {
                if let Some(user) = changes.and_then(|c| c.get(change)).and_then(Value::as_str) {
                    let member = self.key_of_id(user).await;
                    let email = member.strip_prefix("user:").unwrap_or(&member);
                    return format!("{group}/member:{email}");
                }
            }
            if ty == "group.created"
                && let Some(name) = details.pointer("/data/group_name").and_then(Value::as_str)
            {
                return keys::group(name);
            }
            return group;
        }
        if ty.starts_with("role.") && !ty.starts_with("role.assignment.") {
            // A project's role names its project (`resource_id`), in the details or in
            // `changes_requested`.
            let scoped = |name: &str| {
                details
                    .get(name)
                    .or_else(|| details.get("changes_requested").and_then(|c| c.get(name)))
                    .and_then(Value::as_str)
            };
            if scoped("resource_type") == Some("api.project")
                && let Some(project) = scoped("resource_id")
            {
                let project_key = self.key_of_id(project).await;
                let name = match field("role_name") {
                    Some(name) => Some(name.to_string()),
                    None => self.project_role_name(project, &id).await,
                };
                return format!("{project_key}/role:{}", name.unwrap_or(id));
            }
            if let Some(name) = field("role_name") {
                return keys::role(name);
            }
            return self.key_of_id(&id).await;
        }
        if ty.starts_with("role.assignment.") {
            let project_role = match field("resource_id") {
                Some(project) if field("resource_type") == Some("api.project") => {
                    self.project_role_name(project, &id).await
                }
                _ => None,
            };
            let role = match project_role {
                Some(name) => name,
                None => {
                    let role = self.key_of_id(&id).await;
                    role.strip_prefix("role:").unwrap_or(&role).to_string()
                }
            };
            let principal = match field("principal_id") {
                Some(p) => self.key_of_id(p).await,
                None => String::new(),
            };
            if field("resource_type") == Some("api.project")
                && let Some(project) = field("resource_id")
            {
                let project = self.key_of_id(project).await;
                let principal = principal
                    .strip_prefix("user:")
                    .map_or(principal.clone(), |email| format!("member:{email}"));
                // A built-in project role granted to a group is its project membership.
                if field("id").is_some_and(|r| r.starts_with("role-api-project-"))
                    && principal.starts_with("group:")
                {
                    return format!("{project}/{principal}");
                }
                return keys::assignment(&format!("{project}/{principal}"), &role);
            }
            return keys::assignment(&principal, &role);
        }
        if let Some(certificates) = details.get("certificates").and_then(Value::as_array) {
            // `certificates.activated|deactivated`: the certificates, by name.
            let mut names = Vec::new();
            for c in certificates {
                let name = c.get("name").and_then(Value::as_str).map(keys::certificate);
                names.push(match (name, c.get("id").and_then(Value::as_str)) {
                    (Some(name), _) => name,
                    (None, Some(id)) => self.key_of_id(id).await,
                    (None, None) => continue,
                });
            }
            return names.join(", ");
        }
        if id.is_empty() {
            return String::new();
        }
        self.key_of_id(&id).await
    }
}

/// The first line of the text table.
pub fn text_header() -> String {
    format!(
        "{:<20}  {:<28}  {:<26}  {:<44}  CHANGE",
        "TIME", "ACTOR", "EVENT", "OBJECT"
    )
}

/// One row of the text table (actor, object and change as [`naming::MoreNames::describe`]
/// names them), every value from the API escaped.
pub fn text_row(event: &AuditLog, actor: &str, object: &str, change: &str) -> String {
    let time = event
        .effective_at
        .map(crate::text::time::format_utc)
        .unwrap_or_else(|| "-".to_string());
    let dash = |text: &str| {
        if text.is_empty() {
            "-".to_string()
        } else {
            text.to_string()
        }
    };
    format!(
        "{time:<20}  {:<28}  {:<26}  {:<44}  {}",
        escape::text(&dash(actor)),
        escape::text(&event.event_type),
        escape::text(&dash(object)),
        escape::text(&dash(change))
    )
    .trim_end()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn resolve(event_types: &[&str]) -> anyhow::Result<AuditLogQuery> {
        // No name to resolve: no request is made, so the client points nowhere.
        let config = crate::api::ClientConfig::new(
            "http://127.0.0.1:9/v1".to_string(),
            crate::api::Secret::new("sk-unused".to_string()),
        );
        let client = Client::new(config).expect("a client");
        let filters = Filters {
            event_types: event_types.iter().map(|t| t.to_string()).collect(),
            actors: vec!["Ada@X.example".into(), "user_1".into()],
            ..Filters::default()
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(resolve_query(&mut Names::new(&client), &filters))
    }

    #[test]
    fn tenant_scoped_types_ask_for_tenant_only_and_only_alone() {
        let query = resolve(&["tenant.user.added", "role.bound_to_resource"]).expect("alone");
        assert!(query.tenant_only);
        assert_eq!(query.actor_emails, ["ada@x.example"]);
        assert_eq!(query.actor_ids, ["user_1"]);
        assert!(!resolve(&["project.created"]).expect("plain").tenant_only);
        let err = resolve(&["tenant.user.added", "project.created"]).expect_err("mixed");
        assert!(err.to_string().contains("separate runs"), "{err}");
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_time("7d", NOW), Ok(NOW - 7 * 86_400));
        assert_eq!(parse_time("12h", NOW), Ok(NOW - 12 * 3_600));
        assert_eq!(parse_time("30m", NOW), Ok(NOW - 1_800));
        assert_eq!(parse_time("2w", NOW), Ok(NOW - 14 * 86_400));
        assert_eq!(parse_time("0s", NOW), Ok(NOW));
    }

    #[test]
    fn rfc3339_times_and_dates() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z", NOW), Ok(0));
        assert_eq!(parse_time("2024-08-01T00:00:00Z", NOW), Ok(1_722_470_400));
        assert_eq!(parse_time("2024-08-01", NOW), Ok(1_722_470_400));
        assert_eq!(
            parse_time("2024-08-01T02:00:00+02:00", NOW),
            Ok(1_722_470_400)
        );
        assert_eq!(
            parse_time("2024-07-31T19:30:00.250-04:30", NOW),
            Ok(1_722_470_400)
        );
        assert_eq!(parse_time("2024-02-29T12:00:00Z", NOW), Ok(1_709_208_000));
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "yesterday",
            "2024-13-01",
            "2023-02-29",
            "2024-08-01T25:00:00Z",
            "2024-08-01T00:00:00",
            "2024-8-1",
            "99999999999999999999d",
            "1.5d",
            "-7d",
        ] {
            let err = parse_time(bad, NOW).expect_err(bad);
            assert!(
                err.contains("expected") || err.contains("too large") || err.contains("unit"),
                "{bad}: {err}"
            );
        }
    }
}
