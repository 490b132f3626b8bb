//! Overlay semantics on real layer trees built in temp dirs (needs root for whiteouts).

use super::*;
use crate::model::EntryKind;
use crate::testutil::Image;
use source::{layer_sources, LayerFiles};

fn visible(fs: &ImageFs, path: &str) -> bool {
    fs.lookup(path.as_bytes()).is_some()
}

/// (layer number, visible) of every entry with this path, bottom first.
fn copies(fs: &ImageFs, path: &str) -> Vec<(usize, bool)> {
    let mut v = Vec::new();
    for (li, l) in fs.layers.iter().enumerate() {
        for (i, e) in l.scan.entries.iter().enumerate() {
            if &e.path[..] == path.as_bytes() {
                v.push((li + 1, fs.is_visible(Loc { layer: li as u16, idx: i as u32 })));
            }
        }
    }
    v
}

#[test]
fn whiteout_device_hides_the_file_below() {
    let img = Image::new(2);
    img.layer(0).file("/a/keep", 0o644).file("/a/del", 0o644);
    img.layer(1).whiteout("/a/del");
    let fs = img.fs();
    assert!(visible(&fs, "/a/keep"));
    assert!(!visible(&fs, "/a/del"));
    assert_eq!(copies(&fs, "/a/del"), vec![(1, false), (2, false)]);
    let del = fs.layers[0].scan.entries.iter().position(|e| &e.path[..] == b"/a/del").unwrap();
    assert_eq!(fs.hidden_by(Loc { layer: 0, idx: del as u32 }), Some(1));
}

#[test]
fn whiteout_of_a_directory_hides_its_whole_subtree() {
    let img = Image::new(3);
    img.layer(0).file("/d/x/y/z", 0o644);
    img.layer(1).file("/d/x/w", 0o644);
    img.layer(2).whiteout("/d/x");
    let fs = img.fs();
    assert!(visible(&fs, "/d"));
    for p in ["/d/x", "/d/x/y", "/d/x/y/z", "/d/x/w"] {
        assert!(!visible(&fs, p), "{p}");
    }
}

#[test]
fn opaque_directory_hides_lower_contents_but_keeps_its_own() {
    let img = Image::new(3);
    img.layer(0).file("/d/old", 0o644).file("/d/sub/older", 0o644);
    img.layer(1).opaque("/d").file("/d/new", 0o644);
    img.layer(2).file("/d/newer", 0o644);
    let fs = img.fs();
    assert!(!visible(&fs, "/d/old"));
    assert!(!visible(&fs, "/d/sub/older"));
    assert!(visible(&fs, "/d/new"));
    assert!(visible(&fs, "/d/newer"));
    assert!(visible(&fs, "/d"));
}

#[test]
fn wh_files_are_whiteouts_too() {
    let img = Image::new(3);
    img.layer(0).file("/a/del", 0o644).file("/o/old", 0o644);
    img.layer(1).file("/a/.wh.del", 0o644).file("/o/.wh..wh..opq", 0o644).file("/o/new", 0o644);
    let fs = img.fs();
    assert!(!visible(&fs, "/a/del"));
    assert!(!visible(&fs, "/o/old"));
    assert!(visible(&fs, "/o/new"));
    // The marker files themselves are not entries of the image.
    assert!(fs.visible_entries().all(|(_, e)| !e.name().starts_with(b".wh.")));
}

#[test]
fn a_file_replacing_a_directory_hides_the_directory_contents() {
    let img = Image::new(2);
    img.layer(0).file("/x/inside", 0o644);
    img.layer(1).file("/x", 0o644);
    let fs = img.fs();
    assert!(visible(&fs, "/x"));
    assert!(!visible(&fs, "/x/inside"));
    assert_eq!(fs.entry(fs.lookup(b"/x").unwrap()).kind, EntryKind::File);
}

#[test]
fn a_changed_file_is_attributed_to_the_upper_layer() {
    let img = Image::new(2);
    img.layer(0).file("/bin/tool", 0o4755);
    img.layer(1).file("/bin/tool", 0o755);
    let fs = img.fs();
    assert_eq!(copies(&fs, "/bin/tool"), vec![(1, false), (2, true)]);
    assert_eq!(fs.entry(fs.lookup(b"/bin/tool").unwrap()).mode, 0o755);
}

#[test]
fn whiteout_then_recreate_is_visible() {
    let img = Image::new(3);
    img.layer(0).file("/f", 0o644);
    img.layer(1).whiteout("/f");
    img.layer(2).file("/f", 0o600);
    let fs = img.fs();
    assert_eq!(copies(&fs, "/f"), vec![(1, false), (2, false), (3, true)]);
}

#[test]
fn symlinks_resolve_inside_the_image_never_on_the_host() {
    let img = Image::new(2);
    img.layer(0)
        .file_with("/usr/lib/os-release", 0o644, b"NAME=Image\n")
        .link("/etc/os-release", "../usr/lib/os-release")
        .link("/etc/passwd", "/etc/passwd.real")
        .file_with("/etc/passwd.real", 0o644, b"app:x:7:7::/:/bin/sh\n")
        .link("/loop/a", "b")
        .link("/loop/b", "a")
        .link("/escape", "../../../../../../etc/hostname")
        .link("/bin", "usr/bin")
        .file("/usr/bin/tool", 0o755);
    let fs = img.fs();
    assert_eq!(fs.read_file(b"/etc/os-release", 1024).unwrap().unwrap(), b"NAME=Image\n");
    assert_eq!(fs.read_file(b"/etc/passwd", 1024).unwrap().unwrap(), b"app:x:7:7::/:/bin/sh\n");
    assert_eq!(fs.resolve(b"/loop/a", true), Err(ResolveError::TooManyLinks));
    // ".." stops at the image root, so this is /etc/hostname of the image: absent.
    assert_eq!(fs.read_file(b"/escape", 1024).unwrap(), None);
    assert_eq!(fs.resolve(b"/bin/tool", true).unwrap().0, b"/usr/bin/tool");
    assert_eq!(fs.resolve_dir(b"/bin").unwrap(), b"/usr/bin");
}

#[test]
fn absolute_symlink_to_host_file_reads_the_image_file_or_nothing() {
    let img = Image::new(1);
    img.layer(0).link("/etc/passwd", "/etc/passwd");
    let fs = img.fs();
    assert!(std::path::Path::new("/etc/passwd").exists(), "the host has one");
    assert_eq!(fs.resolve(b"/etc/passwd", true), Err(ResolveError::TooManyLinks));
    // A loop inside the image is no file, exactly like a dangling link: never the host's.
    assert_eq!(fs.read_file(b"/etc/passwd", 1 << 20), Ok(None));
}

#[test]
fn non_utf8_and_control_names_are_walked() {
    let img = Image::new(1);
    img.layer(0).file(b"/odd/\xff\xfename", 0o4755).file(b"/odd/new\nline\x1b[31m", 0o644);
    let fs = img.fs();
    assert!(visible(&fs, "/odd"));
    assert!(fs.lookup(b"/odd/\xff\xfename").is_some());
    assert!(fs.lookup(b"/odd/new\nline\x1b[31m").is_some());
}

#[test]
fn unreadable_layer_is_an_error_not_an_empty_layer() {
    let img = Image::new(1);
    let mut sources = img.sources();
    sources[0].files = LayerFiles::Dir(img.dir.path().join("does-not-exist"));
    let fs = scan(sources, &crate::rules::Classifier::new(&[], &Default::default()), 1);
    assert_eq!(fs.walk_errors().count(), 1);
}

#[test]
fn layer_sources_order_and_attribution() {
    let json = br#"[{"GraphDriver":{"Name":"overlay","Data":{"LowerDir":"/s/c/diff:/s/b/diff:/s/a/diff","UpperDir":"/s/d/diff"}},
        "RootFS":{"Layers":["sha256:a","sha256:b","sha256:c","sha256:d"]},
        "History":[{"created_by":"ADD a"},{"created_by":"ENV x=1","empty_layer":true},{"created_by":"RUN b"},{"created_by":"RUN c"},{"created_by":"COPY d"}]}]"#;
    let img = crate::inspect::parse(json).unwrap();
    let s = layer_sources(&img).unwrap();
    let got: Vec<(usize, &str, &str, &str)> = s
        .iter()
        .map(|l| (l.number, l.dir().unwrap().to_str().unwrap(), l.diff_id.as_str(), l.created_by.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "/s/a/diff", "sha256:a", "ADD a"),
            (2, "/s/b/diff", "sha256:b", "RUN b"),
            (3, "/s/c/diff", "sha256:c", "RUN c"),
            (4, "/s/d/diff", "sha256:d", "COPY d"),
        ]
    );
    let single = crate::inspect::parse(
        br#"[{"GraphDriver":{"Name":"overlay","Data":{"UpperDir":"/s/a/diff"}},"RootFS":{"Layers":["sha256:a"]}}]"#,
    )
    .unwrap();
    assert_eq!(layer_sources(&single).unwrap().len(), 1);
    let vfs = crate::inspect::parse(br#"[{"GraphDriver":{"Name":"vfs","Data":{}}}]"#).unwrap();
    assert!(layer_sources(&vfs).unwrap_err().contains("vfs"));
    let mismatch = crate::inspect::parse(br#"[{"GraphDriver":{"Name":"overlay","Data":{"UpperDir":"/s/a/diff"}},"RootFS":{"Layers":["sha256:a","sha256:b"]}}]"#).unwrap();
    assert!(layer_sources(&mismatch).is_err());
}

/// vfs-style layers: each directory a full copy of the one below (`cp -a` keeps modes,
/// owners and timestamps, as the vfs driver's copy does) plus this layer's changes.
struct Snapshots {
    dir: tempfile::TempDir,
    count: usize,
}

impl Snapshots {
    fn new() -> Snapshots {
        Snapshots { dir: tempfile::tempdir().unwrap(), count: 0 }
    }

    fn root(&self, n: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("s{n}"))
    }

    /// Start the next snapshot as a copy of the previous one.
    fn next(&mut self) -> crate::testutil::Tree {
        let root = self.root(self.count);
        if self.count > 0 {
            let st =
                std::process::Command::new("cp").arg("-a").arg(self.root(self.count - 1)).arg(&root).status().unwrap();
            assert!(st.success());
        }
        self.count += 1;
        crate::testutil::Tree::new(self.dir.path(), &format!("s{}", self.count - 1))
    }

    fn fs(&self) -> ImageFs {
        let sources = (0..self.count)
            .map(|i| LayerSource {
                number: i + 1,
                files: LayerFiles::Dir(self.root(i)),
                diff_id: String::new(),
                created_by: String::new(),
                steps: Vec::new(),
            })
            .collect();
        let classifier = crate::rules::Classifier::new(crate::rules::all(), &Default::default());
        scan_layout(Layout { format: LayerFormat::Snapshot, layers: sources }, &classifier, 2)
    }
}

/// Set a file's mtime to a fixed second, as layers unpacked from tar files have.
fn touch(root: &std::path::Path, rel: &str, secs: i64) {
    let p = root.join(rel.trim_start_matches('/'));
    let t = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(None, &p, &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink).unwrap();
}

#[test]
fn vfs_snapshots_become_layer_diffs() {
    let mut s = Snapshots::new();
    let l1 = s.next();
    l1.file("/a/keep", 0o644).file("/a/del", 0o644).file("/d/x", 0o644).file("/d/sub/y", 0o644);
    l1.file_with("/bin/su", 0o4755, b"one").file("/x", 0o644).file("/x2/in", 0o644).file("/same", 0o644);
    for f in ["/bin/su", "/a/keep"] {
        touch(&l1.root, f, 1_000_000);
    }
    let l2 = s.next();
    std::fs::remove_file(l2.root.join("a/del")).unwrap();
    std::fs::remove_dir_all(l2.root.join("d")).unwrap();
    l2.file("/d/new", 0o644);
    // Rewritten within the same second, same size and mode: only the content tells.
    l2.file_with("/bin/su", 0o4755, b"two");
    touch(&l2.root, "/bin/su", 1_000_000);
    std::fs::remove_dir_all(l2.root.join("x2")).unwrap();
    l2.file("/x2", 0o644);
    let l3 = s.next();
    l3.file_with("/a/keep", 0o600, b"replaced");
    l3.file("/d/x", 0o755);

    let fs = s.fs();
    assert_eq!(copies(&fs, "/a/del"), vec![(1, false), (2, false)]);
    assert_eq!(
        fs.entry(
            fs.layers[1]
                .scan
                .entries
                .iter()
                .position(|e| &e.path[..] == b"/a/del")
                .map(|i| Loc { layer: 1, idx: i as u32 })
                .unwrap()
        )
        .kind,
        EntryKind::Whiteout
    );
    // Where overlay would mark /d opaque, the comparison says "x and sub went away".
    assert_eq!(copies(&fs, "/d/x"), vec![(1, false), (2, false), (3, true)]);
    assert_eq!(copies(&fs, "/d/sub"), vec![(1, false), (2, false)]);
    assert_eq!(copies(&fs, "/d/sub/y"), vec![(1, false)]);
    assert_eq!(copies(&fs, "/d/new"), vec![(2, true)]);
    assert_eq!(copies(&fs, "/bin/su"), vec![(1, false), (2, true)]);
    assert_eq!(copies(&fs, "/a/keep"), vec![(1, false), (3, true)]);
    assert_eq!(copies(&fs, "/same"), vec![(1, true)]);
    assert_eq!(copies(&fs, "/x2/in"), vec![(1, false)]);
    assert_eq!(copies(&fs, "/x2"), vec![(1, false), (2, true)]);
    // Only what changed (and the directories leading to it) is in an upper layer.
    let paths = |l: usize| -> Vec<String> {
        let mut v: Vec<String> =
            fs.layers[l].scan.entries.iter().map(|e| String::from_utf8_lossy(&e.path).into_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(paths(2), vec!["/a", "/a/keep", "/d", "/d/x"]);
    // Content comes from the final image.
    assert_eq!(fs.read_file(b"/a/keep", 100).unwrap().unwrap(), b"replaced");
    assert_eq!(fs.read_file(b"/bin/su", 100).unwrap().unwrap(), b"two");
    assert_eq!(fs.walk_errors().count(), 0);
}

/// setcap changes no mtime, size or mode: a vfs snapshot that only adds or removes a
/// capability still makes the file a change of that layer.
#[test]
fn vfs_snapshots_see_capability_only_changes() {
    let mut s = Snapshots::new();
    let l1 = s.next();
    l1.file("/usr/bin/ping", 0o755).file("/usr/bin/other", 0o755);
    let l2 = s.next();
    l2.setcap("/usr/bin/ping", "cap_net_raw+ep");
    let l3 = s.next();
    let st = std::process::Command::new("setcap").arg("-r").arg(l3.root.join("usr/bin/ping")).status().unwrap();
    assert!(st.success());
    let fs = s.fs();
    assert_eq!(copies(&fs, "/usr/bin/ping"), vec![(1, false), (2, false), (3, true)]);
    assert_eq!(copies(&fs, "/usr/bin/other"), vec![(1, true)]);
    let with_caps: Vec<usize> = fs.layers.iter().map(|l| l.scan.capabilities.len()).collect();
    assert_eq!(with_caps, [0, 1, 0]);
}

#[test]
fn vfs_and_overlay_forms_of_one_image_agree() {
    // The same history stored both ways must give the same visible entries.
    let mut s = Snapshots::new();
    s.next().file("/etc/passwd", 0o644).file("/usr/bin/sudo", 0o4755).file("/tmp/t", 0o644);
    let l2 = s.next();
    std::fs::remove_file(l2.root.join("usr/bin/sudo")).unwrap();
    l2.file("/usr/bin/newgrp", 0o2755);
    let vfs = s.fs();

    let img = Image::new(2);
    img.layer(0).file("/etc/passwd", 0o644).file("/usr/bin/sudo", 0o4755).file("/tmp/t", 0o644);
    img.layer(1).whiteout("/usr/bin/sudo").file("/usr/bin/newgrp", 0o2755);
    let ovl = img.fs();
    let visible = |fs: &ImageFs| {
        let mut v: Vec<(Vec<u8>, u16, u32)> =
            fs.visible_entries().map(|(l, e)| (e.path.to_vec(), l.layer, e.mode)).collect();
        v.sort();
        v
    };
    // Directory copy-ups differ by nature (overlay records /usr/bin in layer 2 only as a
    // parent, vfs too); files and their layers must not.
    let files = |fs: &ImageFs| {
        visible(fs)
            .into_iter()
            .filter(|(p, _, _)| fs.lookup(p).map(|l| fs.entry(l).kind) == Some(EntryKind::File))
            .collect::<Vec<_>>()
    };
    assert_eq!(files(&vfs), files(&ovl));
    assert_eq!(copies(&vfs, "/usr/bin/sudo"), copies(&ovl, "/usr/bin/sudo"));
}

#[test]
fn aufs_style_markers_and_meta_entries() {
    let img = Image::new(2);
    img.layer(0).file("/a/del", 0o644).file("/o/old", 0o644);
    img.layer(1).file("/a/.wh.del", 0o000).file("/o/.wh..wh..opq", 0o755).file("/o/new", 0o644);
    img.layer(1).file("/.wh..wh.plnk/123.456", 0o644).file("/.wh..wh.aufs", 0o644);
    let fs = img.fs();
    assert!(!visible(&fs, "/a/del"));
    assert!(!visible(&fs, "/o/old"));
    assert!(visible(&fs, "/o/new"));
    assert!(
        fs.layers[1].scan.entries.iter().all(|e| !e.path.starts_with(b"/.wh")),
        "AUFS bookkeeping is not image content"
    );
}

#[test]
fn fuse_overlayfs_opaque_xattr_is_honoured() {
    let img = Image::new(2);
    img.layer(0).file("/d/old", 0o644);
    img.layer(1).dir("/d", 0o755).file("/d/new", 0o644);
    let d = img.layer(1).root.join("d");
    let c = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()).unwrap();
    let r = unsafe {
        libc::setxattr(
            c.as_ptr(),
            b"user.fuseoverlayfs.opaque\0".as_ptr() as *const libc::c_char,
            b"y".as_ptr() as *const libc::c_void,
            1,
            0,
        )
    };
    assert_eq!(r, 0, "user xattrs on the temp dir's filesystem");
    let fs = img.fs();
    assert!(!visible(&fs, "/d/old"));
    assert!(visible(&fs, "/d/new"));
}

#[test]
fn force_mask_layers_take_owners_from_the_xattr_and_cannot_pass() {
    let img = Image::new(1);
    img.layer(0).file("/bin/tool", 0o755);
    let set = |p: &std::path::Path, v: &str| {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        let r = unsafe {
            libc::lsetxattr(c.as_ptr(), c"user.containers.override_stat".as_ptr(), v.as_ptr().cast(), v.len(), 0)
        };
        assert_eq!(r, 0, "user xattrs on the temp dir's filesystem");
    };
    let root = &img.layer(0).root;
    set(root, "0:0:0755");
    set(&root.join("bin"), "0:0:040755");
    set(&root.join("bin/tool"), "1000:50:02750:file");
    let fs = img.fs();
    let e = fs.entry(fs.lookup(b"/bin/tool").unwrap());
    assert_eq!((e.uid, e.gid, e.mode), (1000, 50, 0o2750));
    assert_eq!(fs.entry(fs.lookup(b"/bin").unwrap()).mode, 0o755);
    let errors: Vec<&str> = fs.walk_errors().collect();
    assert!(errors.len() == 1 && errors[0].contains("force_mask"), "{errors:?}");
}

/// Removes the whole layer directory when the walk reports `/a`, as a `podman rmi` beside
/// the scan would.
struct Vanish {
    root: std::path::PathBuf,
}

impl Classify for Vanish {
    fn classify(&self, e: &Entry) -> u64 {
        if &e.path[..] == b"/a" {
            std::fs::remove_dir_all(&self.root).unwrap();
        }
        0
    }
}

#[test]
fn a_layer_vanishing_during_the_walk_is_an_error() {
    let img = Image::new(1);
    img.layer(0).file("/a/b/c", 0o644).file("/a/d", 0o644).file("/z/y", 0o644);
    let root = img.layer(0).root.clone();
    let scan = walk::walk_layer(&root, &Vanish { root: root.clone() });
    // Open directories of a deleted tree read as empty: the walk itself sees no error.
    let last = scan.errors.last().expect("an error");
    assert_eq!(last, &format!("layer directory {} vanished during the walk", root.display()));
}

/// A layer with a bit of everything a walk records: nested and sibling directories, hits
/// for several rules, symlinks, whiteouts of both kinds, an xattr-opaque directory and an
/// opaque marker file inside a directory that another thread may walk, and a chain of
/// directories nested past MAX_DEPTH (errors that must keep their place).
fn rich_layer(t: &crate::testutil::Tree, salt: u32) {
    for d in 0..12 {
        for f in 0..(5 + d * 3) {
            t.file(format!("/srv/d{d}/sub{}/f{f}", f % 3), if f == 4 { 0o4755 } else { 0o644 });
        }
        t.link(format!("/srv/d{d}/latest"), format!("sub0/f{salt}"));
        // Capabilities in every directory a thread may take: they must stitch back in place.
        let cap = [0x0200_0001u32, 1 << d, 0, 0, 0].iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
        t.xattr(format!("/srv/d{d}/sub1/f4"), "security.capability", &cap);
    }
    t.file("/usr/bin/gcc", 0o755).file("/usr/bin/su", 0o4755).file("/usr/sbin/sshd", 0o755);
    t.whiteout("/usr/bin/old").file("/usr/lib/.wh.gone", 0o644);
    t.opaque("/opt/replaced").file("/opt/replaced/x", 0o2755);
    t.file("/var/marked/.wh..wh..opq", 0o644).file("/var/marked/inner/y", 0o644);
    // Relative mkdirat: the full path is far longer than PATH_MAX.
    let mut fd = nix::fcntl::open(&t.root, nix::fcntl::OFlag::O_DIRECTORY, nix::sys::stat::Mode::empty()).unwrap();
    for _ in 0..(walk::MAX_DEPTH + 3) {
        nix::sys::stat::mkdirat(Some(fd), "n", nix::sys::stat::Mode::from_bits_truncate(0o755)).unwrap();
        let next =
            nix::fcntl::openat(Some(fd), "n", nix::fcntl::OFlag::O_DIRECTORY, nix::sys::stat::Mode::empty()).unwrap();
        nix::unistd::close(fd).unwrap();
        fd = next;
    }
    nix::unistd::close(fd).unwrap();
}

fn rich_image() -> Image {
    let img = Image::new(3);
    rich_layer(img.layer(0), 1);
    rich_layer(img.layer(1), 2);
    img.layer(2).file("/only/top", 0o644);
    img
}

#[test]
fn threads_sharing_directories_give_exactly_the_single_thread_walk() {
    let img = rich_image();
    let sources = img.sources();
    let roots: Vec<&std::path::Path> = sources.iter().map(|s| s.dir().unwrap()).collect();
    let classifier = crate::rules::Classifier::new(crate::rules::all(), &img.settings);
    let alone: Vec<(LayerScan, Vec<entry::Stamp>)> = roots
        .iter()
        .map(|r| walk::walk_layers(&[r], &classifier, 1, true, walk::Split::Always).pop().unwrap())
        .collect();
    // Every directory handed to another thread: the most stitching there can be.
    let shared = walk::walk_layers(&roots, &classifier, 3, true, walk::Split::Always);
    assert_eq!(alone.len(), shared.len());
    for (a, s) in alone.iter().zip(&shared) {
        assert_eq!(a.0.entries, s.0.entries);
        assert_eq!(a.0.hashes, s.0.hashes);
        assert_eq!(a.0.hits, s.0.hits);
        assert_eq!(a.0.errors, s.0.errors);
        assert_eq!(a.0.bytes, s.0.bytes);
        assert_eq!(a.0.capabilities, s.0.capabilities);
        assert_eq!(a.1, s.1);
    }
    let idle = walk::walk_layers(&roots, &classifier, 2, true, walk::Split::Balanced);
    assert!(alone.iter().zip(&idle).all(|(a, i)| a == i));

    // And what that walk is: parents before children, the marker's directory opaque, the
    // deep chain cut at MAX_DEPTH with one error, hits for su and the setuid files.
    let scan = &shared[0].0;
    for (i, e) in scan.entries.iter().enumerate() {
        if e.parent != entry::NO_PARENT {
            let p = &scan.entries[e.parent as usize];
            assert!((e.parent as usize) < i && p.kind == EntryKind::Dir, "{:?}", e);
            assert_eq!(&e.path[..p.path.len()], &p.path[..]);
        }
    }
    let find = |p: &[u8]| scan.entries.iter().find(|e| &e.path[..] == p).unwrap();
    assert!(find(b"/var/marked").opaque && find(b"/opt/replaced").opaque && !find(b"/var").opaque);
    assert_eq!(find(b"/usr/lib/gone").kind, EntryKind::Whiteout);
    assert_eq!(scan.errors.len(), 1, "{:?}", scan.errors);
    assert!(scan.errors[0].contains("nested deeper than 2048"));
    let hit_paths: Vec<&[u8]> = scan.hits.iter().map(|&(i, _)| &scan.entries[i as usize].path[..]).collect();
    assert!(hit_paths.contains(&&b"/usr/bin/su"[..]) && hit_paths.contains(&&b"/srv/d11/sub1/f4"[..]));
    assert_eq!(shared[2].0.entries.len(), 2);
    let caps: Vec<(&[u8], u8)> =
        scan.capabilities.iter().map(|(i, v)| (&scan.entries[*i as usize].path[..], v[4])).collect();
    assert_eq!(caps.len(), 12, "{caps:?}");
    assert!(caps.contains(&(&b"/srv/d3/sub1/f4"[..], 1 << 3)), "{caps:?}");
}

/// xorshift64: the same "random" layers on every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

/// A small random layer over four names and three levels, so that layers collide a lot:
/// files (some setuid), directories, opaque directories (xattr or marker file) and
/// whiteouts (device or `.wh.` file). Kept consistent the way a real layer is: a path is
/// made once, and only below directories.
fn random_layer(t: &crate::testutil::Tree, layer: usize, rng: &mut Rng) {
    // A name of this layer's own gives directories no other layer has (private subtrees).
    let own = format!("/u{layer}");
    let names = ["/a", "/b", "/c", own.as_str()];
    let mut is_dir: std::collections::BTreeMap<String, bool> = Default::default();
    for _ in 0..rng.below(12) + 2 {
        let depth = rng.below(3) + 1;
        let path: String = (0..depth).map(|_| names[rng.below(4) as usize]).collect();
        let ancestors: Vec<String> = path.match_indices('/').skip(1).map(|(i, _)| path[..i].to_string()).collect();
        if ancestors.iter().any(|a| is_dir.get(a) == Some(&false)) {
            continue;
        }
        let op = rng.below(7);
        if is_dir.contains_key(&path) {
            // Only an existing directory of this layer can still be made opaque.
            if op == 3 && is_dir[&path] {
                t.opaque(&path);
            }
            continue;
        }
        for a in ancestors {
            is_dir.entry(a).or_insert(true);
        }
        let (last_slash, _) = path.rmatch_indices('/').next().unwrap();
        let dir = is_dir.insert(path.clone(), false).is_some();
        match op {
            0 | 1 => {
                t.file(&path, if rng.below(4) == 0 { 0o4755 } else { 0o644 });
            }
            2 => {
                t.dir(&path, 0o755);
                is_dir.insert(path, true);
            }
            3 => {
                t.opaque(&path);
                is_dir.insert(path, true);
            }
            4 => {
                t.whiteout(&path);
            }
            5 => {
                t.file(format!("{}/.wh.{}", &path[..last_slash], &path[last_slash + 1..]), 0o644);
            }
            _ => {
                t.file(format!("{path}/.wh..wh..opq"), 0o644);
                is_dir.insert(path, true);
            }
        }
        assert!(!dir);
    }
}

/// The final image as a naive model computes it: apply the layers bottom up, each entry in
/// walk order (a directory before what is in it).
fn model(fs: &ImageFs) -> std::collections::BTreeMap<Vec<u8>, Loc> {
    let mut m: std::collections::BTreeMap<Vec<u8>, Loc> = Default::default();
    let remove_below = |m: &mut std::collections::BTreeMap<Vec<u8>, Loc>, p: &[u8]| {
        let mut prefix = p.to_vec();
        prefix.push(b'/');
        m.retain(|k, _| !k.starts_with(&prefix));
    };
    for (li, layer) in fs.layers.iter().enumerate() {
        for (i, e) in layer.scan.entries.iter().enumerate() {
            let loc = Loc { layer: li as u16, idx: i as u32 };
            let p = e.path.to_vec();
            let replaces_below = match m.get(&p) {
                Some(&below) => e.kind != EntryKind::Dir || fs.entry(below).kind != EntryKind::Dir,
                None => e.kind != EntryKind::Dir,
            };
            if replaces_below || e.opaque {
                remove_below(&mut m, &p);
            }
            if e.kind == EntryKind::Whiteout {
                m.remove(&p);
            } else {
                m.insert(p, loc);
            }
        }
    }
    m
}

#[test]
fn merge_agrees_with_a_naive_model_on_random_layers() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..250 {
        let layers = 2 + rng.below(3) as usize;
        let img = Image::new(layers);
        for l in 0..layers {
            random_layer(img.layer(l), l, &mut rng);
        }
        let fs = img.fs();
        let want = model(&fs);
        let mut paths: std::collections::BTreeSet<Vec<u8>> =
            [b"/a/z".to_vec(), b"/zz".to_vec(), b"/a/b/c/d".to_vec()].into();
        for (li, layer) in fs.layers.iter().enumerate() {
            for (i, e) in layer.scan.entries.iter().enumerate() {
                let loc = Loc { layer: li as u16, idx: i as u32 };
                let visible = want.get(&e.path[..]) == Some(&loc);
                assert_eq!(
                    fs.is_visible(loc),
                    visible,
                    "round {round}: {} in layer {}",
                    String::from_utf8_lossy(&e.path),
                    li + 1
                );
                if !visible {
                    let by = fs.hidden_by(loc).expect("a hidden entry names the layer that hid it");
                    assert!(by >= li, "round {round}: hidden by a lower layer");
                }
                paths.insert(e.path.to_vec());
                paths.insert([&e.path[..], b"/zz"].concat());
            }
        }
        for p in &paths {
            assert_eq!(fs.lookup(p), want.get(p).copied(), "round {round}: lookup {}", String::from_utf8_lossy(p));
        }
    }
}

/// Records which threads classified entries.
struct Threads(std::sync::Mutex<std::collections::HashSet<std::thread::ThreadId>>);

impl Classify for Threads {
    fn classify(&self, _: &Entry) -> u64 {
        self.0.lock().unwrap().insert(std::thread::current().id());
        0
    }
}

#[test]
fn one_big_layer_is_shared_between_threads() {
    let img = Image::new(1);
    for d in 0..200 {
        for f in 0..20 {
            img.layer(0).file(format!("/app/m{}/d{d}/f{f}", d % 10), 0o644);
        }
    }
    let root = img.layer(0).root.clone();
    let threads = Threads(Default::default());
    let shared = walk::walk_layers(&[root.as_path()], &threads, 2, false, walk::Split::Balanced);
    assert_eq!(threads.0.lock().unwrap().len(), 2, "both threads walked part of the layer");
    let alone = walk::walk_layer(&root, &Threads(Default::default()));
    assert_eq!(shared[0].0, alone);
    assert_eq!(alone.entries.len(), 1 + 10 + 200 + 4000);
}

#[test]
fn a_layer_names_the_steps_that_change_files() {
    let json = br#"[{"GraphDriver":{"Name":"overlay","Data":{"LowerDir":"/s/a/diff","UpperDir":"/s/b/diff"}},
        "RootFS":{"Layers":["sha256:a","sha256:b"]},
        "History":[{"created_by":"/bin/sh -c #(nop) ARG V","empty_layer":true},{"created_by":"/bin/sh -c #(nop) CMD [\"x\"]"},
            {"created_by":"/bin/sh -c #(nop) COPY dir:1 in / ","empty_layer":true},{"created_by":"RUN make","empty_layer":true},
            {"created_by":"/bin/sh -c #(nop) USER 1001"}]}]"#;
    let img = crate::inspect::parse(json).unwrap();
    let s = layer_sources(&img).unwrap();
    // Only config steps: all of them.
    assert_eq!(s[0].created_by, "/bin/sh -c #(nop) ARG V; then /bin/sh -c #(nop) CMD [\"x\"]");
    assert_eq!(s[1].created_by, "/bin/sh -c #(nop) COPY dir:1 in / ; then RUN make");
    assert_eq!(s[1].steps.len(), 3);
}
