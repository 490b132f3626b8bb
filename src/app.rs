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
        Command::Checks { policy } => {
            let policy = match policy {
                Some(p) => crate::policy::Policy::load(&p).map_err(Failure::config)?,
                None => crate::policy::Policy::default(),
            };
            print!("{}", checks_table(&policy));
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
    }
}

pub fn checks_table(policy: &crate::policy::Policy) -> String {
    let width = rules::all().iter().map(|r| r.meta().id.len()).max().unwrap_or(0);
    let mut s = format!("{:<width$}  {:<13}  {:<13}  {}\n", "ID", "DEFAULT", "EFFECTIVE", "TITLE");
    for r in rules::all() {
        let m = r.meta();
        let effective = if policy.enabled(m.id) { policy.severity(m.id, m.severity).name() } else { "disabled" };
        s.push_str(&format!("{:<width$}  {:<13}  {:<13}  {}\n", m.id, m.severity.name(), effective, m.title));
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
        if let Some(e) = &report.error {
            eprintln!("oci-compliance: error: {}", e.message);
        } else if let Some(line) = check_error_line(&report) {
            // Exit 25 needs its cause on stderr too, not only in the report.
            eprintln!("oci-compliance: error: {line}");
        }
        let o = report.outcome();
        outcome = Some(match outcome {
            Some(prev) => prev.combine(o),
            None => o,
        });
    }
    Ok(outcome.map(|o| o.code(&cfg.exit_codes)).unwrap_or(0))
}

/// One sentence for checks that could not be evaluated: how many, and why: the first layer
/// that could not be read, else the first such check's own description.
fn check_error_line(report: &Report) -> Option<String> {
    let errors: Vec<_> = report.checks.iter().filter(|c| c.status == rules::Status::Error).collect();
    let first = errors.first()?;
    let n = errors.len();
    let why = match report.layers.iter().find_map(|l| l.errors.first()) {
        Some(e) => e.clone(),
        None => format!("{}: {}", first.id, first.description),
    };
    Some(format!("{n} check{} could not be evaluated: {why}", if n == 1 { "" } else { "s" }))
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
    SettingsInfo {
        pull: cfg.pull_policy().name().to_string(),
        tls_verify: cfg.acquire.tls_verify,
        exit_codes: cfg.exit_codes,
        fail_on: cfg.fail_on,
        policy_file: cfg.policy_file.as_ref().map(|p| p.display().to_string()),
        policy: cfg.policy.clone(),
    }
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
            Report::new(settings_info(cfg), image, Vec::new(), Vec::new(), Vec::new(), Some(&f))
        }
    }
}

async fn scan_image(cfg: &ScanConfig, podman: &Podman, r: &ImageRef) -> Result<Report, Failure> {
    let name = podman.acquire(r, &cfg.acquire).await?;
    let image = podman.inspect(&name).await?;
    let sources = layers::layer_sources(&image).map_err(|e| Failure::new(Operational::CheckError, e))?;
    let rule_settings = cfg.rules.clone();
    let policy = cfg.policy.clone();
    let threads = cfg.walk_threads;
    let r = r.clone();
    let settings = settings_info(cfg);
    let report = tokio::task::spawn_blocking(move || {
        let rules = rules::all();
        let classifier = Arc::new(Classifier::new(rules, &rule_settings));
        let fs = layers::scan(sources, classifier.as_ref(), threads);
        let mut checks = report::run_checks(&r, &image, &fs, &policy, &rule_settings, rules);
        let waivers = report::apply_waivers(&mut checks, &policy, &r, crate::time::today());
        let layers = report::layer_info(&fs, &checks);
        Report::new(settings, report::image_info(&r, &image), layers, checks, waivers, None)
    })
    .await
    .map_err(|e| Failure::new(Operational::CheckError, format!("the layer walk crashed: {e}")))?;
    Ok(report)
}
