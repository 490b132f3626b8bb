//! The organisation's policy file: which checks run and how severe they are, the failure
//! threshold, required labels, list extensions and waivers. Validated strictly: an unknown
//! key or a bad value is a configuration error naming the file, the key and what was
//! expected.

use crate::rules::{self, RuleSettings, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Checks failing below this severity are reported but do not fail the gate.
    pub fail_on: Option<Severity>,
    /// Per-check settings, keyed by check id.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckPolicy>,
    #[serde(default)]
    pub labels: LabelPolicy,
    /// Replaces the default administration-port list ("22/tcp", "161/udp", "3389").
    pub admin_ports: Option<Vec<String>>,
    /// Names added to the default lists.
    #[serde(default)]
    pub extra_privilege_tools: Vec<String>,
    #[serde(default)]
    pub extra_remote_access_tools: Vec<String>,
    #[serde(default)]
    pub extra_compilers: Vec<String>,
    /// The most layers an image may have before too-many-layers fails (default 1).
    pub max_layers: Option<usize>,
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckPolicy {
    /// false: the check is skipped (reported as skipped, never as passed).
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    /// Why the check is disabled or re-rated; shown in reports.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelPolicy {
    #[serde(default)]
    pub required: Vec<RequiredLabel>,
    /// Required labels must be set by the image itself, not inherited from its base image
    /// (decided from the build history when it shows where a label was set).
    #[serde(default)]
    pub own: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredLabel {
    pub key: String,
    /// A glob the value must match (`*`, `?`, `[a-z]`).
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub check: String,
    /// Glob on the finding's path inside the image; omitted: the whole check.
    pub path: Option<String>,
    /// Glob on the image reference; omitted: every image.
    pub image: Option<String>,
    pub reason: String,
    /// YYYY-MM-DD; from the day after, the waiver no longer applies.
    pub expires: Option<String>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read policy file {}: {e}", path.display()))?;
        Policy::parse(&text).map_err(|e| format!("policy file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Policy, String> {
        let p: Policy = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), String> {
        let known = || rules::all().iter().map(|r| r.meta().id).collect::<Vec<_>>().join(", ");
        for id in self.checks.keys() {
            if rules::find(id).is_none() {
                return Err(format!("checks.{id}: unknown check id; expected one of: {}", known()));
            }
        }
        for (i, w) in self.waivers.iter().enumerate() {
            if rules::find(&w.check).is_none() {
                return Err(format!("waivers[{i}].check: unknown check id {:?}; expected one of: {}", w.check, known()));
            }
            if w.reason.trim().is_empty() {
                return Err(format!("waivers[{i}].reason: a waiver needs a reason"));
            }
            if let Some(e) = &w.expires {
                parse_date(e).ok_or_else(|| format!("waivers[{i}].expires: expected a date YYYY-MM-DD, got {e:?}"))?;
            }
            for (key, g) in [("path", &w.path), ("image", &w.image)] {
                if let Some(g) = g {
                    check_glob(g).map_err(|e| format!("waivers[{i}].{key}: {e}"))?;
                }
            }
        }
        for (i, l) in self.labels.required.iter().enumerate() {
            if l.key.trim().is_empty() {
                return Err(format!("labels.required[{i}].key: must not be empty"));
            }
            if let Some(p) = &l.pattern {
                check_glob(p).map_err(|e| format!("labels.required[{i}].pattern: {e}"))?;
            }
        }
        if let Some(ports) = &self.admin_ports {
            for (i, p) in ports.iter().enumerate() {
                parse_port(p).ok_or_else(|| format!("admin_ports[{i}]: expected PORT or PORT/tcp|udp|sctp, got {p:?}"))?;
            }
        }
        for (key, list) in [
            ("extra_privilege_tools", &self.extra_privilege_tools),
            ("extra_remote_access_tools", &self.extra_remote_access_tools),
            ("extra_compilers", &self.extra_compilers),
        ] {
            if let Some(bad) = list.iter().find(|n| n.is_empty() || n.contains('/')) {
                return Err(format!("{key}: expected file names without '/', got {bad:?}"));
            }
        }
        if self.max_layers == Some(0) {
            return Err("max_layers: expected at least 1".into());
        }
        Ok(())
    }

    pub fn enabled(&self, id: &str) -> bool {
        self.checks.get(id).and_then(|c| c.enabled).unwrap_or(true)
    }

    pub fn severity(&self, id: &str, default: Severity) -> Severity {
        self.checks.get(id).and_then(|c| c.severity).unwrap_or(default)
    }

    /// The rule settings this policy implies.
    pub fn rule_settings(&self) -> RuleSettings {
        let mut s = RuleSettings::default();
        s.privilege_tools.extend(self.extra_privilege_tools.iter().cloned());
        s.remote_access_tools.extend(self.extra_remote_access_tools.iter().cloned());
        s.compilers.extend(self.extra_compilers.iter().cloned());
        if let Some(ports) = &self.admin_ports {
            s.admin_ports = ports.iter().filter_map(|p| parse_port(p)).collect();
        }
        if let Some(m) = self.max_layers {
            s.max_layers = m;
        }
        s.required_labels = self.labels.required.iter().map(|l| (l.key.clone(), l.pattern.clone())).collect();
        s.labels_own = self.labels.own;
        s
    }
}

fn parse_port(p: &str) -> Option<(u16, String)> {
    let (port, proto) = rules::admin_ports_exposed::parse_port(p)?;
    matches!(proto.as_str(), "tcp" | "udp" | "sctp").then_some((port, proto))
}

/// "2027-06-30" → (2027, 6, 30).
pub fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12).contains(&m).then_some(())?;
    (1..=days[m as usize - 1]).contains(&d).then_some((y, m, d))
}

fn check_glob(g: &str) -> Result<(), String> {
    let mut in_class = false;
    for c in g.chars() {
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ => {}
        }
    }
    if in_class {
        Err(format!("unterminated [ in pattern {g:?}"))
    } else {
        Ok(())
    }
}

/// Shell-style glob: `*` any run of characters (including `/`), `?` one character,
/// `[abc]`, `[a-z]`, `[!x]` a class.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match `c` against the class starting at p[start] == '['. Returns (matched, index after ']').
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    (i < p.len()).then_some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("/usr/bin/*", "/usr/bin/passwd"));
        assert!(glob_match("*passwd", "/usr/bin/passwd"));
        assert!(glob_match("/usr/bin/p?sswd", "/usr/bin/passwd"));
        assert!(glob_match("[0-9]*.[0-9]*", "12.4"));
        assert!(!glob_match("[0-9]*.[0-9]*", "v12.4"));
        assert!(glob_match("[!a]x", "bx"));
        assert!(!glob_match("/usr/bin/*", "/usr/sbin/x"));
        assert!(glob_match("registry.example.com/team/*", "registry.example.com/team/app:1"));
        assert!(!glob_match("a", "ab"));
        assert!(glob_match("", ""));
        assert!(glob_match("**", "anything/at/all"));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("27-1-1"), None);
    }

    #[test]
    fn example_policy_in_the_repo_is_valid() {
        let p = Policy::parse(include_str!("../policy.example.toml")).unwrap();
        assert!(!p.waivers.is_empty());
        assert!(!p.labels.required.is_empty());
    }

    #[test]
    fn strict_validation_names_the_key_and_the_expectation() {
        let cases = [
            ("unknown_key = 1", "unknown field `unknown_key`"),
            ("fail_on = \"hgh\"", "unknown variant `hgh`"),
            ("[checks.no-such-check]\nenabled = false", "checks.no-such-check: unknown check id"),
            ("[checks.suid-files]\nenabeld = false", "unknown field `enabeld`"),
            ("[[waivers]]\ncheck = \"suid-files\"\npath = \"/x\"", "missing field `reason`"),
            ("[[waivers]]\ncheck = \"suid-files\"\nreason = \" \"", "waivers[0].reason"),
            ("[[waivers]]\ncheck = \"suid-files\"\nreason = \"r\"\nexpires = \"31/12/2027\"", "waivers[0].expires: expected a date YYYY-MM-DD"),
            ("admin_ports = [\"ssh\"]", "admin_ports[0]: expected PORT"),
            ("max_layers = 0", "max_layers: expected at least 1"),
            ("max_layers = \"five\"", "invalid type"),
        ];
        for (text, want) in cases {
            let err = Policy::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
