//! `orgops fmt`: canonical order and layout, comments kept with what they are about,
//! idempotent, `--check` with a unified diff, refusal (naming the line) where a comment
//! cannot be kept; the examples and export's output are formatted.

use std::path::Path;

use crate::support::cli::{orgops, root, run};

/// The desired-state files of `examples/` (the workflow files there are GitHub's, not
/// orgops's).
const EXAMPLES: [&str; 3] = [
    "examples/quickstart/orgops.yaml",
    "examples/quickstart/live.yaml",
    "examples/enterprise",
];

const SHUFFLED: &str = "\
# Acme
version: 1
projects:
  # the main one
  - name: Search
    members:
      - {email: zed@x.example, role: member}  # last alphabetically
      - {email: amy@x.example, role: owner}
users:
  - email: zed@x.example   # a contractor
    role: reader

  # the founder
  - email: amy@x.example
    role: owner
";

const FORMATTED: &str = "\
# Acme
version: 1

users:
  # the founder
  - email: amy@x.example
    role: owner
  - email: zed@x.example  # a contractor
    role: reader

projects:
  # the main one
  - name: Search
    members:
      - email: amy@x.example
        role: owner
      - email: zed@x.example  # last alphabetically
        role: member
";

#[test]
fn every_example_is_formatted() {
    for example in EXAMPLES {
        let check = run(orgops().args(["fmt", "--check", "-f", example]));
        assert_eq!(check.code, 0, "{example}: {}{}", check.stdout, check.stderr);
        assert!(check.stdout.is_empty(), "{}", check.stdout);
    }
}

#[test]
fn fmt_orders_and_lays_out_a_shuffled_file_keeping_its_comments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(&file, SHUFFLED).expect("write");

    let check = run(orgops().args(["fmt", "--check", "-f"]).arg(&file));
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stderr.contains("not formatted"), "{}", check.stderr);
    // A unified diff naming the file.
    assert!(check.stdout.starts_with("--- "), "{}", check.stdout);
    assert!(check.stdout.contains("\n+++ "), "{}", check.stdout);
    assert!(check.stdout.contains("\n@@ "), "{}", check.stdout);
    assert!(check.stdout.contains("\n+users:\n"), "{}", check.stdout);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        SHUFFLED,
        "--check wrote"
    );

    let fmt = run(orgops().args(["fmt", "-f"]).arg(&file));
    assert_eq!(fmt.code, 0, "{}", fmt.stderr);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), FORMATTED);
    let again = run(orgops().args(["fmt", "--check", "-f"]).arg(&file));
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

/// Every list of every example reversed (comments dropped: serialized from the data): `fmt
/// --check` fails with a diff, and `fmt` gives back the example's own order.
#[test]
fn fmt_check_fails_on_a_shuffled_copy_of_the_examples() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, example) in [
        "examples/quickstart/orgops.yaml",
        "examples/enterprise/org.yaml",
    ]
    .into_iter()
    .enumerate()
    {
        let text = std::fs::read_to_string(root().join(example)).expect("example");
        let mut doc: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
        reverse_lists(&mut doc);
        let file = dir.path().join(format!("shuffled-{i}.yaml"));
        std::fs::write(&file, serde_saphyr::to_string(&doc).expect("YAML")).expect("write");
        let check = run(orgops().args(["fmt", "--check", "-f"]).arg(&file));
        assert_eq!(check.code, 1, "{example}: {}", check.stderr);
        assert!(check.stdout.contains("\n@@ "), "{}", check.stdout);
        let fmt = run(orgops().args(["fmt", "-f"]).arg(&file));
        assert_eq!(fmt.code, 0, "{}", fmt.stderr);
        let without_comments = |text: &str| -> Vec<String> {
            text.lines()
                .map(|l| match l.find(" #") {
                    Some(at) => l[..at].trim_end().to_string(),
                    None => l.to_string(),
                })
                .filter(|l| !l.trim_start().starts_with('#') && !l.is_empty())
                .collect()
        };
        assert_eq!(
            without_comments(&std::fs::read_to_string(&file).expect("read")),
            without_comments(&text),
            "{example}"
        );
    }
}

fn reverse_lists(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Array(items) => {
            items.reverse();
            items.iter_mut().for_each(reverse_lists);
        }
        // A sink command is an argv: its order is its meaning.
        serde_json::Value::Object(map) => map
            .iter_mut()
            .filter(|(key, _)| *key != "command")
            .for_each(|(_, v)| reverse_lists(v)),
        _ => {}
    }
}

/// Formatting a formatted file changes nothing: the examples, the shuffled fixture, and a
/// freshly formatted copy of each.
#[test]
fn fmt_is_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut texts: Vec<String> = vec![SHUFFLED.to_string()];
    for example in [
        "examples/quickstart/orgops.yaml",
        "examples/quickstart/live.yaml",
    ] {
        texts.push(std::fs::read_to_string(root().join(example)).expect("example"));
    }
    for entry in std::fs::read_dir(root().join("examples/enterprise")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            texts.push(std::fs::read_to_string(&path).expect("example"));
        }
    }
    for (i, text) in texts.iter().enumerate() {
        let file = dir.path().join(format!("f{i}.yaml"));
        std::fs::write(&file, text).expect("write");
        assert_eq!(run(orgops().args(["fmt", "-f"]).arg(&file)).code, 0);
        let once = std::fs::read_to_string(&file).expect("read");
        assert_eq!(run(orgops().args(["fmt", "-f"]).arg(&file)).code, 0);
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            once,
            "file {i}"
        );
    }
}

/// Export writes the canonical form: `fmt --check` passes on an export and on a split one.
#[test]
fn export_output_is_formatted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    let split = dir.path().join("split");
    for (out, extra) in [(&file, None), (&split, Some("--split"))] {
        let export = run(orgops()
            .args(["export", "--emulator", "examples/quickstart/live.yaml"])
            .args(extra)
            .arg("-o")
            .arg(out));
        assert_eq!(export.code, 0, "{}", export.stderr);
        let check = run(orgops().args(["fmt", "--check", "-f"]).arg(out));
        assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    }
}

/// A comment fmt cannot keep in place: refused with the file and line, nothing written.
#[test]
fn fmt_refuses_a_comment_it_cannot_keep() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "inside a flow list that spans lines",
            "version: 1\ngroups:\n  - name: g\n    members: [\n      b@x.example,\n      # why\n      ]\nusers:\n  - {email: b@x.example, role: owner}\n",
            ":6:",
        ),
        (
            "on a default the canonical form does not write",
            "version: 1\npolicy:\n  unmanaged:\n    # the default, spelled out\n    users: report\nusers:\n  - {email: b@x.example, role: owner}\n",
            ":4:",
        ),
    ];
    for (label, text, line) in cases {
        let file = dir.path().join("orgops.yaml");
        std::fs::write(&file, text).expect("write");
        for check in [true, false] {
            let mut command = orgops();
            command.arg("fmt").arg("-f").arg(&file);
            if check {
                command.arg("--check");
            }
            let refused = run(&mut command);
            assert_eq!(refused.code, 1, "{label}: {}", refused.stderr);
            let expected = format!("{}{line}", file.display());
            assert!(
                refused.stderr.contains(&expected),
                "{label}: {}",
                refused.stderr
            );
            assert_eq!(
                std::fs::read_to_string(&file).expect("read"),
                text,
                "{label}"
            );
        }
    }
    // Not a desired-state document: refused, naming the file.
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "version: 1\nusers: {oops\n").expect("write");
    let refused = run(orgops().args(["fmt", "-f"]).arg(&file));
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("bad.yaml"), "{}", refused.stderr);
    assert!(Path::new(&file).exists());
}

/// A file that starts with a byte-order mark, with LF or CRLF line ends: its first comment
/// is kept (so is the mark), and the result is formatted.
#[test]
fn fmt_keeps_the_first_comment_of_a_file_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    for eol in ["\n", "\r\n"] {
        let text = [
            "\u{feff}# Acme, kept by the platform team",
            "version: 1",
            "users:",
            "  - {email: a@x.example, role: owner}  # the founder",
            "",
        ]
        .join(eol);
        std::fs::write(&file, &text).expect("write");
        let fmt = run(orgops().args(["fmt", "-f"]).arg(&file));
        assert_eq!(fmt.code, 0, "{}", fmt.stderr);
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "\u{feff}# Acme, kept by the platform team\nversion: 1\n\nusers:\n  - email: a@x.example  # the founder\n    role: owner\n",
            "line ends {eol:?}"
        );
        let check = run(orgops().args(["fmt", "--check", "-f"]).arg(&file));
        assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    }
}

/// What `validate` refuses, `fmt` refuses too, naming the file and line, and it changes
/// nothing: a custom tag, a `%TAG` directive's tag, a `!!binary` scalar (which read as the
/// name `Hello`), a quoted version, a quoted number.
#[test]
fn fmt_refuses_what_validate_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = "users:\n  - {email: a@x.example, role: owner}\n";
    let cases = [
        (
            "a custom tag",
            "version: 1\nusers:\n  - !custom {email: a@x.example, role: owner}\n".to_string(),
        ),
        (
            "a %TAG directive",
            "%TAG !e! tag:example.com,2000:\n---\nversion: 1\nusers:\n  - email: !e!mail a@x.example\n    role: owner\n".to_string(),
        ),
        (
            "a binary scalar",
            format!("version: 1\n{owner}groups:\n  - name: !!binary SGVsbG8=\n"),
        ),
        ("a quoted version", format!("version: \"1\"\n{owner}")),
        (
            "a quoted number",
            format!(
                "version: 1\n{owner}projects:\n  - name: P\n    rate_limits:\n      gpt-4o: {{max_requests_per_1_minute: \"100\"}}\n"
            ),
        ),
    ];
    for (label, text) in cases {
        let file = dir.path().join("orgops.yaml");
        std::fs::write(&file, &text).expect("write");
        let validate = run(orgops().args(["validate", "-f"]).arg(&file));
        assert_eq!(validate.code, 1, "{label}: validate: {}", validate.stderr);
        for check in [false, true] {
            let mut command = orgops();
            command.arg("fmt").arg("-f").arg(&file);
            if check {
                command.arg("--check");
            }
            let refused = run(&mut command);
            assert_eq!(
                refused.code, 1,
                "{label} (check {check}): {}",
                refused.stderr
            );
            assert!(
                refused.stderr.contains(&format!("{}:", file.display()))
                    && refused.stderr.contains("nothing was formatted"),
                "{label}: {}",
                refused.stderr
            );
            assert!(refused.stdout.is_empty(), "{label}: {}", refused.stdout);
            assert_eq!(
                std::fs::read_to_string(&file).expect("read"),
                text,
                "{label}: fmt changed the file"
            );
        }
    }
}

/// A valid file of more than 250,000 YAML nodes (52,000 users, about what a 50,000-user
/// export holds): `validate` takes it, and so does `fmt --check` (it is formatted).
#[test]
fn fmt_takes_a_valid_file_of_more_than_250_000_nodes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    let mut text = String::from("# a large organization\nversion: 1\n\nusers:\n");
    for i in 0..52_000 {
        let role = if i == 0 { "owner" } else { "reader" };
        text.push_str(&format!(
            "  - email: u{i:06}@x.example  # n{i}\n    role: {role}\n"
        ));
    }
    std::fs::write(&file, &text).expect("write");
    let validate = run(orgops().args(["validate", "-f"]).arg(&file));
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let check = run(orgops().args(["fmt", "--check", "-f"]).arg(&file));
    assert_eq!(check.code, 0, "{}", check.stderr);
}
