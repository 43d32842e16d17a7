//! `orgops export [-o PATH] [--split] [--force] [--rate-limits differing|all]`: the live
//! organization as a desired-state file (stdout by default), or as a directory of files.
//! With `-o`, certificate PEMs are written beside the file under `certs/`; on stdout they
//! cannot be, and a note on stderr says so. See [`ops::export_write`] for what is written.
//! With `--target KEY -o PATH`, only the named live objects are read and merged into the
//! existing file or directory (see [`ops::adopt`]).

use crate::cli::{ExportArgs, ExportRateLimits, OutcomeFormat};
use crate::exit::ExitStatus;
use crate::ops::{self, export_write, target::Target};
use crate::printer::Printer;

pub fn run(args: ExportArgs) -> ExitStatus {
    match export(&args) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Failure
        }
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let printer = Printer::from_env();
    let json = args.format == OutcomeFormat::Json;
    if json && args.output.is_none() {
        anyhow::bail!(
            "--format json describes what `-o PATH` wrote; without -o the export itself is \
             stdout (YAML)"
        );
    }
    if !args.targets.is_empty() {
        return adopt(args, printer);
    }
    if let Some(output) = &args.output {
        export_write::refuse_before_reading(output, args.split, args.force)?;
    }
    let target = Target::open_with(args.target.emulator.as_deref(), args.target.concurrency)?;
    let options = ops::export::ExportOptions {
        skip_role_assignments: args.skip_role_assignments,
    };
    let mut export = ops::export::export(&target, options, printer)?;
    if args.rate_limits == ExportRateLimits::Differing {
        export_write::leave_out_common_rate_limits(&mut export.doc);
    }
    match &args.output {
        Some(output) if args.split => {
            let files = export_write::split(&export)?;
            let removed = export_write::write(&files, output, true, args.force)?;
            for path in &removed {
                eprintln!("removed {} (--force)", path.display());
            }
            if json {
                crate::outln!("{}", outcome_json(&export, output, &files, &removed));
            } else {
                eprintln!(
                    "exported {} users, {} projects to {} ({} files)",
                    export.doc.users.len(),
                    export.doc.projects.len(),
                    output.display(),
                    files.files.len()
                );
            }
        }
        Some(output) if output.as_os_str().to_string_lossy().ends_with(['/', '\\']) => {
            anyhow::bail!(
                "{} names a directory: pass --split to write one file per project into it, or name a file",
                output.display()
            )
        }
        Some(output) => {
            let name = output.file_name().ok_or_else(|| {
                anyhow::anyhow!(
                    "{} names no file: name a file, or pass --split to write a directory",
                    output.display()
                )
            })?;
            let dir = output.parent().unwrap_or(std::path::Path::new(""));
            let files = export_write::single_file(&export, std::path::Path::new(name))?;
            export_write::write(&files, dir, false, args.force)?;
            if json {
                crate::outln!("{}", outcome_json(&export, dir, &files, &[]));
            } else {
                eprintln!(
                    "exported {} users, {} projects to {}",
                    export.doc.users.len(),
                    export.doc.projects.len(),
                    output.display()
                );
            }
        }
        None => {
            crate::out!("{}", ops::export::to_yaml(&export.doc)?);
            if !export.certificate_files.is_empty() {
                eprintln!(
                    "note: {} certificate file(s) were not written (use -o FILE to write them beside the export)",
                    export.certificate_files.len()
                );
            }
        }
    }
    Ok(())
}

/// `export --target KEY -o PATH`: the named live objects merged into the existing file or
/// directory (see [`ops::adopt`]); a line per object on stderr, or `--format json`.
fn adopt(args: &ExportArgs, printer: Printer) -> anyhow::Result<()> {
    let Some(output) = &args.output else {
        anyhow::bail!("--target needs `-o PATH`: the existing file or directory to merge into");
    };
    let target = Target::open_with(args.target.emulator.as_deref(), args.target.concurrency)?;
    let options = ops::export::ExportOptions {
        skip_role_assignments: args.skip_role_assignments,
    };
    let written = ops::adopt::export_targets(
        output,
        &args.targets,
        &target,
        options,
        args.rate_limits == ExportRateLimits::All,
        printer,
    )?;
    if args.format == OutcomeFormat::Json {
        let value = serde_json::json!({
            "format_version": 1,
            "adopted": written.places.iter().map(|(key, outcome, file)| serde_json::json!({
                "key": key,
                "outcome": outcome.word(),
                "file": file.display().to_string(),
            })).collect::<Vec<_>>(),
            "files": written.files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>(),
            "requests": written.requests,
        });
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        for (key, outcome, file) in &written.places {
            eprintln!(
                "{} {} in {}",
                outcome.word(),
                crate::text::escape::text(key),
                file.display()
            );
        }
        for note in ops::adopt::dropped_notes(&written) {
            eprintln!("{note}");
        }
        eprintln!(
            "export --target: {} file(s) changed ({} requests)",
            written.files.len(),
            written.requests
        );
    }
    Ok(())
}

/// `--format json`: what was written where (`files` relative to `dir`, in writing order),
/// the counts, and the files `--force` removed.
fn outcome_json(
    export: &ops::export::Export,
    dir: &std::path::Path,
    files: &export_write::Files,
    removed: &[std::path::PathBuf],
) -> String {
    let value = serde_json::json!({
        "format_version": 1,
        "directory": if dir.as_os_str().is_empty() {
            ".".to_string()
        } else {
            dir.display().to_string()
        },
        "files": files.files.keys().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "removed": removed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "users": export.doc.users.len(),
        "groups": export.doc.groups.len(),
        "projects": export.doc.projects.len(),
        "certificates": export.certificate_files.len(),
    });
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
