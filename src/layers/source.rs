//! Where an image's layers are on disk, bottom to top, and what made each: read from what
//! podman reports about a stored image.

use crate::inspect::ImageInspect;
use crate::podman::info::StoreInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where one layer's files are, and what made it.
#[derive(Debug, Clone)]
pub struct LayerSource {
    /// 1-based, bottom to top.
    pub number: usize,
    pub files: LayerFiles,
    pub diff_id: String,
    /// The build steps that made the layer (see `ImageInspect::layer_steps`) that can change
    /// files (not ARG, ENV, CMD, …; all of them when there are only such), joined with
    /// `; then `; empty when the history does not line up.
    pub created_by: String,
    /// The same steps, one by one.
    pub steps: Vec<String>,
}

impl LayerSource {
    /// The layer's directory, for a stored layer.
    pub fn dir(&self) -> Option<&Path> {
        match &self.files {
            LayerFiles::Dir(d) => Some(d),
            LayerFiles::Captured(_) => None,
        }
    }

    /// The directory of a layer that a stored image's layout located: always one.
    pub(super) fn stored_dir(&self) -> &Path {
        self.dir().expect("a stored layer is a directory")
    }
}

/// Where the content of a layer's files can be read.
#[derive(Debug, Clone)]
pub enum LayerFiles {
    /// A directory of containers/storage holding the layer (an overlay diff, a vfs snapshot).
    Dir(PathBuf),
    /// A layer read as a stream: only the files the rules read were kept.
    Captured(Arc<CapturedFiles>),
}

/// The files of a streamed layer that some rule reads, kept while the layer was read.
#[derive(Debug, Default)]
pub struct CapturedFiles {
    /// Content by absolute path.
    pub files: HashMap<Box<[u8]>, Vec<u8>>,
    /// Hard links of the layer, link path → target path: the content is the target's.
    pub hardlinks: HashMap<Box<[u8]>, Box<[u8]>>,
    /// Files a rule asked for that were not kept: the layer's content budget was used up.
    pub over_budget: std::collections::HashSet<Box<[u8]>>,
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
            let dirs = super::storage::layer_dirs("vfs", &store.stores(), &image.id, &image.root_fs.layers)?;
            Ok(Layout {
                format: LayerFormat::Snapshot,
                layers: attribute(image, dirs.into_iter().map(LayerFiles::Dir).collect())?,
            })
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
    attribute(image, dirs.into_iter().map(LayerFiles::Dir).collect())
}

/// The steps that can have changed files: a layer's `created_by` names those (a finding's
/// reader wants the COPY, not the ARG and CMD around it); all of them when none is.
fn file_steps(steps: &[String]) -> Vec<&str> {
    const CONFIG_ONLY: &[&str] = &[
        "ARG",
        "ENV",
        "LABEL",
        "USER",
        "CMD",
        "ENTRYPOINT",
        "EXPOSE",
        "VOLUME",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "MAINTAINER",
        "ONBUILD",
        "SHELL",
    ];
    let config_only = |s: &str| {
        let s = s.trim_start();
        let s = s.strip_prefix("/bin/sh -c #(nop)").unwrap_or(s).trim_start();
        let word = s.split_whitespace().next().unwrap_or("");
        CONFIG_ONLY.contains(&word)
    };
    let files: Vec<&str> = steps.iter().map(String::as_str).filter(|s| !config_only(s)).collect();
    if files.is_empty() {
        steps.iter().map(String::as_str).collect()
    } else {
        files
    }
}

/// Between the steps of a layer made by several, in `created_by`.
pub const STEP_SEPARATOR: &str = "; then ";

/// Tie layers' files (bottom to top) to RootFS diff digests and History: the same for
/// stored layers and for layers read from blobs.
pub fn attribute(image: &ImageInspect, layers: Vec<LayerFiles>) -> Result<Vec<LayerSource>, String> {
    let diff_ids = &image.root_fs.layers;
    if !diff_ids.is_empty() && diff_ids.len() != layers.len() {
        return Err(format!("the image has {} RootFS layers but {} layers were found", diff_ids.len(), layers.len()));
    }
    let history = image.layer_steps();
    // History is only trusted for attribution when it lines up one to one with the layers.
    let history_fits = history.len() == layers.len();
    Ok(layers
        .into_iter()
        .enumerate()
        .map(|(i, files)| {
            let steps: Vec<String> = match history_fits {
                true => history[i].iter().map(|h| h.created_by.clone()).filter(|s| !s.is_empty()).collect(),
                false => Vec::new(),
            };
            LayerSource {
                number: i + 1,
                files,
                diff_id: diff_ids.get(i).cloned().unwrap_or_default(),
                created_by: file_steps(&steps).join(STEP_SEPARATOR),
                steps,
            }
        })
        .collect())
}
