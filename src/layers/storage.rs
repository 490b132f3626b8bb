//! containers/storage's own records, for drivers whose layer directories `podman image
//! inspect` does not report (vfs gives `GraphDriver.Data: null`):
//! `<store>/<driver>-images/images.json` names an image's top layer,
//! `<store>/<driver>-layers/layers.json` gives each layer's parent and diff digest, and
//! vfs keeps a layer's files in `<store>/vfs/dir/<layer id>`. Layer IDs are read, never
//! derived; the chain found must match the image's RootFS diff IDs one to one.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct ImageRecord {
    id: String,
    #[serde(default)]
    layer: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    digests: Vec<String>,
}

#[derive(Deserialize)]
struct LayerRecord {
    id: String,
    #[serde(default)]
    parent: String,
    #[serde(default, rename = "diff-digest")]
    diff_digest: String,
}

fn read_records<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, String> {
    match std::fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("cannot parse {}: {e}", path.display())),
        // A store that never held an image or layer has no file yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The layer directories of image `image_id`, bottom to top, searched in `stores` (the
/// writable store first, as containers/storage searches them).
pub fn layer_dirs(
    driver: &str,
    stores: &[PathBuf],
    image_id: &str,
    diff_ids: &[String],
) -> Result<Vec<PathBuf>, String> {
    let id = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    let searched = || stores.iter().map(|s| s.display().to_string()).collect::<Vec<_>>().join(", ");
    let mut top = None;
    for store in stores {
        let images: Vec<ImageRecord> = read_records(&store.join(format!("{driver}-images/images.json")))?;
        if let Some(img) = images.into_iter().find(|i| i.id == id) {
            top = Some(img.layer);
            break;
        }
    }
    let top = top.ok_or_else(|| format!("image {id} is not recorded in any {driver} store ({})", searched()))?;
    // Layers of every store, first store winning, as containers/storage looks them up.
    let mut layers: HashMap<String, (LayerRecord, &Path)> = HashMap::new();
    for store in stores {
        for l in read_records::<LayerRecord>(&store.join(format!("{driver}-layers/layers.json")))? {
            layers.entry(l.id.clone()).or_insert((l, store.as_path()));
        }
    }
    let mut chain: Vec<(&LayerRecord, &Path)> = Vec::new();
    let mut next = top;
    while !next.is_empty() {
        if chain.len() > diff_ids.len() {
            return Err(format!("image {id} has more layers in storage than the {} in its RootFS", diff_ids.len()));
        }
        let (rec, store) = layers.get(&next).ok_or_else(|| {
            format!("layer {next} of image {id} is not recorded in any {driver} store ({})", searched())
        })?;
        chain.push((rec, store));
        next = rec.parent.clone();
    }
    chain.reverse();
    if chain.len() != diff_ids.len() {
        return Err(format!(
            "image {id} has {} RootFS layers but storage lists {} layers",
            diff_ids.len(),
            chain.len()
        ));
    }
    let mut dirs = Vec::with_capacity(chain.len());
    for (i, ((rec, store), want)) in chain.iter().zip(diff_ids).enumerate() {
        if !rec.diff_digest.is_empty() && rec.diff_digest != *want {
            return Err(format!(
                "layer {} of image {id} has diff digest {} in storage but {want} in its RootFS (layer {})",
                rec.id,
                rec.diff_digest,
                i + 1
            ));
        }
        dirs.push(store.join(driver).join("dir").join(&rec.id));
    }
    Ok(dirs)
}

/// An image found in the store's records by name.
#[derive(Debug, PartialEq, Eq)]
pub struct NamedImage {
    pub diff_ids: Vec<String>,
    pub digest: String,
}

/// The image of `store` named `repo` (with `tag`, or at `digest`), read from the records
/// podman itself reads, without a podman process: a base image's layers while the scan's
/// store lock is held (podman, which may want the store's write lock, would wait for it).
/// Ok(None): no image of the store carries the name (another store podman knows of might).
/// Err: one does but not at that tag or digest, or its records are inconsistent.
pub fn find_named(
    driver: &str,
    store: &Path,
    repo: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> Result<Option<NamedImage>, String> {
    let images: Vec<ImageRecord> = read_records(&store.join(format!("{driver}-images/images.json")))?;
    let carries = |n: &str| n.strip_prefix(repo).is_some_and(|rest| rest.starts_with([':', '@']));
    let named: Vec<&ImageRecord> = images.iter().filter(|i| i.names.iter().any(|n| carries(n))).collect();
    if named.is_empty() {
        return Ok(None);
    }
    let want = |i: &&&ImageRecord| match (digest, tag) {
        (Some(d), _) => i.digest == d || i.digests.iter().any(|x| x == d),
        (None, Some(t)) => i.names.iter().any(|n| n.strip_prefix(repo).and_then(|r| r.strip_prefix(':')) == Some(t)),
        (None, None) => i.names.iter().any(|n| n.strip_prefix(repo) == Some(":latest")),
    };
    let Some(img) = named.iter().find(want) else {
        let at = digest.map(|d| format!("@{d}")).or(tag.map(|t| format!(":{t}"))).unwrap_or_else(|| ":latest".into());
        return Err(format!("local storage holds {repo}, but not {repo}{at}"));
    };
    let layers: HashMap<String, LayerRecord> =
        read_records::<LayerRecord>(&store.join(format!("{driver}-layers/layers.json")))?
            .into_iter()
            .map(|l| (l.id.clone(), l))
            .collect();
    let mut diff_ids = Vec::new();
    let mut next = img.layer.clone();
    while !next.is_empty() {
        let rec = layers.get(&next).ok_or_else(|| format!("layer {next} of image {} is not recorded", img.id))?;
        // A parent loop in damaged records must not spin forever.
        if diff_ids.len() > layers.len() || rec.diff_digest.is_empty() {
            return Err(format!("the layer records of image {} are inconsistent", img.id));
        }
        diff_ids.push(rec.diff_digest.clone());
        next = rec.parent.clone();
    }
    diff_ids.reverse();
    Ok(Some(NamedImage { diff_ids, digest: img.digest.clone() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn follows_the_parent_chain_across_stores() {
        let d = tempfile::tempdir().unwrap();
        let (rw, ro) = (d.path().join("rw"), d.path().join("ro"));
        write(&rw.join("vfs-images/images.json"), r#"[{"id":"other","layer":"x"}]"#);
        write(&rw.join("vfs-layers/layers.json"), "");
        write(&ro.join("vfs-images/images.json"), r#"[{"id":"img","layer":"l3","names":["a"]}]"#);
        write(
            &ro.join("vfs-layers/layers.json"),
            r#"[{"id":"l1","diff-digest":"sha256:a"},{"id":"l2","parent":"l1","diff-digest":"sha256:b"},
                {"id":"l3","parent":"l2","diff-digest":"sha256:c","created":"x"}]"#,
        );
        let stores = vec![rw.clone(), ro.clone()];
        let ids: Vec<String> = ["sha256:a", "sha256:b", "sha256:c"].map(String::from).to_vec();
        let dirs = layer_dirs("vfs", &stores, "sha256:img", &ids).unwrap();
        assert_eq!(dirs, vec![ro.join("vfs/dir/l1"), ro.join("vfs/dir/l2"), ro.join("vfs/dir/l3")]);

        let wrong: Vec<String> = ["sha256:a", "sha256:X", "sha256:c"].map(String::from).to_vec();
        assert!(layer_dirs("vfs", &stores, "img", &wrong).unwrap_err().contains("sha256:X"));
        assert!(layer_dirs("vfs", &stores, "img", &ids[..2]).is_err());
        let e = layer_dirs("vfs", &stores, "nope", &ids).unwrap_err();
        assert!(e.contains(&ro.display().to_string()), "{e}");
        write(&rw.join("vfs-images/images.json"), "{broken");
        assert!(layer_dirs("vfs", &stores, "img", &ids).unwrap_err().contains("images.json"));
    }

    #[test]
    fn finds_a_named_image_and_its_layers_in_the_records() {
        let d = tempfile::tempdir().unwrap();
        let st = d.path();
        write(
            &st.join("overlay-images/images.json"),
            r#"[{"id":"i1","layer":"l2","names":["localhost/base:1"],"digest":"sha256:m1"},
                {"id":"i2","layer":"l1","digest":"sha256:m2","digests":["sha256:m2","sha256:m3"]},
                {"id":"i3","layer":"l1","names":["localhost/base-other:1"],"digest":"sha256:m4"}]"#,
        );
        write(
            &st.join("overlay-layers/layers.json"),
            r#"[{"id":"l1","diff-digest":"sha256:a"},{"id":"l2","parent":"l1","diff-digest":"sha256:b"}]"#,
        );
        let want = NamedImage { diff_ids: vec!["sha256:a".into(), "sha256:b".into()], digest: "sha256:m1".into() };
        assert_eq!(find_named("overlay", st, "localhost/base", Some("1"), None).unwrap(), Some(want));
        let by_digest = find_named("overlay", st, "localhost/base", None, Some("sha256:m1")).unwrap().unwrap();
        assert_eq!(by_digest.diff_ids.len(), 2);
        // The unnamed image at that digest is not the base: the name must be carried.
        let e = find_named("overlay", st, "localhost/base", None, Some("sha256:m3")).unwrap_err();
        assert!(e.contains("not localhost/base@sha256:m3"), "{e}");
        assert!(find_named("overlay", st, "localhost/base", Some("2"), None).is_err());
        // "base" is no prefix match for "base-other", and a name no image carries is None.
        assert_eq!(find_named("overlay", st, "localhost/nothing", Some("1"), None).unwrap(), None);
        assert_eq!(find_named("overlay", st, "localhost/bas", Some("1"), None).unwrap(), None);
        // A parent loop in damaged records ends in an error.
        write(&st.join("overlay-layers/layers.json"), r#"[{"id":"l2","parent":"l2","diff-digest":"sha256:b"}]"#);
        assert!(find_named("overlay", st, "localhost/base", Some("1"), None).unwrap_err().contains("inconsistent"));
    }
}
