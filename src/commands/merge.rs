//! `merge`: many JSON reports (e.g. from parallel CI jobs) read back and combined into one
//! summary, under the same exit-code contract as `scan`.

use crate::cli::{Color, MergeArgs};
use crate::config::Env;
use crate::exit::Failure;
use crate::model::{ErrorKind, ExitCodes, Outcome, Report, MERGED_KIND, SCHEMA_VERSION};
use crate::output::{self, SummaryOutput};

/// Files `merge` passes over: the other outputs of this tool.
const NOT_REPORTS: [&str; 6] = [".codequality.json", ".legacy.json", ".sarif", ".junit.xml", ".md", ".html"];

pub fn merge(args: MergeArgs, env: &dyn Env) -> Result<u8, Failure> {
    let name = args.name.trim();
    if name.is_empty() || name.starts_with('.') || name.contains('/') || name.contains('\0') {
        return Err(Failure::config(format!("--name {name:?} is not a plain file name")));
    }
    let formats = crate::config::extra_formats(&crate::cli::flatten_formats(&args.formats));
    let renderer = crate::config::load_renderer(args.templates.as_deref())?;
    crate::fsutil::ensure_writable_dir(&args.reports_dir).map_err(|e| Failure::new(ErrorKind::ReportsDir, e))?;
    let mut sources: Vec<(String, Report)> = Vec::new();
    for path in &args.reports {
        let shown = path.display().to_string();
        if NOT_REPORTS.iter().any(|s| shown.ends_with(s)) {
            output::note(format_args!("skipping {shown}: not a JSON report"));
            continue;
        }
        match read_report(path)? {
            Some(r) => sources.push((shown, r)),
            None => output::note(format_args!("skipping {shown}: a summary, not a report")),
        }
    }
    if sources.is_empty() {
        return Err(Failure::new(ErrorKind::NoImage, "no JSON reports to merge"));
    }
    let codes = merge_exit_codes(&args, &sources);
    let mut outcome = crate::aggregate::outcome(sources.iter().map(|(_, r)| r)).unwrap_or(Outcome::Policy(None));
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            use std::io::IsTerminal;
            env.var("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    };
    let out = SummaryOutput { dir: &args.reports_dir, name, formats: &formats, renderer: &renderer, color };
    print!("{}", out.write(&sources, codes, &mut outcome)?);
    Ok(outcome.code(&codes))
}

/// A report file read back. Ok(None) for a summary (skipped); anything unreadable,
/// unparsable or from a newer schema is invalid input (exit 24) naming the file.
fn read_report(path: &std::path::Path) -> Result<Option<Report>, Failure> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Failure::config(format!("cannot read report {shown}: {e}")))?;
    parse_report(&bytes, &shown)
}

/// A report file's bytes, as `merge` takes them: Ok(None) for a summary; anything
/// unparsable or from a newer schema is invalid input naming `shown`.
pub fn parse_report(bytes: &[u8], shown: &str) -> Result<Option<Report>, Failure> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Failure::config(format!("report {shown} is not JSON: {e}")))?;
    // A merged summary, or the summary.json index a multi-image scan writes.
    let is_summary = value.get("kind").and_then(|k| k.as_str()) == Some(MERGED_KIND)
        || (value.get("images").is_some_and(|i| i.is_array()) && value.get("checks").is_none());
    if is_summary {
        return Ok(None);
    }
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        None => return Err(Failure::config(format!("{shown} is not an oci-compliance report (no schema_version)"))),
        Some(v) if v > u64::from(SCHEMA_VERSION) => {
            return Err(Failure::config(format!(
                "report {shown} has schema version {v}; this oci-compliance reads up to {}",
                SCHEMA_VERSION
            )))
        }
        Some(_) => {}
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| Failure::config(format!("report {shown} does not match the report schema: {e}")))
}

/// Explicit settings win; otherwise the codes the reports were written with (the first
/// report's, with a warning when they differ).
fn merge_exit_codes(args: &MergeArgs, sources: &[(String, Report)]) -> ExitCodes {
    let base = sources[0].1.settings.exit_codes;
    if sources.iter().any(|(_, r)| r.settings.exit_codes != base) {
        output::warning(format_args!(
            "the reports were written with different exit codes; using those of {}",
            sources[0].0
        ));
    }
    ExitCodes {
        critical: args.critical_exit_code.unwrap_or(base.critical),
        high: args.high_exit_code.unwrap_or(base.high),
        medium: args.medium_exit_code.unwrap_or(base.medium),
        low: args.low_exit_code.unwrap_or(base.low),
        informational: args.informational_exit_code.unwrap_or(base.informational),
    }
}
