//! Every kind of object orgops manages, and the vocabulary the stages share about them.
//!
//! The registry below is the one list of kinds: [`ResourceKind`] (the plan's `kind`), in the
//! order their changes are listed when nothing else decides (parents before children).

use serde::{Deserialize, Serialize};

mod change;
pub(crate) mod context;
pub(crate) mod keys;
mod live_state;
pub mod normalize;
mod operation;
pub(crate) mod role_set;
mod scope;
mod setting;

mod admin_api_key;
mod certificate;
mod certificate_activation;
pub mod data_retention;
mod duplicates;
mod group;
mod group_member;
mod group_role;
pub mod hosted_tools;
mod invite;
pub mod model_permissions;
mod project;
pub mod project_api_keys;
mod project_group;
mod project_group_role;
mod project_member;
mod project_member_role;
mod project_role;
mod rate_limit;
mod role;
mod service_account;
pub mod spend_alerts;
pub mod spend_limit;
mod user;
mod user_role;

pub use change::{
    Action, ActionClass, Change, ChangeId, FieldChange, Refusal, RefusalRule, UnmanagedObject,
    Waiting,
};
pub use data_retention::DataRetention;
pub use hosted_tools::HostedTools;
pub use live_state::{DuplicateKind, IdIndex, LiveDuplicate, LiveState};
pub use model_permissions::{ModelPermissions, PermissionMode};
pub use operation::{CertificateScope, IdRef, Operation, RoleUpdate};
pub use scope::{ReadScope, Select};
pub use setting::*;
pub use spend_alerts::SpendAlert;
pub use spend_limit::{Currency, Interval, SpendLimit};

/// The registry: one line per kind, `Variant = "plan name"`, in listing order.
macro_rules! registry {
    ($($variant:ident = $name:literal,)*) => {
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
        }
    };
}

registry! {
    Project = "project",
    Role = "role",
    Group = "group",
    Certificate = "certificate",
    AdminApiKey = "admin_api_key",
    Invite = "invite",
    User = "user",
    UserRole = "user_role",
    GroupMember = "group_member",
    GroupRole = "group_role",
    ProjectRole = "project_role",
    ProjectMember = "project_member",
    ProjectMemberRole = "project_member_role",
    ProjectGroup = "project_group",
    ProjectGroupRole = "project_group_role",
    ServiceAccount = "service_account",
    RateLimit = "rate_limit",
    CertificateActivation = "certificate_activation",
    OrganizationDataRetention = "organization_data_retention",
    OrganizationSpendLimit = "organization_spend_limit",
    ProjectDataRetention = "project_data_retention",
    ProjectSpendLimit = "project_spend_limit",
    ProjectModelPermissions = "project_model_permissions",
    ProjectHostedTools = "project_hosted_tools",
    ProjectApiKey = "project_api_key",
    OrganizationSpendAlert = "organization_spend_alert",
    ProjectSpendAlert = "project_spend_alert",
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every kind's diff, in [`ResourceKind`] order.
pub(crate) fn diff_all(ctx: &context::Context<'_>, out: &mut context::Output) {
    project::diff(ctx, out);
    role::diff(ctx, out);
    group::diff(ctx, out);
    certificate::diff(ctx, out);
    admin_api_key::diff(ctx, out);
    invite::diff(ctx, out);
    user::diff(ctx, out);
    user_role::diff(ctx, out);
    group_member::diff(ctx, out);
    group_role::diff(ctx, out);
    project_role::diff(ctx, out);
    project_member::diff(ctx, out);
    project_member_role::diff(ctx, out);
    project_group::diff(ctx, out);
    project_group_role::diff(ctx, out);
    service_account::diff(ctx, out);
    rate_limit::diff(ctx, out);
    certificate_activation::diff(ctx, out);
    setting::diff(ctx, out);
    project_api_keys::diff(ctx, out);
    spend_alerts::diff(ctx, out);
    duplicates::diff(ctx, out);
}
