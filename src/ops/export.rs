//! The export operation: the whole live org as a desired-state document that validates and
//! plans empty against the org it came from.
//!
//! What the API shows that the file format does not hold, and how export handles it:
//! - pending invites become declared users (with the invite's project memberships), since a
//!   declared user with a matching pending invite is satisfied; expired and accepted invites
//!   are left out (the plan reports expired ones for undeclared people);
//! - certificates: the live read retrieves each one's PEM (the list carries none; at most
//!   50), written under `certs/<name>.pem` beside the output file;
//! - secrets are never exported (no sinks: existing keys are not re-issued);
//! - custom-role assignments cost one request per principal (user, group, project member).
//!   They are read only where a custom role exists to be assigned (the organization's roles
//!   list, each project's roles list tell), so an org without custom roles exports at the
//!   plan's request count. Where they remain, a note says how many requests and how long the
//!   API's rate limit makes them before they start; `--skip-role-assignments` leaves them out
//!   (the `roles` lists are then not written, so the file does not manage them).

use std::collections::BTreeMap;

use crate::live::{AssignmentReads, LiveState, ReadScope};
use crate::model::{Document, Policy};
use crate::ops::target::Target;
use crate::printer::Printer;

/// The exported document and the certificate files it refers to (relative path -> PEM).
pub struct Export {
    pub doc: Document,
    pub certificate_files: BTreeMap<String, String>,
}

/// The Admin API's usual rate limit per route (about 7–10 requests per minute), for the
/// time estimate of per-principal reads.
pub const TYPICAL_REQUESTS_PER_MINUTE: u64 = 10;

/// What to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Leave out users', groups' and project members' custom-role assignments.
    pub skip_role_assignments: bool,
}

/// Reads everything and builds the export.
pub fn export(target: &Target, options: ExportOptions, printer: Printer) -> anyhow::Result<Export> {
    let runtime = crate::ops::runtime()?;
    let scope = if options.skip_role_assignments {
        ReadScope::everything_but_role_assignments()
    } else {
        ReadScope::everything()
    };
    let announce = |reads: &AssignmentReads| eprintln!("note: {}", assignment_note(reads));
    let live =
        crate::ops::plan::read_live_announcing(&runtime, target, &scope, printer, &announce)?;
    build(live)
}

/// What the per-principal role-assignment reads will cost, said before they start.
pub fn assignment_note(reads: &AssignmentReads) -> String {
    // The parents are named in the plural (`users`, `project members`): one is singular.
    let parts: Vec<String> = reads
        .lists
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| match (n, what.strip_suffix('s')) {
            (1, Some(one)) => format!("1 {one}"),
            _ => format!("{n} {what}"),
        })
        .collect();
    let mut note = String::new();
    if reads.total() > 0 {
        let minutes = reads.longest_route().div_ceil(TYPICAL_REQUESTS_PER_MINUTE);
        note = format!(
            "custom roles exist: reading the role assignments of {} ({} requests, one per principal; at the API's usual limit of about {TYPICAL_REQUESTS_PER_MINUTE} requests per minute per route that takes about {}); `--skip-role-assignments` leaves them out",
            parts.join(", "),
            reads.total(),
            duration_words(minutes),
        );
    }
    if reads.skipped > 0 {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!(
            "left out the custom-role assignments of {} principal{} (--skip-role-assignments): their `roles` lists are not written",
            reads.skipped,
            if reads.skipped == 1 { "" } else { "s" }
        ));
    }
    note
}

/// `minutes` as "3 min", "2 h 5 min", "1 d 3 h".
fn duration_words(minutes: u64) -> String {
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{} min", mins.max(1)),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// Pure: live state -> the export document. A certificate the API gave no PEM for cannot
/// be exported (its file would be missing).
pub fn build(live: LiveState) -> anyhow::Result<Export> {
    let mut doc = live.org;
    let mut certificate_files = BTreeMap::new();
    for kind in crate::kinds::ResourceKind::ALL {
        kind.def()
            .export(&mut doc, &mut certificate_files)
            .map_err(anyhow::Error::msg)?;
    }
    leave_out_what_was_not_read(&mut doc, &live.scope);
    doc.policy = authoritative_policy(&doc)?;
    doc.sort_canonical();
    crate::kinds::canonical_fields(&mut doc);
    Ok(Export {
        doc,
        certificate_files,
    })
}

/// The export lists everything, so it is the truth: a member, membership or role grant the
/// file stops listing is removed (`remove`), guarded by `max_removals` (written, so the guard
/// is in sight). Each of those is undone by putting the line back: the plan invites,
/// grants or assigns again. What a removal destroys is only reported: groups, custom roles,
/// certificates, admin and project API keys, service accounts (their keys go with them),
/// spend alerts, projects (archiving is irreversible). Invites stay `report` too: the export
/// leaves out expired invites, which `remove` would delete on the first apply (the round
/// trip must plan nothing). A `remove` is written only for a kind whose lists the export
/// writes, so `validate` never warns that it can never act.
fn authoritative_policy(doc: &Document) -> anyhow::Result<Policy> {
    let remove: serde_json::Map<String, serde_json::Value> = crate::kinds::unmanaged_policies()
        .into_iter()
        .filter(|p| p.restorable && crate::kinds::manages_policy(doc, p.key))
        .map(|p| (p.key.to_string(), serde_json::Value::from(p.removes)))
        .collect();
    Ok(Policy {
        // Keys and values are the kinds' own, which `Unmanaged` reads (a kinds test holds).
        unmanaged: serde_json::from_value(serde_json::Value::Object(remove))?,
        max_removals: Some(Policy::DEFAULT_MAX_REMOVALS),
        ..Policy::default()
    })
}

/// Lists of kinds the read left out (`--skip-role-assignments`) are not written: an empty
/// list would tell the plan to remove everything in it (each kind leaves its own out).
fn leave_out_what_was_not_read(doc: &mut Document, scope: &ReadScope) {
    for kind in crate::kinds::ResourceKind::ALL {
        if scope.of(*kind).is_nothing() {
            kind.def().leave_out(doc);
        }
    }
}

/// The document as YAML in the canonical form (`orgops fmt`'s), with a header saying what
/// it is. Files are written by [`crate::ops::export_write`].
pub fn to_yaml(doc: &Document) -> anyhow::Result<String> {
    let body = crate::config::format::canonical_yaml(doc, true)?;
    Ok(format!(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/orgops/orgops/main/schema/orgops.schema.json\n\
         {marker}`: the live organization as a desired-state file.\n\
         # It lists everything, so it is the truth: `policy.unmanaged` removes a member,\n\
         # membership or role grant deleted from it (at most `max_removals` per plan), and only\n\
         # reports other objects it does not list. See docs/plan.md#export.\n{body}",
        marker = crate::ops::export_write::EXPORT_MARKER
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_principal_is_singular() {
        let reads = AssignmentReads {
            lists: vec![("users", 2), ("groups", 1), ("project members", 1)],
            skipped: 1,
        };
        let note = assignment_note(&reads);
        assert!(
            note.contains("of 2 users, 1 group, 1 project member (4 requests"),
            "{note}"
        );
        assert!(note.contains("of 1 principal (--skip"), "{note}");
    }
}
