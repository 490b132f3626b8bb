//! Images built without a runtime (buildah from + copy + config + commit, one commit per
//! layer; deletions and mode changes through a mount of the working container), pushed to
//! the test registry.

use super::env::{env, Scratch};
use super::registry::{creds, repo};
use super::store::Store;
use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// Write `data` to `path` (parents created) with `mode`.
pub fn write_file(path: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------------------
// One layer
// ---------------------------------------------------------------------------------------

/// What goes into one committed layer.
#[derive(Default)]
pub struct Commit<'a> {
    /// Copied to `/` first.
    pub tree: Option<&'a Path>,
    /// Then run on the working container's mount (deletions make whiteouts).
    pub edit: Option<&'a dyn Fn(&Path)>,
    /// `buildah config` arguments (raw bytes allowed), applied before the commit.
    pub config: Vec<&'a OsStr>,
    /// Extra `buildah commit` flags.
    pub commit_flags: Vec<&'a str>,
}

/// A working container, removed when dropped unless a commit removed it (so also when the
/// test panics half-way).
struct WorkingContainer<'s> {
    store: &'s Store,
    name: String,
    committed: bool,
}

impl Drop for WorkingContainer<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.store.run("buildah", &["rm", &self.name]);
        }
    }
}

/// `buildah from <from>`, then what `c` says, then `buildah commit` as `target`; returns the
/// new image's ID. The working container is removed whatever happens.
pub fn commit_layer(store: &Store, from: &str, target: &str, c: Commit) -> String {
    let name = store.buildah(&["from", "--pull=never", from]);
    let mut ctr = WorkingContainer { store, name, committed: false };
    if let Some(tree) = c.tree {
        store.buildah(&[
            OsStr::new("copy"),
            OsStr::new("-q"),
            OsStr::new(&ctr.name),
            tree.as_os_str(),
            OsStr::new("/"),
        ]);
    }
    if let Some(edit) = c.edit {
        let merged = PathBuf::from(store.buildah(&["mount", &ctr.name]));
        edit(&merged);
        store.buildah(&["umount", &ctr.name]);
    }
    if !c.config.is_empty() {
        let mut args = vec![OsStr::new("config")];
        args.extend(&c.config);
        args.push(OsStr::new(&ctr.name));
        store.buildah(&args);
    }
    let mut commit = vec!["commit", "-q", "--rm"];
    commit.extend(&c.commit_flags);
    commit.extend([ctr.name.as_str(), target]);
    let id = store.buildah(&commit);
    ctr.committed = true;
    id
}

/// `buildah from scratch` + copy of `tree` + `buildah config` + commit as `name`; the image ID.
/// With a healthcheck in `config`, committed in the docker format, the only one that carries it.
pub fn build_tree(store: &Store, name: &str, tree: &Path, config: &[(&str, &[u8])]) -> String {
    let commit_flags =
        if config.iter().any(|(flag, _)| *flag == "--healthcheck") { vec!["--format", "docker"] } else { vec![] };
    let config = config.iter().flat_map(|(flag, value)| [OsStr::new(flag), OsStr::from_bytes(value)]).collect();
    commit_layer(store, "scratch", name, Commit { tree: Some(tree), config, commit_flags, ..Commit::default() })
}

/// One more layer: mount a container of `from` (as root), change files, commit as `to`.
pub fn edit_layer(store: &Store, from: &str, to: &str, edit: impl Fn(&Path)) -> String {
    commit_layer(store, from, to, Commit { edit: Some(&edit), ..Commit::default() })
}

/// Removes a local image when dropped (also when the test panics).
pub struct LocalImage<'s> {
    pub name: String,
    store: &'s Store,
}

impl<'s> LocalImage<'s> {
    pub fn new(store: &'s Store, name: &str) -> LocalImage<'s> {
        LocalImage { name: name.to_string(), store }
    }
}

impl Drop for LocalImage<'_> {
    fn drop(&mut self) {
        let _ = self.store.run("podman", &["rmi", "--force", &self.name]);
    }
}

/// The layer directory podman reports for `image` (overlay's UpperDir).
pub fn upper_dir(store: &Store, image: &str) -> PathBuf {
    PathBuf::from(store.podman(&["image", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", image]))
}

// ---------------------------------------------------------------------------------------
// Images described as data
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub enum Node {
    File { path: String, mode: u32, content: Vec<u8> },
    Dir { path: String, mode: u32 },
    Symlink { path: String, target: String },
}

pub fn file(path: &str, mode: u32, content: &str) -> Node {
    Node::File { path: path.into(), mode, content: content.as_bytes().to_vec() }
}
pub fn dir(path: &str, mode: u32) -> Node {
    Node::Dir { path: path.into(), mode }
}
pub fn link(path: &str, target: &str) -> Node {
    Node::Symlink { path: path.into(), target: target.into() }
}
/// A small executable shell script.
pub fn exe(path: &str) -> Node {
    file(path, 0o755, "#!/bin/sh\nexit 0\n")
}

#[derive(Debug, Clone, Default)]
pub struct LayerSpec {
    pub created_by: String,
    pub add: Vec<Node>,
    /// Paths deleted (through the overlay mount, so the layer gets whiteouts).
    pub remove: Vec<String>,
}

pub fn layer(created_by: &str, add: Vec<Node>) -> LayerSpec {
    LayerSpec { created_by: created_by.into(), add, remove: Vec::new() }
}

#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    pub layers: Vec<LayerSpec>,
    /// `buildah config` arguments applied before the final commit.
    pub config: Vec<String>,
    /// false: commit with `--identity-label=false` (no io.buildah.version label).
    pub identity_label: bool,
}

impl ImageSpec {
    pub fn new(layers: Vec<LayerSpec>) -> ImageSpec {
        ImageSpec { layers, config: Vec::new(), identity_label: true }
    }
    pub fn config(mut self, args: &[&str]) -> ImageSpec {
        self.config.extend(args.iter().map(|s| s.to_string()));
        self
    }
    pub fn no_identity_label(mut self) -> ImageSpec {
        self.identity_label = false;
        self
    }
}

fn write_tree(root: &Path, nodes: &[Node]) {
    for n in nodes {
        let rel = |p: &str| root.join(p.trim_start_matches('/'));
        match n {
            Node::File { path, mode, content } => write_file(&rel(path), content, *mode),
            Node::Dir { path, mode } => {
                let p = rel(path);
                fs::create_dir_all(&p).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
            }
            Node::Symlink { path, target } => {
                let p = rel(path);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                symlink(target, &p).unwrap();
            }
        }
    }
}

/// Build `spec` into `store` as `name` (one commit per layer); returns the image ID.
pub fn build_scratch(store: &Store, name: &str, spec: &ImageSpec) -> String {
    let mut from = "scratch".to_string();
    let n = spec.layers.len();
    let mut id = String::new();
    for (i, l) in spec.layers.iter().enumerate() {
        let ctx = Scratch::new("ctx");
        write_tree(ctx.path(), &l.add);
        let remove = |merged: &Path| {
            for r in &l.remove {
                let p = merged.join(r.trim_start_matches('/'));
                let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("cannot remove {r}: {e}"));
                if md.is_dir() {
                    fs::remove_dir_all(&p).unwrap();
                } else {
                    fs::remove_file(&p).unwrap();
                }
            }
        };
        let mut config = vec![OsStr::new("--created-by"), OsStr::new(&l.created_by)];
        if i + 1 == n {
            config.extend(spec.config.iter().map(OsStr::new));
        }
        let target = if i + 1 == n { name.to_string() } else { format!("{name}-layer{}", i + 1) };
        let commit = Commit {
            tree: (!l.add.is_empty()).then(|| ctx.path()),
            edit: (!l.remove.is_empty()).then_some(&remove as &dyn Fn(&Path)),
            config,
            commit_flags: {
                let mut f = if spec.identity_label { vec![] } else { vec!["--identity-label=false"] };
                // Only the docker format carries a healthcheck.
                if i + 1 == n && spec.config.iter().any(|c| c == "--healthcheck") {
                    f.extend(["--format", "docker"]);
                }
                f
            },
        };
        id = commit_layer(store, &from, &target, commit);
        from = target;
    }
    id
}

// ---------------------------------------------------------------------------------------
// Pushed images
// ---------------------------------------------------------------------------------------

impl Store {
    /// Push a local image to the test registry as `repo:tag` with explicit credentials
    /// (never a login); returns the manifest digest the registry stored.
    pub fn push(&self, local: &str, repo: &str, tag: &str) -> String {
        self.push_to(local, &format!("{}/{repo}:{tag}", env().registry))
    }

    /// Push a local image to `dest` (`registry/repo:tag`) on the test registry; returns the
    /// manifest digest the registry stored.
    pub fn push_to(&self, local: &str, dest: &str) -> String {
        let dir = Scratch::new("digest");
        let digest_file = dir.path().join("digest");
        let creds = creds();
        let digest_arg = digest_file.to_str().unwrap();
        self.podman(&["push", "-q", "--tls-verify=false", "--creds", &creds, "--digestfile", digest_arg, local, dest]);
        let d = fs::read_to_string(&digest_file).unwrap().trim().to_string();
        assert!(d.starts_with("sha256:") && d.len() == 71, "unexpected digest {d:?} from podman push");
        d
    }
}

/// An image pushed to the test registry.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `127.0.0.1:5055/ocic-it/<run>/<name>` (no tag)
    pub repo: String,
    pub tag: String,
    pub digest: String,
    pub id: String,
    /// RootFS.Layers of the built image, bottom to top.
    pub diff_ids: Vec<String>,
    /// created_by of the History entries that made a layer, bottom to top.
    pub layer_history: Vec<String>,
}

impl Pushed {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repo, self.digest)
    }
}

/// `podman build` (or `buildah build`: `tool`) of the Containerfile `cf` in `context` as
/// `local`, with layers and no network, then push it under `name`:1.
pub fn build_file_and_push(store: &Store, tool: &str, cf: &Path, context: &Path, local: &str, name: &str) -> Pushed {
    let mut args = vec!["build", "--layers"];
    if tool == "podman" {
        args.push("--pull=never");
    }
    args.extend(["--network=none", "-q", "-f", cf.to_str().unwrap(), "-t", local, context.to_str().unwrap()]);
    match tool {
        "podman" => store.podman(&args),
        _ => store.buildah(&args),
    };
    let id = store.inspect(local)["Id"].as_str().unwrap().to_string();
    push_all(store, local, name, &id, &["1"])
}

/// Build a scratch image in a throw-away store, push it under `name` with `tags` (the first
/// one is the image's main tag) and forget it locally.
pub fn build_and_push(name: &str, spec: &ImageSpec, tags: &[&str]) -> Pushed {
    let store = Store::new(&format!("build-{}", name.replace('/', "-")));
    let local = format!("localhost/{}:{}", repo(name), tags[0]);
    let id = build_scratch(&store, &local, spec);
    push_all(&store, &local, name, &id, tags)
}

pub fn push_all(store: &Store, local: &str, name: &str, id: &str, tags: &[&str]) -> Pushed {
    let e = env();
    let inspect = store.inspect(local);
    assert_eq!(inspect["Id"].as_str(), Some(id), "built image id");
    let mut digest = String::new();
    for (i, t) in tags.iter().enumerate() {
        let d = store.push(local, &repo(name), t);
        if i == 0 {
            digest = d;
        } else {
            assert_eq!(d, digest, "the same manifest pushed under another tag");
        }
    }
    Pushed {
        repo: format!("{}/{}", e.registry, repo(name)),
        tag: tags[0].to_string(),
        digest,
        id: id.to_string(),
        diff_ids: strings(&inspect["RootFS"]["Layers"]),
        layer_history: inspect["History"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
            .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
            .collect(),
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// An oracle over a root filesystem on disk (independent of the scanner)
// ---------------------------------------------------------------------------------------

/// Absolute in-image paths of regular files under `root` with any of `bits` (no symlink
/// is followed).
pub fn files_with_mode_bits(root: &Path, bits: u32) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            let md = entry.path().symlink_metadata().unwrap();
            if md.is_dir() {
                stack.push(entry.path());
            } else if md.is_file() && md.permissions().mode() & bits != 0 {
                out.insert(format!("/{}", entry.path().strip_prefix(root).unwrap().display()));
            }
        }
    }
    out
}
