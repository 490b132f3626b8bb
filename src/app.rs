//! The pipeline for one run: reference → acquire → inspect → walk layers → rules → report →
//! render → exit code.

use crate::cli::{Cli, Command};
use crate::config::{ProcessEnv, ScanConfig};
use crate::exit::{Failure, Operational, Outcome};
use crate::layers;
use crate::podman::command::Program;
use crate::podman::private_store::PrivateStore;
use crate::podman::Podman;
use crate::reference::ImageRef;
use crate::render;
use crate::report::{self, ImageInfo, Report, SettingsInfo};
use crate::rules::{self, Classifier};
use crate::time::timing;
use crate::userns;
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
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
            let cfg = if args.userns_child {
                let env = userns::ChildEnv(userns::child_setup()?);
                ScanConfig::from_args(*args, &env)?
            } else {
                ScanConfig::from_args(*args, &ProcessEnv)?
            };
            if userns::needed(&cfg) {
                return userns::reexec(&cfg, &podman_program(&cfg)?).await;
            }
            scan(cfg).await
        }
        Command::Merge(args) => merge(args, &ProcessEnv),
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

fn podman_program(cfg: &ScanConfig) -> Result<Program, Failure> {
    let mut program = Program::locate("podman", cfg.podman.clone()).map_err(|e| Failure::new(Operational::PullFailed, e))?;
    program.global = cfg.storage.globals();
    Ok(program)
}

async fn scan(cfg: ScanConfig) -> Result<u8, Failure> {
    if cfg.list_images {
        for r in &cfg.images {
            println!("{}", crate::escape::text(&r.original));
        }
        return Ok(0);
    }
    if cfg.images.is_empty() {
        eprintln!("oci-compliance: this shard has no images ({} in the list)", cfg.total_images);
        return Ok(0);
    }
    let podman = Arc::new(Podman::new(podman_program(&cfg)?));
    let cfg = Arc::new(cfg);
    // Report names are fixed up front so they do not depend on completion order.
    let mut used = HashSet::new();
    let names: Vec<String> = cfg.images.iter().map(|r| unique_name(&mut used, &r.slug())).collect();
    let total = cfg.images.len();
    let progress = Progress::new(total);
    let limit = Arc::new(tokio::sync::Semaphore::new(cfg.jobs));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, r) in cfg.images.iter().cloned().enumerate() {
        let (cfg, podman, limit) = (cfg.clone(), podman.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            // On a terminal, also say what is being scanned now; CI logs get one line per
            // finished image.
            if std::io::stderr().is_terminal() {
                eprintln!("oci-compliance: scanning {} ({} of {total})", crate::escape::text(&r.original), i + 1);
            }
            let report = scan_one(&cfg, &podman, &r).await;
            (i, report)
        });
    }
    let mut outcome: Option<Outcome> = None;
    let mut done_reports: Vec<Option<(String, Report)>> = (0..total).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, report) = done.map_err(|e| Failure::new(Operational::CheckError, format!("a scan task crashed: {e}")))?;
        let path = emit(&cfg, &report, &names[i])?;
        progress.finished(&report, &path);
        let mut o = report.outcome();
        if !write_formats(&cfg, &report, &names[i])? {
            o = o.combine(Outcome::Operational(Operational::InvalidConfig));
        }
        outcome = Some(outcome.map_or(o, |prev| prev.combine(o)));
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        done_reports[i] = Some((file, report));
    }
    let mut outcome = outcome.unwrap_or(Outcome::Policy(None));
    if total > 1 {
        // The merged summary of this run, in the same formats as the image reports.
        let sources: Vec<(String, Report)> = done_reports.into_iter().flatten().collect();
        let out = Summary { dir: &cfg.reports_dir, name: "summary", formats: &cfg.formats, renderer: &cfg.renderer, color: cfg.color };
        let console = out.write(&sources, cfg.exit_codes, &mut outcome)?;
        if cfg.json_stdout {
            eprint!("{console}");
        } else {
            print!("{console}");
        }
    }
    let code = outcome.code(&cfg.exit_codes);
    if total > 1 {
        eprintln!("oci-compliance: {total} images scanned, exit code {code}");
    }
    Ok(code)
}

/// Write one image's reports and print its console report as one block.
fn emit(cfg: &ScanConfig, report: &Report, name: &str) -> Result<std::path::PathBuf, Failure> {
    let json = render::json::render(report);
    let path = crate::fsutil::write_atomic(&cfg.reports_dir, &format!("{name}.json"), &json)
        .map_err(|e| Failure::new(Operational::ReportsDir, e))?;
    let console = render::console::render(report, &render::console::Style { color: cfg.color });
    if cfg.json_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(&json).ok();
        out.flush().ok();
        eprint!("{console}");
    } else {
        print!("{console}");
        std::io::stdout().flush().ok();
    }
    if let Some(e) = &report.error {
        eprintln!("oci-compliance: error: {}", e.message);
    } else if let Some(line) = check_error_line(report) {
        // Exit 25 needs its cause on stderr too, not only in the report.
        eprintln!("oci-compliance: error: {line}");
    }
    Ok(path)
}

/// Write the formats asked for besides JSON. Ok(false) when one could not be rendered (a
/// broken user template: a configuration error); the others are still written.
fn write_formats(cfg: &ScanConfig, report: &Report, name: &str) -> Result<bool, Failure> {
    let mut all = true;
    for &format in &cfg.formats {
        match cfg.renderer.render(format, report) {
            Ok(bytes) => {
                let p = crate::fsutil::write_atomic(&cfg.reports_dir, &format!("{name}.{}", format.extension()), &bytes)
                    .map_err(|e| Failure::new(Operational::ReportsDir, e))?;
                eprintln!("oci-compliance: {} report written to {}", format.name(), p.display());
            }
            Err(e) => {
                eprintln!("oci-compliance: error: {} report not written: {e}", format.name());
                all = false;
            }
        }
    }
    Ok(all)
}

/// Progress on stderr: a line per finished image (CI logs read it as it comes).
struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress { total, done: Default::default() }
    }

    fn finished(&self, report: &Report, path: &std::path::Path) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        eprintln!(
            "oci-compliance: [{n}/{}] {}: {} (exit {}), report {}",
            self.total,
            crate::escape::text(&report.image.reference),
            report.summary.verdict.to_ascii_uppercase(),
            report.summary.exit_code,
            path.display()
        );
    }
}

/// Where and how a merged summary of several reports is written: `<name>.json` plus each
/// format. Used by `merge` and by multi-image scans.
struct Summary<'a> {
    dir: &'a std::path::Path,
    name: &'a str,
    formats: &'a [crate::render::Format],
    renderer: &'a crate::render::Renderer,
    color: bool,
}

impl Summary<'_> {
    /// Write the summary files; returns the console table. A format that fails to render is
    /// reported and turns `outcome` into a configuration error (a broken user template).
    fn write(&self, sources: &[(String, Report)], codes: crate::exit::ExitCodes, outcome: &mut Outcome) -> Result<String, Failure> {
        use crate::render::Format;
        let reports: Vec<Report> = sources.iter().map(|(_, r)| r.clone()).collect();
        let summary = crate::merge::summarize(sources, codes, crate::time::now_rfc3339());
        let write = |ext: &str, bytes: &[u8]| {
            crate::fsutil::write_atomic(self.dir, &format!("{}.{ext}", self.name), bytes)
                .map_err(|e| Failure::new(Operational::ReportsDir, e))
        };
        let json = self.renderer.render_merged(Format::Json, &summary, &reports).map_err(Failure::config)?;
        let path = write("json", &json)?;
        eprintln!("oci-compliance: summary written to {}", path.display());
        for &format in self.formats {
            match self.renderer.render_merged(format, &summary, &reports) {
                Ok(bytes) => {
                    let p = write(format.extension(), &bytes)?;
                    eprintln!("oci-compliance: {} summary written to {}", format.name(), p.display());
                }
                Err(e) => {
                    eprintln!("oci-compliance: error: {} summary not written: {e}", format.name());
                    *outcome = outcome.combine(Outcome::Operational(Operational::InvalidConfig));
                }
            }
        }
        Ok(render::console::render_merged(&summary, &render::console::Style { color: self.color }))
    }
}

/// Files `merge` passes over: the other outputs of this tool.
const NOT_REPORTS: [&str; 6] = [".codequality.json", ".legacy.json", ".sarif", ".junit.xml", ".md", ".html"];

fn merge(args: crate::cli::MergeArgs, env: &dyn crate::config::Env) -> Result<u8, Failure> {
    use crate::merge as m;
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
            None => eprintln!("oci-compliance: skipping {shown}: a summary, not a report"),
        }
    }
    if sources.is_empty() {
        return Err(Failure::new(Operational::NoImage, "no JSON reports to merge"));
    }
    let codes = merge_exit_codes(&args, &sources);
    let mut outcome = m::outcome(sources.iter().map(|(_, r)| r)).unwrap_or(Outcome::Policy(None));
    let color = match args.color {
        crate::cli::Color::Always => true,
        crate::cli::Color::Never => false,
        crate::cli::Color::Auto => {
            use std::io::IsTerminal;
            env.var("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    };
    let out = Summary { dir: &args.reports_dir, name, formats: &formats, renderer: &renderer, color };
    print!("{}", out.write(&sources, codes, &mut outcome)?);
    Ok(outcome.code(&codes))
}

/// A report file read back. Ok(None) for a summary (skipped); anything unreadable,
/// unparsable or from a newer schema is invalid input (exit 24) naming the file.
fn read_report(path: &std::path::Path) -> Result<Option<Report>, Failure> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| Failure::config(format!("cannot read report {shown}: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Failure::config(format!("report {shown} is not JSON: {e}")))?;
    // A merged summary, or the summary.json index a multi-image scan writes.
    let is_summary = value.get("kind").and_then(|k| k.as_str()) == Some(crate::merge::KIND)
        || (value.get("images").is_some_and(|i| i.is_array()) && value.get("checks").is_none());
    if is_summary {
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
        platform: cfg.platform().map(|p| p.to_string()),
        storage: cfg.storage.clone(),
        ..SettingsInfo::new(
            cfg.pull_policy().name(),
            cfg.acquire.tls_verify,
            cfg.exit_codes,
            cfg.fail_on,
            cfg.policy_file.as_ref().map(|p| p.display().to_string()),
            cfg.policy.clone(),
        )
    }
}

/// Scan one image into a report; operational failures become a report with `error` set.
pub async fn scan_one(cfg: &ScanConfig, podman: &Podman, r: &ImageRef) -> Report {
    match scan_image(cfg, podman, r).await {
        Ok(report) => report,
        Err(f) => {
            let image = ImageInfo {
                reference: r.original.clone(),
                transport: r.transport.name().to_string(),
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
    let t = std::time::Instant::now();
    // Archives are loaded into a store of their own, unmounted and removed when this
    // function returns (on every path), so the host's storage never sees them.
    let private = match r.is_archive() {
        true => Some(PrivateStore::create(cfg.storage.driver.clone()).map_err(|e| Failure::new(Operational::PullFailed, e))?),
        false => None,
    };
    let podman = match (&private, &r.store) {
        (Some(p), _) => podman.with_store(p.options()),
        (None, Some(spec)) => podman.with_store(&cfg.storage.overridden_by(spec)),
        (None, None) => podman.with_store(&cfg.storage),
    };
    let acquired = podman.acquire(r, &cfg.acquire).await?;
    timing("acquire", t);
    // Storage that built and also pulled an image records several digests for it; only the
    // registry can say which one this reference names. With --pull never the registry is
    // never contacted.
    let ambiguous = r.is_registry()
        && r.digest.is_none()
        && cfg.acquire.pull != crate::podman::PullPolicy::Never
        && r.repo_name().is_some_and(|n| acquired.image.digests_of(&n).len() > 1);
    let registry_digest = if ambiguous { podman.registry_digest(r, &acquired, cfg.acquire.tls_verify).await } else { None };
    let image = acquired.into_image();
    let store = if layers::needs_store_records(&image) { Some(podman.store_info().await?) } else { None };
    let layout = layers::locate(&image, store.as_ref()).map_err(|e| Failure::new(Operational::CheckError, e))?;
    let rule_settings = cfg.rules.clone();
    let policy = cfg.policy.clone();
    let threads = cfg.walk_threads;
    let r = r.clone();
    let settings = settings_info(cfg);
    let report = tokio::task::spawn_blocking(move || {
        let rules = rules::all();
        let classifier = Arc::new(Classifier::new(rules, &rule_settings));
        // Held while layer files are read (walk and file checks), as podman holds it.
        let dirs: Vec<&std::path::Path> = layout.layers.iter().map(|l| l.dir.as_path()).collect();
        let store_lock = layers::store_lock::StoreLock::shared(&dirs, |p| {
            eprintln!(
                "oci-compliance: waiting for {} (podman or buildah is changing the image store)",
                crate::escape::bytes(p.as_os_str().as_encoded_bytes())
            )
        });
        let fs = layers::scan_layout(layout, classifier.as_ref(), threads);
        timing("walk and merge", t);
        let mut checks = report::run_checks(&r, &image, &fs, &policy, &rule_settings, rules);
        timing("rules", t);
        let waivers = report::apply_waivers(&mut checks, &policy, &r, crate::time::today());
        let layers = report::layer_info(&fs, &checks);
        let mut report =
            Report::new(settings, report::image_info(&r, &image, registry_digest), layers, checks, waivers, None);
        timing("model", t);
        report.tree = Some(crate::filetree::from_image(&fs, crate::filetree::TreeLimits::default()));
        timing("tree", t);
        drop(store_lock);
        // Half a million entries take ~10 ms to free: not on the way to the report.
        std::thread::spawn(move || drop(fs));
        report
    })
    .await
    .map_err(|e| Failure::new(Operational::CheckError, format!("the layer walk crashed: {e}")))?;
    Ok(report)
}
