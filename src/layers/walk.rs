//! One pass over one layer's diff directory: one `lstat` (fstatat with
//! AT_SYMLINK_NOFOLLOW) per entry, never following a symlink, with overlay whiteouts and
//! opaque markers decoded on the way. Every entry is
//! offered to the classifier once, so all file checks are fed by this single walk.

use nix::dir::Dir;
use nix::fcntl::{readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, lstat, Mode, SFlag};
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

/// What comparing two vfs snapshots needs beyond an Entry: when the inode last changed
/// content-wise and which device it names. Recorded only when walking snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub rdev: u64,
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
/// AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): never part of the image's files.
const WH_META_PREFIX: &[u8] = b".wh..wh.";
/// Deeper trees are reported as an error rather than exhausting file descriptors.
const MAX_DEPTH: usize = 2048;

/// Walk one layer. Each directory is opened once (O_NOFOLLOW) and its entries are
/// `fstatat`-ed relative to it with AT_SYMLINK_NOFOLLOW: one short lookup per entry, no
/// symlink ever followed, and no walk of the long storage prefix for every file (which
/// also serialises parallel walks on the shared ancestors' dentries).
pub fn walk_layer(root: &Path, classifier: &dyn Classify) -> LayerScan {
    walk(root, classifier, None)
}

/// Walk a complete snapshot (vfs), also recording each entry's Stamp (same order as entries).
pub fn walk_snapshot(root: &Path, classifier: &dyn Classify) -> (LayerScan, Vec<Stamp>) {
    let mut stamps = Vec::new();
    let scan = walk(root, classifier, Some(&mut stamps));
    (scan, stamps)
}

fn walk(root: &Path, classifier: &dyn Classify, mut stamps: Option<&mut Vec<Stamp>>) -> LayerScan {
    let mut scan = LayerScan::default();
    let root_dir = match Dir::open(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(d) => d,
        Err(e) => {
            scan.errors.push(format!("cannot read layer directory {}: {e}", root.display()));
            return scan;
        }
    };
    let root_id = match nix::sys::stat::fstat(root_dir.as_raw_fd()) {
        Ok(st) => (st.st_dev, st.st_ino),
        Err(e) => {
            scan.errors.push(format!("cannot read layer directory {}: {e}", root.display()));
            return scan;
        }
    };
    // containers/storage marks a force_mask layer's root too, so one lookup tells.
    let force_masked = fd_xattr(root_dir.as_raw_fd(), OVERRIDE_STAT, &mut [0u8; 128]).is_some();
    if force_masked {
        // Observed with podman 4.3.1's containers/storage: a 4755 file was recorded as
        // "0:0:0755", so a missing setuid/setgid bit there proves nothing.
        scan.errors.push(format!(
            "layer {} is stored with force_mask: owners and modes come from \
             user.containers.override_stat, but containers/storage may have dropped \
             setuid/setgid bits there, so file checks cannot be proven",
            root.display()
        ));
    }
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
        if name.starts_with(WH_META_PREFIX) {
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
        let (uid, gid, mode) = match force_masked.then(|| override_stat(dirfd, name_c)).flatten() {
            Some(o) => o,
            None => (st.st_uid, st.st_gid, st.st_mode & 0o7777),
        };
        let entry = Entry {
            path,
            parent,
            kind,
            mode,
            uid,
            gid,
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
        if let Some(s) = stamps.as_deref_mut() {
            s.push(Stamp { mtime: st.st_mtime, mtime_nsec: st.st_mtime_nsec, rdev: st.st_rdev });
        }
        scan.entries.push(entry);
        if let Some(d) = child {
            stack.push((d.into_iter(), index));
        }
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

/// Kernel overlayfs marks opaque directories with trusted.* (root) or user.* (unprivileged,
/// `userxattr`); fuse-overlayfs also honours its own user.fuseoverlayfs.opaque.
const OPAQUE_XATTRS: [&[u8]; 3] =
    [b"trusted.overlay.opaque\0", b"user.overlay.opaque\0", b"user.fuseoverlayfs.opaque\0"];

fn is_opaque_dir(fd: RawFd) -> bool {
    let mut buf = [0u8; 4];
    OPAQUE_XATTRS.iter().any(|attr| fd_xattr(fd, attr, &mut buf) == Some(&b"y"[..]))
}

/// With `force_mask`, containers/storage writes every file with the forced mode and owner
/// and keeps the image's own as "uid:gid:0mode[:type]" in this xattr (some writers put the
/// file type bits in the mode too).
const OVERRIDE_STAT: &[u8] = b"user.containers.override_stat\0";

/// The image's uid, gid and permission bits of a force-masked entry.
fn override_stat(dirfd: RawFd, name: &std::ffi::CStr) -> Option<(u32, u32, u32)> {
    // There is no lgetxattrat: name the entry through the directory's /proc fd link, and
    // lgetxattr does not follow the last component.
    let mut path = format!("/proc/self/fd/{dirfd}/").into_bytes();
    path.extend_from_slice(name.to_bytes());
    let c = std::ffi::CString::new(path).ok()?;
    let mut buf = [0u8; 128];
    // SAFETY: both strings are NUL-terminated and buf outlives the call.
    let n = unsafe {
        libc::lgetxattr(c.as_ptr(), OVERRIDE_STAT.as_ptr() as *const libc::c_char, buf.as_mut_ptr() as *mut libc::c_void, buf.len())
    };
    let v = (n >= 0).then(|| &buf[..n as usize])?;
    let mut f = std::str::from_utf8(v).ok()?.split(':');
    let uid = f.next()?.parse().ok()?;
    let gid = f.next()?.parse().ok()?;
    let mode = u32::from_str_radix(f.next()?, 8).ok()?;
    Some((uid, gid, mode & 0o7777))
}

/// The value of xattr `name` (NUL-terminated) of an open file, if it fits in `buf`.
fn fd_xattr<'b>(fd: RawFd, name: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    // SAFETY: the name is NUL-terminated and buf outlives the call.
    let n = unsafe {
        libc::fgetxattr(fd, name.as_ptr() as *const libc::c_char, buf.as_mut_ptr() as *mut libc::c_void, buf.len())
    };
    (n >= 0).then(|| &buf[..n as usize])
}
