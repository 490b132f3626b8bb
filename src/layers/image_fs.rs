//! The merged, read-only view of an image: look up a path, resolve symlinks *within the
//! image root* (an absolute link target means the image's `/`, never the host's), and read
//! a small file from the layer that provides it.

use super::entry::{Entry, LayerScan, Loc};
use super::overlay::{self, PathIndex, VISIBLE};
use super::source::{CapturedFiles, LayerFiles, LayerSource};
use crate::model::EntryKind;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Layer {
    pub source: LayerSource,
    /// Shared: a layer read once per run may belong to several images.
    pub scan: Arc<LayerScan>,
    /// Per entry: VISIBLE, or the index of the layer that deleted or replaced it.
    pub hidden_by: Vec<u16>,
}

pub struct ImageFs {
    pub layers: Vec<Layer>,
    index: PathIndex,
    /// A directory holding the complete final image (vfs's top snapshot): visible files
    /// are read from there rather than from the layer that provides them.
    content_root: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    NotFound,
    /// More symlinks than the kernel would follow (a loop, or a hostile chain).
    TooManyLinks,
    NotADirectory,
}

/// Linux's limit for symlinks followed in one lookup.
const MAX_LINKS: usize = 40;

impl ImageFs {
    pub fn new(layers: Vec<(LayerSource, Arc<LayerScan>)>) -> ImageFs {
        let scans: Vec<&LayerScan> = layers.iter().map(|(_, s)| s.as_ref()).collect();
        let (hidden, index) = overlay::merge(&scans);
        let layers = layers
            .into_iter()
            .zip(hidden)
            .map(|((source, scan), hidden_by)| Layer { source, scan, hidden_by })
            .collect();
        ImageFs { layers, index, content_root: None }
    }

    pub fn set_content_root(&mut self, dir: PathBuf) {
        self.content_root = Some(dir);
    }

    pub fn entry(&self, l: Loc) -> &Entry {
        &self.layers[l.layer as usize].scan.entries[l.idx as usize]
    }

    pub fn is_visible(&self, l: Loc) -> bool {
        self.layers[l.layer as usize].hidden_by[l.idx as usize] == VISIBLE
    }

    /// The 0-based index of the layer that deleted or replaced this entry.
    pub fn hidden_by(&self, l: Loc) -> Option<usize> {
        let h = self.layers[l.layer as usize].hidden_by[l.idx as usize];
        (h != VISIBLE).then_some(h as usize)
    }

    /// Errors met while walking any layer; file checks cannot pass while there are any.
    pub fn walk_errors(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().flat_map(|l| l.scan.errors.iter().map(String::as_str))
    }

    /// The entry the final image shows at exactly this path (no symlink resolution).
    pub fn lookup(&self, path: &[u8]) -> Option<Loc> {
        let top = self.top_entry(path)?;
        self.is_visible(top).then_some(top)
    }

    /// The topmost entry of any layer at this path, visible or not.
    fn top_entry(&self, path: &[u8]) -> Option<Loc> {
        if let Some(slot) = self.index.get(path, |l| &self.entry(l).path) {
            return Some(slot.top);
        }
        // Not in the index: then only below a directory that one layer alone has, if at
        // all. The nearest indexed ancestor tells which.
        let mut dir = path;
        while let Some(i) = dir.iter().rposition(|&b| b == b'/').filter(|&i| i > 0) {
            dir = &dir[..i];
            if let Some(slot) = self.index.get(dir, |l| &self.entry(l).path) {
                if !slot.private_below {
                    return None;
                }
                let layer = slot.top.layer;
                let idx = self.index.private_entry(layer, path, &self.layers[layer as usize].scan)?;
                return Some(Loc { layer, idx });
            }
        }
        None
    }

    /// Resolve `path` component by component inside the image. Intermediate symlinks are
    /// always followed; the last one only when `follow_last`. Returns the canonical path
    /// and the entry found there.
    pub fn resolve(&self, path: &[u8], follow_last: bool) -> Result<(Vec<u8>, Loc), ResolveError> {
        let mut pending: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
        let mut current: Vec<Vec<u8>> = Vec::new();
        let mut found: Option<Loc> = None;
        let mut links = 0;
        while let Some(c) = pending.pop() {
            if c == b".." {
                current.pop();
                found = None;
                continue;
            }
            let mut candidate = join(&current);
            if candidate.len() > 1 {
                candidate.push(b'/');
            }
            candidate.extend_from_slice(&c);
            let loc = self.lookup(&candidate).ok_or(ResolveError::NotFound)?;
            let e = self.entry(loc);
            let last = pending.is_empty();
            match e.kind {
                EntryKind::Symlink if !last || follow_last => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(ResolveError::TooManyLinks);
                    }
                    let target = e.link.as_deref().unwrap_or(b"");
                    if target.first() == Some(&b'/') {
                        current.clear();
                    }
                    pending.extend(components(target).rev().map(<[u8]>::to_vec));
                    found = None;
                }
                EntryKind::Dir => {
                    current.push(c);
                    found = Some(loc);
                }
                _ if last => {
                    current.push(c);
                    found = Some(loc);
                }
                _ => return Err(ResolveError::NotADirectory),
            }
        }
        let canonical = join(&current);
        match found {
            Some(l) => Ok((canonical, l)),
            // The path resolved to the root itself, which has no entry of its own.
            None if current.is_empty() => Err(ResolveError::NotFound),
            None => self.lookup(&canonical).map(|l| (canonical, l)).ok_or(ResolveError::NotFound),
        }
    }

    /// Resolve a directory path; the root resolves to "/".
    pub fn resolve_dir(&self, path: &[u8]) -> Option<Vec<u8>> {
        if components(path).all(|c| c == b"..") {
            return Some(b"/".to_vec());
        }
        match self.resolve(path, true) {
            Ok((p, l)) if self.entry(l).kind == EntryKind::Dir => Some(p),
            _ => None,
        }
    }

    /// Read a file of the final image, following symlinks inside the image. Ok(None) when no
    /// file is there: absent, a dangling link, or a link loop (the container's own open
    /// fails the same way, and runtimes treat an unopenable passwd/group as missing, so the
    /// verdict is decidable and must not turn into a scan error a hostile image can force).
    /// Err when a file exists but cannot be read, or is larger than `limit`.
    pub fn read_file(&self, path: &[u8], limit: u64) -> Result<Option<Vec<u8>>, String> {
        let shown = crate::escape::bytes(path);
        let loc = match self.resolve(path, true) {
            Ok((_, l)) => l,
            Err(ResolveError::NotFound | ResolveError::NotADirectory | ResolveError::TooManyLinks) => return Ok(None),
        };
        let e = self.entry(loc);
        if e.kind != EntryKind::File {
            return Err(format!("{shown} is not a regular file in the image"));
        }
        let host = match &self.layers[loc.layer as usize].source.files {
            LayerFiles::Captured(c) => return captured(c, &e.path, &shown, limit).map(Some),
            LayerFiles::Dir(_) => self.host_path(loc),
        };
        // The entry's parents are real directories of the layer (the walk never descends
        // through a link); O_NOFOLLOW keeps the last component from being swapped for one.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&host)
            .map_err(|err| {
                format!("cannot read {shown} from layer {}: {err}", self.layers[loc.layer as usize].source.number)
            })?;
        let meta = f.metadata().map_err(|err| format!("cannot read {shown}: {err}"))?;
        if !meta.is_file() {
            return Err(format!("{shown} is not a regular file in the image"));
        }
        if meta.len() > limit {
            return Err(format!("{shown} is {} bytes, more than the {limit} this check reads", meta.len()));
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        f.take(limit).read_to_end(&mut buf).map_err(|err| format!("cannot read {shown}: {err}"))?;
        Ok(Some(buf))
    }

    /// Read one regular file entry of any layer, visible or not, as that layer holds it:
    /// from the layer directory (opened beneath it, no symlink followed on the way) or from
    /// what was kept while the layer was streamed. Err when it cannot be read or is larger
    /// than `limit` (nothing is read then).
    pub fn read_entry(&self, loc: Loc, limit: u64) -> Result<Vec<u8>, String> {
        let e = self.entry(loc);
        let shown = crate::escape::bytes(&e.path);
        let layer = &self.layers[loc.layer as usize].source;
        if e.kind != EntryKind::File {
            return Err(format!("{shown} is not a regular file in layer {}", layer.number));
        }
        let dir = match &layer.files {
            LayerFiles::Captured(c) => {
                let held = c.hardlinks.get(&e.path).map_or(&e.path, |t| t);
                if c.over_budget.contains(held) || c.over_budget.contains(&e.path) {
                    return Err(format!(
                        "{shown} was not kept when layer {} was read: the layer's files to read exceeded {} MiB",
                        layer.number,
                        super::tar::MAX_CAPTURED >> 20
                    ));
                }
                return captured(c, &e.path, &shown, limit);
            }
            LayerFiles::Dir(d) => d,
        };
        let f = open_beneath(dir, &e.path[1..])
            .map_err(|err| format!("cannot read {shown} from layer {}: {err}", layer.number))?;
        let meta = f.metadata().map_err(|err| format!("cannot read {shown}: {err}"))?;
        if !meta.is_file() {
            return Err(format!("{shown} is not a regular file in layer {}", layer.number));
        }
        if meta.len() > limit {
            return Err(format!("{shown} is {} bytes, more than the {limit} this check reads", meta.len()));
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        f.take(limit).read_to_end(&mut buf).map_err(|err| format!("cannot read {shown}: {err}"))?;
        Ok(buf)
    }

    /// Where an entry of a stored layer lives on the host: its layer directory plus its image
    /// path (for a visible entry of a snapshot-stored image, the final snapshot).
    fn host_path(&self, l: Loc) -> PathBuf {
        let rel = OsStr::from_bytes(&self.entry(l).path[1..]);
        match (&self.content_root, self.layers[l.layer as usize].source.dir()) {
            (Some(root), _) if self.is_visible(l) => root.join(rel),
            (_, Some(dir)) => dir.join(rel),
            (_, None) => PathBuf::new(),
        }
    }

    /// Every visible entry of the final image, layer by layer.
    pub fn visible_entries(&self) -> impl Iterator<Item = (Loc, &Entry)> {
        self.layers.iter().enumerate().flat_map(|(li, layer)| {
            layer.scan.entries.iter().enumerate().filter_map(move |(i, e)| {
                (layer.hidden_by[i] == VISIBLE && e.kind != EntryKind::Whiteout)
                    .then_some((Loc { layer: li as u16, idx: i as u32 }, e))
            })
        })
    }
}

/// The components of an image path, without empty ones and `.` (`..` is the caller's).
pub(crate) fn components(p: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    p.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".")
}

/// An absolute image path from its components (`/` for none).
pub(crate) fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut v = Vec::new();
    for p in parts {
        v.push(b'/');
        v.extend_from_slice(p);
    }
    v
}

/// A file of a streamed layer, as kept while the layer was read (a hard link reads its
/// target's content). A file no rule declared was not kept: that is an error, never a guess.
fn captured(c: &CapturedFiles, path: &[u8], shown: &str, limit: u64) -> Result<Vec<u8>, String> {
    let path = c.hardlinks.get(path).map_or(path, |t| t);
    match c.files.get(path) {
        Some(d) if d.len() as u64 > limit => {
            Err(format!("{shown} is {} bytes, more than the {limit} this check reads", d.len()))
        }
        Some(d) => Ok(d.clone()),
        None => Err(format!("{shown} was not kept when its layer was read (no rule declared it, or it is too large)")),
    }
}

/// Open `rel` below `dir` for reading with openat2: every component must stay beneath `dir`
/// and none may be a symlink (or a /proc magic link), so a layer changed under us cannot
/// send the read out of it.
fn open_beneath(dir: &std::path::Path, rel: &[u8]) -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let root = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)?;
    let rel = std::ffi::CString::new(rel).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: open_how is plain data; zeroed is its documented "no options" state.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: the fd and the NUL-terminated path are valid for the call, `how` is sized as passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            std::os::fd::AsRawFd::as_raw_fd(&root),
            rel.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}
