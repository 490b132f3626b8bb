//! The checks. One file per rule; each declares its id, title, default severity, rationale
//! and remediation next to its code, and what the single layer walk must hand it.

mod accounts;
mod tools;

pub mod admin_ports_exposed;
pub mod base_os;
pub mod compilers;
pub mod labels_missing;
pub mod latest_tag;
pub mod privilege_tools;
pub mod remote_access_tools;
pub mod required_labels;
pub mod root_group;
pub mod root_user;
pub mod sgid_files;
pub mod startup_command_missing;
pub mod suid_files;
pub mod too_many_layers;

use crate::inspect::ImageInspect;
use crate::layers::{walk, Entry, ImageFs, Kind, Loc};
use crate::reference::ImageRef;
use crate::report::Finding;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Informational];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Informational => "informational",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFO",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.name().eq_ignore_ascii_case(s) || (s.eq_ignore_ascii_case("info") && *v == Severity::Informational))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Disabled by policy.
    Skipped,
    /// Could not be evaluated; never a pass.
    Error,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skipped => "SKIP",
            Status::Error => "ERROR",
        }
    }
}

/// What a rule is, independent of any image.
#[derive(Debug)]
pub struct RuleMeta {
    /// Stable kebab-case id; never renamed once released.
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// Why this matters, for `explain`.
    pub rationale: &'static str,
    /// How to fix it; also the `mitigation` of every result.
    pub remediation: &'static str,
    /// The verdict depends on the layer walk; a walk error makes it `error`.
    pub reads_layers: bool,
}

/// What the single layer walk must hand a rule.
#[derive(Debug, Default, Clone)]
pub struct Needs {
    /// Entries with exactly these base names.
    pub names: Vec<String>,
    /// Also match versioned and cross-toolchain forms of `names` (gcc-12,
    /// x86_64-linux-gnu-gcc-12).
    pub versioned_names: bool,
    /// Entries with any of these mode bits (e.g. setuid).
    pub mode_bits: u32,
}

/// What a rule concluded about one image.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub status: Status,
    /// One sentence about what this image showed.
    pub description: String,
    pub findings: Vec<Finding>,
}

impl Evaluation {
    pub fn pass(description: impl Into<String>) -> Self {
        Evaluation { status: Status::Pass, description: description.into(), findings: Vec::new() }
    }
    pub fn fail(description: impl Into<String>) -> Self {
        Evaluation { status: Status::Fail, description: description.into(), findings: Vec::new() }
    }
    pub fn error(description: impl Into<String>) -> Self {
        Evaluation { status: Status::Error, description: description.into(), findings: Vec::new() }
    }
    pub fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.findings = findings;
        self
    }
}

/// Settings that change what rules look for; the defaults are the documented lists.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    pub privilege_tools: Vec<String>,
    pub remote_access_tools: Vec<String>,
    pub compilers: Vec<String>,
    /// (port, protocol) pairs.
    pub admin_ports: Vec<(u16, String)>,
    pub max_layers: usize,
    /// (label key, optional glob on the value) that must be present.
    pub required_labels: Vec<(String, Option<String>)>,
    /// Required labels must be set by the image itself, not inherited from its base.
    pub labels_own: bool,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            privilege_tools: name_list(include_str!("data/privilege-tools.txt")),
            remote_access_tools: name_list(include_str!("data/remote-access-tools.txt")),
            compilers: name_list(include_str!("data/compilers.txt")),
            admin_ports: admin_ports_exposed::DEFAULT_PORTS.iter().map(|(p, proto)| (*p, proto.to_string())).collect(),
            max_layers: 1,
            required_labels: Vec::new(),
            labels_own: false,
        }
    }
}

fn name_list(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn needs(&self, _settings: &RuleSettings) -> Needs {
        Needs::default()
    }
    /// `hits`: the entries (of any layer, visible or not) the walk matched to `needs`.
    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation;
}

/// Every rule, in report order.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &latest_tag::Rule,
        &admin_ports_exposed::Rule,
        &root_user::Rule,
        &root_group::Rule,
        &labels_missing::Rule,
        &required_labels::Rule,
        &too_many_layers::Rule,
        &startup_command_missing::Rule,
        &suid_files::Rule,
        &sgid_files::Rule,
        &privilege_tools::Rule,
        &remote_access_tools::Rule,
        &compilers::Rule,
        &base_os::Rule,
    ]
}

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    all().iter().copied().find(|r| r.meta().id == id)
}

/// Everything a rule may look at. Rules never run podman or read outside this view.
pub struct Context<'a> {
    pub reference: &'a ImageRef,
    pub image: &'a ImageInspect,
    pub fs: &'a ImageFs,
    pub settings: &'a RuleSettings,
    tool_dirs: OnceLock<HashSet<Vec<u8>>>,
    passwd: OnceLock<FileRead<Vec<crate::etc_files::PasswdEntry>>>,
    group: OnceLock<FileRead<Vec<crate::etc_files::GroupEntry>>>,
}

/// A file read from the image: absent, parsed, or unreadable (with why).
pub type FileRead<T> = Result<Option<T>, String>;

/// Files this tool reads from images are small; anything bigger is suspicious.
const MAX_ETC_FILE: u64 = 16 << 20;

impl<'a> Context<'a> {
    pub fn new(reference: &'a ImageRef, image: &'a ImageInspect, fs: &'a ImageFs, settings: &'a RuleSettings) -> Self {
        Context {
            reference,
            image,
            fs,
            settings,
            tool_dirs: OnceLock::new(),
            passwd: OnceLock::new(),
            group: OnceLock::new(),
        }
    }

    /// Read and parse a file of the final image. If any layer could not be walked, the
    /// file's presence cannot be trusted either way.
    pub fn read_parsed<T>(&self, path: &str, parse: impl Fn(&[u8]) -> T) -> FileRead<T> {
        if let Some(e) = self.fs.walk_errors().next() {
            return Err(format!("cannot trust {path}: a layer could not be read completely ({e})"));
        }
        Ok(self.fs.read_file(path.as_bytes(), MAX_ETC_FILE)?.map(|d| parse(&d)))
    }

    pub fn passwd(&self) -> &FileRead<Vec<crate::etc_files::PasswdEntry>> {
        self.passwd.get_or_init(|| self.read_parsed("/etc/passwd", crate::etc_files::parse_passwd))
    }

    pub fn group(&self) -> &FileRead<Vec<crate::etc_files::GroupEntry>> {
        self.group.get_or_init(|| self.read_parsed("/etc/group", crate::etc_files::parse_group))
    }

    /// Canonical directories where an executable counts as an installed tool: the image's
    /// PATH (from its config, else the standard one) plus the standard bin/sbin
    /// directories, each resolved through the image's own symlinks (/bin -> usr/bin).
    pub fn tool_dirs(&self) -> &HashSet<Vec<u8>> {
        self.tool_dirs.get_or_init(|| {
            let path = self.image.config.env_var("PATH").unwrap_or(STANDARD_PATH);
            path.split(':')
                .chain(STANDARD_PATH.split(':'))
                .filter(|d| d.starts_with('/'))
                .filter_map(|d| self.fs.resolve_dir(d.as_bytes()))
                .collect()
        })
    }

    /// A finding about one entry, with its layer attribution and visibility.
    pub fn finding(&self, loc: Loc, violation: bool, note: Option<String>) -> Finding {
        let e = self.fs.entry(loc);
        let layer = &self.fs.layers[loc.layer as usize].source;
        let hidden_by = self.fs.hidden_by(loc);
        let note = match (note, hidden_by) {
            (n, None) => n,
            (n, Some(h)) => {
                let what = format!("not in the final image: deleted or replaced by layer {}", h + 1);
                Some(match n {
                    Some(n) => format!("{n}; {what}"),
                    None => what,
                })
            }
        };
        Finding {
            path: crate::escape::bytes(&e.path),
            layer: layer.number,
            layer_digest: layer.diff_id.clone(),
            created_by: crate::escape::text(&layer.created_by),
            kind: e.kind,
            mode: format!("{:04o}", e.mode),
            permissions: permissions(e),
            uid: e.uid,
            gid: e.gid,
            size: e.size,
            link_target: e.link.as_deref().map(crate::escape::bytes),
            visible: hidden_by.is_none(),
            violation,
            note,
            waiver: None,
        }
    }
}

pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `ls -l` style permissions, e.g. `-rwsr-xr-x`.
pub fn permissions(e: &Entry) -> String {
    let m = e.mode;
    let mut s = String::with_capacity(10);
    s.push(e.kind.symbol());
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let exec = |x: u32, special: u32, set: char, unset: char| match (m & x != 0, m & special != 0) {
        (true, true) => set,
        (false, true) => unset,
        (true, false) => 'x',
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(exec(0o100, 0o4000, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(exec(0o010, 0o2000, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(exec(0o001, 0o1000, 't', 'T'));
    s
}

/// Matches walk entries to the rules that asked for them: one hash lookup per entry for
/// names (plus a bounded few for versioned forms), one mask test for mode bits.
pub struct Classifier {
    exact: HashMap<Vec<u8>, u64>,
    versioned: HashMap<Vec<u8>, u64>,
    mode_rules: Vec<(u32, u64)>,
}

impl Classifier {
    pub fn new(rules: &[&dyn Rule], settings: &RuleSettings) -> Classifier {
        let mut c = Classifier { exact: HashMap::new(), versioned: HashMap::new(), mode_rules: Vec::new() };
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
        }
        c
    }
}

impl walk::Classify for Classifier {
    fn classify(&self, e: &Entry) -> u64 {
        let mut bits = 0;
        if matches!(e.kind, Kind::File | Kind::Dir) {
            for &(mask, bit) in &self.mode_rules {
                if e.mode & mask != 0 {
                    bits |= bit;
                }
            }
        }
        if matches!(e.kind, Kind::File | Kind::Symlink) {
            let name = e.name();
            bits |= self.exact.get(name).copied().unwrap_or(0);
            if !self.versioned.is_empty() {
                tools::versioned_forms(name, |form| bits |= self.versioned.get(form).copied().unwrap_or(0));
            }
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_stable_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        for r in all() {
            let m = r.meta();
            assert!(seen.insert(m.id), "duplicate id {}", m.id);
            assert!(
                m.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') && !m.id.starts_with('-'),
                "{} is not kebab-case",
                m.id
            );
            assert!(!m.title.is_empty() && m.rationale.len() > 40 && m.remediation.len() > 20, "{} undocumented", m.id);
            assert!(find(m.id).is_some());
        }
        assert!(all().len() <= 64, "rule slots are bits of a u64");
    }

    #[test]
    fn the_documented_ids_and_severities() {
        let got: Vec<(&str, Severity)> = all().iter().map(|r| (r.meta().id, r.meta().severity)).collect();
        use Severity::*;
        assert_eq!(
            got,
            vec![
                ("latest-tag", Critical),
                ("admin-ports-exposed", High),
                ("root-user", Critical),
                ("root-group", Critical),
                ("labels-missing", Low),
                ("required-labels", Low),
                ("too-many-layers", Low),
                ("startup-command-missing", Low),
                ("suid-files", Critical),
                ("sgid-files", Critical),
                ("privilege-tools", Critical),
                ("remote-access-tools", Critical),
                ("compilers", Medium),
                ("base-os", Informational),
            ]
        );
    }

    #[test]
    fn default_tool_lists_are_exactly_the_documented_ones() {
        let s = RuleSettings::default();
        assert_eq!(s.privilege_tools, ["su", "sudo", "sudoedit", "doas", "pkexec"]);
        assert_eq!(
            s.remote_access_tools,
            [
                "ssh", "sshd", "scp", "sftp", "nc", "nc.openbsd", "nc.traditional", "ncat", "netcat", "socat",
                "telnet", "telnetd", "in.telnetd", "dropbear", "dbclient", "rsh", "rlogin", "rexec"
            ]
        );
        for c in ["gcc", "g++", "cc", "c++", "clang", "tcc", "gfortran", "gccgo", "go", "rustc", "javac", "ghc", "fpc", "nasm", "as"] {
            assert!(s.compilers.iter().any(|x| x == c), "{c} missing");
        }
    }

    #[test]
    fn permissions_string() {
        let e = Entry {
            path: b"/x".to_vec().into(),
            parent: 0,
            kind: Kind::File,
            mode: 0o4755,
            uid: 0,
            gid: 0,
            size: 0,
            link: None,
            opaque: false,
        };
        assert_eq!(permissions(&e), "-rwsr-xr-x");
        assert_eq!(permissions(&Entry { mode: 0o2644, kind: Kind::Dir, ..e.clone() }), "drw-r-Sr--");
    }
}

#[cfg(test)]
mod rule_tests;
