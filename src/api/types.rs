//! Wire types shared by several endpoint families: typed IDs, tolerant enums, the role and
//! deletion payloads.
//!
//! Decoding is tolerant by construction: every struct is `#[serde(default)]` (a missing field
//! is its default), unknown fields are ignored (no `deny_unknown_fields`), nullable fields are
//! `Option`, and every enum has an `Other(String)` catch-all so a new server value never
//! breaks a read.

use serde::{Deserialize, Serialize};

/// Defines an opaque string ID newtype.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }
    )*};
}

id_type! {
    /// `user_abc`
    UserId;
    /// `invite-abc`
    InviteId;
    /// `proj_abc`
    ProjectId;
    /// `group_01J1F8ABCDXYZ`
    GroupId;
    /// `role_01J1F8ROLE01`, or a predefined id such as `role-api-project-member`.
    RoleId;
    /// `svc_acct_abc`
    ServiceAccountId;
    /// `key_abc` (project API keys and admin API keys).
    ApiKeyId;
    /// `rl-ada`
    RateLimitId;
    /// `cert_abc`
    CertificateId;
}

/// Defines a string enum with an `Other(String)` catch-all for values this build does not know.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value this build does not know.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }
        impl Default for $name {
            fn default() -> Self {
                $name::Other(String::new())
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// Organization role of a user or invite (`owner` | `reader`).
    WireOrgRole { Owner = "owner", Reader = "reader", }
}

wire_enum! {
    /// Project role of a member or service account (`owner` | `member`, `none` for a service
    /// account created with `create_service_account_only`).
    WireProjectRole { Owner = "owner", Member = "member", None = "none", }
}

impl From<crate::model::OrgRole> for WireOrgRole {
    fn from(role: crate::model::OrgRole) -> Self {
        match role {
            crate::model::OrgRole::Owner => WireOrgRole::Owner,
            crate::model::OrgRole::Reader => WireOrgRole::Reader,
        }
    }
}

impl From<crate::model::ProjectRole> for WireProjectRole {
    fn from(role: crate::model::ProjectRole) -> Self {
        match role {
            crate::model::ProjectRole::Owner => WireProjectRole::Owner,
            crate::model::ProjectRole::Member => WireProjectRole::Member,
        }
    }
}

/// `Role`: an organization or project role (`/organization/roles`, `/projects/{id}/roles`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    /// e.g. `api.organization` or `api.project`.
    pub resource_type: Option<String>,
    pub predefined_role: bool,
}

/// `AssignedRoleDetails`: one entry of a principal's role-assignment list.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AssignedRole {
    pub id: RoleId,
    pub name: String,
    pub permissions: Vec<String>,
    pub resource_type: Option<String>,
    pub predefined_role: bool,
    pub description: Option<String>,
}

/// The deletion confirmations (`{object, id?, deleted?}`; shapes vary per endpoint).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Deleted {
    pub object: Option<String>,
    pub id: Option<String>,
    pub deleted: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_are_kept_not_rejected() {
        let role: WireProjectRole = serde_json::from_str("\"viewer\"").expect("decodes");
        assert_eq!(role, WireProjectRole::Other("viewer".into()));
        assert_eq!(serde_json::to_string(&role).expect("encodes"), "\"viewer\"");
        let known: WireOrgRole = serde_json::from_str("\"owner\"").expect("decodes");
        assert_eq!(known, WireOrgRole::Owner);
    }

    #[test]
    fn role_decodes_with_missing_and_extra_fields() {
        let role: Role = serde_json::from_str(r#"{"id":"role_1","name":"x","brand_new":{"a":1}}"#)
            .expect("decodes");
        assert_eq!(role.id, RoleId::from("role_1"));
        assert!(role.permissions.is_empty());
        assert!(!role.predefined_role);
    }
}
