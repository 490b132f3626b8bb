//! Small wording helpers shared by every place that writes sentences for people.

/// Text wrapped in the source (rule rationales, remediations) as one line.
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `one` when `n` is 1, else `many`: `format!("{n} file{}", plural(n, "", "s"))`.
pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A digest cut to its algorithm and 12 digits (`sha256:0123456789ab`), for tables. Counts
/// characters, not bytes: a digest read from a report or an image config may hold anything.
pub fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((algo, hex)) => format!("{algo}:{}", hex.chars().take(12).collect::<String>()),
        None => d.chars().take(12).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_plural() {
        assert_eq!(squash("  a\n   b c\n"), "a b c");
        assert_eq!(plural(1, "", "s"), "");
        assert_eq!(plural(0, "y", "ies"), "ies");
    }

    #[test]
    fn short_digest_never_splits_a_character() {
        assert_eq!(short_digest("sha256:0123456789abcdef"), "sha256:0123456789ab");
        assert_eq!(short_digest("abc"), "abc");
        assert_eq!(short_digest("sha256:ééééééééééééé"), "sha256:éééééééééééé");
        assert_eq!(short_digest("sha256:01234567890é12"), "sha256:01234567890é");
    }
}
