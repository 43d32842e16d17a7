//! `orgops drift`: what differs between the live org and the file, and who changed it.
//!
//! The report goes to stdout in the chosen format. Exit codes: 0 in sync, 2 drift, 1 error.
//! Drift means "apply would change something": exactly when `plan --detailed-exitcode` exits
//! 2. Objects under `policy.unmanaged: report` are listed for information and count only
//! with `--fail-on-unmanaged`.
//!
//! `--write` accepts the drift into the file instead ([`ops::adopt::accept_drift`]): one line
//! per object written (or, with `--format json`, `{format_version, written: [{key, outcome,
//! file}], files, remaining}`); exit 0 when nothing differs any more, 2 when something still
//! does (listed), 1 on error with nothing written.

use crate::cli::{DriftArgs, PlanFormat};
use crate::drift::render;
use crate::exit::ExitStatus;
use crate::ops;
use crate::printer::Printer;

pub fn run(args: DriftArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let since = match super::audit_window(&args.window) {
        Ok(since) => since,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitStatus::Failure;
        }
    };
    let drifted = match ops::drift::drift(
        &args.desired.file,
        args.desired.load_options(),
        &crate::ops::target::Connect {
            snapshot: args.snapshot.options(),
            ..args.target.connect()
        },
        since,
        args.fail_on_unmanaged,
        args.cost_threshold,
        printer,
    ) {
        Ok(drifted) => drifted,
        Err(failure) => return super::report_plan_failure(failure, printer),
    };
    let report = &drifted.report;
    if args.write {
        return write(&args, &drifted);
    }
    let rendered = match args.format {
        PlanFormat::Text => render::text(report),
        PlanFormat::Markdown => render::markdown(report),
        PlanFormat::Json => render::json(report),
    };
    crate::out!("{rendered}");
    if report.in_sync() {
        ExitStatus::Success
    } else {
        ExitStatus::Changes
    }
}

/// `drift --write`: the drift accepted into the file (see [`ops::adopt::accept_drift`]), one
/// line per object on stdout. Exit 0 when the file now matches (drift in sync, plan empty),
/// 2 when something could not be written (listed), 1 on error (nothing written).
fn write(args: &DriftArgs, drifted: &ops::drift::Drifted) -> ExitStatus {
    let file = &args.desired.file;
    let (written, remaining) =
        match ops::adopt::accept_drift(file, &drifted.report, &drifted.planned.live) {
            Ok(done) => done,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitStatus::Failure;
            }
        };
    if args.format == PlanFormat::Json {
        let value = serde_json::json!({
            "format_version": 1,
            "written": written.places.iter().map(|(key, outcome, path)| serde_json::json!({
                "key": key,
                "outcome": outcome.word(),
                "file": path.display().to_string(),
            })).collect::<Vec<_>>(),
            "files": written.files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>(),
            "remaining": remaining.iter().map(|r| &r.key).collect::<Vec<_>>(),
        });
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return if remaining.is_empty() {
            ExitStatus::Success
        } else {
            ExitStatus::Changes
        };
    }
    if written.places.is_empty() {
        crate::outln!("In sync: nothing to write into {}.", file.display());
        return ExitStatus::Success;
    }
    for (key, outcome, path) in &written.places {
        crate::outln!(
            "{:<9} {}  ({})",
            outcome.word(),
            crate::text::escape::text(key),
            path.display()
        );
    }
    for note in ops::adopt::dropped_notes(&written) {
        eprintln!("{note}");
    }
    let informational = drifted
        .report
        .items
        .iter()
        .filter(|i| !drifted.report.counts(i))
        .count();
    if informational > 0 {
        eprintln!(
            "note: {informational} undeclared object(s) the policy only reports were not added (pass --fail-on-unmanaged to accept them too)"
        );
    }
    if !remaining.is_empty() {
        for item in &remaining {
            let key = crate::text::escape::text(&item.key);
            match item.why {
                Some(why) => eprintln!("error: still differs after writing: {key}: {why}"),
                None => eprintln!("error: still differs after writing: {key}"),
            }
        }
        return ExitStatus::Changes;
    }
    crate::outln!(
        "Accepted {} drifted object(s) into {} file(s); `orgops plan` is now empty for them.",
        written.places.len(),
        written.files.len()
    );
    ExitStatus::Success
}
