//! Parsers for the account and OS files read from inside an image. Their input is
//! attacker-controlled: malformed lines are skipped, never fatal.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub password: Password,
    pub uid: u32,
    pub gid: u32,
    /// As written: empty means /bin/sh to login(1).
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub password: Password,
}

/// What a password field says, never the hash itself (nothing here keeps or prints one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Password {
    /// No password: anyone may log in as the account without one.
    Empty,
    /// `x` in /etc/passwd: the password is in /etc/shadow.
    Shadowed,
    /// `!`, `*`, `!!`, `!*` or a hash behind `!`: no password login.
    Locked,
    /// A hash (or anything else that is not empty).
    Set,
}

impl Password {
    fn of(field: &str) -> Password {
        match field {
            "" => Password::Empty,
            "x" => Password::Shadowed,
            f if f.starts_with('!') || f.starts_with('*') => Password::Locked,
            _ => Password::Set,
        }
    }
}

/// `name:password:uid:gid:gecos:home:shell` lines; NIS `+`/`-` lines and malformed lines
/// are ignored.
pub fn parse_passwd(data: &[u8]) -> Vec<PasswdEntry> {
    lines(data)
        .filter_map(|fields| {
            if fields.len() < 4 {
                return None;
            }
            Some(PasswdEntry {
                name: fields[0].to_string(),
                password: Password::of(fields[1]),
                uid: id(fields[2])?,
                gid: id(fields[3])?,
                shell: fields.get(6).unwrap_or(&"").to_string(),
            })
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
            let members = fields.get(3).unwrap_or(&"").split(',').filter(|m| !m.is_empty()).map(String::from);
            Some(GroupEntry { name: fields[0].to_string(), gid: id(fields[2])?, members: members.collect() })
        })
        .collect()
}

/// `name:password:lastchange:min:max:warn:inactive:expire:` lines; only the name and what
/// the password field says are kept.
pub fn parse_shadow(data: &[u8]) -> Vec<ShadowEntry> {
    lines(data)
        .filter_map(|fields| {
            if fields.len() < 2 {
                return None;
            }
            Some(ShadowEntry { name: fields[0].to_string(), password: Password::of(fields[1]) })
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
        let app = PasswdEntry {
            name: "app".into(),
            password: Password::Shadowed,
            uid: 1001,
            gid: 0,
            shell: "/bin/false".into(),
        };
        assert_eq!(p[1], app);
    }

    #[test]
    fn group_lines() {
        let g = parse_group(b"root:x:0:\nstaff:x:50:a,b\nnogid:x:\nshort:x:7\n");
        let group = |name: &str, gid, members: &[&str]| GroupEntry {
            name: name.into(),
            gid,
            members: members.iter().map(|m| m.to_string()).collect(),
        };
        assert_eq!(g, vec![group("root", 0, &[]), group("staff", 50, &["a", "b"]), group("short", 7, &[])]);
    }

    #[test]
    fn shadow_keeps_what_the_password_field_says() {
        let s = parse_shadow(b"root:*:19000:0:99999:7:::\nguest::19000::::::\nold:!$6$salt$hash:1::::::\nu:$6$s$h:1::::::\nl:!!:1\nbad\n");
        let got: Vec<(&str, Password)> = s.iter().map(|e| (e.name.as_str(), e.password)).collect();
        use Password::*;
        assert_eq!(got, [("root", Locked), ("guest", Empty), ("old", Locked), ("u", Set), ("l", Locked)]);
        assert!(!format!("{s:?}").contains("$6$"), "no hash is kept");
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
