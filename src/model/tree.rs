//! A bounded summary of the final image's file tree, as the report carries it (built by
//! `engine::tree`).

use super::vocab::EntryKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeLimits {
    pub max_dirs: usize,
    pub max_files: usize,
    pub max_files_per_dir: usize,
    pub max_depth: usize,
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits { max_dirs: 1500, max_files: 2500, max_files_per_dir: 40, max_depth: 16 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileTree {
    pub limits: TreeLimits,
    /// Directories in the final image (the root not counted).
    pub total_dirs: u64,
    /// Non-directory entries in the final image.
    pub total_files: u64,
    /// Apparent size of all regular files.
    pub total_size: u64,
    pub shown_dirs: u64,
    pub shown_files: u64,
    /// Something was left out because of the limits.
    pub truncated: bool,
    /// The shown directories depth first (a directory before its subdirectories, siblings by
    /// name), the root first. A flat list keeps the JSON shallow whatever the image's depth.
    pub dirs: Vec<TreeDir>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeDir {
    /// Escaped absolute path ("/" for the root).
    pub path: String,
    /// 0 for the root.
    pub depth: usize,
    /// The layer whose entry the final image shows (0: implied, no entry of its own).
    pub layer: usize,
    /// Subdirectories below, recursively.
    pub dirs: u64,
    /// Non-directory entries below, recursively.
    pub files: u64,
    /// Bytes of regular files below, recursively.
    pub size: u64,
    /// Direct subdirectories not shown.
    pub hidden_dirs: u64,
    /// Direct non-directory entries not listed.
    pub hidden_files: u64,
    /// The directory's own non-directory entries, when listed.
    pub entries: Vec<TreeFile>,
}

impl TreeDir {
    /// The last path component ("/" for the root).
    pub fn name(&self) -> &str {
        if self.path == "/" {
            return "/";
        }
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeFile {
    pub name: String,
    pub kind: EntryKind,
    /// `ls -l` style, e.g. `-rwxr-xr-x`.
    pub permissions: String,
    pub size: u64,
    pub layer: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}
