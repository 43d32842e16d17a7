//! Deterministic synthetic organizations for benchmarks:
//! `--generate users=N,projects=P,project_members=M,groups=G,group_members=K,service_accounts=S`
//! (every part optional). Users are `user000000@example.com`, ...; every 100th user (and
//! the first) is an owner. Each project gets `M` consecutive members starting at a
//! seed-chosen offset, and `S` service accounts (without keys); each group `K` members the
//! same way. Same spec and seed, same org (ids included).

use anyhow::{Context, bail};
use indexmap::IndexMap;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::state::{OrgState, ProjectUser, now};

/// The largest count each `--generate` part takes (the benchmarks use 100,000 users).
pub const MAX_PART: usize = 1_000_000;
/// The most objects (users, projects, groups, memberships, service accounts) one spec may
/// generate: about 2 GB of emulator state, far beyond any benchmark, far below an
/// allocation failure.
pub const MAX_OBJECTS: usize = 10_000_000;

/// The parsed `--generate` spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateSpec {
    pub users: usize,
    pub projects: usize,
    pub project_members: usize,
    pub groups: usize,
    pub group_members: usize,
    pub service_accounts: usize,
}

impl std::str::FromStr for GenerateSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let mut spec = GenerateSpec::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .with_context(|| format!("--generate part {part:?} is not KEY=N"))?;
            let n: usize = value
                .trim()
                .parse()
                .with_context(|| format!("--generate {key}: {value:?} is not a count"))?;
            if n > MAX_PART {
                bail!(
                    "--generate {}: {n} is over the limit of {MAX_PART}",
                    key.trim()
                );
            }
            match key.trim() {
                "users" => spec.users = n,
                "projects" => spec.projects = n,
                "project_members" => spec.project_members = n,
                "groups" => spec.groups = n,
                "group_members" => spec.group_members = n,
                "service_accounts" => spec.service_accounts = n,
                other => bail!(
                    "--generate: unknown part {other:?} (expected users, projects, project_members, groups, group_members, service_accounts)"
                ),
            }
        }
        if spec.project_members > spec.users || spec.group_members > spec.users {
            bail!(
                "--generate: project_members and group_members cannot exceed users ({})",
                spec.users
            );
        }
        let objects = [
            spec.users,
            spec.projects,
            spec.groups,
            spec.projects.saturating_mul(spec.project_members),
            spec.projects.saturating_mul(spec.service_accounts),
            spec.groups.saturating_mul(spec.group_members),
        ]
        .into_iter()
        .fold(0usize, usize::saturating_add);
        if objects > MAX_OBJECTS {
            bail!(
                "--generate: the spec makes {objects} objects (users, projects, groups, memberships, service accounts), over the limit of {MAX_OBJECTS}"
            );
        }
        Ok(spec)
    }
}

/// Builds the synthetic organization.
pub fn generate(spec: GenerateSpec, seed: u64) -> OrgState {
    let mut org = OrgState::new(seed);
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(0x67656e));
    let at = now();
    org.users.reserve(spec.users);
    org.users_by_email.reserve(spec.users);
    let mut user_ids = Vec::with_capacity(spec.users);
    for i in 0..spec.users {
        let role = if i % 100 == 0 { "owner" } else { "reader" };
        user_ids.push(org.add_user(&format!("user{i:06}@example.com"), role));
    }
    let pick = |rng: &mut StdRng, k: usize| -> Vec<usize> {
        if k == 0 || user_ids.is_empty() {
            return Vec::new();
        }
        let start = rng.random_range(0..user_ids.len());
        (0..k).map(|j| (start + j) % user_ids.len()).collect()
    };
    for g in 0..spec.groups {
        let gid = org.add_group(&format!("group-{g:04}"));
        let members: IndexMap<String, i64> = pick(&mut rng, spec.group_members)
            .into_iter()
            .map(|i| (user_ids[i].clone(), at))
            .collect();
        if let Some(group) = org.groups.get_mut(&gid) {
            group.members = members;
        }
    }
    for p in 0..spec.projects {
        let pid = org.add_project(&format!("project-{p:04}"), false, None, None);
        let members: IndexMap<String, ProjectUser> = pick(&mut rng, spec.project_members)
            .into_iter()
            .enumerate()
            .map(|(j, i)| {
                let role = if j == 0 { "owner" } else { "member" };
                (
                    user_ids[i].clone(),
                    ProjectUser {
                        role: role.to_string(),
                        added_at: at,
                        roles: IndexMap::new(),
                    },
                )
            })
            .collect();
        if let Some(project) = org.projects.get_mut(&pid) {
            project.users = members;
        }
        for s in 0..spec.service_accounts {
            org.add_service_account(&pid, &format!("svc-{s:03}"), "member", false);
        }
    }
    org
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partial_specs_and_rejects_nonsense() {
        let spec: GenerateSpec = "users=10,projects=2,project_members=3"
            .parse()
            .expect("valid");
        assert_eq!(
            spec,
            GenerateSpec {
                users: 10,
                projects: 2,
                project_members: 3,
                ..Default::default()
            }
        );
        assert!("users=ten".parse::<GenerateSpec>().is_err());
        assert!("people=3".parse::<GenerateSpec>().is_err());
        assert!("users=2,project_members=3".parse::<GenerateSpec>().is_err());
        assert!("users=100000000000000".parse::<GenerateSpec>().is_err());
        assert!(
            "users=1000,projects=10000,service_accounts=10000"
                .parse::<GenerateSpec>()
                .is_err()
        );
    }

    #[test]
    fn deterministic_for_a_seed() {
        let spec: GenerateSpec =
            "users=50,projects=3,project_members=5,groups=2,group_members=4,service_accounts=2"
                .parse()
                .expect("valid");
        let a = generate(spec, 9);
        let b = generate(spec, 9);
        assert_eq!(
            a.users.keys().collect::<Vec<_>>(),
            b.users.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            super::super::seed::to_document(&a),
            super::super::seed::to_document(&b)
        );
        assert_eq!(a.users.len(), 50);
        assert_eq!(a.projects.len(), 4, "default project plus 3");
        let p = a
            .projects
            .values()
            .find(|p| p.name == "project-0001")
            .expect("project");
        assert_eq!(p.users.len(), 5);
        assert_eq!(p.service_accounts.len(), 2);
        assert_eq!(a.groups.values().next().expect("group").members.len(), 4);
    }
}
