//! The pipeline for one run: reference → acquire → inspect → walk layers → rules → report →
//! render → exit code.

use crate::cli::{Cli, Command};
use crate::config::{ProcessEnv, ScanConfig};
use crate::exit::{Failure, Operational, Outcome};
use crate::layers;
use crate::podman::command::Program;
use crate::podman::Podman;
use crate::reference::ImageRef;
use crate::render;
use crate::report::{self, ImageInfo, Report, SettingsInfo};
use crate::rules::{self, Classifier};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

/// Run the command; Ok carries the process exit code.
pub async fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Checks => {
            print!("{}", checks_table());
            Ok(0)
        }
        Command::Explain { id } => match rules::find(&id) {
            Some(r) => {
                print!("{}", explain(r.meta()));
                Ok(0)
            }
            None => Err(Failure::config(format!("unknown check id {id:?}; `oci-compliance checks` lists them"))),
        },
        Command::Scan(args) => {
            let cfg = ScanConfig::from_args(args, &ProcessEnv)?;
            scan(&cfg).await
        }
        Command::Merge(args) => merge(args, &ProcessEnv),
    }
}

pub fn checks_table() -> String {
    let mut s = String::new();
    let width = rules::all().iter().map(|r| r.meta().id.len()).max().unwrap_or(0);
    for r in rules::all() {
        let m = r.meta();
        s.push_str(&format!("{:<width$}  {:<13}  {}\n", m.id, m.severity.name(), m.title));
    }
    s
}

pub fn explain(m: &rules::RuleMeta) -> String {
    format!(
        "{} — {}\nDefault severity: {}\n\nWhy:\n  {}\n\nFix:\n  {}\n",
        m.id,
        m.title,
        m.severity.name(),
        squash(m.rationale),
        squash(m.remediation)
    )
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn scan(cfg: &ScanConfig) -> Result<u8, Failure> {
    let program = Program::locate("podman", cfg.podman.clone()).map_err(|e| Failure::new(Operational::PullFailed, e))?;
    let podman = Podman::new(program);
    let mut outcome: Option<Outcome> = None;
    let mut used_names = HashSet::new();
    for r in &cfg.images {
        eprintln!("oci-compliance: scanning {}", crate::escape::text(&r.original));
        let report = scan_one(cfg, &podman, r).await;
        let name = unique_name(&mut used_names, &r.slug());
        let json = render::json::render(&report);
        let path = crate::fsutil::write_atomic(&cfg.reports_dir, &format!("{name}.json"), &json)
            .map_err(|e| Failure::new(Operational::ReportsDir, e))?;
        let console = render::console::render(&report, &render::console::Style { color: cfg.color });
        if cfg.json_stdout {
            std::io::stdout().write_all(&json).ok();
            eprint!("{console}");
        } else {
            print!("{console}");
        }
        eprintln!("oci-compliance: report written to {}", path.display());
        // A format that cannot be rendered (a broken user template) is a configuration
        // error; the other formats are still written.
        let mut o = report.outcome();
        for &format in &cfg.formats {
            match cfg.renderer.render(format, &report) {
                Ok(bytes) => {
                    let p = crate::fsutil::write_atomic(&cfg.reports_dir, &format!("{name}.{}", format.extension()), &bytes)
                        .map_err(|e| Failure::new(Operational::ReportsDir, e))?;
                    eprintln!("oci-compliance: {} report written to {}", format.name(), p.display());
                }
                Err(e) => {
                    eprintln!("oci-compliance: error: {} report not written: {e}", format.name());
                    o = o.combine(Outcome::Operational(Operational::InvalidConfig));
                }
            }
        }
        if let Some(e) = &report.error {
            eprintln!("oci-compliance: error: {}", e.message);
        }
        outcome = Some(match outcome {
            Some(prev) => prev.combine(o),
            None => o,
        });
    }
    Ok(outcome.map(|o| o.code(&cfg.exit_codes)).unwrap_or(0))
}

/// Files `merge` passes over: the other outputs of this tool.
const NOT_REPORTS: [&str; 6] = [".codequality.json", ".legacy.json", ".sarif", ".junit.xml", ".md", ".html"];

fn merge(args: crate::cli::MergeArgs, env: &dyn crate::config::Env) -> Result<u8, Failure> {
    use crate::merge as m;
    use crate::render::Format;
    let name = args.name.trim();
    if name.is_empty() || name.starts_with('.') || name.contains('/') || name.contains('\0') {
        return Err(Failure::config(format!("--name {name:?} is not a plain file name")));
    }
    let formats = crate::config::extra_formats(&crate::cli::flatten_formats(&args.formats));
    let renderer = crate::config::load_renderer(args.templates.as_deref())?;
    crate::fsutil::ensure_writable_dir(&args.reports_dir).map_err(|e| Failure::new(Operational::ReportsDir, e))?;
    let mut sources: Vec<(String, Report)> = Vec::new();
    for path in &args.reports {
        let shown = path.display().to_string();
        if NOT_REPORTS.iter().any(|s| shown.ends_with(s)) {
            eprintln!("oci-compliance: skipping {shown}: not a JSON report");
            continue;
        }
        match read_report(path)? {
            Some(r) => sources.push((shown, r)),
            None => eprintln!("oci-compliance: skipping {shown}: an earlier merged summary"),
        }
    }
    if sources.is_empty() {
        return Err(Failure::new(Operational::NoImage, "no JSON reports to merge"));
    }
    let codes = merge_exit_codes(&args, &sources);
    let reports: Vec<Report> = sources.iter().map(|(_, r)| r.clone()).collect();
    let summary = m::summarize(&sources, codes, crate::time::now_rfc3339());
    let mut outcome = m::outcome(&reports).unwrap_or(Outcome::Policy(None));
    let json = renderer.render_merged(Format::Json, &summary, &reports).map_err(Failure::config)?;
    let path = crate::fsutil::write_atomic(&args.reports_dir, &format!("{name}.json"), &json)
        .map_err(|e| Failure::new(Operational::ReportsDir, e))?;
    let color = match args.color {
        crate::cli::Color::Always => true,
        crate::cli::Color::Never => false,
        crate::cli::Color::Auto => {
            use std::io::IsTerminal;
            env.var("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    };
    print!("{}", render::console::render_merged(&summary, &render::console::Style { color }));
    eprintln!("oci-compliance: summary written to {}", path.display());
    for format in formats {
        match renderer.render_merged(format, &summary, &reports) {
            Ok(bytes) => {
                let p = crate::fsutil::write_atomic(&args.reports_dir, &format!("{name}.{}", format.extension()), &bytes)
                    .map_err(|e| Failure::new(Operational::ReportsDir, e))?;
                eprintln!("oci-compliance: {} summary written to {}", format.name(), p.display());
            }
            Err(e) => {
                eprintln!("oci-compliance: error: {} summary not written: {e}", format.name());
                outcome = outcome.combine(Outcome::Operational(Operational::InvalidConfig));
            }
        }
    }
    Ok(outcome.code(&codes))
}

/// A report file read back. Ok(None) for a merged summary (skipped); anything unreadable,
/// unparsable or from a newer schema is invalid input (exit 24) naming the file.
fn read_report(path: &std::path::Path) -> Result<Option<Report>, Failure> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| Failure::config(format!("cannot read report {shown}: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Failure::config(format!("report {shown} is not JSON: {e}")))?;
    if value.get("kind").and_then(|k| k.as_str()) == Some(crate::merge::KIND) {
        return Ok(None);
    }
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        None => return Err(Failure::config(format!("{shown} is not an oci-compliance report (no schema_version)"))),
        Some(v) if v > u64::from(report::SCHEMA_VERSION) => {
            return Err(Failure::config(format!(
                "report {shown} has schema version {v}; this oci-compliance reads up to {}",
                report::SCHEMA_VERSION
            )))
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map(Some).map_err(|e| Failure::config(format!("report {shown} does not match the report schema: {e}")))
}

/// Explicit settings win; otherwise the codes the reports were written with (the first
/// report's, with a warning when they differ).
fn merge_exit_codes(args: &crate::cli::MergeArgs, sources: &[(String, Report)]) -> crate::exit::ExitCodes {
    let base = sources[0].1.settings.exit_codes;
    if sources.iter().any(|(_, r)| r.settings.exit_codes != base) {
        eprintln!("oci-compliance: warning: the reports were written with different exit codes; using those of {}", sources[0].0);
    }
    crate::exit::ExitCodes {
        critical: args.critical_exit_code.unwrap_or(base.critical),
        high: args.high_exit_code.unwrap_or(base.high),
        medium: args.medium_exit_code.unwrap_or(base.medium),
        low: args.low_exit_code.unwrap_or(base.low),
        informational: args.informational_exit_code.unwrap_or(base.informational),
    }
}

fn unique_name(used: &mut HashSet<String>, slug: &str) -> String {
    let mut name = slug.to_string();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{slug}-{n}");
        n += 1;
    }
    name
}

fn settings_info(cfg: &ScanConfig) -> SettingsInfo {
    SettingsInfo::new(cfg.pull_policy().name().to_string(), cfg.acquire.tls_verify, cfg.exit_codes, &cfg.rules)
}

/// Scan one image into a report; operational failures become a report with `error` set.
pub async fn scan_one(cfg: &ScanConfig, podman: &Podman, r: &ImageRef) -> Report {
    match scan_image(cfg, podman, r).await {
        Ok(report) => report,
        Err(f) => {
            let image = ImageInfo {
                reference: r.original.clone(),
                transport: format!("{:?}", r.transport).to_ascii_lowercase(),
                registry: r.registry.clone(),
                repository: r.repository.clone(),
                tag: r.effective_tag().map(String::from),
                digest: r.digest.clone(),
                ..ImageInfo::default()
            };
            Report::new(settings_info(cfg), image, Vec::new(), Vec::new(), Some(&f))
        }
    }
}

async fn scan_image(cfg: &ScanConfig, podman: &Podman, r: &ImageRef) -> Result<Report, Failure> {
    let name = podman.acquire(r, &cfg.acquire).await?;
    let image = podman.inspect(&name).await?;
    let sources = layers::layer_sources(&image).map_err(|e| Failure::new(Operational::CheckError, e))?;
    let rule_settings = cfg.rules.clone();
    let threads = cfg.walk_threads;
    let r = r.clone();
    let settings = settings_info(cfg);
    let report = tokio::task::spawn_blocking(move || {
        let rules = rules::all();
        let classifier = Arc::new(Classifier::new(rules, &rule_settings));
        let fs = layers::scan(sources, classifier.as_ref(), threads);
        let checks = report::run_checks(&r, &image, &fs, &rule_settings, rules);
        let layers = report::layer_info(&fs, &checks);
        let mut report = Report::new(settings, report::image_info(&r, &image), layers, checks, None);
        report.tree = Some(crate::filetree::from_image(&fs, crate::filetree::TreeLimits::default()));
        report
    })
    .await
    .map_err(|e| Failure::new(Operational::CheckError, format!("the layer walk crashed: {e}")))?;
    Ok(report)
}
