//! `--platform os/arch[/variant]`: which manifest of a multi-arch image to scan.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Platform, String> {
        let bad =
            || format!("invalid platform {s:?}: expected os/arch or os/arch/variant, e.g. linux/arm64 or linux/arm/v7");
        let parts: Vec<&str> = s.trim().split('/').collect();
        let ok = |p: &str| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(bad());
        }
        Ok(Platform { os: parts[0].into(), arch: parts[1].into(), variant: parts.get(2).map(|v| v.to_string()) })
    }

    /// Whether an image with this os/architecture/variant is what was asked for. A variant
    /// is compared only when both sides name one (linux/arm64 matches arm64/v8).
    pub fn matches(&self, os: &str, arch: &str, variant: &str) -> bool {
        self.os == os
            && self.arch == arch
            && match (&self.variant, variant) {
                (Some(want), have) if !have.is_empty() => want == have,
                _ => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// How an image describes its own platform, for messages.
pub fn describe(os: &str, arch: &str, variant: &str) -> String {
    let mut s = format!("{}/{}", if os.is_empty() { "?" } else { os }, if arch.is_empty() { "?" } else { arch });
    if !variant.is_empty() {
        s.push('/');
        s.push_str(variant);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert!(p.matches("linux", "arm64", "v8"));
        assert!(p.matches("linux", "arm64", ""));
        assert!(!p.matches("linux", "amd64", ""));
        let p = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert!(!p.matches("linux", "arm", "v6"));
        for bad in ["", "linux", "linux/", "/arm64", "Linux/arm64", "linux/arm/v7/x", "linux/arm 64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }
}
