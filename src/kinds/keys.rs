//! Natural keys, one format per kind; every key is unique across the whole plan (also how
//! `orgops audit` names objects).

pub fn project(name: &str) -> String {
    format!("project:{name}")
}
pub fn user(email: &str) -> String {
    format!("user:{email}")
}
pub fn invite(email: &str) -> String {
    format!("invite:{email}")
}
pub fn group(name: &str) -> String {
    format!("group:{name}")
}
pub fn role(name: &str) -> String {
    format!("role:{name}")
}
pub fn certificate(name: &str) -> String {
    format!("certificate:{name}")
}
pub fn admin_api_key(name: &str) -> String {
    format!("admin_api_key:{name}")
}
/// A role assignment of a principal (any of the keys above or below).
pub fn assignment(principal: &str, role: &str) -> String {
    format!("{principal}/role:{role}")
}
pub fn group_member(group: &str, email: &str) -> String {
    format!("group:{group}/member:{email}")
}
pub fn project_member(project: &str, email: &str) -> String {
    format!("project:{project}/member:{email}")
}
pub fn project_group(project: &str, group: &str) -> String {
    format!("project:{project}/group:{group}")
}
pub fn project_role(project: &str, role: &str) -> String {
    format!("project:{project}/role:{role}")
}
pub fn service_account(project: &str, name: &str) -> String {
    format!("project:{project}/service_account:{name}")
}
/// A project API key: its name, with `#<id>` when live keys share it.
pub fn project_api_key(project: &str, name: &str) -> String {
    format!("project:{project}/api_key:{name}")
}
pub fn rate_limit(project: &str, model: &str) -> String {
    format!("project:{project}/rate_limit:{model}")
}
pub fn org_certificate_activation(name: &str) -> String {
    format!("certificate:{name}/scope:organization")
}
pub fn project_certificate_activation(project: &str, name: &str) -> String {
    format!("project:{project}/certificate:{name}")
}
pub fn workload_identity_provider(name: &str) -> String {
    format!("workload_identity_provider:{name}")
}
pub fn federation_rule(provider: &str, name: &str) -> String {
    format!("workload_identity_provider:{provider}/federation_rule:{name}")
}

/// References to the server IDs of the kinds that have one, by the same keys.
pub mod refs {
    use super::super::{IdRef, ResourceKind};

    pub fn project(name: &str) -> IdRef {
        IdRef::new(ResourceKind::Project, super::project(name))
    }
    pub fn user(email: &str) -> IdRef {
        IdRef::new(ResourceKind::User, super::user(email))
    }
    pub fn invite(email: &str) -> IdRef {
        IdRef::new(ResourceKind::Invite, super::invite(email))
    }
    pub fn group(name: &str) -> IdRef {
        IdRef::new(ResourceKind::Group, super::group(name))
    }
    pub fn role(name: &str) -> IdRef {
        IdRef::new(ResourceKind::Role, super::role(name))
    }
    pub fn certificate(name: &str) -> IdRef {
        IdRef::new(ResourceKind::Certificate, super::certificate(name))
    }
    pub fn admin_api_key(name: &str) -> IdRef {
        IdRef::new(ResourceKind::AdminApiKey, super::admin_api_key(name))
    }
    pub fn project_role(project: &str, name: &str) -> IdRef {
        IdRef::new(
            ResourceKind::ProjectRole,
            super::project_role(project, name),
        )
    }
    pub fn service_account(project: &str, name: &str) -> IdRef {
        IdRef::new(
            ResourceKind::ServiceAccount,
            super::service_account(project, name),
        )
    }
    pub fn rate_limit(project: &str, model: &str) -> IdRef {
        IdRef::new(ResourceKind::RateLimit, super::rate_limit(project, model))
    }
    pub fn workload_identity_provider(name: &str) -> IdRef {
        IdRef::new(
            ResourceKind::WorkloadIdentityProvider,
            super::workload_identity_provider(name),
        )
    }
    pub fn federation_rule(provider: &str, name: &str) -> IdRef {
        IdRef::new(
            ResourceKind::FederationRule,
            super::federation_rule(provider, name),
        )
    }
}
