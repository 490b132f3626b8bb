//! `scan`: every image of the run, `--jobs` at a time, each through the pipeline; one report
//! set per image, the merged summary when there are several, and the worst outcome.

use crate::config::ScanConfig;
use crate::exit::Failure;
use crate::model::{ErrorKind, Outcome, Report, Source};
use crate::output::{self, ImageOutput, SummaryOutput};
use crate::pipeline::Scanner;
use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::Arc;

pub async fn scan(cfg: ScanConfig) -> Result<u8, Failure> {
    if cfg.list_images {
        for r in &cfg.images {
            println!("{}", crate::escape::text(&r.original));
        }
        return Ok(0);
    }
    if cfg.images.is_empty() {
        output::note(format_args!("this shard has no images ({} in the list)", cfg.total_images));
        return Ok(0);
    }
    let cfg = Arc::new(cfg);
    let scanner = Arc::new(Scanner::new(cfg.clone()));
    if let Some(f) = scanner.missing_tool() {
        return Err(f);
    }
    // Stored layers of an unprivileged user are read inside podman's user namespace; the
    // registry source needs none.
    if crate::userns::needed(&cfg) {
        for r in &cfg.images {
            if scanner.source_for(r).await == Source::Storage {
                return crate::userns::reexec(&cfg, &cfg.podman_program()?).await;
            }
        }
    }
    // Report names are fixed up front so they do not depend on completion order.
    let mut used = HashSet::new();
    let names: Vec<String> = cfg.images.iter().map(|r| unique_name(&mut used, &r.slug())).collect();
    let total = cfg.images.len();
    let progress = Progress::new(total);
    let limit = Arc::new(tokio::sync::Semaphore::new(cfg.jobs));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, r) in cfg.images.iter().cloned().enumerate() {
        let (scanner, limit) = (scanner.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            // On a terminal, also say what is being scanned now; CI logs get one line per
            // finished image.
            if std::io::stderr().is_terminal() {
                output::note(format_args!("scanning {} ({} of {total})", crate::escape::text(&r.original), i + 1));
            }
            let report = scanner.scan_one(&r).await;
            (i, report)
        });
    }
    let out = ImageOutput {
        dir: &cfg.reports_dir,
        formats: &cfg.formats,
        renderer: &cfg.renderer,
        color: cfg.color,
        json_stdout: cfg.json_stdout,
    };
    let mut outcome: Option<Outcome> = None;
    let mut done_reports: Vec<Option<(String, Report)>> = (0..total).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, report) = done.map_err(|e| Failure::new(ErrorKind::CheckError, format!("a scan task crashed: {e}")))?;
        let path = out.emit(&report, &names[i])?;
        progress.finished(&report, &path);
        let mut o = report.outcome();
        if !out.write_formats(&report, &names[i])? {
            o = o.combine(Outcome::Operational(ErrorKind::InvalidConfig));
        }
        outcome = Some(outcome.map_or(o, |prev| prev.combine(o)));
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        done_reports[i] = Some((file, report));
    }
    let mut outcome = outcome.unwrap_or(Outcome::Policy(None));
    if total > 1 {
        // The merged summary of this run, in the same formats as the image reports.
        let sources: Vec<(String, Report)> = done_reports.into_iter().flatten().collect();
        let out = SummaryOutput {
            dir: &cfg.reports_dir,
            name: "summary",
            formats: &cfg.formats,
            renderer: &cfg.renderer,
            color: cfg.color,
        };
        let console = out.write(&sources, cfg.exit_codes, &mut outcome)?;
        if cfg.json_stdout {
            eprint!("{console}");
        } else {
            print!("{console}");
        }
    }
    let code = outcome.code(&cfg.exit_codes);
    if total > 1 {
        output::note(format_args!("{total} images scanned, exit code {code}"));
    }
    Ok(code)
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
        output::note(format_args!(
            "[{n}/{}] {}: {} (exit {}), report {}",
            self.total,
            crate::escape::text(&report.image.reference),
            report.summary.verdict.label(),
            report.summary.exit_code,
            path.display()
        ));
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
