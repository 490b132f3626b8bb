//! Renderers: each takes the report model and produces bytes. None decides the exit code.
//!
//! HTML, Markdown and JUnit come from Handlebars templates (`templates/`, overridable);
//! Code Quality, SARIF and the legacy JSON are produced with serde, because their consumers
//! are programs: a typed structure cannot emit invalid JSON or a dangling comma whatever
//! the image contains, and nobody needs to brand or translate them.

pub mod codequality;
pub mod console;
pub mod cyclonedx;
pub mod json;
pub mod legacy;
pub mod lines;
pub mod markup;
pub mod sarif;
pub mod templates;
pub mod view;

use crate::model::{MergedSummary, Report, Status};
use serde::Serialize;
use std::path::Path;
use templates::Templates;
use view::{ImageView, Limits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// The JSON report (always written; accepted for convenience).
    Json,
    /// The self-contained HTML report.
    Html,
    /// Markdown for merge-request comments and job summaries.
    #[value(alias = "md")]
    Markdown,
    /// JUnit XML: one testcase per check.
    Junit,
    /// GitLab Code Quality JSON.
    Codequality,
    /// SARIF 2.1.0.
    Sarif,
    /// The earlier Python scanner's JSON layout.
    LegacyJson,
    /// CycloneDX 1.5 JSON: an SBOM of the installed packages.
    Cyclonedx,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Json,
        Format::Html,
        Format::Markdown,
        Format::Junit,
        Format::Codequality,
        Format::Sarif,
        Format::LegacyJson,
        Format::Cyclonedx,
    ];

    /// What follows `<name>.` in the file name.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Junit => "junit.xml",
            Format::Codequality => "codequality.json",
            Format::Sarif => "sarif",
            Format::LegacyJson => "legacy.json",
            Format::Cyclonedx => "cdx.json",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
            Format::Markdown => "markdown",
            Format::Junit => "junit",
            Format::Codequality => "codequality",
            Format::Sarif => "sarif",
            Format::LegacyJson => "legacy-json",
            Format::Cyclonedx => "cyclonedx",
        }
    }
}

/// Findings per check shown in the documents meant for people.
pub const HTML_LIMITS: Limits = Limits { findings_per_check: 500 };
pub const MARKDOWN_LIMITS: Limits = Limits { findings_per_check: 50 };

pub struct Renderer {
    /// Compiled when first needed, unless overridden: a scan that writes only JSON (the
    /// default) never pays the ~8 ms of compiling the built-in templates.
    templates: std::sync::OnceLock<Templates>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.templates.get() {
            Some(t) => t.fmt(f),
            None => f.write_str("built-in templates (not compiled yet)"),
        }
    }
}

impl Renderer {
    /// Compile user templates from `templates_dir` now: an error here is a configuration
    /// error (a broken or misnamed user template), reported before any podman call. The
    /// built-in ones are known to compile (tested) and wait until a format needs them.
    pub fn new(templates_dir: Option<&Path>) -> Result<Renderer, String> {
        let templates = std::sync::OnceLock::new();
        if templates_dir.is_some() {
            let _ = templates.set(Templates::load(templates_dir)?);
        }
        Ok(Renderer { templates })
    }

    fn templates(&self) -> &Templates {
        self.templates.get_or_init(|| Templates::load(None).expect("the built-in templates compile (tested)"))
    }

    /// One image's report in `format`.
    pub fn render(&self, format: Format, report: &Report) -> Result<Vec<u8>, String> {
        match format {
            Format::Json => Ok(json::render(report)),
            Format::Html => self.text("report.html.hbs", &view::image(report, 1, HTML_LIMITS, true)),
            Format::Markdown => self.text("report.md.hbs", &view::image(report, 1, MARKDOWN_LIMITS, true)),
            Format::Junit => self.text("junit.xml.hbs", &junit_view(&[report])),
            Format::Codequality => Ok(codequality::render(&[report])),
            Format::Sarif => Ok(sarif::render(&[report])),
            Format::LegacyJson => Ok(legacy::render(&[report])),
            Format::Cyclonedx => Ok(cyclonedx::render(&[report])),
        }
    }

    /// The combined summary of many reports in `format`.
    pub fn render_merged(
        &self,
        format: Format,
        summary: &MergedSummary,
        reports: &[Report],
    ) -> Result<Vec<u8>, String> {
        let refs: Vec<&Report> = reports.iter().collect();
        match format {
            Format::Json => {
                let mut v = serde_json::to_vec_pretty(summary).expect("the summary always serialises");
                v.push(b'\n');
                Ok(v)
            }
            Format::Html => self.text("merge.html.hbs", &merge_view(summary, &refs, HTML_LIMITS)),
            Format::Markdown => self.text("merge.md.hbs", &merge_view(summary, &refs, MARKDOWN_LIMITS)),
            Format::Junit => self.text("junit.xml.hbs", &junit_view(&refs)),
            Format::Codequality => Ok(codequality::render(&refs)),
            Format::Sarif => Ok(sarif::render(&refs)),
            Format::LegacyJson => Ok(legacy::render(&refs)),
            Format::Cyclonedx => Ok(cyclonedx::render(&refs)),
        }
    }

    fn text(&self, template: &str, data: &impl Serialize) -> Result<Vec<u8>, String> {
        self.templates().render(template, data).map(String::into_bytes)
    }
}

#[derive(Serialize)]
struct JunitView<'a> {
    name: &'static str,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    suites: Vec<JunitSuite<'a>>,
}

#[derive(Serialize)]
struct JunitSuite<'a> {
    image: ImageView<'a>,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

fn junit_view<'a>(reports: &[&'a Report]) -> JunitView<'a> {
    let suites: Vec<JunitSuite> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let count = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
            // A scan that stopped early is one testcase in error.
            let stopped = usize::from(r.error.is_some());
            JunitSuite {
                image: view::image(r, i + 1, Limits { findings_per_check: 200 }, false),
                tests: r.checks.len() + stopped,
                failures: count(Status::Fail),
                errors: count(Status::Error) + stopped,
                skipped: count(Status::Skipped),
            }
        })
        .collect();
    JunitView {
        name: "oci-compliance",
        tests: suites.iter().map(|s| s.tests).sum(),
        failures: suites.iter().map(|s| s.failures).sum(),
        errors: suites.iter().map(|s| s.errors).sum(),
        skipped: suites.iter().map(|s| s.skipped).sum(),
        suites,
    }
}

#[derive(Serialize)]
struct MergeView<'a> {
    summary: &'a MergedSummary,
    verdict_label: &'static str,
    worst: &'static str,
    by_severity: Vec<view::SeverityCount>,
    rows: Vec<MergeRow>,
    images: Vec<ImageView<'a>>,
}

#[derive(Serialize)]
struct MergeRow {
    anchor: String,
    reference: String,
    source: String,
    verdict: crate::model::Verdict,
    verdict_label: &'static str,
    exit_code: u8,
    error: Option<String>,
    cells: Vec<MergeCell>,
}

#[derive(Serialize)]
struct MergeCell {
    id: String,
    /// "pass", "fail", "skipped", "error", or "none" when the report lacks the check.
    status: &'static str,
    label: &'static str,
    anchor: String,
}

fn merge_view<'a>(summary: &'a MergedSummary, reports: &[&'a Report], limits: Limits) -> MergeView<'a> {
    let rows = summary
        .images
        .iter()
        .enumerate()
        .map(|(i, img)| {
            let anchor = format!("i{}", i + 1);
            MergeRow {
                reference: img.reference.clone(),
                source: img.source.clone(),
                verdict: img.verdict,
                verdict_label: img.verdict.label(),
                exit_code: img.exit_code,
                error: img.error.clone(),
                cells: summary
                    .checks
                    .iter()
                    .zip(&img.statuses)
                    .map(|(col, st)| MergeCell {
                        id: col.id.clone(),
                        status: st.map_or("none", Status::name),
                        label: st.map(|s| s.label()).unwrap_or("—"),
                        anchor: format!("{anchor}-{}", col.id),
                    })
                    .collect(),
                anchor,
            }
        })
        .collect();
    MergeView {
        verdict_label: summary.verdict.label(),
        worst: summary.worst_failed_severity.map(crate::model::Severity::title).unwrap_or(""),
        by_severity: crate::model::Severity::ALL
            .iter()
            .map(|&s| view::SeverityCount {
                name: s.name(),
                label: s.title(),
                failed: summary.totals.failed_by_severity.get(s),
            })
            .collect(),
        rows,
        images: reports.iter().enumerate().map(|(i, r)| view::image(r, i + 1, limits, false)).collect(),
        summary,
    }
}
