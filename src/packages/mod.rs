//! The image's package databases (dpkg, apk, rpm): which packages are installed and which
//! files each one owns.
//!
//! Databases are image content, so they are parsed leniently and never trusted for safety:
//! a missing database is `Absent`, one that cannot be read or parsed is `Unreadable` with
//! the reason, and a check that uses them must then behave exactly as without them.
//! Every input is bounded (file sizes, counts) and no bytes make the parsers panic.

pub mod apk;
mod db;
pub mod dpkg;
pub mod image;
pub mod rpm;
pub mod sqlite;

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

pub use db::*;

use crate::layers::image_fs::{components, join};

/// Every ecosystem's database, in the order Deb, Apk, Rpm, each Found, Absent or
/// Unreadable. An image can hold more than one (a distroless image with a copied apk db).
pub fn read(files: &dyn FileSource) -> Vec<(Ecosystem, DbStatus)> {
    let distro = read_distro(files);
    let mut out = vec![
        (Ecosystem::Deb, dpkg::read(files)),
        (Ecosystem::Apk, apk::read(files)),
        (Ecosystem::Rpm, rpm::read(files)),
    ];
    for (_, s) in &mut out {
        if let DbStatus::Found(db) = s {
            db.distro = distro.clone();
        }
    }
    out
}

fn read_distro(files: &dyn FileSource) -> Option<Distro> {
    for p in [&b"/etc/os-release"[..], b"/usr/lib/os-release"] {
        if let Ok(Some(data)) = files.read_file(p, 64 << 10) {
            let kv = crate::etc_files::parse_os_release(&data);
            let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            if let Some(id) = get("ID").filter(|s| !s.is_empty()) {
                return Some(Distro { id, version_id: get("VERSION_ID") });
            }
        }
    }
    None
}

/// A plain directory holding an image's root filesystem (tests; an unpacked rootfs).
/// Symlinks are resolved by hand inside `root` (an absolute target means `root`, `..`
/// stops at `root`), and the last component is opened with O_NOFOLLOW, so nothing outside
/// the root is read. A tree that changes while it is read could race that: use it on
/// trees nobody else writes; images go through `ImageFs`.
pub struct DirSource {
    pub root: PathBuf,
}

const MAX_LINKS: usize = 40;

impl DirSource {
    pub fn new(root: impl Into<PathBuf>) -> DirSource {
        DirSource { root: root.into() }
    }

    fn host(&self, image_path: &[u8]) -> PathBuf {
        self.root.join(OsStr::from_bytes(image_path.strip_prefix(b"/").unwrap_or(image_path)))
    }

    /// The canonical image path (every symlink followed inside the root), or None.
    pub fn resolve(&self, path: &[u8]) -> Option<Vec<u8>> {
        let mut pending: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
        let mut current: Vec<Vec<u8>> = Vec::new();
        let mut links = 0;
        while let Some(c) = pending.pop() {
            if c == b".." {
                current.pop();
                continue;
            }
            let mut candidate = join(&current);
            if candidate.len() > 1 {
                candidate.push(b'/');
            }
            candidate.extend_from_slice(&c);
            let meta = std::fs::symlink_metadata(self.host(&candidate)).ok()?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(self.host(&candidate)).ok()?;
                let target = target.as_os_str().as_bytes();
                if target.first() == Some(&b'/') {
                    current.clear();
                }
                pending.extend(components(target).rev().map(<[u8]>::to_vec));
            } else if meta.is_dir() || pending.is_empty() {
                current.push(c);
            } else {
                return None;
            }
        }
        Some(join(&current))
    }

    /// `resolve` for directories only, the function `PackageDb::index_canonical` takes.
    pub fn resolve_dir(&self, path: &[u8]) -> Option<Vec<u8>> {
        let p = self.resolve(path)?;
        std::fs::symlink_metadata(self.host(&p)).ok()?.is_dir().then_some(p)
    }
}

impl FileSource for DirSource {
    fn read_file(&self, path: &[u8], limit: u64) -> Result<Option<Vec<u8>>, String> {
        let Some(p) = self.resolve(path) else { return Ok(None) };
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.host(&p))
            .map_err(|e| format!("cannot read {}: {e}", shown(path)))?;
        let meta = f.metadata().map_err(|e| format!("cannot read {}: {e}", shown(path)))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", shown(path)));
        }
        if meta.len() > limit {
            return Err(format!("{} is {} bytes, more than the {limit} read", shown(path), meta.len()));
        }
        let mut buf = Vec::new();
        f.take(limit).read_to_end(&mut buf).map_err(|e| format!("cannot read {}: {e}", shown(path)))?;
        Ok(Some(buf))
    }

    fn list_dir(&self, path: &[u8]) -> Result<Option<Vec<Vec<u8>>>, String> {
        let Some(p) = self.resolve_dir(path) else { return Ok(None) };
        let rd = std::fs::read_dir(self.host(&p)).map_err(|e| format!("cannot list {}: {e}", shown(path)))?;
        let mut names = Vec::new();
        for e in rd {
            let e = e.map_err(|e| format!("cannot list {}: {e}", shown(path)))?;
            names.push(e.file_name().as_bytes().to_vec());
        }
        names.sort();
        Ok(Some(names))
    }
}

#[cfg(test)]
mod tests;
