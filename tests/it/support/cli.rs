//! Running the real `orgops` binary: a quiet, colourless environment with no credentials
//! inherited from the machine, and the output captured as text.

use std::path::PathBuf;

use assert_cmd::Command;

/// The repository root (examples, fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `orgops` run from the repository root, without colour, progress or ambient credentials.
pub fn orgops() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("orgops"));
    command
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env("ORGOPS_NO_PROGRESS", "1")
        .env_remove("OPENAI_ADMIN_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_ORG_ID")
        // Outside GitHub Actions unless a test sets them (CI itself may run inside Actions).
        .env_remove("GITHUB_EVENT_PATH")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY");
    command
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion.
pub fn run(command: &mut Command) -> Run {
    let output = command.output().expect("orgops runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: text(&output.stdout),
        stderr: text(&output.stderr),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "orgops panicked: {}",
        run.stderr
    );
    run
}

/// Runs `orgops ARGS`.
pub fn orgops_run(args: &[&str]) -> Run {
    run(orgops().args(args))
}

/// Starts `orgops emulator ARGS` as a separate process and waits for the URL it prints
/// first. The caller owns the child (and kills it on drop).
pub fn spawn_emulator(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orgops"))
        .arg("emulator")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("emulator starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("emulator prints its URL");
    (child, line.trim().to_string())
}

/// The quickstart example: the desired state and the live org it plans against.
pub const QUICKSTART: &str = "examples/quickstart/orgops.yaml";
pub const QUICKSTART_LIVE: &str = "examples/quickstart/live.yaml";

/// `plan --out DIR/p.json` of the quickstart against its emulator state; the saved plan's path.
pub fn save_quickstart_plan(dir: &std::path::Path) -> std::path::PathBuf {
    let saved = dir.join("p.json");
    let plan = run(orgops()
        .args([
            "plan",
            "-f",
            QUICKSTART,
            "--emulator",
            QUICKSTART_LIVE,
            "--out",
        ])
        .arg(&saved));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    saved
}

/// `text` (a saved plan a test edited) with its fingerprint made to match again, as anyone
/// holding orgops can do: the fingerprint then tells nothing, and what refuses the edit
/// must be `apply --plan`'s own checks.
pub fn reseal(text: &str) -> String {
    let mut saved = orgops::plan::saved::from_json(text).expect("a saved plan");
    orgops::plan::saved::seal(&mut saved);
    orgops::plan::saved::to_json(&saved)
}
