//! The image's filesystem as its layers: diff directories ordered bottom to top, each walked
//! once, then merged with overlay semantics so every entry knows whether it is still
//! visible in the final image.

pub mod entry;
pub mod image_fs;
pub mod overlay;
pub mod snapshot;
pub mod source;
pub mod storage;
pub mod store_lock;
pub mod tar;
pub mod walk;

use std::sync::Arc;

pub use entry::{Classify, Entry, LayerScan, Loc};
pub use image_fs::{ImageFs, ResolveError};
pub use source::{locate, needs_store_records, CapturedFiles, LayerFiles, LayerFormat, LayerSource, Layout};

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
        let roots: Vec<&std::path::Path> = chunk.iter().map(|s| s.stored_dir()).collect();
        let snaps = snapshot::Snapshot::walk_all(&roots, classifier, jobs);
        for s in snaps {
            diffs.push(snapshot::diff(below.as_ref(), &s, classifier));
            below = Some(s);
        }
    }
    let top = sources.last().map(|s| s.stored_dir().to_path_buf());
    let mut fs = ImageFs::new(sources.into_iter().zip(diffs.into_iter().map(Arc::new)).collect());
    if let Some(top) = top {
        fs.set_content_root(top);
    }
    fs
}

/// Walk every layer (one pass each, `jobs` threads sharing the layers and, when one is
/// left, its directories) and merge them.
pub fn scan(sources: Vec<LayerSource>, classifier: &dyn Classify, jobs: usize) -> ImageFs {
    let roots: Vec<&std::path::Path> = sources.iter().map(|s| s.stored_dir()).collect();
    let scans = walk::walk_layers(&roots, classifier, jobs, false, walk::Split::Balanced);
    ImageFs::new(sources.into_iter().zip(scans.into_iter().map(|(s, _)| Arc::new(s))).collect())
}

#[cfg(test)]
mod tests;
