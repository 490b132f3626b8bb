//! A bounded summary of the final image's file tree, for reviewers who want to see what an
//! image is made of. Every directory carries recursive counts and sizes, so the totals are
//! exact whatever is left out; what is *shown* is capped:
//!
//! - directories are taken breadth first (shallow before deep, by name within a level) up
//!   to `max_dirs`, and none deeper than `max_depth` below `/`;
//! - a shown directory lists its files (every non-directory entry) only if it has at most
//!   `max_files_per_dir` of them and the overall `max_files` is not used up, again breadth
//!   first. Anything not shown is counted in its parent (`hidden_dirs`, `hidden_files`).
//!
//! So a 500k-file image costs at most `max_dirs` + `max_files` nodes in the report.

use crate::layers::ImageFs;
use crate::model::{EntryKind, FileTree, TreeDir, TreeFile, TreeLimits};
use std::collections::{HashMap, VecDeque};

/// One visible entry of the final image, as the tree builder needs it.
pub struct TreeEntry<'a> {
    pub path: &'a [u8],
    pub kind: EntryKind,
    pub mode: u32,
    pub size: u64,
    pub layer: usize,
    pub link: Option<&'a [u8]>,
}

struct Node<'a> {
    name: &'a [u8],
    depth: usize,
    layer: usize,
    subdirs: Vec<usize>,
    /// The directory's own non-directory entries, kept only while they could still be
    /// listed (at most `max_files_per_dir`): a 500k-file image keeps a few thousand.
    files: Vec<usize>,
    own_files: u64,
    own_size: u64,
    dirs_below: u64,
    files_below: u64,
    size_below: u64,
}

impl<'a> Node<'a> {
    fn new(name: &'a [u8], depth: usize) -> Self {
        Node {
            name,
            depth,
            layer: 0,
            subdirs: Vec::new(),
            files: Vec::new(),
            own_files: 0,
            own_size: 0,
            dirs_below: 0,
            files_below: 0,
            size_below: 0,
        }
    }
}

/// The tree of the final image as `fs` shows it.
pub fn from_image(fs: &ImageFs, limits: TreeLimits) -> FileTree {
    build(
        fs.visible_entries().map(|(loc, e)| TreeEntry {
            path: &e.path,
            kind: e.kind,
            mode: e.mode,
            size: e.size,
            layer: fs.layers[loc.layer as usize].source.number,
            link: e.link.as_deref(),
        }),
        limits,
    )
}

pub fn build<'a>(entries: impl Iterator<Item = TreeEntry<'a>>, limits: TreeLimits) -> FileTree {
    let mut nodes: Vec<Node<'a>> = vec![Node::new(b"/", 0)];
    let mut by_path: HashMap<&'a [u8], usize> = HashMap::new();
    let mut files: Vec<TreeEntry<'a>> = Vec::new();
    // Siblings arrive together (each layer is walked depth first): remembering the last
    // parent saves a lookup per file.
    let mut last_parent: Option<(&'a [u8], usize)> = None;
    for e in entries {
        let path = trim_slashes(e.path);
        if path.is_empty() {
            continue;
        }
        if e.kind == EntryKind::Dir {
            let n = dir_node(&mut nodes, &mut by_path, path);
            // Entries come bottom layer first: the last one seen is the one shown.
            nodes[n].layer = e.layer;
        } else if e.kind != EntryKind::Whiteout {
            let dir = match path.iter().rposition(|&b| b == b'/') {
                Some(i) => &path[..i],
                None => &path[..0],
            };
            let parent = match last_parent {
                Some((p, n)) if p == dir => n,
                _ => dir_node(&mut nodes, &mut by_path, dir),
            };
            last_parent = Some((dir, parent));
            let node = &mut nodes[parent];
            node.own_files += 1;
            node.own_size += regular_size(&e);
            if node.own_files <= limits.max_files_per_dir as u64 {
                node.files.push(files.len());
                files.push(e);
            } else if !node.files.is_empty() {
                node.files = Vec::new();
            }
        }
    }
    // Children always have larger indices than their parents: sum bottom up.
    for i in (0..nodes.len()).rev() {
        let (mut d, mut f, mut s) = (nodes[i].subdirs.len() as u64, nodes[i].own_files, nodes[i].own_size);
        for &c in &nodes[i].subdirs {
            d += nodes[c].dirs_below;
            f += nodes[c].files_below;
            s += nodes[c].size_below;
        }
        nodes[i].dirs_below = d;
        nodes[i].files_below = f;
        nodes[i].size_below = s;
    }
    for i in 0..nodes.len() {
        let mut subdirs = std::mem::take(&mut nodes[i].subdirs);
        subdirs.sort_by(|&a, &b| nodes[a].name.cmp(nodes[b].name));
        nodes[i].subdirs = subdirs;
    }

    // Breadth first: choose the directories to show, then whose files to list.
    let mut shown = vec![false; nodes.len()];
    let mut order = Vec::new();
    let mut queue = VecDeque::from([0usize]);
    shown[0] = true;
    while let Some(n) = queue.pop_front() {
        order.push(n);
        for &c in &nodes[n].subdirs {
            if order.len() + queue.len() < limits.max_dirs + 1 && nodes[c].depth <= limits.max_depth {
                shown[c] = true;
                queue.push_back(c);
            }
        }
    }
    let mut listed = vec![false; nodes.len()];
    let mut shown_files = 0usize;
    for &n in &order {
        let k = nodes[n].own_files as usize;
        if k > 0 && k <= limits.max_files_per_dir && shown_files + k <= limits.max_files {
            listed[n] = true;
            shown_files += k;
            let mut fl = std::mem::take(&mut nodes[n].files);
            fl.sort_by(|&a, &b| name_of(files[a].path).cmp(name_of(files[b].path)));
            nodes[n].files = fl;
        }
    }
    let mut dirs = Vec::with_capacity(order.len());
    emit(&nodes, &files, &shown, &listed, &mut dirs);
    let total_dirs = nodes[0].dirs_below;
    let total_files = nodes[0].files_below;
    FileTree {
        limits,
        total_dirs,
        total_files,
        total_size: nodes[0].size_below,
        shown_dirs: order.len() as u64 - 1,
        shown_files: shown_files as u64,
        truncated: order.len() as u64 - 1 < total_dirs || (shown_files as u64) < total_files,
        dirs,
    }
}

/// Depth-first over the shown directories, with an explicit stack.
fn emit(nodes: &[Node], files: &[TreeEntry], shown: &[bool], listed: &[bool], out: &mut Vec<TreeDir>) {
    let mut stack: Vec<(usize, String)> = vec![(0, "/".to_string())];
    while let Some((n, path)) = stack.pop() {
        let node = &nodes[n];
        let visible: Vec<usize> = node.subdirs.iter().copied().filter(|&c| shown[c]).collect();
        for &c in visible.iter().rev() {
            let name = crate::escape::bytes(nodes[c].name);
            let p = if n == 0 { format!("/{name}") } else { format!("{path}/{name}") };
            stack.push((c, p));
        }
        let entries: Vec<TreeFile> = if listed[n] {
            node.files
                .iter()
                .map(|&f| {
                    let e = &files[f];
                    TreeFile {
                        name: crate::escape::bytes(name_of(e.path)),
                        kind: e.kind,
                        permissions: e.kind.permissions(e.mode),
                        size: e.size,
                        layer: e.layer,
                        link_target: e.link.map(crate::escape::bytes),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        out.push(TreeDir {
            path,
            depth: node.depth,
            layer: node.layer,
            dirs: node.dirs_below,
            files: node.files_below,
            size: node.size_below,
            hidden_dirs: (node.subdirs.len() - visible.len()) as u64,
            hidden_files: node.own_files - entries.len() as u64,
            entries,
        });
    }
}

fn dir_node<'a>(nodes: &mut Vec<Node<'a>>, by_path: &mut HashMap<&'a [u8], usize>, path: &'a [u8]) -> usize {
    if path.is_empty() {
        return 0;
    }
    if let Some(&n) = by_path.get(path) {
        return n;
    }
    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (dir_node(nodes, by_path, &path[..i]), &path[i + 1..]),
        None => (0, path),
    };
    let n = nodes.len();
    nodes.push(Node::new(name, nodes[parent].depth + 1));
    nodes[parent].subdirs.push(n);
    by_path.insert(path, n);
    n
}

fn trim_slashes(p: &[u8]) -> &[u8] {
    let start = p.iter().position(|&b| b != b'/').unwrap_or(p.len());
    let end = p.iter().rposition(|&b| b != b'/').map(|i| i + 1).unwrap_or(start);
    &p[start..end.max(start)]
}

fn name_of(p: &[u8]) -> &[u8] {
    let p = trim_slashes(p);
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

fn regular_size(e: &TreeEntry) -> u64 {
    if e.kind == EntryKind::File {
        e.size
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &'static str, kind: EntryKind, size: u64) -> TreeEntry<'static> {
        TreeEntry { path: path.as_bytes(), kind, mode: 0o644, size, layer: 1, link: None }
    }

    fn sample() -> Vec<TreeEntry<'static>> {
        vec![
            entry("/etc", EntryKind::Dir, 0),
            entry("/etc/passwd", EntryKind::File, 100),
            entry("/etc/group", EntryKind::File, 50),
            entry("/usr", EntryKind::Dir, 0),
            entry("/usr/bin", EntryKind::Dir, 0),
            entry("/usr/bin/sh", EntryKind::File, 1000),
            entry("/usr/bin/bash", EntryKind::Symlink, 2),
            entry("/usr/share/doc/a/copyright", EntryKind::File, 10),
        ]
    }

    #[test]
    fn counts_are_recursive_and_sorted() {
        let t = build(sample().into_iter(), TreeLimits::default());
        assert_eq!((t.total_dirs, t.total_files, t.total_size), (6, 5, 1160));
        assert!(!t.truncated);
        let order: Vec<(&str, usize)> = t.dirs.iter().map(|d| (d.path.as_str(), d.depth)).collect();
        assert_eq!(
            order,
            [
                ("/", 0),
                ("/etc", 1),
                ("/usr", 1),
                ("/usr/bin", 2),
                ("/usr/share", 2),
                ("/usr/share/doc", 3),
                ("/usr/share/doc/a", 4)
            ]
        );
        let usr = &t.dirs[2];
        assert_eq!((usr.dirs, usr.files, usr.size, usr.name()), (4, 3, 1010, "usr"));
        let bin: Vec<&str> = t.dirs[3].entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(bin, ["bash", "sh"]);
    }

    #[test]
    fn limits_bound_the_output_but_not_the_totals() {
        let limits = TreeLimits { max_dirs: 2, max_files: 3, max_files_per_dir: 2, max_depth: 16 };
        let t = build(sample().into_iter(), limits);
        assert!(t.truncated);
        assert_eq!((t.total_dirs, t.total_files), (6, 5));
        assert_eq!(t.shown_dirs, 2);
        assert_eq!(t.dirs.len(), 3);
        // etc has 2 files (listed); usr's subdirectories are not shown.
        assert_eq!(t.dirs[1].entries.len(), 2);
        assert_eq!(t.dirs[2].hidden_dirs, 2);
        assert!(t.shown_files <= 3);
    }

    #[test]
    fn a_directory_over_the_per_dir_limit_is_counted_not_listed() {
        // Files of one directory interleaved with another's, and more of them than can be listed.
        let e = [
            entry("/a/3", EntryKind::File, 30),
            entry("/b/1", EntryKind::File, 7),
            entry("/a/1", EntryKind::File, 10),
            entry("/a/2", EntryKind::File, 20),
            entry("/b/0", EntryKind::Symlink, 2),
        ];
        let limits = TreeLimits { max_files_per_dir: 2, ..TreeLimits::default() };
        let t = build(e.into_iter(), limits);
        let a = t.dirs.iter().find(|d| d.path == "/a").unwrap();
        assert_eq!((a.files, a.size, a.hidden_files, a.entries.len()), (3, 60, 3, 0));
        let b = t.dirs.iter().find(|d| d.path == "/b").unwrap();
        let names: Vec<&str> = b.entries.iter().map(|f| f.name.as_str()).collect();
        assert_eq!((b.files, b.size, b.hidden_files, names), (2, 7, 0, vec!["0", "1"]));
        assert_eq!((t.total_files, t.shown_files, t.total_size), (5, 2, 67));
    }

    #[test]
    fn half_a_million_files_stay_small() {
        let paths: Vec<String> = (0..500_000).map(|i| format!("/data/d{}/e{}/f{i}", i % 700, i % 13)).collect();
        let entries = paths.iter().map(|p| TreeEntry {
            path: p.as_bytes(),
            kind: EntryKind::File,
            mode: 0o644,
            size: 1,
            layer: 2,
            link: None,
        });
        let t = build(entries, TreeLimits::default());
        assert_eq!(t.total_files, 500_000);
        assert_eq!(t.total_size, 500_000);
        let json = serde_json::to_vec_pretty(&t).unwrap();
        assert!(json.len() < 700_000, "{} bytes", json.len());
        assert!(t.shown_dirs as usize <= TreeLimits::default().max_dirs);
    }

    #[test]
    fn depth_is_capped() {
        let deep: String = (0..40).map(|i| format!("/d{i}")).collect();
        let t = build(
            [TreeEntry { path: deep.as_bytes(), kind: EntryKind::File, mode: 0o644, size: 5, layer: 1, link: None }]
                .into_iter(),
            TreeLimits::default(),
        );
        let d = t.dirs.last().unwrap();
        assert_eq!(d.depth, TreeLimits::default().max_depth);
        assert_eq!(d.hidden_dirs, 1);
        let json = serde_json::to_string_pretty(&t).unwrap();
        assert!(json.lines().all(|l| l.len() - l.trim_start().len() <= 10), "the JSON stays shallow");
        assert_eq!(t.total_files, 1);
    }

    #[test]
    fn built_from_the_merged_image() {
        let img = crate::testutil::Image::new(2);
        img.layer(0).dir("/etc", 0o755).file("/etc/a", 0o644).file("/etc/gone", 0o644).file("/opt/x/y", 0o755);
        img.layer(1).whiteout("/etc/gone").file_with("/etc/b", 0o4755, b"12345").opaque("/opt");
        let t = from_image(&img.fs(), TreeLimits::default());
        let etc = t.dirs.iter().find(|d| d.path == "/etc").unwrap();
        let files: Vec<(&str, usize, &str)> =
            etc.entries.iter().map(|e| (e.name.as_str(), e.layer, e.permissions.as_str())).collect();
        assert_eq!(files, [("a", 1, "-rw-r--r--"), ("b", 2, "-rwsr-xr-x")]);
        assert_eq!(etc.size, 6);
        let opt = t.dirs.iter().find(|d| d.path == "/opt").unwrap();
        assert_eq!((opt.dirs, opt.files, opt.layer), (0, 0, 2), "the opaque /opt hides x/y");
    }

    #[test]
    fn names_are_escaped() {
        let t = build(
            [TreeEntry {
                path: b"/x/<b>\n\xff",
                kind: EntryKind::File,
                mode: 0o644,
                size: 1,
                layer: 1,
                link: Some(b"\x1b"),
            }]
            .into_iter(),
            TreeLimits::default(),
        );
        let f = &t.dirs[1].entries[0];
        assert_eq!(f.name, "<b>\\x0a\\xff");
        assert_eq!(f.link_target.as_deref(), Some("\\x1b"));
    }
}
