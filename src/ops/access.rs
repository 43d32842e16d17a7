//! The access operation (`orgops access`): the organization's access, read from the live
//! organization (the lists access needs, and each admin key's owner) or from the file, and
//! computed by [`crate::access`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::access::{self, Access, Source};
use crate::config::{self, Diagnostics, LoadMode, LoadOptions};
use crate::kinds::{ResourceKind, Select};
use crate::live::ReadScope;
use crate::ops::target::{Connect, Target};
use crate::printer::Printer;

/// Why access could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum AccessFailure {
    /// The file is invalid; the diagnostics say where.
    #[error("the desired state is invalid")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The lists access reads: people, invites, groups and their members, projects and their
/// members, groups and service accounts, and (only where a custom role exists) custom-role
/// assignments, unless `skip_role_assignments`.
pub fn read_scope(skip_role_assignments: bool) -> ReadScope {
    let mut kinds = vec![
        ResourceKind::Project,
        ResourceKind::User,
        ResourceKind::Invite,
        ResourceKind::Group,
        ResourceKind::GroupMember,
        ResourceKind::ProjectMember,
        ResourceKind::ProjectGroup,
        ResourceKind::ServiceAccount,
        ResourceKind::AdminApiKey,
    ];
    if !skip_role_assignments {
        kinds.extend([
            ResourceKind::Role,
            ResourceKind::ProjectRole,
            ResourceKind::UserRole,
            ResourceKind::GroupRole,
            ResourceKind::ProjectMemberRole,
            ResourceKind::ProjectGroupRole,
        ]);
    }
    ReadScope {
        kinds: kinds.into_iter().map(|k| (k, Select::All)).collect(),
        only_where_assignable: true,
    }
}

/// The live organization's access: one read of what [`read_scope`] names, and the admin
/// keys' list for their owners (emails through the users read).
pub fn live(
    connect: &Connect,
    skip_role_assignments: bool,
    printer: Printer,
) -> anyhow::Result<Access> {
    let target = Target::open_with(connect.emulator.as_deref(), connect.concurrency)?;
    let runtime = crate::ops::runtime()?;
    let scope = read_scope(skip_role_assignments);
    let announce = |reads: &crate::live::AssignmentReads| {
        eprintln!("note: {}", crate::ops::export::assignment_note(reads))
    };
    let live =
        crate::ops::plan::read_live_announcing(&runtime, &target, &scope, printer, &announce)?;
    let keys = runtime
        .block_on(target.client.list_admin_api_keys())
        .map_err(|e| anyhow::anyhow!("reading the admin API keys: {e}"))?;
    let emails: BTreeMap<&String, &str> = live
        .ids
        .of(ResourceKind::User)
        .filter_map(|(key, id)| Some((id, key.strip_prefix("user:")?)))
        .collect();
    let mut owners = BTreeMap::new();
    for key in keys {
        let Some(name) = key.name else { continue };
        let owner = &key.owner;
        let who = if owner.owner_type.as_deref() == Some("service_account") {
            owner
                .name
                .clone()
                .or_else(|| owner.id.clone())
                .map(|n| format!("service_account:{n}"))
        } else {
            owner
                .id
                .as_ref()
                .and_then(|id| emails.get(id))
                .map(|email| format!("user:{email}"))
                .or_else(|| {
                    owner
                        .name
                        .as_ref()
                        .filter(|n| n.contains('@'))
                        .map(|n| format!("user:{}", crate::model::normalize_email(n)))
                })
        };
        if let Some(who) = who {
            owners.insert(name, who);
        }
    }
    Ok(access::compute(&live.org, Source::Live, &owners))
}

/// The access the file at `file` asks for.
pub fn file(file: &Path, load: LoadOptions) -> Result<Access, AccessFailure> {
    let desired =
        config::load_with(file, LoadMode::Desired, load).map_err(AccessFailure::Invalid)?;
    Ok(access::compute(
        &desired.doc,
        Source::File,
        &BTreeMap::new(),
    ))
}
