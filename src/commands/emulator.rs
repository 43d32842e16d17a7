//! `orgops emulator`: seed (or generate) an organization and serve the Admin API emulator.
//! The first line of stdout is the base URL (ending in `/v1`), for scripts to read.

use std::io::Write;

use anyhow::Context;

use crate::cli::EmulatorArgs;
use crate::emulator::{self, DEFAULT_ADMIN_KEY, EmulatorOptions, OrgState, generate, seed};
use crate::exit::ExitStatus;

pub fn run(args: EmulatorArgs) -> ExitStatus {
    match serve(args) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Failure
        }
    }
}

/// `KEY[=owner-email]`.
fn parse_admin_key(raw: &str) -> anyhow::Result<(String, Option<String>)> {
    let (key, owner) = match raw.split_once('=') {
        Some((k, o)) => (k.trim(), Some(o.trim().to_string())),
        None => (raw.trim(), None),
    };
    if key.is_empty() {
        anyhow::bail!("--admin-key needs a key before '='");
    }
    Ok((key.to_string(), owner.filter(|o| !o.is_empty())))
}

fn build(args: &EmulatorArgs) -> anyhow::Result<(OrgState, EmulatorOptions)> {
    let mut admin_keys = args
        .admin_keys
        .iter()
        .map(|k| parse_admin_key(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if admin_keys.is_empty() {
        // The same variable the client reads, so both sides agree without extra flags.
        let from_env = std::env::var("OPENAI_ADMIN_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty());
        if from_env.is_none() {
            eprintln!(
                "note: no --admin-key and no OPENAI_ADMIN_KEY; accepting the test key {DEFAULT_ADMIN_KEY}"
            );
        }
        admin_keys.push((
            from_env.unwrap_or_else(|| DEFAULT_ADMIN_KEY.to_string()),
            None,
        ));
    }
    let mut options = EmulatorOptions {
        seed: args.seed,
        latency_ms: args.latency_ms,
        rate_limit_rpm: args.rate_limit_rpm,
        retry_after: args.retry_after,
        fault_rate: args.fault_rate,
        admin_keys,
        allow_service_account_key_delete: args.allow_service_account_key_delete,
        certificate_pems: Default::default(),
        organization_id: args.org_id.clone(),
    };
    // Refused here, before the URL is printed: a script reading the URL must never be
    // handed an emulator that is about to exit.
    options
        .fault_settings()
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid emulator settings: {e}"))?;
    let org = match (&args.state, &args.generate) {
        (Some(path), _) => {
            let (doc, pems) = seed::load_state_file(path)?;
            options.certificate_pems = pems;
            seed::from_document(&doc, &options.certificate_pems, args.seed)
                .with_context(|| format!("seeding from {}", path.display()))?
        }
        (None, Some(spec)) => generate::generate(spec.parse()?, args.seed),
        (None, None) => OrgState::new(args.seed),
    };
    Ok((org, options))
}

fn serve(args: EmulatorArgs) -> anyhow::Result<()> {
    let (org, options) = build(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener
            .local_addr()
            .context("reading the listen address")?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "http://{addr}/v1")
            .and_then(|_| stdout.flush())
            .context("writing the URL")?;
        tokio::select! {
            served = emulator::serve(org, options, listener) => served,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_key_flag_splits_owner() {
        assert_eq!(
            parse_admin_key("sk-a=ada@x.example").expect("ok"),
            ("sk-a".into(), Some("ada@x.example".into()))
        );
        assert_eq!(parse_admin_key("sk-a").expect("ok"), ("sk-a".into(), None));
        assert!(parse_admin_key("=ada@x.example").is_err());
    }
}
