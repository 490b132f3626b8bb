//! Routes each walked entry to the rules that asked for it, so one walk feeds them all.

use super::patterns::PatternSet;
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
    /// `Needs::patterns` without a `/`: on the base name.
    name_patterns: PatternSet,
    /// `Needs::patterns` with a `/`: on the full path.
    path_patterns: PatternSet,
    /// Files some rule reads the content of.
    files: HashSet<&'static [u8]>,
    capabilities: bool,
    /// Patterns whose matches some rule reads the content of (`Needs::read_patterns`).
    content_names: PatternSet,
    content_paths: PatternSet,
}

impl Classifier {
    pub fn new(rules: &[&dyn Rule], settings: &RuleSettings) -> Classifier {
        let mut c = Classifier {
            exact: HashMap::new(),
            versioned: HashMap::new(),
            mode_rules: Vec::new(),
            name_patterns: PatternSet::default(),
            path_patterns: PatternSet::default(),
            files: HashSet::new(),
            capabilities: false,
            content_names: PatternSet::default(),
            content_paths: PatternSet::default(),
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
            for p in &needs.patterns {
                if p.contains('/') {
                    c.path_patterns.add(p, bit);
                    if needs.read_patterns {
                        c.content_paths.add(p, bit);
                    }
                } else {
                    c.name_patterns.add(p, bit);
                    if needs.read_patterns {
                        c.content_names.add(p, bit);
                    }
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
        // The engine reads the package databases whatever rules run.
        if self.files.contains(path) || crate::packages::is_db_file(path) {
            return true;
        }
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        (!self.content_names.is_empty() && self.content_names.matches(name) != 0)
            || (!self.content_paths.is_empty() && self.content_paths.matches(path) != 0)
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
        if e.kind != EntryKind::Whiteout {
            if !self.name_patterns.is_empty() {
                bits |= self.name_patterns.matches(e.name());
            }
            if !self.path_patterns.is_empty() {
                bits |= self.path_patterns.matches(&e.path);
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
        for f in ["/var/lib/dpkg/status", "/var/lib/dpkg/info/libc6:amd64.list", "/var/lib/dpkg/status.d/base"] {
            assert!(c.reads_content(f.as_bytes()), "{f}");
        }
        for f in ["/var/lib/dpkg/info/libc6.md5sums", "/var/lib/dpkg/info/x/y.list", "/var/lib/dpkg/status.d/"] {
            assert!(!c.reads_content(f.as_bytes()), "{f}");
        }
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::*;
    use crate::layers::Loc;
    use crate::rules::{Context, Evaluation, Needs, RuleMeta};

    struct Wants(&'static [&'static str]);
    static META: RuleMeta = RuleMeta {
        id: "test-patterns",
        title: "",
        severity: crate::model::Severity::Low,
        rationale: "",
        remediation: "",
        reads_layers: true,
        controls: &[],
    };
    impl Rule for Wants {
        fn meta(&self) -> &'static RuleMeta {
            &META
        }
        fn needs(&self, _: &RuleSettings) -> Needs {
            Needs { patterns: self.0.iter().map(|p| p.to_string()).collect(), ..Needs::default() }
        }
        fn check(&self, _: &Context, _: &[Loc]) -> Evaluation {
            Evaluation::pass("")
        }
    }

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.as_bytes().into(),
            parent: u32::MAX,
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            link: None,
            opaque: false,
        }
    }

    #[test]
    fn patterns_route_entries_of_every_kind_but_whiteouts() {
        let a = Wants(&[".git", "*.pem"]);
        let b = Wants(&["/var/cache/apk/*", "*/.docker/config.json"]);
        let rules: [&dyn Rule; 2] = [&a, &b];
        let c = Classifier::new(&rules, &RuleSettings::default());
        let cases = [
            ("/src/app/.git", EntryKind::Dir, 1),
            ("/src/app/.git", EntryKind::Whiteout, 0),
            ("/src/app/.gitignore", EntryKind::File, 0),
            ("/etc/ssl/private/server.pem", EntryKind::File, 1),
            ("/etc/ssl/certs/ca.pem", EntryKind::Symlink, 1),
            ("/var/cache/apk/APKINDEX.tar.gz", EntryKind::File, 2),
            ("/var/cache/apk", EntryKind::Dir, 0),
            ("/root/.docker/config.json", EntryKind::File, 2),
            ("/var/cache/apk/x.pem", EntryKind::File, 3),
        ];
        for (path, kind, want) in cases {
            assert_eq!(c.classify(&entry(path, kind)), want, "{path} {kind:?}");
        }
    }
}
