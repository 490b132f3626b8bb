//! What the secret checks share: which keys name a secret, which values look like a known
//! token, and how a secret is shown (masked: never whole). The key tokens and the token
//! formats are data (data/secret-key-tokens.txt, data/secret-token-formats.txt).

use std::collections::HashSet;
use std::sync::OnceLock;

/// A secret found in some text: what kind it is and how it may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The key it is assigned to, when there is one (`DB_PASSWORD`, `--password`).
    pub key: Option<String>,
    pub kind: &'static str,
    pub masked: String,
}

/// The kind of a secret found only because its key names one.
pub const SECRET_KEY: &str = "value of a secret-named key";

struct Format {
    kind: &'static str,
    prefix: &'static str,
    min: usize,
    max: usize,
    charset: fn(u8) -> bool,
}

struct Tables {
    tokens: HashSet<&'static str>,
    pairs: Vec<(&'static str, &'static str)>,
    not_last: HashSet<&'static str>,
    not_key: HashSet<&'static str>,
    formats: Vec<Format>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tables {
            tokens: HashSet::new(),
            pairs: Vec::new(),
            not_last: HashSet::new(),
            not_key: HashSet::new(),
            formats: Vec::new(),
        };
        for line in data_lines(include_str!("data/secret-key-tokens.txt")) {
            let w: Vec<&'static str> = line.split_whitespace().collect();
            match w[..] {
                ["token", a] => drop(t.tokens.insert(a)),
                ["pair", a, b] => t.pairs.push((a, b)),
                ["not-last", a] => drop(t.not_last.insert(a)),
                ["not-key", a] => drop(t.not_key.insert(a)),
                _ => panic!("data/secret-key-tokens.txt: bad line {line:?}"),
            }
        }
        for line in data_lines(include_str!("data/secret-token-formats.txt")) {
            let w: Vec<&'static str> = line.split_whitespace().collect();
            let [kind, prefix, min, max, charset] = w[..] else {
                panic!("data/secret-token-formats.txt: bad line {line:?}")
            };
            let charset: fn(u8) -> bool = match charset {
                "upper-digit" => |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
                "alnum" => |b| b.is_ascii_alphanumeric(),
                "word" => |b| b.is_ascii_alphanumeric() || b == b'_',
                "word-dash" => |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
                c => panic!("data/secret-token-formats.txt: unknown charset {c:?}"),
            };
            let n = |s: &str| s.parse().unwrap_or_else(|_| panic!("data/secret-token-formats.txt: {line:?}"));
            t.formats.push(Format { kind, prefix, min: n(min), max: n(max), charset });
        }
        t
    })
}

fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Whether a key names a secret: one of its whole tokens (split on `_`, `-`, `.`, any case)
/// is a secret word, or two adjacent tokens a secret pair, unless its last token says the
/// value only describes the secret (`_FILE`, `_ID`, `_FINGERPRINT`, …).
pub fn key_names_secret(key: &str) -> bool {
    let t = tables();
    let upper = key.to_ascii_uppercase();
    if t.not_key.contains(upper.as_str()) {
        return false;
    }
    let tokens: Vec<&str> = upper.split(['_', '-', '.']).filter(|s| !s.is_empty()).collect();
    match tokens.last() {
        None => return false,
        Some(last) if t.not_last.contains(last) => return false,
        Some(_) => {}
    }
    tokens.iter().any(|w| t.tokens.contains(w))
        || tokens.windows(2).any(|p| t.pairs.iter().any(|&(a, b)| p[0] == a && p[1] == b))
}

/// A value that names where the secret is rather than holding it: `$VAR`, `${VAR}`.
pub fn is_reference(value: &str) -> bool {
    value.starts_with('$')
}

/// At most a quarter of the value (never more than 4 characters), and its length.
pub fn mask(value: &str) -> String {
    let n = value.chars().count();
    let shown: String = value.chars().take((n / 4).min(4)).collect();
    format!("{}…({n} chars)", crate::escape::text(&shown))
}

/// Byte ranges of known token formats in `text`, with their kind, in order, not overlapping.
pub fn token_spans(text: &str) -> Vec<(usize, usize, &'static str)> {
    let b = text.as_bytes();
    let boundary_before = |i: usize| i == 0 || !b[i - 1].is_ascii_alphanumeric();
    let mut spans = Vec::new();
    for f in &tables().formats {
        for (i, _) in text.match_indices(f.prefix) {
            if !boundary_before(i) {
                continue;
            }
            let start = i + f.prefix.len();
            let len = b[start..].iter().take_while(|&&c| (f.charset)(c)).count();
            let end = start + len;
            if (f.min..=f.max).contains(&len) && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
                spans.push((i, end, f.kind));
            }
        }
    }
    for (i, _) in text.match_indices("-----BEGIN ") {
        if let Some(end) = pem_private_key(&text[i..]) {
            spans.push((i, i + end, "private key"));
        }
    }
    for (i, _) in text.match_indices("eyJ") {
        if boundary_before(i) {
            if let Some(len) = jwt(&b[i..]) {
                spans.push((i, i + len, "JWT"));
            }
        }
    }
    spans.sort_unstable();
    let mut out: Vec<(usize, usize, &'static str)> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.0 < last.1 => last.1 = last.1.max(s.1),
            _ => out.push(s),
        }
    }
    out
}

/// `-----BEGIN [WORDS ]PRIVATE KEY-----`, up to its END line or the end of the text: the
/// length of the block, or None if it is not a private key.
fn pem_private_key(s: &str) -> Option<usize> {
    let rest = &s["-----BEGIN ".len()..];
    let label_end = rest.find("-----").filter(|&n| n <= 64)?;
    let label = &rest[..label_end];
    if !label.ends_with("PRIVATE KEY") || !label.bytes().all(|c| c.is_ascii_uppercase() || c == b' ') {
        return None;
    }
    let end_line = format!("-----END {label}-----");
    Some(match s.find(&end_line) {
        Some(e) => e + end_line.len(),
        None => s.len(),
    })
}

/// `eyJ…` then two more non-empty base64url parts joined by '.': the token's length.
fn jwt(b: &[u8]) -> Option<usize> {
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-';
    let mut at = 0;
    for part in 0..3 {
        let len = b[at..].iter().take_while(|c| b64(c)).count();
        if len < if part == 0 { 8 } else { 1 } {
            return None;
        }
        at += len;
        if part < 2 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
    }
    (b.get(at) != Some(&b'.')).then_some(at)
}

/// The secret a key/value pair (an Env entry, a label) carries, if any.
pub fn in_assignment(key: &str, value: &str) -> Option<Secret> {
    if let Some(&(s, e, kind)) = token_spans(value).first() {
        return Some(Secret { key: Some(key.to_string()), kind, masked: mask(&value[s..e]) });
    }
    (key_names_secret(key) && !value.trim().is_empty() && !is_reference(value)).then(|| Secret {
        key: Some(key.to_string()),
        kind: SECRET_KEY,
        masked: mask(value),
    })
}

/// Secrets in free text (a history step: `ENV A=b`, `|1 TOKEN=x /bin/sh -c …`, `--password=x`):
/// every `KEY=VALUE` whose key names a secret, and every known token format.
pub fn in_text(text: &str) -> Vec<Secret> {
    let mut found: Vec<(usize, usize, Secret)> = Vec::new();
    for (s, e, kind) in token_spans(text) {
        found.push((s, e, Secret { key: None, kind, masked: mask(&text[s..e]) }));
    }
    for (key, s, e) in assignments(text) {
        let value = &text[s..e];
        if found.iter().any(|(fs, fe, _)| *fs < e && s < *fe) {
            continue;
        }
        let unquoted = value.trim_matches(['"', '\'']);
        if key_names_secret(key) && !unquoted.is_empty() && !is_reference(unquoted) {
            found.push((s, e, Secret { key: Some(key.to_string()), kind: SECRET_KEY, masked: mask(unquoted) }));
        }
    }
    found.sort_by_key(|f| f.0);
    found.into_iter().map(|(_, _, s)| s).collect()
}

/// `text` with every secret `in_text` finds replaced by its mask: what reports show of
/// history steps, labels and commands.
pub fn redact(text: &str) -> String {
    let mut spans: Vec<(usize, usize)> = token_spans(text).into_iter().map(|(s, e, _)| (s, e)).collect();
    for (key, s, e) in assignments(text) {
        let unquoted = text[s..e].trim_matches(['"', '\'']);
        if key_names_secret(key) && !unquoted.is_empty() && !is_reference(unquoted) {
            spans.push((s, e));
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in spans {
        if s < at {
            at = at.max(e);
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(&mask(text[s..e].trim_matches(['"', '\''])));
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

/// A label's value as reports show it: masked when the label carries a secret.
pub fn redact_value(key: &str, value: &str) -> String {
    match in_assignment(key, value) {
        Some(s) if s.kind == SECRET_KEY => s.masked,
        _ => redact(value),
    }
}

/// `KEY=VALUE` assignments in shell-like text: (key, value start, value end), the value
/// with its quotes. A key is a run of `[A-Za-z0-9_.-]` starting the text or after a
/// character outside that set.
fn assignments(text: &str) -> Vec<(&str, usize, usize)> {
    let b = text.as_bytes();
    let key_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-');
    let mut out = Vec::new();
    for (eq, _) in text.match_indices('=') {
        let start = b[..eq].iter().rposition(|&c| !key_char(c)).map_or(0, |i| i + 1);
        if start == eq || b.get(eq + 1) == Some(&b'=') || (eq > 0 && b[eq - 1] == b'=') {
            continue;
        }
        let vs = eq + 1;
        let ve = match b.get(vs) {
            Some(&q @ (b'"' | b'\'')) => {
                let mut i = vs + 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' && q == b'"' { 2 } else { 1 };
                }
                (i + 1).min(b.len())
            }
            _ => vs + b[vs..].iter().take_while(|c| !c.is_ascii_whitespace() && !b";&|`".contains(c)).count(),
        };
        if ve > vs {
            out.push((&text[start..eq], vs, ve));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_split_into_whole_tokens() {
        for k in [
            "DB_PASSWORD",
            "db_passwd",
            "SMTP_PASS",
            "client-secret",
            "api.token",
            "APIKEY",
            "GOOGLE_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "x.private.key",
            "AUTH_KEY",
            "REGISTRY_CREDENTIALS",
            "--password",
        ] {
            assert!(key_names_secret(k), "{k} names a secret");
        }
        for k in [
            "MONKEY",
            "GPG_KEY",
            "PWD",
            "AUTH_URL",
            "DB_PASSWORD_FILE",
            "AWS_ACCESS_KEY_ID",
            "SIGNING_KEY_FINGERPRINT",
            "BYPASS",
            "PASSENGER_ENV",
            "TOKENIZER",
            "KEY",
            "PATH",
            "",
            "_",
        ] {
            assert!(!key_names_secret(k), "{k} does not name a secret");
        }
    }

    #[test]
    fn assignments_need_a_real_value() {
        assert_eq!(in_assignment("DB_PASSWORD", "hunter2hunter2").unwrap().kind, SECRET_KEY);
        assert!(in_assignment("DB_PASSWORD", "").is_none());
        assert!(in_assignment("DB_PASSWORD", "$DB_PASS").is_none(), "a reference");
        assert!(in_assignment("DB_PASSWORD", "${DB_PASS}").is_none());
        assert!(in_assignment("DB_PASSWORD_FILE", "/run/secrets/db").is_none());
        assert!(in_assignment("PWD", "/app").is_none());
        assert!(in_assignment("GPG_KEY", "A4A9406876FCBD3C456770C88C718D3B5072E1F5").is_none());
        let s = in_assignment("NOTHING_SECRET_LOOKING_HERE_X", "v").unwrap();
        assert_eq!(s.kind, SECRET_KEY, "SECRET is a token of that key");
        let s = in_assignment("SOME_VALUE", "AKIAIOSFODNN7EXAMPLE").unwrap();
        assert_eq!(s.kind, "aws-access-key-id", "a known format under any key");
    }

    #[test]
    fn the_token_format_table() {
        let pem =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----";
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let cases: &[(&str, Option<&str>)] = &[
            ("AKIAIOSFODNN7EXAMPLE", Some("aws-access-key-id")),
            ("ASIAIOSFODNN7EXAMPLE", Some("aws-access-key-id")),
            ("AKIAIOSFODNN7EXAMPL", None),
            ("AKIAIOSFODNN7EXAMPLEX", None),
            ("xAKIAIOSFODNN7EXAMPLE", None),
            ("ghp_0123456789abcdefghijABCDEFGHIJ012345", Some("github-token")),
            ("gho_0123456789abcdefghijABCDEFGHIJ012345", Some("github-token")),
            ("ghs_0123456789abcdefghijABCDEFGHIJ012345", Some("github-token")),
            ("ghp_short", None),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", Some("github-token")),
            ("glpat-abcdefghij0123456789", Some("gitlab-token")),
            ("glpat-short", None),
            ("xoxb-1234567890-abcdefghij", Some("slack-token")),
            ("xoxp-1234567890-abcdefghij", Some("slack-token")),
            ("xoxc-1234567890-abcdefghij", None),
            (pem, Some("private key")),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", None),
            ("-----BEGIN PUBLIC KEY-----", None),
            (jwt, Some("JWT")),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", None),
            ("eyJhbGciOiJIUzI1NiJ9.eyJ.x.y", None),
            ("hello world", None),
        ];
        for &(text, want) in cases {
            let got = token_spans(text);
            assert_eq!(got.first().map(|s| s.2), want, "{text}");
            if want.is_some() {
                assert_eq!((got[0].0, got[0].1), (0, text.len()), "{text}: the whole token");
                let embedded = format!("export X={text}; echo ok");
                assert_eq!(token_spans(&embedded).first().map(|s| s.2), want, "{embedded}");
            }
        }
    }

    #[test]
    fn masks_never_show_a_secret() {
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "AKIA…(20 chars)");
        assert_eq!(mask("hunter2"), "h…(7 chars)");
        assert_eq!(mask("abc"), "…(3 chars)");
        assert_eq!(mask("\x1b[31mAAAAAAAAAAAAAAAAAAAA"), "\\x1b[31…(25 chars)");
    }

    #[test]
    fn history_text_is_redacted() {
        let step = r#"|2 TOKEN=s3cr3t-arg-value NPM_CONFIG=x /bin/sh -c curl -H "x" --password="p4ss w0rd" $URL ghp_0123456789abcdefghijABCDEFGHIJ012345 && echo DB_PASSWORD=$DB_PASS"#;
        let found = in_text(step);
        let kinds: Vec<(Option<&str>, &str)> = found.iter().map(|s| (s.key.as_deref(), s.kind)).collect();
        assert_eq!(kinds, [(Some("TOKEN"), SECRET_KEY), (Some("--password"), SECRET_KEY), (None, "github-token")]);
        let r = redact(step);
        for raw in ["s3cr3t-arg-value", "p4ss w0rd", "ghp_0123456789abcdefghij"] {
            assert!(!r.contains(raw), "{raw} in {r}");
        }
        assert!(r.contains("TOKEN=s3cr…(16 chars)") && r.contains("NPM_CONFIG=x") && r.contains("$DB_PASS"), "{r}");
        assert_eq!(redact("/bin/sh -c #(nop) ENV PWD=/app"), "/bin/sh -c #(nop) ENV PWD=/app");
        assert_eq!(redact_value("api.token", "abcdefgh"), "ab…(8 chars)");
        assert_eq!(redact_value("version", "1.0"), "1.0");
    }
}
