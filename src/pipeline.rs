//! One image through the pipeline: reference → acquire (podman) → locate and read the layers
//! → engine → report. Every operational failure becomes a report with `error` set.

use crate::config::ScanConfig;
use crate::engine;
use crate::exit::Failure;
use crate::layers;
use crate::model::{ErrorKind, Report, SettingsInfo, Source};
use crate::output;
use crate::podman::private_store::PrivateStore;
use crate::podman::Podman;
use crate::reference::ImageRef;
use crate::rules::{self, Classifier};
use crate::time::timing;
use std::sync::Arc;

/// The settings a report of this run states.
fn settings_info(cfg: &ScanConfig) -> SettingsInfo {
    SettingsInfo {
        source: cfg.source,
        platform: cfg.platform().map(|p| p.to_string()),
        storage: cfg.storage.clone(),
        ..crate::engine::settings::settings_info(
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
        Err(f) => crate::engine::failed(r, settings_info(cfg), &f),
    }
}

async fn scan_image(cfg: &ScanConfig, podman: &Podman, r: &ImageRef) -> Result<Report, Failure> {
    let t = std::time::Instant::now();
    // Archives are loaded into a store of their own, unmounted and removed when this
    // function returns (on every path), so the host's storage never sees them.
    let private = match r.is_archive() {
        true => {
            Some(PrivateStore::create(cfg.storage.driver.clone()).map_err(|e| Failure::new(ErrorKind::PullFailed, e))?)
        }
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
    let registry_digest =
        if ambiguous { podman.registry_digest(r, &acquired, cfg.acquire.tls_verify).await } else { None };
    let image = acquired.into_image();
    let store = if layers::needs_store_records(&image) { Some(podman.store_info().await?) } else { None };
    let layout = layers::locate(&image, store.as_ref()).map_err(|e| Failure::new(ErrorKind::CheckError, e))?;
    let rule_settings = cfg.rules.clone();
    let policy = cfg.policy.clone();
    let threads = cfg.walk_threads;
    let r = r.clone();
    let settings = settings_info(cfg);
    let report = tokio::task::spawn_blocking(move || {
        let classifier = Arc::new(Classifier::new(rules::all(), &rule_settings));
        // Held while layer files are read (walk and file checks), as podman holds it.
        let dirs: Vec<&std::path::Path> = layout.layers.iter().filter_map(|l| l.dir()).collect();
        let store_lock = layers::store_lock::StoreLock::shared(&dirs, |p| {
            output::note(format_args!(
                "waiting for {} (podman or buildah is changing the image store)",
                crate::escape::bytes(p.as_os_str().as_encoded_bytes())
            ))
        });
        let fs = layers::scan_layout(layout, classifier.as_ref(), threads);
        timing("walk and merge", t);
        let scanned =
            engine::Scanned { reference: &r, image: &image, fs: &fs, registry_digest, source: Source::Storage };
        let judge = engine::Judgement { policy: &policy, rules: &rule_settings, today: crate::time::today() };
        let report = engine::evaluate(&scanned, &judge, settings, t);
        drop(store_lock);
        // Half a million entries take ~10 ms to free: not on the way to the report.
        std::thread::spawn(move || drop(fs));
        report
    })
    .await
    .map_err(|e| Failure::new(ErrorKind::CheckError, format!("the layer walk crashed: {e}")))?;
    Ok(report)
}
