//! What the templates see: the report model as is (`report`) plus values derived from it
//! for display (findings grouped by layer, the layer chart's geometry, the file tree as
//! rows, labels made printable). Pure functions of the model; nothing here decides a verdict.
//! The field names are the template API documented in docs/reports.md.

use crate::model::{
    AppliedWaiver, CheckResult, ErrorKind, FileTree, Finding, Origin, Report, Severity, Status, TreeDir, Verdict,
    WaiverUse,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many findings per check the HTML and Markdown show; the JSON has them all.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub findings_per_check: usize,
}

#[derive(Serialize)]
pub struct ImageView<'a> {
    /// The report model exactly as in the JSON report.
    pub report: &'a Report,
    /// Prefix for element ids of this image (unique within one document).
    pub anchor: String,
    pub reference: String,
    pub digest: String,
    pub image_id: String,
    pub platform: String,
    pub created: String,
    pub base_os: String,
    pub scanned_at: String,
    pub tool_name: String,
    pub tool_version: String,
    pub settings: SettingsView<'a>,
    pub summary: SummaryView,
    pub error: Option<ErrorView>,
    pub has_checks: bool,
    pub checks: Vec<CheckView<'a>>,
    pub layers: Vec<LayerView>,
    pub chart: ChartView,
    pub labels: Vec<KeyValue>,
    pub user: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// What the container runs: entrypoint followed by cmd.
    pub command: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub tree: Option<TreeView>,
    /// Where the base image ends and how that was found, or why no base was found.
    pub base: String,
    /// A base was found: findings are grouped by origin.
    pub base_found: bool,
}

#[derive(Serialize)]
pub struct SettingsView<'a> {
    pub pull: String,
    pub tls_verify: String,
    pub exit_codes: Vec<KeyValue>,
    /// Failed checks below this severity do not fail the gate.
    pub fail_on: &'static str,
    /// fail_on is above Informational, so some failures may not count.
    pub fail_on_active: bool,
    /// The policy file, or "" when the defaults were used.
    pub policy_file: String,
    /// The platform asked for with --platform, or "".
    pub platform: String,
    /// --root / --runroot / --storage-driver as given.
    pub storage: Vec<KeyValue>,
    pub severities: Vec<SeverityRow>,
    /// Checks the policy disabled or re-rated.
    pub overrides: Vec<OverrideRow>,
    pub required_labels: Vec<KeyValue>,
    /// Every waiver of the policy and what became of it on this image.
    pub waivers: Vec<&'a WaiverUse>,
    pub policy: Vec<KeyValue>,
    /// The exact text the digest is taken of.
    pub canonical_json: String,
    pub digest: String,
}

#[derive(Serialize)]
pub struct SeverityRow {
    pub id: String,
    pub severity: Severity,
    pub label: &'static str,
    pub default_label: &'static str,
    pub overridden: bool,
}

#[derive(Serialize)]
pub struct OverrideRow {
    pub id: String,
    pub enabled: bool,
    /// The severity set by the policy, or "".
    pub severity: &'static str,
    pub reason: String,
}

#[derive(Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Serialize)]
pub struct SummaryView {
    pub verdict: Verdict,
    pub verdict_label: &'static str,
    pub worst: String,
    /// Failed checks below this severity do not count ("" when every failure counts).
    pub fail_on: &'static str,
    pub exit_code: u8,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
    pub by_severity: Vec<SeverityCount>,
}

#[derive(Serialize)]
pub struct SeverityCount {
    pub name: &'static str,
    pub label: &'static str,
    pub failed: usize,
}

#[derive(Serialize)]
pub struct ErrorView {
    pub kind: ErrorKind,
    pub message: String,
    pub exit_code: u8,
}

#[derive(Serialize)]
pub struct CheckView<'a> {
    pub id: &'a str,
    pub anchor: String,
    pub title: &'a str,
    pub severity: Severity,
    pub severity_label: &'static str,
    /// The rule's own severity, when the policy changed it ("" otherwise).
    pub default_severity_label: &'static str,
    pub status: Status,
    pub status_label: &'static str,
    pub failed: bool,
    /// Failed, but below the policy's fail_on: reported, does not fail the gate.
    pub below_fail_on: bool,
    /// A waiver covering the whole check.
    pub waiver: Option<&'a AppliedWaiver>,
    /// Violations covered by a waiver.
    pub waived: usize,
    pub description: &'a str,
    pub rationale: &'a str,
    pub mitigation: &'a str,
    /// The standards items, comma-separated; empty when none.
    pub controls: String,
    pub findings_total: usize,
    pub violations: usize,
    pub not_visible: usize,
    /// Findings listed in this document, grouped by the layer that added them.
    pub groups: Vec<LayerGroup<'a>>,
    /// The same groups under "Own layers" and "Base image (REF)" when a base was found (own
    /// first); else one section with an empty heading.
    pub sections: Vec<Section<'a>>,
    /// Base-image violations set aside by `scope = "own"`.
    pub set_aside: usize,
    pub omitted: usize,
}

#[derive(Serialize)]
pub struct Section<'a> {
    pub heading: String,
    pub groups: Vec<LayerGroup<'a>>,
}

#[derive(Serialize, Clone)]
pub struct LayerGroup<'a> {
    pub layer: usize,
    pub digest: &'a str,
    pub short_digest: String,
    pub created_by: &'a str,
    pub findings: Vec<&'a Finding>,
}

#[derive(Serialize)]
pub struct LayerView {
    pub number: usize,
    pub anchor: String,
    pub diff_id: String,
    pub short_digest: String,
    pub created_by: String,
    /// The layer's build steps one by one (a layer made by several lists each).
    pub steps: Vec<String>,
    pub entries: usize,
    pub size: u64,
    pub whiteouts: usize,
    pub findings: usize,
    pub errors: Vec<String>,
}

/// Geometry of the inline SVG layer chart: one row per layer, a size bar and a findings
/// bar, each scaled to the largest layer.
#[derive(Serialize)]
pub struct ChartView {
    pub width: u32,
    pub height: u32,
    pub bar_x: u32,
    pub bar_width: u32,
    pub max_size: u64,
    pub max_findings: usize,
    pub rows: Vec<ChartRow>,
}

#[derive(Serialize)]
pub struct ChartRow {
    pub number: usize,
    pub created_by: String,
    pub y: u32,
    pub label_y: u32,
    pub bar_x: u32,
    pub size: u64,
    pub size_y: u32,
    pub size_w: u32,
    pub size_text_x: u32,
    pub size_text_y: u32,
    pub findings: usize,
    pub findings_y: u32,
    pub findings_w: u32,
    pub findings_text_x: u32,
    pub findings_text_y: u32,
}

#[derive(Serialize)]
pub struct TreeView {
    pub total_dirs: u64,
    pub total_files: u64,
    pub total_size: u64,
    pub shown_dirs: u64,
    pub shown_files: u64,
    pub truncated: bool,
    pub max_dirs: usize,
    pub max_files: usize,
    pub max_files_per_dir: usize,
    pub max_depth: usize,
    /// The tree in document order: a directory opens, its subdirectories and files follow,
    /// then it closes. Templates cannot recurse, so nesting is expressed by these rows.
    pub rows: Vec<TreeRow>,
}

#[derive(Serialize, Default)]
pub struct TreeRow {
    pub open: bool,
    pub file: bool,
    pub more: bool,
    pub close: bool,
    pub depth: usize,
    /// Two spaces per level, for Markdown lists.
    pub indent: String,
    pub name: String,
    pub path: String,
    pub layer: usize,
    pub dirs: u64,
    pub files: u64,
    pub size: u64,
    pub permissions: String,
    pub link_target: String,
    pub hidden_dirs: u64,
    pub hidden_files: u64,
}

const CHART_ROW: u32 = 36;

pub fn image<'a>(report: &'a Report, index: usize, limits: Limits, with_tree: bool) -> ImageView<'a> {
    let img = &report.image;
    let anchor = format!("i{index}");
    let text = |s: &str| crate::escape::text(s);
    let fail_on = report.settings.fail_on;
    let base = report.base.as_ref().filter(|b| b.found());
    let checks: Vec<CheckView> = report.checks.iter().map(|c| check(c, &anchor, limits, fail_on, base)).collect();
    let layers: Vec<LayerView> = report
        .layers
        .iter()
        .map(|l| LayerView {
            number: l.number,
            anchor: format!("{anchor}-layer-{}", l.number),
            diff_id: l.diff_id.clone(),
            short_digest: crate::text::short_digest(&l.diff_id),
            created_by: l.created_by.clone(),
            steps: if l.steps.is_empty() && !l.created_by.is_empty() {
                vec![l.created_by.clone()]
            } else {
                l.steps.clone()
            },
            entries: l.entries,
            size: l.size,
            whiteouts: l.whiteouts,
            findings: l.findings,
            errors: l.errors.clone(),
        })
        .collect();
    let mut command: Vec<String> = img.entrypoint.iter().map(|s| text(s)).collect();
    command.extend(img.cmd.iter().map(|s| text(s)));
    let platform = [img.os.as_str(), img.architecture.as_str(), img.variant.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| text(s))
        .collect::<Vec<_>>()
        .join("/");
    let base_os = report
        .checks
        .iter()
        .find(|c| c.id == "base-os")
        .map(|c| c.description.clone())
        .unwrap_or_else(|| "unknown".to_string());
    ImageView {
        report,
        reference: text(&img.reference),
        digest: img.digest.clone().unwrap_or_default(),
        image_id: img.id.clone(),
        platform,
        created: text(&img.created),
        base_os,
        scanned_at: report.scanned_at.clone(),
        tool_name: report.tool.name.clone(),
        tool_version: report.tool.version.clone(),
        settings: settings(report),
        summary: summary(report),
        error: report.error.as_ref().map(|e| ErrorView {
            kind: e.kind,
            message: e.message.clone(),
            exit_code: e.exit_code,
        }),
        has_checks: !checks.is_empty(),
        checks,
        chart: chart(&layers),
        layers,
        labels: img.labels.iter().map(|(k, v)| KeyValue { key: text(k), value: text(v) }).collect(),
        user: text(&img.user),
        entrypoint: img.entrypoint.iter().map(|s| text(s)).collect(),
        cmd: img.cmd.iter().map(|s| text(s)).collect(),
        command,
        exposed_ports: img.exposed_ports.iter().map(|s| text(s)).collect(),
        tree: if with_tree { report.tree.as_ref().map(tree) } else { None },
        base: report.base.as_ref().map(|b| b.describe()).unwrap_or_default(),
        base_found: base.is_some(),
        anchor,
    }
}

fn check<'a>(
    c: &'a CheckResult,
    anchor: &str,
    limits: Limits,
    fail_on: Severity,
    base: Option<&crate::model::BaseInfo>,
) -> CheckView<'a> {
    let mut groups: BTreeMap<usize, LayerGroup> = BTreeMap::new();
    for f in c.findings.iter().take(limits.findings_per_check) {
        groups
            .entry(f.layer)
            .or_insert_with(|| LayerGroup {
                layer: f.layer,
                digest: &f.layer_digest,
                short_digest: crate::text::short_digest(&f.layer_digest),
                created_by: &f.created_by,
                findings: Vec::new(),
            })
            .findings
            .push(f);
    }
    let groups: Vec<LayerGroup> = groups.into_values().collect();
    let sections = match base {
        None => vec![Section { heading: String::new(), groups: groups.clone() }],
        Some(b) => {
            let (base_groups, own): (Vec<LayerGroup>, Vec<LayerGroup>) =
                groups.iter().cloned().partition(|g| b.origin_of(g.layer) == Origin::Base);
            let name = b.reference.as_deref().unwrap_or("unnamed");
            [("Own layers".to_string(), own), (format!("Base image ({name})"), base_groups)]
                .into_iter()
                .filter(|(_, g)| !g.is_empty())
                .map(|(heading, groups)| Section { heading, groups })
                .collect()
        }
    };
    CheckView {
        id: &c.id,
        anchor: format!("{anchor}-{}", c.id),
        title: &c.title,
        severity: c.severity,
        severity_label: c.severity.title(),
        default_severity_label: if c.default_severity != c.severity { c.default_severity.title() } else { "" },
        status: c.status,
        status_label: c.status.label(),
        failed: c.status == Status::Fail,
        below_fail_on: c.status == Status::Fail && c.severity < fail_on,
        waiver: c.waiver.as_ref(),
        waived: c.findings.iter().filter(|f| f.violation && f.waiver.is_some()).count(),
        description: &c.description,
        rationale: &c.rationale,
        mitigation: &c.mitigation,
        controls: c.controls.iter().map(|s| crate::escape::text(s)).collect::<Vec<_>>().join(", "),
        findings_total: c.findings.len(),
        violations: c.findings.iter().filter(|f| f.violation && f.counted).count(),
        not_visible: c.findings.iter().filter(|f| !f.visible).count(),
        groups,
        sections,
        set_aside: c.findings.iter().filter(|f| !f.counted).count(),
        omitted: c.findings.len().saturating_sub(limits.findings_per_check),
    }
}

fn summary(r: &Report) -> SummaryView {
    let s = &r.summary;
    SummaryView {
        verdict: s.verdict,
        verdict_label: s.verdict.label(),
        worst: s.worst_failed_severity.map(Severity::title).unwrap_or("").to_string(),
        fail_on: if r.settings.fail_on > Severity::Informational { r.settings.fail_on.title() } else { "" },
        exit_code: s.exit_code,
        total: r.checks.len(),
        passed: s.passed,
        failed: s.failed,
        skipped: s.skipped,
        errors: s.errors,
        by_severity: Severity::ALL
            .iter()
            .map(|&sev| SeverityCount { name: sev.name(), label: sev.title(), failed: s.failed_by_severity.get(sev) })
            .collect(),
    }
}

fn settings(r: &Report) -> SettingsView<'_> {
    let s = &r.settings;
    let default_of = |id: &str| {
        r.checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.default_severity)
            .or_else(|| crate::rules::find(id).map(|rule| rule.meta().severity))
    };
    let e = &s.exit_codes;
    let kv = |k: &str, v: String| KeyValue { key: k.to_string(), value: v };
    SettingsView {
        pull: s.pull.clone(),
        tls_verify: match s.tls_verify {
            None => "podman's default".to_string(),
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
        },
        exit_codes: vec![
            kv("Critical", e.critical.to_string()),
            kv("High", e.high.to_string()),
            kv("Medium", e.medium.to_string()),
            kv("Low", e.low.to_string()),
            kv("nothing above Informational", e.informational.to_string()),
        ],
        fail_on: s.fail_on.title(),
        fail_on_active: s.fail_on > Severity::Informational,
        policy_file: s.policy_file.as_deref().map(crate::escape::text).unwrap_or_default(),
        platform: s.platform.as_deref().map(crate::escape::text).unwrap_or_default(),
        storage: [
            ("root", s.storage.root.as_ref().map(|p| p.display().to_string())),
            ("runroot", s.storage.runroot.as_ref().map(|p| p.display().to_string())),
            ("driver", s.storage.driver.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| kv(k, crate::escape::text(&v))))
        .collect(),
        severities: s
            .severities
            .iter()
            .map(|(id, &sev)| {
                let default = default_of(id).unwrap_or(sev);
                SeverityRow {
                    id: id.clone(),
                    severity: sev,
                    label: sev.title(),
                    default_label: default.title(),
                    overridden: default != sev,
                }
            })
            .collect(),
        overrides: s
            .policy
            .checks
            .iter()
            .map(|(id, c)| OverrideRow {
                id: id.clone(),
                enabled: c.enabled.unwrap_or(true),
                severity: c.severity.map(Severity::title).unwrap_or(""),
                reason: c.reason.as_deref().map(crate::escape::text).unwrap_or_default(),
            })
            .collect(),
        required_labels: s
            .policy
            .labels
            .required
            .iter()
            .map(|l| {
                kv(
                    &crate::escape::text(&l.key),
                    l.pattern.as_deref().map(crate::escape::text).unwrap_or_else(|| "any value".into()),
                )
            })
            .collect(),
        waivers: r.waivers.iter().collect(),
        policy: vec![
            kv("privilege tools", s.rule_lists.privilege_tools.join(", ")),
            kv("remote-access tools", s.rule_lists.remote_access_tools.join(", ")),
            kv("compilers", s.rule_lists.compilers.join(", ")),
            kv("admin ports", s.rule_lists.admin_ports.join(", ")),
            kv("max layers", s.rule_lists.max_layers.to_string()),
        ],
        canonical_json: crate::canonical::json_of(s),
        digest: if r.settings_digest.is_empty() { crate::canonical::digest_of(s) } else { r.settings_digest.clone() },
    }
}

fn chart(layers: &[LayerView]) -> ChartView {
    let (width, bar_x) = (720u32, 56u32);
    let bar_width = 440u32;
    let max_size = layers.iter().map(|l| l.size).max().unwrap_or(0);
    let max_findings = layers.iter().map(|l| l.findings).max().unwrap_or(0);
    let rows = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let y = 4 + i as u32 * CHART_ROW;
            let size_w = scale(l.size, max_size, bar_width as u64);
            let findings_w = scale(l.findings as u64, max_findings as u64, bar_width as u64);
            ChartRow {
                number: l.number,
                created_by: l.created_by.clone(),
                y,
                label_y: y + 21,
                bar_x,
                size: l.size,
                size_y: y + 4,
                size_w,
                size_text_x: bar_x + size_w + 6,
                size_text_y: y + 15,
                findings: l.findings,
                findings_y: y + 19,
                findings_w,
                findings_text_x: bar_x + findings_w + 6,
                findings_text_y: y + 28,
            }
        })
        .collect();
    ChartView { width, height: 8 + layers.len() as u32 * CHART_ROW, bar_x, bar_width, max_size, max_findings, rows }
}

/// `value` as a share of `width`, at least 1 for any non-zero value.
pub fn scale(value: u64, max: u64, width: u64) -> u32 {
    if value == 0 || max == 0 {
        return 0;
    }
    ((value as u128 * width as u128 / max as u128) as u64).clamp(1, width) as u32
}

fn tree(t: &FileTree) -> TreeView {
    TreeView {
        total_dirs: t.total_dirs,
        total_files: t.total_files,
        total_size: t.total_size,
        shown_dirs: t.shown_dirs,
        shown_files: t.shown_files,
        truncated: t.truncated,
        max_dirs: t.limits.max_dirs,
        max_files: t.limits.max_files,
        max_files_per_dir: t.limits.max_files_per_dir,
        max_depth: t.limits.max_depth,
        rows: tree_rows(&t.dirs),
    }
}

/// Rows from the depth-first directory list: a directory opens, its subdirectories follow,
/// then its files, then it closes.
fn tree_rows(dirs: &[TreeDir]) -> Vec<TreeRow> {
    let mut rows = Vec::new();
    let mut open: Vec<&TreeDir> = Vec::new();
    let close = |d: &TreeDir, rows: &mut Vec<TreeRow>| {
        let depth = d.depth + 1;
        for f in &d.entries {
            rows.push(TreeRow {
                file: true,
                depth,
                indent: "  ".repeat(depth),
                name: f.name.clone(),
                path: if d.path == "/" { format!("/{}", f.name) } else { format!("{}/{}", d.path, f.name) },
                layer: f.layer,
                size: f.size,
                permissions: f.permissions.clone(),
                link_target: f.link_target.clone().unwrap_or_default(),
                ..TreeRow::default()
            });
        }
        if d.hidden_dirs > 0 || d.hidden_files > 0 {
            rows.push(TreeRow {
                more: true,
                depth,
                indent: "  ".repeat(depth),
                hidden_dirs: d.hidden_dirs,
                hidden_files: d.hidden_files,
                ..TreeRow::default()
            });
        }
        rows.push(TreeRow { close: true, depth: d.depth, indent: "  ".repeat(d.depth), ..TreeRow::default() });
    };
    for d in dirs {
        while open.last().is_some_and(|o| o.depth >= d.depth) {
            close(open.pop().expect("just checked"), &mut rows);
        }
        rows.push(TreeRow {
            open: true,
            depth: d.depth,
            indent: "  ".repeat(d.depth),
            name: d.name().to_string(),
            path: d.path.clone(),
            layer: d.layer,
            dirs: d.dirs,
            files: d.files,
            size: d.size,
            hidden_dirs: d.hidden_dirs,
            hidden_files: d.hidden_files,
            ..TreeRow::default()
        });
        open.push(d);
    }
    while let Some(d) = open.pop() {
        close(d, &mut rows);
    }
    rows
}
