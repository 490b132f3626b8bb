//! Routes each walked entry to the rules that asked for it, so one walk feeds them all.

use super::rule::Rule;
use super::settings::RuleSettings;
use crate::layers::{Classify, Entry};
use crate::model::EntryKind;
use std::collections::{HashMap, HashSet};

/// Matches walk entries to the rules that asked for them: one hash lookup per entry for
/// names (plus a bounded few for versioned forms), one mask test for mode bits.
pub struct Classifier {
    exact: HashMap<Vec<u8>, u64>,
    versioned: HashMap<Vec<u8>, u64>,
    mode_rules: Vec<(u32, u64)>,
    /// Files some rule reads the content of.
    files: HashSet<&'static [u8]>,
    capabilities: bool,
}

impl Classifier {
    pub fn new(rules: &[&dyn Rule], settings: &RuleSettings) -> Classifier {
        let mut c = Classifier {
            exact: HashMap::new(),
            versioned: HashMap::new(),
            mode_rules: Vec::new(),
            files: HashSet::new(),
            capabilities: false,
        };
        for (slot, rule) in rules.iter().enumerate() {
            let bit = 1u64 << slot;
            let needs = rule.needs(settings);
            for n in &needs.names {
                *c.exact.entry(n.as_bytes().to_vec()).or_default() |= bit;
                if needs.versioned_names {
                    *c.versioned.entry(n.as_bytes().to_vec()).or_default() |= bit;
                }
            }
            if needs.mode_bits != 0 {
                c.mode_rules.push((needs.mode_bits, bit));
            }
            c.files.extend(needs.files.iter().map(|f| f.as_bytes()));
            c.capabilities |= needs.capabilities;
        }
        c
    }
}

impl Classify for Classifier {
    fn reads_content(&self, path: &[u8]) -> bool {
        self.files.contains(path)
    }

    fn reads_capabilities(&self) -> bool {
        self.capabilities
    }

    fn classify(&self, e: &Entry) -> u64 {
        let mut bits = 0;
        if matches!(e.kind, EntryKind::File | EntryKind::Dir) {
            for &(mask, bit) in &self.mode_rules {
                if e.mode & mask != 0 {
                    bits |= bit;
                }
            }
        }
        if matches!(e.kind, EntryKind::File | EntryKind::Symlink) {
            let name = e.name();
            bits |= self.exact.get(name).copied().unwrap_or(0);
            if !self.versioned.is_empty() {
                super::tools::versioned_forms(name, |form| bits |= self.versioned.get(form).copied().unwrap_or(0));
            }
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_rules_read_are_declared() {
        let c = Classifier::new(crate::rules::all(), &RuleSettings::default());
        for f in ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/os-release", "/usr/lib/os-release"] {
            assert!(c.reads_content(f.as_bytes()), "{f}");
        }
        assert!(!c.reads_content(b"/etc/shadow-not-read"));
    }
}
