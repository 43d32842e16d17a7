//! Benchmark: validating a generated 10,000-user desired state (target: under 200 ms).
//!
//! `cargo bench --bench validate_10k` writes the file to `target/bench/org-10k-users.yaml`,
//! times `config::load` on it in-process, and prints the median; the same file can be timed
//! end to end with `time target/release/orgops validate -f target/bench/org-10k-users.yaml`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use orgops::config::{self, LoadMode};

#[path = "../tests/it/support/config.rs"]
mod generator;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let path = dir.join("org-10k-users.yaml");
    let text = generator::generate_org(10_000, 100);
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        match config::load(&path, LoadMode::Desired) {
            Ok(state) => assert_eq!(
                state.doc.users.len(),
                10_000,
                "the generated org is loaded whole"
            ),
            Err(diagnostics) => {
                eprint!("{}", diagnostics.render_human(false));
                std::process::exit(1);
            }
        }
        samples.push(start.elapsed());
    }
    samples.sort();
    println!(
        "validate 10,000 users ({} bytes): median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        text.len(),
        samples[samples.len() / 2].as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len()
    );
}
