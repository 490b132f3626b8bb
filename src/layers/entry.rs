//! What one layer is made of, whatever it was read from: its entries with their mode bits,
//! owners and link targets, plus what the rules asked to see. Walks, snapshot diffs and the
//! overlay merge all speak this.

use crate::model::EntryKind;
use std::hash::BuildHasher;
use std::sync::OnceLock;

pub const NO_PARENT: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path inside the image, as raw bytes.
    pub path: Box<[u8]>,
    /// Index of the parent directory's entry in the same layer, or NO_PARENT at the top.
    pub parent: u32,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (st_mode & 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Apparent size: of a regular file its length, of a symlink its target's length, 0 for
    /// directories and everything else.
    pub size: u64,
    pub link: Option<Box<[u8]>>,
    /// This directory hides everything below it in lower layers.
    pub opaque: bool,
}

impl Entry {
    pub fn name(&self) -> &[u8] {
        let p = &self.path[..];
        match p.iter().rposition(|&b| b == b'/') {
            Some(i) => &p[i + 1..],
            None => p,
        }
    }

    pub fn dir(&self) -> &[u8] {
        let p = &self.path[..];
        match p.iter().rposition(|&b| b == b'/') {
            Some(0) => b"/",
            Some(i) => &p[..i],
            None => b"/",
        }
    }

    pub fn is_executable(&self) -> bool {
        self.kind == EntryKind::File && self.mode & 0o111 != 0
    }
}

/// Decides, once per entry, which rules want to see it (a bit per rule slot).
pub trait Classify: Sync {
    fn classify(&self, entry: &Entry) -> u64;

    /// Whether some rule reads the content of the file at `path` (absolute): a source that
    /// streams layers keeps those files while it reads them.
    fn reads_content(&self, _path: &[u8]) -> bool {
        false
    }

    /// Whether some rule wants the `security.capability` xattr of executable regular files.
    fn reads_capabilities(&self) -> bool {
        false
    }
}

/// What comparing two vfs snapshots needs beyond an Entry: when the inode last changed
/// content-wise and which device it names. Recorded only when walking snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub rdev: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct LayerScan {
    pub entries: Vec<Entry>,
    /// `path_hash` of each entry's path, same order as `entries`.
    pub hashes: Vec<u64>,
    /// (entry index, rule-slot bits) for every entry some rule asked for.
    pub hits: Vec<(u32, u64)>,
    /// Everything that could not be read. Any error makes file checks unprovable.
    pub errors: Vec<String>,
    /// Sum of regular file sizes (apparent), for the layer table.
    pub bytes: u64,
    /// (entry index, raw `security.capability` xattr value), ascending by index. The tar
    /// reader fills it from PAX `SCHILY.xattr.security.capability` records; walks, when the
    /// classifier asks, for executable regular files (an empty value: the file has one the
    /// kernel would not show, as one set for another user namespace's root).
    pub capabilities: Vec<(u32, Box<[u8]>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loc {
    /// 0-based layer index, bottom to top.
    pub layer: u16,
    pub idx: u32,
}

/// The keyed hash of an image path, one random key per process. Walkers compute it while
/// they still hold the path in cache and in parallel, so the (serial) merge only probes.
pub fn path_hash(path: &[u8]) -> u64 {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEY.get_or_init(Default::default).hash_one(path)
}
