//! Everything a run writes: report files (atomically, in the reports directory) and the
//! lines on stdout and stderr, each message with the one `oci-compliance:` prefix.

use crate::exit::Failure;
use crate::model::{ErrorKind, ExitCodes, Outcome, Report, Status};
use crate::render::{self, Format, Renderer};
use std::io::Write;
use std::path::{Path, PathBuf};

const PREFIX: &str = "oci-compliance";

/// A line of progress or information on stderr.
pub fn note(message: impl std::fmt::Display) {
    eprintln!("{PREFIX}: {message}");
}

pub fn warning(message: impl std::fmt::Display) {
    eprintln!("{PREFIX}: warning: {message}");
}

pub fn error(message: impl std::fmt::Display) {
    eprintln!("{PREFIX}: error: {message}");
}

/// Writes `bytes` to `dir/name` atomically; a failure is the reports directory's (exit 23).
pub fn write_report_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, Failure> {
    crate::fsutil::write_atomic(dir, name, bytes).map_err(|e| Failure::new(ErrorKind::ReportsDir, e))
}

/// Where one image's reports go and how its console report looks.
pub struct ImageOutput<'a> {
    pub dir: &'a Path,
    pub formats: &'a [Format],
    pub renderer: &'a Renderer,
    pub color: bool,
    /// The JSON report also goes to stdout; the console report then goes to stderr.
    pub json_stdout: bool,
}

impl ImageOutput<'_> {
    /// Writes `<name>.json` and prints the console report as one block.
    pub fn emit(&self, report: &Report, name: &str) -> Result<PathBuf, Failure> {
        let json = render::json::render(report);
        let path = write_report_file(self.dir, &format!("{name}.json"), &json)?;
        let console = render::console::render(report, &render::console::Style { color: self.color });
        if self.json_stdout {
            let mut out = std::io::stdout().lock();
            out.write_all(&json).ok();
            out.flush().ok();
            eprint!("{console}");
        } else {
            print!("{console}");
            std::io::stdout().flush().ok();
        }
        if let Some(e) = &report.error {
            error(&e.message);
        } else if let Some(line) = check_error_line(report) {
            // Exit 25 needs its cause on stderr too, not only in the report.
            error(line);
        }
        Ok(path)
    }

    /// Writes the formats asked for besides JSON. Ok(false) when one could not be rendered (a
    /// broken user template: a configuration error); the others are still written.
    pub fn write_formats(&self, report: &Report, name: &str) -> Result<bool, Failure> {
        let mut all = true;
        for &format in self.formats {
            match self.renderer.render(format, report) {
                Ok(bytes) => {
                    let p = write_report_file(self.dir, &format!("{name}.{}", format.extension()), &bytes)?;
                    note(format_args!("{} report written to {}", format.name(), p.display()));
                }
                Err(e) => {
                    error(format_args!("{} report not written: {e}", format.name()));
                    all = false;
                }
            }
        }
        Ok(all)
    }
}

/// One sentence for checks that could not be evaluated: how many, and why: the first layer
/// that could not be read, else the first such check's own description.
fn check_error_line(report: &Report) -> Option<String> {
    let errors: Vec<_> = report.checks.iter().filter(|c| c.status == Status::Error).collect();
    let first = errors.first()?;
    let n = errors.len();
    let why = match report.layers.iter().find_map(|l| l.errors.first()) {
        Some(e) => e.clone(),
        None => format!("{}: {}", first.id, first.description),
    };
    Some(format!("{n} check{} could not be evaluated: {why}", crate::text::plural(n, "", "s")))
}

/// Where and how a merged summary of several reports is written: `<name>.json` plus each
/// format. Used by `merge` and by multi-image scans.
pub struct SummaryOutput<'a> {
    pub dir: &'a Path,
    pub name: &'a str,
    pub formats: &'a [Format],
    pub renderer: &'a Renderer,
    pub color: bool,
}

impl SummaryOutput<'_> {
    /// Write the summary files; returns the console table. A format that fails to render is
    /// reported and turns `outcome` into a configuration error (a broken user template).
    pub fn write(
        &self,
        sources: &[(String, Report)],
        codes: ExitCodes,
        outcome: &mut Outcome,
    ) -> Result<String, Failure> {
        let reports: Vec<Report> = sources.iter().map(|(_, r)| r.clone()).collect();
        let summary = crate::aggregate::summarize(sources, codes, crate::time::now_rfc3339());
        let json = self.renderer.render_merged(Format::Json, &summary, &reports).map_err(Failure::config)?;
        let path = write_report_file(self.dir, &format!("{}.json", self.name), &json)?;
        note(format_args!("summary written to {}", path.display()));
        for &format in self.formats {
            match self.renderer.render_merged(format, &summary, &reports) {
                Ok(bytes) => {
                    let p = write_report_file(self.dir, &format!("{}.{}", self.name, format.extension()), &bytes)?;
                    note(format_args!("{} summary written to {}", format.name(), p.display()));
                }
                Err(e) => {
                    error(format_args!("{} summary not written: {e}", format.name()));
                    *outcome = outcome.combine(Outcome::Operational(ErrorKind::InvalidConfig));
                }
            }
        }
        Ok(render::console::render_merged(&summary, &render::console::Style { color: self.color }))
    }
}
