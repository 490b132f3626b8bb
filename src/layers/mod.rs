//! The image's filesystem as its layers: diff directories ordered bottom to top, each walked
//! once, then merged with overlay semantics so every entry knows whether it is still
//! visible in the final image.

pub mod image_fs;
pub mod overlay;
pub mod snapshot;
pub mod storage;
pub mod store_lock;
pub mod walk;

pub use image_fs::{ImageFs, Loc, ResolveError};
pub use walk::{Classify, Entry, Kind, LayerScan};

use crate::inspect::ImageInspect;
use crate::podman::info::StoreInfo;
use std::path::PathBuf;

/// Where one layer's files are, and what made it.
#[derive(Debug, Clone)]
pub struct LayerSource {
    /// 1-based, bottom to top.
    pub number: usize,
    pub dir: PathBuf,
    pub diff_id: String,
    pub created_by: String,
}

/// How a storage driver keeps an image's layers on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFormat {
    /// Each directory holds what its layer changed, with overlay whiteouts (overlay, with or
    /// without fuse-overlayfs).
    Diff,
    /// Each directory holds the whole filesystem up to its layer (vfs).
    Snapshot,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub format: LayerFormat,
    pub layers: Vec<LayerSource>,
}

/// Drivers whose layer directories must be found in the store's records (see `locate`).
pub fn needs_store_records(image: &ImageInspect) -> bool {
    image.graph_driver.name == "vfs"
}

/// Where the image's layers are, bottom to top. overlay reports its directories in
/// GraphDriver.Data; vfs does not, so `store` (from podman info) is needed to read them
/// from the store's records. Any other driver is an error: its layers cannot be read.
pub fn locate(image: &ImageInspect, store: Option<&StoreInfo>) -> Result<Layout, String> {
    match image.graph_driver.name.as_str() {
        "overlay" => Ok(Layout { format: LayerFormat::Diff, layers: layer_sources(image)? }),
        "vfs" => {
            let store = store.ok_or("vfs layer directories need the store's location (podman info)")?;
            let dirs = storage::layer_dirs("vfs", &store.stores(), &image.id, &image.root_fs.layers)?;
            Ok(Layout { format: LayerFormat::Snapshot, layers: attribute(image, dirs)? })
        }
        other => Err(unsupported(other)),
    }
}

fn unsupported(driver: &str) -> String {
    format!("storage driver {driver:?} is not supported (only overlay and vfs layer directories can be read)")
}

/// Order the layer directories of an overlay-stored image bottom to top and tie each to its
/// RootFS diff digest and the History entry that made it.
pub fn layer_sources(image: &ImageInspect) -> Result<Vec<LayerSource>, String> {
    let driver = image.graph_driver.name.as_str();
    if driver != "overlay" {
        return Err(unsupported(driver));
    }
    let data = &image.graph_driver.data;
    let upper = data
        .get("UpperDir")
        .filter(|s| !s.is_empty())
        .ok_or("podman image inspect gave no GraphDriver.Data.UpperDir")?;
    // LowerDir lists the uppermost lower layer first.
    let mut dirs: Vec<PathBuf> = data
        .get("LowerDir")
        .map(|l| l.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect())
        .unwrap_or_default();
    dirs.reverse();
    dirs.push(PathBuf::from(upper));
    attribute(image, dirs)
}

/// Tie layer directories (bottom to top) to RootFS diff digests and History.
fn attribute(image: &ImageInspect, dirs: Vec<PathBuf>) -> Result<Vec<LayerSource>, String> {
    let diff_ids = &image.root_fs.layers;
    if !diff_ids.is_empty() && diff_ids.len() != dirs.len() {
        return Err(format!(
            "the image has {} RootFS layers but storage lists {} layer directories",
            diff_ids.len(),
            dirs.len()
        ));
    }
    let history = image.layer_history();
    // History is only trusted for attribution when it lines up one to one with the layers.
    let history_fits = history.len() == dirs.len();
    Ok(dirs
        .into_iter()
        .enumerate()
        .map(|(i, dir)| LayerSource {
            number: i + 1,
            dir,
            diff_id: diff_ids.get(i).cloned().unwrap_or_default(),
            created_by: if history_fits { history[i].created_by.clone() } else { String::new() },
        })
        .collect())
}

/// Walk and merge the layers, whatever the format.
pub fn scan_layout(layout: Layout, classifier: &dyn Classify, jobs: usize) -> ImageFs {
    match layout.format {
        LayerFormat::Diff => scan(layout.layers, classifier, jobs),
        LayerFormat::Snapshot => scan_snapshots(layout.layers, classifier, jobs),
    }
}

/// Snapshots are walked `jobs` at a time in parallel and compared in order, so at most
/// `jobs + 1` whole snapshots are in memory at once. The top snapshot is the final image,
/// so files are read from there.
pub fn scan_snapshots(sources: Vec<LayerSource>, classifier: &dyn Classify, jobs: usize) -> ImageFs {
    let jobs = jobs.max(1);
    let mut below: Option<snapshot::Snapshot> = None;
    let mut diffs = Vec::with_capacity(sources.len());
    for chunk in sources.chunks(jobs) {
        let roots: Vec<&std::path::Path> = chunk.iter().map(|s| s.dir.as_path()).collect();
        let snaps = snapshot::Snapshot::walk_all(&roots, classifier, jobs);
        for s in snaps {
            diffs.push(snapshot::diff(below.as_ref(), &s, classifier));
            below = Some(s);
        }
    }
    let top = sources.last().map(|s| s.dir.clone());
    let mut fs = ImageFs::new(sources.into_iter().zip(diffs).collect());
    if let Some(top) = top {
        fs.set_content_root(top);
    }
    fs
}

/// Walk every layer (one pass each, `jobs` threads sharing the layers and, when one is
/// left, its directories) and merge them.
pub fn scan(sources: Vec<LayerSource>, classifier: &dyn Classify, jobs: usize) -> ImageFs {
    let roots: Vec<&std::path::Path> = sources.iter().map(|s| s.dir.as_path()).collect();
    let scans = walk::walk_layers(&roots, classifier, jobs, false, walk::Split::Balanced);
    ImageFs::new(sources.into_iter().zip(scans.into_iter().map(|(s, _)| s)).collect())
}

#[cfg(test)]
mod tests;
