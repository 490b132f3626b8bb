//! The image's filesystem as its layers: diff directories ordered bottom to top, each walked
//! once, then merged with overlay semantics so every entry knows whether it is still
//! visible in the final image.

pub mod image_fs;
pub mod overlay;
pub mod walk;

pub use image_fs::{ImageFs, Loc, ResolveError};
pub use walk::{Classify, Entry, Kind, LayerScan};

use crate::inspect::ImageInspect;
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

/// Order the layer directories of an overlay-stored image bottom to top and tie each to its
/// RootFS diff digest and the History entry that made it.
pub fn layer_sources(image: &ImageInspect) -> Result<Vec<LayerSource>, String> {
    let driver = image.graph_driver.name.as_str();
    if driver != "overlay" {
        return Err(format!(
            "storage driver {driver:?} is not supported (only overlay layer directories can be read)"
        ));
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

/// Walk every layer (in parallel, one pass each) and merge them.
pub fn scan(sources: Vec<LayerSource>, classifier: &dyn Classify, jobs: usize) -> ImageFs {
    let scans = walk_all(&sources, classifier, jobs);
    ImageFs::new(sources.into_iter().zip(scans).collect())
}

fn walk_all(sources: &[LayerSource], classifier: &dyn Classify, jobs: usize) -> Vec<LayerScan> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<LayerScan>>> = Mutex::new((0..sources.len()).map(|_| None).collect());
    let workers = jobs.clamp(1, sources.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(src) = sources.get(i) else { break };
                let scan = walk::walk_layer(&src.dir, classifier);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(scan);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests;
