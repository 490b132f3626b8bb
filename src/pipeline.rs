//! One image through the pipeline: reference → acquire (podman into storage, or skopeo
//! straight from the registry or archive) → read the layers → engine → report. Every
//! operational failure becomes a report with `error` set.

use crate::base;
use crate::config::ScanConfig;
use crate::engine;
use crate::exit::Failure;
use crate::inspect::ImageInspect;
use crate::layers::{self, tar, tar::TarLayer, CapturedFiles, Classify, LayerFiles, LayerScan};
use crate::model::{BaseFoundBy, BaseInfo, ErrorKind, Report, SettingsInfo, Source, SourceChoice};
use crate::oci::LayerBlob;
use crate::output;
use crate::podman::private_store::PrivateStore;
use crate::podman::{Podman, PullPolicy};
use crate::reference::{ImageRef, Transport};
use crate::rules::{self, Classifier};
use crate::skopeo::{BlobCache, Skopeo};
use crate::time::timing;
use std::collections::HashMap;
use std::sync::Arc;

/// The settings a report of this run states.
fn settings_info(cfg: &ScanConfig) -> SettingsInfo {
    SettingsInfo {
        source: cfg.source,
        platform: cfg.platform().map(|p| p.to_string()),
        storage: cfg.storage.clone(),
        base_image: cfg.base_image.as_ref().map(|b| crate::escape::text(&b.original)),
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

/// What a run scans with: podman for stored images, skopeo for fetched ones (each located
/// once, and only an error for the images that need it), the blobs fetched so far and the
/// layers already read, so images that share a base read it once.
pub struct Scanner {
    cfg: Arc<ScanConfig>,
    podman: Result<Podman, Failure>,
    skopeo: Result<Skopeo, String>,
    blobs: tokio::sync::OnceCell<Result<BlobCache, String>>,
    classifier: Arc<Classifier>,
    /// Layer blobs read in this run, by blob digest: each is read once, whatever number of
    /// images share it, even when they are scanned at the same time.
    read: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<ReadLayer>>>>>,
    /// Blobs being read at once (--walk-threads), whatever the number of images.
    readers: Arc<tokio::sync::Semaphore>,
    /// Base images inspected in this run, by how and for which platform: a batch of images
    /// on one base inspects it once.
    bases: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<BaseResult>>>>,
}

/// A base image's layers as inspected, or why it could not be.
type BaseResult = Result<InspectedBase, (ErrorKind, String)>;

#[derive(Debug, Clone)]
struct InspectedBase {
    diff_ids: Vec<String>,
    digest: Option<String>,
}

/// How a base image is looked at.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    /// podman, pulling by the pull policy (--base-image with the storage source).
    Acquire,
    /// podman, what local storage holds (an annotation with the storage source).
    Local,
    /// skopeo inspect --config: the registry or the archive, no blob (the registry source,
    /// and archives).
    Config,
}

/// The containers/storage store an overlay image's layers are in (`<root>/overlay/<id>/diff`),
/// whose records name its other images.
fn store_records(image: &ImageInspect) -> Option<(&'static str, std::path::PathBuf)> {
    if image.graph_driver.name != "overlay" {
        return None;
    }
    let upper = std::path::Path::new(image.graph_driver.data.get("UpperDir")?);
    let root = upper.parent()?.parent()?.parent()?;
    root.join("overlay-images").is_dir().then(|| ("overlay", root.to_path_buf()))
}

impl Scanner {
    pub fn new(cfg: Arc<ScanConfig>) -> Scanner {
        Scanner {
            podman: cfg.podman_program().map(Podman::new),
            skopeo: Skopeo::locate(cfg.skopeo.clone()),
            blobs: tokio::sync::OnceCell::new(),
            classifier: Arc::new(Classifier::new(rules::all(), &cfg.rules)),
            read: Default::default(),
            readers: Arc::new(tokio::sync::Semaphore::new(cfg.walk_threads.max(1))),
            bases: Default::default(),
            cfg,
        }
    }

    /// The tool the asked-for source needs, when it cannot be found: the run cannot do
    /// anything (with `auto`, an image simply uses the source that is there).
    pub fn missing_tool(&self) -> Option<Failure> {
        match (self.cfg.source, &self.podman, &self.skopeo) {
            (SourceChoice::Storage, Err(f), _) => Some(Failure::new(f.kind, f.message.clone())),
            (SourceChoice::Registry, _, Err(e)) => Some(Failure::new(ErrorKind::PullFailed, e.clone())),
            _ => None,
        }
    }

    /// Scan one image into a report; operational failures become a report with `error` set.
    pub async fn scan_one(&self, r: &ImageRef) -> Report {
        let scanned = match self.source_for(r).await {
            Source::Storage => self.scan_stored(r).await,
            Source::Registry => self.scan_fetched(r).await,
        };
        scanned.unwrap_or_else(|f| engine::failed(r, settings_info(&self.cfg), &f))
    }

    /// Where `r` is read from. `auto`: storage for what only storage has (containers-storage:
    /// references, image IDs, short names podman resolves) and with --pull never; the
    /// registry for archives and with --pull always; otherwise storage when the image is
    /// already in local storage, the registry when it is not.
    pub async fn source_for(&self, r: &ImageRef) -> Source {
        match self.cfg.source {
            SourceChoice::Storage => Source::Storage,
            SourceChoice::Registry => Source::Registry,
            SourceChoice::Auto => {
                let only_local = r.transport == Transport::ContainersStorage || r.image_id.is_some();
                let short_name = r.transport == Transport::Docker && r.registry.is_none();
                if only_local || short_name || self.cfg.acquire.pull == PullPolicy::Never {
                    return Source::Storage;
                }
                if r.is_archive() || self.cfg.acquire.pull == PullPolicy::Always {
                    return Source::Registry;
                }
                let local = match (&self.podman, r.local_name()) {
                    (Ok(podman), Some(name)) => {
                        podman.with_store(&self.cfg.storage).exists(&name).await.unwrap_or(false)
                    }
                    _ => false,
                };
                if local {
                    Source::Storage
                } else {
                    Source::Registry
                }
            }
        }
    }

    async fn scan_stored(&self, r: &ImageRef) -> Result<Report, Failure> {
        let podman = self.podman.as_ref().map_err(|f| Failure::new(f.kind, f.message.clone()))?;
        scan_image(self, podman, self.classifier.clone(), r).await
    }

    /// Which bottom layers of `image` are its base's: --base-image (which must fit, else
    /// InvalidConfig), else the base the annotations or labels name when it can be inspected
    /// and fits, else the history's FROM marker, else none (every layer own, the note says
    /// what was tried).
    async fn base_of(&self, r: &ImageRef, image: &ImageInspect, source: Source) -> Result<BaseInfo, Failure> {
        let ids = &image.root_fs.layers;
        let platform = (image.os.as_str(), image.architecture.as_str(), image.variant.as_str());
        let shown = crate::escape::text;
        if let Some(b) = &self.cfg.base_image {
            let how = match (source, b.is_archive()) {
                (Source::Storage, false) => Lookup::Acquire,
                _ => Lookup::Config,
            };
            let found = self.inspect_base(b, how, platform, None).await.map_err(|(kind, m)| {
                Failure::new(kind, format!("--base-image {} could not be inspected: {m}", shown(&b.original)))
            })?;
            base::check_prefix(&found.diff_ids, ids).map_err(|e| {
                Failure::config(format!(
                    "--base-image {} is not the base of {}: its layers are not the bottom of the image's: {e}",
                    shown(&b.original),
                    shown(&r.original)
                ))
            })?;
            return Ok(BaseInfo {
                found_by: BaseFoundBy::Option,
                reference: Some(shown(&b.original)),
                digest: found.digest,
                layers: found.diff_ids.len(),
                note: None,
            });
        }
        let mut tried = Vec::new();
        if let Some(named) = base::named(image) {
            let what = named.found_by.name();
            match named.reference().map(|n| (ImageRef::parse(&n), n)) {
                None => tried.push(format!("the base {what} gives a digest but no name to inspect it by")),
                Some((Err(e), n)) => tried.push(format!("the base {what} names {}, not a reference: {e}", shown(&n))),
                Some((Ok(b), n)) => {
                    let how = match (source, b.is_archive()) {
                        (Source::Storage, false) => Lookup::Local,
                        _ => Lookup::Config,
                    };
                    match self.inspect_base(&b, how, platform, store_records(image)).await {
                        Ok(found) => match base::check_prefix(&found.diff_ids, ids) {
                            Ok(()) => {
                                return Ok(BaseInfo {
                                    found_by: named.found_by,
                                    reference: Some(shown(&n)),
                                    digest: named.digest.as_deref().map(shown).or(found.digest),
                                    layers: found.diff_ids.len(),
                                    note: None,
                                })
                            }
                            Err(e) => tried.push(format!(
                                "the base {what} names {}, whose layers are not the bottom of this image's: {e}",
                                shown(&n)
                            )),
                        },
                        Err((_, m)) => tried
                            .push(format!("the base {what} names {}, which could not be inspected: {m}", shown(&n))),
                    }
                }
            }
        }
        let tried_note = |tail: String| {
            let mut all = tried.clone();
            all.push(tail);
            all.join("; ")
        };
        Ok(match base::from_history(image) {
            Ok((name, layers)) => BaseInfo {
                found_by: BaseFoundBy::History,
                reference: Some(shown(&name)),
                digest: None,
                layers,
                note: (!tried.is_empty()).then(|| tried.join("; ")),
            },
            Err(e) => BaseInfo {
                found_by: BaseFoundBy::None,
                reference: None,
                digest: None,
                layers: 0,
                note: Some(tried_note(format!("{e}; every layer counts as the image's own"))),
            },
        })
    }

    /// A base image's diff IDs, inspected once per run for each way and platform.
    async fn inspect_base(
        &self,
        b: &ImageRef,
        how: Lookup,
        platform: (&str, &str, &str),
        records: Option<(&str, std::path::PathBuf)>,
    ) -> BaseResult {
        let key = format!("{how:?} {}/{}/{} {}", platform.0, platform.1, platform.2, b.original);
        let cell = self.bases.lock().expect("not poisoned").entry(key).or_default().clone();
        cell.get_or_init(|| async {
            let err = |f: Failure| (f.kind, f.message);
            match how {
                Lookup::Acquire | Lookup::Local => {
                    if let (Lookup::Local, Some((driver, root)), Some(repo)) = (how, &records, b.repo_name()) {
                        match crate::layers::storage::find_named(
                            driver,
                            root,
                            &repo,
                            b.tag.as_deref(),
                            b.digest.as_deref(),
                        ) {
                            Ok(Some(found)) => {
                                let digest = b.digest.clone().or(Some(found.digest).filter(|d| !d.is_empty()));
                                return Ok(InspectedBase { diff_ids: found.diff_ids, digest });
                            }
                            Err(e) => return Err((ErrorKind::InspectFailed, e)),
                            // Not in this store: podman also searches the additional ones.
                            Ok(None) => {}
                        }
                    }
                    let podman = self.podman.as_ref().map_err(|f| (f.kind, f.message.clone()))?;
                    let podman = podman.with_store(&self.cfg.storage);
                    let image = match how {
                        Lookup::Acquire => podman.acquire(b, &self.cfg.acquire).await.map_err(err)?.into_image(),
                        _ => {
                            let name = b.local_name().ok_or_else(|| {
                                (ErrorKind::PullFailed, "it names no image in local storage".to_string())
                            })?;
                            podman.inspect(&name).await.map_err(err)?
                        }
                    };
                    // podman finds `repo@digest` by the digest alone, even in an unnamed image
                    // (`podman build --layers` annotates the last step's intermediate image's
                    // digest with the base's name): the image found must carry the name.
                    if let Some(repo) = b.repo_name() {
                        let named =
                            image.repo_tags.iter().chain(&image.repo_digests).any(|n| {
                                n.strip_prefix(repo.as_str()).is_some_and(|rest| rest.starts_with([':', '@']))
                            });
                        if !named {
                            return Err((
                                ErrorKind::PullFailed,
                                format!(
                                    "the image local storage gives for it is not named {}",
                                    crate::escape::text(&repo)
                                ),
                            ));
                        }
                    }
                    let digest = b.digest.clone().or_else(|| image.digest_for(b.repo_name().as_deref()));
                    Ok(InspectedBase { diff_ids: image.root_fs.layers, digest })
                }
                Lookup::Config => {
                    let skopeo = self.skopeo.as_ref().map_err(|e| (ErrorKind::PullFailed, e.clone()))?;
                    let diff_ids = skopeo.layer_diff_ids(b, &self.cfg.acquire, platform).await.map_err(err)?;
                    Ok(InspectedBase { diff_ids, digest: b.digest.clone() })
                }
            }
        })
        .await
        .clone()
    }

    /// The registry source: the blobs through skopeo into this run's blob cache, each layer
    /// read as a stream (layers in parallel), no image store.
    async fn scan_fetched(&self, r: &ImageRef) -> Result<Report, Failure> {
        let t = std::time::Instant::now();
        let pull_failed = |m: String| Failure::new(ErrorKind::PullFailed, m);
        let skopeo = self.skopeo.as_ref().map_err(|e| pull_failed(e.clone()))?;
        let blobs = self.blobs.get_or_init(|| async { BlobCache::create() }).await;
        let blobs = blobs.as_ref().map_err(|e| Failure::new(ErrorKind::CheckError, e.clone()))?;
        let fetched = skopeo.fetch(blobs, r, &self.cfg.acquire).await?;
        timing("fetch", t);
        // Every layer starts reading now (at most --walk-threads at a time, across images).
        let mut reads = Vec::with_capacity(fetched.layers.len());
        for blob in &fetched.layers {
            reads.push(tokio::spawn(self.read_layer(blob.clone())));
        }
        // While the layers are read.
        let base = self.base_of(r, &fetched.image, Source::Registry).await?;
        let mut read = Vec::with_capacity(reads.len());
        for r in reads {
            read.push(
                r.await.map_err(|e| Failure::new(ErrorKind::CheckError, format!("reading a layer crashed: {e}")))?,
            );
        }
        timing("read layers", t);
        let mut image = fetched.image;
        // What podman states for a stored image: the bytes of its uncompressed layers.
        image.size = read.iter().map(|l| l.tar_bytes).sum();
        let files = read.iter().map(|l| LayerFiles::Captured(l.files.clone())).collect();
        let sources =
            layers::source::attribute(&image, files).map_err(|e| Failure::new(ErrorKind::InspectFailed, e))?;
        let reference = with_archive_tag(r);
        let settings = settings_info(&self.cfg);
        let (policy, rule_settings) = (self.cfg.policy.clone(), self.cfg.rules.clone());
        tokio::task::spawn_blocking(move || {
            let fs = layers::ImageFs::new(sources.into_iter().zip(read.iter().map(|l| l.scan.clone())).collect());
            timing("merge", t);
            let scanned = engine::Scanned {
                reference: &reference,
                image: &image,
                fs: &fs,
                registry_digest: None,
                source: Source::Registry,
                base: &base,
            };
            let judge = engine::Judgement { policy: &policy, rules: &rule_settings, today: crate::time::today() };
            engine::evaluate(&scanned, &judge, settings, t)
        })
        .await
        .map_err(|e| Failure::new(ErrorKind::CheckError, format!("the checks crashed: {e}")))
    }

    /// One layer blob, read once per run: a second image with the same layer waits for the
    /// first read, or takes its result. The future owns what it needs, so it can be spawned.
    fn read_layer(&self, blob: LayerBlob) -> impl std::future::Future<Output = Arc<ReadLayer>> + Send + 'static {
        let cell = self.read.lock().expect("not poisoned").entry(blob.digest.clone()).or_default().clone();
        let (classifier, limit) = (self.classifier.clone(), self.readers.clone());
        async move {
            cell.get_or_init(|| async move {
                let _permit = limit.acquire_owned().await;
                let read = tokio::task::spawn_blocking(move || {
                    let t = std::time::Instant::now();
                    let read = read_blob(&blob, classifier.as_ref());
                    timing("layer read from blob", t);
                    read
                })
                .await;
                Arc::new(ReadLayer::from(
                    read.unwrap_or_else(|e| TarLayer::failed(format!("reading a layer crashed: {e}"))),
                ))
            })
            .await
            .clone()
        }
    }
}

/// A layer read from its blob, as every image of the run that has it shares it.
struct ReadLayer {
    scan: Arc<LayerScan>,
    files: Arc<CapturedFiles>,
    /// Bytes of the uncompressed tar.
    tar_bytes: u64,
}

impl From<TarLayer> for ReadLayer {
    fn from(t: TarLayer) -> ReadLayer {
        ReadLayer {
            scan: Arc::new(t.scan),
            files: Arc::new(CapturedFiles { files: t.captured, hardlinks: t.hardlinks, over_budget: t.over_budget }),
            tar_bytes: t.tar_bytes,
        }
    }
}

/// Read one blob file: its compression as its first bytes show, every rule's declared files
/// kept. An unknown layer type or an unreadable file is the layer's error.
fn read_blob(blob: &LayerBlob, classifier: &Classifier) -> TarLayer {
    let shown = crate::escape::text(&blob.digest);
    let Some(compression) = blob.compression else {
        return TarLayer::failed(format!(
            "layer {shown} has media type {:?}, which is not a layer this tool can read",
            crate::escape::text(&blob.media_type)
        ));
    };
    match std::fs::File::open(&blob.path) {
        Ok(f) => tar::read_layer(
            std::io::BufReader::with_capacity(1 << 20, f),
            compression,
            classifier,
            &|p| classifier.reads_content(p),
            rules::MAX_FILE_READ,
        ),
        Err(e) => TarLayer::failed(format!("cannot open the blob of layer {shown}: {e}")),
    }
}

/// The reference as the checks see it: an archive's own tag when the reference names none.
fn with_archive_tag(r: &ImageRef) -> ImageRef {
    let mut r = r.clone();
    if r.is_archive() && r.tag.is_none() && r.digest.is_none() {
        r.tag = crate::oci::archive_tag(&r);
    }
    r
}

/// The storage source: podman pull when needed, then the stored layer directories.
async fn scan_image(
    scanner: &Scanner,
    podman: &Podman,
    classifier: Arc<Classifier>,
    r: &ImageRef,
) -> Result<Report, Failure> {
    let cfg = scanner.cfg.as_ref();
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
    let base = scanner.base_of(r, &image, Source::Storage).await?;
    let store = if layers::needs_store_records(&image) { Some(podman.store_info().await?) } else { None };
    let layout = layers::locate(&image, store.as_ref()).map_err(|e| Failure::new(ErrorKind::CheckError, e))?;
    let rule_settings = cfg.rules.clone();
    let policy = cfg.policy.clone();
    let threads = cfg.walk_threads;
    let r = with_archive_tag(r);
    let settings = settings_info(cfg);
    let report = tokio::task::spawn_blocking(move || {
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
        let scanned = engine::Scanned {
            reference: &r,
            image: &image,
            fs: &fs,
            registry_digest,
            source: Source::Storage,
            base: &base,
        };
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
