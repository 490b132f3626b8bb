//! Parsers for the account and OS files read from inside an image. Their input is
//! attacker-controlled: malformed lines are skipped, never fatal.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
}

/// `name:password:uid:gid:gecos:home:shell` lines; NIS `+`/`-` lines and malformed lines
/// are ignored.
pub fn parse_passwd(data: &[u8]) -> Vec<PasswdEntry> {
    lines(data)
        .filter_map(|fields| {
            if fields.len() < 4 {
                return None;
            }
            Some(PasswdEntry { name: fields[0].to_string(), uid: id(fields[2])?, gid: id(fields[3])? })
        })
        .collect()
}

/// `name:password:gid:members` lines.
pub fn parse_group(data: &[u8]) -> Vec<GroupEntry> {
    lines(data)
        .filter_map(|fields| {
            if fields.len() < 3 {
                return None;
            }
            Some(GroupEntry { name: fields[0].to_string(), gid: id(fields[2])? })
        })
        .collect()
}

fn lines(data: &[u8]) -> impl Iterator<Item = Vec<&str>> {
    data.split(|&b| b == b'\n').filter_map(|line| {
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
            return None;
        }
        let fields: Vec<&str> = line.split(':').collect();
        if fields[0].is_empty() {
            return None;
        }
        Some(fields)
    })
}

/// A numeric id as the C library reads it: decimal digits only, within u32.
pub fn id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// os-release: `KEY=value` lines with shell-style quoting. Returns (key, value) pairs.
pub fn parse_os_release(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        out.push((k.to_string(), unquote(v)));
    }
    out
}

fn unquote(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"') | (None, '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            (None, c) if c.is_whitespace() => break,
            (_, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_skips_garbage() {
        let p = parse_passwd(b"root:x:0:0:root:/root:/bin/sh\n\n# c\n+nis\nbad\napp:x:1001:0::/:/bin/false\nneg:x:-1:2\nbig:x:99999999999:1\n\xff:x:5:5\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[1], PasswdEntry { name: "app".into(), uid: 1001, gid: 0 });
    }

    #[test]
    fn group_lines() {
        let g = parse_group(b"root:x:0:\nstaff:x:50:a,b\nnogid:x:\n");
        assert_eq!(g, vec![GroupEntry { name: "root".into(), gid: 0 }, GroupEntry { name: "staff".into(), gid: 50 }]);
    }

    #[test]
    fn os_release_quoting() {
        let o =
            parse_os_release(b"NAME=\"Debian GNU/Linux\"\nVERSION_ID='12'\nID=debian\nX=\"a \\\"q\\\"\"\nbad line\n");
        assert_eq!(o[0], ("NAME".into(), "Debian GNU/Linux".into()));
        assert_eq!(o[1], ("VERSION_ID".into(), "12".into()));
        assert_eq!(o[2], ("ID".into(), "debian".into()));
        assert_eq!(o[3], ("X".into(), "a \"q\"".into()));
    }
}
