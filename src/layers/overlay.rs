//! Overlay semantics across layers: which entry of which layer the final image shows at
//! each path.
//!
//! Layers are processed top to bottom. A path seen in an upper layer shadows the same path
//! below; a whiteout, a non-directory or an opaque directory in an upper layer also hides
//! everything *under* that path below it. Because a diff directory always contains the
//! parent directories of its entries, "hidden by an ancestor" is inherited from the parent
//! entry in the same layer, so each entry costs one hash lookup.

use super::walk::{Kind, LayerScan, NO_PARENT};
use super::Loc;
use std::collections::HashMap;
use std::hash::BuildHasher;

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
}

/// Path → slot, keyed by a randomly keyed 64-bit hash of the path; the full path is compared
/// on lookup, so a collision costs a second probe, never a wrong answer, and the paths
/// themselves are stored once, in the layers.
pub struct PathIndex {
    hasher: std::collections::hash_map::RandomState,
    first: HashMap<u64, u32>,
    more: HashMap<u64, Vec<u32>>,
    pub slots: Vec<Slot>,
}

impl PathIndex {
    fn with_capacity(n: usize) -> Self {
        PathIndex {
            hasher: Default::default(),
            first: HashMap::with_capacity(n),
            more: HashMap::new(),
            slots: Vec::with_capacity(n),
        }
    }

    /// The slot of `path`; `path_of` gives the path of an entry.
    pub fn get<'a>(&self, path: &[u8], path_of: impl Fn(Loc) -> &'a [u8]) -> Option<&Slot> {
        self.find(self.hasher.hash_one(path), path, path_of).map(|s| &self.slots[s as usize])
    }

    fn find<'a>(&self, h: u64, path: &[u8], path_of: impl Fn(Loc) -> &'a [u8]) -> Option<u32> {
        let s = *self.first.get(&h)?;
        if path_of(self.slots[s as usize].top) == path {
            return Some(s);
        }
        self.more.get(&h)?.iter().copied().find(|&s| path_of(self.slots[s as usize].top) == path)
    }

    fn insert(&mut self, h: u64, slot: Slot) {
        let id = self.slots.len() as u32;
        self.slots.push(slot);
        match self.first.entry(h) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.more.entry(h).or_default().push(id),
        }
    }
}

/// Returns, for every entry of every layer, VISIBLE or the index of the layer that deleted
/// or replaced it; and the index of the topmost entry at every path.
pub fn merge(layers: &[&LayerScan]) -> (Vec<Vec<u16>>, PathIndex) {
    let total: usize = layers.iter().map(|l| l.entries.len()).sum();
    let mut index = PathIndex::with_capacity(total);
    let mut hidden: Vec<Vec<u16>> = layers.iter().map(|l| vec![VISIBLE; l.entries.len()]).collect();
    let path_of = |l: Loc| -> &[u8] { &layers[l.layer as usize].entries[l.idx as usize].path };

    for li in (0..layers.len()).rev() {
        let here = li as u16;
        let entries = &layers[li].entries;
        // For each directory: the layer that hides its children from this layer, if any.
        let mut child_block: Vec<u16> = vec![VISIBLE; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            let parent_block = if e.parent == NO_PARENT { VISIBLE } else { child_block[e.parent as usize] };
            let hides_below = e.kind != Kind::Dir || e.opaque;
            let h = index.hasher.hash_one(&e.path[..]);
            let (shadow, from_above) = match index.find(h, &e.path, path_of) {
                Some(s) => {
                    let slot = &mut index.slots[s as usize];
                    let seen = (slot.last_layer, slot.blocks_below);
                    slot.last_layer = here;
                    if hides_below {
                        slot.blocks_below = here;
                    }
                    seen
                }
                None => {
                    let top = Loc { layer: here, idx: i as u32 };
                    let blocks_below = if hides_below { here } else { VISIBLE };
                    index.insert(h, Slot { top, blocks_below, last_layer: here });
                    (VISIBLE, VISIBLE)
                }
            };
            hidden[li][i] = if parent_block != VISIBLE {
                parent_block
            } else if shadow != VISIBLE {
                shadow
            } else if e.kind == Kind::Whiteout {
                here
            } else {
                VISIBLE
            };
            child_block[i] = if parent_block != VISIBLE { parent_block } else { from_above };
        }
    }
    (hidden, index)
}
