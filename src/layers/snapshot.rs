//! vfs keeps every layer as a complete copy of the filesystem up to that layer. Comparing
//! each snapshot with the one below turns it back into what the layer changed, in the form
//! an overlay diff directory has: the new or changed entries with their parent directories,
//! and a whiteout where something was deleted. The merge, the rules and the report then
//! work exactly as for overlay.

use super::entry::{Classify, Entry, LayerScan, Stamp, NO_PARENT};
use crate::model::EntryKind;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// One layer directory of a vfs store, walked whole.
pub struct Snapshot {
    pub root: PathBuf,
    pub scan: LayerScan,
    /// Parallel to `scan.entries`.
    pub stamps: Vec<Stamp>,
}

impl Snapshot {
    /// Walk snapshots with up to `jobs` threads, results in order.
    pub fn walk_all(roots: &[&Path], classifier: &dyn Classify, jobs: usize) -> Vec<Snapshot> {
        let walked = super::walk::walk_layers(roots, classifier, jobs, true, super::walk::Split::Balanced);
        roots
            .iter()
            .zip(walked)
            .map(|(root, (scan, stamps))| Snapshot { root: root.to_path_buf(), scan, stamps })
            .collect()
    }
}

/// What `upper` changed relative to `lower` (None: the bottom layer, which adds everything).
///
/// Metadata decides (type, mode, owner, size, mtime, link target, device). Images built
/// within one second, or with clamped timestamps, can rewrite a file without changing any
/// of that, so for entries a check looks at equal metadata is confirmed by comparing the
/// content: every finding then names the layer that really last wrote it.
pub fn diff(lower: Option<&Snapshot>, upper: &Snapshot, classifier: &dyn Classify) -> LayerScan {
    let entries = &upper.scan.entries;
    let hit_bits: HashMap<u32, u64> = upper.scan.hits.iter().copied().collect();
    // setcap changes no mtime: a capability added or removed is a change of its own.
    let caps: HashMap<u32, &[u8]> = upper.scan.capabilities.iter().map(|(i, v)| (*i, &v[..])).collect();
    let mut errors = upper.scan.errors.clone();
    let mut include = vec![lower.is_none(); entries.len()];
    let mut whiteouts: Vec<(u32, Box<[u8]>)> = Vec::new();

    if let Some(lower) = lower {
        let below: HashMap<&[u8], u32> =
            lower.scan.entries.iter().enumerate().map(|(i, e)| (&e.path[..], i as u32)).collect();
        let caps_below: HashMap<u32, &[u8]> = lower.scan.capabilities.iter().map(|(i, v)| (*i, &v[..])).collect();
        for (i, e) in entries.iter().enumerate() {
            include[i] = match below.get(&e.path[..]) {
                None => true,
                Some(&j) => {
                    let (le, ls) = (&lower.scan.entries[j as usize], &lower.stamps[j as usize]);
                    if !same_metadata(le, ls, e, &upper.stamps[i]) || caps_below.get(&j) != caps.get(&(i as u32)) {
                        true
                    } else if e.kind == EntryKind::File && hit_bits.contains_key(&(i as u32)) {
                        match same_content(&lower.root, &upper.root, &e.path) {
                            Ok(same) => !same,
                            Err(err) => {
                                errors.push(err);
                                true
                            }
                        }
                    } else {
                        false
                    }
                }
            };
        }
        // A deletion needs a whiteout only where its parent directory survives: below a
        // deleted or replaced parent, that parent's own entry hides it already.
        let above: HashMap<&[u8], u32> = entries.iter().enumerate().map(|(i, e)| (&e.path[..], i as u32)).collect();
        for le in &lower.scan.entries {
            if above.contains_key(&le.path[..]) {
                continue;
            }
            let parent = if le.parent == NO_PARENT {
                NO_PARENT
            } else {
                match above.get(&lower.scan.entries[le.parent as usize].path[..]) {
                    Some(&p) if entries[p as usize].kind == EntryKind::Dir => p,
                    _ => continue,
                }
            };
            if parent != NO_PARENT {
                include[parent as usize] = true;
            }
            whiteouts.push((parent, le.path.clone()));
        }
        // Parents come before their children, so one backwards pass brings every ancestor
        // of an included entry along, as a diff directory would hold it.
        for i in (0..entries.len()).rev() {
            let p = entries[i].parent;
            if include[i] && p != NO_PARENT {
                include[p as usize] = true;
            }
        }
    }

    let mut out = LayerScan { errors, ..LayerScan::default() };
    let mut new_index = vec![NO_PARENT; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        if !include[i] {
            continue;
        }
        let idx = out.entries.len() as u32;
        new_index[i] = idx;
        let mut entry = e.clone();
        entry.parent = if e.parent == NO_PARENT { NO_PARENT } else { new_index[e.parent as usize] };
        // Deletions are explicit whiteouts here; nothing in a snapshot is opaque.
        entry.opaque = false;
        if entry.kind == EntryKind::File {
            out.bytes += entry.size;
        }
        if let Some(&bits) = hit_bits.get(&(i as u32)) {
            out.hits.push((idx, bits));
        }
        if let Some(v) = caps.get(&(i as u32)) {
            out.capabilities.push((idx, (*v).into()));
        }
        out.entries.push(entry);
    }
    for (parent, path) in whiteouts {
        let entry = Entry {
            path,
            parent: if parent == NO_PARENT { NO_PARENT } else { new_index[parent as usize] },
            kind: EntryKind::Whiteout,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            link: None,
            opaque: false,
        };
        let idx = out.entries.len() as u32;
        let bits = classifier.classify(&entry);
        if bits != 0 {
            out.hits.push((idx, bits));
        }
        out.entries.push(entry);
    }
    out
}

fn same_metadata(a: &Entry, sa: &Stamp, b: &Entry, sb: &Stamp) -> bool {
    a.kind == b.kind
        && a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.link == b.link
        && sa == sb
        // A directory's own size is the filesystem's business, not the image's.
        && (a.kind == EntryKind::Dir || a.size == b.size)
}

fn same_content(lower_root: &Path, upper_root: &Path, path: &[u8]) -> Result<bool, String> {
    let rel = OsStr::from_bytes(&path[1..]);
    let open = |root: &Path| {
        let p = root.join(rel);
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&p)
            .map_err(|e| format!("cannot compare {}: {e}", p.display()))
    };
    let (mut a, mut b) = (open(lower_root)?, open(upper_root)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let na = read_full(&mut a, &mut ba)
            .map_err(|e| format!("cannot compare {}: {e}", lower_root.join(rel).display()))?;
        let nb = read_full(&mut b, &mut bb)
            .map_err(|e| format!("cannot compare {}: {e}", upper_root.join(rel).display()))?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

/// Fill as much of `buf` as the file has left (short reads are not the end).
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
