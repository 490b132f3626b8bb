//! apk: `/lib/apk/db/installed`, stanzas of `X:value` lines separated by blank lines.
//! `P:` name, `V:` version, `A:` arch, `o:` origin, `F:` a directory (relative to `/`),
//! `R:` a file in the last `F:` directory.

use super::db::{lines, shown, text, DbStatus, Ecosystem, FileSource, Package, PackageDb, MAX_FILES, MAX_TEXT_DB};

const INSTALLED: &[u8] = b"/lib/apk/db/installed";

pub fn read(files: &dyn FileSource) -> DbStatus {
    match files.read_file(INSTALLED, MAX_TEXT_DB) {
        Ok(None) => DbStatus::Absent,
        Err(reason) => DbStatus::Unreadable { path: shown(INSTALLED), reason },
        Ok(Some(data)) => match parse(&data) {
            Ok(packages) => DbStatus::Found(PackageDb::new(Ecosystem::Apk, packages, Vec::new())),
            Err(reason) => DbStatus::Unreadable { path: shown(INSTALLED), reason },
        },
    }
}

/// Stanzas without `P:` are skipped; an `R:` before any `F:` is a file in `/`.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    let mut cur: Option<Package> = None;
    let mut dir: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let finish = |cur: &mut Option<Package>, out: &mut Vec<Package>| {
        if let Some(p) = cur.take().filter(|p| !p.name.is_empty()) {
            out.push(p);
        }
    };
    for line in lines(data) {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            finish(&mut cur, &mut out);
            dir.clear();
            continue;
        }
        if line.len() < 2 || line[1] != b':' {
            continue;
        }
        let value = &line[2..];
        let p = cur.get_or_insert_with(|| Package {
            name: String::new(),
            version: String::new(),
            arch: String::new(),
            source: None,
            source_version: None,
            ecosystem: Ecosystem::Apk,
            files: Vec::new(),
        });
        match line[0] {
            b'P' => p.name = text(value),
            b'V' => p.version = text(value),
            b'A' => p.arch = text(value),
            b'o' if !value.is_empty() => p.source = Some(text(value)),
            b'F' => {
                dir = absolute(value);
                if dir.len() > 1 {
                    p.files.push(dir.clone());
                    total += 1;
                }
            }
            b'R' if !value.is_empty() => {
                let mut f = if dir.is_empty() { b"/".to_vec() } else { dir.clone() };
                if f.len() > 1 {
                    f.push(b'/');
                }
                f.extend_from_slice(value);
                p.files.push(f);
                total += 1;
            }
            _ => {}
        }
        if total > MAX_FILES {
            return Err(format!("the packages list more than {MAX_FILES} files"));
        }
    }
    finish(&mut cur, &mut out);
    Ok(out)
}

fn absolute(v: &[u8]) -> Vec<u8> {
    let mut v = v.strip_prefix(b"/").unwrap_or(v);
    while let Some(s) = v.strip_suffix(b"/") {
        v = s;
    }
    let mut p = b"/".to_vec();
    p.extend_from_slice(v);
    p
}
