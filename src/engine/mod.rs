//! The engine: turns an image whose layers have been read into a report (run the rules,
//! apply waivers, describe the image and its layers, build the summary and the outcome).
//! It never starts a process and never writes anything.

mod checks;
pub mod policy;
pub mod scope;
pub mod settings;
pub mod tree;
mod waivers;

pub use checks::{run_checks, run_checks_with};
pub use waivers::apply_waivers;

use crate::inspect::ImageInspect;
use crate::layers::ImageFs;
use crate::model::{
    BaseInfo, CheckResult, EntryKind, ImageInfo, LayerInfo, Policy, Report, ScanError, SettingsInfo, Source, Summary,
    ToolInfo, WaiverUse, SCHEMA_VERSION,
};
use crate::reference::ImageRef;
use crate::rules::RuleSettings;
use crate::time::timing;

/// One image, acquired and with its layers read: all the engine looks at.
pub struct Scanned<'a> {
    pub reference: &'a ImageRef,
    pub image: &'a ImageInspect,
    pub fs: &'a ImageFs,
    /// The digest the registry gave for this reference, when it was asked.
    pub registry_digest: Option<String>,
    /// Where the image's files were read from.
    pub source: Source,
    /// Which bottom layers are the base image's.
    pub base: &'a BaseInfo,
}

/// What the checks are judged by.
pub struct Judgement<'a> {
    pub policy: &'a Policy,
    pub rules: &'a RuleSettings,
    /// (year, month, day) the waivers' expiry dates are compared with.
    pub today: (i64, u32, u32),
}

/// The report of one scanned image. `started` only dates the phases for
/// OCI_COMPLIANCE_TIMINGS.
pub fn evaluate(scan: &Scanned, judge: &Judgement, settings: SettingsInfo, started: std::time::Instant) -> Report {
    let packages = crate::packages::image::ImagePackages::read(scan.fs);
    timing("packages", started);
    let mut checks =
        run_checks_with(scan.reference, scan.image, scan.fs, &packages, judge.policy, judge.rules, crate::rules::all());
    timing("rules", started);
    scope::apply_origins(&mut checks, scan.base);
    let waivers = apply_waivers(&mut checks, judge.policy, scan.reference, judge.today);
    scope::apply_scope(&mut checks, judge.policy, scan.base);
    let layers = layer_info(scan.fs, &checks, scan.base);
    let image = image_info(scan.reference, scan.image, scan.registry_digest.clone(), scan.source);
    let mut report = new_report(settings, image, layers, checks, waivers, None);
    timing("model", started);
    report.packages = Some(packages_info(&packages));
    report.base = Some(scan.base.clone());
    report.tree = Some(tree::from_image(scan.fs, crate::model::TreeLimits::default()));
    timing("tree", started);
    report
}

/// The report of an image whose scan stopped before the checks could run.
pub fn failed(reference: &ImageRef, settings: SettingsInfo, error: &crate::exit::Failure) -> Report {
    let image = ImageInfo {
        reference: reference.original.clone(),
        transport: reference.transport.name().to_string(),
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        tag: reference.effective_tag().map(String::from),
        digest: reference.digest.clone(),
        ..ImageInfo::default()
    };
    new_report(settings, image, Vec::new(), Vec::new(), Vec::new(), Some(error))
}

/// The one way a report is made: stamped with the time and the settings' digest, and
/// summarised from its checks.
pub fn new_report(
    settings: SettingsInfo,
    image: ImageInfo,
    layers: Vec<LayerInfo>,
    checks: Vec<CheckResult>,
    waivers: Vec<WaiverUse>,
    error: Option<&crate::exit::Failure>,
) -> Report {
    let error = error.map(|f| ScanError { kind: f.kind, exit_code: f.kind.code(), message: f.message.clone() });
    Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo::default(),
        scanned_at: crate::time::now_rfc3339(),
        settings_digest: crate::canonical::digest_of(&settings),
        summary: Summary::of(&checks, error.as_ref(), &settings),
        settings,
        image,
        layers,
        checks,
        waivers,
        error,
        tree: None,
        packages: None,
        base: None,
    }
}

/// `registry_digest`: the digest the registry gave for this reference, when it was asked.
pub fn image_info(
    reference: &ImageRef,
    image: &ImageInspect,
    registry_digest: Option<String>,
    source: Source,
) -> ImageInfo {
    let c = &image.config;
    ImageInfo {
        reference: reference.original.clone(),
        transport: reference.transport.name().to_string(),
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        tag: reference.effective_tag().map(String::from),
        digest: reference
            .digest
            .clone()
            .or(registry_digest)
            .or_else(|| image.digest_for(reference.repo_name().as_deref())),
        id: image.id.clone(),
        architecture: image.architecture.clone(),
        os: image.os.clone(),
        variant: image.variant.clone(),
        created: image.created.clone(),
        size: image.size,
        user: c.user.clone(),
        entrypoint: c.entrypoint.iter().map(|a| crate::rules::secrets::redact(a)).collect(),
        cmd: c.cmd.iter().map(|a| crate::rules::secrets::redact(a)).collect(),
        exposed_ports: c.exposed_ports.keys().cloned().collect(),
        // Reports never show a secret whole (see secrets-in-config).
        labels: c.labels.iter().map(|(k, v)| (k.clone(), crate::rules::secrets::redact_value(k, v))).collect(),
        storage_driver: image.graph_driver.name.clone(),
        source: Some(source),
    }
}

pub fn layer_info(fs: &ImageFs, checks: &[CheckResult], base: &BaseInfo) -> Vec<LayerInfo> {
    fs.layers
        .iter()
        .map(|l| LayerInfo {
            number: l.source.number,
            diff_id: l.source.diff_id.clone(),
            created_by: crate::escape::text(&crate::rules::secrets::redact(&l.source.created_by)),
            steps: l.source.steps.iter().map(|s| crate::escape::text(&crate::rules::secrets::redact(s))).collect(),
            entries: l.scan.entries.len(),
            size: l.scan.bytes,
            whiteouts: l.scan.entries.iter().filter(|e| e.kind == EntryKind::Whiteout).count(),
            findings: checks.iter().flat_map(|c| &c.findings).filter(|f| f.layer == l.source.number).count(),
            errors: l.scan.errors.clone(),
            origin: base.origin_of(l.source.number),
        })
        .collect()
}

/// What the report says about the package databases: each one's state and every installed
/// package, all strings escaped (the databases are image content).
pub fn packages_info(packages: &crate::packages::image::ImagePackages) -> crate::model::PackagesInfo {
    use crate::packages::DbStatus;
    let mut info = crate::model::PackagesInfo::default();
    for (eco, status) in &packages.dbs {
        let (st, reason, count) = match status {
            DbStatus::Found(db) => {
                let reason = match db.notes.len() {
                    0 => None,
                    n => Some(format!(
                        "{n} part{} could not be read, first: {}",
                        crate::text::plural(n, "", "s"),
                        crate::escape::text(&db.notes[0])
                    )),
                };
                for p in &db.packages {
                    info.installed.push(crate::model::InstalledPackage {
                        name: crate::escape::text(&p.name),
                        version: crate::escape::text(&p.version),
                        arch: crate::escape::text(&p.arch),
                        source: p.source.as_deref().map(crate::escape::text),
                        ecosystem: eco.as_str().to_string(),
                        purl: crate::packages::image::purl(p, db.distro.as_ref()),
                    });
                }
                ("found", reason, db.packages.len())
            }
            DbStatus::Absent => ("absent", None, 0),
            DbStatus::Unreadable { path, reason } => {
                ("unreadable", Some(format!("{}: {}", crate::escape::text(path), crate::escape::text(reason))), 0)
            }
        };
        info.databases.push(crate::model::PackageDbInfo {
            ecosystem: eco.as_str().to_string(),
            status: st.into(),
            reason,
            count,
        });
    }
    info
}
