//! rpm: `rpmdb.sqlite` (rpm ≥ 4.16: Fedora ≥ 33, RHEL/UBI ≥ 9), the `Packages` table's
//! `blob` column holding each package's header. The older BerkeleyDB `Packages` and the
//! ndb `Packages.db` are reported as not readable, never guessed at.

use super::db::{shown, text, DbStatus, Ecosystem, FileSource, Package, PackageDb, MAX_FILES, MAX_RPMDB};
use super::sqlite::{self, Value};

/// Fedora ≥ 36 keeps the database here (and /var/lib/rpm links to it); older releases and
/// RHEL/UBI 9 in /var/lib/rpm.
const DIRS: [&[u8]; 2] = [b"/usr/lib/sysimage/rpm", b"/var/lib/rpm"];

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const ARCH: u32 = 1022;
const OLDFILENAMES: u32 = 1027;
const SOURCERPM: u32 = 1044;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;

const INT32: u32 = 4;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

/// rpm's own limits on a header (lib/header.c: hdrchkTags, hdrchkData).
const MAX_TAGS: usize = 0xffff;
const MAX_DATA: usize = 256 << 20;

pub fn read(files: &dyn FileSource) -> DbStatus {
    for dir in DIRS {
        let path = join(dir, b"rpmdb.sqlite");
        match files.read_file(&path, MAX_RPMDB) {
            Ok(None) => continue,
            Err(reason) => return DbStatus::Unreadable { path: shown(&path), reason },
            Ok(Some(data)) => {
                let mut notes = Vec::new();
                // Rows still in the write-ahead log are not in the main file.
                let wal = join(dir, b"rpmdb.sqlite-wal");
                if files.read_file(&wal, 0).is_err() {
                    notes.push(format!("{} is not empty: packages it holds are not listed", shown(&wal)));
                }
                return match parse_db(&data, &mut notes) {
                    Ok(packages) => DbStatus::Found(PackageDb::new(Ecosystem::Rpm, packages, notes)),
                    Err(reason) => DbStatus::Unreadable { path: shown(&path), reason },
                };
            }
        }
    }
    for dir in DIRS {
        for (name, kind) in [(&b"Packages"[..], "BerkeleyDB"), (b"Packages.db", "ndb")] {
            let path = join(dir, name);
            if !matches!(files.read_file(&path, 0), Ok(None)) {
                let reason = format!("package database not readable: the {kind} format is not supported");
                return DbStatus::Unreadable { path: shown(&path), reason };
            }
        }
    }
    DbStatus::Absent
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    p.push(b'/');
    p.extend_from_slice(name);
    p
}

/// Every package of an rpmdb.sqlite file. A header that cannot be parsed is a note, not
/// the end: the other packages are still listed.
pub fn parse_db(data: &[u8], notes: &mut Vec<String>) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    let mut total = 0usize;
    let mut bad = 0usize;
    sqlite::table_rows(data, "Packages", |rowid, payload| {
        if total > MAX_FILES {
            return;
        }
        let blob = match sqlite::record(payload) {
            Ok(cols) => cols.into_iter().find_map(|c| match c {
                Value::Blob(b) => Some(b),
                _ => None,
            }),
            Err(_) => None,
        };
        match blob.ok_or_else(|| "no header blob".to_string()).and_then(parse_header) {
            Ok(p) => {
                total += p.files.len();
                out.push(p);
            }
            Err(e) => {
                bad += 1;
                if bad <= 10 {
                    notes.push(format!("rpm header {rowid}: {e}"));
                }
            }
        }
    })?;
    if total > MAX_FILES {
        return Err(format!("the packages list more than {MAX_FILES} files"));
    }
    if bad > 10 {
        notes.push(format!("{bad} rpm headers could not be parsed in all"));
    }
    Ok(out)
}

struct Header<'a> {
    /// (tag, type, offset, count)
    index: Vec<(u32, u32, usize, usize)>,
    store: &'a [u8],
}

/// A header as rpmdb stores it (no magic): index length, data length, the index entries
/// (tag, type, offset, count; 16 bytes each, big-endian), then the data store.
pub fn parse_header(blob: &[u8]) -> Result<Package, String> {
    let h = Header::parse(blob)?;
    let name = h.string(NAME).filter(|s| !s.is_empty()).ok_or("no name")?;
    let version = h.string(VERSION).unwrap_or_default();
    let release = h.string(RELEASE).unwrap_or_default();
    let mut evr = String::new();
    if let Some(e) = h.int32(EPOCH) {
        evr = format!("{e}:");
    }
    evr.push_str(&version);
    if !release.is_empty() {
        evr.push('-');
        evr.push_str(&release);
    }
    Ok(Package {
        name,
        version: evr,
        arch: h.string(ARCH).unwrap_or_default(),
        source: h.string(SOURCERPM).filter(|s| !s.is_empty()),
        source_version: None,
        ecosystem: Ecosystem::Rpm,
        files: h.files()?,
    })
}

impl<'a> Header<'a> {
    fn parse(b: &'a [u8]) -> Result<Header<'a>, String> {
        let il = be32(b, 0).ok_or("short header")? as usize;
        let dl = be32(b, 4).ok_or("short header")? as usize;
        if il == 0 || il > MAX_TAGS || dl > MAX_DATA {
            return Err(format!("header sizes out of range ({il} tags, {dl} bytes)"));
        }
        let store_at = 8 + il * 16;
        let store = b.get(store_at..store_at + dl).ok_or("header shorter than it says")?;
        let mut index = Vec::with_capacity(il);
        for i in 0..il {
            let e = 8 + i * 16;
            let (tag, ty, off, count) = (be32(b, e), be32(b, e + 4), be32(b, e + 8), be32(b, e + 12));
            let (Some(tag), Some(ty), Some(off), Some(count)) = (tag, ty, off, count) else {
                return Err("short header".into());
            };
            index.push((tag, ty, off as usize, count as usize));
        }
        Ok(Header { index, store })
    }

    fn entry(&self, tag: u32) -> Option<(u32, usize, usize)> {
        self.index.iter().find(|e| e.0 == tag).map(|&(_, ty, off, count)| (ty, off, count))
    }

    /// `count` NUL-terminated strings from `off`; None when one runs past the store.
    fn strings(&self, off: usize, count: usize) -> Option<Vec<&'a [u8]>> {
        // Each string takes at least its NUL: a count beyond the store is a lie.
        if count > self.store.len() {
            return None;
        }
        let mut out = Vec::with_capacity(count);
        let mut at = off;
        for _ in 0..count {
            let rest = self.store.get(at..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            out.push(&rest[..end]);
            at += end + 1;
        }
        Some(out)
    }

    fn string(&self, tag: u32) -> Option<String> {
        match self.entry(tag)? {
            (STRING | I18NSTRING | STRING_ARRAY, off, _) => self.strings(off, 1).map(|s| text(s[0])),
            _ => None,
        }
    }

    fn string_array(&self, tag: u32) -> Result<Option<Vec<&'a [u8]>>, String> {
        match self.entry(tag) {
            None => Ok(None),
            Some((STRING_ARRAY, off, count)) => {
                self.strings(off, count).map(Some).ok_or_else(|| format!("tag {tag} runs past the header"))
            }
            Some((ty, _, _)) => Err(format!("tag {tag} has type {ty}, not a string array")),
        }
    }

    fn int32s(&self, tag: u32) -> Result<Option<Vec<u32>>, String> {
        match self.entry(tag) {
            None => Ok(None),
            Some((INT32, off, count)) => {
                let end = count.checked_mul(4).and_then(|n| n.checked_add(off));
                let b = end
                    .and_then(|e| self.store.get(off..e))
                    .ok_or_else(|| format!("tag {tag} runs past the header"))?;
                Ok(Some(b.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()))
            }
            Some((ty, _, _)) => Err(format!("tag {tag} has type {ty}, not int32")),
        }
    }

    fn int32(&self, tag: u32) -> Option<u32> {
        self.int32s(tag).ok().flatten()?.first().copied()
    }

    /// DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], or the old-style OLDFILENAMES. rpm writes
    /// absolute paths only: a relative one means a damaged header, which owns nothing.
    fn files(&self) -> Result<Vec<Vec<u8>>, String> {
        let files = self.listed_files()?;
        if files.iter().any(|f| !f.starts_with(b"/")) {
            return Err("a file path is not absolute".into());
        }
        Ok(files)
    }

    fn listed_files(&self) -> Result<Vec<Vec<u8>>, String> {
        if let Some(base) = self.string_array(BASENAMES)? {
            let dirs = self.string_array(DIRNAMES)?.ok_or("basenames without dirnames")?;
            let idx = self.int32s(DIRINDEXES)?.ok_or("basenames without dirindexes")?;
            if idx.len() != base.len() {
                return Err("dirindexes and basenames differ in length".into());
            }
            return base
                .iter()
                .zip(idx)
                .map(|(b, i)| {
                    let d = dirs.get(i as usize).ok_or("dirindex out of range")?;
                    let mut p = d.to_vec();
                    p.extend_from_slice(b);
                    Ok(p)
                })
                .collect();
        }
        Ok(self.string_array(OLDFILENAMES)?.unwrap_or_default().into_iter().map(<[u8]>::to_vec).collect())
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}
