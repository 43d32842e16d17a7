//! Stamps the version with the git commit when built from a checkout: `orgops --version`
//! prints `orgops 0.1.0 (f780d8b1c2a3)`. Without git, or outside a checkout of this crate (a
//! crates.io tarball, a vendored copy inside another repository), it is the bare version.
//! `ORGOPS_BUILD_COMMIT` overrides the commit (release builds from an exported tree).

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=ORGOPS_BUILD_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("ORGOPS_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| checkout_commit(&manifest_dir));
    let full = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=ORGOPS_VERSION={full}");
}

/// The commit of the checkout whose top level is this crate's directory, if any; asks cargo
/// to rebuild when HEAD moves.
fn checkout_commit(manifest_dir: &Path) -> Option<String> {
    let top = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), manifest_dir) {
        return None;
    }
    // Only files that exist: cargo reruns the script (and rebuilds the crate) on every build
    // for a missing one. A commit rewrites HEAD (detached) or the branch's loose ref; after
    // `git gc` packs it, the vanished loose ref triggers one rerun, which watches packed-refs.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for file in &watched {
        if let Some(path) = git(manifest_dir, &["rev-parse", "--git-path", file]) {
            let path = manifest_dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    git(manifest_dir, &["rev-parse", "--short=12", "HEAD"])
}
