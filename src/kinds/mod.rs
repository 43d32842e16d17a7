//! Every kind of object orgops manages, and the vocabulary the stages share about them.
//!
//! The registry below is the one list of kinds: [`ResourceKind`] (the plan's `kind`), in the
//! order their changes are listed when nothing else decides (parents before children).

use serde::{Deserialize, Serialize};

pub mod apply;
mod attention;
pub mod attribution;
mod change;
pub mod context;
pub mod incremental;
pub mod keys;
mod kind;
mod live_state;
pub mod normalize;
mod operation;
pub mod read;
pub(crate) mod role_set;
mod setting;
#[cfg(test)]
pub(crate) mod simulate;
pub(crate) mod wire;

pub(crate) mod admin_api_key;
mod certificate;
pub(crate) mod certificate_activation;
pub mod data_retention;
mod duplicates;
pub mod external_key;
pub mod external_storage;
mod federation_rule;
pub(crate) mod group;
mod group_member;
mod group_role;
pub mod health_alert_rules;
pub mod hosted_tools;
pub(crate) mod invite;
pub mod model_permissions;
mod named;
pub(crate) mod project;
pub mod project_api_keys;
mod project_group;
mod project_group_role;
mod project_member;
mod project_member_role;
mod project_role;
pub(crate) mod rate_limit;
pub(crate) mod role;
pub(crate) mod service_account;
pub mod service_tiers;
pub mod spend_alerts;
pub mod spend_limit;
mod user;
mod user_role;
pub(crate) mod workload_identity_provider;

pub use certificate::{pem_blocks, pem_fingerprint};
pub use certificate_activation::CertificateScope;
pub use change::{
    Action, ActionClass, Change, ChangeId, FieldChange, Refusal, RefusalRule, UnmanagedObject,
    Waiting,
};
pub use data_retention::DataRetention;
pub use hosted_tools::HostedTools;
pub use kind::{Attention, FieldPlace, Finding, Kind, UnmanagedPolicy};
pub use live_state::{IdIndex, LiveDuplicate, LiveState};
pub use model_permissions::{ModelPermissions, PermissionMode};
pub use operation::{IdRef, Operation, ValueOp};
pub use read::{PageSink, Parent, RawList, RawPage, RawStore, ReadScope, Select, Source};
pub use role::RoleUpdate;
pub use setting::*;
pub use spend_alerts::SpendAlert;
pub use spend_limit::{Currency, Interval, SpendLimit};

/// The registry: one line per kind, `Variant = "plan name" => &its::Kind`, in listing
/// order. Adding a kind adds a line here and nothing else outside its module.
macro_rules! registry {
    ($($variant:ident = $name:literal => $def:expr,)*) => {
        /// The kinds of objects a plan changes, in the order their changes are listed when
        /// nothing else decides (parents before children).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum ResourceKind {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl ResourceKind {
            /// Every kind, in registry order.
            pub const ALL: &'static [ResourceKind] = &[$(ResourceKind::$variant,)*];

            /// The plan's name of the kind (`kind` in JSON, the first part of a change id).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ResourceKind::$variant => $name,)*
                }
            }

            /// Everything orgops knows about the kind.
            pub fn def(self) -> &'static dyn Kind {
                match self {
                    $(ResourceKind::$variant => $def,)*
                }
            }
        }
    };
}

registry! {
    Project = "project" => &project::ProjectKind,
    Role = "role" => &role::RoleKind,
    Group = "group" => &group::GroupKind,
    Certificate = "certificate" => &certificate::CertificateKind,
    AdminApiKey = "admin_api_key" => &admin_api_key::AdminApiKeyKind,
    ExternalKey = "external_key" => &external_key::ExternalKeyKind,
    Invite = "invite" => &invite::InviteKind,
    User = "user" => &user::UserKind,
    UserRole = "user_role" => &user_role::UserRoleKind,
    GroupMember = "group_member" => &group_member::GroupMemberKind,
    GroupRole = "group_role" => &group_role::GroupRoleKind,
    ProjectRole = "project_role" => &project_role::ProjectRoleKind,
    ProjectMember = "project_member" => &project_member::ProjectMemberKind,
    ProjectMemberRole = "project_member_role" => &project_member_role::ProjectMemberRoleKind,
    ProjectGroup = "project_group" => &project_group::ProjectGroupKind,
    ProjectGroupRole = "project_group_role" => &project_group_role::ProjectGroupRoleKind,
    ServiceAccount = "service_account" => &service_account::ServiceAccountKind,
    RateLimit = "rate_limit" => &rate_limit::RateLimitKind,
    CertificateActivation = "certificate_activation" => &certificate_activation::CertificateActivationKind,
    OrganizationDataRetention = "organization_data_retention" => &data_retention::ORGANIZATION,
    OrganizationSpendLimit = "organization_spend_limit" => &spend_limit::ORGANIZATION,
    ProjectDataRetention = "project_data_retention" => &data_retention::PROJECT,
    ProjectSpendLimit = "project_spend_limit" => &spend_limit::PROJECT,
    ProjectModelPermissions = "project_model_permissions" => &model_permissions::KIND,
    ProjectHostedTools = "project_hosted_tools" => &hosted_tools::KIND,
    ProjectServiceTiers = "project_service_tiers" => &service_tiers::KIND,
    ProjectExternalKey = "project_external_key" => &external_key::ProjectExternalKeyKind,
    ExternalStorage = "external_storage" => &external_storage::ExternalStorageKind,
    ProjectApiKey = "project_api_key" => &project_api_keys::ProjectApiKeyKind,
    OrganizationSpendAlert = "organization_spend_alert" => &spend_alerts::ORG_KIND,
    ProjectSpendAlert = "project_spend_alert" => &spend_alerts::PROJECT_KIND,
    WorkloadIdentityProvider = "workload_identity_provider" => &workload_identity_provider::WorkloadIdentityProviderKind,
    FederationRule = "federation_rule" => &federation_rule::FederationRuleKind,
    OrganizationHealthAlertRule = "organization_health_alert_rule" => &health_alert_rules::ORG_KIND,
    ProjectHealthAlertRule = "project_health_alert_rule" => &health_alert_rules::PROJECT_KIND,
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The projects whose children the file may manage (archiving a project ends them).
pub(crate) fn active_projects(
    doc: &crate::model::Document,
) -> impl Iterator<Item = &crate::model::Project> {
    doc.projects.iter().filter(|p| !p.archived)
}

/// Whether the file manages some list that `policy.unmanaged.<key>` governs (each kind
/// with that policy says): a policy for a key the file never manages can never act.
pub fn manages_policy(doc: &crate::model::Document, key: &str) -> bool {
    ResourceKind::ALL
        .iter()
        .any(|k| k.def().unmanaged_policy().is_some_and(|p| p.key == key) && k.def().manages(doc))
}

/// Each `policy.unmanaged` key some kind answers to, once, with the first such kind's
/// policy (registry order).
pub fn unmanaged_policies() -> Vec<UnmanagedPolicy> {
    let mut found: Vec<UnmanagedPolicy> = Vec::new();
    for kind in ResourceKind::ALL {
        if let Some(p) = kind.def().unmanaged_policy()
            && !found.iter().any(|f| f.key == p.key)
        {
            found.push(p);
        }
    }
    found
}

/// Every kind's diff, in registry order.
pub(crate) fn diff_all(ctx: &context::Context<'_>, out: &mut context::Output) {
    for kind in ResourceKind::ALL {
        kind.def().diff(ctx, out);
    }
}

/// The keys kinds own at `place`, in registry order (the canonical order of a file).
pub fn field_keys(place: FieldPlace) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Vec::new();
    for kind in ResourceKind::ALL {
        if let Some((p, key)) = kind.def().file_field()
            && p == place
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    keys
}

/// Fields of `doc` that no kind owns, or whose value their kind cannot read, as JSON
/// pointers (`/projects/2/spend_limt`): the model keeps any key there as data; the schema
/// and this check refuse what nobody reads.
pub fn unknown_fields(doc: &crate::model::Document) -> Vec<String> {
    fn check(
        fields: &crate::model::KindFields,
        place: FieldPlace,
        at: &str,
        out: &mut Vec<String>,
    ) {
        for (key, value) in fields {
            let owner = ResourceKind::ALL
                .iter()
                .find(|k| k.def().file_field() == Some((place, key.as_str())));
            match owner {
                Some(kind) if kind.def().field_error(value).is_none() => {}
                _ => out.push(format!("{at}/{key}")),
            }
        }
    }
    let mut found = Vec::new();
    check(
        &doc.settings.fields,
        FieldPlace::Settings,
        "/settings",
        &mut found,
    );
    for (i, p) in doc.projects.iter().enumerate() {
        check(
            &p.fields,
            FieldPlace::Project,
            &format!("/projects/{i}"),
            &mut found,
        );
    }
    found
}

/// The kinds' fields of `doc` in canonical form: each value as its kind writes it, the keys
/// in registry order (keys no kind owns last, as they are).
pub fn canonical_fields(doc: &mut crate::model::Document) {
    fn canonical(fields: &mut crate::model::KindFields, place: FieldPlace) {
        let owners: Vec<(&'static str, ResourceKind)> = ResourceKind::ALL
            .iter()
            .filter_map(|k| match k.def().file_field() {
                Some((p, key)) if p == place => Some((key, *k)),
                _ => None,
            })
            .collect();
        let rank = |key: &str| {
            owners
                .iter()
                .position(|(k, _)| *k == key)
                .unwrap_or(owners.len())
        };
        for (key, value) in fields.iter_mut() {
            if let Some((_, kind)) = owners.iter().find(|(k, _)| k == key) {
                *value = kind.def().canonical_field(std::mem::take(value));
            }
        }
        fields.sort_by(|a, _, b, _| rank(a).cmp(&rank(b)));
    }
    canonical(&mut doc.settings.fields, FieldPlace::Settings);
    for project in doc.projects.iter_mut() {
        canonical(&mut project.fields, FieldPlace::Project);
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    /// Every kind's `policy.unmanaged` key and removing value is one the file format reads
    /// (`model::Unmanaged`), so the checks and the export that ask the kinds can write it.
    #[test]
    fn every_unmanaged_policy_is_a_policy_the_file_reads() {
        for policy in unmanaged_policies() {
            let value = serde_json::json!({ policy.key: policy.removes });
            let read: crate::model::Unmanaged =
                serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}"));
            let back = serde_json::to_value(&read).expect("serializes");
            assert_eq!(back.get(policy.key), value.get(policy.key), "{value}");
        }
    }
}
