//! Name and path globs that rules hand the walk (`Needs::patterns`), compiled so that the
//! common shapes (`Dockerfile`, `*.pem`, `id_rsa*`, `/var/cache/apk/*`, `*/.docker/config.json`)
//! cost a hash probe or a byte comparison per entry, not a glob match: the walk may see
//! millions of entries and every one passes through here.

use std::collections::HashMap;

/// Globs compiled for matching either an entry's base name or its full path.
#[derive(Debug, Default)]
pub struct PatternSet {
    /// Patterns without wildcards: one hash probe.
    exact: HashMap<Vec<u8>, u64>,
    /// Everything else: literal prefix and suffix tested first; the glob only when the
    /// pattern is more than `prefix*suffix`.
    shaped: Vec<Shaped>,
}

#[derive(Debug)]
struct Shaped {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    /// The whole pattern when it is not just `prefix*suffix`.
    glob: Option<String>,
    bits: u64,
}

fn is_wild(c: char) -> bool {
    matches!(c, '*' | '?' | '[')
}

impl PatternSet {
    pub fn add(&mut self, pattern: &str, bits: u64) {
        let Some(first) = pattern.find(is_wild) else {
            *self.exact.entry(pattern.as_bytes().to_vec()).or_default() |= bits;
            return;
        };
        let last = pattern.rfind(is_wild).unwrap_or(first);
        let prefix = pattern.as_bytes()[..first].to_vec();
        let suffix = pattern.as_bytes()[last + 1..].to_vec();
        // Only `prefix*suffix` (one star, nothing else wild) is decided by the literals alone.
        let simple = first == last && pattern.as_bytes()[first] == b'*';
        self.shaped.push(Shaped { prefix, suffix, glob: (!simple).then(|| pattern.to_string()), bits });
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.shaped.is_empty()
    }

    /// The rule bits of every pattern that matches `text` as a whole.
    pub fn matches(&self, text: &[u8]) -> u64 {
        let mut bits = self.exact.get(text).copied().unwrap_or(0);
        for s in &self.shaped {
            if bits & s.bits == s.bits
                || text.len() < s.prefix.len() + s.suffix.len()
                || !text.starts_with(&s.prefix)
                || !text.ends_with(&s.suffix)
            {
                continue;
            }
            match &s.glob {
                None => bits |= s.bits,
                Some(g) => {
                    if crate::glob::matches(g, &String::from_utf8_lossy(text)) {
                        bits |= s.bits
                    }
                }
            }
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> PatternSet {
        let mut s = PatternSet::default();
        for (i, p) in patterns.iter().enumerate() {
            s.add(p, 1 << i);
        }
        s
    }

    #[test]
    fn shapes_match_like_the_glob_they_compile() {
        let patterns = [
            "Dockerfile",
            "*.pem",
            "id_rsa*",
            "/var/cache/apk/*",
            "*/.docker/config.json",
            "*/site-packages/*/tests/*",
            "[Dd]ocker-compose.y?ml",
            "*",
        ];
        let s = set(&patterns);
        let texts: &[&[u8]] = &[
            b"Dockerfile",
            b"dockerfile",
            b"Dockerfile.bak",
            b"server.pem",
            b".pem",
            b"pem",
            b"id_rsa",
            b"id_rsa.pub",
            b"xid_rsa",
            b"/var/cache/apk/APKINDEX.tar.gz",
            b"/var/cache/apk",
            b"/root/.docker/config.json",
            b"/.docker/config.json",
            b".docker/config.json",
            b"/usr/lib/python3/site-packages/foo/tests/key.pem",
            b"/usr/lib/python3/site-packages/tests",
            b"docker-compose.yml",
            b"Docker-compose.yaml",
            b"docker-compose.yaml.orig",
            b"",
            b"\xff\xfe.pem",
        ];
        for t in texts {
            let lossy = String::from_utf8_lossy(t);
            let want: u64 = patterns
                .iter()
                .enumerate()
                .filter(|(_, p)| crate::glob::matches(p, &lossy))
                .map(|(i, _)| 1u64 << i)
                .sum();
            assert_eq!(s.matches(t), want, "{lossy:?}");
        }
    }

    #[test]
    fn bits_of_one_pattern_for_several_rules_combine() {
        let mut s = PatternSet::default();
        s.add("*.key", 1);
        s.add("*.key", 4);
        s.add("tls.key", 2);
        assert_eq!(s.matches(b"tls.key"), 7);
        assert_eq!(s.matches(b"a.key"), 5);
        assert!(!s.is_empty());
    }
}
