//! Where the desired state is when `-f` is not given: `orgops.yaml`, `orgops.yml` or an
//! `orgops/` directory in the current directory, like `terraform` reading `*.tf` there and
//! `cargo` finding `Cargo.toml`. Exactly one of them must exist: two are refused rather than
//! one silently winning, so an old file left beside a new directory is never planned.

use std::path::{Path, PathBuf};

/// The candidates, in the order errors list them.
pub const CANDIDATES: [&str; 3] = ["orgops.yaml", "orgops.yml", "orgops/"];

/// The desired state in the current directory, as a relative path (so diagnostics say
/// `orgops.yaml:3:5`).
pub fn in_current_dir() -> anyhow::Result<PathBuf> {
    in_dir(Path::new("."))
}

/// The desired state in `dir`, relative to `dir`.
pub fn in_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let found: Vec<&str> = CANDIDATES
        .iter()
        .copied()
        .filter(|name| {
            let path = dir.join(name.trim_end_matches('/'));
            if name.ends_with('/') {
                path.is_dir()
            } else {
                path.exists()
            }
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(PathBuf::from(one.trim_end_matches('/'))),
        [] => anyhow::bail!(
            "no orgops.yaml, orgops.yml or orgops/ directory in the current directory. \
             Name the desired state with `-f FILE` (or `-f DIR`), run in its directory \
             (`-C DIR`), or write one from the live organization with \
             `orgops export -o orgops.yaml`"
        ),
        several => anyhow::bail!(
            "{} are in the current directory and orgops will not guess which one is the \
             desired state: choose one with {}, or remove the others",
            several.join(" and "),
            several
                .iter()
                .map(|name| format!("`-f {name}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_candidate_is_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(in_dir(dir.path()).is_err());
        std::fs::write(dir.path().join("orgops.yml"), "version: 1\n").expect("write");
        assert_eq!(
            in_dir(dir.path()).expect("found"),
            PathBuf::from("orgops.yml")
        );
        // A file named like the directory is not the directory.
        std::fs::write(dir.path().join("orgops"), "").expect("write");
        assert_eq!(
            in_dir(dir.path()).expect("found"),
            PathBuf::from("orgops.yml")
        );
        std::fs::write(dir.path().join("orgops.yaml"), "version: 1\n").expect("write");
        let error = in_dir(dir.path()).expect_err("ambiguous").to_string();
        assert!(error.contains("orgops.yaml and orgops.yml"), "{error}");
        assert!(
            error.contains("`-f orgops.yaml` or `-f orgops.yml`"),
            "{error}"
        );
    }
}
