//! One pass over one layer's diff directory: one `lstat` (fstatat with
//! AT_SYMLINK_NOFOLLOW) per entry, never following a symlink, with overlay whiteouts and
//! opaque markers decoded on the way. Every entry is
//! offered to the classifier once, so all file checks are fed by this single walk.

use nix::dir::Dir;
use nix::fcntl::{readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const NO_PARENT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
/// Deeper trees are reported as an error rather than exhausting file descriptors.
const MAX_DEPTH: usize = 2048;

/// Walk one layer. Each directory is opened once (O_NOFOLLOW) and its entries are
/// `fstatat`-ed relative to it with AT_SYMLINK_NOFOLLOW: one short lookup per entry, no
/// symlink ever followed, and no walk of the long storage prefix for every file (which
/// also serialises parallel walks on the shared ancestors' dentries).
pub fn walk_layer(root: &Path, classifier: &dyn Classify) -> LayerScan {
    let mut scan = LayerScan::default();
    let root_dir = match Dir::open(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(d) => d,
        Err(e) => {
            scan.errors.push(format!("cannot read layer directory {}: {e}", root.display()));
            return scan;
        }
    };
    // (open directory, index of its entry or NO_PARENT for the layer root)
    let mut stack: Vec<(nix::dir::OwningIter, u32)> = vec![(root_dir.into_iter(), NO_PARENT)];
    while let Some((iter, parent)) = stack.last_mut() {
        let parent = *parent;
        let item = match iter.next() {
            None => {
                stack.pop();
                continue;
            }
            Some(Err(e)) => {
                let at = crate::escape::bytes(scan.entries.get(parent as usize).map_or(&b"/"[..], |p| &p.path));
                scan.errors.push(format!("cannot list {at} in layer {}: {e}", root.display()));
                stack.pop();
                continue;
            }
            Some(Ok(item)) => item,
        };
        let name_c = item.file_name();
        let name = name_c.to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let dirfd = iter.as_raw_fd();
        let st = match fstatat(Some(dirfd), name_c, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(e) => {
                scan.errors.push(format!(
                    "cannot lstat {} in layer {}: {e}",
                    crate::escape::bytes(&image_path(&scan, parent, name)),
                    root.display()
                ));
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
            match readlinkat(Some(dirfd), name_c) {
                Ok(t) => Some(t.as_bytes().into()),
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
        let path = image_path(&scan, parent, name).into_boxed_slice();
        let mut child: Option<Dir> = None;
        let mut opaque = false;
        if kind == Kind::Dir {
            if stack.len() > MAX_DEPTH {
                scan.errors.push(format!(
                    "{} in layer {} is nested deeper than {MAX_DEPTH} directories",
                    crate::escape::bytes(&path),
                    root.display()
                ));
            } else {
                let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                match Dir::openat(Some(dirfd), name_c, flags, Mode::empty()) {
                    Ok(d) => {
                        opaque = is_opaque_dir(d.as_raw_fd());
                        child = Some(d);
                    }
                    Err(e) => scan.errors.push(format!(
                        "cannot open directory {} in layer {}: {e}",
                        crate::escape::bytes(&path),
                        root.display()
                    )),
                }
            }
        }
        let entry = Entry {
            path,
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
        scan.entries.push(entry);
        if let Some(d) = child {
            stack.push((d.into_iter(), index));
        }
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

fn is_opaque_dir(fd: RawFd) -> bool {
    for attr in [&b"trusted.overlay.opaque\0"[..], &b"user.overlay.opaque\0"[..]] {
        let mut buf = [0u8; 4];
        // SAFETY: the name is NUL-terminated and buf outlives the call.
        let n = unsafe {
            libc::fgetxattr(fd, attr.as_ptr() as *const libc::c_char, buf.as_mut_ptr() as *mut libc::c_void, buf.len())
        };
        if n == 1 && buf[0] == b'y' {
            return true;
        }
    }
    false
}
