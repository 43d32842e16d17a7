use std::process::ExitCode;

use clap::Parser;

// The load and the read allocate millions of small strings and maps (a 10,000-user file is
// about 400,000 YAML nodes; the read decodes as many JSON values): glibc's malloc and free
// were a fifth of the load's CPU (BENCHMARKS.md, issue 14). mimalloc is small, builds with the C
// compiler cargo already needs, and is what uv and ruff use on Windows (jemalloc elsewhere).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some(message) = orgops::cli::single_dash_long_flag(&args) {
        eprintln!("error: {message}");
        return orgops::exit::ExitStatus::Failure.into();
    }
    let cli = match orgops::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
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
