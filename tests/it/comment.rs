//! The pull-request comment a reviewer cannot misread (issue 25): what grants or removes
//! access or money comes first, named; destructive changes are coloured; money and limits
//! read in words; the order graph is readable at 100 % in GitHub's 782-px comment box; a cut
//! keeps what matters and says at the top what it left out; no markup shows literally.
//!
//! The plans: the quickstart, the enterprise example and generated plans ([`Generated`]) of
//! about 200 and 1,400 changes. `scripts/render_comment.sh` renders the same markdown as
//! GitHub does and screenshots it.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::support::cli::{QUICKSTART, QUICKSTART_LIVE, orgops, run};

/// A generated organization and a desired state that changes it in every way a reviewer
/// must see: promotions and demotions (the admin key's owner among them), a custom role
/// losing a permission, hosted tools switched off, model permissions unset from a deny list,
/// a lowered spend limit, changed rate limits, groups granted to projects, service accounts
/// with keys, invites, and new projects whose grants wait for them.
pub struct Generated {
    pub promotions: usize,
    pub demotions: usize,
    pub invites: usize,
    pub groups: usize,
    pub new_projects: usize,
    /// `policy.max_removals`: the medium plan is refused by it too.
    pub max_removals: usize,
}

impl Generated {
    /// About 200 changes.
    pub const MEDIUM: Generated = Generated {
        promotions: 50,
        demotions: 10,
        invites: 100,
        groups: 12,
        new_projects: 6,
        max_removals: 10,
    };

    /// About 1,400 changes: more than one comment holds.
    pub const LARGE: Generated = Generated {
        promotions: 100,
        demotions: 10,
        invites: 1230,
        groups: 20,
        new_projects: 10,
        max_removals: 5000,
    };

    /// (desired, live) as YAML.
    pub fn files(&self) -> (String, String) {
        let mut live =
            String::from("version: 1\nusers:\n  - {email: root@gen.example, role: owner}\n");
        let mut desired = format!(
            "version: 1\npolicy:\n  unmanaged:\n    users: report\n    invites: remove\n    groups: report\n    project_groups: remove\n    project_members: remove\n    settings: remove\n    projects: report\n  max_removals: {}\n  min_owners: 1\nusers:\n  - {{email: root@gen.example, role: reader}}\n",
            self.max_removals
        );
        for i in 0..self.demotions {
            live.push_str(&format!(
                "  - {{email: owner{i:03}@gen.example, role: owner}}\n"
            ));
            desired.push_str(&format!(
                "  - {{email: owner{i:03}@gen.example, role: reader}}\n"
            ));
        }
        for i in 0..self.promotions {
            live.push_str(&format!(
                "  - {{email: reader{i:03}@gen.example, role: reader}}\n"
            ));
            desired.push_str(&format!(
                "  - {{email: reader{i:03}@gen.example, role: owner}}\n"
            ));
        }
        for i in 0..self.invites {
            desired.push_str(&format!(
                "  - {{email: new{i:04}@gen.example, role: reader}}\n"
            ));
        }
        let role = |permissions: &str| {
            format!(
                "roles:\n  - name: billing-viewer\n    permissions: [{permissions}]\n    description: Read costs\n"
            )
        };
        live.push_str(&role(
            "api.organization.costs.read, api.organization.invoices.read",
        ));
        desired.push_str(&role("api.organization.costs.read"));
        let groups: String = (0..self.groups)
            .map(|g| format!("  - name: team{g:02}\n"))
            .collect();
        live.push_str(&format!("groups:\n{groups}"));
        desired.push_str(&format!("groups:\n{groups}"));

        live.push_str(
            "projects:\n  - name: Payments\n    spend_limit: {amount_cents: 6000000, currency: USD, interval: month}\n    model_permissions: {mode: deny_list, models: [gpt-4o]}\n    rate_limits:\n      gpt-4o: {max_requests_per_1_minute: 900, max_tokens_per_1_minute: 150000}\n      text-embedding-3-small: {max_requests_per_1_day: 10000000}\n",
        );
        desired.push_str(
            "projects:\n  - name: Payments\n    spend_limit: {amount_cents: 5000000}\n    hosted_tools: {web_search: false, image_generation: false, mcp: false}\n    rate_limits:\n      gpt-4o: {max_requests_per_1_minute: 600, max_tokens_per_1_minute: 150000}\n      text-embedding-3-small: {max_requests_per_1_day: 100000}\n    service_accounts:\n      - {name: ledger, role: member, sink: {file: secrets/ledger.key}}\n    groups:\n",
        );
        for g in 0..self.groups / 2 {
            desired.push_str(&format!("      - {{name: team{g:02}, role: member}}\n"));
        }
        for p in 0..self.new_projects {
            desired.push_str(&format!(
                "  - name: Project {p:02}\n    service_accounts:\n      - {{name: batch, role: member, sink: {{file: secrets/p{p}.key}}}}\n    groups:\n"
            ));
            for g in (p % self.groups..self.groups).step_by(self.new_projects.max(1)) {
                desired.push_str(&format!("      - {{name: team{g:02}, role: member}}\n"));
            }
        }
        (desired, live)
    }
}

/// `orgops plan ARGS --format FORMAT` of `desired` against `live` (YAML texts) in a temporary
/// directory: stdout, and the exit code (0, 2 or 3: planned, refused).
pub fn plan_texts(desired: &str, live: &str, format: &str) -> (String, i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("orgops.yaml"), desired).expect("write");
    std::fs::write(dir.path().join("live.yaml"), live).expect("write");
    plan_in(dir.path(), "orgops.yaml", "live.yaml", format)
}

fn plan_in(dir: &Path, file: &str, live: &str, format: &str) -> (String, i32) {
    let out = run(orgops().current_dir(dir).args([
        "plan",
        "-f",
        file,
        "--emulator",
        live,
        "--format",
        format,
    ]));
    assert!(
        [0, 3].contains(&out.code),
        "plan exited {}: {}{}",
        out.code,
        out.stdout,
        out.stderr
    );
    (out.stdout, out.code)
}

/// The markdown (and the JSON plan) of the three example plans.
pub fn quickstart(format: &str) -> String {
    plan_in(
        &crate::support::cli::root(),
        QUICKSTART,
        QUICKSTART_LIVE,
        format,
    )
    .0
}

pub fn enterprise(format: &str) -> String {
    plan_in(
        &crate::support::cli::root(),
        "examples/enterprise",
        "examples/enterprise-live/live.yaml",
        format,
    )
    .0
}

pub fn generated(size: &Generated, format: &str) -> String {
    let (desired, live) = size.files();
    plan_texts(&desired, &live, format).0
}

/// The text between the heading `heading` and the next `#### ` heading (or the end).
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{markdown}"));
    let rest = &markdown[start + heading.len()..];
    let end = rest.find("\n#### ").unwrap_or(rest.len());
    &rest[..end]
}

fn position(markdown: &str, what: &str) -> usize {
    markdown
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in:\n{markdown}"))
}

fn destructive_keys(json: &str) -> BTreeSet<String> {
    let plan: Value = serde_json::from_str(json).expect("JSON plan");
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["destructive"] == Value::Bool(true))
        .map(|c| c["key"].as_str().expect("key").to_string())
        .collect()
}

/// Item 1: every change that grants or removes access or money is in "Needs attention",
/// before anything else, with the person, role or project named.
#[test]
fn needs_attention_names_every_grant_and_removal_of_access_or_money_first() {
    let markdown = generated(&Generated::MEDIUM, "markdown");
    let attention = section(&markdown, "#### Needs attention");
    let first = position(&markdown, "#### Needs attention");
    for later in ["| action |", "#### Destructive changes", "<details>"] {
        assert!(
            first < position(&markdown, later),
            "Needs attention must come before {later:?}:\n{markdown}"
        );
    }
    let line_of = |what: &str| -> &str {
        attention
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line naming {what:?} in Needs attention:\n{attention}"))
    };
    for i in 0..Generated::MEDIUM.promotions {
        let line = line_of(&format!("`reader{i:03}@gen.example`"));
        assert!(line.contains("reader → owner"), "{line}");
    }
    for i in 0..Generated::MEDIUM.demotions {
        let line = line_of(&format!("`owner{i:03}@gen.example`"));
        assert!(line.contains("owner → reader"), "{line}");
    }
    let root = line_of("`root@gen.example`");
    assert!(root.contains("owner → reader"), "{root}");
    assert!(root.contains("admin key"), "{root}");
    let role = line_of("`billing-viewer`");
    assert!(role.contains("invoices.read"), "{role}");
    let tools = line_of("web search");
    assert!(
        tools.contains("`Payments`") && tools.contains("image generation") && tools.contains("MCP"),
        "{tools}"
    );
    let models = line_of("gpt-4o is allowed");
    assert!(models.contains("`Payments`"), "{models}");
    let spend = line_of("$60,000.00 → $50,000.00 per month");
    assert!(spend.contains("`Payments`"), "{spend}");
    let rate = line_of("10,000,000 → 100,000 requests per day");
    assert!(rate.contains("text-embedding-3-small"), "{rate}");
    let grant = line_of("`team00`");
    assert!(grant.contains("Payments"), "{grant}");
    let key = line_of("`ledger`");
    assert!(key.contains("API key"), "{key}");
}

/// Item 2: GitHub colours only the lines of a `diff` block that start with `-`, `+` or `!`;
/// every destructive change starts with one of those that is not `+`.
#[test]
fn every_destructive_change_is_coloured() {
    for (name, markdown, json) in [
        ("enterprise", enterprise("markdown"), enterprise("json")),
        ("quickstart", quickstart("markdown"), quickstart("json")),
    ] {
        let destructive = destructive_keys(&json);
        assert!(!destructive.is_empty(), "{name}");
        let section = section(&markdown, "#### Destructive changes");
        for key in destructive {
            let line = section
                .lines()
                .find(|l| {
                    l.split("  (")
                        .next()
                        .is_some_and(|h| h.ends_with(&format!(" {key}")))
                })
                .unwrap_or_else(|| panic!("{name}: no line for {key} in:\n{section}"));
            assert!(
                line.starts_with('-') || line.starts_with('!'),
                "{name}: a destructive change GitHub shows grey: {line:?}"
            );
        }
    }
}

/// Item 3: amounts of money and limits in words, and a summary whose counts agree with the
/// destructive count.
#[test]
fn money_and_limits_read_in_words_and_the_summary_counts_the_destructive_changes() {
    let markdown = enterprise("markdown");
    assert!(
        markdown.contains("$60,000.00 → $50,000.00 per month"),
        "{markdown}"
    );
    assert!(!markdown.contains("amount_cents: 6000000"), "{markdown}");
    let n = destructive_keys(&enterprise("json")).len();
    assert!(
        markdown.contains(&format!("#### Destructive changes ({n})")),
        "{markdown}"
    );
    let head = &markdown[..position(&markdown, "#### ")];
    assert!(
        head.contains(&format!("{n} destructive")),
        "the summary must count the {n} destructive changes:\n{head}"
    );
    let quick = quickstart("markdown");
    assert!(
        quick.contains("10,000,000 → 100,000 requests per day"),
        "{quick}"
    );
}

/// Mermaid's defaults (16-px labels, 50-px spacing) and a generous 9 px per character:
/// the width of a `flowchart LR` as dagre lays it out, in pixels.
fn estimated_width(graph: &str) -> f64 {
    let mut width: std::collections::BTreeMap<String, f64> = Default::default();
    let mut edges: Vec<(String, String)> = Vec::new();
    for line in graph.lines().map(str::trim) {
        if let Some((node, label)) = line.split_once("[\"") {
            let longest = label
                .trim_end_matches("\"]")
                .split("<br>")
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(0);
            width.insert(node.to_string(), longest as f64 * 9.0 + 30.0);
        } else if let Some((from, to)) = line.split_once(" --> ") {
            edges.push((from.to_string(), to.to_string()));
        }
    }
    // Rank = longest path from a source; the layout is as wide as its ranks side by side.
    let mut rank: std::collections::BTreeMap<String, usize> =
        width.keys().map(|n| (n.clone(), 0)).collect();
    for _ in 0..rank.len() {
        for (from, to) in &edges {
            let r = rank[from] + 1;
            if rank[to] < r {
                rank.insert(to.clone(), r);
            }
        }
    }
    let ranks = rank.values().max().map_or(0, |m| m + 1);
    let widest = |r: usize| {
        width
            .iter()
            .filter(|(n, _)| rank[*n] == r)
            .map(|(_, w)| *w)
            .fold(0.0, f64::max)
    };
    (0..ranks).map(widest).sum::<f64>() + 50.0 * ranks.saturating_sub(1) as f64 + 16.0
}

/// Item 4: a graph is drawn only where it helps, left to right, with only the changes that
/// wait or are waited for, and it fits the comment box at 100 %.
#[test]
fn the_order_graph_is_readable_in_the_comment_box() {
    let enterprise = enterprise("markdown");
    assert!(
        !enterprise.contains("```mermaid") && !enterprise.contains("an arrow points"),
        "a plan without dependencies draws no graph:\n{enterprise}"
    );
    for (name, markdown) in [
        ("quickstart", quickstart("markdown")),
        ("generated", generated(&Generated::MEDIUM, "markdown")),
    ] {
        let start = position(&markdown, "```mermaid\n") + "```mermaid\n".len();
        let graph = &markdown[start..start + markdown[start..].find("```").expect("end")];
        assert!(graph.starts_with("flowchart LR\n"), "{name}:\n{graph}");
        let mut nodes = BTreeSet::new();
        let mut linked = BTreeSet::new();
        for line in graph.lines().map(str::trim) {
            if let Some((node, label)) = line.split_once("[\"") {
                nodes.insert(node.to_string());
                for part in label.trim_end_matches("\"]").split("<br>") {
                    assert!(
                        part.chars().count() <= 24,
                        "{name}: a label line mermaid wraps inside a name: {part:?}"
                    );
                }
            } else if let Some((from, to)) = line.split_once(" --> ") {
                linked.insert(from.to_string());
                linked.insert(to.to_string());
            }
        }
        assert_eq!(
            nodes, linked,
            "{name}: only changes with dependencies:\n{graph}"
        );
        let width = estimated_width(graph);
        assert!(
            width <= 750.0,
            "{name}: about {width} px wide, scaled below 100 % in a 782-px box:\n{graph}"
        );
    }
}

/// Item 5: a plan longer than a comment keeps everything that needs attention, says at the
/// top what it left out per kind, and each cut section says how many it shows.
#[test]
fn a_cut_keeps_what_needs_attention_and_says_at_the_top_what_is_left_out() {
    let markdown = generated(&Generated::LARGE, "markdown");
    assert!(markdown.chars().count() <= 65_536, "{}", markdown.len());
    let attention = section(&markdown, "#### Needs attention");
    for i in 0..Generated::LARGE.promotions {
        assert!(
            attention.contains(&format!("`reader{i:03}@gen.example`")),
            "promotion {i} was cut"
        );
    }
    let note = position(&markdown, "too long for one comment");
    assert!(
        note < position(&markdown, "#### Needs attention"),
        "the cut note must be at the top"
    );
    let summary = markdown
        .lines()
        .find(|l| l.contains("<b>Invites</b>"))
        .expect("the invites section");
    assert!(
        summary.contains(" of 1,230 shown)"),
        "the invites section must say how many it shows: {summary}"
    );
    let top = &markdown[note..note + markdown[note..].find("\n\n").expect("end of note")];
    assert!(
        top.contains("Invites"),
        "the note names the kinds cut: {top}"
    );
}

/// Item 6: no markup shows literally: code in `<summary>` and refusals, `<` and `>` in names,
/// refusal lists one per line and not repeated, the admin key's owner named.
#[test]
fn no_markup_shows_literally() {
    let markdown = generated(&Generated::MEDIUM, "markdown");
    let refusal_start = position(&markdown, "> [!CAUTION]");
    let refusal = &markdown
        [refusal_start..refusal_start + markdown[refusal_start..].find("\n\n").expect("end")];
    assert!(!refusal.contains("\\`"), "literal backticks:\n{refusal}");
    for line in refusal.lines() {
        let keys = line.matches("`user:").count() + line.matches("`project:").count();
        assert!(
            keys <= 3,
            "{keys} keys on one {}-char line: {line}",
            line.len()
        );
    }
    let key_owner = refusal
        .lines()
        .find(|l| l.contains("key_owner"))
        .expect("the key_owner refusal");
    assert!(key_owner.contains("root@gen.example"), "{key_owner}");
    // The destructive changes are listed once, below, not again in the refusal.
    assert!(
        !refusal.contains("`user:owner005@gen.example`"),
        "{refusal}"
    );
    for line in markdown.lines().filter(|l| l.contains("<summary>")) {
        assert!(
            !line.contains('`'),
            "backticks GitHub shows literally: {line}"
        );
    }

    // A name with `<` and `>`.
    let desired = "version: 1\npolicy:\n  unmanaged: {projects: report}\nusers:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: R&D <beta> -> prod\n    service_accounts:\n      - {name: bot, role: member}\n";
    let live = "version: 1\nusers:\n  - {email: ada@example.com, role: owner}\n";
    let (markdown, _) = plan_texts(desired, live, "markdown");
    assert!(!markdown.contains("\\u{3c}"), "{markdown}");
    assert!(!markdown.contains("#gt;"), "{markdown}");
    assert!(
        markdown.contains("+ create project:R&D <beta> -> prod\n"),
        "{markdown}"
    );
}

/// The comments of the three example plans, as a reviewer reads them (items 1–7 of issue 25
/// visible in each: `scripts/render_comment.sh` renders the same markdown).
#[test]
fn snapshots_of_the_example_comments() {
    insta::assert_snapshot!("enterprise_plan_markdown", enterprise("markdown"));
    insta::assert_snapshot!(
        "generated_200_plan_markdown",
        generated(&Generated::MEDIUM, "markdown")
    );
}

/// A plan whose names hold everything markdown, HTML and mermaid read: live projects the file
/// archives, and a declared project whose service account waits for it (so it is drawn).
fn hostile_names() -> String {
    let names = [
        "A``` </details><!-- the rest is hidden `x`",
        "<img src=x onerror=alert(1)> & <b>bold</b>",
        "%%{init: {\"theme\": \"dark\"}}%% #gt; #quot; |a|b|",
    ];
    let mut live =
        String::from("version: 1\nusers:\n  - {email: ada@example.com, role: owner}\nprojects:\n");
    for name in names {
        live.push_str(&format!(
            "  - name: {}\n",
            serde_json::to_string(name).expect("json")
        ));
    }
    let desired = "version: 1\npolicy:\n  max_removals: 10\n  unmanaged: {projects: archive}\nusers:\n  - {email: ada@example.com, role: owner}\nprojects:\n  - name: \"R&D <beta> `x` #1 %d \\\"q\\\" -> prod\"\n    service_accounts:\n      - {name: \"bot <1>\", role: owner, sink: {file: secrets/bot.key}}\n";
    plan_texts(desired, &live, "markdown").0
}

/// The render check of issue 25: the comments of the example plans rendered as GitHub shows
/// them (GFM, GitHub's CSS and highlighting, mermaid 11.17.2, Debian's Chromium), screenshots
/// under `target/render-comment/`, failing when a mermaid block does not parse, a diagram or
/// label is not readable at 100 %, a destructive line is not coloured or markup shows
/// literally. Runs when `ORGOPS_RENDER_CHECK` names the directory of the installed tools
/// (`scripts/render_comment.sh` installs them and sets it); otherwise it says so and passes.
#[test]
fn render_check() {
    let Some(tools) = std::env::var_os("ORGOPS_RENDER_CHECK") else {
        eprintln!("render check skipped: run scripts/render_comment.sh");
        return;
    };
    let dir = crate::support::cli::root().join("target/render-comment");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("target/render-comment");
    let small = Generated {
        promotions: 8,
        demotions: 2,
        invites: 12,
        groups: 4,
        new_projects: 2,
        max_removals: 50,
    };
    let (repo, live) = crate::github::quickstart_pr_repo();
    for (name, markdown) in [
        ("quickstart", quickstart("markdown")),
        ("enterprise", enterprise("markdown")),
        ("generated-40", generated(&small, "markdown")),
        ("generated-200", generated(&Generated::MEDIUM, "markdown")),
        ("generated-1400", generated(&Generated::LARGE, "markdown")),
        (
            "pull-request",
            crate::github::pr_plan(repo.path(), &live, "markdown"),
        ),
        ("hostile-names", hostile_names()),
    ] {
        std::fs::write(dir.join(format!("{name}.md")), markdown).expect("write");
    }
    let out = std::process::Command::new("node")
        .arg(Path::new(&tools).join("render.mjs"))
        .arg(&dir)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(out.status.success(), "the render check failed:\n{report}");
}
