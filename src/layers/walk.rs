//! One pass over one layer's diff directory: one `lstat` (fstatat with
//! AT_SYMLINK_NOFOLLOW) per entry, never following a symlink, with overlay whiteouts and
//! opaque markers decoded on the way. Every entry is
//! offered to the classifier once, so all file checks are fed by this single walk.

use super::entry::{path_hash, Classify, Entry, LayerScan, Stamp, NO_PARENT};
use crate::model::EntryKind;
use nix::dir::Dir;
use nix::fcntl::{readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, lstat, Mode, SFlag};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

pub(super) const WH_PREFIX: &[u8] = b".wh.";
pub(super) const WH_OPAQUE: &[u8] = b".wh..wh..opq";
/// AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): never part of the image's files.
pub(super) const WH_META_PREFIX: &[u8] = b".wh..wh.";
/// Deeper trees are reported as an error rather than exhausting file descriptors.
pub const MAX_DEPTH: usize = 2048;

/// Walk one layer on the calling thread. Each directory is opened once (O_NOFOLLOW) and
/// its entries are `fstatat`-ed relative to it with AT_SYMLINK_NOFOLLOW: one short lookup per
/// entry, no symlink ever followed, and no walk of the long storage prefix for every file
/// (which also serialises parallel walks on the shared ancestors' dentries).
pub fn walk_layer(root: &Path, classifier: &dyn Classify) -> LayerScan {
    walk_layers(&[root], classifier, 1, false, Split::Balanced).pop().map(|(s, _)| s).unwrap_or_default()
}

/// When a walker hands a subdirectory to another thread instead of descending into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// While fewer than two directories per worker wait in the queue: a pool of layers
    /// keeps every thread busy by itself, and one big layer is shared out directory by
    /// directory without a worker that runs out ever waiting for another to reach the
    /// next subdirectory.
    Balanced,
    /// Every subdirectory (tests: the most stitching there can be).
    Always,
}

/// Walk every layer with up to `jobs` threads and return, per root and in order, exactly
/// what walking it alone depth first would: the same entries in the same order, with the
/// same hits, errors and stamps, whichever thread walked which directory.
pub fn walk_layers(
    roots: &[&Path],
    classifier: &dyn Classify,
    jobs: usize,
    stamps: bool,
    split: Split,
) -> Vec<(LayerScan, Vec<Stamp>)> {
    let mut layers: Vec<LayerStart> = Vec::with_capacity(roots.len());
    let mut tasks = VecDeque::new();
    for (i, root) in roots.iter().enumerate() {
        let (start, dir) = LayerStart::open(root);
        if let Some(dir) = dir {
            tasks.push_back(Task { layer: i, segment: i, dir, prefix: Box::new([]), depth: 0 });
        }
        layers.push(start);
    }
    let pool = Pool {
        queued: AtomicUsize::new(tasks.len()),
        state: Mutex::new(PoolState { tasks, running: 0, next_segment: roots.len() }),
        wake: Condvar::new(),
        spare: match split {
            Split::Balanced if jobs > 1 => 2 * jobs.min(64),
            Split::Balanced => 0,
            Split::Always => usize::MAX,
        },
        done: Mutex::new((0..roots.len()).map(|_| None).collect()),
    };
    let workers = jobs.clamp(1, 64);
    if workers == 1 {
        pool.work(&layers, classifier, stamps);
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| pool.work(&layers, classifier, stamps));
            }
        });
    }
    let mut segments = pool.done.into_inner().unwrap_or_else(|p| p.into_inner());
    layers.into_iter().enumerate().map(|(i, start)| start.finish(i, &mut segments)).collect()
}

/// A layer's root, opened before any thread walks it.
struct LayerStart {
    root: PathBuf,
    /// (st_dev, st_ino) of the root, to notice the layer being removed during the walk.
    id: Option<(u64, u64)>,
    force_masked: bool,
    errors: Vec<String>,
}

impl LayerStart {
    fn open(root: &Path) -> (LayerStart, Option<Dir>) {
        let mut start = LayerStart { root: root.to_path_buf(), id: None, force_masked: false, errors: Vec::new() };
        let dir = match Dir::open(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(d) => d,
            Err(e) => {
                start.errors.push(format!("cannot read layer directory {}: {e}", root.display()));
                return (start, None);
            }
        };
        match nix::sys::stat::fstat(dir.as_raw_fd()) {
            Ok(st) => start.id = Some((st.st_dev, st.st_ino)),
            Err(e) => {
                start.errors.push(format!("cannot read layer directory {}: {e}", root.display()));
                return (start, None);
            }
        }
        // containers/storage marks a force_mask layer's root too, so one lookup tells.
        start.force_masked = fd_xattr(dir.as_raw_fd(), OVERRIDE_STAT, &mut [0u8; 128]).is_some();
        if start.force_masked {
            // Observed with podman 4.3.1's containers/storage: a 4755 file was recorded as
            // "0:0:0755", so a missing setuid/setgid bit there proves nothing.
            start.errors.push(format!(
                "layer {} is stored with force_mask: owners and modes come from \
                 user.containers.override_stat, but containers/storage may have dropped \
                 setuid/setgid bits there, so file checks cannot be proven",
                root.display()
            ));
        }
        (start, Some(dir))
    }

    /// Stitch the layer's segments back into walk order and check the root is still there.
    fn finish(self, layer: usize, segments: &mut [Option<Segment>]) -> (LayerScan, Vec<Stamp>) {
        let mut scan = LayerScan { errors: self.errors, ..LayerScan::default() };
        let mut stamps = Vec::new();
        if let Some(id) = self.id {
            stitch(layer, segments, &mut scan, &mut stamps);
            // A layer removed while we walk it (`podman rmi` beside the scan) leaves the
            // directories we hold open reading as empty, without any error: only the root's
            // identity tells.
            match lstat(&self.root) {
                Ok(st) if (st.st_dev, st.st_ino) == id => {}
                _ => scan.errors.push(format!("layer directory {} vanished during the walk", self.root.display())),
            }
        }
        (scan, stamps)
    }
}

/// One directory (and everything under it not handed on) for one thread to walk.
struct Task {
    layer: usize,
    /// Where its results go; a layer's root task fills segment `layer`.
    segment: usize,
    dir: Dir,
    /// The directory's path in the image ("" for the layer root).
    prefix: Box<[u8]>,
    /// How deep the directory is below the layer root.
    depth: usize,
}

/// What one task found. `parent` indices are local; NO_PARENT means the task's directory.
#[derive(Default)]
struct Segment {
    entries: Vec<Entry>,
    hashes: Vec<u64>,
    hits: Vec<(u32, u64)>,
    /// (number of entries found before the error, message): errors keep their place.
    errors: Vec<(u32, String)>,
    bytes: u64,
    stamps: Vec<Stamp>,
    /// (index of a directory entry, the segment holding what is under it), ascending.
    splits: Vec<(u32, usize)>,
    /// (entry index, `security.capability` value), ascending.
    capabilities: Vec<(u32, Box<[u8]>)>,
    /// The task's directory holds an opaque marker file (its entry is in another segment).
    root_opaque: bool,
}

impl Segment {
    /// Record an error about `path`, at the place in the walk where it was met.
    fn error(&mut self, what: &str, path: &[u8], root: &Path, e: impl std::fmt::Display) {
        let msg = format!("{what} {} in layer {}: {e}", crate::escape::bytes(path), root.display());
        self.errors.push((self.entries.len() as u32, msg));
    }
}

struct PoolState {
    tasks: VecDeque<Task>,
    running: usize,
    next_segment: usize,
}

struct Pool {
    state: Mutex<PoolState>,
    wake: Condvar,
    /// Mirrors `state.tasks.len()`, read without the lock on every subdirectory.
    queued: AtomicUsize,
    /// How many directories may wait in the queue.
    spare: usize,
    done: Mutex<Vec<Option<Segment>>>,
}

impl Pool {
    fn work(&self, layers: &[LayerStart], classifier: &dyn Classify, stamps: bool) {
        loop {
            let task = {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(t) = st.tasks.pop_front() {
                        self.queued.store(st.tasks.len(), Ordering::Relaxed);
                        st.running += 1;
                        break Some(t);
                    }
                    if st.running == 0 {
                        break None;
                    }
                    st = self.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            };
            let Some(task) = task else {
                self.wake.notify_all();
                return;
            };
            let id = task.segment;
            let seg = self.walk(task, layers, classifier, stamps);
            {
                let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
                if done.len() <= id {
                    done.resize_with(id + 1, || None);
                }
                done[id] = Some(seg);
            }
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.running -= 1;
            if st.running == 0 && st.tasks.is_empty() {
                self.wake.notify_all();
            }
        }
    }

    /// Queue `dir` for any worker if the queue is short; gives it back otherwise.
    fn offer(&self, layer: usize, dir: Dir, prefix: &[u8], depth: usize) -> Result<usize, Dir> {
        if self.queued.load(Ordering::Relaxed) >= self.spare {
            return Err(dir);
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.tasks.len() >= self.spare {
            return Err(dir);
        }
        let segment = st.next_segment;
        st.next_segment += 1;
        st.tasks.push_back(Task { layer, segment, dir, prefix: prefix.into(), depth });
        self.queued.store(st.tasks.len(), Ordering::Relaxed);
        drop(st);
        self.wake.notify_one();
        Ok(segment)
    }

    fn walk(&self, task: Task, layers: &[LayerStart], classifier: &dyn Classify, want_stamps: bool) -> Segment {
        let mut seg = Segment::default();
        let layer = &layers[task.layer];
        let root = &layer.root;
        let force_masked = layer.force_masked;
        let want_capabilities = classifier.reads_capabilities();
        let prefix = &task.prefix[..];
        // (open directory, index of its entry or NO_PARENT for the task's directory)
        let mut stack: Vec<(nix::dir::OwningIter, u32)> = vec![(task.dir.into_iter(), NO_PARENT)];
        while let Some((iter, parent)) = stack.last_mut() {
            let parent = *parent;
            let item = match iter.next() {
                None => {
                    stack.pop();
                    continue;
                }
                Some(Err(e)) => {
                    let at = crate::escape::bytes(match seg.entries.get(parent as usize) {
                        Some(p) => &p.path[..],
                        None if prefix.is_empty() => b"/",
                        None => prefix,
                    });
                    let n = seg.entries.len() as u32;
                    seg.errors.push((n, format!("cannot list {at} in layer {}: {e}", root.display())));
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
            let depth = task.depth + stack.len();
            let st = match fstatat(Some(dirfd), name_c, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(e) => {
                    let path = image_path(&seg.entries, prefix, parent, name);
                    seg.error("cannot lstat", &path, root, e);
                    continue;
                }
            };
            let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
            let mut kind = match fmt {
                SFlag::S_IFREG => EntryKind::File,
                SFlag::S_IFDIR => EntryKind::Dir,
                SFlag::S_IFLNK => EntryKind::Symlink,
                SFlag::S_IFCHR => EntryKind::CharDevice,
                SFlag::S_IFBLK => EntryKind::BlockDevice,
                SFlag::S_IFIFO => EntryKind::Fifo,
                _ => EntryKind::Socket,
            };
            if kind == EntryKind::CharDevice && st.st_rdev == 0 {
                kind = EntryKind::Whiteout;
            }
            // fuse-overlayfs and tar-style layers mark deletions with names instead of devices.
            if name == WH_OPAQUE {
                match seg.entries.get_mut(parent as usize) {
                    Some(p) => p.opaque = true,
                    None => seg.root_opaque = true,
                }
                continue;
            }
            if name.starts_with(WH_META_PREFIX) {
                continue;
            }
            let (kind, name) = match name.strip_prefix(WH_PREFIX) {
                Some(hidden) if !hidden.is_empty() => (EntryKind::Whiteout, hidden),
                _ => (kind, name),
            };
            let link = if kind == EntryKind::Symlink {
                match readlinkat(Some(dirfd), name_c) {
                    Ok(t) => Some(t.as_bytes().into()),
                    Err(e) => {
                        let path = image_path(&seg.entries, prefix, parent, name);
                        seg.error("cannot read symlink", &path, root, e);
                        None
                    }
                }
            } else {
                None
            };
            let path = image_path(&seg.entries, prefix, parent, name).into_boxed_slice();
            let mut child: Option<Dir> = None;
            let mut opaque = false;
            if kind == EntryKind::Dir {
                if depth > MAX_DEPTH {
                    let msg = format!(
                        "{} in layer {} is nested deeper than {MAX_DEPTH} directories",
                        crate::escape::bytes(&path),
                        root.display()
                    );
                    seg.errors.push((seg.entries.len() as u32, msg));
                } else {
                    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                    match Dir::openat(Some(dirfd), name_c, flags, Mode::empty()) {
                        Ok(d) => {
                            opaque = is_opaque_dir(d.as_raw_fd());
                            child = Some(d);
                        }
                        Err(e) => seg.error("cannot open directory", &path, root, e),
                    }
                }
            }
            let (uid, gid, mode) = match force_masked.then(|| override_stat(dirfd, name_c)).flatten() {
                Some(o) => o,
                None => (st.st_uid, st.st_gid, st.st_mode & 0o7777),
            };
            // A directory's st_size is the file system's business (4096 on ext4, anything on
            // others), not the image's: 0, as a layer tar records it.
            let size = if kind == EntryKind::Dir { 0 } else { st.st_size as u64 };
            let entry = Entry { path, parent, kind, mode, uid, gid, size, link, opaque };
            if kind == EntryKind::File {
                seg.bytes += entry.size;
            }
            let index = seg.entries.len() as u32;
            // A file capability only takes effect on exec: one lookup per executable file.
            if want_capabilities && entry.is_executable() {
                match file_capability(dirfd, name_c) {
                    Ok(Some(v)) => seg.capabilities.push((index, v)),
                    Ok(None) => {}
                    Err(e) => seg.error("cannot read the capabilities of", &entry.path, root, e),
                }
            }
            let bits = classifier.classify(&entry);
            if bits != 0 {
                seg.hits.push((index, bits));
            }
            if want_stamps {
                seg.stamps.push(Stamp { mtime: st.st_mtime, mtime_nsec: st.st_mtime_nsec, rdev: st.st_rdev });
            }
            seg.hashes.push(path_hash(&entry.path));
            if let Some(d) = child {
                match self.offer(task.layer, d, &entry.path, depth) {
                    Ok(handed) => seg.splits.push((index, handed)),
                    Err(d) => stack.push((d.into_iter(), index)),
                }
            }
            seg.entries.push(entry);
        }
        seg
    }
}

/// Put a layer's segments back together in the order one thread walking depth first would
/// have produced: each handed-on subtree goes right after its directory's entry.
fn stitch(layer: usize, segments: &mut [Option<Segment>], scan: &mut LayerScan, stamps: &mut Vec<Stamp>) {
    let Some(first) = segments.get_mut(layer).and_then(Option::take) else {
        return;
    };
    if first.splits.is_empty() {
        // Nothing was handed on: already in order, with local indices that are the layer's.
        scan.entries = first.entries;
        scan.hashes = first.hashes;
        scan.hits = first.hits;
        scan.capabilities = first.capabilities;
        scan.errors.extend(first.errors.into_iter().map(|(_, m)| m));
        scan.bytes = first.bytes;
        *stamps = first.stamps;
        return;
    }
    struct Frame {
        entries: std::vec::IntoIter<Entry>,
        hashes: std::vec::IntoIter<u64>,
        stamps: std::vec::IntoIter<Stamp>,
        hits: std::iter::Peekable<std::vec::IntoIter<(u32, u64)>>,
        capabilities: std::iter::Peekable<std::vec::IntoIter<(u32, Box<[u8]>)>>,
        errors: std::iter::Peekable<std::vec::IntoIter<(u32, String)>>,
        splits: std::iter::Peekable<std::vec::IntoIter<(u32, usize)>>,
        /// Local index → index in the layer, for the entries emitted so far.
        global: Vec<u32>,
        /// The layer index of the task directory's entry (NO_PARENT for the root).
        outer_parent: u32,
    }
    let frame = |s: Segment, outer_parent: u32, scan: &mut LayerScan| {
        scan.bytes += s.bytes;
        if s.root_opaque {
            if let Some(e) = scan.entries.get_mut(outer_parent as usize) {
                e.opaque = true;
            }
        }
        Frame {
            global: Vec::with_capacity(s.entries.len()),
            entries: s.entries.into_iter(),
            hashes: s.hashes.into_iter(),
            stamps: s.stamps.into_iter(),
            hits: s.hits.into_iter().peekable(),
            capabilities: s.capabilities.into_iter().peekable(),
            errors: s.errors.into_iter().peekable(),
            splits: s.splits.into_iter().peekable(),
            outer_parent,
        }
    };
    let mut stack = vec![frame(first, NO_PARENT, scan)];
    while let Some(f) = stack.last_mut() {
        let local = f.global.len() as u32;
        while let Some((_, m)) = f.errors.next_if(|(at, _)| *at <= local) {
            scan.errors.push(m);
        }
        let Some(mut e) = f.entries.next() else {
            stack.pop();
            continue;
        };
        let at = scan.entries.len() as u32;
        e.parent = if e.parent == NO_PARENT { f.outer_parent } else { f.global[e.parent as usize] };
        f.global.push(at);
        scan.entries.push(e);
        scan.hashes.extend(f.hashes.next());
        stamps.extend(f.stamps.next());
        if let Some((_, bits)) = f.hits.next_if(|(i, _)| *i == local) {
            scan.hits.push((at, bits));
        }
        if let Some((_, v)) = f.capabilities.next_if(|(i, _)| *i == local) {
            scan.capabilities.push((at, v));
        }
        if let Some((_, handed)) = f.splits.next_if(|(i, _)| *i == local) {
            if let Some(s) = segments.get_mut(handed).and_then(Option::take) {
                let child = frame(s, at, scan);
                stack.push(child);
            }
        }
    }
}

fn image_path(entries: &[Entry], prefix: &[u8], parent: u32, name: &[u8]) -> Vec<u8> {
    let base: &[u8] = match entries.get(parent as usize) {
        Some(p) => &p.path,
        None => prefix,
    };
    let mut v = Vec::with_capacity(base.len() + 1 + name.len());
    v.extend_from_slice(base);
    v.push(b'/');
    v.extend_from_slice(name);
    v
}

/// Kernel overlayfs marks opaque directories with trusted.* (root) or user.* (unprivileged,
/// `userxattr`); fuse-overlayfs also honours its own user.fuseoverlayfs.opaque.
pub(super) const OPAQUE_XATTRS: [&[u8]; 3] =
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
        libc::lgetxattr(
            c.as_ptr(),
            OVERRIDE_STAT.as_ptr() as *const libc::c_char,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    };
    let v = (n >= 0).then(|| &buf[..n as usize])?;
    let mut f = std::str::from_utf8(v).ok()?.split(':');
    let uid = f.next()?.parse().ok()?;
    let gid = f.next()?.parse().ok()?;
    let mode = u32::from_str_radix(f.next()?, 8).ok()?;
    Some((uid, gid, mode & 0o7777))
}

const CAPABILITY: &[u8] = b"security.capability\0";

/// The `security.capability` xattr of an entry, never following a link: None when it has
/// none (or the file system keeps no xattrs). An empty value: it has one that the kernel
/// will not show here (EOVERFLOW: a v3 capability for a user namespace whose root is not
/// mapped into ours).
fn file_capability(dirfd: RawFd, name: &std::ffi::CStr) -> Result<Option<Box<[u8]>>, nix::errno::Errno> {
    use nix::errno::Errno;
    let mut path = format!("/proc/self/fd/{dirfd}/").into_bytes();
    path.extend_from_slice(name.to_bytes());
    let c = std::ffi::CString::new(path).map_err(|_| Errno::EINVAL)?;
    // v3 is 24 bytes; anything up to the xattr size limit is read whole, to report it.
    let mut buf = vec![0u8; 64];
    loop {
        // SAFETY: both strings are NUL-terminated and buf outlives the call.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                CAPABILITY.as_ptr() as *const libc::c_char,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf.into()));
        }
        match Errno::last() {
            Errno::ENODATA | Errno::EOPNOTSUPP => return Ok(None),
            Errno::EOVERFLOW => return Ok(Some(Box::new([]))),
            Errno::ERANGE if buf.len() < 1 << 16 => buf.resize(1 << 16, 0),
            e => return Err(e),
        }
    }
}

/// The value of xattr `name` (NUL-terminated) of an open file, if it fits in `buf`.
fn fd_xattr<'b>(fd: RawFd, name: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    // SAFETY: the name is NUL-terminated and buf outlives the call.
    let n = unsafe {
        libc::fgetxattr(fd, name.as_ptr() as *const libc::c_char, buf.as_mut_ptr() as *mut libc::c_void, buf.len())
    };
    (n >= 0).then(|| &buf[..n as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, parent: u32, kind: EntryKind) -> Entry {
        Entry {
            path: path.as_bytes().into(),
            parent,
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 1,
            link: None,
            opaque: false,
        }
    }

    /// Segments put back in walk order: a handed-on subtree right after its directory,
    /// parents and hits renumbered, and each error where a single walk would have met it.
    #[test]
    fn stitching_restores_walk_order() {
        let root = Segment {
            entries: vec![entry("/a", NO_PARENT, EntryKind::Dir), entry("/b", NO_PARENT, EntryKind::File)],
            hashes: vec![10, 11],
            hits: vec![(1, 4)],
            // Met after /a's subtree was (in a single walk) finished, before /b.
            errors: vec![(1, "after a".into())],
            bytes: 1,
            splits: vec![(0, 2)],
            ..Segment::default()
        };
        let under_a = Segment {
            entries: vec![entry("/a/x", NO_PARENT, EntryKind::Dir), entry("/a/x/y", 0, EntryKind::File)],
            hashes: vec![20, 21],
            hits: vec![(1, 8)],
            errors: vec![(0, "before x".into()), (2, "end of a".into())],
            bytes: 1,
            root_opaque: true,
            ..Segment::default()
        };
        let mut segments = vec![Some(root), None, Some(under_a)];
        let mut scan = LayerScan::default();
        let mut stamps = Vec::new();
        stitch(0, &mut segments, &mut scan, &mut stamps);
        let got: Vec<(&[u8], u32)> = scan.entries.iter().map(|e| (&e.path[..], e.parent)).collect();
        assert_eq!(got, [(&b"/a"[..], NO_PARENT), (b"/a/x", 0), (b"/a/x/y", 1), (b"/b", NO_PARENT)]);
        assert_eq!(scan.hashes, [10, 20, 21, 11]);
        assert_eq!(scan.hits, [(2, 8), (3, 4)]);
        assert_eq!(scan.errors, ["before x", "end of a", "after a"]);
        assert_eq!(scan.bytes, 2);
        assert!(scan.entries[0].opaque, "a marker file inside /a makes /a opaque");
        assert!(segments.iter().all(Option::is_none), "every segment used");
    }
}
