//! `orgops fmt [-f PATH] [--check]`: rewrites desired-state files in canonical order and
//! layout (the form `export` writes; see [`crate::config::format`]), keeping comments.
//! A directory means each `*.yaml`/`*.yml` file directly in it, each formatted on its own.
//!
//! Nothing is written unless every file can be formatted: a file that `orgops validate`
//! refuses for what it says itself (its diagnostics are printed), or whose comments cannot
//! be kept in place, is refused (exit 1) naming the line. `--check` writes nothing: for each file that is not formatted it prints
//! a unified diff (stdout) and says so (stderr), and exits 1; 0 when every file is.
//! `--format json` prints instead, on stdout, each file checked and whether it changed (or,
//! with `--check`, would change): `{"format_version": 1, "check", "files": [{"path",
//! "changed"}], "checked", "changed"}`.

use std::path::{Path, PathBuf};

use crate::cli::{FmtArgs, OutcomeFormat};
use crate::config::format::format_text;
use crate::exit::ExitStatus;

pub fn run(args: FmtArgs) -> ExitStatus {
    let path = match &args.file {
        Some(path) => path.clone(),
        None => match crate::config::discover::in_current_dir() {
            Ok(path) => path,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitStatus::Failure;
            }
        },
    };
    let files = match inputs(&path) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitStatus::Failure;
        }
    };
    let mut results = Vec::new();
    let mut refused = false;
    for file in files {
        let label = file.display().to_string();
        let text = match crate::input::read_text(&file, crate::input::MAX_INPUT_BYTES) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: {label}: {e}");
                refused = true;
                continue;
            }
        };
        match format_text(&text, &label) {
            Ok(formatted) => results.push((file, label, text, formatted)),
            Err(e) => {
                eprintln!("error: {e}");
                refused = true;
            }
        }
    }
    if refused {
        eprintln!("error: nothing was formatted");
        return ExitStatus::Failure;
    }
    let json = args.format == OutcomeFormat::Json;
    let mut unformatted = 0;
    for (file, label, text, formatted) in &results {
        if text == formatted {
            continue;
        }
        unformatted += 1;
        if args.check && json {
            eprintln!("{label}: not formatted (`orgops fmt -f {label}` formats it)");
        } else if args.check {
            let diff = similar::TextDiff::from_lines(text.as_str(), formatted.as_str());
            crate::out!(
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(label, &format!("{label} (formatted)"))
            );
            eprintln!("{label}: not formatted (`orgops fmt -f {label}` formats it)");
        } else if let Err(e) = std::fs::write(file, formatted) {
            eprintln!("error: writing {label}: {e}");
            return ExitStatus::Failure;
        } else {
            eprintln!("formatted {label}");
        }
    }
    if json {
        crate::outln!("{}", outcome_json(args.check, &results));
    }
    if args.check && unformatted > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

/// `--format json`: every file checked, in name order, and whether it changed (would change
/// with `--check`).
fn outcome_json(check: bool, results: &[(PathBuf, String, String, String)]) -> String {
    let files: Vec<serde_json::Value> = results
        .iter()
        .map(|(_, label, text, formatted)| {
            serde_json::json!({"path": label, "changed": text != formatted})
        })
        .collect();
    let changed = results.iter().filter(|(_, _, t, f)| t != f).count();
    let value = serde_json::json!({
        "format_version": 1,
        "check": check,
        "files": files,
        "checked": results.len(),
        "changed": changed,
    });
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// The file, or the `*.yaml`/`*.yml` files directly in the directory, in name order.
fn inputs(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (name the desired-state file or directory with -f)",
            path.display()
        )
    })?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))? {
        let entry = entry.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let file = entry.path();
        if file.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        anyhow::bail!(
            "{}: no *.yaml or *.yml file in this directory",
            path.display()
        );
    }
    Ok(files)
}
