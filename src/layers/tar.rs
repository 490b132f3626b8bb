//! One layer blob (gzip, zstd or plain tar) read as a stream, once, into the same
//! `LayerScan` a walk of the unpacked layer directory gives, so the overlay merge and every
//! check are shared code. Nothing is written to disk: file data is skipped, except the few
//! small files a caller asks to capture.
//!
//! The tar is read the way the runtimes that unpack layers read it (Go's `archive/tar`
//! under containers/storage, containerd and Docker): ustar, GNU and PAX headers, GNU long
//! names and links, old GNU and PAX sparse files, the size of header-only types (links,
//! directories, devices, fifos) ignored, `.wh.` whiteouts, and a later entry for a path
//! replacing an earlier one. Every buffer is bounded: extension headers like Go's (1 MiB),
//! paths like Linux (PATH_MAX), and what the layer may hold in memory by the bytes read.
//! Anything the reader cannot decide becomes a message in `scan.errors`, with the entries
//! read so far kept: the checks that need files are then `error`, never `pass`.

use super::entry::{path_hash, Classify, Entry, LayerScan, NO_PARENT};
use super::overlay::HashTable;
use super::walk::{OPAQUE_XATTRS, WH_META_PREFIX, WH_OPAQUE, WH_PREFIX};
use crate::model::EntryKind;
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read};

/// How a layer blob is compressed, as its manifest declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// OCI and Docker schema 2 layer media types (non-distributable and foreign ones too:
    /// they are tar layers all the same). Anything else is not a layer this reader knows.
    pub fn from_media_type(media_type: &str) -> Result<Compression, String> {
        let t = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match t.as_str() {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar" => Ok(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Ok(Compression::Zstd),
            _ => Err(format!("unknown layer media type {:?}", crate::escape::text(media_type))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Default)]
pub struct TarLayer {
    pub scan: LayerScan,
    /// Content of the regular files `capture` selected, at most `max_capture` bytes each, by absolute path.
    pub captured: HashMap<Box<[u8]>, Vec<u8>>,
    /// Hard links: link path -> target path (both absolute), so a later content read can follow them.
    /// The target is the regular file that carried the data (chains of links are followed).
    pub hardlinks: HashMap<Box<[u8]>, Box<[u8]>>,
    /// Selected files not kept because the layer's captured content reached MAX_CAPTURED.
    pub over_budget: HashSet<Box<[u8]>>,
    /// Bytes of the uncompressed tar stream (the layer's size as an image store counts it).
    pub tar_bytes: u64,
}

impl TarLayer {
    /// A layer that could not be read at all: no entries, one error.
    pub fn failed(error: String) -> TarLayer {
        TarLayer {
            scan: LayerScan { errors: vec![error], ..LayerScan::default() },
            captured: HashMap::new(),
            hardlinks: HashMap::new(),
            over_budget: HashSet::new(),
            tar_bytes: 0,
        }
    }

    /// The path whose data in the layer is the content of `path`: its hard link target if
    /// it is a hard link, itself otherwise. What to pass to `read_file`.
    pub fn content_path<'a>(&'a self, path: &'a [u8]) -> &'a [u8] {
        self.hardlinks.get(path).map_or(path, |t| &t[..])
    }
}

/// Read one layer blob: its entries as a walk of the unpacked layer would give them, the
/// content of the regular files `capture` selects (absolute paths; at most `max_capture`
/// bytes each), and its hard links. Never fails: what cannot be read is in `scan.errors`.
pub fn read_layer(
    input: impl Read,
    compression: Compression,
    classifier: &dyn Classify,
    capture: &dyn Fn(&[u8]) -> bool,
    max_capture: u64,
) -> TarLayer {
    let mut b = Builder::new(capture, max_capture);
    run(input, compression, &mut b);
    b.finish(classifier)
}

/// Re-stream a layer and return one regular file's content (following a hard link to its
/// target inside the layer); Ok(None) if absent; Err if larger than `limit`, unreadable or
/// not a regular file.
///
/// A hard link's data travels with its target, earlier in the stream than the link, so a
/// single pass can only return it when asked for the target: pass
/// `TarLayer::content_path(path)`. Asked for the link itself, the answer is an Err naming
/// the target. A whiteout is an absent file; any error in the stream is an Err, since a
/// later entry could have replaced the file.
pub fn read_file(
    input: impl Read,
    compression: Compression,
    path: &[u8],
    limit: u64,
) -> Result<Option<Vec<u8>>, String> {
    let shown = crate::escape::bytes(path);
    let want = match normalise(path) {
        Ok(p) if &p[..] != b"/" => p,
        _ => return Err(format!("{shown} is not a regular file path")),
    };
    let select = |p: &[u8]| p == &want[..];
    let mut b = Builder::new(&select, limit);
    run(input, compression, &mut b);
    if let Some(e) = b.errors.first() {
        let more = b.errors.len() - 1;
        let more = if more > 0 { format!(" (and {more} more errors)") } else { String::new() };
        return Err(format!("cannot read {shown}: the layer is unreadable: {e}{more}"));
    }
    let Some(i) = b.index.get(path_hash(&want), &want, &b.entries) else {
        return Ok(None);
    };
    let e = &b.entries[i as usize];
    match e.kind {
        EntryKind::Whiteout => Ok(None),
        EntryKind::File => {
            if let Some(content) = b.captured.remove(&want) {
                Ok(Some(content))
            } else if let Some(t) = b.hardlinks.get(&want) {
                Err(format!(
                    "{shown} is a hard link to {}, whose data the layer carries under that path",
                    crate::escape::bytes(t)
                ))
            } else if b.sparse.contains(&i) {
                Err(format!("{shown} is a sparse file in the layer tar, whose content is not read"))
            } else {
                Err(format!("{shown} is {} bytes, more than the {limit} this check reads", e.size))
            }
        }
        _ => Err(format!("{shown} is not a regular file in the layer")),
    }
}

/// Extension headers (PAX records, GNU long names) larger than this are refused, as Go's
/// archive/tar refuses them.
const MAX_SPECIAL: u64 = 1 << 20;
/// Linux's PATH_MAX: a longer path cannot be created when the layer is unpacked.
const MAX_PATH: usize = 4096;
/// What the layer's entries may hold in memory: this much, plus one byte per byte of tar
/// read (real layers hold a few percent of that), never more than MAX_HELD.
const HELD_BASE: u64 = 64 << 20;
const MAX_HELD: u64 = 1 << 30;
/// The most file content one layer keeps: an image with 100k selected files (say `*.pem`)
/// must not hold them all; what does not fit is recorded, so reading it is an error.
pub const MAX_CAPTURED: u64 = 64 << 20;
/// Memory counted per entry besides its path and link.
const ENTRY_COST: u64 = 128;

fn run(input: impl Read, compression: Compression, b: &mut Builder) {
    match Stream::open(input, compression) {
        Ok(mut st) => {
            if let Err(e) = parse(&mut st, b) {
                b.errors.push(e);
            }
            // The whole uncompressed stream (parse reads past the end-of-archive blocks).
            b.tar_bytes = st.pos;
        }
        Err(e) => b.errors.push(e),
    }
}

// ---------------------------------------------------------------------------------------
// The byte stream: decompression, blocks, skipping.
// ---------------------------------------------------------------------------------------

/// Names the decompressor in its errors.
struct Labeled<R> {
    inner: R,
    what: &'static str,
}

impl<R: Read> Read for Labeled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let msg = match e.kind() {
                io::ErrorKind::UnexpectedEof => "the compressed stream is truncated".to_string(),
                _ => e.to_string(),
            };
            io::Error::new(e.kind(), format!("bad {} stream: {msg}", self.what))
        })
    }
}

struct Stream<'a> {
    r: Box<dyn BufRead + 'a>,
    /// Bytes of tar read so far.
    pos: u64,
    /// Said when the first header is not a tar header.
    hint: String,
}

impl<'a> Stream<'a> {
    /// The compression is decided by the blob's magic bytes, as containers/storage and
    /// containerd decide it when they unpack a layer (a docker-archive declares
    /// `tar.gzip` for plain tar layers); the declared one only explains errors.
    fn open(mut input: impl Read + 'a, declared: Compression) -> Result<Stream<'a>, String> {
        let mut head = [0u8; 6];
        let mut n = 0;
        while n < head.len() {
            match input.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read the layer blob: {e}")),
            }
        }
        if n == 0 {
            return Err("the layer blob is empty".into());
        }
        let seen = &head[..n];
        let raw = io::Cursor::new(head).take(n as u64).chain(input);
        let found = if seen.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if seen.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if seen == [0xfd, b'7', b'z', b'X', b'Z', 0] {
            return Err("the layer blob is xz-compressed, which this reader does not decompress".into());
        } else {
            Compression::None
        };
        let hint = if found == declared {
            String::new()
        } else {
            format!(" (the manifest declares {}, the blob is {})", declared.name(), found.name())
        };
        let r: Box<dyn BufRead + 'a> = match found {
            Compression::None => Box::new(BufReader::with_capacity(128 << 10, raw)),
            Compression::Gzip => {
                // Several members one after the other are one stream, as Go's gzip reads them.
                let d = flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(64 << 10, raw));
                Box::new(BufReader::with_capacity(128 << 10, Labeled { inner: d, what: "gzip" }))
            }
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(64 << 10, raw))
                    .map_err(|e| format!("cannot start the zstd decoder: {e}"))?;
                // Frames may ask for windows of up to 3.75 TB; the zstd tool refuses more
                // than 128 MiB unless told otherwise, and so does this reader.
                d.window_log_max(27).map_err(|e| format!("cannot start the zstd decoder: {e}"))?;
                Box::new(BufReader::with_capacity(128 << 10, Labeled { inner: d, what: "zstd" }))
            }
        };
        Ok(Stream { r, pos: 0, hint })
    }

    fn fail(&self, e: io::Error) -> String {
        format!("{e} (at byte {} of the tar stream)", self.pos)
    }

    fn truncated(&self) -> String {
        format!("the tar stream is truncated at byte {}", self.pos)
    }

    /// The next 512-byte block; false at the very end of the stream.
    fn block(&mut self, out: &mut [u8; 512]) -> Result<bool, String> {
        let mut got = 0;
        while got < 512 {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e)),
            };
            if buf.is_empty() {
                if got == 0 {
                    return Ok(false);
                }
                return Err(self.truncated());
            }
            let k = buf.len().min(512 - got);
            out[got..got + k].copy_from_slice(&buf[..k]);
            self.r.consume(k);
            got += k;
            self.pos += k as u64;
        }
        Ok(true)
    }

    fn skip(&mut self, mut n: u64) -> Result<(), String> {
        while n > 0 {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e)),
            };
            if buf.is_empty() {
                return Err(self.truncated());
            }
            let k = (buf.len() as u64).min(n) as usize;
            self.r.consume(k);
            self.pos += k as u64;
            n -= k as u64;
        }
        Ok(())
    }

    /// Append exactly `n` bytes to `out` (the caller bounds `n`).
    fn read_into(&mut self, out: &mut Vec<u8>, mut n: usize) -> Result<(), String> {
        // Grown as data comes: a size field is no promise that the data is there.
        out.reserve(n.min(1 << 20));
        while n > 0 {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e)),
            };
            if buf.is_empty() {
                return Err(self.truncated());
            }
            let k = buf.len().min(n);
            out.extend_from_slice(&buf[..k]);
            self.r.consume(k);
            self.pos += k as u64;
            n -= k;
        }
        Ok(())
    }

    /// Read what follows the end of the archive, so the decompressor checks its trailer
    /// (gzip CRC and length, zstd checksum) and any further members.
    fn drain(&mut self) -> Result<(), String> {
        loop {
            let k = match self.r.fill_buf() {
                Ok(b) => b.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e)),
            };
            if k == 0 {
                return Ok(());
            }
            self.r.consume(k);
            self.pos += k as u64;
        }
    }
}

/// Data of `n` bytes followed by its padding to a whole block.
fn padded(n: u64) -> Option<u64> {
    n.checked_add(511).map(|x| x & !511)
}

// ---------------------------------------------------------------------------------------
// Headers.
// ---------------------------------------------------------------------------------------

/// The bytes of a NUL-terminated field.
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// A numeric header field as Go's archive/tar reads it: octal (spaces and NULs around it
/// ignored) or, with the high bit of the first byte set, base-256. None when malformed or
/// negative.
fn numeric(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|&c| c & 0x80 != 0) {
        if f[0] & 0x40 != 0 {
            return None;
        }
        let mut v = u64::from(f[0] & 0x3f);
        for &c in &f[1..] {
            if v > u64::MAX >> 8 {
                return None;
            }
            v = v << 8 | u64::from(c);
        }
        return (v <= i64::MAX as u64).then_some(v);
    }
    octal(f)
}

fn octal(f: &[u8]) -> Option<u64> {
    let start = f.iter().position(|&c| c != b' ' && c != 0).unwrap_or(f.len());
    let end = f.iter().rposition(|&c| c != b' ' && c != 0).map_or(start, |i| i + 1);
    let digits = cstr(&f[start..end.max(start)]);
    let mut v: u64 = 0;
    for &c in digits {
        if !(b'0'..=b'7').contains(&c) || v > u64::MAX >> 3 {
            return None;
        }
        v = v << 3 | u64::from(c - b'0');
    }
    Some(v)
}

fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &c| acc.checked_mul(10)?.checked_add(u64::from(c - b'0')))
}

/// The stored checksum matches the unsigned or (historic tars) the signed byte sum.
fn checksum_ok(b: &[u8; 512]) -> bool {
    let Some(stored) = octal(&b[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &c) in b.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += u64::from(c);
        signed += i64::from(c as i8);
    }
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

/// A byte string an extension header may set; the buffer is kept from entry to entry.
#[derive(Default)]
struct Field {
    set: bool,
    buf: Vec<u8>,
}

impl Field {
    fn get(&self) -> Option<&[u8]> {
        self.set.then_some(&self.buf[..])
    }

    fn put(&mut self, v: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(v);
        self.set = true;
    }
}

/// What extension headers (PAX `x`, GNU `L`/`K`) say about the entry that follows.
#[derive(Default)]
struct Ext {
    pending: bool,
    long_name: Field,
    long_link: Field,
    path: Field,
    linkpath: Field,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    /// A negative uid/gid (chown would take -1 as "unchanged": the file would stay root's).
    bad_owner: bool,
    /// A path or link with a NUL byte (Go's archive/tar refuses the header).
    nul: bool,
    sparse: bool,
    sparse_name: Field,
    sparse_size: Option<u64>,
    opaque: bool,
    capability: Field,
}

impl Ext {
    /// Forget the values, keep the buffers.
    fn reset(&mut self) {
        if !self.pending {
            return;
        }
        for f in [
            &mut self.long_name,
            &mut self.long_link,
            &mut self.path,
            &mut self.linkpath,
            &mut self.sparse_name,
            &mut self.capability,
        ] {
            f.set = false;
        }
        self.pending = false;
        self.size = None;
        self.uid = None;
        self.gid = None;
        self.bad_owner = false;
        self.nul = false;
        self.sparse = false;
        self.sparse_size = None;
        self.opaque = false;
    }
}

/// Parse PAX records (`LEN KEY=VALUE\n`) into `ext`; Go's rules: a malformed record
/// makes the header unreadable.
fn parse_pax(mut data: &[u8], ext: &mut Ext) -> Result<(), String> {
    while !data.is_empty() {
        let bad = || "malformed PAX record".to_string();
        let sp = data.iter().take(20).position(|&c| c == b' ').ok_or_else(bad)?;
        let len = decimal(&data[..sp]).ok_or_else(bad)? as usize;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let rec = &data[sp + 1..len - 1];
        data = &data[len..];
        let eq = rec.iter().position(|&c| c == b'=').ok_or_else(bad)?;
        let (key, value) = (&rec[..eq], &rec[eq + 1..]);
        if key.is_empty() || key.contains(&0) {
            return Err(bad());
        }
        let number =
            |v: &[u8]| decimal(v).ok_or_else(|| format!("malformed PAX {} record", String::from_utf8_lossy(key)));
        match key {
            b"path" => {
                ext.nul |= value.contains(&0);
                ext.path.put(value);
            }
            b"linkpath" => {
                ext.nul |= value.contains(&0);
                ext.linkpath.put(value);
            }
            b"size" => ext.size = Some(number(value)?),
            b"uid" | b"gid" => {
                // Go reads them as signed: -1 would leave the owner unchanged (root).
                let n = match value.strip_prefix(b"-") {
                    Some(v) => {
                        number(v)?;
                        ext.bad_owner = true;
                        0
                    }
                    None => number(value)?,
                };
                if key == b"uid" {
                    ext.uid = Some(n);
                } else {
                    ext.gid = Some(n);
                }
            }
            b"GNU.sparse.name" => {
                ext.sparse = true;
                ext.nul |= value.contains(&0);
                ext.sparse_name.put(value);
            }
            b"GNU.sparse.size" | b"GNU.sparse.realsize" => {
                ext.sparse = true;
                ext.sparse_size = Some(number(value)?);
            }
            k if k.starts_with(b"GNU.sparse.") => ext.sparse = true,
            k => {
                if let Some(attr) = k.strip_prefix(b"SCHILY.xattr.") {
                    if attr == b"security.capability" {
                        ext.capability.put(value);
                    } else if OPAQUE_XATTRS.iter().any(|o| &o[..o.len() - 1] == attr) {
                        ext.opaque = value == b"y";
                    }
                }
            }
        }
    }
    Ok(())
}

/// What one tar entry says, extensions applied.
struct Fields<'a> {
    name: &'a [u8],
    link: &'a [u8],
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    /// Apparent size (a sparse file's real size).
    size: u64,
    /// A character device 0/0: an overlay whiteout.
    null_device: bool,
    sparse: bool,
    opaque: bool,
    capability: Option<&'a [u8]>,
}

/// Header-only types carry no data whatever their size field says (Go's archive/tar).
fn header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

fn parse(st: &mut Stream, b: &mut Builder) -> Result<(), String> {
    let mut block = [0u8; 512];
    let mut ext = Ext::default();
    let mut special = Vec::new();
    let mut name_buf = Vec::new();
    loop {
        let at = st.pos;
        if !st.block(&mut block)? {
            if at == 0 {
                return Err(format!("the layer holds no tar header{}", st.hint));
            }
            return Err(format!("the tar stream ends at byte {at} without its end-of-archive blocks (truncated?)"));
        }
        if block.iter().all(|&c| c == 0) {
            let mut next = [0u8; 512];
            if st.block(&mut next)? && next.iter().any(|&c| c != 0) {
                return Err(format!("a zero block at byte {at} of the tar stream is followed by data"));
            }
            if ext.pending {
                return Err(format!("an extension header at the end of the tar stream (byte {at}) has no entry"));
            }
            return st.drain();
        }
        if !checksum_ok(&block) {
            let hint = if at == 0 { &st.hint[..] } else { "" };
            return Err(format!("bad tar header checksum at byte {at} of the tar stream{hint}"));
        }
        let typeflag = block[156];
        let hsize =
            numeric(&block[124..136]).ok_or_else(|| format!("bad size field in the tar header at byte {at}"))?;
        let data = if header_only(typeflag) { 0 } else { hsize };
        match typeflag {
            b'x' | b'L' | b'K' => {
                if data > MAX_SPECIAL {
                    return Err(format!(
                        "an extension header of {data} bytes at byte {at} of the tar stream \
                         (the limit is {MAX_SPECIAL})"
                    ));
                }
                special.clear();
                st.read_into(&mut special, data as usize)?;
                st.skip(padded(data).unwrap_or(0) - data)?;
                ext.pending = true;
                match typeflag {
                    b'x' => parse_pax(&special, &mut ext).map_err(|e| format!("{e} at byte {at} of the tar stream"))?,
                    b'L' => ext.long_name.put(cstr(&special)),
                    _ => ext.long_link.put(cstr(&special)),
                }
                continue;
            }
            b'g' => {
                // Global PAX headers: Go's reader hands them over and the runtimes ignore them.
                st.skip(padded(data).ok_or_else(|| format!("bad size field at byte {at}"))?)?;
                continue;
            }
            _ => {}
        }
        entry(st, b, &block, &ext, &mut name_buf, at)?;
        ext.reset();
    }
}

/// One entry header (extensions already read): place it, then capture or skip its data.
fn entry(
    st: &mut Stream,
    b: &mut Builder,
    block: &[u8; 512],
    ext: &Ext,
    name_buf: &mut Vec<u8>,
    at: u64,
) -> Result<(), String> {
    let typeflag = block[156];
    let field = |r: std::ops::Range<usize>, what: &str| {
        numeric(&block[r]).ok_or_else(|| format!("bad {what} field in the tar header at byte {at}"))
    };
    let ustar = &block[257..263] == b"ustar\0" && &block[263..265] == b"00";
    let gnu = &block[257..263] == b"ustar " && &block[263..265] == b" \0";
    let hsize = field(124..136, "size")?;
    let mut data = ext.size.unwrap_or(hsize);
    // Go's precedence: a GNU long name over a PAX path over the header's own.
    let name: &[u8] = if let Some(n) = ext.sparse_name.get().or(ext.long_name.get()).or(ext.path.get()) {
        n
    } else {
        let own = cstr(&block[..100]);
        let prefix = if ustar {
            // star archives keep timestamps in the prefix's tail.
            cstr(if &block[508..512] == b"tar\0" { &block[345..476] } else { &block[345..500] })
        } else {
            &[]
        };
        if prefix.is_empty() {
            own
        } else {
            name_buf.clear();
            name_buf.extend_from_slice(prefix);
            name_buf.push(b'/');
            name_buf.extend_from_slice(own);
            name_buf
        }
    };
    let link: &[u8] = ext.long_link.get().or(ext.linkpath.get()).unwrap_or(cstr(&block[157..257]));
    let mode = (field(100..108, "mode")? & 0o7777) as u32;
    let uid = match ext.uid {
        Some(u) => u,
        None => field(108..116, "uid")?,
    };
    let gid = match ext.gid {
        Some(g) => g,
        None => field(116..124, "gid")?,
    };
    // Old archives mark directories with a trailing slash on a plain file type.
    if header_only(typeflag) || (typeflag == 0 && name.ends_with(b"/")) {
        data = 0;
    }
    let mut null_device = false;
    if typeflag == b'3' && (ustar || gnu) {
        null_device = field(329..337, "device major")? == 0 && field(337..345, "device minor")? == 0;
    }
    let mut sparse = ext.sparse;
    let mut size = data;
    if typeflag == b'S' {
        // Old GNU sparse: the real size is in the header; the map may go on in extension
        // blocks, which come before the data and are not counted in its size.
        sparse = true;
        size = field(483..495, "sparse real size")?;
        let mut more = block[482] != 0;
        let mut eb = [0u8; 512];
        while more {
            if !st.block(&mut eb)? {
                return Err(st.truncated());
            }
            more = eb[504] != 0;
        }
    } else if sparse {
        size = ext.sparse_size.unwrap_or(data);
    }
    let f = Fields {
        name,
        link,
        typeflag,
        mode,
        uid,
        gid,
        size,
        null_device,
        sparse,
        opaque: ext.opaque,
        capability: ext.capability.get(),
    };
    b.consumed = st.pos;
    let capture = if ext.nul {
        b.errors.push(format!(
            "tar entry {} at byte {at}: a path with a NUL byte cannot be unpacked",
            crate::escape::bytes(name)
        ));
        None
    } else if ext.bad_owner {
        b.errors.push(format!("tar entry {} at byte {at}: negative uid or gid", crate::escape::bytes(name)));
        None
    } else {
        match b.place(&f) {
            Ok(c) => c,
            Err(Fail::Entry(m)) => {
                b.errors.push(format!("{m} (at byte {at} of the tar stream)"));
                None
            }
            Err(Fail::Fatal(m)) => return Err(m),
        }
    };
    let total = padded(data).ok_or_else(|| format!("bad size field in the tar header at byte {at}"))?;
    match capture {
        Some(i) => {
            let mut content = Vec::new();
            // place() captures only files of at most max_capture bytes.
            st.read_into(&mut content, data as usize)?;
            st.skip(total - data)?;
            if let Err(Fail::Fatal(m) | Fail::Entry(m)) = b.charge(data) {
                return Err(m);
            }
            let path = b.entries[i as usize].path.clone();
            b.captured.insert(path, content);
        }
        None => st.skip(total)?,
    }
    Ok(())
}

/// `./a//b/../c/` → `/a/c`: absolute, `.` and empty components dropped, `..` applied
/// lexically (as the runtimes join a tar name to the layer root). Err when it would go
/// above the root.
fn normalise(p: &[u8]) -> Result<Box<[u8]>, String> {
    let mut out = Vec::with_capacity(p.len() + 1);
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => match out.iter().rposition(|&b| b == b'/') {
                Some(i) => out.truncate(i),
                None => return Err(format!("{} goes above the image root", crate::escape::bytes(p))),
            },
            c => {
                out.push(b'/');
                out.extend_from_slice(c);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(out.into_boxed_slice())
}

// ---------------------------------------------------------------------------------------
// Entries.
// ---------------------------------------------------------------------------------------

enum Fail {
    /// This entry is skipped; the stream goes on.
    Entry(String),
    /// The layer cannot be read further.
    Fatal(String),
}

/// Path → entry index, keyed by `path_hash` (a keyed hash: collisions cost a second probe,
/// never a wrong answer). Only live entries are in it.
#[derive(Default)]
struct PathMap {
    first: HashTable<u32>,
    more: HashTable<Vec<u32>>,
}

impl PathMap {
    fn get(&self, h: u64, path: &[u8], entries: &[Entry]) -> Option<u32> {
        let &i = self.first.get(&h)?;
        if &entries[i as usize].path[..] == path {
            return Some(i);
        }
        self.more.get(&h)?.iter().copied().find(|&i| &entries[i as usize].path[..] == path)
    }

    fn insert(&mut self, h: u64, i: u32) {
        match self.first.entry(h) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.more.entry(h).or_default().push(i),
        }
    }

    fn remove(&mut self, h: u64, i: u32) {
        if self.first.get(&h) == Some(&i) {
            match self.more.get_mut(&h) {
                Some(v) => {
                    let j = v.pop().unwrap_or(i);
                    if v.is_empty() {
                        self.more.remove(&h);
                    }
                    self.first.insert(h, j);
                }
                None => {
                    self.first.remove(&h);
                }
            }
        } else if let Some(v) = self.more.get_mut(&h) {
            v.retain(|&x| x != i);
            if v.is_empty() {
                self.more.remove(&h);
            }
        }
    }
}

/// The layer as the entries read so far make it.
struct Builder<'c> {
    entries: Vec<Entry>,
    hashes: Vec<u64>,
    errors: Vec<String>,
    index: PathMap,
    /// Per entry: first child and next sibling, so a replaced directory's subtree can be
    /// dropped in time proportional to its size.
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    dead: Vec<bool>,
    /// Per entry: a regular file whose data hard links share.
    linked: Vec<bool>,
    any_dead: bool,
    /// The directory of the previous entry (tars list a directory's entries together).
    last_dir: u32,
    capabilities: HashMap<u32, Box<[u8]>>,
    captured: HashMap<Box<[u8]>, Vec<u8>>,
    hardlinks: HashMap<Box<[u8]>, Box<[u8]>>,
    /// Selected files that are sparse, so not captured.
    sparse: HashSet<u32>,
    over_budget: HashSet<Box<[u8]>>,
    captured_bytes: u64,
    capture: &'c dyn Fn(&[u8]) -> bool,
    /// Bytes of the uncompressed tar stream.
    tar_bytes: u64,
    max_capture: u64,
    /// Bytes of memory the layer holds (approximately), and of tar read.
    held: u64,
    consumed: u64,
}

impl<'c> Builder<'c> {
    fn new(capture: &'c dyn Fn(&[u8]) -> bool, max_capture: u64) -> Self {
        Builder {
            entries: Vec::new(),
            hashes: Vec::new(),
            errors: Vec::new(),
            index: PathMap::default(),
            first_child: Vec::new(),
            next_sibling: Vec::new(),
            dead: Vec::new(),
            linked: Vec::new(),
            any_dead: false,
            last_dir: NO_PARENT,
            capabilities: HashMap::new(),
            captured: HashMap::new(),
            hardlinks: HashMap::new(),
            sparse: HashSet::new(),
            over_budget: HashSet::new(),
            captured_bytes: 0,
            capture,
            tar_bytes: 0,
            max_capture,
            held: 0,
            consumed: 0,
        }
    }

    fn charge(&mut self, bytes: u64) -> Result<(), Fail> {
        self.held += bytes;
        let allowed = (HELD_BASE + self.consumed).min(MAX_HELD);
        if self.held > allowed {
            return Err(Fail::Fatal(format!(
                "the layer's entries would take more than {} MiB of memory after {} bytes of tar: refused",
                allowed >> 20,
                self.consumed
            )));
        }
        Ok(())
    }

    /// Append an entry (its parent already in place) and index it.
    fn push(&mut self, e: Entry, h: u64) -> Result<u32, Fail> {
        self.charge(ENTRY_COST + e.path.len() as u64 + e.link.as_ref().map_or(0, |l| l.len() as u64))?;
        let i = self.entries.len() as u32;
        let sibling = match self.first_child.get_mut(e.parent as usize) {
            Some(first) => std::mem::replace(first, i),
            None => NO_PARENT,
        };
        self.entries.push(e);
        self.hashes.push(h);
        self.index.insert(h, i);
        self.first_child.push(NO_PARENT);
        self.next_sibling.push(sibling);
        self.dead.push(false);
        self.linked.push(false);
        Ok(i)
    }

    /// Drop entry `i` and everything below it.
    fn kill(&mut self, i: u32) {
        self.any_dead = true;
        self.last_dir = NO_PARENT;
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            let ju = j as usize;
            if self.dead[ju] {
                continue;
            }
            self.dead[ju] = true;
            self.index.remove(self.hashes[ju], j);
            self.capabilities.remove(&j);
            let e = &self.entries[ju];
            if e.kind == EntryKind::File {
                if !self.captured.is_empty() {
                    self.captured.remove(&e.path);
                }
                if !self.hardlinks.is_empty() {
                    self.hardlinks.remove(&e.path);
                }
            }
            if self.linked[ju] {
                self.errors.push(format!(
                    "{} is replaced later in the layer while hard links share its data: their content cannot be read",
                    crate::escape::bytes(&e.path)
                ));
            }
            let mut c = self.first_child[ju];
            while c != NO_PARENT {
                stack.push(c);
                c = self.next_sibling[c as usize];
            }
        }
    }

    /// The index of the directory holding `path` (NO_PARENT: the root), with the missing
    /// directories above it made as containers/storage makes them (0755 root:root).
    fn parent_of(&mut self, path: &[u8]) -> Result<u32, Fail> {
        let cut = path.iter().rposition(|&c| c == b'/').unwrap_or(0);
        if cut == 0 {
            return Ok(NO_PARENT);
        }
        let dir = &path[..cut];
        if let Some(e) = self.entries.get(self.last_dir as usize) {
            if &e.path[..] == dir {
                return Ok(self.last_dir);
            }
        }
        let mut missing: Vec<(usize, u64)> = Vec::new();
        let mut end = cut;
        let found = loop {
            let d = &path[..end];
            let h = path_hash(d);
            if let Some(i) = self.index.get(h, d, &self.entries) {
                break i;
            }
            missing.push((end, h));
            match d.iter().rposition(|&c| c == b'/') {
                Some(k) if k > 0 => end = k,
                _ => break NO_PARENT,
            }
        };
        if let Some(e) = self.entries.get(found as usize) {
            if e.kind != EntryKind::Dir {
                return Err(Fail::Entry(format!(
                    "{} is below {}, which is not a directory in the layer",
                    crate::escape::bytes(path),
                    crate::escape::bytes(&e.path)
                )));
            }
        }
        let mut parent = found;
        for &(end, h) in missing.iter().rev() {
            let e = Entry {
                path: path[..end].into(),
                parent,
                kind: EntryKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                link: None,
                opaque: false,
            };
            parent = self.push(e, h)?;
        }
        self.last_dir = parent;
        Ok(parent)
    }

    /// Put an entry at its path: a directory over a directory updates it (what is below
    /// stays, as when unpacking), anything else replaces what was there and all below it.
    fn insert(&mut self, e: Entry, capability: Option<&[u8]>) -> Result<u32, Fail> {
        let h = path_hash(&e.path);
        if let Some(old) = self.index.get(h, &e.path, &self.entries) {
            let o = &mut self.entries[old as usize];
            if o.kind == EntryKind::Dir && e.kind == EntryKind::Dir {
                o.mode = e.mode;
                o.uid = e.uid;
                o.gid = e.gid;
                o.opaque |= e.opaque;
                if let Some(c) = capability {
                    self.capabilities.insert(old, c.into());
                }
                return Ok(old);
            }
            self.kill(old);
        }
        let i = self.push(e, h)?;
        if let Some(c) = capability {
            self.charge(c.len() as u64)?;
            self.capabilities.insert(i, c.into());
        }
        Ok(i)
    }

    /// Decide what one tar entry is. Ok(Some(i)): entry i is a file whose data is to be
    /// captured.
    fn place(&mut self, f: &Fields) -> Result<Option<u32>, Fail> {
        let path = normalise(f.name).map_err(|m| Fail::Entry(format!("tar entry {m}")))?;
        let shown = || crate::escape::bytes(&path);
        if &path[..] == b"/" {
            // The root has no entry of its own in a layer.
            return Ok(None);
        }
        if path.len() > MAX_PATH {
            return Err(Fail::Entry(format!(
                "tar entry {}…: a path of {} bytes, longer than Linux's {MAX_PATH}",
                crate::escape::bytes(&path[..64]),
                path.len()
            )));
        }
        let cut = path.iter().rposition(|&c| c == b'/').unwrap_or(0);
        let (dir, name) = (&path[..cut], &path[cut + 1..]);
        // A walk does not descend into a directory whose name is a whiteout marker.
        for c in dir.split(|&c| c == b'/') {
            if c.starts_with(WH_META_PREFIX) {
                return Ok(None);
            }
            if c.len() > WH_PREFIX.len() && c.starts_with(WH_PREFIX) {
                return Err(Fail::Entry(format!("tar entry {} is below a whiteout", shown())));
            }
        }
        // Whiteout names first, whatever the type: containers/storage writes the second of
        // two whiteouts that share an inode as a hard link to the first.
        if name == WH_OPAQUE {
            let d = self.parent_of(&path)?;
            if let Some(e) = self.entries.get_mut(d as usize) {
                e.opaque = true;
            }
            return Ok(None);
        }
        if name.starts_with(WH_META_PREFIX) {
            return Ok(None);
        }
        if let Some(hidden) = name.strip_prefix(WH_PREFIX).filter(|h| !h.is_empty()) {
            let mut p = Vec::with_capacity(path.len() - WH_PREFIX.len());
            p.extend_from_slice(dir);
            p.push(b'/');
            p.extend_from_slice(hidden);
            let (uid, gid) = self.owner(f, &path)?;
            let parent = self.parent_of(&path)?;
            let e = Entry {
                path: p.into_boxed_slice(),
                parent,
                kind: EntryKind::Whiteout,
                mode: f.mode,
                uid,
                gid,
                size: f.size,
                link: None,
                opaque: false,
            };
            self.insert(e, None)?;
            return Ok(None);
        }
        if f.typeflag == b'1' {
            return self.hard_link(f, path);
        }
        let kind = match f.typeflag {
            0 if f.name.ends_with(b"/") => EntryKind::Dir,
            b'0' | 0 | b'7' | b'S' => EntryKind::File,
            b'2' => EntryKind::Symlink,
            b'3' if f.null_device => EntryKind::Whiteout,
            b'3' => EntryKind::CharDevice,
            b'4' => EntryKind::BlockDevice,
            b'5' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            t => {
                return Err(Fail::Entry(format!(
                    "tar entry {} has type {:?}, which the runtimes do not unpack",
                    shown(),
                    crate::escape::bytes(&[t])
                )))
            }
        };
        let (uid, gid) = self.owner(f, &path)?;
        let parent = self.parent_of(&path)?;
        let link: Option<Box<[u8]>> = (kind == EntryKind::Symlink).then(|| f.link.into());
        let size = match kind {
            EntryKind::File => f.size,
            EntryKind::Symlink => f.link.len() as u64,
            _ => 0,
        };
        let selected = kind == EntryKind::File && (self.capture)(&path);
        let e = Entry {
            path,
            parent,
            kind,
            mode: f.mode,
            uid,
            gid,
            size,
            link,
            opaque: kind == EntryKind::Dir && f.opaque,
        };
        let i = self.insert(e, f.capability)?;
        if selected && f.sparse {
            self.sparse.insert(i);
            return Ok(None);
        }
        if !selected || size > self.max_capture {
            return Ok(None);
        }
        if !self.within_budget(size) {
            self.over_budget.insert(self.entries[i as usize].path.clone());
            return Ok(None);
        }
        Ok(Some(i))
    }

    /// Count `size` bytes of content against MAX_CAPTURED, if they fit.
    fn within_budget(&mut self, size: u64) -> bool {
        if self.captured_bytes.saturating_add(size) > MAX_CAPTURED {
            return false;
        }
        self.captured_bytes += size;
        true
    }

    fn owner(&self, f: &Fields, path: &[u8]) -> Result<(u32, u32), Fail> {
        // u32::MAX is chown's "leave unchanged": the file would stay root's.
        match (u32::try_from(f.uid), u32::try_from(f.gid)) {
            (Ok(u), Ok(g)) if u != u32::MAX && g != u32::MAX => Ok((u, g)),
            _ => Err(Fail::Entry(format!(
                "tar entry {} has uid {} and gid {}, which no file can have",
                crate::escape::bytes(path),
                f.uid,
                f.gid
            ))),
        }
    }

    /// A hard link is its target's inode under another path: the same type, mode, owner,
    /// size and capabilities (a hard link to a setuid file is a setuid file).
    fn hard_link(&mut self, f: &Fields, path: Box<[u8]>) -> Result<Option<u32>, Fail> {
        let shown = crate::escape::bytes(&path);
        let target = normalise(f.link).map_err(|m| Fail::Entry(format!("hard link {shown} to {m}")))?;
        let t_shown = || crate::escape::bytes(&target);
        if target == path {
            return Err(Fail::Entry(format!("hard link {shown} links to itself")));
        }
        let Some(t) = self.index.get(path_hash(&target), &target, &self.entries) else {
            return Err(Fail::Entry(format!(
                "hard link {shown} to {}, which is not in the layer before it",
                t_shown()
            )));
        };
        let te = &self.entries[t as usize];
        if matches!(te.kind, EntryKind::Dir | EntryKind::Whiteout) {
            return Err(Fail::Entry(format!("hard link {shown} to {}, which is not a file", t_shown())));
        }
        let (kind, mode, uid, gid, size, link) = (te.kind, te.mode, te.uid, te.gid, te.size, te.link.clone());
        let capability = match f.capability {
            Some(c) => Some(c.into()),
            None => self.capabilities.get(&t).cloned(),
        };
        // Where the data is: the target's own target if the target is a link itself.
        let holder: Box<[u8]> = self.hardlinks.get(&target).cloned().unwrap_or(target);
        let parent = self.parent_of(&path)?;
        let want = kind == EntryKind::File && (self.capture)(&path);
        let content = if want { self.captured.get(&holder).cloned() } else { None };
        let e = Entry { path, parent, kind, mode, uid, gid, size, link, opaque: false };
        if kind == EntryKind::File {
            let h = path_hash(&holder);
            if let Some(hi) = self.index.get(h, &holder, &self.entries) {
                self.linked[hi as usize] = true;
            }
        }
        let i = self.insert(e, capability.as_deref())?;
        if kind == EntryKind::File {
            let key = self.entries[i as usize].path.clone();
            self.charge((key.len() + holder.len()) as u64)?;
            if let Some(c) = content {
                if self.within_budget(c.len() as u64) {
                    self.charge(c.len() as u64)?;
                    self.captured.insert(key.clone(), c);
                } else {
                    self.over_budget.insert(key.clone());
                }
            }
            self.hardlinks.insert(key, holder);
        }
        Ok(None)
    }

    /// Drop what was replaced, then classify: the entries as the layer ends.
    fn finish(self, classifier: &dyn Classify) -> TarLayer {
        let Builder {
            mut entries,
            mut hashes,
            errors,
            dead,
            any_dead,
            capabilities,
            captured,
            hardlinks,
            over_budget,
            tar_bytes,
            ..
        } = self;
        let mut caps: Vec<(u32, Box<[u8]>)> = capabilities.into_iter().collect();
        if any_dead {
            let mut remap = vec![NO_PARENT; entries.len()];
            let mut kept = 0usize;
            for i in 0..entries.len() {
                let parent = entries[i].parent;
                let parent_gone = parent != NO_PARENT && remap[parent as usize] == NO_PARENT;
                if dead[i] || parent_gone {
                    continue;
                }
                remap[i] = kept as u32;
                entries[i].parent = if parent == NO_PARENT { NO_PARENT } else { remap[parent as usize] };
                entries.swap(kept, i);
                hashes.swap(kept, i);
                kept += 1;
            }
            entries.truncate(kept);
            hashes.truncate(kept);
            caps.retain_mut(|(i, _)| {
                *i = remap[*i as usize];
                *i != NO_PARENT
            });
        }
        caps.sort_unstable_by_key(|&(i, _)| i);
        let mut hits = Vec::new();
        let mut bytes = 0u64;
        for (i, e) in entries.iter().enumerate() {
            let bits = classifier.classify(e);
            if bits != 0 {
                hits.push((i as u32, bits));
            }
            if e.kind == EntryKind::File {
                bytes = bytes.saturating_add(e.size);
            }
        }
        let scan = LayerScan { entries, hashes, hits, errors, bytes, capabilities: caps };
        TarLayer { scan, captured, hardlinks, over_budget, tar_bytes }
    }
}

#[cfg(test)]
#[path = "tar_tests.rs"]
mod tests;
