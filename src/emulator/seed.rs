//! Seeding: an orgops [`Document`] read as the live organization -> [`OrgState`], and the
//! reverse for `GET /_emulator/state` (sorted, stable, and re-seedable to the same org).
//!
//! Every declared user is a member; the seed-only `invites:` list carries invites with their
//! status. The organization's default project is the project named
//! [`rules::DEFAULT_PROJECT_NAME`]; a document that declares it configures it (rate limits,
//! certificates), and the dump always lists it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, bail};

use super::rules;
use super::state::{InviteStatus, OrgState, RoleAssignment, now, rate_limit_catalogue};
use crate::config::LoadMode;
use crate::model::{self, Document};

/// Parses a state document (YAML) as an emulator seed: the desired-state format plus the
/// seed-only `invites:` list, checked by the same loader `orgops validate` uses.
pub fn parse_state(text: &str) -> anyhow::Result<Document> {
    crate::config::parse_str(text, "<state>", LoadMode::Seed)
        .map_err(|diagnostics| anyhow::anyhow!("{}", diagnostics.render_human(false)))
}

/// Reads `--state FILE` (or a directory of files) and the PEM files its certificates name
/// (relative to the declaring file), through the config loader in seed mode.
pub fn load_state_file(path: &Path) -> anyhow::Result<(Document, BTreeMap<String, String>)> {
    let state = crate::config::load(path, LoadMode::Seed).map_err(|diagnostics| {
        anyhow::anyhow!(
            "the state {} is not valid:\n{}",
            path.display(),
            diagnostics.render_human(false)
        )
    })?;
    Ok((state.doc, state.certificate_pems))
}

/// A syntactically PEM-shaped placeholder for a certificate whose content was not given.
pub fn synthetic_pem(name: &str) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD
        .encode(format!("orgops emulator placeholder certificate {name}"));
    format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
}

fn assignment(at: i64) -> RoleAssignment {
    RoleAssignment {
        created_at: at,
        created_by: None,
    }
}

/// Builds the organization `doc` describes. Fails on references to undeclared names.
/// A kind's field of a document object, in its type (`None`: absent or not of that type).
fn field<T: serde::de::DeserializeOwned>(fields: &model::KindFields, key: &str) -> Option<T> {
    serde_json::from_value(fields.get(key)?.clone()).ok()
}

/// Sets a kind's field (`None` or an empty list: left out).
fn set_field<T: serde::Serialize>(fields: &mut model::KindFields, key: &str, value: Option<T>) {
    match value.and_then(|v| serde_json::to_value(v).ok()) {
        Some(serde_json::Value::Array(items)) if items.is_empty() => {
            fields.shift_remove(key);
        }
        Some(value) => {
            fields.insert(key.to_string(), value);
        }
        None => {
            fields.shift_remove(key);
        }
    }
}

pub fn from_document(
    doc: &Document,
    pems: &BTreeMap<String, String>,
    seed: u64,
) -> anyhow::Result<OrgState> {
    let mut org = OrgState::new(seed);
    let at = now();
    let settings = &doc.settings.fields;
    if let Some(retention) = field::<crate::kinds::DataRetention>(settings, "data_retention") {
        org.data_retention = retention.as_str().to_string();
    }
    if let Some(limit) = field::<crate::kinds::SpendLimit>(settings, "spend_limit") {
        org.spend_limit = Some(spend_limit_state(&limit));
    }
    let alerts: Vec<crate::kinds::SpendAlert> = field(settings, "spend_alerts").unwrap_or_default();
    for alert in &alerts {
        let a = alert_state(&mut org, alert);
        org.spend_alerts.insert(a.id.clone(), a);
    }

    // Custom organization roles.
    let mut org_roles: HashMap<String, String> = HashMap::new();
    for role in &doc.roles {
        if org_roles.contains_key(&role.name) {
            bail!("role {:?} is declared twice", role.name);
        }
        let r = org.new_role(
            &role.name,
            role.permissions.clone(),
            role.description.clone(),
            "api.organization",
            None,
        );
        org_roles.insert(role.name.clone(), r.id.clone());
        org.roles.insert(r.id.clone(), r);
    }
    let org_role = |name: &str, whose: &str| {
        org_roles
            .get(name)
            .cloned()
            .with_context(|| format!("{whose} has role {name:?}, which is not declared in roles"))
    };

    for user in &doc.users {
        if org.user_by_email(&user.email).is_some() {
            bail!("user {} is declared twice", user.email);
        }
        let id = org.add_user(&user.email, user.role.as_str());
        for name in &user.roles {
            let role_id = org_role(name, &user.email)?;
            if let Some(u) = org.users.get_mut(&id) {
                u.roles.insert(role_id, assignment(at));
            }
        }
    }
    let user_id = |org: &OrgState, email: &str, whose: &str| {
        org.user_by_email(email)
            .map(|u| u.id.clone())
            .with_context(|| format!("{whose} names {email}, who is not a declared user"))
    };

    let mut groups: HashMap<String, String> = HashMap::new();
    for group in &doc.groups {
        if groups.contains_key(&group.name) {
            bail!("group {:?} is declared twice", group.name);
        }
        let gid = org.add_group(&group.name);
        groups.insert(group.name.clone(), gid.clone());
        for email in &group.members {
            let uid = user_id(&org, email, &format!("group {:?}", group.name))?;
            if let Some(g) = org.groups.get_mut(&gid) {
                g.members.insert(uid, at);
            }
        }
        for name in &group.roles {
            let role_id = org_role(name, &format!("group {:?}", group.name))?;
            if let Some(g) = org.groups.get_mut(&gid) {
                g.roles.insert(role_id, assignment(at));
            }
        }
    }

    let mut certificates: HashMap<String, String> = HashMap::new();
    for cert in &doc.certificates {
        let pem = pems
            .get(&cert.name)
            .cloned()
            .unwrap_or_else(|| synthetic_pem(&cert.name));
        let cid = org.add_certificate(Some(cert.name.clone()), pem);
        if let Some(c) = org.certificates.get_mut(&cid) {
            c.active = cert.active;
        }
        certificates.insert(cert.name.clone(), cid);
    }

    let first_owner = org.first_owner().map(|u| u.id.clone());
    for key in &doc.admin_api_keys {
        let expires = key.expires_in_days.map(|d| at + i64::from(d) * 86_400);
        org.add_admin_key(Some(key.name.clone()), None, first_owner.clone(), expires);
    }

    let mut projects: HashMap<String, String> = HashMap::new();
    for project in &doc.projects {
        if projects.contains_key(&project.name) {
            bail!("project {:?} is declared twice", project.name);
        }
        let is_default = project.name == rules::DEFAULT_PROJECT_NAME;
        let pid = match org.default_project_id() {
            Some(id) if is_default => id.to_string(),
            _ => org.add_project(
                &project.name,
                false,
                project.residency.clone(),
                project.external_key_id.clone(),
            ),
        };
        if let Some(p) = org.projects.get_mut(&pid) {
            p.geography = project.geography.clone();
        }
        projects.insert(project.name.clone(), pid.clone());
        seed_project(&mut org, &pid, project, &groups, &certificates, at)
            .with_context(|| format!("in project {:?}", project.name))?;
    }

    for invite in &doc.invites {
        let mut granted = Vec::new();
        for p in &invite.projects {
            let pid = projects.get(&p.name).cloned().with_context(|| {
                format!(
                    "invite for {} names project {:?}, which is not declared",
                    invite.email, p.name
                )
            })?;
            granted.push((pid, p.role.as_str().to_string()));
        }
        let id = org.ids.id(super::state::IdKind::Invite);
        let status = match invite.status {
            model::InviteStatus::Pending => InviteStatus::Pending,
            model::InviteStatus::Expired => InviteStatus::Expired,
            model::InviteStatus::Accepted => InviteStatus::Accepted,
        };
        let expires_at = if status == InviteStatus::Expired {
            at - 1
        } else {
            at + rules::INVITE_LIFETIME_SECONDS
        };
        org.invites.insert(
            id.clone(),
            super::state::Invite {
                id,
                email: invite.email.clone(),
                role: invite.role.as_str().to_string(),
                status,
                created_at: at,
                expires_at,
                accepted_at: (status == InviteStatus::Accepted).then_some(at),
                projects: granted,
            },
        );
    }
    super::routes::external_keys::seed(&mut org, doc)?;
    super::routes::external_storage::seed(&mut org, doc)?;
    super::routes::workload_identity::seed(&mut org, doc)?;
    super::routes::health_alert_rules::seed(&mut org, doc)?;
    Ok(org)
}

fn seed_project(
    org: &mut OrgState,
    pid: &str,
    project: &model::Project,
    groups: &HashMap<String, String>,
    certificates: &HashMap<String, String>,
    at: i64,
) -> anyhow::Result<()> {
    let is_default = org.projects.get(pid).is_some_and(|p| p.is_default);
    if is_default && (!project.members.is_empty() || !project.service_accounts.is_empty()) {
        bail!("the default project cannot have members or service accounts");
    }
    // Custom project roles first: members and groups refer to them.
    let mut roles: HashMap<String, String> = HashMap::new();
    for role in &project.roles {
        let r = org.new_role(
            &role.name,
            role.permissions.clone(),
            role.description.clone(),
            "api.project",
            None,
        );
        roles.insert(role.name.clone(), r.id.clone());
        if let Some(p) = org.projects.get_mut(pid) {
            p.roles.insert(r.id.clone(), r);
        }
    }
    let role_ids = |names: &[String], whose: &str| -> anyhow::Result<Vec<String>> {
        names
            .iter()
            .map(|n| {
                roles.get(n).cloned().with_context(|| {
                    format!("{whose} has project role {n:?}, which is not declared")
                })
            })
            .collect()
    };
    for member in &project.members {
        let uid = org
            .user_by_email(&member.email)
            .map(|u| u.id.clone())
            .with_context(|| format!("member {} is not a declared user", member.email))?;
        let custom = role_ids(&member.roles, &member.email)?;
        let p = org.projects.get_mut(pid).context("project exists")?;
        p.users.insert(
            uid,
            super::state::ProjectUser {
                role: member.role.as_str().to_string(),
                added_at: at,
                roles: custom.into_iter().map(|r| (r, assignment(at))).collect(),
            },
        );
    }
    for grant in &project.groups {
        let gid = groups
            .get(&grant.name)
            .cloned()
            .with_context(|| format!("group {:?} is not declared", grant.name))?;
        let custom = role_ids(&grant.roles, &format!("group {:?}", grant.name))?;
        let p = org.projects.get_mut(pid).context("project exists")?;
        p.groups.insert(
            gid,
            super::state::ProjectGroup {
                created_at: at,
                roles: std::iter::once(grant.role.predefined_role_id().to_string())
                    .chain(custom)
                    .map(|r| (r, assignment(at)))
                    .collect(),
            },
        );
    }
    for sa in &project.service_accounts {
        // Seeded accounts get a key when the file gives one a sink; its value is discarded
        // (nobody could have stored it).
        org.add_service_account(pid, &sa.name, sa.role.as_str(), sa.sink.is_some());
    }
    for (model_name, limits) in &project.rate_limits {
        let p = org.projects.get_mut(pid).context("project exists")?;
        let row = p
            .rate_limits
            .values_mut()
            .find(|r| &r.model == model_name)
            .with_context(|| {
                format!(
                    "rate limit for unknown model {model_name:?} (the emulator's catalogue: {})",
                    catalogue_models()
                )
            })?;
        apply_rate_limit(row, limits)
            .map_err(|field| anyhow::anyhow!("model {model_name:?} has no {field} limit"))?;
    }
    for name in &project.certificates {
        let cid = certificates
            .get(name)
            .cloned()
            .with_context(|| format!("certificate {name:?} is not declared"))?;
        org.projects
            .get_mut(pid)
            .context("project exists")?
            .certificates
            .insert(cid);
    }
    seed_project_settings(
        org.projects.get_mut(pid).context("project exists")?,
        project,
    );
    let alerts: Vec<crate::kinds::SpendAlert> =
        field(&project.fields, "spend_alerts").unwrap_or_default();
    for alert in &alerts {
        let a = alert_state(org, alert);
        org.projects
            .get_mut(pid)
            .context("project exists")?
            .spend_alerts
            .insert(a.id.clone(), a);
    }
    // Seed-side meaning of `api_keys`: user-owned keys of these names exist, owned by the
    // project's first member (keys cannot be created through the API); an entry written as
    // `{name, spend_limit: {amount_cents}, expires_at}` seeds the key with those settings.
    let api_keys: Vec<serde_json::Value> = field(&project.fields, "api_keys").unwrap_or_default();
    if !api_keys.is_empty() {
        let owner = project
            .members
            .first()
            .and_then(|m| org.user_by_email(&m.email))
            .map(|u| u.id.clone())
            .with_context(|| {
                format!(
                    "project {:?} declares api_keys but no member to own them",
                    project.name
                )
            })?;
        for entry in &api_keys {
            let name = entry
                .as_str()
                .or_else(|| entry.get("name").and_then(serde_json::Value::as_str))
                .with_context(|| {
                    format!("project {:?}: an api_keys entry has no name", project.name)
                })?;
            let (mut key, _secret) = org.new_project_key(
                super::state::KeyOwner::User(owner.clone()),
                name,
                Vec::new(),
            );
            key.spend_limit = entry
                .pointer("/spend_limit/amount_cents")
                .and_then(serde_json::Value::as_i64);
            if let Some(at) = entry.get("expires_at").and_then(serde_json::Value::as_str) {
                key.expires_at = Some(crate::text::time::parse_utc(at).with_context(|| {
                    format!(
                        "project {:?}: api key {name:?}: expires_at {at:?} is not a date",
                        project.name
                    )
                })?);
            }
            org.projects
                .get_mut(pid)
                .context("project exists")?
                .api_keys
                .insert(key.id.clone(), key);
        }
    }
    if project.archived {
        let p = org.projects.get_mut(pid).context("project exists")?;
        if p.is_default && !rules::DEFAULT_PROJECT_ARCHIVABLE {
            bail!("the default project cannot be archived");
        }
        p.archived_at = Some(at);
        rules::on_project_archived(p);
    }
    Ok(())
}

/// A project's settings singletons as the document gives them (left out: the API's default).
fn seed_project_settings(p: &mut super::state::Project, project: &model::Project) {
    let fields = &project.fields;
    if let Some(retention) = field::<crate::kinds::DataRetention>(fields, "data_retention") {
        p.data_retention = retention.as_str().to_string();
    }
    if let Some(limit) = field::<crate::kinds::SpendLimit>(fields, "spend_limit") {
        p.spend_limit = Some(spend_limit_state(&limit));
    }
    if let Some(m) = field::<crate::kinds::ModelPermissions>(fields, "model_permissions") {
        p.model_permissions = Some(super::state::ModelPermissions {
            mode: match m.mode {
                crate::kinds::PermissionMode::AllowList => "allow_list",
                crate::kinds::PermissionMode::DenyList => "deny_list",
            }
            .to_string(),
            model_ids: m.models.clone(),
        });
    }
    if let Some(t) = field::<crate::kinds::service_tiers::ServiceTiers>(fields, "service_tiers") {
        let word = |v: serde_json::Value| v.as_str().map(str::to_string);
        if let Some(d) = t
            .default
            .and_then(|d| serde_json::to_value(d).ok())
            .and_then(word)
        {
            p.service_tiers.default = d;
        }
        match t.enabled_tiers {
            Some(crate::kinds::service_tiers::EnabledTiers::All(_)) => {
                p.service_tiers.enabled = None
            }
            Some(crate::kinds::service_tiers::EnabledTiers::Only(list)) => {
                p.service_tiers.enabled = Some(
                    list.into_iter()
                        .filter_map(|t| serde_json::to_value(t).ok().and_then(word))
                        .collect(),
                )
            }
            None => {}
        }
    }
    if let Some(t) = field::<crate::kinds::HostedTools>(fields, "hosted_tools") {
        let tools = &mut p.hosted_tools;
        for (slot, wanted) in [
            (&mut tools.file_search, t.file_search),
            (&mut tools.web_search, t.web_search),
            (&mut tools.image_generation, t.image_generation),
            (&mut tools.mcp, t.mcp),
            (&mut tools.code_interpreter, t.code_interpreter),
        ] {
            if let Some(enabled) = wanted {
                *slot = enabled;
            }
        }
    }
}

fn alert_state(org: &mut OrgState, alert: &crate::kinds::SpendAlert) -> super::state::SpendAlert {
    let mut channel = serde_json::json!({"type": "email", "recipients": alert.recipients});
    if let Some(prefix) = &alert.subject_prefix {
        channel["subject_prefix"] = serde_json::json!(prefix);
    }
    super::state::SpendAlert {
        id: org.ids.id(super::state::IdKind::SpendAlert),
        threshold_amount: i64::try_from(alert.threshold_cents).unwrap_or(i64::MAX),
        currency: "USD".to_string(),
        interval: "month".to_string(),
        notification_channel: channel,
    }
}

fn alerts_model(
    alerts: &indexmap::IndexMap<String, super::state::SpendAlert>,
) -> model::ManagedList<crate::kinds::SpendAlert> {
    let mut out: Vec<crate::kinds::SpendAlert> = alerts
        .values()
        .filter_map(|a| {
            Some(crate::kinds::SpendAlert {
                threshold_cents: u64::try_from(a.threshold_amount).ok()?,
                currency: crate::kinds::Currency::Usd,
                interval: crate::kinds::Interval::Month,
                recipients: serde_json::from_value(
                    a.notification_channel.get("recipients")?.clone(),
                )
                .ok()?,
                subject_prefix: a
                    .notification_channel
                    .get("subject_prefix")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.threshold_cents, &a.recipients).cmp(&(b.threshold_cents, &b.recipients)));
    if out.is_empty() {
        model::ManagedList::default()
    } else {
        out.into()
    }
}

fn spend_limit_state(limit: &crate::kinds::SpendLimit) -> super::state::SpendLimit {
    super::state::SpendLimit {
        threshold_amount: i64::try_from(limit.amount_cents).unwrap_or(i64::MAX),
        currency: "USD".to_string(),
        interval: "month".to_string(),
        notification_channel: (!limit.recipients.is_empty() || limit.subject_prefix.is_some())
            .then(|| {
                serde_json::json!({"type": "email", "recipients": limit.recipients,
                                   "subject_prefix": limit.subject_prefix})
            }),
    }
}

fn spend_limit_model(limit: &super::state::SpendLimit) -> Option<crate::kinds::SpendLimit> {
    Some(crate::kinds::SpendLimit {
        amount_cents: u64::try_from(limit.threshold_amount).ok()?,
        currency: crate::kinds::Currency::Usd,
        interval: crate::kinds::Interval::Month,
        recipients: limit
            .notification_channel
            .as_ref()
            .and_then(|c| serde_json::from_value(c.get("recipients")?.clone()).ok())
            .unwrap_or_default(),
        subject_prefix: limit
            .notification_channel
            .as_ref()
            .and_then(|c| c.get("subject_prefix")?.as_str())
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    })
}

fn retention_model(value: &str) -> Option<crate::kinds::DataRetention> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).ok()
}

/// The project's settings in the document's shape; values at the API's default are left out.
fn project_settings_model(p: &super::state::Project, out: &mut model::Project) {
    let fields = &mut out.fields;
    set_field(
        fields,
        "data_retention",
        retention_model(&p.data_retention)
            .filter(|r| *r != crate::kinds::DataRetention::OrganizationDefault),
    );
    set_field(
        fields,
        "spend_limit",
        p.spend_limit.as_ref().and_then(spend_limit_model),
    );
    let permissions = p.model_permissions.as_ref().and_then(|m| {
        Some(crate::kinds::ModelPermissions {
            mode: serde_json::from_value(serde_json::Value::String(m.mode.clone())).ok()?,
            models: m.model_ids.clone(),
        })
    });
    set_field(fields, "model_permissions", permissions);
    // Service tiers as the kind reads them (fields at the API's default left out).
    let tiers = super::routes::service_tiers::to_json(&p.service_tiers);
    set_field(
        fields,
        "service_tiers",
        (crate::kinds::service_tiers::KIND.from_api)(&tiers)
            .ok()
            .flatten(),
    );
    let t = &p.hosted_tools;
    let off = |enabled: bool| (!enabled).then_some(false);
    let tools = crate::kinds::HostedTools {
        file_search: off(t.file_search),
        web_search: off(t.web_search),
        image_generation: off(t.image_generation),
        mcp: off(t.mcp),
        code_interpreter: off(t.code_interpreter),
    };
    set_field(
        fields,
        "hosted_tools",
        (tools != crate::kinds::HostedTools::default()).then_some(tools),
    );
}

fn catalogue_models() -> String {
    rate_limit_catalogue()
        .into_iter()
        .map(|r| r.model)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies the given fields; `Err(field)` when the model has no such limit.
pub fn apply_rate_limit(
    row: &mut super::state::RateLimitRow,
    limits: &model::RateLimit,
) -> Result<(), &'static str> {
    fn set(
        slot: &mut Option<u64>,
        value: Option<u64>,
        field: &'static str,
    ) -> Result<(), &'static str> {
        match (slot.as_mut(), value) {
            (_, None) => Ok(()),
            (Some(s), Some(v)) => {
                *s = v;
                Ok(())
            }
            (None, Some(_)) => Err(field),
        }
    }
    if let Some(v) = limits.max_requests_per_1_minute {
        row.max_requests_per_1_minute = v;
    }
    if let Some(v) = limits.max_tokens_per_1_minute {
        row.max_tokens_per_1_minute = v;
    }
    set(
        &mut row.max_images_per_1_minute,
        limits.max_images_per_1_minute,
        "max_images_per_1_minute",
    )?;
    set(
        &mut row.max_audio_megabytes_per_1_minute,
        limits.max_audio_megabytes_per_1_minute,
        "max_audio_megabytes_per_1_minute",
    )?;
    set(
        &mut row.max_requests_per_1_day,
        limits.max_requests_per_1_day,
        "max_requests_per_1_day",
    )?;
    set(
        &mut row.batch_1_day_max_input_tokens,
        limits.batch_1_day_max_input_tokens,
        "batch_1_day_max_input_tokens",
    )?;
    Ok(())
}

fn project_role(role: &str) -> model::ProjectRole {
    // Service accounts created with `create_service_account_only` have role `none`, which the
    // file format cannot express; they dump as `member`.
    if role == "owner" {
        model::ProjectRole::Owner
    } else {
        model::ProjectRole::Member
    }
}

fn org_role(role: &str) -> model::OrgRole {
    if role == "owner" {
        model::OrgRole::Owner
    } else {
        model::OrgRole::Reader
    }
}

/// The organization as a desired-state document: every list sorted by its natural key,
/// rate limits only where they differ from the catalogue defaults.
pub fn to_document(org: &OrgState) -> Document {
    let role_name = |roles: &indexmap::IndexMap<String, super::state::Role>, id: &str| {
        roles
            .get(id)
            .filter(|r| !r.predefined)
            .map(|r| r.name.clone())
    };
    let sorted = |mut v: Vec<String>| -> model::ManagedList<String> {
        v.sort();
        v.into()
    };
    let email_of = |id: &str| org.users.get(id).map(|u| u.email.clone());

    let mut users: Vec<model::User> = org
        .users
        .values()
        .map(|u| model::User {
            email: u.email.clone(),
            role: org_role(&u.role),
            roles: sorted(
                u.roles
                    .keys()
                    .filter_map(|r| role_name(&org.roles, r))
                    .collect(),
            ),
        })
        .collect();
    users.sort_by_key(|u| model::normalize_email(&u.email));

    let mut groups: Vec<model::Group> = org
        .groups
        .values()
        .map(|g| model::Group {
            name: g.name.clone(),
            members: sorted(g.members.keys().filter_map(|id| email_of(id)).collect()),
            roles: sorted(
                g.roles
                    .keys()
                    .filter_map(|r| role_name(&org.roles, r))
                    .collect(),
            ),
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));

    let to_role = |r: &super::state::Role| model::Role {
        name: r.name.clone(),
        permissions: sorted(r.permissions.clone()).into_vec(),
        description: r.description.clone(),
    };
    let mut roles: Vec<model::Role> = org
        .roles
        .values()
        .filter(|r| !r.predefined)
        .map(to_role)
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));

    let cert_name = |id: &str| {
        org.certificates
            .get(id)
            .map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()))
    };
    let mut certificates: Vec<model::Certificate> = org
        .certificates
        .values()
        .map(|c| {
            let name = c.name.clone().unwrap_or_else(|| c.id.clone());
            model::Certificate {
                file: format!("{name}.pem"),
                name,
                active: c.active,
                pem: None,
            }
        })
        .collect();
    certificates.sort_by(|a, b| a.name.cmp(&b.name));

    let mut admin_api_keys: Vec<model::AdminApiKey> = org
        .admin_keys
        .values()
        .filter_map(|k| k.name.clone().map(|name| (name, k)))
        .map(|(name, k)| model::AdminApiKey {
            name,
            expires_in_days: k
                .expires_at
                .map(|e| (((e - k.created_at).max(0) + 86_399) / 86_400) as u32),
            sink: None,
        })
        .collect();
    admin_api_keys.sort_by(|a, b| a.name.cmp(&b.name));

    let defaults: HashMap<String, super::state::RateLimitRow> = rate_limit_catalogue()
        .into_iter()
        .map(|r| (r.model.clone(), r))
        .collect();
    let mut projects: Vec<model::Project> = org
        .projects
        .values()
        .map(|p| {
            let mut members: Vec<model::ProjectMember> = p
                .users
                .iter()
                .filter_map(|(uid, m)| {
                    Some(model::ProjectMember {
                        email: email_of(uid)?,
                        role: project_role(&m.role),
                        roles: sorted(
                            m.roles
                                .keys()
                                .filter_map(|r| role_name(&p.roles, r))
                                .collect(),
                        ),
                    })
                })
                .collect();
            members.sort_by_key(|m| model::normalize_email(&m.email));
            let mut pgroups: Vec<model::ProjectGroup> = p
                .groups
                .iter()
                .filter_map(|(gid, grant)| {
                    Some(model::ProjectGroup {
                        name: org.groups.get(gid)?.name.clone(),
                        role: if grant.membership_role()
                            == model::ProjectRole::Owner.predefined_role_id()
                        {
                            model::ProjectRole::Owner
                        } else {
                            model::ProjectRole::Member
                        },
                        roles: sorted(
                            grant
                                .roles
                                .keys()
                                .filter_map(|r| role_name(&p.roles, r))
                                .collect(),
                        ),
                    })
                })
                .collect();
            pgroups.sort_by(|a, b| a.name.cmp(&b.name));
            let mut proles: Vec<model::Role> = p
                .roles
                .values()
                .filter(|r| !r.predefined)
                .map(to_role)
                .collect();
            proles.sort_by(|a, b| a.name.cmp(&b.name));
            let mut service_accounts: Vec<model::ServiceAccount> = p
                .service_accounts
                .values()
                .map(|sa| model::ServiceAccount {
                    name: sa.name.clone(),
                    role: project_role(&sa.role),
                    sink: None,
                    key_spend_limit: None,
                })
                .collect();
            service_accounts.sort_by(|a, b| a.name.cmp(&b.name));
            let mut rate_limits = BTreeMap::new();
            for row in p.rate_limits.values() {
                let Some(d) = defaults.get(&row.model) else {
                    continue;
                };
                let diff = |v: u64, dv: u64| (v != dv).then_some(v);
                let diff_opt = |v: Option<u64>, dv: Option<u64>| if v != dv { v } else { None };
                let limit = model::RateLimit {
                    max_requests_per_1_minute: diff(
                        row.max_requests_per_1_minute,
                        d.max_requests_per_1_minute,
                    ),
                    max_tokens_per_1_minute: diff(
                        row.max_tokens_per_1_minute,
                        d.max_tokens_per_1_minute,
                    ),
                    max_images_per_1_minute: diff_opt(
                        row.max_images_per_1_minute,
                        d.max_images_per_1_minute,
                    ),
                    max_audio_megabytes_per_1_minute: diff_opt(
                        row.max_audio_megabytes_per_1_minute,
                        d.max_audio_megabytes_per_1_minute,
                    ),
                    max_requests_per_1_day: diff_opt(
                        row.max_requests_per_1_day,
                        d.max_requests_per_1_day,
                    ),
                    batch_1_day_max_input_tokens: diff_opt(
                        row.batch_1_day_max_input_tokens,
                        d.batch_1_day_max_input_tokens,
                    ),
                };
                if limit != model::RateLimit::default() {
                    rate_limits.insert(row.model.clone(), limit);
                }
            }
            let mut project = model::Project {
                name: p.name.clone(),
                archived: p.is_archived(),
                residency: p.residency.clone(),
                geography: p.geography.clone(),
                external_key_id: p.external_key_id.clone(),
                members: members.into(),
                groups: pgroups.into(),
                roles: proles.into(),
                service_accounts: service_accounts.into(),
                rate_limits,
                certificates: sorted(p.certificates.iter().filter_map(|c| cert_name(c)).collect()),
                ..model::Project::default()
            };
            project_settings_model(p, &mut project);
            let mut user_keys: Vec<serde_json::Value> = p
                .api_keys
                .values()
                .filter(|k| matches!(k.owner, super::state::KeyOwner::User(_)))
                .map(|k| {
                    if k.spend_limit.is_none() && k.expires_at.is_none() {
                        serde_json::json!(k.name)
                    } else {
                        let mut entry = serde_json::json!({"name": k.name});
                        if let Some(cents) = k.spend_limit {
                            entry["spend_limit"] = serde_json::json!({"amount_cents": cents});
                        }
                        if let Some(at) = k.expires_at {
                            entry["expires_at"] =
                                serde_json::json!(crate::text::time::format_utc(at));
                        }
                        entry
                    }
                })
                .collect();
            user_keys.sort_by(|a, b| {
                let name = |v: &serde_json::Value| {
                    v.as_str()
                        .or_else(|| v.get("name").and_then(serde_json::Value::as_str))
                        .unwrap_or_default()
                        .to_string()
                };
                name(a).cmp(&name(b))
            });
            set_field(
                &mut project.fields,
                "spend_alerts",
                Some(alerts_model(&p.spend_alerts)),
            );
            set_field(&mut project.fields, "api_keys", Some(user_keys));
            project
        })
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name));

    let project_name = |id: &str| org.projects.get(id).map(|p| p.name.clone());
    let mut invites: Vec<model::Invite> = org
        .invites
        .values()
        .map(|i| {
            let mut projects: Vec<model::InviteProject> = i
                .projects
                .iter()
                .filter_map(|(pid, role)| {
                    Some(model::InviteProject {
                        name: project_name(pid)?,
                        role: project_role(role),
                    })
                })
                .collect();
            projects.sort();
            model::Invite {
                email: i.email.clone(),
                role: org_role(&i.role),
                status: match i.status {
                    InviteStatus::Pending => model::InviteStatus::Pending,
                    InviteStatus::Expired => model::InviteStatus::Expired,
                    InviteStatus::Accepted => model::InviteStatus::Accepted,
                },
                projects,
            }
        })
        .collect();
    invites.sort_by(|a, b| {
        (model::normalize_email(&a.email), a.status)
            .cmp(&(model::normalize_email(&b.email), b.status))
    });

    let mut doc = Document {
        version: model::FORMAT_VERSION,
        policy: model::Policy::default(),
        users: users.into(),
        groups: groups.into(),
        roles: roles.into(),
        certificates: certificates.into(),
        admin_api_keys: admin_api_keys.into(),
        settings: {
            let mut settings = model::OrgSettings::default();
            let fields = &mut settings.fields;
            set_field(
                fields,
                "data_retention",
                retention_model(&org.data_retention)
                    .filter(|r| r.as_str() != rules::ORGANIZATION_DATA_RETENTION),
            );
            set_field(
                fields,
                "spend_limit",
                org.spend_limit.as_ref().and_then(spend_limit_model),
            );
            set_field(
                fields,
                "spend_alerts",
                Some(alerts_model(&org.spend_alerts)),
            );
            settings
        },
        projects: projects.into(),
        invites,
    };
    super::routes::external_keys::dump(org, &mut doc);
    super::routes::external_storage::dump(org, &mut doc);
    super::routes::workload_identity::dump(org, &mut doc);
    super::routes::health_alert_rules::dump(org, &mut doc);
    doc
}

/// The certificate PEMs of `org` by name (for reloading a dumped state in place).
pub fn certificate_pems(org: &OrgState) -> BTreeMap<String, String> {
    org.certificates
        .values()
        .filter_map(|c| Some((c.name.clone()?, c.content.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner, roles: [billing]}
  - {email: bob@example.com, role: reader}
roles:
  - {name: billing, permissions: [api.organization.costs.read]}
groups:
  - {name: eng, members: [bob@example.com]}
certificates:
  - {name: edge, file: edge.pem, active: true}
projects:
  - name: Search
    members: [{email: bob@example.com, role: owner}]
    groups: [{name: eng, role: member}]
    service_accounts: [{name: ci, role: member}]
    rate_limits: {gpt-4o: {max_requests_per_1_minute: 500}}
    certificates: [edge]
  - name: Old
    archived: true
invites:
  - {email: carol@example.com, role: reader, status: pending, projects: [{name: Search, role: member}]}
"#;

    #[test]
    fn seeds_and_dumps_round_trip() {
        let doc = parse_state(SAMPLE).expect("sample parses");
        let org = from_document(&doc, &BTreeMap::new(), 1).expect("seeds");
        assert_eq!(org.users.len(), 2);
        assert_eq!(org.projects.len(), 3, "default + Search + Old");
        let dump = to_document(&org);
        let names: Vec<_> = dump.projects.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec![rules::DEFAULT_PROJECT_NAME, "Old", "Search"]);
        let search = &dump.projects[2];
        assert_eq!(
            search.rate_limits["gpt-4o"].max_requests_per_1_minute,
            Some(500)
        );
        assert_eq!(
            search.rate_limits.len(),
            1,
            "only changed limits are dumped"
        );
        assert_eq!(*dump.users[0].roles, vec!["billing".to_string()]);
        assert!(dump.projects[1].archived);
        assert_eq!(dump.invites.len(), 1);
        // Re-seeding the dump gives the same dump.
        let again = from_document(&dump, &certificate_pems(&org), 2).expect("dump seeds");
        assert_eq!(to_document(&again), dump);
    }

    #[test]
    fn undeclared_references_are_errors() {
        let text = "users: [{email: a@x.example, role: owner}]\ngroups: [{name: g, members: [zed@x.example]}]\n";
        // The loader's semantic checks refuse it, naming the member ...
        let err = parse_state(text).expect_err("unknown member");
        assert!(err.to_string().contains("zed@x.example"), "{err}");
        // ... and seeding refuses it too when handed such a document directly.
        let doc: Document = serde_saphyr::from_str(text).expect("well-formed YAML");
        let err = from_document(&doc, &BTreeMap::new(), 0).expect_err("unknown member");
        assert!(err.to_string().contains("zed@x.example"), "{err}");
        let doc = parse_state(
            "projects: [{name: P, rate_limits: {gpt-4o: {max_images_per_1_minute: 5}}}]\n",
        )
        .expect("parses");
        let err = from_document(&doc, &BTreeMap::new(), 0).expect_err("irrelevant field");
        assert!(
            format!("{err:#}").contains("max_images_per_1_minute"),
            "{err:#}"
        );
    }
}
