use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

// The load and the read allocate millions of small strings and maps (a 10,000-user file is
// about 400,000 YAML nodes; the read decodes as many JSON values): glibc's malloc and free
// were a fifth of the load's CPU (BENCHMARKS.md, issue 14). mimalloc is small, builds with the C
// compiler cargo already needs, and is what uv and ruff use on Windows (jemalloc elsewhere).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some(message) = orgops::cli::single_dash_long_flag(&args) {
        eprintln!("error: {message}");
        return orgops::exit::ExitStatus::Failure.into();
    }
    // `--no-color` counts before parsing, so that clap's own messages obey it too.
    let no_color = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--no-color");
    if no_color {
        orgops::printer::disable_color();
    }
    let mut command = orgops::cli::Cli::command();
    if no_color {
        command = command.color(clap::ColorChoice::Never);
    }
    let cli = match command
        .try_get_matches()
        .and_then(|matches| orgops::cli::Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    // Logs go to stderr, filtered by RUST_LOG (quiet by default); results go to stdout.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The TLS verifier logs every failed handshake itself; the API client
                // reports it once, with what to do (src/api/client.rs).
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,rustls_platform_verifier=off")
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(orgops::printer::Printer::from_env().stderr_color)
        .init();
    orgops::commands::run(cli).into()
}

/// `--help` and `--version` exit 0; every usage error (unknown flag, missing or bad value)
/// exits 1 with clap's message, never clap's default 2, which means "changes" or "drift".
fn usage_error(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if error.use_stderr() {
        orgops::exit::ExitStatus::Failure.into()
    } else {
        orgops::exit::ExitStatus::Success.into()
    }
}
