//! The tar reader against tars made by GNU tar from real trees (compared with walking the
//! same tree unpacked) and against hand-made hostile tars. Runs as root (devices, setcap,
//! trusted.* xattrs).

use super::*;
use crate::layers::entry::Loc;
use crate::layers::{walk, ImageFs, LayerSource};
use crate::testutil::{Image, Tree};
use std::path::Path;
use std::process::Command;

/// Asks for setuid files, as the setuid rule does.
struct Setuid;

impl Classify for Setuid {
    fn classify(&self, e: &Entry) -> u64 {
        u64::from(e.kind == EntryKind::File && e.mode & 0o4000 != 0)
    }
}

fn nothing(_: &[u8]) -> bool {
    false
}

fn read(tar: &[u8]) -> TarLayer {
    read_layer(tar, Compression::None, &Setuid, &nothing, 0)
}

fn find<'a>(scan: &'a LayerScan, path: &str) -> &'a Entry {
    scan.entries
        .iter()
        .find(|e| &e.path[..] == path.as_bytes())
        .unwrap_or_else(|| panic!("no {path} in {:?}", paths(scan)))
}

fn has(scan: &LayerScan, path: &[u8]) -> bool {
    scan.entries.iter().any(|e| &e.path[..] == path)
}

fn paths(scan: &LayerScan) -> Vec<String> {
    scan.entries.iter().map(|e| String::from_utf8_lossy(&e.path).into_owned()).collect()
}

/// What the merge relies on, whatever the input: parents first and directories, one entry
/// per path, hashes and hits in step.
fn check_invariants(scan: &LayerScan) {
    assert_eq!(scan.hashes.len(), scan.entries.len());
    let mut seen = HashSet::new();
    for (i, e) in scan.entries.iter().enumerate() {
        assert!(e.path.starts_with(b"/") && e.path.len() > 1 && !e.path.ends_with(b"/"), "{e:?}");
        assert!(seen.insert(&e.path[..]), "two entries at {:?}", String::from_utf8_lossy(&e.path));
        assert_eq!(scan.hashes[i], path_hash(&e.path));
        let dir = e.dir();
        if dir == b"/" {
            assert_eq!(e.parent, NO_PARENT, "{e:?}");
        } else {
            assert!((e.parent as usize) < i, "{e:?}");
            let p = &scan.entries[e.parent as usize];
            assert_eq!(p.kind, EntryKind::Dir);
            assert_eq!(&p.path[..], dir);
        }
    }
    assert!(scan.hits.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(scan.hits.iter().all(|&(i, _)| (i as usize) < scan.entries.len()));
    assert!(scan.capabilities.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(scan.capabilities.iter().all(|(i, _)| (*i as usize) < scan.entries.len()));
    let bytes: u64 = scan.entries.iter().filter(|e| e.kind == EntryKind::File).map(|e| e.size).sum();
    assert_eq!(scan.bytes, bytes);
}

// ---------------------------------------------------------------------------------------
// Hand-made tars.
// ---------------------------------------------------------------------------------------

fn octal_field(out: &mut [u8], v: u64) {
    let s = format!("{v:0width$o}\0", width = out.len() - 1);
    out.copy_from_slice(s.as_bytes());
}

/// A ustar header; sizes that do not fit in octal are written in base-256.
fn header(name: &[u8], typeflag: u8, mode: u32, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    octal_field(&mut h[100..108], u64::from(mode));
    octal_field(&mut h[108..116], 0);
    octal_field(&mut h[116..124], 0);
    if size < 1 << 33 {
        octal_field(&mut h[124..136], size);
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal_field(&mut h[136..148], 0);
    h[156] = typeflag;
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal_field(&mut h[329..337], 0);
    octal_field(&mut h[337..345], 0);
    seal(&mut h);
    h
}

fn seal(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn put(&mut self, h: [u8; 512], data: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.put(header(name.as_bytes(), b'0', mode, data.len() as u64, b""), data)
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.put(header(name.as_bytes(), b'5', mode, 0, b""), b"")
    }

    fn link(&mut self, name: &str, typeflag: u8, target: &[u8]) -> &mut Self {
        self.put(header(name.as_bytes(), typeflag, 0o777, 0, target), b"")
    }

    fn pax(&mut self, records: &[(&[u8], &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let body = 1 + k.len() + 1 + v.len() + 1;
            let mut len = body + 1;
            while len != body + len.to_string().len() {
                len = body + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} ").as_bytes());
            data.extend_from_slice(k);
            data.push(b'=');
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        self.put(header(b"PaxHeaders/x", b'x', 0o644, data.len() as u64, b""), &data)
    }

    fn end(&mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        std::mem::take(&mut self.0)
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn media_types() {
    use Compression::{Gzip, Zstd};
    let ok = |t: &str| Compression::from_media_type(t).unwrap();
    assert_eq!(ok("application/vnd.oci.image.layer.v1.tar"), Compression::None);
    assert_eq!(ok("application/vnd.oci.image.layer.v1.tar+gzip"), Gzip);
    assert_eq!(ok("application/vnd.oci.image.layer.v1.tar+zstd"), Zstd);
    assert_eq!(ok("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"), Gzip);
    assert_eq!(ok("application/vnd.docker.image.rootfs.diff.tar.gzip"), Gzip);
    assert_eq!(ok("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"), Gzip);
    assert_eq!(ok("application/vnd.docker.image.rootfs.diff.tar"), Compression::None);
    for bad in ["application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+bzip2", ""] {
        let e = Compression::from_media_type(bad).unwrap_err();
        assert!(e.contains("unknown layer media type"), "{e}");
    }
}

#[test]
fn paths_are_made_absolute_and_parents_are_synthesized() {
    let tar = Raw::default()
        .file("./a/b/c", 0o644, b"abc")
        .file("x/y", 0o4755, b"")
        .file("/abs/z", 0o600, b"")
        .dir("dir/", 0o700)
        .file("./a/./b//d/../e", 0o644, b"")
        .put(header(b"./", b'5', 0o755, 0, b""), b"")
        .end();
    let l = read(&tar);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    check_invariants(&l.scan);
    let mut got = paths(&l.scan);
    got.sort();
    assert_eq!(got, ["/a", "/a/b", "/a/b/c", "/a/b/e", "/abs", "/abs/z", "/dir", "/x", "/x/y"]);
    let a = find(&l.scan, "/a");
    assert_eq!((a.kind, a.mode, a.uid, a.gid), (EntryKind::Dir, 0o755, 0, 0));
    assert_eq!(find(&l.scan, "/dir").mode, 0o700);
    assert_eq!(find(&l.scan, "/a/b/c").size, 3);
    assert_eq!(l.scan.bytes, 3);
    let hit: Vec<&[u8]> = l.scan.hits.iter().map(|&(i, _)| &l.scan.entries[i as usize].path[..]).collect();
    assert_eq!(hit, [b"/x/y"]);
}

#[test]
fn hostile_names_and_links() {
    let tar = Raw::default()
        .file("ok", 0o644, b"")
        .file("../../etc/passwd", 0o644, b"root::0:0::/:/bin/sh\n")
        .file("a/../../escape", 0o644, b"")
        .file("/b/../c", 0o644, b"")
        .file("odd/new\nline\x1b[31m\x7f", 0o4755, b"")
        .link("esc", b'2', b"../../../../etc/shadow")
        .link("abs", b'2', b"/etc/shadow")
        .link("hl-out", b'1', b"../../etc/passwd")
        .link("hl-missing", b'1', b"nowhere")
        .link("hl-self", b'1', b"hl-self")
        .pax(&[(b"path", b"nul\0name")])
        .file("placeholder", 0o644, b"")
        .pax(&[(b"uid", b"-1")])
        .file("minus-one", 0o4755, b"")
        .dir("dir", 0o755)
        .link("to-dir", b'1', b"dir")
        .file("last", 0o644, b"")
        .end();
    let l = read(&tar);
    check_invariants(&l.scan);
    let errors = l.scan.errors.join("\n");
    assert_eq!(l.scan.errors.len(), 8, "{errors}");
    for want in [
        "../../etc/passwd goes above the image root",
        "a/../../escape goes above the image root",
        "hard link /hl-out to ../../etc/passwd goes above the image root",
        "hard link /hl-missing to /nowhere, which is not in the layer before it",
        "hard link /hl-self links to itself",
        "a path with a NUL byte",
        "negative uid or gid",
        "hard link /to-dir to /dir, which is not a file",
    ] {
        assert!(errors.contains(want), "{want} not in\n{errors}");
    }
    let mut got = paths(&l.scan);
    got.sort();
    assert_eq!(got, ["/abs", "/c", "/dir", "/esc", "/last", "/odd", "/odd/new\nline\x1b[31m\x7f", "/ok"]);
    // Link targets are kept as they are: resolving them is the image view's job.
    assert_eq!(find(&l.scan, "/esc").link.as_deref(), Some(&b"../../../../etc/shadow"[..]));
    assert_eq!(find(&l.scan, "/esc").size, 22);
    assert_eq!(find(&l.scan, "/abs").link.as_deref(), Some(&b"/etc/shadow"[..]));
    assert!(l.hardlinks.is_empty());
}

#[test]
fn pax_and_gnu_extensions() {
    let long = format!("{}/{}", "d".repeat(150), "f".repeat(200));
    let mut raw = Raw::default();
    raw.pax(&[
        (b"path", long.as_bytes()),
        (b"uid", b"70000"),
        (b"gid", b"80000"),
        (b"size", b"5"),
        (b"mtime", b"1.5"),
        (b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02\x00\x20\x00\x00\0\0\0\0\0\0\0\0\0\0\0\0"),
    ])
    .put(header(b"short-name-ignored", b'0', 0o755, 0, b""), b"hello");
    // GNU long name and long link.
    let long_link = "t".repeat(300);
    raw.put(header(b"././@LongLink", b'L', 0o644, 301, b""), format!("{}\0", "l".repeat(300)).as_bytes())
        .put(header(b"././@LongLink", b'K', 0o644, 301, b""), format!("{long_link}\0").as_bytes())
        .put(header(b"short", b'2', 0o777, 0, b"short-target"), b"");
    // PAX xattrs on directories: opaque markers, and one that is not.
    raw.pax(&[(b"SCHILY.xattr.trusted.overlay.opaque", b"y")]).dir("opq1", 0o755);
    raw.pax(&[(b"SCHILY.xattr.user.overlay.opaque", b"y")]).dir("opq2", 0o755);
    raw.pax(&[(b"SCHILY.xattr.user.overlay.opaque", b"n")]).dir("plain", 0o755);
    // A global header changes nothing; two PAX headers in a row merge.
    raw.put(header(b"global", b'g', 0o644, 12, b""), b"12 uid=1234\n");
    raw.pax(&[(b"uid", b"5")]).pax(&[(b"gid", b"6")]).file("merged", 0o644, b"");
    let tar = raw.end();
    let l = read(&tar);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    check_invariants(&l.scan);
    let f = find(&l.scan, &format!("/{long}"));
    assert_eq!((f.kind, f.mode, f.uid, f.gid, f.size), (EntryKind::File, 0o755, 70000, 80000, 5));
    let i = l.scan.entries.iter().position(|e| std::ptr::eq(e, f)).unwrap() as u32;
    assert_eq!(l.scan.capabilities.len(), 1);
    assert_eq!(l.scan.capabilities[0].0, i);
    assert_eq!(&l.scan.capabilities[0].1[..4], b"\x01\x00\x00\x02");
    let s = find(&l.scan, &format!("/{}", "l".repeat(300)));
    assert_eq!((s.kind, s.link.as_deref()), (EntryKind::Symlink, Some(long_link.as_bytes())));
    assert!(find(&l.scan, "/opq1").opaque && find(&l.scan, "/opq2").opaque && !find(&l.scan, "/plain").opaque);
    assert_eq!((find(&l.scan, "/merged").uid, find(&l.scan, "/merged").gid), (5, 6));
}

#[test]
fn whiteouts_opaque_markers_and_aufs_metadata() {
    let tar = Raw::default()
        .file("a/.wh.gone", 0o644, b"")
        .file("o/.wh..wh..opq", 0o644, b"")
        .file("o/new", 0o644, b"")
        .dir("later/", 0o750)
        .file(".wh..wh.aufs", 0o644, b"")
        .file(".wh..wh.plnk/12.34", 0o644, b"")
        .file("m/.wh..wh..opq", 0o644, b"")
        .dir("m/", 0o711)
        .put(header(b"dev/null-whiteout", b'3', 0, 0, b""), b"")
        // containers/storage: a second whiteout sharing the first one's inode is a hard link.
        .link("a/.wh.also", b'1', b"a/.wh.gone")
        .file(".wh.", 0o644, b"")
        .end();
    let l = read(&tar);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    check_invariants(&l.scan);
    let mut got = paths(&l.scan);
    got.sort();
    assert_eq!(
        got,
        ["/.wh.", "/a", "/a/also", "/a/gone", "/dev", "/dev/null-whiteout", "/later", "/m", "/o", "/o/new"]
    );
    for w in ["/a/gone", "/a/also", "/dev/null-whiteout"] {
        assert_eq!(find(&l.scan, w).kind, EntryKind::Whiteout, "{w}");
    }
    assert!(find(&l.scan, "/o").opaque);
    // The marker came first: its directory was made, then given the tar's own metadata.
    let m = find(&l.scan, "/m");
    assert!(m.opaque && m.mode == 0o711);
    assert!(!find(&l.scan, "/a").opaque);
    assert!(l.hardlinks.is_empty());
}

#[test]
fn a_later_entry_replaces_an_earlier_one() {
    let tar = Raw::default()
        .file("f", 0o644, b"one")
        .file("f", 0o4755, b"two!")
        .file("d/sub/x", 0o644, b"")
        .file("d/y", 0o644, b"")
        .file("d", 0o600, b"")
        .file("d2/keep", 0o644, b"")
        .dir("d2", 0o700)
        .file("w", 0o644, b"")
        .file(".wh.w", 0o644, b"")
        .file("d3/z", 0o644, b"")
        .link("d3", b'2', b"elsewhere")
        .file("d3/under-link", 0o644, b"")
        .end();
    let l = read(&tar);
    check_invariants(&l.scan);
    assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
    assert!(l.scan.errors[0].contains("/d3/under-link is below /d3, which is not a directory"));
    let mut got = paths(&l.scan);
    got.sort();
    assert_eq!(got, ["/d", "/d2", "/d2/keep", "/d3", "/f", "/w"]);
    let f = find(&l.scan, "/f");
    assert_eq!((f.mode, f.size), (0o4755, 4));
    assert_eq!(find(&l.scan, "/d").kind, EntryKind::File);
    assert_eq!(find(&l.scan, "/d2").mode, 0o700);
    assert_eq!(find(&l.scan, "/w").kind, EntryKind::Whiteout);
    assert_eq!(l.scan.hits.len(), 1);
    assert_eq!(l.scan.bytes, 4);
}

#[test]
fn hard_links_share_the_target_inode() {
    let mut raw = Raw::default();
    raw.pax(&[(b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02cap")])
        .put(header(b"bin/su", b'0', 0o4755, 6, b""), b"secret");
    raw.link("bin/su2", b'1', b"./bin/su").link("other/su3", b'1', b"/bin/su2").file("etc/passwd", 0o644, b"root");
    raw.link("etc/passwd-link", b'1', b"etc/passwd");
    raw.link("sym", b'2', b"bin/su").link("sym-link", b'1', b"sym");
    let tar = raw.end();
    let capture = |p: &[u8]| p.starts_with(b"/etc/") || p.starts_with(b"/bin/su");
    let l = read_layer(&tar[..], Compression::None, &Setuid, &capture, 100);
    check_invariants(&l.scan);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    for p in ["/bin/su", "/bin/su2", "/other/su3"] {
        let e = find(&l.scan, p);
        assert_eq!((e.kind, e.mode, e.size), (EntryKind::File, 0o4755, 6), "{p}");
    }
    assert_eq!(l.scan.hits.len(), 3, "a hard link to a setuid file is a setuid file");
    assert_eq!(l.scan.capabilities.len(), 3);
    assert_eq!(&l.hardlinks[&b"/other/su3"[..]][..], b"/bin/su", "chains lead to the data");
    assert_eq!(l.content_path(b"/bin/su2"), b"/bin/su");
    assert_eq!(l.content_path(b"/etc/passwd"), b"/etc/passwd");
    assert_eq!(l.captured[&b"/bin/su"[..]], b"secret");
    assert_eq!(l.captured[&b"/bin/su2"[..]], b"secret");
    assert_eq!(l.captured[&b"/etc/passwd-link"[..]], b"root");
    let s = find(&l.scan, "/sym-link");
    assert_eq!((s.kind, s.link.as_deref()), (EntryKind::Symlink, Some(&b"bin/su"[..])));
    assert_eq!(l.scan.bytes, 6 * 3 + 4 * 2);

    // Re-streamed reads.
    let rf = |p: &[u8], limit| read_file(&tar[..], Compression::None, p, limit);
    assert_eq!(rf(b"/bin/su", 100).unwrap().unwrap(), b"secret");
    assert_eq!(rf(b"etc/passwd", 100).unwrap().unwrap(), b"root");
    let e = rf(b"/other/su3", 100).unwrap_err();
    assert!(e.contains("hard link to /bin/su"), "{e}");
    assert_eq!(rf(l.content_path(b"/other/su3"), 100).unwrap().unwrap(), b"secret");
    assert!(rf(b"/bin/su", 5).unwrap_err().contains("6 bytes, more than the 5"));
    assert!(rf(b"/bin", 5).unwrap_err().contains("not a regular file"));
    assert!(rf(b"/sym", 5).unwrap_err().contains("not a regular file"));
    assert_eq!(rf(b"/nope", 5), Ok(None));
}

#[test]
fn a_hard_link_target_replaced_later_is_an_error() {
    let tar = Raw::default().file("t", 0o644, b"old").link("l", b'1', b"t").file("t", 0o644, b"new").end();
    let l = read(&tar);
    check_invariants(&l.scan);
    assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
    assert!(l.scan.errors[0].contains("hard links share its data"));
    assert!(read_file(&tar[..], Compression::None, b"/t", 10).is_err());
}

#[test]
fn read_file_sees_the_layer_as_it_ends() {
    let tar = Raw::default()
        .file("etc/passwd", 0o644, b"first")
        .file("etc/passwd", 0o644, b"second")
        .file("etc/group", 0o644, b"g")
        .file("etc/.wh.group", 0o644, b"")
        .file("d/f", 0o644, b"gone with d")
        .link("d", b'2', b"etc")
        .end();
    let rf = |p: &[u8]| read_file(&tar[..], Compression::None, p, 100);
    assert_eq!(rf(b"/etc/passwd").unwrap().unwrap(), b"second");
    assert_eq!(rf(b"/etc/group"), Ok(None));
    assert_eq!(rf(b"/d/f"), Ok(None));
    assert!(rf(b"/").is_err());
    let l = read_layer(&tar[..], Compression::None, &Setuid, &|p: &[u8]| p.starts_with(b"/etc/") || p == b"/d/f", 100);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    assert_eq!(l.captured.len(), 1);
    assert_eq!(l.captured[&b"/etc/passwd"[..]], b"second");
}

#[test]
fn header_only_types_carry_no_data() {
    // Go's archive/tar (and so the runtimes) reads no data after a directory or link header,
    // whatever its size field says: what follows is the next header.
    let mut raw = Raw::default();
    raw.0.extend_from_slice(&header(b"dir", b'5', 0o755, 1024, b""));
    raw.file("dir/hidden", 0o4755, b"").file("after", 0o644, b"");
    let l = read(&raw.end());
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    assert!(has(&l.scan, b"/dir/hidden") && has(&l.scan, b"/after"));
}

#[test]
fn huge_size_headers_allocate_nothing() {
    // 8 GiB announced, 3 bytes there: the stream is truncated.
    let mut raw = Raw::default();
    raw.file("before", 0o644, b"");
    raw.0.extend_from_slice(&header(b"etc/passwd", b'0', 0o644, 8 << 30, b""));
    raw.0.extend_from_slice(b"abc");
    let tar = raw.0.clone();
    let all = |_: &[u8]| true;
    let l = read_layer(&tar[..], Compression::None, &Setuid, &all, u64::MAX);
    assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
    assert!(l.scan.errors[0].contains("truncated"), "{}", l.scan.errors[0]);
    assert!(has(&l.scan, b"/before") && find(&l.scan, "/etc/passwd").size == 8 << 30);
    assert!(l.captured.keys().all(|k| &k[..] == b"/before"));
    assert!(read_file(&tar[..], Compression::None, b"/etc/passwd", u64::MAX).unwrap_err().contains("truncated"));

    // An old GNU sparse file of 2 GB holding 512 bytes, one extension block of map.
    let mut raw = Raw::default();
    let mut h = header(b"sparse", b'S', 0o644, 512, b"");
    h[257..263].copy_from_slice(b"ustar ");
    h[263..265].copy_from_slice(b" \0");
    h[386..398].copy_from_slice(b"00000000000\0");
    h[398..410].copy_from_slice(b"00000001000\0");
    h[482] = 1;
    h[483..495].copy_from_slice(b"20000000000\0");
    seal(&mut h);
    raw.0.extend_from_slice(&h);
    raw.0.extend_from_slice(&[0u8; 512]);
    raw.0.extend_from_slice(&[b'x'; 512]);
    // PAX 1.0 sparse: the real name and size in records, the map in the data.
    raw.pax(&[
        (b"GNU.sparse.major", b"1"),
        (b"GNU.sparse.minor", b"0"),
        (b"GNU.sparse.name", b"etc/shadow"),
        (b"GNU.sparse.realsize", b"2147483648"),
    ]);
    raw.put(header(b"GNUSparseFile.0/shadow", b'0', 0o600, 1024, b""), &[b'1'; 1024]);
    raw.file("after", 0o644, b"");
    let tar = raw.end();
    let all = |_: &[u8]| true;
    let l = read_layer(&tar[..], Compression::None, &Setuid, &all, 1 << 20);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    check_invariants(&l.scan);
    assert_eq!(find(&l.scan, "/sparse").size, 0o20000000000);
    assert_eq!(find(&l.scan, "/etc/shadow").size, 2147483648);
    assert!(has(&l.scan, b"/after") && !has(&l.scan, b"/GNUSparseFile.0"));
    assert!(l.captured.keys().all(|k| &k[..] == b"/after"));
    let e = read_file(&tar[..], Compression::None, b"/etc/shadow", 1 << 20).unwrap_err();
    assert!(e.contains("sparse"), "{e}");
}

#[test]
fn corrupt_streams_are_errors_with_the_entries_read_so_far() {
    let mut raw = Raw::default();
    for i in 0..50 {
        raw.file(&format!("f{i}"), 0o644, &[b'x'; 700]);
    }
    let tar = raw.end();
    let entries = |l: &TarLayer| l.scan.entries.len();

    // Bad checksum in the 10th header (each entry: a header and two blocks of data).
    let mut bad = tar.clone();
    bad[9 * 1536 + 3] ^= 0x20;
    let l = read(&bad);
    assert_eq!(entries(&l), 9);
    assert!(l.scan.errors[0].contains("bad tar header checksum at byte 13824"), "{:?}", l.scan.errors);

    // Truncated plain tar: inside data, and at a header boundary without end blocks.
    for cut in [tar.len() / 2 + 100, 40 * 1536] {
        let l = read(&tar[..cut]);
        assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
        assert!(l.scan.errors[0].contains("truncated"), "{:?}", l.scan.errors);
        assert!(entries(&l) > 10);
    }
    // A zero block followed by data, an empty blob, garbage.
    let mut zero_then = tar[..3072].to_vec();
    zero_then.extend_from_slice(&[0u8; 512]);
    zero_then.extend_from_slice(&tar[..512]);
    assert!(read(&zero_then).scan.errors[0].contains("followed by data"));
    assert!(read(b"").scan.errors[0].contains("empty"));
    assert!(read(&[b'z'; 700]).scan.errors[0].contains("checksum"));
    // A PAX header at the very end, and PAX / GNU long-name bombs.
    let mut pax_end = Raw::default();
    pax_end.file("a", 0o644, b"").pax(&[(b"path", b"b")]);
    assert!(read(&pax_end.end()).scan.errors[0].contains("has no entry"));
    let mut bomb = Raw::default();
    bomb.put(header(b"././@LongLink", b'L', 0o644, 2 << 20, b""), &vec![b'a'; 2 << 20]).file("x", 0o644, b"");
    assert!(read(&bomb.end()).scan.errors[0].contains("extension header of 2097152 bytes"));
    let mut bad_pax = Raw::default();
    bad_pax.put(header(b"p", b'x', 0o644, 12, b""), b"99 path=abc\n").file("x", 0o644, b"");
    assert!(read(&bad_pax.end()).scan.errors[0].contains("malformed PAX record"));

    // gzip: truncated, corrupted, with trailing garbage; the declared type does not matter.
    let gz = gzip(&tar);
    let l = read_layer(&gz[..], Compression::Gzip, &Setuid, &nothing, 0);
    assert!(l.scan.errors.is_empty() && entries(&l) == 50, "{:?}", l.scan.errors);
    let l = read_layer(&gz[..], Compression::None, &Setuid, &nothing, 0);
    assert!(l.scan.errors.is_empty() && entries(&l) == 50, "{:?}", l.scan.errors);
    let l = read_layer(&gz[..gz.len() / 2], Compression::Gzip, &Setuid, &nothing, 0);
    assert_eq!(l.scan.errors.len(), 1);
    assert!(l.scan.errors[0].contains("bad gzip stream"), "{:?}", l.scan.errors);
    let l = read_layer(&gz[..gz.len() - 4], Compression::Gzip, &Setuid, &nothing, 0);
    assert_eq!(entries(&l), 50, "all entries read, then the trailer is missing");
    assert!(l.scan.errors[0].contains("gzip"), "{:?}", l.scan.errors);
    let mut flipped = gz.clone();
    let n = flipped.len();
    flipped[n - 6] ^= 0xff; // the CRC
    let l = read_layer(&flipped[..], Compression::Gzip, &Setuid, &nothing, 0);
    assert!(l.scan.errors[0].contains("gzip"), "{:?}", l.scan.errors);
    let mut trailing = gz.clone();
    trailing.extend_from_slice(b"garbage after the member");
    assert!(!read_layer(&trailing[..], Compression::Gzip, &Setuid, &nothing, 0).scan.errors.is_empty());
    // Concatenated members are one stream.
    let mut two = gzip(&tar[..10_000]);
    two.extend_from_slice(&gzip(&tar[10_000..]));
    let l = read_layer(&two[..], Compression::Gzip, &Setuid, &nothing, 0);
    assert!(l.scan.errors.is_empty() && entries(&l) == 50, "{:?}", l.scan.errors);

    // zstd: fine, truncated, corrupted.
    let zs = zstd::encode_all(&tar[..], 3).unwrap();
    let l = read_layer(&zs[..], Compression::Zstd, &Setuid, &nothing, 0);
    assert!(l.scan.errors.is_empty() && entries(&l) == 50, "{:?}", l.scan.errors);
    let l = read_layer(&zs[..zs.len() / 2], Compression::Zstd, &Setuid, &nothing, 0);
    assert!(l.scan.errors[0].contains("zstd"), "{:?}", l.scan.errors);
    let mut corrupt = zs.clone();
    for b in corrupt[20..60].iter_mut() {
        *b ^= 0x5a;
    }
    // Without a checksum in the frame, what comes out may be garbage tar rather than a zstd
    // error: an error either way.
    let l = read_layer(&corrupt[..], Compression::Zstd, &Setuid, &nothing, 0);
    assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
    assert!(read_file(&corrupt[..], Compression::Zstd, b"/f1", 10000).is_err());
    // Declared gzip, but neither gzip nor a tar.
    let text = "not a layer at all, just some text\n".repeat(30);
    let l = read_layer(text.as_bytes(), Compression::Gzip, &Setuid, &nothing, 0);
    assert!(l.scan.errors[0].contains("declares gzip"), "{:?}", l.scan.errors);
}

#[test]
fn numeric_fields() {
    assert_eq!(numeric(b"0000644\0"), Some(0o644));
    assert_eq!(numeric(b"  644 \0"), Some(0o644));
    assert_eq!(numeric(b"\0\0\0\0"), Some(0));
    assert_eq!(numeric(b"64 4"), None);
    assert_eq!(numeric(b"0009"), None);
    assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]), Some(2 << 32));
    assert_eq!(numeric(&[0xff; 12]), None, "negative");
    assert_eq!(numeric(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), None);
    assert_eq!(numeric(b"77777777777777777777777"), None);
    let mut raw = Raw::default();
    let mut h = header(b"big-uid", b'0', 0o644, 0, b"");
    h[108..116].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 0]);
    seal(&mut h);
    raw.put(h, b"");
    let l = read(&raw.end());
    assert!(l.scan.errors[0].contains("uid 4294967296"), "{:?}", l.scan.errors);
}

#[test]
fn a_hundred_thousand_entries_in_one_directory() {
    let mut raw = Raw::default();
    raw.dir("d", 0o755);
    for i in 0..100_000 {
        raw.0.extend_from_slice(&header(format!("d/{i:06}").as_bytes(), b'0', 0o644, 0, b""));
    }
    let l = read(&raw.end());
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors[..1.min(l.scan.errors.len())].to_vec());
    assert_eq!(l.scan.entries.len(), 100_001);
    assert!(l.scan.entries[1..].iter().all(|e| e.parent == 0));
}

#[test]
fn paths_longer_than_path_max_and_memory_bombs_are_refused() {
    let deep = "a/".repeat(2100) + "f";
    let l = read(&Raw::default().pax(&[(b"path", deep.as_bytes())]).file("x", 0o644, b"").file("ok", 0o644, b"").end());
    assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
    assert!(l.scan.errors[0].contains("longer than Linux's 4096"));
    assert_eq!(paths(&l.scan), ["/ok"]);

    // Each entry makes 1000 directories of ~2 KB paths: the budget stops it early.
    let mut raw = Raw::default();
    for i in 0..2000 {
        let p = format!("{i}/{}", "b/".repeat(1000)) + "f";
        raw.pax(&[(b"path", p.as_bytes())]).file("x", 0o644, b"");
    }
    let l = read(&raw.end());
    assert_eq!(l.scan.errors.len(), 1, "{:?}", l.scan.errors);
    assert!(l.scan.errors[0].contains("more than 64 MiB of memory"), "{}", l.scan.errors[0]);
    check_invariants(&l.scan);
}

// ---------------------------------------------------------------------------------------
// Tars made by GNU tar.
// ---------------------------------------------------------------------------------------

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn gnu_tar(root: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("tar").args(args).arg("-C").arg(root).args(["-cf", "-", "."]).output().unwrap();
    assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn get_xattr(p: &Path, name: &str) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 256];
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(r > 0, "getxattr {name}");
    buf[..r as usize].to_vec()
}

const LONG_DIR: &str = "/usr/share/a-directory-name-that-is-rather-long-on-purpose-to-need-more-than-one-hundred-bytes";

/// A layer tree with everything a tar layer can hold.
fn rich_tree(t: &Tree) {
    use std::os::unix::fs::{chown, lchown};
    t.dir("/etc", 0o755).file_with("/etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n");
    t.file_with("/usr/bin/su", 0o4755, b"su binary").file("/usr/bin/wall", 0o2755).dir("/tmp", 0o1777);
    t.file(format!("{LONG_DIR}/and-a-file-with-a-long-name-as-well-{}", "x".repeat(100)), 0o644);
    std::fs::hard_link(t.root.join("usr/bin/su"), t.root.join("usr/bin/su-hardlink")).unwrap();
    std::fs::hard_link(t.root.join("usr/bin/su"), t.root.join(format!("{}/su-long-link", &LONG_DIR[1..]))).unwrap();
    t.link("/bin", "usr/bin").link("/etc/localtime", "/usr/share/zoneinfo/UTC");
    t.link(format!("{LONG_DIR}/long-target"), format!("../../{}", "t".repeat(150)));
    t.file_with("/usr/bin/ping", 0o755, b"ping binary");
    run(Command::new("setcap").arg("cap_net_raw+ep").arg(t.root.join("usr/bin/ping")));
    t.opaque("/opt/app").file("/opt/app/run", 0o750);
    t.whiteout("/var/old").file("/var/lib/.wh.gone", 0o644).file("/srv/.wh..wh..opq", 0o644).file("/srv/new", 0o644);
    t.file(b"/odd/new\nline\x1b[31m\xff", 0o4711);
    chown(t.root.join("opt/app/run"), Some(1000), Some(2000)).unwrap();
    lchown(t.root.join("etc/localtime"), Some(7), Some(8)).unwrap();
    nix::unistd::mkfifo(&t.root.join("tmp/fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let dev = nix::sys::stat::makedev(1, 3);
    nix::sys::stat::mknod(
        &t.root.join("etc/null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        dev,
    )
    .unwrap();
    let dev = nix::sys::stat::makedev(7, 0);
    nix::sys::stat::mknod(
        &t.root.join("etc/loop0"),
        nix::sys::stat::SFlag::S_IFBLK,
        nix::sys::stat::Mode::from_bits_truncate(0o660),
        dev,
    )
    .unwrap();
}

/// Entries as comparable rows: path, kind, mode, owner, size (not for directories: a walk
/// sees the filesystem's block size), link, opaque, parent path.
type Row = (Vec<u8>, EntryKind, u32, u32, u32, Option<u64>, Option<Vec<u8>>, bool, Vec<u8>);

fn rows(scan: &LayerScan) -> Vec<Row> {
    let mut v: Vec<Row> = scan
        .entries
        .iter()
        .map(|e| {
            let parent = if e.parent == NO_PARENT { Vec::new() } else { scan.entries[e.parent as usize].path.to_vec() };
            let size = (e.kind != EntryKind::Dir).then_some(e.size);
            (e.path.to_vec(), e.kind, e.mode, e.uid, e.gid, size, e.link.as_ref().map(|l| l.to_vec()), e.opaque, parent)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn hit_paths(scan: &LayerScan) -> Vec<(Vec<u8>, u64)> {
    let mut v: Vec<(Vec<u8>, u64)> =
        scan.hits.iter().map(|&(i, b)| (scan.entries[i as usize].path.to_vec(), b)).collect();
    v.sort();
    v
}

#[test]
fn gnu_tar_formats_and_compressions() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tree::new(dir.path(), "l");
    rich_tree(&t);
    let cap = get_xattr(&t.root.join("usr/bin/ping"), "security.capability");
    let long_file = format!("{LONG_DIR}/and-a-file-with-a-long-name-as-well-{}", "x".repeat(100));
    let gnu = gnu_tar(&t.root, &["--format=gnu", "--numeric-owner"]);
    assert!(gnu.windows(13).any(|w| w == b"././@LongLink"), "GNU long names in use");
    let posix = gnu_tar(&t.root, &["--xattrs", "--xattrs-include=*", "--numeric-owner"]);
    let mut seen: Vec<Vec<Row>> = Vec::new();
    for (name, tar, xattrs) in [("gnu", &gnu, false), ("posix", &posix, true)] {
        let zs = zstd::encode_all(&tar[..], 3).unwrap();
        let gz = gzip(tar);
        for (blob, c) in [(&tar[..], Compression::None), (&gz[..], Compression::Gzip), (&zs[..], Compression::Zstd)] {
            let capture = |p: &[u8]| p == b"/etc/passwd" || p == b"/usr/bin/su-hardlink";
            let l = read_layer(blob, c, &Setuid, &capture, 1024);
            let s = &l.scan;
            assert!(s.errors.is_empty(), "{name} {c:?}: {:?}", s.errors);
            check_invariants(s);
            let e = find(s, &long_file);
            assert_eq!((e.kind, e.mode), (EntryKind::File, 0o644));
            let lt = find(s, &format!("{LONG_DIR}/long-target"));
            assert_eq!(lt.link.as_deref().unwrap(), format!("../../{}", "t".repeat(150)).as_bytes());
            for p in ["/usr/bin/su", "/usr/bin/su-hardlink", &format!("{LONG_DIR}/su-long-link")] {
                let e = find(s, p);
                assert_eq!((e.kind, e.mode, e.size), (EntryKind::File, 0o4755, 9), "{name}: {p}");
            }
            // GNU tar archives whichever of the linked names it meets first as the file.
            let su_names = ["/usr/bin/su", "/usr/bin/su-hardlink", &format!("{LONG_DIR}/su-long-link")];
            assert_eq!(l.hardlinks.len(), 2, "{name}: {:?}", l.hardlinks);
            assert!(l.hardlinks.iter().all(|(k, v)| su_names.contains(&&*String::from_utf8_lossy(k))
                && su_names.contains(&&*String::from_utf8_lossy(v))));
            assert_eq!(find(s, "/usr/bin/wall").mode, 0o2755);
            assert_eq!(find(s, "/tmp").mode, 0o1777);
            assert_eq!(find(s, "/tmp/fifo").kind, EntryKind::Fifo);
            assert_eq!(find(s, "/etc/null").kind, EntryKind::CharDevice);
            assert_eq!(find(s, "/etc/loop0").kind, EntryKind::BlockDevice);
            let lt = find(s, "/etc/localtime");
            assert_eq!((lt.kind, lt.uid, lt.gid), (EntryKind::Symlink, 7, 8));
            let run = find(s, "/opt/app/run");
            assert_eq!((run.mode, run.uid, run.gid), (0o750, 1000, 2000));
            assert_eq!(find(s, "/var/old").kind, EntryKind::Whiteout);
            assert_eq!(find(s, "/var/lib/gone").kind, EntryKind::Whiteout);
            assert!(find(s, "/srv").opaque && !has(s, b"/srv/.wh..wh..opq"));
            assert!(has(s, b"/odd/new\nline\x1b[31m\xff"));
            assert_eq!(find(s, "/opt/app").opaque, xattrs, "{name}: the opaque xattr needs --xattrs");
            if xattrs {
                let ping = s.entries.iter().position(|e| &e.path[..] == b"/usr/bin/ping").unwrap() as u32;
                assert!(s.capabilities.iter().any(|(i, v)| *i == ping && v[..] == cap[..]), "{:?}", s.capabilities);
            } else {
                assert!(s.capabilities.is_empty());
            }
            let hits: Vec<Vec<u8>> = hit_paths(s).into_iter().map(|(p, _)| p).collect();
            assert_eq!(hits.len(), 4, "{hits:?}");
            assert_eq!(l.captured[&b"/etc/passwd"[..]], b"root:x:0:0::/root:/bin/sh\n");
            assert_eq!(read_file(blob, c, b"/etc/passwd", 100).unwrap().unwrap(), b"root:x:0:0::/root:/bin/sh\n");
            let su = read_file(blob, c, l.content_path(b"/usr/bin/su-hardlink"), 100).unwrap().unwrap();
            assert_eq!(su, b"su binary");
            seen.push(rows(s).into_iter().filter(|r| r.0 != b"/opt/app").collect());
        }
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "every format and compression reads the same");
}

#[test]
fn gnu_tar_sparse_files() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let t = Tree::new(dir.path(), "l");
    let mut f = std::fs::File::create(t.root.join("holes")).unwrap();
    f.write_all(b"start").unwrap();
    f.seek(SeekFrom::Start(1 << 30)).unwrap();
    f.write_all(b"middle").unwrap();
    f.set_len(3 << 30).unwrap();
    drop(f);
    t.file_with("/after", 0o644, b"after");
    for args in [
        &["--format=gnu"][..],
        &["--format=posix", "--sparse-version=0.0"],
        &["--format=posix", "--sparse-version=0.1"],
        &["--format=posix", "--sparse-version=1.0"],
    ] {
        let tar = gnu_tar(&t.root, &[&["--sparse"][..], args].concat());
        assert!(tar.len() < 1 << 20, "{args:?}: the holes are not in the tar");
        let all = |_: &[u8]| true;
        let l = read_layer(&tar[..], Compression::None, &Setuid, &all, 1 << 20);
        assert!(l.scan.errors.is_empty(), "{args:?}: {:?}", l.scan.errors);
        check_invariants(&l.scan);
        assert_eq!(paths(&l.scan).iter().filter(|p| p.contains("GNUSparse")).count(), 0, "{args:?}");
        let h = find(&l.scan, "/holes");
        assert_eq!((h.kind, h.size), (EntryKind::File, 3 << 30), "{args:?}");
        assert_eq!(l.captured[&b"/after"[..]], b"after", "{args:?}: the stream stays in step");
        let e = read_file(&tar[..], Compression::None, b"/holes", u64::MAX).unwrap_err();
        assert!(e.contains("sparse"), "{e}");
    }
}

#[test]
fn the_scan_of_a_tar_equals_the_walk_of_it_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tree::new(dir.path(), "src");
    rich_tree(&t);
    for d in 0..20 {
        for f in 0..10 {
            t.file(format!("/srv/d{d}/f{f}"), if f == 3 { 0o4755 } else { 0o644 });
        }
    }
    let tar = gnu_tar(&t.root, &["--xattrs", "--xattrs-include=*", "--numeric-owner"]);
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    run(Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "--same-owner", "-xpf", "-", "-C"])
        .arg(&unpacked)
        .stdin(
            std::fs::File::open({
                let p = dir.path().join("layer.tar");
                std::fs::write(&p, &tar).unwrap();
                p
            })
            .unwrap(),
        ));
    let classifier = crate::rules::Classifier::new(crate::rules::all(), &Default::default());
    let walked = walk::walk_layer(&unpacked, &classifier);
    assert!(walked.errors.is_empty(), "{:?}", walked.errors);
    let l = read_layer(&tar[..], Compression::None, &classifier, &nothing, 0);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    check_invariants(&l.scan);
    assert_eq!(rows(&l.scan), rows(&walked));
    assert_eq!(hit_paths(&l.scan), hit_paths(&walked));
    assert_eq!(l.scan.bytes, walked.bytes);
    // The walk reads capabilities of executable files only; the tar carries them all.
    let caps = |s: &LayerScan| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = s
            .capabilities
            .iter()
            .filter(|(i, _)| s.entries[*i as usize].is_executable())
            .map(|(i, c)| (s.entries[*i as usize].path.to_vec(), c.to_vec()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(caps(&walked).len(), 1, "ping's cap_net_raw");
    assert_eq!(caps(&l.scan), caps(&walked));
    let walked_setuid = walk::walk_layer(&unpacked, &Setuid);
    let tar_setuid = read_layer(&tar[..], Compression::None, &Setuid, &nothing, 0);
    assert_eq!(hit_paths(&tar_setuid.scan), hit_paths(&walked_setuid));
    assert_eq!(hit_paths(&walked_setuid).len(), 4 + 20);
}

#[test]
fn image_fs_merges_tar_layers_like_walked_ones() {
    let img = Image::new(4);
    rich_tree(img.layer(0));
    img.layer(0).file("/a/del", 0o644).file("/a/keep", 0o644).file("/o/old", 0o644).file("/x/inside", 0o644);
    img.layer(0).file("/d/sub/deep", 0o4755).file("/w/old", 0o644);
    img.layer(1).whiteout("/a/del").file("/o/.wh..wh..opq", 0o644).file("/o/new", 0o644).file("/x", 0o644);
    img.layer(1).file("/usr/bin/.wh.su", 0o644).opaque("/w").file("/w/new", 0o644).whiteout("/d/sub");
    img.layer(2).file("/a/del", 0o600).file("/usr/bin/su", 0o755).file("/d/sub/again", 0o644);
    img.layer(3).file("/opt/app/.wh.run", 0o644).file("/.wh.srv", 0o644).whiteout("/odd");
    let walked = img.fs();
    let classifier = crate::rules::Classifier::new(crate::rules::all(), &img.settings);
    let layers: Vec<(LayerSource, std::sync::Arc<LayerScan>)> = img
        .sources()
        .into_iter()
        .map(|s| {
            let tar = gnu_tar(s.dir().unwrap(), &["--xattrs", "--xattrs-include=*", "--numeric-owner"]);
            let l = read_layer(&gzip(&tar)[..], Compression::Gzip, &classifier, &nothing, 0);
            (s, std::sync::Arc::new(l.scan))
        })
        .collect();
    let from_tar = ImageFs::new(layers);
    assert_eq!(from_tar.walk_errors().count(), 0, "{:?}", from_tar.walk_errors().collect::<Vec<_>>());
    let visible = |fs: &ImageFs| {
        let mut v: Vec<(Vec<u8>, u16, EntryKind, u32, u32, u32)> =
            fs.visible_entries().map(|(l, e)| (e.path.to_vec(), l.layer, e.kind, e.mode, e.uid, e.gid)).collect();
        v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        v
    };
    assert_eq!(visible(&from_tar), visible(&walked));
    // Every entry of every layer: hidden by the same layer, or visible, both ways.
    let verdicts = |fs: &ImageFs| {
        let mut v: Vec<(usize, Vec<u8>, Option<usize>)> = Vec::new();
        for (li, layer) in fs.layers.iter().enumerate() {
            for (i, e) in layer.scan.entries.iter().enumerate() {
                v.push((li, e.path.to_vec(), fs.hidden_by(Loc { layer: li as u16, idx: i as u32 })));
            }
        }
        v.sort();
        v
    };
    assert_eq!(verdicts(&from_tar), verdicts(&walked));
    for gone in ["/a/del", "/o/old", "/x/inside", "/usr/bin/su-hardlink", "/w/old", "/d/sub/deep", "/srv/new", "/odd"] {
        let in_walk = walked.lookup(gone.as_bytes()).is_some();
        assert_eq!(from_tar.lookup(gone.as_bytes()).is_some(), in_walk, "{gone}");
    }
    assert!(from_tar.lookup(b"/a/del").is_some() && from_tar.lookup(b"/d/sub/deep").is_none());
    assert!(from_tar.lookup(b"/usr/bin/su").is_some() && from_tar.lookup(b"/srv/new").is_none());
}

/// Throughput on real layer blobs: `OCI_TAR_BENCH="blob1:gzip blob2:zstd" cargo test
/// --release --lib layers::tar::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let spec = std::env::var("OCI_TAR_BENCH").unwrap_or_default();
    for item in spec.split_whitespace() {
        let (path, kind) = item.rsplit_once(':').unwrap_or((item, "gzip"));
        let c = match kind {
            "zstd" => Compression::Zstd,
            "tar" => Compression::None,
            _ => Compression::Gzip,
        };
        let size = std::fs::metadata(path).unwrap().len();
        let mut best = f64::MAX;
        let mut last = None;
        for _ in 0..3 {
            let f = std::fs::File::open(path).unwrap();
            let start = std::time::Instant::now();
            let l = read_layer(f, c, &Setuid, &|p: &[u8]| p == b"/etc/passwd", 1 << 20);
            best = best.min(start.elapsed().as_secs_f64());
            last = Some(l);
        }
        let l = last.unwrap();
        assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
        let unpacked = l.scan.bytes as f64 / 1e6;
        println!(
            "{path}: {} entries, {:.1} MB blob, {unpacked:.1} MB of files: {:.3} s, \
             {:.0} MB/s of blob, {:.0} MB/s of files",
            l.scan.entries.len(),
            size as f64 / 1e6,
            best,
            size as f64 / 1e6 / best,
            unpacked / best
        );
    }
}

/// A capability in a PAX record reaches the file-capabilities rule, decoded; a malformed one
/// is a failing finding that says so; a later layer deleting a file makes it information.
#[test]
fn pax_capabilities_reach_the_file_capabilities_rule() {
    let v2_net_raw: &[u8] = b"\x01\x00\x00\x02\x00\x20\x00\x00\0\0\0\0\0\0\0\0\0\0\0\0";
    let mut raw = Raw::default();
    raw.dir("usr/", 0o755).dir("usr/bin/", 0o755);
    raw.pax(&[(b"SCHILY.xattr.security.capability", v2_net_raw)]).file("usr/bin/ping", 0o755, b"ping");
    raw.pax(&[(b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02cap")]).file("usr/bin/odd", 0o755, b"x");
    raw.pax(&[(b"SCHILY.xattr.security.capability", v2_net_raw)]).file("usr/bin/data", 0o644, b"x");
    raw.pax(&[(b"SCHILY.xattr.security.capability", v2_net_raw)]).file("usr/bin/gone", 0o755, b"x");
    let lower = raw.end();
    let upper = Raw::default().dir("usr/", 0o755).dir("usr/bin/", 0o755).file("usr/bin/.wh.gone", 0o644, b"").end();
    let img = Image::new(2);
    let classifier = crate::rules::Classifier::new(crate::rules::all(), &img.settings);
    let layers = img
        .sources()
        .into_iter()
        .zip([lower, upper])
        .map(|(s, tar)| {
            (s, std::sync::Arc::new(read_layer(&tar[..], Compression::None, &classifier, &nothing, 0).scan))
        })
        .collect();
    let fs = ImageFs::new(layers);
    let checks =
        crate::engine::run_checks(&img.reference, &img.inspect, &fs, &img.policy, &img.settings, crate::rules::all());
    let c = checks.iter().find(|c| c.id == "file-capabilities").unwrap();
    assert_eq!(c.status, crate::model::Status::Fail, "{}", c.description);
    let got: Vec<(&str, bool, &str)> =
        c.findings.iter().map(|f| (f.path.as_str(), f.violation, f.note.as_deref().unwrap_or(""))).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&("/usr/bin/ping", true, "cap_net_raw+ep")), "{got:?}");
    assert!(
        got.iter().any(|g| g.0 == "/usr/bin/odd" && g.1 && g.2.starts_with("malformed security.capability")),
        "{got:?}"
    );
    assert!(got.iter().any(|g| g.0 == "/usr/bin/gone" && !g.1 && g.2.contains("layer 2")), "{got:?}");
}

/// secret-files reads candidates of streamed layers, visible or not, from what was kept
/// while streaming: the same verdicts as on the walked layers.
#[test]
fn secret_file_candidates_are_captured_in_every_streamed_layer() {
    let img = crate::testutil::secret_files_image();
    let classifier = crate::rules::Classifier::new(crate::rules::all(), &img.settings);
    let layers: Vec<(LayerSource, std::sync::Arc<LayerScan>)> = img
        .sources()
        .into_iter()
        .map(|mut s| {
            let tar = gnu_tar(s.dir().unwrap(), &["--numeric-owner"]);
            let capture = |p: &[u8]| classifier.reads_content(p);
            let l = read_layer(&gzip(&tar)[..], Compression::Gzip, &classifier, &capture, crate::rules::MAX_FILE_READ);
            assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
            s.files = crate::layers::LayerFiles::Captured(std::sync::Arc::new(crate::layers::CapturedFiles {
                files: l.captured,
                hardlinks: l.hardlinks,
                over_budget: l.over_budget,
            }));
            (s, std::sync::Arc::new(l.scan))
        })
        .collect();
    let from_tar = ImageFs::new(layers);
    let run = |fs: &ImageFs| {
        let checks = crate::engine::run_checks(
            &img.reference,
            &img.inspect,
            fs,
            &img.policy,
            &img.settings,
            crate::rules::all(),
        );
        checks.into_iter().find(|c| c.id == "secret-files").unwrap()
    };
    let (streamed, walked) = (run(&from_tar), run(&img.fs()));
    assert_eq!(streamed.status, crate::model::Status::Fail, "{}", streamed.description);
    assert_eq!(streamed.description, walked.description);
    let verdicts = crate::testutil::secret_file_verdicts;
    assert_eq!(verdicts(&streamed), verdicts(&walked));
    let leaked = streamed.findings.iter().find(|f| f.path == "/tmp/leaked.pem").unwrap();
    assert!(!leaked.visible && leaked.violation, "the deleted key was read from its own layer");
}

/// 100k candidates must not all be held: past MAX_CAPTURED they are recorded as not kept,
/// and reading one is an error, never an empty file.
#[test]
fn candidate_capture_is_bounded_per_layer() {
    let body = vec![b'k'; 1 << 20];
    let mut raw = Raw::default();
    let n = (MAX_CAPTURED >> 20) as usize + 3;
    for i in 0..n {
        raw.file(&format!("keys/{i}.pem"), 0o600, &body);
    }
    raw.file("etc/passwd", 0o644, b"root:x:0:0::/:/bin/sh\n");
    let tar = raw.end();
    let all = |_: &[u8]| true;
    let l = read_layer(&tar[..], Compression::None, &Setuid, &all, 1 << 20);
    assert!(l.scan.errors.is_empty(), "{:?}", l.scan.errors);
    let held: usize = l.captured.values().map(Vec::len).sum();
    assert!(held as u64 <= MAX_CAPTURED, "{held}");
    assert_eq!(l.captured.len() + l.over_budget.len(), n + 1);
    assert!(l.over_budget.len() >= 3 && l.over_budget.contains(&b"/etc/passwd"[..]), "{}", l.over_budget.len());
    let source = LayerSource {
        number: 1,
        files: crate::layers::LayerFiles::Captured(std::sync::Arc::new(crate::layers::CapturedFiles {
            files: l.captured,
            hardlinks: l.hardlinks,
            over_budget: l.over_budget,
        })),
        diff_id: String::new(),
        created_by: String::new(),
        steps: Vec::new(),
    };
    let fs = ImageFs::new(vec![(source, std::sync::Arc::new(l.scan))]);
    let last = fs.lookup(format!("/keys/{}.pem", n - 1).as_bytes()).unwrap();
    let err = fs.read_entry(last, 1 << 20).unwrap_err();
    assert!(err.contains("exceeded 64 MiB"), "{err}");
    assert_eq!(fs.read_entry(fs.lookup(b"/keys/0.pem").unwrap(), 1 << 20).unwrap(), body);
}
