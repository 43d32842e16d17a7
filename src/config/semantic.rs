//! Checks the schema cannot express, run on the merged document so references and
//! duplicates work across files.
//!
//! - Duplicates: users (emails compared case-insensitively), groups, roles, certificates,
//!   admin API keys, projects, invites; within a project its members, groups, custom roles and
//!   service accounts; and names listed twice in any list of references. Each names the first
//!   declaration, wherever it is. (Duplicate models in `rate_limits` are duplicate YAML keys,
//!   refused by the parser.)
//! - References resolve: group members, project members and protected users are declared
//!   users; role, group, project, certificate and service-account names exist; a project
//!   member's or group's custom roles exist in that project.
//! - Fewer owners than `policy.min_owners` (desired state only, when users are managed).
//! - Certificate files exist (relative to the declaring file) and hold PEM certificates.
//! - `invites` only in an emulator seed ([`LoadMode::Seed`]).
//! - Secret sinks: sane file paths, no two secrets into one file; resolved as a write would
//!   resolve them (`..`, absolute paths, symbolic links), never onto an input file, a
//!   certificate or a new `*.yaml` of the `-f` directory, and never outside the
//!   configuration's directory unless `--allow-sink-outside`; command sinks name a program.
//! - Names and emails hold no control characters, line or paragraph separators or
//!   bidirectional controls ([`crate::text::escape::is_hidden`]): they would hide or
//!   rearrange text in terminals and pull-request comments. (Live names can still hold them;
//!   every rendering escapes them.)
//!
//! Limits that are negative or not integers are refused earlier, by the schema.
//!
//! When a file failed the schema, the checks run on what remains of it (see
//! [`super::load::Salvage`]): a reference to a declaration the schema refused is not called
//! undeclared, and the owner count is skipped when a user or `policy` value was set aside.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::LoadMode;
use super::diagnostics::{Diagnostic, Diagnostics, did_you_mean};
use super::load::{Kind, List, Merged};
use super::source_map::{Position, escape_segment};
use crate::model::{OrgRole, Sink, normalize_email};

/// Certificate files larger than this are refused (a certificate chain is a few KiB).
pub const MAX_CERTIFICATE_BYTES: u64 = 1024 * 1024;

/// Where sink files may point, beyond never onto what orgops reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkRules {
    /// `--allow-sink-outside`: a sink may resolve outside the configuration's directory.
    pub allow_outside: bool,
    /// The `-f DIR` directory, when the input is one: a new `*.yaml` there would be read as
    /// an input on the next run.
    pub input_dir: Option<PathBuf>,
}

/// Runs every check; returns the PEM text of each certificate that was read.
pub fn check(
    merged: &Merged,
    mode: LoadMode,
    sink_rules: &SinkRules,
    diagnostics: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let mut checker = Checker {
        merged,
        diagnostics,
        sink_rules,
    };
    checker.hidden_characters();
    checker.duplicates();
    checker.references();
    if mode == LoadMode::Desired {
        checker.owners();
        checker.no_invites();
    }
    checker.policies_that_cannot_act();
    checker.protected_archives();
    checker.empty_rate_limits();
    checker.kind_checks();
    checker.sinks();
    super::limits::check_lengths(merged, checker.diagnostics);
    super::limits::check_emails(merged, checker.diagnostics);
    checker.certificates()
}

struct Checker<'a> {
    merged: &'a Merged,
    diagnostics: &'a mut Diagnostics,
    sink_rules: &'a SinkRules,
}

/// The names a reference may use: the declared ones, of one kind, in one scope (a project's
/// name for its custom roles, empty otherwise).
struct Declared {
    names: BTreeSet<String>,
    kind: Kind,
    scope: String,
}

impl Declared {
    fn new(names: BTreeSet<String>, kind: Kind) -> Declared {
        Declared {
            names,
            kind,
            scope: String::new(),
        }
    }
}

fn place(file: &str, at: Position) -> String {
    format!("{file}:{}:{}", at.line, at.column)
}

impl Checker<'_> {
    fn error(&mut self, (file, at): (&str, Position), message: String, hint: Option<String>) {
        self.diagnostics
            .push(Diagnostic::error(file, at, message).with_hint(hint));
    }

    fn warning(&mut self, (file, at): (&str, Position), message: String, hint: Option<String>) {
        self.diagnostics
            .push(Diagnostic::warning(file, at, message).with_hint(hint));
    }

    /// Reports every key seen before; `items` yields (key as written, comparison key, location).
    fn unique<'k, L: Fn() -> (&'k str, Position)>(
        &mut self,
        what: &str,
        items: impl IntoIterator<Item = (String, String, L)>,
    ) {
        // Positions are looked up only for what is reported (a large file has hundreds of
        // thousands of names, each a pointer to format and find).
        let mut seen: BTreeMap<String, L> = BTreeMap::new();
        for (shown, compared, locate) in items {
            match seen.get(&compared) {
                Some(first) => {
                    let (first_file, first_at) = first();
                    let message = format!(
                        "duplicate {what} `{shown}` (first declared at {})",
                        place(first_file, first_at)
                    );
                    let (file, at) = locate();
                    self.diagnostics.push(Diagnostic::error(file, at, message));
                }
                None => {
                    seen.insert(compared, locate);
                }
            }
        }
    }

    /// Refuses names and emails with characters no rendering may print raw.
    fn hidden_characters(&mut self) {
        let m = self.merged;
        let doc = &m.doc;
        let mut items: Vec<(&'static str, &str, (&str, Position))> = Vec::new();
        // Only a name with such a character is located (see `unique`).
        let hidden = |text: &str| text.chars().any(crate::text::escape::is_hidden);
        for (i, u) in doc.users.iter().enumerate() {
            if hidden(u.email.as_str()) {
                items.push((
                    "user email",
                    u.email.as_str(),
                    m.at(List::Users, i, "/email"),
                ));
            }
        }
        for (i, g) in doc.groups.iter().enumerate() {
            if hidden(g.name.as_str()) {
                items.push((
                    "group name",
                    g.name.as_str(),
                    m.at(List::Groups, i, "/name"),
                ));
            }
        }
        for (i, r) in doc.roles.iter().enumerate() {
            if hidden(r.name.as_str()) {
                items.push(("role name", r.name.as_str(), m.at(List::Roles, i, "/name")));
            }
        }
        for (i, c) in doc.certificates.iter().enumerate() {
            if hidden(c.name.as_str()) {
                items.push((
                    "certificate name",
                    c.name.as_str(),
                    m.at(List::Certificates, i, "/name"),
                ));
            }
        }
        for (i, k) in doc.admin_api_keys.iter().enumerate() {
            if hidden(k.name.as_str()) {
                items.push((
                    "admin API key name",
                    k.name.as_str(),
                    m.at(List::AdminApiKeys, i, "/name"),
                ));
            }
        }
        for (i, p) in doc.projects.iter().enumerate() {
            if hidden(p.name.as_str()) {
                items.push((
                    "project name",
                    p.name.as_str(),
                    m.at(List::Projects, i, "/name"),
                ));
            }
            for (j, x) in p.members.iter().enumerate() {
                if hidden(x.email.as_str()) {
                    items.push((
                        "project member email",
                        x.email.as_str(),
                        m.at(List::Projects, i, &format!("/members/{j}/email")),
                    ));
                }
            }
            for (j, x) in p.roles.iter().enumerate() {
                if hidden(x.name.as_str()) {
                    items.push((
                        "project role name",
                        x.name.as_str(),
                        m.at(List::Projects, i, &format!("/roles/{j}/name")),
                    ));
                }
            }
            for (j, x) in p.service_accounts.iter().enumerate() {
                if hidden(x.name.as_str()) {
                    items.push((
                        "service account name",
                        x.name.as_str(),
                        m.at(List::Projects, i, &format!("/service_accounts/{j}/name")),
                    ));
                }
            }
        }
        for (i, invite) in doc.invites.iter().enumerate() {
            if hidden(invite.email.as_str()) {
                items.push((
                    "invite email",
                    invite.email.as_str(),
                    m.at(List::Invites, i, "/email"),
                ));
            }
        }
        for (what, text, at) in items {
            let Some(c) = text.chars().find(|c| crate::text::escape::is_hidden(*c)) else {
                continue;
            };
            let message = format!(
                "{what} \"{}\" contains the character U+{:04X}{}",
                crate::text::escape::text(text),
                c as u32,
                hidden_character_name(c)
            );
            let hint = "names may not contain control characters, line breaks or bidirectional \
                        controls: they hide or reorder text in terminals and pull-request comments; \
                        remove it"
                .to_string();
            self.error(at, message, Some(hint));
        }
    }

    fn duplicates(&mut self) {
        let m = self.merged;
        let doc = &m.doc;
        let same = |s: &String| s.clone();
        self.unique(
            "user",
            doc.users.iter().enumerate().map(|(i, u)| {
                (u.email.clone(), normalize_email(&u.email), move || {
                    m.at(List::Users, i, "/email")
                })
            }),
        );
        self.unique(
            "group",
            doc.groups.iter().enumerate().map(|(i, g)| {
                (g.name.clone(), same(&g.name), move || {
                    m.at(List::Groups, i, "/name")
                })
            }),
        );
        self.unique(
            "role",
            doc.roles.iter().enumerate().map(|(i, r)| {
                (r.name.clone(), same(&r.name), move || {
                    m.at(List::Roles, i, "/name")
                })
            }),
        );
        self.unique(
            "certificate",
            doc.certificates.iter().enumerate().map(|(i, c)| {
                (c.name.clone(), same(&c.name), move || {
                    m.at(List::Certificates, i, "/name")
                })
            }),
        );
        self.unique(
            "admin API key",
            doc.admin_api_keys.iter().enumerate().map(|(i, k)| {
                (k.name.clone(), same(&k.name), move || {
                    m.at(List::AdminApiKeys, i, "/name")
                })
            }),
        );
        self.unique(
            "project",
            doc.projects.iter().enumerate().map(|(i, p)| {
                (p.name.clone(), same(&p.name), move || {
                    m.at(List::Projects, i, "/name")
                })
            }),
        );
        self.unique(
            "invite",
            doc.invites.iter().enumerate().map(|(i, v)| {
                (v.email.clone(), normalize_email(&v.email), move || {
                    m.at(List::Invites, i, "/email")
                })
            }),
        );
        for (i, project) in doc.projects.iter().enumerate() {
            let what = |kind: &str| format!("{kind} in project `{}`", project.name);
            self.unique(
                &what("member"),
                project.members.iter().enumerate().map(|(j, x)| {
                    (x.email.clone(), normalize_email(&x.email), move || {
                        m.at(List::Projects, i, &format!("/members/{j}/email"))
                    })
                }),
            );
            self.unique(
                &what("group"),
                project.groups.iter().enumerate().map(|(j, x)| {
                    (x.name.clone(), same(&x.name), move || {
                        m.at(List::Projects, i, &format!("/groups/{j}/name"))
                    })
                }),
            );
            self.unique(
                &what("role"),
                project.roles.iter().enumerate().map(|(j, x)| {
                    (x.name.clone(), same(&x.name), move || {
                        m.at(List::Projects, i, &format!("/roles/{j}/name"))
                    })
                }),
            );
            self.unique(
                &what("service account"),
                project.service_accounts.iter().enumerate().map(|(j, x)| {
                    (x.name.clone(), same(&x.name), move || {
                        m.at(List::Projects, i, &format!("/service_accounts/{j}/name"))
                    })
                }),
            );
        }
    }

    /// Checks each name in a list of references: declared, and not listed twice.
    fn resolve(
        &mut self,
        names: &[String],
        declared: &Declared,
        normalise: fn(&str) -> String,
        what: &str,
        scope: &str,
        locate: impl Fn(usize) -> (String, Position),
    ) {
        let mut listed: BTreeMap<String, usize> = BTreeMap::new();
        for (j, name) in names.iter().enumerate() {
            let key = normalise(name);
            if !declared.names.contains(&key) {
                // Its declaration failed the schema, which already says so.
                if self
                    .merged
                    .dropped
                    .may_declare(declared.kind, &declared.scope, &key)
                {
                    continue;
                }
                let list = if scope.is_empty() {
                    what_list(what)
                } else {
                    "projects[].roles"
                };
                let hint = did_you_mean(&key, declared.names.iter().map(String::as_str))
                    .or_else(|| Some(format!("declare it under `{list}` first")));
                let (file, at) = locate(j);
                self.error(
                    (&file, at),
                    format!("{what} `{name}` is not declared{scope}"),
                    hint,
                );
            } else if let Some(first) = listed.get(&key) {
                let (first_file, first_at) = locate(*first);
                let (file, at) = locate(j);
                self.error(
                    (&file, at),
                    format!(
                        "{what} `{name}` is listed twice{scope} (first at {})",
                        place(&first_file, first_at)
                    ),
                    None,
                );
            } else {
                listed.insert(key, j);
            }
        }
    }

    fn references(&mut self) {
        let m = self.merged;
        let doc = &m.doc;
        let keep = |s: &str| s.to_string();
        let emails = Declared::new(
            doc.users
                .iter()
                .map(|u| normalize_email(&u.email))
                .collect(),
            Kind::User,
        );
        let org_roles = Declared::new(
            doc.roles.iter().map(|r| r.name.clone()).collect(),
            Kind::Role,
        );
        let groups = Declared::new(
            doc.groups.iter().map(|g| g.name.clone()).collect(),
            Kind::Group,
        );
        let projects = Declared::new(
            doc.projects.iter().map(|p| p.name.clone()).collect(),
            Kind::Project,
        );
        let certificates = Declared::new(
            doc.certificates.iter().map(|c| c.name.clone()).collect(),
            Kind::Certificate,
        );
        let owned = |(file, at): (&str, Position)| (file.to_string(), at);

        for (i, user) in doc.users.iter().enumerate() {
            self.resolve(&user.roles, &org_roles, keep, "role", "", |j| {
                owned(m.at(List::Users, i, &format!("/roles/{j}")))
            });
        }
        for (i, group) in doc.groups.iter().enumerate() {
            self.resolve(&group.members, &emails, normalize_email, "user", "", |j| {
                owned(m.at(List::Groups, i, &format!("/members/{j}")))
            });
            self.resolve(&group.roles, &org_roles, keep, "role", "", |j| {
                owned(m.at(List::Groups, i, &format!("/roles/{j}")))
            });
        }
        for (i, project) in doc.projects.iter().enumerate() {
            let project_roles = Declared {
                names: project.roles.iter().map(|r| r.name.clone()).collect(),
                kind: Kind::ProjectRole,
                scope: project.name.clone(),
            };
            let role_scope = format!(" in project `{}`", project.name);
            let member_emails: Vec<String> =
                project.members.iter().map(|x| x.email.clone()).collect();
            // Duplicates among members are reported by `duplicates`; here only existence.
            for (j, email) in member_emails.iter().enumerate() {
                self.resolve(
                    std::slice::from_ref(email),
                    &emails,
                    normalize_email,
                    "user",
                    "",
                    |_| owned(m.at(List::Projects, i, &format!("/members/{j}/email"))),
                );
            }
            for (j, member) in project.members.iter().enumerate() {
                self.resolve(
                    &member.roles,
                    &project_roles,
                    keep,
                    "role",
                    &role_scope,
                    |k| owned(m.at(List::Projects, i, &format!("/members/{j}/roles/{k}"))),
                );
            }
            for (j, group) in project.groups.iter().enumerate() {
                self.resolve(
                    std::slice::from_ref(&group.name),
                    &groups,
                    keep,
                    "group",
                    "",
                    |_| owned(m.at(List::Projects, i, &format!("/groups/{j}/name"))),
                );
                self.resolve(
                    &group.roles,
                    &project_roles,
                    keep,
                    "role",
                    &role_scope,
                    |k| owned(m.at(List::Projects, i, &format!("/groups/{j}/roles/{k}"))),
                );
            }
            self.resolve(
                &project.certificates,
                &certificates,
                keep,
                "certificate",
                "",
                |j| owned(m.at(List::Projects, i, &format!("/certificates/{j}"))),
            );
        }
        for (i, invite) in doc.invites.iter().enumerate() {
            let names: Vec<String> = invite.projects.iter().map(|p| p.name.clone()).collect();
            self.resolve(&names, &projects, keep, "project", "", |j| {
                owned(m.at(List::Invites, i, &format!("/projects/{j}/name")))
            });
        }

        let protect = &doc.policy.protect;
        self.resolve(&protect.users, &emails, normalize_email, "user", "", |j| {
            owned(m.policy_at(&format!("/protect/users/{j}"), false))
        });
        self.resolve(&protect.projects, &projects, keep, "project", "", |j| {
            owned(m.policy_at(&format!("/protect/projects/{j}"), false))
        });
        self.resolve(&protect.groups, &groups, keep, "group", "", |j| {
            owned(m.policy_at(&format!("/protect/groups/{j}"), false))
        });
        let accounts = Declared::new(
            doc.projects
                .iter()
                .flat_map(|p| {
                    p.service_accounts
                        .iter()
                        .map(move |s| service_account_key(&p.name, &s.name))
                })
                .collect(),
            Kind::ServiceAccount,
        );
        let protected: Vec<String> = protect
            .service_accounts
            .iter()
            .map(|r| service_account_key(&r.project, &r.name))
            .collect();
        self.resolve(&protected, &accounts, keep, "service account", "", |j| {
            owned(m.policy_at(&format!("/protect/service_accounts/{j}"), false))
        });
    }

    /// A `remove` (or `archive`) for a kind whose lists the file never writes can never act:
    /// a list left out is not managed. Say so where the policy is written.
    fn policies_that_cannot_act(&mut self) {
        let doc = &self.merged.doc;
        // The policy's values by key, as the file wrote them (defaults included).
        let values = serde_json::to_value(&doc.policy.unmanaged).unwrap_or_default();
        let mut kinds: Vec<(&str, &str)> = crate::kinds::unmanaged_policies()
            .into_iter()
            .filter(|p| values.get(p.key).and_then(|v| v.as_str()) == Some(p.removes))
            .filter(|p| !crate::kinds::manages_policy(doc, p.key))
            .map(|p| (p.key, p.list))
            .collect();
        kinds.sort();
        for (kind, list) in kinds {
            let at = self.merged.policy_at(&format!("/unmanaged/{kind}"), false);
            self.warning(
                at,
                format!(
                    "policy.unmanaged.{kind} can never act: the file writes no {list} list, and a list left out is not managed"
                ),
                Some(format!(
                    "write the list (`[]` for none) where orgops should manage {kind}, or drop the policy"
                )),
            );
        }
    }

    /// What the schema cannot say about each kind's values (`Kind::check`), located by the
    /// JSON pointer each finding gives.
    fn kind_checks(&mut self) {
        let findings: Vec<crate::kinds::Finding> = crate::kinds::ResourceKind::ALL
            .iter()
            .flat_map(|kind| kind.def().check(&self.merged.doc))
            .collect();
        for finding in findings {
            let (file, at) = self.merged.locate(&finding.pointer, finding.at_key);
            let file = file.to_string();
            if finding.error {
                self.error((&file, at), finding.message, finding.hint);
            } else {
                self.warning((&file, at), finding.message, finding.hint);
            }
        }
    }

    fn owners(&mut self) {
        let doc = &self.merged.doc;
        // Only a file that writes `users` can remove or demote a member.
        let manages_users = doc.users.is_managed();
        // A user or policy value the schema refused would make the count wrong.
        let dropped = &self.merged.dropped;
        if !manages_users || dropped.touches(Kind::User) || dropped.policy {
            return;
        }
        let owners = doc
            .users
            .iter()
            .filter(|u| u.role == OrgRole::Owner)
            .count();
        let required = doc.policy.min_owners() as usize;
        if owners >= required {
            return;
        }
        let at = if doc.policy.min_owners.is_some() {
            self.merged.policy_at("/min_owners", false)
        } else if !doc.users.is_empty() {
            self.merged.key_at(List::Users, 0, "")
        } else {
            self.merged.policy_at("/unmanaged/users", false)
        };
        self.error(
            at,
            format!(
                "the file declares {owners} owner{} but the organization must keep at least {required} (policy.min_owners)",
                if owners == 1 { "" } else { "s" }
            ),
            Some("give more users `role: owner`, or lower policy.min_owners".into()),
        );
    }

    fn no_invites(&mut self) {
        for (index, file) in self.merged.files.iter().enumerate() {
            if file.doc.invites.is_empty() {
                continue;
            }
            let at = self.merged.position_in(index, "/invites", true);
            self.error(
                at,
                "`invites` is only allowed in an emulator seed, not in a desired-state file".into(),
                Some(
                    "declare the person under `users`; orgops sends and tracks the invite itself"
                        .into(),
                ),
            );
        }
    }

    fn protected_archives(&mut self) {
        let doc = &self.merged.doc;
        let protected: BTreeSet<&String> = doc.policy.protect.projects.iter().collect();
        for (i, project) in doc.projects.iter().enumerate() {
            if project.archived && protected.contains(&project.name) {
                let at = self.merged.at(List::Projects, i, "/archived");
                self.warning(
                    at,
                    format!(
                        "project `{}` is protected, so `archived: true` will not be applied",
                        project.name
                    ),
                    Some("remove it from policy.protect.projects to archive it".into()),
                );
            }
        }
    }

    fn empty_rate_limits(&mut self) {
        let doc = &self.merged.doc;
        for (i, project) in doc.projects.iter().enumerate() {
            for (model, limit) in &project.rate_limits {
                if limit.fields().iter().all(|(_, value)| value.is_none()) {
                    let at = self.merged.key_at(
                        List::Projects,
                        i,
                        &format!("/rate_limits/{}", escape_segment(model)),
                    );
                    self.warning(
                        at,
                        format!("rate limit for `{model}` sets no field, so it manages nothing"),
                        None,
                    );
                }
            }
        }
    }

    fn sinks(&mut self) {
        let m = self.merged;
        let doc = &m.doc;
        let mut sinks: Vec<(&Sink, List, usize, String)> = Vec::new();
        for (i, key) in doc.admin_api_keys.iter().enumerate() {
            if let Some(sink) = &key.sink {
                sinks.push((sink, List::AdminApiKeys, i, "/sink".into()));
            }
        }
        for (i, project) in doc.projects.iter().enumerate() {
            for (j, account) in project.service_accounts.iter().enumerate() {
                if let Some(sink) = &account.sink {
                    sinks.push((
                        sink,
                        List::Projects,
                        i,
                        format!("/service_accounts/{j}/sink"),
                    ));
                }
            }
        }
        // Files a secret must never overwrite: the inputs and the certificates, compared
        // after resolving `..`, absolute paths and symbolic links on both sides.
        let mut protected_files: BTreeMap<PathBuf, &'static str> = BTreeMap::new();
        for file in &m.files {
            if let Some(resolved) = file.path.as_deref().and_then(|p| resolve_for_write(p).ok()) {
                protected_files.insert(resolved, "an input file");
            }
        }
        for (i, certificate) in doc.certificates.iter().enumerate() {
            if let Some(dir) = m.file_of(List::Certificates, i).and_then(|f| f.base_dir())
                && let Ok(resolved) = resolve_for_write(&dir.join(&certificate.file))
            {
                protected_files.insert(resolved, "a certificate file");
            }
        }
        let input_dir = self
            .sink_rules
            .input_dir
            .as_deref()
            .and_then(|d| std::fs::canonicalize(d).ok());
        let mut targets: BTreeMap<PathBuf, (String, Position)> = BTreeMap::new();
        for (sink, list, index, suffix) in sinks {
            match sink {
                Sink::Command(argv) => {
                    if argv.first().is_none_or(|program| program.trim().is_empty()) {
                        let at = m.at(list, index, &format!("{suffix}/command"));
                        self.error(
                            at,
                            "a command sink needs a program name as its first element".into(),
                            None,
                        );
                    }
                }
                Sink::File(path_text) => {
                    let at = m.at(list, index, &format!("{suffix}/file"));
                    if let Some(problem) = sink_path_problem(path_text) {
                        self.error(at, format!("sink file `{path_text}` {problem}"), None);
                        continue;
                    }
                    let Some(dir) = m.file_of(list, index).and_then(|f| f.base_dir()) else {
                        continue;
                    };
                    let target = match resolve_for_write(&dir.join(path_text)) {
                        Ok(target) => target,
                        Err(e) => {
                            self.error(
                                at,
                                format!("sink file `{path_text}` cannot be resolved: {e}"),
                                None,
                            );
                            continue;
                        }
                    };
                    let problem = if target.is_dir() {
                        Some(("is a directory".to_string(), None))
                    } else if let Some(what) = protected_files.get(&target) {
                        Some((format!("is {what}; a secret would overwrite it"), None))
                    } else if input_dir
                        .as_deref()
                        .is_some_and(|d| becomes_input(&target, d))
                    {
                        Some((
                            "would become an input file (a `*.yaml` in the `-f` directory)"
                                .to_string(),
                            Some("write the secret outside the configuration files, e.g. under `secrets/`".to_string()),
                        ))
                    } else if !self.sink_rules.allow_outside
                        && let Ok(root) = std::fs::canonicalize(&dir)
                        && !target.starts_with(&root)
                    {
                        Some((
                            format!(
                                "is outside the configuration's directory {} (it resolves to {})",
                                root.display(),
                                target.display()
                            ),
                            Some("keep sinks under the configuration's directory, or pass --allow-sink-outside".to_string()),
                        ))
                    } else {
                        None
                    };
                    if let Some((problem, hint)) = problem {
                        self.error(at, format!("sink file `{path_text}` {problem}"), hint);
                    } else if let Some((first_file, first_at)) = targets.get(&target) {
                        let message = format!(
                            "sink file `{path_text}` already receives another secret (at {})",
                            place(first_file, *first_at)
                        );
                        self.error(at, message, Some("give each secret its own file".into()));
                    } else {
                        targets.insert(target, (at.0.to_string(), at.1));
                    }
                }
            }
        }
    }

    fn certificates(&mut self) -> BTreeMap<String, String> {
        let m = self.merged;
        let mut pems = BTreeMap::new();
        for (i, certificate) in m.doc.certificates.iter().enumerate() {
            // In-memory input (an emulator seed) has no directory to resolve files in.
            let Some(dir) = m.file_of(List::Certificates, i).and_then(|f| f.base_dir()) else {
                continue;
            };
            let at = m.at(List::Certificates, i, "/file");
            let path = dir.join(&certificate.file);
            match read_pem(&path) {
                Ok(text) => {
                    pems.insert(certificate.name.clone(), text);
                }
                Err(problem) => {
                    self.error(
                        at,
                        format!(
                            "certificate `{}`: {} ({})",
                            certificate.name,
                            problem,
                            path.display()
                        ),
                        None,
                    );
                }
            }
        }
        pems
    }
}

/// A reader's name for the hidden characters people meet, with a leading space.
fn hidden_character_name(c: char) -> &'static str {
    match c {
        '\0' => " (NUL)",
        '\t' => " (tab)",
        '\n' => " (line feed)",
        '\r' => " (carriage return)",
        '\u{1b}' => " (escape)",
        '\u{7f}' => " (delete)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => " (bidirectional control)",
        _ => " (a control character)",
    }
}

fn service_account_key(project: &str, name: &str) -> String {
    format!("{project}/{name}")
}

fn what_list(what: &str) -> &'static str {
    match what {
        "user" => "users",
        "role" => "roles",
        "group" => "groups",
        "project" => "projects",
        "certificate" => "certificates",
        "service account" => "projects[].service_accounts",
        _ => "projects[].roles",
    }
}

fn sink_path_problem(path: &str) -> Option<&'static str> {
    if path.trim().is_empty() {
        Some("is empty")
    } else if path.contains('\0') {
        Some("contains a NUL byte")
    } else if path.ends_with('/') || path.ends_with('\\') {
        Some("names a directory, not a file")
    } else if matches!(
        Path::new(path).components().next_back(),
        Some(Component::CurDir | Component::ParentDir) | None
    ) {
        Some("does not name a file")
    } else {
        None
    }
}

/// Symbolic links followed while resolving one path, as the kernel allows (ELOOP).
const MAX_SYMLINKS: usize = 40;

/// Where a write to `path` would land: the deepest existing ancestor canonicalized (so `..`,
/// absolute paths and symbolic links, including dangling ones, are resolved as the kernel
/// would), then the components that do not exist yet appended (they will be created as
/// plain directories, so `..` among them is lexical).
pub fn resolve_for_write(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    resolve_from(&absolute, 0)
}

fn resolve_from(absolute: &Path, links: usize) -> std::io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut components = absolute.components();
    let mut existing = true;
    while let Some(component) = components.next() {
        match component {
            Component::Prefix(_) | Component::RootDir => resolved.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                // `resolved` is canonical while it exists, so its parent is the real one;
                // climbing out of the part still to be created lands on an existing,
                // canonical prefix again, whose next components must be checked for links.
                resolved.pop();
                existing = existing || std::fs::symlink_metadata(&resolved).is_ok();
            }
            Component::Normal(name) => {
                let next = resolved.join(name);
                if !existing {
                    resolved = next;
                    continue;
                }
                match std::fs::symlink_metadata(&next) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        if links >= MAX_SYMLINKS {
                            return Err(std::io::Error::other("too many levels of symbolic links"));
                        }
                        let target = std::fs::read_link(&next)?;
                        let mut rest: PathBuf = if target.is_absolute() {
                            target
                        } else {
                            resolved.join(target)
                        };
                        rest.extend(components);
                        return resolve_from(&rest, links + 1);
                    }
                    Ok(_) => resolved = std::fs::canonicalize(&next)?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        existing = false;
                        resolved = next;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(resolved)
}

/// Whether a file at `target` would be read as an input of the `-f` directory `dir`.
fn becomes_input(target: &Path, dir: &Path) -> bool {
    target.parent() == Some(dir)
        && matches!(
            target.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        )
}

/// Reads a PEM file through the bounded reader ([`crate::input`]): a regular file of at
/// most [`MAX_CERTIFICATE_BYTES`], with at least one `CERTIFICATE` block of valid base64.
pub fn read_pem(path: &Path) -> Result<String, String> {
    let text = crate::input::read_text(path, MAX_CERTIFICATE_BYTES).map_err(|e| match e {
        crate::input::InputError::NotUtf8(_) => "the file is not PEM text (not UTF-8)".to_string(),
        crate::input::InputError::Io(e) => format!("cannot read the file: {e}"),
        other => format!("cannot read the file: {other}"),
    })?;
    check_pem(&text)?;
    Ok(text)
}

/// The PEM check: every `BEGIN CERTIFICATE` block ends and holds base64 data (the
/// certificate kind's parser, [`crate::kinds::pem_blocks`]).
pub fn check_pem(text: &str) -> Result<(), String> {
    crate::kinds::pem_blocks(text).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_check_accepts_certificates_and_refuses_the_rest() {
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n").is_ok()
        );
        assert!(check_pem("hello").unwrap_err().contains("not PEM"));
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----")
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\nTUlJQg==\n")
                .unwrap_err()
                .contains("no `END")
        );
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----")
                .unwrap_err()
                .contains("empty")
        );
    }

    #[cfg(unix)]
    #[test]
    fn writes_resolve_through_links_dot_dot_and_missing_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir_all(root.join("cfg")).expect("cfg");
        std::fs::write(root.join("cfg/orgops.yaml"), "version: 1\n").expect("file");
        std::os::unix::fs::symlink("..", root.join("cfg/up")).expect("link");
        std::os::unix::fs::symlink("nowhere/x", root.join("cfg/dangling")).expect("link");
        let resolve = |p: &str| resolve_for_write(&root.join(p)).expect("resolves");
        assert_eq!(
            resolve("cfg/../cfg/orgops.yaml"),
            root.join("cfg/orgops.yaml")
        );
        assert_eq!(
            resolve("cfg/up/cfg/orgops.yaml"),
            root.join("cfg/orgops.yaml")
        );
        // `up/..` is the parent of the link's target, not `cfg`.
        assert_eq!(
            resolve("cfg/up/../k"),
            root.parent().expect("parent").join("k")
        );
        assert_eq!(resolve("cfg/new/dir/../k.key"), root.join("cfg/new/k.key"));
        // Back out of the part still to be created, then through a link again.
        assert_eq!(resolve("cfg/new/../up/k.key"), root.join("k.key"));
        assert_eq!(resolve("cfg/dangling"), root.join("cfg/nowhere/x"));
        std::os::unix::fs::symlink("loop", root.join("cfg/loop")).expect("link");
        assert!(resolve_for_write(&root.join("cfg/loop/k")).is_err());
    }

    #[test]
    fn sink_paths_are_sane() {
        assert_eq!(sink_path_problem("keys/ci.key"), None);
        assert_eq!(
            sink_path_problem("keys/"),
            Some("names a directory, not a file")
        );
        assert_eq!(sink_path_problem(".."), Some("does not name a file"));
        assert_eq!(sink_path_problem("a\0b"), Some("contains a NUL byte"));
    }
}
