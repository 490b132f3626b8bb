//! One pass over one layer's diff directory: `lstat` once per entry, never following a
//! symlink, with overlay whiteouts and opaque markers decoded on the way. Every entry is
//! offered to the classifier once, so all file checks are fed by this single walk.

use nix::sys::stat::{lstat, SFlag};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use walkdir::WalkDir;

pub const NO_PARENT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    /// An overlay whiteout: the path is deleted from the layers below.
    Whiteout,
}

impl Kind {
    pub fn symbol(self) -> char {
        match self {
            Kind::File => '-',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::CharDevice => 'c',
            Kind::BlockDevice => 'b',
            Kind::Fifo => 'p',
            Kind::Socket => 's',
            Kind::Whiteout => 'w',
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Absolute path inside the image, as raw bytes.
    pub path: Box<[u8]>,
    /// Index of the parent directory's entry in the same layer, or NO_PARENT at the top.
    pub parent: u32,
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (st_mode & 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
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
        self.kind == Kind::File && self.mode & 0o111 != 0
    }
}

/// Decides, once per entry, which rules want to see it (a bit per rule slot).
pub trait Classify: Sync {
    fn classify(&self, entry: &Entry) -> u64;
}

#[derive(Debug, Default)]
pub struct LayerScan {
    pub entries: Vec<Entry>,
    /// (entry index, rule-slot bits) for every entry some rule asked for.
    pub hits: Vec<(u32, u64)>,
    /// Everything that could not be read. Any error makes file checks unprovable.
    pub errors: Vec<String>,
    /// Sum of regular file sizes (apparent), for the layer table.
    pub bytes: u64,
}

const WH_PREFIX: &[u8] = b".wh.";
const WH_OPAQUE: &[u8] = b".wh..wh..opq";

pub fn walk_layer(root: &Path, classifier: &dyn Classify) -> LayerScan {
    let mut scan = LayerScan::default();
    // Directory entry index at each depth, so children know their parent.
    let mut dir_stack: Vec<u32> = Vec::new();
    let root_id = match lstat(root) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR => (st.st_dev, st.st_ino),
        Ok(_) => {
            scan.errors.push(format!("layer directory {} is not a directory", root.display()));
            return scan;
        }
        Err(e) => {
            scan.errors.push(format!("cannot read layer directory {}: {e}", root.display()));
            return scan;
        }
    };
    let mut items = WalkDir::new(root).follow_links(false).min_depth(1).into_iter();
    while let Some(item) = items.next() {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                let at = e
                    .path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .map(|p| crate::escape::bytes(p.as_os_str().as_bytes()))
                    .unwrap_or_default();
                let cause = e.io_error().map(|io| io.to_string()).unwrap_or_else(|| e.to_string());
                scan.errors.push(format!("cannot read /{at} in layer {}: {cause}", root.display()));
                continue;
            }
        };
        let depth = item.depth();
        dir_stack.truncate(depth - 1);
        let parent = dir_stack.last().copied().unwrap_or(NO_PARENT);
        let name = item.file_name().as_bytes();
        let st = match lstat(item.path()) {
            Ok(st) => st,
            Err(e) => {
                scan.errors.push(format!(
                    "cannot lstat {} in layer {}: {e}",
                    crate::escape::bytes(&image_path(&scan, parent, name)),
                    root.display()
                ));
                // Its children would be attached to the wrong parent.
                if item.file_type().is_dir() {
                    items.skip_current_dir();
                }
                continue;
            }
        };
        let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let mut kind = match fmt {
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFLNK => Kind::Symlink,
            SFlag::S_IFCHR => Kind::CharDevice,
            SFlag::S_IFBLK => Kind::BlockDevice,
            SFlag::S_IFIFO => Kind::Fifo,
            _ => Kind::Socket,
        };
        if kind == Kind::CharDevice && st.st_rdev == 0 {
            kind = Kind::Whiteout;
        }
        // fuse-overlayfs and tar-style layers mark deletions with names instead of devices.
        if name == WH_OPAQUE {
            if let Some(p) = scan.entries.get_mut(parent as usize) {
                p.opaque = true;
            }
            continue;
        }
        let (kind, name) = match name.strip_prefix(WH_PREFIX) {
            Some(hidden) if !hidden.is_empty() => (Kind::Whiteout, hidden),
            _ => (kind, name),
        };
        let link = if kind == Kind::Symlink {
            match std::fs::read_link(item.path()) {
                Ok(t) => Some(t.as_os_str().as_bytes().into()),
                Err(e) => {
                    scan.errors.push(format!(
                        "cannot read symlink {} in layer {}: {e}",
                        crate::escape::bytes(&image_path(&scan, parent, name)),
                        root.display()
                    ));
                    None
                }
            }
        } else {
            None
        };
        let opaque = kind == Kind::Dir && is_opaque_dir(item.path());
        let entry = Entry {
            path: image_path(&scan, parent, name).into_boxed_slice(),
            parent,
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            link,
            opaque,
        };
        if kind == Kind::File {
            scan.bytes += entry.size;
        }
        let index = scan.entries.len() as u32;
        let bits = classifier.classify(&entry);
        if bits != 0 {
            scan.hits.push((index, bits));
        }
        if kind == Kind::Dir {
            dir_stack.push(index);
        }
        scan.entries.push(entry);
    }
    // A layer removed while we walk it (`podman rmi` beside the scan) leaves the directories
    // we hold open reading as empty, without any error: only the root's identity tells.
    match lstat(root) {
        Ok(st) if (st.st_dev, st.st_ino) == root_id => {}
        _ => scan.errors.push(format!("layer directory {} vanished during the walk", root.display())),
    }
    scan
}

fn image_path(scan: &LayerScan, parent: u32, name: &[u8]) -> Vec<u8> {
    let base: &[u8] = match scan.entries.get(parent as usize) {
        Some(p) => &p.path,
        None => b"",
    };
    let mut v = Vec::with_capacity(base.len() + 1 + name.len());
    v.extend_from_slice(base);
    v.push(b'/');
    v.extend_from_slice(name);
    v
}

fn is_opaque_dir(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else { return false };
    for attr in [&b"trusted.overlay.opaque\0"[..], &b"user.overlay.opaque\0"[..]] {
        let mut buf = [0u8; 4];
        // SAFETY: both strings are NUL-terminated and buf outlives the call.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                attr.as_ptr() as *const libc::c_char,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n == 1 && buf[0] == b'y' {
            return true;
        }
    }
    false
}
