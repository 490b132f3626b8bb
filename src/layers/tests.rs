//! Overlay semantics on real layer trees built in temp dirs (needs root for whiteouts).

use super::*;
use crate::testutil::Image;

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
    assert_eq!(fs.entry(fs.lookup(b"/x").unwrap()).kind, Kind::File);
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
    sources[0].dir = img.dir.path().join("does-not-exist");
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
    let got: Vec<(usize, &str, &str, &str)> =
        s.iter().map(|l| (l.number, l.dir.to_str().unwrap(), l.diff_id.as_str(), l.created_by.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (1, "/s/a/diff", "sha256:a", "ADD a"),
            (2, "/s/b/diff", "sha256:b", "RUN b"),
            (3, "/s/c/diff", "sha256:c", "RUN c"),
            (4, "/s/d/diff", "sha256:d", "COPY d"),
        ]
    );
    let single = crate::inspect::parse(br#"[{"GraphDriver":{"Name":"overlay","Data":{"UpperDir":"/s/a/diff"}},"RootFS":{"Layers":["sha256:a"]}}]"#).unwrap();
    assert_eq!(layer_sources(&single).unwrap().len(), 1);
    let vfs = crate::inspect::parse(br#"[{"GraphDriver":{"Name":"vfs","Data":{}}}]"#).unwrap();
    assert!(layer_sources(&vfs).unwrap_err().contains("vfs"));
    let mismatch = crate::inspect::parse(br#"[{"GraphDriver":{"Name":"overlay","Data":{"UpperDir":"/s/a/diff"}},"RootFS":{"Layers":["sha256:a","sha256:b"]}}]"#).unwrap();
    assert!(layer_sources(&mismatch).is_err());
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
