//! Overlay semantics across layers: which entry of which layer the final image shows at
//! each path.
//!
//! Layers are processed top to bottom. A path seen in an upper layer shadows the same path
//! below; a whiteout, a non-directory or an opaque directory in an upper layer also hides
//! everything *under* that path below it. Because a diff directory always contains the
//! parent directories of its entries, "hidden by an ancestor" is inherited from the parent
//! entry in the same layer, so each entry costs at most one hash lookup.
//!
//! For the same reason, below a directory that only one layer has, no other layer can have
//! anything: such "private" entries (most of a big application layer) need no lookup at
//! all, and are indexed only if a lookup ever reaches into them.

use super::entry::{path_hash, LayerScan, Loc, NO_PARENT};
use crate::model::EntryKind;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// `path_hash` of entry `i`, as its walker computed it. Layers built other than by a walk
/// (vfs diffs, tests) may come without hashes.
fn entry_hash(scan: &LayerScan, i: usize) -> u64 {
    match scan.hashes.get(i) {
        Some(&h) if scan.hashes.len() == scan.entries.len() => h,
        _ => path_hash(&scan.entries[i].path),
    }
}

/// The tables below are keyed by `path_hash`, already a keyed hash: hashing it again
/// would only cost time.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are ever hashed here; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(super) type HashTable<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// Marks an entry that is visible in the final image.
pub const VISIBLE: u16 = u16::MAX;

/// What the merge knows about one path.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The topmost entry at this path.
    pub top: Loc,
    /// Nearest layer (so far, going down) that hides what lies under this path.
    blocks_below: u16,
    /// Nearest layer (so far, going down) with an entry at this path.
    last_layer: u16,
    /// The top entry is a directory that no other layer has: what is below it is private.
    pub private_below: bool,
}

/// Path → slot, keyed by `path_hash`; the full path is compared on lookup, so a collision
/// costs a second probe, never a wrong answer, and the paths themselves are stored once, in
/// the layers.
pub struct PathIndex {
    first: HashTable<u32>,
    more: HashTable<Vec<u32>>,
    pub slots: Vec<Slot>,
    /// Per layer and entry: below a directory only that layer has, so not in the slots.
    private: Vec<Vec<bool>>,
    /// Per layer, made on first use: (path hash, entry) of its private entries, sorted.
    private_index: Vec<OnceLock<Vec<(u64, u32)>>>,
}

impl PathIndex {
    fn with_capacity(n: usize, layers: usize) -> Self {
        PathIndex {
            first: HashTable::with_capacity_and_hasher(n, Default::default()),
            more: HashTable::default(),
            slots: Vec::with_capacity(n),
            private: vec![Vec::new(); layers],
            private_index: (0..layers).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The private entry of `layer` at `path`, if there is one.
    pub fn private_entry(&self, layer: u16, path: &[u8], scan: &LayerScan) -> Option<u32> {
        let private = self.private.get(layer as usize)?;
        let sorted = self.private_index[layer as usize].get_or_init(|| {
            let mut v: Vec<(u64, u32)> = (0..scan.entries.len())
                .filter(|&i| private.get(i) == Some(&true))
                .map(|i| (entry_hash(scan, i), i as u32))
                .collect();
            v.sort_unstable();
            v
        });
        let h = path_hash(path);
        let start = sorted.partition_point(|&(x, _)| x < h);
        sorted[start..]
            .iter()
            .take_while(|&&(x, _)| x == h)
            .map(|&(_, i)| i)
            .find(|&i| &scan.entries[i as usize].path[..] == path)
    }

    /// The slot of `path`; `path_of` gives the path of an entry.
    pub fn get<'a>(&self, path: &[u8], path_of: impl Fn(Loc) -> &'a [u8]) -> Option<&Slot> {
        self.find(path_hash(path), path, path_of).map(|s| &self.slots[s as usize])
    }

    fn find<'a>(&self, h: u64, path: &[u8], path_of: impl Fn(Loc) -> &'a [u8]) -> Option<u32> {
        let s = *self.first.get(&h)?;
        if path_of(self.slots[s as usize].top) == path {
            return Some(s);
        }
        self.more.get(&h)?.iter().copied().find(|&s| path_of(self.slots[s as usize].top) == path)
    }

    /// The slot of the path `path` hashing to `h`, made (from `new`) if there is none yet:
    /// one probe of the table for the common case of a path seen for the first time.
    fn find_or_insert<'a>(&mut self, h: u64, path: &[u8], path_of: impl Fn(Loc) -> &'a [u8], new: Slot) -> (u32, bool) {
        let id = self.slots.len() as u32;
        if let std::collections::hash_map::Entry::Vacant(v) = self.first.entry(h) {
            v.insert(id);
        } else if let Some(s) = self.find(h, path, &path_of) {
            return (s, false);
        } else {
            self.more.entry(h).or_default().push(id);
        }
        self.slots.push(new);
        (id, true)
    }
}

/// Returns, for every entry of every layer, VISIBLE or the index of the layer that deleted
/// or replaced it; and the index of the topmost entry at every path.
pub fn merge(layers: &[&LayerScan]) -> (Vec<Vec<u16>>, PathIndex) {
    let total: usize = layers.iter().map(|l| l.entries.len()).sum();
    let mut index = PathIndex::with_capacity(total, layers.len());
    let mut hidden: Vec<Vec<u16>> = layers.iter().map(|l| vec![VISIBLE; l.entries.len()]).collect();
    let path_of = |l: Loc| -> &[u8] { &layers[l.layer as usize].entries[l.idx as usize].path };
    // How many layers have a directory at each path (directories are few).
    let mut dir_layers: HashMap<&[u8], u16> = HashMap::new();
    for l in layers {
        for e in l.entries.iter().filter(|e| e.kind == EntryKind::Dir) {
            let n = dir_layers.entry(&e.path[..]).or_insert(0);
            *n = n.saturating_add(1);
        }
    }

    for li in (0..layers.len()).rev() {
        let here = li as u16;
        let entries = &layers[li].entries;
        // For each directory: the layer that hides its children from this layer, if any.
        let mut child_block: Vec<u16> = vec![VISIBLE; entries.len()];
        // For each entry: it is private; for each directory: what is below it is.
        let mut private = vec![false; entries.len()];
        let mut private_below = vec![false; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            let parent = (e.parent != NO_PARENT).then_some(e.parent as usize);
            let parent_block = parent.map_or(VISIBLE, |p| child_block[p]);
            let hides_below = e.kind != EntryKind::Dir || e.opaque;
            let (shadow, from_above) = if parent.is_some_and(|p| private_below[p]) {
                // Nothing of another layer is at this path, so nothing above shadows or hides it
                // (other than through its ancestors) and nothing below needs to know about it.
                private[i] = true;
                private_below[i] = e.kind == EntryKind::Dir;
                (VISIBLE, VISIBLE)
            } else {
                let h = entry_hash(layers[li], i);
                private_below[i] = e.kind == EntryKind::Dir && dir_layers.get(&e.path[..]) == Some(&1);
                let fresh = Slot {
                    top: Loc { layer: here, idx: i as u32 },
                    blocks_below: if hides_below { here } else { VISIBLE },
                    last_layer: here,
                    private_below: private_below[i],
                };
                match index.find_or_insert(h, &e.path, path_of, fresh) {
                    (_, true) => (VISIBLE, VISIBLE),
                    (s, false) => {
                        let slot = &mut index.slots[s as usize];
                        let seen = (slot.last_layer, slot.blocks_below);
                        slot.last_layer = here;
                        if hides_below {
                            slot.blocks_below = here;
                        }
                        seen
                    }
                }
            };
            hidden[li][i] = if parent_block != VISIBLE {
                parent_block
            } else if shadow != VISIBLE {
                shadow
            } else if e.kind == EntryKind::Whiteout {
                here
            } else {
                VISIBLE
            };
            child_block[i] = if parent_block != VISIBLE { parent_block } else { from_above };
        }
        index.private[li] = private;
    }
    (hidden, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::entry::{Classify, Entry};
    use crate::layers::walk::walk_layer;
    use crate::testutil::Image;

    struct NoRules;
    impl Classify for NoRules {
        fn classify(&self, _: &Entry) -> u64 {
            0
        }
    }

    /// Every path hashing alike must give the same verdicts as real hashes: the full path
    /// decides, the hash only narrows the search.
    #[test]
    fn colliding_hashes_change_nothing() {
        let img = Image::new(3);
        img.layer(0).dir("/etc", 0o755).file("/etc/a", 0o644).file("/etc/b", 0o644).file("/opt/x/y", 0o755);
        img.layer(1).whiteout("/etc/a").file("/etc/c", 0o644).opaque("/opt");
        img.layer(2).file("/etc/b", 0o600).file("/opt/z", 0o644);
        let scans: Vec<LayerScan> = img.sources().iter().map(|s| walk_layer(s.dir().unwrap(), &NoRules)).collect();
        let mut colliding: Vec<LayerScan> =
            img.sources().iter().map(|s| walk_layer(s.dir().unwrap(), &NoRules)).collect();
        for s in &mut colliding {
            s.hashes.iter_mut().for_each(|h| *h = 7);
        }
        let (real, real_index) = merge(&scans.iter().collect::<Vec<_>>());
        let (forced, forced_index) = merge(&colliding.iter().collect::<Vec<_>>());
        assert_eq!(real, forced);
        assert_eq!(real_index.slots.len(), forced_index.slots.len());
        let path_of = |s: &[LayerScan], l: Loc| s[l.layer as usize].entries[l.idx as usize].path.to_vec();
        let tops = |s: &[LayerScan], i: &PathIndex| {
            let mut v: Vec<(Vec<u8>, u16)> = i.slots.iter().map(|sl| (path_of(s, sl.top), sl.top.layer)).collect();
            v.sort();
            v
        };
        assert_eq!(tops(&scans, &real_index), tops(&colliding, &forced_index));
        // What the verdicts are: /etc/a deleted by layer 1, the first /etc/b replaced by layer 2,
        // /opt/x/y hidden by layer 1's opaque /opt.
        let hidden = |layer: usize, path: &[u8]| {
            let i = scans[layer].entries.iter().position(|e| &e.path[..] == path).unwrap();
            real[layer][i]
        };
        assert_eq!(hidden(0, b"/etc/a"), 1);
        assert_eq!(hidden(0, b"/etc/b"), 2);
        assert_eq!(hidden(0, b"/opt/x/y"), 1);
        assert_eq!(hidden(2, b"/etc/b"), VISIBLE);
    }
}
