//! The layers of `src/lib.rs` hold: every top-level module imports only from modules of an
//! earlier layer.
//!
//! How it works: the layer list is read from the `# Layers` section of `src/lib.rs` (so the
//! doc is what is checked); each product file under `src/` is reduced to its code (comments
//! and every item under `#[cfg(test)]` are dropped, as are `tests.rs` files, since tests may
//! reach anywhere), and every `crate::NAME` path and `use crate::{NAME, ..}`
//! group names a top-level module it uses. A use of a module on the same or a later layer is
//! an upward import and fails the test, naming the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Layer number by module, from the `# Layers` list of `src/lib.rs`: lines `//! N. a, b, c`.
fn layers() -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs is readable");
    let mut layers = BTreeMap::new();
    let mut inside = false;
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            inside = doc == "# Layers";
            continue;
        }
        if !inside {
            continue;
        }
        let Some((number, modules)) = doc.split_once(". ") else {
            continue;
        };
        let Ok(number) = number.parse::<usize>() else {
            continue;
        };
        let modules = modules.split(':').next().unwrap_or_default();
        for module in modules.split(',') {
            let module = module.trim().trim_matches('`');
            if !module.is_empty() {
                layers.insert(module.to_string(), number);
            }
        }
    }
    assert!(
        layers.len() > 5,
        "src/lib.rs has no `# Layers` list of the form `//! 1. a, b`"
    );
    layers
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src is readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Top-level modules a line of code names through `crate::`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue; // `$crate::`, `my_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
            continue;
        }
        let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

/// Every upward import: (file:line, module, the module it names).
fn upward_imports() -> Vec<String> {
    let layers = layers();
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut problems = Vec::new();
    for path in files {
        let relative = path.strip_prefix(&root).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(top.as_str(), "main" | "lib" | "emulator")
            || relative.file_name().is_some_and(|n| n == "tests.rs")
        {
            continue;
        }
        let Some(&own) = layers.get(&top) else {
            problems.push(format!(
                "src/{top}: not in the `# Layers` list of src/lib.rs"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("source is readable");
        // Multi-line `use crate::{..}` groups are joined so their names are seen.
        let mut joined = String::new();
        let mut lines = Vec::new();
        // Inside an item under `#[cfg(test)]` (test code may reach anywhere): the brace depth
        // that ends it, or `Some(0)` until the item's first line.
        let mut test_item: Option<i64> = None;
        let mut depth: i64 = 0;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let opened = code.matches('{').count() as i64 - code.matches('}').count() as i64;
            if line.trim_start().starts_with("#[cfg(test)]") {
                test_item = Some(depth);
                continue;
            }
            if let Some(end) = test_item {
                depth += opened;
                let attribute = code.trim_start().starts_with("#[");
                // A one-line item (`mod simulate;`) or the closing line of a block item.
                if !attribute
                    && depth <= end
                    && (code.contains('}') || code.trim_end().ends_with(';'))
                {
                    test_item = None;
                }
                continue;
            }
            depth += opened;
            if !joined.is_empty() || code.contains("crate::{") && !code.contains('}') {
                joined.push_str(code);
                if code.contains('}') {
                    lines.push((n + 1, std::mem::take(&mut joined)));
                }
                continue;
            }
            lines.push((n + 1, code.to_string()));
        }
        for (n, code) in lines {
            for used in crate_paths(&code) {
                if used == top {
                    continue;
                }
                let allowed = match layers.get(&used) {
                    Some(&layer) => layer < own,
                    // The emulator is started by ops and commands only.
                    None if used == "emulator" => matches!(top.as_str(), "ops" | "commands"),
                    None => true, // `crate::VERSION` and other items of lib.rs
                };
                if !allowed {
                    problems.push(format!(
                        "src/{}:{n}: `{top}` (layer {own}) uses `{used}` (layer {})",
                        relative.display(),
                        layers.get(&used).map_or("-".to_string(), |l| l.to_string())
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn imports_run_down_the_layers_of_lib_rs() {
    let problems = upward_imports();
    assert!(
        problems.is_empty(),
        "imports against the layer order of src/lib.rs:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_a_use_group_and_a_path() {
    assert_eq!(
        crate_paths("use crate::{plan::Plan, ops::x};"),
        vec!["plan", "ops"]
    );
    assert_eq!(
        crate_paths("let x = crate::ops::plan::plan(a);"),
        vec!["ops"]
    );
    assert!(crate_paths("$crate::x").is_empty());
}
