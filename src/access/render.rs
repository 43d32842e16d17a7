//! Renderings of an [`Access`]: text for terminals, markdown for an issue or a review, CSV for
//! a spreadsheet, JSON for scripts and mermaid for a picture of a small scope. Pure functions:
//! the same access gives the same bytes. Every name comes from the organization or the file,
//! so each rendering escapes it its own way (terminal escapes, code spans, CSV quoting and
//! formula neutralising, mermaid entities).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use super::{Access, Grant, PrincipalType};
use crate::text::escape;

/// Version of the JSON format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The most edges a mermaid picture takes; past it the map is unreadable and the command asks
/// for a narrower scope.
pub const MAX_MERMAID_EDGES: usize = 200;

fn principal_key(grant: &Grant) -> String {
    format!("{}:{}", grant.principal_type.as_str(), grant.principal)
}

fn via(grant: &Grant) -> String {
    match grant.via.as_deref() {
        None => "direct".to_string(),
        Some("invite") => "pending invite".to_string(),
        Some(via) => format!("via {via}"),
    }
}

fn role_with_custom(grant: &Grant) -> String {
    if grant.custom_roles.is_empty() {
        grant.role.clone()
    } else {
        format!("{} +{}", grant.role, grant.custom_roles.join(","))
    }
}

fn headline(access: &Access) -> String {
    let source = match access.source {
        super::Source::Live => "the live organization",
        super::Source::File => "the file",
    };
    let projects: std::collections::BTreeSet<&str> =
        access.grants.iter().map(|g| g.project.as_str()).collect();
    format!(
        "Access in {source}: {} {}, {} {}, {} {}, {} admin API {}.",
        access.people.len(),
        if access.people.len() == 1 {
            "person"
        } else {
            "people"
        },
        access.groups.len(),
        if access.groups.len() == 1 {
            "group"
        } else {
            "groups"
        },
        projects.len(),
        if projects.len() == 1 {
            "project"
        } else {
            "projects"
        },
        access.admin_api_keys.len(),
        if access.admin_api_keys.len() == 1 {
            "key"
        } else {
            "keys"
        },
    )
}

fn owners(access: &Access) -> Vec<&str> {
    access
        .organization_owners
        .iter()
        .map(String::as_str)
        .collect()
}

fn admin_key_owner(owner: Option<&str>, source: super::Source) -> String {
    match (owner, source) {
        (Some(owner), _) => format!("owned by {owner}"),
        (None, super::Source::File) => {
            "owner not in the file (whoever's key creates it)".to_string()
        }
        (None, super::Source::Live) => "owner unknown".to_string(),
    }
}

/// People first (their organization role, groups and custom roles), then each project's
/// grants, then the admin keys and the archived projects.
pub fn text(access: &Access) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(access));
    let owners = owners(access);
    if !owners.is_empty() {
        let _ = writeln!(
            out,
            "Organization owners: {}",
            escape::text(&owners.join(", "))
        );
    }
    out.push('\n');
    let mut by_project: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
    for grant in &access.grants {
        by_project.entry(&grant.project).or_default().push(grant);
    }
    let width = |text: &dyn Fn(&Grant) -> String| {
        access
            .grants
            .iter()
            .map(|g| escape::text(&text(g)).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (role_width, who_width) = (width(&role_with_custom), width(&principal_key));
    for (project, grants) in &by_project {
        let _ = writeln!(out, "project:{}", escape::text(project));
        for grant in grants {
            let line = format!(
                "  {:<role_width$}  {:<who_width$}  {}",
                escape::text(&role_with_custom(grant)),
                escape::text(&principal_key(grant)),
                escape::text(&via(grant))
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let people: Vec<_> = access
        .people
        .iter()
        .filter(|p| !p.groups.is_empty() || !p.custom_roles.is_empty() || p.pending_invite)
        .collect();
    if !people.is_empty() {
        out.push_str("\nPeople's groups and organization roles:\n");
        for person in people {
            let mut parts = vec![format!(
                "organization {}{}",
                person.role,
                if person.pending_invite {
                    " (invite pending)"
                } else {
                    ""
                }
            )];
            if !person.groups.is_empty() {
                parts.push(format!("groups {}", person.groups.join(", ")));
            }
            if !person.custom_roles.is_empty() {
                let roles: Vec<String> = person
                    .custom_roles
                    .iter()
                    .map(|r| match &r.via {
                        Some(via) => format!("{} (via {via})", r.role),
                        None => r.role.clone(),
                    })
                    .collect();
                parts.push(format!("roles {}", roles.join(", ")));
            }
            let _ = writeln!(
                out,
                "  user:{}: {}",
                escape::text(&person.email),
                escape::text(&parts.join("; "))
            );
        }
    }
    if !access.admin_api_keys.is_empty() {
        out.push_str("\nAdmin API keys (the whole organization, through the Admin API):\n");
        for key in &access.admin_api_keys {
            let _ = writeln!(
                out,
                "  admin_api_key:{}  {}",
                escape::text(&key.name),
                escape::text(&admin_key_owner(key.owner.as_deref(), access.source))
            );
        }
    }
    if !access.archived_projects.is_empty() {
        let _ = writeln!(
            out,
            "\nArchived projects (no access): {}",
            escape::text(&access.archived_projects.join(", "))
        );
    }
    out
}

/// One table of grants, then the admin keys; names in code spans.
pub fn markdown(access: &Access) -> String {
    let cell = |s: &str| escape::table_code_span(s);
    let mut out = String::new();
    let _ = writeln!(out, "### orgops access\n\n**{}**\n", headline(access));
    let owners = owners(access);
    if !owners.is_empty() {
        let list: Vec<String> = owners.iter().map(|o| cell(o)).collect();
        let _ = writeln!(out, "Organization owners: {}\n", list.join(", "));
    }
    if !access.grants.is_empty() {
        out.push_str("| project | role | who | how |\n|---|---|---|---|\n");
        for grant in &access.grants {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&grant.project),
                cell(&role_with_custom(grant)),
                cell(&principal_key(grant)),
                cell(&via(grant))
            );
        }
        out.push('\n');
    }
    if !access.admin_api_keys.is_empty() {
        out.push_str("| admin API key | owner |\n|---|---|\n");
        for key in &access.admin_api_keys {
            let _ = writeln!(
                out,
                "| {} | {} |",
                cell(&format!("admin_api_key:{}", key.name)),
                cell(&admin_key_owner(key.owner.as_deref(), access.source))
            );
        }
        out.push('\n');
    }
    if !access.archived_projects.is_empty() {
        let list: Vec<String> = access.archived_projects.iter().map(|p| cell(p)).collect();
        let _ = writeln!(out, "Archived projects (no access): {}", list.join(", "));
    }
    out
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`,
/// `@`, tab or carriage return (a formula to a spreadsheet) is neutralised with a `'`.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One row per grant (`project,principal_type,principal,role,custom_roles,via`), then one per
/// admin key (`project` empty, `principal_type` `admin_api_key`, `via` its owner).
pub fn csv(access: &Access) -> String {
    let mut out = String::from("project,principal_type,principal,role,custom_roles,via\r\n");
    let mut row = |fields: [&str; 6]| {
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    for grant in &access.grants {
        row([
            &grant.project,
            grant.principal_type.as_str(),
            &grant.principal,
            &grant.role,
            &grant.custom_roles.join(";"),
            grant.via.as_deref().unwrap_or("direct"),
        ]);
    }
    for key in &access.admin_api_keys {
        row([
            "",
            "admin_api_key",
            &key.name,
            "admin",
            "",
            key.owner.as_deref().unwrap_or(""),
        ]);
    }
    out
}

/// The access as a JSON value (`format_version` 1).
pub fn to_value(access: &Access) -> serde_json::Value {
    json!({
        "format_version": FORMAT_VERSION,
        "source": access.source,
        "grants": access.grants,
        "people": access.people,
        "groups": access.groups,
        "admin_api_keys": access.admin_api_keys,
        "archived_projects": access.archived_projects,
        "organization_owners": access.organization_owners,
    })
}

pub fn json(access: &Access) -> String {
    // A JSON value always serializes.
    let mut text = serde_json::to_string_pretty(&to_value(access)).unwrap_or_default();
    text.push('\n');
    text
}

/// The user → group → project map as a mermaid flowchart (left to right): people to their
/// groups (`member of`), and people, groups and service accounts to projects, each edge
/// labelled with the role (a pending invite's with `(invite)`). Nodes are numbered in the
/// order first met (grants are sorted), edges sorted by those numbers: the same access gives
/// the same picture. `Err(edges)` past [`MAX_MERMAID_EDGES`].
pub fn mermaid(access: &Access) -> Result<String, usize> {
    let label = crate::render::markdown::mermaid_label;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut edges: std::collections::BTreeSet<(usize, usize, String)> = Default::default();
    let mut node = |key: String| -> usize {
        *ids.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            order.len() - 1
        })
    };
    for grant in &access.grants {
        let project = node(format!("project:{}", grant.project));
        let role = role_with_custom(grant);
        match (grant.principal_type, grant.via.as_deref()) {
            (PrincipalType::User, Some(via)) if via.starts_with("group:") => {
                let user = node(principal_key(grant));
                let group = node(via.to_string());
                edges.insert((user, group, "member of".to_string()));
                edges.insert((group, project, role));
            }
            (PrincipalType::User, Some(_)) => {
                let user = node(principal_key(grant));
                edges.insert((user, project, format!("{role} (invite)")));
            }
            _ => {
                let from = node(principal_key(grant));
                edges.insert((from, project, role));
            }
        }
    }
    if edges.len() > MAX_MERMAID_EDGES {
        return Err(edges.len());
    }
    let mut out = String::from("flowchart LR\n");
    for (id, key) in order.iter().enumerate() {
        let shape = if key.starts_with("project:") {
            ("[[\"", "\"]]")
        } else if key.starts_with("group:") {
            ("([\"", "\"])")
        } else {
            ("[\"", "\"]")
        };
        let _ = writeln!(out, "  n{id}{}{}{}", shape.0, label(key), shape.1);
    }
    for (from, to, role) in edges {
        let _ = writeln!(out, "  n{from} -->|\"{}\"| n{to}", label(&role));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@sum"), "'@sum");
    }
}
