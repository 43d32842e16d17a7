//! Test support: a tiny, pure model of what the API does with each [`Operation`], so tests
//! can check convergence (planning again after applying a plan gives an empty plan).
//! Invites stay pending (nobody accepts them here), as in the real world right after apply.

use crate::live::LiveState;
use crate::model::{
    AdminApiKey, Certificate, Group, Invite, InviteStatus, Project, ProjectGroup, ProjectMember,
    Role, ServiceAccount, normalize_email,
};
use crate::plan::{CertificateScope, Operation, Plan};

fn project<'a>(state: &'a mut LiveState, name: &str) -> &'a mut Project {
    state
        .org
        .projects
        .iter_mut()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("simulated apply: project {name} exists"))
}

fn group<'a>(state: &'a mut LiveState, name: &str) -> &'a mut Group {
    state
        .org
        .groups
        .iter_mut()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("simulated apply: group {name} exists"))
}

fn same_email(a: &str, b: &str) -> bool {
    normalize_email(a) == normalize_email(b)
}

fn new_role(name: &str, permissions: &[String], description: &Option<String>) -> Role {
    Role {
        name: name.to_string(),
        permissions: permissions.to_vec(),
        description: description.clone(),
    }
}

fn apply_update(role: &mut Role, update: &crate::plan::RoleUpdate) {
    if let Some(p) = &update.permissions {
        role.permissions = p.clone();
    }
    if let Some(d) = &update.description {
        role.description = d.clone();
    }
}

/// `live` after every operation of `plan` succeeded.
pub(crate) fn simulate(live: &LiveState, plan: &Plan) -> LiveState {
    let mut s = live.clone();
    for change in &plan.changes {
        match &change.op {
            Operation::CreateProject {
                name,
                residency,
                external_key_id,
            } => {
                s.org.projects.push(Project {
                    name: name.clone(),
                    archived: false,
                    residency: residency.clone(),
                    external_key_id: external_key_id.clone(),
                    members: vec![].into(),
                    groups: vec![].into(),
                    roles: vec![].into(),
                    service_accounts: vec![].into(),
                    rate_limits: Default::default(),
                    certificates: vec![].into(),
                    ..Default::default()
                });
                s.ids.set(
                    crate::kinds::keys::refs::project(name),
                    format!("proj_{name}"),
                );
            }
            Operation::UpdateProject {
                name,
                external_key_id,
            } => project(&mut s, name).external_key_id = external_key_id.clone(),
            Operation::ArchiveProject { name, .. } => project(&mut s, name).archived = true,
            Operation::SendInvite {
                email,
                role,
                projects,
            }
            | Operation::ResendInvite {
                email,
                role,
                projects,
            }
            | Operation::ReplaceInvite {
                email,
                role,
                projects,
            } => {
                s.org.invites.retain(|i| {
                    !(same_email(&i.email, email) && i.status != InviteStatus::Accepted)
                });
                s.org.invites.push(Invite {
                    email: email.clone(),
                    role: *role,
                    status: InviteStatus::Pending,
                    projects: projects.clone(),
                });
            }
            Operation::DeleteInvite { email } => s
                .org
                .invites
                .retain(|i| !(same_email(&i.email, email) && i.status != InviteStatus::Accepted)),
            Operation::UpdateUserRole { email, role } => {
                for u in s
                    .org
                    .users
                    .iter_mut()
                    .filter(|u| same_email(&u.email, email))
                {
                    u.role = *role;
                }
            }
            Operation::RemoveUser { email } => {
                s.org.users.retain(|u| !same_email(&u.email, email));
                for g in &mut s.org.groups {
                    g.members.retain(|m| !same_email(m, email));
                }
                for p in &mut s.org.projects {
                    p.members.retain(|m| !same_email(&m.email, email));
                }
            }
            Operation::AssignUserRole { email, role } => {
                for u in s
                    .org
                    .users
                    .iter_mut()
                    .filter(|u| same_email(&u.email, email))
                {
                    u.roles.push(role.clone());
                }
            }
            Operation::UnassignUserRole { email, role } => {
                for u in s
                    .org
                    .users
                    .iter_mut()
                    .filter(|u| same_email(&u.email, email))
                {
                    u.roles.retain(|r| r != role);
                }
            }
            Operation::CreateGroup { name } => s.org.groups.push(Group {
                name: name.clone(),
                members: vec![].into(),
                roles: vec![].into(),
            }),
            Operation::DeleteGroup { name } => {
                s.org.groups.retain(|g| &g.name != name);
                for p in &mut s.org.projects {
                    p.groups.retain(|g| &g.name != name);
                }
            }
            Operation::AddGroupMember { group: g, email } => {
                group(&mut s, g).members.push(email.clone())
            }
            Operation::RemoveGroupMember { group: g, email } => {
                group(&mut s, g).members.retain(|m| !same_email(m, email))
            }
            Operation::AssignGroupRole { group: g, role } => {
                group(&mut s, g).roles.push(role.clone())
            }
            Operation::UnassignGroupRole { group: g, role } => {
                group(&mut s, g).roles.retain(|r| r != role)
            }
            Operation::CreateRole {
                name,
                permissions,
                description,
            } => s.org.roles.push(new_role(name, permissions, description)),
            Operation::UpdateRole { name, update } => {
                for r in s.org.roles.iter_mut().filter(|r| &r.name == name) {
                    apply_update(r, update);
                }
            }
            Operation::DeleteRole { name } => s.org.roles.retain(|r| &r.name != name),
            Operation::CreateProjectRole {
                project: p,
                name,
                permissions,
                description,
            } => project(&mut s, p)
                .roles
                .push(new_role(name, permissions, description)),
            Operation::UpdateProjectRole {
                project: p,
                name,
                update,
            } => {
                for r in project(&mut s, p)
                    .roles
                    .iter_mut()
                    .filter(|r| &r.name == name)
                {
                    apply_update(r, update);
                }
            }
            Operation::DeleteProjectRole { project: p, name } => {
                project(&mut s, p).roles.retain(|r| &r.name != name)
            }
            Operation::AddProjectUser {
                project: p,
                email,
                role,
            } => project(&mut s, p).members.push(ProjectMember {
                email: email.clone(),
                role: *role,
                roles: vec![].into(),
            }),
            Operation::UpdateProjectUser {
                project: p,
                email,
                role,
            } => {
                for m in project(&mut s, p)
                    .members
                    .iter_mut()
                    .filter(|m| same_email(&m.email, email))
                {
                    m.role = *role;
                }
            }
            Operation::RemoveProjectUser { project: p, email } => project(&mut s, p)
                .members
                .retain(|m| !same_email(&m.email, email)),
            Operation::AssignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                for m in project(&mut s, p)
                    .members
                    .iter_mut()
                    .filter(|m| same_email(&m.email, email))
                {
                    m.roles.push(role.clone());
                }
            }
            Operation::UnassignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                for m in project(&mut s, p)
                    .members
                    .iter_mut()
                    .filter(|m| same_email(&m.email, email))
                {
                    m.roles.retain(|r| r != role);
                }
            }
            Operation::AddProjectGroup {
                project: p,
                group,
                role,
            } => project(&mut s, p).groups.push(ProjectGroup {
                name: group.clone(),
                role: *role,
                roles: vec![].into(),
            }),
            Operation::ChangeProjectGroupRole {
                project: p,
                group,
                to,
                ..
            } => {
                for g in project(&mut s, p)
                    .groups
                    .iter_mut()
                    .filter(|g| &g.name == group)
                {
                    g.role = *to;
                }
            }
            Operation::RemoveProjectGroup { project: p, group } => {
                project(&mut s, p).groups.retain(|g| &g.name != group)
            }
            Operation::AssignProjectGroupRole {
                project: p,
                group,
                role,
            } => {
                for g in project(&mut s, p)
                    .groups
                    .iter_mut()
                    .filter(|g| &g.name == group)
                {
                    g.roles.push(role.clone());
                }
            }
            Operation::UnassignProjectGroupRole {
                project: p,
                group,
                role,
            } => {
                for g in project(&mut s, p)
                    .groups
                    .iter_mut()
                    .filter(|g| &g.name == group)
                {
                    g.roles.retain(|r| r != role);
                }
            }
            Operation::CreateServiceAccount {
                project: p,
                name,
                role,
                ..
            } => project(&mut s, p).service_accounts.push(ServiceAccount {
                name: name.clone(),
                role: *role,
                sink: None,
            }),
            Operation::UpdateServiceAccount {
                project: p,
                name,
                role,
            } => {
                for a in project(&mut s, p)
                    .service_accounts
                    .iter_mut()
                    .filter(|a| &a.name == name)
                {
                    a.role = *role;
                }
            }
            Operation::DeleteServiceAccount {
                project: p, name, ..
            } => project(&mut s, p)
                .service_accounts
                .retain(|a| &a.name != name),
            Operation::UpdateRateLimit {
                project: p,
                model,
                fields,
            } => {
                let row = project(&mut s, p)
                    .rate_limits
                    .entry(model.clone())
                    .or_default();
                for (field, value) in fields {
                    let slot = match field.as_str() {
                        "max_requests_per_1_minute" => &mut row.max_requests_per_1_minute,
                        "max_tokens_per_1_minute" => &mut row.max_tokens_per_1_minute,
                        "max_images_per_1_minute" => &mut row.max_images_per_1_minute,
                        "max_audio_megabytes_per_1_minute" => {
                            &mut row.max_audio_megabytes_per_1_minute
                        }
                        "max_requests_per_1_day" => &mut row.max_requests_per_1_day,
                        "batch_1_day_max_input_tokens" => &mut row.batch_1_day_max_input_tokens,
                        other => panic!("simulated apply: unknown rate-limit field {other}"),
                    };
                    *slot = Some(*value);
                }
            }
            Operation::UploadCertificate { name, file } => s.org.certificates.push(Certificate {
                name: name.clone(),
                file: file.clone(),
                active: false,
            }),
            Operation::DeleteCertificate { name } => {
                let active_somewhere = s
                    .org
                    .certificates
                    .iter()
                    .any(|c| &c.name == name && c.active)
                    || s.org
                        .projects
                        .iter()
                        .any(|p| !p.archived && p.certificates.contains(name));
                assert!(
                    !active_somewhere,
                    "simulated apply: certificate {name} deleted while active"
                );
                s.org.certificates.retain(|c| &c.name != name)
            }
            Operation::ActivateCertificates { scope, names }
            | Operation::DeactivateCertificates { scope, names } => {
                let on = matches!(change.op, Operation::ActivateCertificates { .. });
                for name in names {
                    match scope {
                        CertificateScope::Organization => {
                            for c in s.org.certificates.iter_mut().filter(|c| &c.name == name) {
                                c.active = on;
                            }
                        }
                        CertificateScope::Project(p) => {
                            let certs = &mut project(&mut s, p).certificates;
                            certs.retain(|c| c != name);
                            if on {
                                certs.push(name.clone());
                            }
                        }
                    }
                }
            }
            Operation::CreateAdminApiKey {
                name,
                expires_in_days,
            } => s.org.admin_api_keys.push(AdminApiKey {
                name: name.clone(),
                expires_in_days: *expires_in_days,
                sink: None,
            }),
            Operation::DeleteAdminApiKey { name, .. } => {
                s.org.admin_api_keys.retain(|k| &k.name != name)
            }
            Operation::Kind {
                kind,
                project: Some(project),
                id: Some(id),
                ..
            } if kind == crate::kinds::project_api_keys::NAME => {
                if let Some(keys) = s.project_api_keys.get_mut(project) {
                    keys.retain(|k| &k.id != id);
                }
            }
            Operation::Kind {
                kind,
                project,
                id,
                value,
            } if kind == crate::kinds::spend_alerts::ORG
                || kind == crate::kinds::spend_alerts::PROJECT =>
            {
                let alerts = s.spend_alerts.entry(project.clone()).or_default();
                alerts.retain(|a| Some(&a.id) != id.as_ref());
                if let Some(alert) = value
                    .as_ref()
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                {
                    alerts.push(crate::kinds::spend_alerts::LiveAlert {
                        id: id
                            .clone()
                            .unwrap_or_else(|| format!("new-{}", alerts.len())),
                        alert,
                    });
                }
            }
            Operation::Kind {
                kind,
                project,
                value,
                ..
            } => {
                if let Some(kind) = crate::kinds::by_name(kind) {
                    crate::kinds::written(&mut s.org, kind, project.as_deref(), value.as_ref());
                }
            }
        }
    }
    s
}
