//! The API's limits on the values a desired state sends, in one place, and the checks of
//! strings that would look right to a reviewer but are not what they seem.
//!
//! Lengths count characters (Unicode scalar values). Where the OpenAPI subset states a
//! limit it is quoted; where it states none, the value is chosen here (and only here) so
//! that a plan never sends what the API is likely to refuse halfway through an apply.

use super::diagnostics::{Diagnostic, Diagnostics};
use super::load::{List, Merged};
use super::source_map::escape_segment;
use crate::model::Role;

/// `CreateGroupBody.name` / `UpdateGroupBody.name`: `maxLength: 255` (stated).
pub const GROUP_NAME: usize = 255;
/// Names of projects, roles, certificates, admin API keys and service accounts: no limit is
/// stated; chosen equal to the one stated for groups.
pub const NAME: usize = 255;
/// Emails: none stated; chosen as RFC 5321's path limit (64 local + `@` + 255 domain).
pub const EMAIL: usize = 320;
/// Role descriptions: none stated; chosen.
pub const DESCRIPTION: usize = 1024;
/// Permission strings, model names (rate-limit keys), residency and external key ids: none
/// stated; chosen.
pub const IDENTIFIER: usize = 255;

struct Lengths<'a> {
    merged: &'a Merged,
    diagnostics: &'a mut Diagnostics,
}

impl Lengths<'_> {
    /// An error at `list[index]{suffix}` when `text` is longer than `max`.
    fn check(
        &mut self,
        what: &str,
        text: &str,
        max: usize,
        list: List,
        index: usize,
        suffix: &str,
    ) {
        let length = text.chars().count();
        if length > max {
            let (file, at) = self.merged.at(list, index, suffix);
            self.diagnostics.push(Diagnostic::error(
                file,
                at,
                format!("{what} is {length} characters; the API accepts at most {max}"),
            ));
        }
    }

    fn role(&mut self, list: List, index: usize, prefix: &str, role: &Role) {
        self.check(
            "role name",
            &role.name,
            NAME,
            list,
            index,
            &format!("{prefix}/name"),
        );
        if let Some(description) = &role.description {
            let suffix = format!("{prefix}/description");
            self.check(
                "role description",
                description,
                DESCRIPTION,
                list,
                index,
                &suffix,
            );
        }
        for (k, permission) in role.permissions.iter().enumerate() {
            let suffix = format!("{prefix}/permissions/{k}");
            self.check("permission", permission, IDENTIFIER, list, index, &suffix);
        }
    }
}

/// Reports every string of the document longer than its limit.
pub fn check_lengths(merged: &Merged, diagnostics: &mut Diagnostics) {
    let doc = &merged.doc;
    let mut lengths = Lengths {
        merged,
        diagnostics,
    };
    for (i, user) in doc.users.iter().enumerate() {
        lengths.check("email", &user.email, EMAIL, List::Users, i, "/email");
    }
    for (i, group) in doc.groups.iter().enumerate() {
        lengths.check(
            "group name",
            &group.name,
            GROUP_NAME,
            List::Groups,
            i,
            "/name",
        );
    }
    for (i, role) in doc.roles.iter().enumerate() {
        lengths.role(List::Roles, i, "", role);
    }
    for (i, certificate) in doc.certificates.iter().enumerate() {
        let name = &certificate.name;
        lengths.check(
            "certificate name",
            name,
            NAME,
            List::Certificates,
            i,
            "/name",
        );
    }
    for (i, key) in doc.admin_api_keys.iter().enumerate() {
        lengths.check(
            "admin API key name",
            &key.name,
            NAME,
            List::AdminApiKeys,
            i,
            "/name",
        );
    }
    for (i, project) in doc.projects.iter().enumerate() {
        lengths.check(
            "project name",
            &project.name,
            NAME,
            List::Projects,
            i,
            "/name",
        );
        for (field, value) in [
            ("residency", &project.residency),
            ("geography", &project.geography),
            ("external_key_id", &project.external_key_id),
        ] {
            if let Some(value) = value {
                let suffix = format!("/{field}");
                lengths.check(field, value, IDENTIFIER, List::Projects, i, &suffix);
            }
        }
        for (j, role) in project.roles.iter().enumerate() {
            lengths.role(List::Projects, i, &format!("/roles/{j}"), role);
        }
        for (j, account) in project.service_accounts.iter().enumerate() {
            let suffix = format!("/service_accounts/{j}/name");
            let name = &account.name;
            lengths.check(
                "service account name",
                name,
                NAME,
                List::Projects,
                i,
                &suffix,
            );
        }
        for model in project.rate_limits.keys() {
            let length = model.chars().count();
            if length > IDENTIFIER {
                let pointer = format!("/rate_limits/{}", escape_segment(model));
                let (file, at) = merged.key_at(List::Projects, i, &pointer);
                lengths.diagnostics.push(Diagnostic::error(
                    file,
                    at,
                    format!(
                        "model name is {length} characters; the API accepts at most {IDENTIFIER}"
                    ),
                ));
            }
        }
    }
}

/// Characters that render as nothing (or reorder text) and so can make two different
/// emails look identical in a review.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

/// The first character that makes `email` suspicious, and why.
pub fn suspicious_email_character(email: &str) -> Option<(char, &'static str)> {
    if let Some(c) = email.chars().find(|c| is_invisible(*c)) {
        return Some((c, "an invisible character"));
    }
    // Mixed scripts: Latin letters next to letters of another script (a Cyrillic `о` in
    // `bоb@...`). Without a script table, any non-ASCII letter beside ASCII letters counts;
    // accented Latin letters (U+00C0..U+024F) are Latin.
    let has_ascii_letter = email.chars().any(|c| c.is_ascii_alphabetic());
    let foreign = email
        .chars()
        .find(|c| c.is_alphabetic() && !c.is_ascii() && !('\u{00C0}'..='\u{024F}').contains(c));
    match foreign {
        Some(c) if has_ascii_letter => Some((c, "a letter of another script than Latin")),
        _ => None,
    }
}

/// Warns about every declared user email with an invisible or mixed-script character.
pub fn check_emails(merged: &Merged, diagnostics: &mut Diagnostics) {
    for (i, user) in merged.doc.users.iter().enumerate() {
        if let Some((c, what)) = suspicious_email_character(&user.email) {
            let (file, at) = merged.at(List::Users, i, "/email");
            diagnostics.push(
                Diagnostic::warning(
                    file,
                    at,
                    format!(
                        "email `{}` contains U+{:04X}, {what}; it may not be the address it looks like",
                        user.email.escape_default(),
                        c as u32
                    ),
                )
                .with_hint(Some(
                    "retype the address, or confirm the character is intended".into(),
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_mixed_script_characters_are_named() {
        assert_eq!(
            suspicious_email_character("ada\u{200B}@x.example").map(|(c, _)| c),
            Some('\u{200B}')
        );
        assert_eq!(
            suspicious_email_character("b\u{043E}b@x.example").map(|(c, _)| c),
            Some('\u{043E}')
        );
        assert_eq!(suspicious_email_character("ada@x.example"), None);
        assert_eq!(suspicious_email_character("zoë@x.example"), None);
        // One script throughout is not mixed.
        assert_eq!(
            suspicious_email_character(
                "\u{043E}\u{043B}\u{044F}@\u{043F}\u{0440}.\u{0440}\u{0444}"
            ),
            None
        );
    }
}
