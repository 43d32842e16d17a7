//! Generators for desired-state files used by the validate tests and the benchmark.

/// A valid organization of `users` users, spread over groups and `projects` projects.
pub fn generate_org(users: usize, projects: usize) -> String {
    let mut out = String::with_capacity(users * 64);
    out.push_str("version: 1\npolicy:\n  min_owners: 2\nroles:\n  - name: billing-viewer\n    permissions: [api.organization.costs.read]\nusers:\n");
    for i in 0..users {
        let role = if i < 3 { "owner" } else { "reader" };
        out.push_str(&format!(
            "  - email: user{i}@big.example\n    role: {role}\n"
        ));
        if i % 50 == 0 {
            out.push_str("    roles: [billing-viewer]\n");
        }
    }
    out.push_str("groups:\n");
    for g in 0..users.div_ceil(100) {
        out.push_str(&format!("  - name: team-{g}\n    members:\n"));
        for i in (g * 100)..((g + 1) * 100).min(users) {
            out.push_str(&format!("      - user{i}@big.example\n"));
        }
    }
    out.push_str("projects:\n");
    for p in 0..projects {
        out.push_str(&format!("  - name: project-{p}\n    members:\n"));
        for i in (0..users).skip(p % 7).step_by(97).take(20) {
            out.push_str(&format!(
                "      - {{email: user{i}@big.example, role: member}}\n"
            ));
        }
        out.push_str(&format!(
            "    groups:\n      - {{name: team-{}, role: member}}\n    service_accounts:\n      - {{name: ci, role: member}}\n    rate_limits:\n      gpt-4o: {{max_requests_per_1_minute: {}}}\n",
            p % users.div_ceil(100).max(1),
            100 + p
        ));
    }
    out
}
