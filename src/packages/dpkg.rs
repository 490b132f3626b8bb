//! dpkg: `/var/lib/dpkg/status` with `info/<pkg>[:<arch>].list`, and the distroless layout
//! `/var/lib/dpkg/status.d/<name>` (one package's stanza) with `status.d/<name>.md5sums`
//! (`<md5>  <path relative to />` per line). Diversions are not applied.

use super::db::{lines, shown, text, DbStatus, Ecosystem, FileSource, Package, PackageDb, MAX_FILES, MAX_TEXT_DB};
use std::collections::HashSet;

const STATUS: &[u8] = b"/var/lib/dpkg/status";
const STATUS_D: &[u8] = b"/var/lib/dpkg/status.d";
const INFO: &[u8] = b"/var/lib/dpkg/info";
/// More stanza files than any real image ships; the rest would be silently slow.
const MAX_STATUS_D: usize = 100_000;

pub fn read(files: &dyn FileSource) -> DbStatus {
    let status = match files.read_file(STATUS, MAX_TEXT_DB) {
        Ok(s) => s,
        Err(reason) => return DbStatus::Unreadable { path: shown(STATUS), reason },
    };
    let status_d = match files.list_dir(STATUS_D) {
        Ok(d) => d,
        Err(reason) => return DbStatus::Unreadable { path: shown(STATUS_D), reason },
    };
    if status.is_none() && status_d.is_none() {
        return DbStatus::Absent;
    }
    let mut packages = Vec::new();
    let mut notes = Vec::new();
    let mut total_files = 0usize;
    if let Some(data) = &status {
        for st in stanzas(data) {
            let Some(mut p) = package(&st, true) else { continue };
            match list_files(files, &p) {
                Ok(Some(f)) => p.files = f,
                // Normal for packages that install no files (virtual, metapackages).
                Ok(None) => {}
                Err(e) => notes.push(e),
            }
            total_files += p.files.len();
            if total_files > MAX_FILES {
                return DbStatus::Unreadable { path: shown(INFO), reason: too_many() };
            }
            packages.push(p);
        }
    }
    if let Some(names) = &status_d {
        if names.len() > MAX_STATUS_D {
            let reason = format!("{} entries, more than the {MAX_STATUS_D} read", names.len());
            return DbStatus::Unreadable { path: shown(STATUS_D), reason };
        }
        let mut seen: HashSet<(String, String)> = packages.iter().map(|p| (p.name.clone(), p.arch.clone())).collect();
        for name in names {
            if name.ends_with(b".md5sums") || name.starts_with(b".") {
                continue;
            }
            let path = child(STATUS_D, name);
            let data = match files.read_file(&path, MAX_TEXT_DB) {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) => {
                    notes.push(e);
                    continue;
                }
            };
            let mut sums = child(STATUS_D, name);
            sums.extend_from_slice(b".md5sums");
            let owned = match files.read_file(&sums, MAX_TEXT_DB) {
                Ok(Some(d)) => md5sums_paths(&d),
                Ok(None) => Vec::new(),
                Err(e) => {
                    notes.push(e);
                    Vec::new()
                }
            };
            for st in stanzas(&data) {
                // Distroless stanzas carry no Status: the file's presence means installed.
                let Some(mut p) = package(&st, false) else { continue };
                if !seen.insert((p.name.clone(), p.arch.clone())) {
                    continue;
                }
                p.files = owned.clone();
                total_files += p.files.len();
                if total_files > MAX_FILES {
                    return DbStatus::Unreadable { path: shown(STATUS_D), reason: too_many() };
                }
                packages.push(p);
            }
        }
    }
    DbStatus::Found(PackageDb::new(Ecosystem::Deb, packages, notes))
}

fn too_many() -> String {
    format!("the packages list more than {MAX_FILES} files")
}

fn child(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    p.push(b'/');
    p.extend_from_slice(name);
    p
}

/// One deb822 stanza: (lower-cased field name, value of its first line).
pub type Stanza<'a> = Vec<(String, &'a [u8])>;

/// Stanzas separated by blank lines; continuation lines (leading space or tab) and lines
/// without a colon are skipped: no field read here spans lines.
pub fn stanzas(data: &[u8]) -> Vec<Stanza<'_>> {
    let mut out = Vec::new();
    let mut cur: Stanza = Vec::new();
    for line in lines(data) {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        cur.push((name, trim(&line[colon + 1..])));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn field<'a>(st: &Stanza<'a>, name: &str) -> Option<&'a [u8]> {
    st.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// A stanza's package when it is installed. `Status: <want> <flag> <status>`: the package
/// is on disk when the flag is `ok` and the status `installed`, whatever is wanted
/// (`install`, `hold`, or `deinstall` not yet carried out). Config-files-only, half
/// installed or half configured packages are not listed. `need_status`: a stanza without
/// Status is skipped (status) or taken as installed (status.d).
pub fn package(st: &Stanza, need_status: bool) -> Option<Package> {
    let name = field(st, "package").filter(|n| !n.is_empty())?;
    match field(st, "status") {
        Some(s) => {
            let words: Vec<&[u8]> = s.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).collect();
            if words.len() != 3 || words[1] != b"ok" || words[2] != b"installed" {
                return None;
            }
        }
        None if need_status => return None,
        None => {}
    }
    let name = text(name);
    let version = text(field(st, "version").unwrap_or_default());
    let (source, source_version) = match field(st, "source") {
        Some(s) if !s.is_empty() => {
            let (src, ver) = parse_source(s);
            let src = (src != name).then_some(src);
            let ver = ver.filter(|v| *v != version);
            (src, ver)
        }
        _ => (None, None),
    };
    Some(Package {
        name,
        version,
        arch: text(field(st, "architecture").unwrap_or_default()),
        source,
        source_version,
        ecosystem: Ecosystem::Deb,
        files: Vec::new(),
    })
}

/// `Source: name` or `Source: name (version)`.
pub fn parse_source(s: &[u8]) -> (String, Option<String>) {
    let end = s.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(s.len());
    let rest = trim(&s[end..]);
    let ver = rest.strip_prefix(b"(").and_then(|r| r.strip_suffix(b")")).map(|v| text(trim(v)));
    (text(&s[..end]), ver.filter(|v| !v.is_empty()))
}

/// `info/<name>:<arch>.list` (Multi-Arch: same) or `info/<name>.list`.
fn list_files(files: &dyn FileSource, p: &Package) -> Result<Option<Vec<Vec<u8>>>, String> {
    // A name with '/' would reach outside info/; dpkg never allows one.
    if p.name.contains('/') || p.arch.contains('/') {
        return Ok(None);
    }
    let mut candidates = Vec::new();
    if !p.arch.is_empty() {
        candidates.push(format!("{}:{}.list", p.name, p.arch));
    }
    candidates.push(format!("{}.list", p.name));
    for c in candidates {
        if let Some(data) = files.read_file(&child(INFO, c.as_bytes()), MAX_TEXT_DB)? {
            return Ok(Some(list_paths(&data)));
        }
    }
    Ok(None)
}

/// A `.list` file: one absolute path per line; `/.` (the root) is left out.
pub fn list_paths(data: &[u8]) -> Vec<Vec<u8>> {
    lines(data).filter_map(|l| normalise(l, false)).collect()
}

/// A `.md5sums` file: `<md5>  <path relative to />` per line.
pub fn md5sums_paths(data: &[u8]) -> Vec<Vec<u8>> {
    lines(data)
        .filter_map(|l| {
            let sp = l.iter().position(|&b| b == b' ')?;
            let rest = &l[sp..];
            let start = rest.iter().position(|&b| b != b' ')?;
            normalise(&rest[start..], true)
        })
        .collect()
}

/// An absolute path without `.`-only or empty lines and without a trailing slash.
fn normalise(l: &[u8], relative: bool) -> Option<Vec<u8>> {
    let l = if relative { l.strip_prefix(b"./").unwrap_or(l) } else { l };
    let l = l.strip_prefix(b"/").unwrap_or(l);
    let mut l = l;
    while let Some(s) = l.strip_suffix(b"/") {
        l = s;
    }
    if l.is_empty() || l == b"." {
        return None;
    }
    let mut p = Vec::with_capacity(l.len() + 1);
    p.push(b'/');
    p.extend_from_slice(l);
    Some(p)
}
