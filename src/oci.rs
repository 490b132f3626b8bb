//! What `skopeo copy` left on disk, read back: an OCI image layout's `index.json` → the image
//! manifest (OCI or Docker v2 schema 2) → the image config, as the same [`ImageInspect`] podman
//! gives (so the engine needs no second code path), plus the ordered layer blobs with their
//! diff ids. Also the tag an archive records for its image ([`archive_tag`]).
//!
//! Everything read is checked against what refers to it: the manifest's and the config's size
//! and sha256 digest against their descriptors, each layer file's size against the manifest.
//! Layer digests are not recomputed here: skopeo verifies every blob it copies against its
//! digest, and the tar reader streams each layer anyway.

use crate::exit::Failure;
use crate::inspect::{History, ImageConfig, ImageInspect, RootFs};
use crate::model::ErrorKind;
use crate::reference::{ImageRef, Transport};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The annotation of an OCI index entry that names the image (a tag, or a full name).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// containers/image refuses manifests and configs larger than this (iolimits); so do we.
const MAX_MANIFEST: u64 = 4 << 20;
const MAX_CONFIG: u64 = 4 << 20;

/// One layer of the image, bottom first: the blob file as fetched and the digest of its
/// uncompressed tar from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// `sha256:…` of the blob as stored (the manifest's layer digest).
    pub digest: String,
    /// As the manifest gives it. Not always the truth: skopeo 1.9.3 copying a docker archive
    /// to an OCI layout labels its uncompressed layers `tar+gzip`.
    pub media_type: String,
    /// The compression the media type declares; the reader goes by the blob's first bytes
    /// (`layers::tar`) and only names this one in errors. None for a media type that is not
    /// a layer this tool knows: the checks that read files must then be errors.
    pub compression: Option<Compression>,
    /// Bytes of the blob file (checked against the manifest).
    pub size: u64,
    /// The blob file.
    pub path: PathBuf,
    /// `sha256:…` of the uncompressed layer tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

pub use crate::layers::tar::Compression;

/// The compression a layer media type declares (OCI, OCI non-distributable, Docker,
/// Docker foreign); None for a type that is not a tar layer.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    Compression::from_media_type(media_type).ok()
}

/// An image read from a layout.
#[derive(Debug, Clone)]
pub struct LayoutImage {
    /// Config and identity as podman's inspect gives them. `Id` is the config digest's hex
    /// (podman's image ID), `Digest` the digest of the manifest in the layout (the caller
    /// replaces it with the registry's when skopeo converted the manifest), `Size` the sum of
    /// the layer blob sizes (compressed: the uncompressed size is known only once the tar
    /// reader has streamed the layers). RepoTags/RepoDigests are left to the caller.
    pub inspect: ImageInspect,
    pub layers: Vec<LayerBlob>,
    /// `sha256:…` of the manifest bytes in the layout.
    pub manifest_digest: String,
    pub manifest_media_type: String,
    /// `sha256:…` of the config blob.
    pub config_digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    size: i64,
    #[serde(default, deserialize_with = "nullable")]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default, deserialize_with = "nullable")]
    layers: Vec<Descriptor>,
    /// Present only in an index; a manifest has none.
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    annotations: BTreeMap<String, String>,
}

/// The OCI / Docker image config. Its `config` object has the same keys as podman's
/// inspect `Config` (User, ExposedPorts, Env, Entrypoint, Cmd, Labels, WorkingDir; a docker
/// config's also Healthcheck, which podman shows beside `Config`), and its history entries the
/// same as podman's History.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    #[serde(deserialize_with = "nullable")]
    created: String,
    #[serde(deserialize_with = "nullable")]
    architecture: String,
    #[serde(deserialize_with = "nullable")]
    os: String,
    #[serde(deserialize_with = "nullable")]
    variant: String,
    #[serde(deserialize_with = "nullable")]
    config: ImageConfig,
    rootfs: Option<ConfigRootFs>,
    #[serde(deserialize_with = "nullable")]
    history: Vec<History>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigRootFs {
    #[serde(rename = "type", deserialize_with = "nullable")]
    kind: String,
    #[serde(deserialize_with = "nullable")]
    diff_ids: Vec<String>,
}

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn unusable(msg: impl Into<String>) -> Failure {
    Failure::new(ErrorKind::InspectFailed, msg)
}

/// The hex of a `sha256:` digest, validated (it becomes a file name).
fn sha256_hex(digest: &str) -> Result<&str, String> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
            Ok(hex)
        }
        Some((algo, _)) if algo != "sha256" => Err(format!("unsupported digest algorithm in {digest:?}")),
        _ => Err(format!("malformed digest {:?}", crate::escape::text(digest))),
    }
}

fn blob_path(blobs: &Path, digest: &str) -> Result<PathBuf, String> {
    Ok(blobs.join("sha256").join(sha256_hex(digest)?))
}

/// Read a small blob whole, checking its size and sha256 against the descriptor.
fn read_verified(blobs: &Path, d: &Descriptor, what: &str, limit: u64) -> Result<Vec<u8>, String> {
    let path = blob_path(blobs, &d.digest).map_err(|e| format!("{what}: {e}"))?;
    if d.size < 0 || d.size as u64 > limit {
        return Err(format!("{what} {} has an unusable size {} (limit {limit} bytes)", d.digest, d.size));
    }
    let mut data = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut data))
        .map_err(|e| format!("cannot read {what} {}: {e}", d.digest))?;
    if data.len() as u64 != d.size as u64 {
        return Err(format!("{what} {} is {} bytes, its descriptor says {}", d.digest, data.len(), d.size));
    }
    let actual = format!("sha256:{}", crate::sha256::hex(&data));
    if actual != d.digest {
        return Err(format!("{what} {} does not match its digest (its content is {actual})", d.digest));
    }
    Ok(data)
}

/// Read the image of an OCI layout. `blobs` is the blob directory (the shared one skopeo was
/// given with `--dest-shared-blob-dir`), by default `LAYOUT/blobs`. The layout must hold one
/// image manifest, or `name` picks the entry whose `org.opencontainers.image.ref.name` it is.
/// Anything unusable (no or several manifests, an index where an image is expected, a bad
/// media type, digest or size, a config that is not a container image config, diff ids that
/// do not match the layers) is `InspectFailed`.
pub fn read_layout(layout: &Path, blobs: Option<&Path>, name: Option<&str>) -> Result<LayoutImage, Failure> {
    let default_blobs = layout.join("blobs");
    let blobs = blobs.unwrap_or(&default_blobs);
    let index_path = layout.join("index.json");
    let text = read_limited(&index_path, MAX_MANIFEST)
        .map_err(|e| unusable(format!("cannot read the OCI layout's index.json: {e}")))?;
    let index: Index = serde_json::from_slice(&text)
        .map_err(|e| unusable(format!("the OCI layout's index.json is not a valid image index: {e}")))?;
    if index.schema_version != Some(2) {
        return Err(unusable("the OCI layout's index.json does not have schemaVersion 2"));
    }
    let chosen: Vec<&Descriptor> = match name {
        Some(n) => {
            index.manifests.iter().filter(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(n)).collect()
        }
        None => index.manifests.iter().collect(),
    };
    let desc = match chosen.as_slice() {
        [d] => *d,
        [] => {
            return Err(unusable(format!(
                "the OCI layout has no image{}",
                name.map(|n| format!(" named {n:?}")).unwrap_or_default()
            )))
        }
        more => return Err(unusable(format!("the OCI layout holds {} images; name the one to read", more.len()))),
    };
    read_manifest(blobs, desc).map_err(unusable)
}

fn read_manifest(blobs: &Path, desc: &Descriptor) -> Result<LayoutImage, String> {
    let desc_type = desc.media_type.as_deref().unwrap_or("");
    if desc_type == OCI_INDEX || desc_type == DOCKER_LIST {
        return Err(format!(
            "{} is an image index (several platforms), not an image manifest; choose a platform",
            desc.digest
        ));
    }
    let raw = read_verified(blobs, desc, "manifest", MAX_MANIFEST)?;
    let m: Manifest = serde_json::from_slice(&raw)
        .map_err(|e| format!("manifest {} is not a valid image manifest: {e}", desc.digest))?;
    if m.manifests.is_some() {
        return Err(format!("manifest {} is an image index, not an image manifest", desc.digest));
    }
    if m.schema_version != Some(2) {
        return Err(format!("manifest {} is not schemaVersion 2 (Docker schema 1 is not supported)", desc.digest));
    }
    // The manifest's own mediaType (optional in OCI) decides; else the descriptor's.
    let media_type = match (m.media_type.as_deref(), desc_type) {
        (Some(t), _) if !t.is_empty() => t.to_string(),
        (_, "") => OCI_MANIFEST.to_string(),
        (_, t) => t.to_string(),
    };
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        return Err(format!(
            "manifest {} has the unsupported media type {:?}",
            desc.digest,
            crate::escape::text(&media_type)
        ));
    }
    if !desc_type.is_empty() && desc_type != media_type {
        return Err(format!("manifest {} says it is {media_type} but its descriptor says {desc_type}", desc.digest));
    }
    let cdesc = m.config.as_ref().ok_or_else(|| format!("manifest {} has no config", desc.digest))?;
    let ctype = cdesc.media_type.as_deref().unwrap_or("");
    if ctype != OCI_CONFIG && ctype != DOCKER_CONFIG {
        return Err(format!(
            "manifest {} is not a container image: its config media type is {:?}",
            desc.digest,
            crate::escape::text(ctype)
        ));
    }
    let raw_config = read_verified(blobs, cdesc, "config", MAX_CONFIG)?;
    let config: Config = serde_json::from_slice(&raw_config)
        .map_err(|e| format!("config {} is not a valid image config: {e}", cdesc.digest))?;
    let rootfs = config.rootfs.as_ref().ok_or_else(|| format!("config {} has no rootfs", cdesc.digest))?;
    if rootfs.kind != "layers" {
        return Err(format!(
            "config {} has rootfs type {:?}, not \"layers\"",
            cdesc.digest,
            crate::escape::text(&rootfs.kind)
        ));
    }
    if rootfs.diff_ids.len() != m.layers.len() {
        return Err(format!(
            "config {} lists {} diff ids but manifest {} has {} layers",
            cdesc.digest,
            rootfs.diff_ids.len(),
            desc.digest,
            m.layers.len()
        ));
    }
    let mut layers = Vec::with_capacity(m.layers.len());
    for (i, (l, diff_id)) in m.layers.iter().zip(&rootfs.diff_ids).enumerate() {
        let n = i + 1;
        sha256_hex(diff_id).map_err(|e| format!("config {}: diff id of layer {n}: {e}", cdesc.digest))?;
        let path = blob_path(blobs, &l.digest).map_err(|e| format!("manifest {}: layer {n}: {e}", desc.digest))?;
        if l.size < 0 {
            return Err(format!("manifest {}: layer {n} has a negative size", desc.digest));
        }
        let meta = std::fs::metadata(&path).map_err(|e| format!("layer {n} blob {}: {e}", l.digest))?;
        if !meta.is_file() || meta.len() != l.size as u64 {
            return Err(format!("layer {n} blob {} is {} bytes, the manifest says {}", l.digest, meta.len(), l.size));
        }
        let media_type = l.media_type.clone().unwrap_or_default();
        let compression = layer_compression(&media_type);
        layers.push(LayerBlob {
            digest: l.digest.clone(),
            media_type,
            compression,
            size: l.size as u64,
            path,
            diff_id: diff_id.clone(),
        });
    }
    let manifest_digest = desc.digest.clone();
    // The index entry's annotations (an archive's), the manifest's own taking precedence.
    let mut annotations: BTreeMap<String, String> =
        desc.annotations.iter().filter(|(k, _)| k.as_str() != REF_NAME).map(|(k, v)| (k.clone(), v.clone())).collect();
    annotations.extend(m.annotations.clone());
    let inspect = ImageInspect {
        id: sha256_hex(&cdesc.digest)?.to_string(),
        digest: manifest_digest.clone(),
        repo_tags: Vec::new(),
        repo_digests: Vec::new(),
        created: config.created,
        architecture: config.architecture,
        os: config.os,
        variant: config.variant,
        size: layers.iter().map(|l| l.size).sum(),
        config: config.config,
        root_fs: RootFs { layers: rootfs.diff_ids.clone() },
        graph_driver: Default::default(),
        history: config.history,
        healthcheck: None,
        manifest_type: media_type.clone(),
        annotations,
    };
    Ok(LayoutImage {
        inspect,
        layers,
        manifest_digest,
        manifest_media_type: media_type,
        config_digest: cdesc.digest.clone(),
    })
}

fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {limit} bytes")));
    }
    Ok(data)
}

// --- The tag an archive records ----------------------------------------------------------

/// The tag recorded in an archive or layout for the image the reference selects, for the
/// `latest-tag` check (a user scanning `oci-archive:app.tar` of `app:1.4` expects `1.4`):
/// - a reference that names the image itself (`oci:DIR:1.4`, `docker-archive:F:app:1.4`) → its tag;
/// - `docker-archive:` → the image's first `RepoTags` entry in the tar's `manifest.json`
///   (the image at `:@N`, or the only one), read by streaming the tar headers and reading only
///   that member (layers are never extracted); a gzip-compressed archive gives None;
/// - `oci:` / `oci-archive:` → the `org.opencontainers.image.ref.name` annotation of the
///   index's only entry (podman writes `localhost/app:1.4`, skopeo whatever it was given:
///   a full name gives its tag, a bare value is the tag).
///
/// None when the archive records no usable tag, or cannot be read (acquisition reports that).
pub fn archive_tag(r: &ImageRef) -> Option<String> {
    if !r.is_archive() {
        return None;
    }
    if r.tag.is_some() {
        return r.tag.clone();
    }
    let path = Path::new(r.path.as_deref()?);
    // What follows PATH: in the reference (`@N` for docker archives, or a name).
    let inner =
        r.original.strip_prefix(r.transport.prefix())?.split_once(':').map(|(_, i)| i).filter(|i| !i.is_empty());
    match r.transport {
        Transport::DockerArchive => {
            let data = tar_member(path, "manifest.json", MAX_MANIFEST).ok()??;
            docker_archive_tag(&data, inner)
        }
        Transport::OciArchive => {
            let data = tar_member(path, "index.json", MAX_MANIFEST).ok()??;
            oci_index_tag(&data, inner)
        }
        Transport::Oci => {
            let data = read_limited(&path.join("index.json"), MAX_MANIFEST).ok()?;
            oci_index_tag(&data, inner)
        }
        _ => None,
    }
}

fn docker_archive_tag(manifest_json: &[u8], inner: Option<&str>) -> Option<String> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(rename = "RepoTags", default, deserialize_with = "nullable")]
        repo_tags: Vec<String>,
    }
    let items: Vec<Item> = serde_json::from_slice(manifest_json).ok()?;
    let item = match inner {
        Some(i) => items.get(i.strip_prefix('@')?.parse::<usize>().ok()?)?,
        None if items.len() == 1 => &items[0],
        None => return None,
    };
    tag_of(item.repo_tags.first()?)
}

fn oci_index_tag(index_json: &[u8], inner: Option<&str>) -> Option<String> {
    if inner.is_some() {
        // A name without a tag (`oci:DIR:localhost/app`) records none.
        return None;
    }
    let index: Index = serde_json::from_slice(index_json).ok()?;
    match index.manifests.as_slice() {
        [only] => tag_of(only.annotations.get(REF_NAME)?),
        _ => None,
    }
}

/// The tag of `localhost/app:1.4` (`1.4`), of `app:1.4`, or a bare OCI ref name `1.4`.
fn tag_of(name: &str) -> Option<String> {
    if name.contains('/') || name.contains(':') {
        ImageRef::parse(name).ok().filter(|r| r.transport == Transport::Docker)?.tag
    } else {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        ok.then(|| name.to_string())
    }
}

/// The content of one regular-file member of a tar (`./NAME` or `NAME`), at most `limit`
/// bytes; Ok(None) when the tar has no such member or is not an uncompressed tar. Only
/// headers are read: the data of other members is skipped with a seek.
pub fn tar_member(path: &Path, wanted: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut long_name: Option<Vec<u8>> = None;
    let mut first = true;
    loop {
        let mut h = [0u8; 512];
        match read_full(&mut f, &mut h).map_err(io)? {
            0 => return Ok(None),
            512 => {}
            // Shorter than one header: not a tar.
            _ if first => return Ok(None),
            _ => return Err(format!("{}: truncated tar header", path.display())),
        }
        first = false;
        if h.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        if !checksum_ok(&h) {
            // Not a tar (or a compressed one): no member can be found.
            return Ok(None);
        }
        let size = tar_size(&h[124..136]).ok_or_else(|| format!("{}: malformed tar size field", path.display()))?;
        let padded = size.div_ceil(512) * 512;
        let kind = h[156];
        let name = match long_name.take() {
            Some(n) => n,
            None => {
                let mut n = cstr(&h[0..100]).to_vec();
                if &h[257..263] == b"ustar\0" {
                    let prefix = cstr(&h[345..500]);
                    if !prefix.is_empty() {
                        n = [prefix, b"/", &n].concat();
                    }
                }
                n
            }
        };
        match kind {
            // GNU long name, PAX extended header: they name the next member.
            b'L' | b'x' => {
                if size > 1 << 20 {
                    return Err(format!("{}: oversized tar extended header", path.display()));
                }
                let mut data = vec![0u8; size as usize];
                if read_full(&mut f, &mut data).map_err(io)? != data.len() {
                    return Err(format!("{}: truncated tar", path.display()));
                }
                long_name = if kind == b'L' { Some(cstr(&data).to_vec()) } else { pax_path(&data) };
                f.seek(SeekFrom::Current((padded - size) as i64)).map_err(io)?;
                continue;
            }
            b'0' | 0 if normalize(&name) == wanted.as_bytes() => {
                if size > limit {
                    return Err(format!("{}: {wanted} is larger than {limit} bytes", path.display()));
                }
                let mut data = vec![0u8; size as usize];
                if read_full(&mut f, &mut data).map_err(io)? != data.len() {
                    return Err(format!("{}: truncated tar", path.display()));
                }
                return Ok(Some(data));
            }
            _ => {
                f.seek(SeekFrom::Current(padded as i64)).map_err(io)?;
            }
        }
    }
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

fn normalize(name: &[u8]) -> &[u8] {
    let mut n = name;
    while let Some(rest) = n.strip_prefix(b"./") {
        n = rest;
    }
    n
}

/// A numeric tar field: octal digits (space/NUL padded), or GNU base-256.
fn tar_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(field).ok()?.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn checksum_ok(h: &[u8; 512]) -> bool {
    let Some(want) = tar_size(&h[148..156]) else { return false };
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u64 }).sum();
    sum == want
}

/// The `path` record of PAX extended header data (`LEN path=VALUE\n` records).
fn pax_path(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut path = None;
    while !data.is_empty() {
        let sp = data.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&data[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > data.len() {
            return None;
        }
        let record = &data[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"path=") {
            path = Some(v.to_vec());
        }
        data = &data[len..];
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes blobs into `DIR/blobs/sha256` and an index.json naming one manifest.
    struct Layout {
        dir: tempfile::TempDir,
    }

    impl Layout {
        fn new() -> Layout {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
            Layout { dir }
        }
        fn blob(&self, data: &[u8]) -> (String, i64) {
            let hex = crate::sha256::hex(data);
            std::fs::write(self.dir.path().join("blobs/sha256").join(&hex), data).unwrap();
            (format!("sha256:{hex}"), data.len() as i64)
        }
        fn index(&self, manifests: serde_json::Value) {
            let v = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
            std::fs::write(self.dir.path().join("index.json"), v.to_string()).unwrap();
        }
        fn read(&self) -> Result<LayoutImage, Failure> {
            read_layout(self.dir.path(), None, None)
        }
    }

    const CONFIG: &str = r#"{"created":"2024-05-01T10:00:00Z","architecture":"arm64","os":"linux","variant":"v8",
        "config":{"User":"1000:1000","Env":["PATH=/bin","A=1"],"Entrypoint":["/app"],"Cmd":null,
          "Labels":{"org.opencontainers.image.version":"1.4"},"ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/srv"},
        "rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111",
          "sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
        "history":[{"created_by":"ADD rootfs"},{"created_by":"ENV A=1","empty_layer":true},{"created_by":"COPY app"}]}"#;

    /// A two-layer image; `edit` may change the manifest JSON before it is written.
    fn image(l: &Layout, config: &str, mt: &str, edit: impl FnOnce(&mut serde_json::Value)) -> (String, String) {
        let (cd, cs) = l.blob(config.as_bytes());
        let (l1, s1) = l.blob(b"layer one");
        let (l2, s2) = l.blob(b"layer two, longer");
        let (ctype, ltype) = if mt == DOCKER_MANIFEST {
            (DOCKER_CONFIG, "application/vnd.docker.image.rootfs.diff.tar.gzip")
        } else {
            (OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+zstd")
        };
        let mut m = serde_json::json!({"schemaVersion": 2, "mediaType": mt,
            "config": {"mediaType": ctype, "digest": cd, "size": cs},
            "layers": [{"mediaType": ltype, "digest": l1, "size": s1}, {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l2, "size": s2}]});
        edit(&mut m);
        let (md, ms) = l.blob(m.to_string().as_bytes());
        l.index(serde_json::json!([{"mediaType": mt, "digest": md, "size": ms}]));
        (md, cd)
    }

    #[test]
    fn an_oci_layout_becomes_an_inspect_and_ordered_layers() {
        let l = Layout::new();
        let (md, cd) = image(&l, CONFIG, OCI_MANIFEST, |_| {});
        let img = l.read().unwrap();
        assert_eq!(img.manifest_digest, md);
        assert_eq!(img.config_digest, cd);
        let i = &img.inspect;
        assert_eq!(i.id, cd.strip_prefix("sha256:").unwrap());
        assert_eq!(i.digest, md);
        assert_eq!((i.os.as_str(), i.architecture.as_str(), i.variant.as_str()), ("linux", "arm64", "v8"));
        assert_eq!(i.created, "2024-05-01T10:00:00Z");
        assert_eq!(i.config.user, "1000:1000");
        assert_eq!(i.config.env_var("A"), Some("1"));
        assert_eq!(i.config.entrypoint, vec!["/app"]);
        assert!(i.config.cmd.is_empty());
        assert_eq!(i.config.labels["org.opencontainers.image.version"], "1.4");
        assert!(i.config.exposed_ports.contains_key("8080/tcp"));
        assert_eq!(i.config.working_dir, "/srv");
        assert_eq!(i.history.len(), 3);
        assert_eq!(i.layer_history().len(), 2);
        assert_eq!(i.root_fs.layers.len(), 2);
        assert_eq!(i.size, 9 + 17);
        let [a, b] = img.layers.as_slice() else { panic!("two layers") };
        assert_eq!(a.diff_id, format!("sha256:{}", "1".repeat(64)));
        assert_eq!(b.diff_id, format!("sha256:{}", "2".repeat(64)));
        assert_eq!(std::fs::read(&a.path).unwrap(), b"layer one");
        assert_eq!(std::fs::read(&b.path).unwrap(), b"layer two, longer");
        // What the media type declares; the reader goes by the bytes ("layer one" is no zstd
        // stream), see layers::tar.
        assert_eq!(a.compression, Some(Compression::Zstd));
        assert_eq!(a.size, 9);
    }

    #[test]
    fn docker_schema2_manifests_are_read_too() {
        let l = Layout::new();
        image(&l, CONFIG, DOCKER_MANIFEST, |_| {});
        let img = l.read().unwrap();
        assert_eq!(img.manifest_media_type, DOCKER_MANIFEST);
        assert_eq!(layer_compression(&img.layers[0].media_type), Some(Compression::Gzip));
    }

    #[test]
    fn diff_ids_must_match_the_layers() {
        let l = Layout::new();
        let mut one: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
        one["rootfs"]["diff_ids"].as_array_mut().unwrap().pop();
        image(&l, &one.to_string(), OCI_MANIFEST, |_| {});
        let e = l.read().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InspectFailed);
        assert!(e.message.contains("1 diff ids") && e.message.contains("2 layers"), "{}", e.message);
    }

    #[test]
    fn what_is_read_is_what_the_manifest_says() {
        // A config whose bytes do not hash to the digest the manifest gives.
        let l = Layout::new();
        let (_, cd) = image(&l, CONFIG, OCI_MANIFEST, |_| {});
        let p = l.dir.path().join("blobs/sha256").join(cd.strip_prefix("sha256:").unwrap());
        let mut tampered = std::fs::read(&p).unwrap();
        tampered[20] = b'X';
        std::fs::write(&p, tampered).unwrap();
        let e = l.read().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InspectFailed);
        assert!(e.message.contains("does not match its digest"), "{}", e.message);

        // A truncated layer file.
        let l = Layout::new();
        image(&l, CONFIG, OCI_MANIFEST, |_| {});
        let layer = l.dir.path().join("blobs/sha256").join(crate::sha256::hex(b"layer one"));
        std::fs::write(layer, b"layer").unwrap();
        let e = l.read().unwrap_err();
        assert!(e.message.contains("is 5 bytes, the manifest says 9"), "{}", e.message);

        // A manifest size that is not the manifest's.
        let l = Layout::new();
        let (md, _) = image(&l, CONFIG, OCI_MANIFEST, |_| {});
        l.index(serde_json::json!([{"mediaType": OCI_MANIFEST, "digest": md, "size": 3}]));
        assert!(l.read().unwrap_err().message.contains("descriptor says 3"));
    }

    #[test]
    fn unusable_manifests_and_configs_are_inspect_failures() {
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit, &str)> = vec![
            (
                "helm chart",
                Box::new(|m| m["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json".into()),
                "not a container image",
            ),
            (
                "no config",
                Box::new(|m| {
                    m.as_object_mut().unwrap().remove("config");
                }),
                "has no config",
            ),
            ("schema 1", Box::new(|m| m["schemaVersion"] = 1.into()), "schemaVersion 2"),
            (
                "traversal",
                Box::new(|m| m["layers"][0]["digest"] = "sha256:../../etc/passwd".into()),
                "malformed digest",
            ),
            (
                "sha512",
                Box::new(|m| m["layers"][0]["digest"] = format!("sha512:{}", "a".repeat(128)).into()),
                "unsupported digest algorithm",
            ),
            (
                "missing layer",
                Box::new(|m| m["layers"][1]["digest"] = format!("sha256:{}", "3".repeat(64)).into()),
                "layer 2 blob",
            ),
        ];
        for (what, edit, want) in cases {
            let l = Layout::new();
            image(&l, CONFIG, OCI_MANIFEST, edit);
            let e = l.read().unwrap_err();
            assert_eq!(e.kind, ErrorKind::InspectFailed, "{what}");
            assert!(e.message.contains(want), "{what}: {}", e.message);
        }
        for (what, config, want) in [
            ("not json", "{", "not a valid image config"),
            (
                "wrong type",
                r#"{"architecture":5,"rootfs":{"type":"layers","diff_ids":[]}}"#,
                "not a valid image config",
            ),
            ("no rootfs", r#"{"architecture":"amd64"}"#, "has no rootfs"),
        ] {
            let l = Layout::new();
            image(&l, config, OCI_MANIFEST, |m| m["layers"] = serde_json::json!([]));
            let e = l.read().unwrap_err();
            assert!(e.message.contains(want), "{what}: {}", e.message);
        }
        // An index where an image manifest was expected; several images and no name.
        let l = Layout::new();
        let (md, ms) = l.blob(br#"{"schemaVersion":2,"manifests":[]}"#);
        l.index(serde_json::json!([{"mediaType": OCI_INDEX, "digest": md, "size": ms}]));
        assert!(l.read().unwrap_err().message.contains("is an image index"));
        l.index(serde_json::json!([{"mediaType": OCI_MANIFEST, "digest": md, "size": ms}, {"mediaType": OCI_MANIFEST, "digest": md, "size": ms}]));
        assert!(l.read().unwrap_err().message.contains("holds 2 images"));
        std::fs::write(l.dir.path().join("index.json"), "[]").unwrap();
        assert_eq!(l.read().unwrap_err().kind, ErrorKind::InspectFailed);
    }

    #[test]
    fn a_name_picks_the_entry_of_a_layout() {
        let l = Layout::new();
        let (md, _) = image(&l, CONFIG, OCI_MANIFEST, |_| {});
        let ms = std::fs::metadata(l.dir.path().join("blobs/sha256").join(md.strip_prefix("sha256:").unwrap()))
            .unwrap()
            .len();
        l.index(serde_json::json!([
            {"mediaType": OCI_MANIFEST, "digest": md, "size": ms, "annotations": {REF_NAME: "1.4"}},
            {"mediaType": OCI_MANIFEST, "digest": format!("sha256:{}", "9".repeat(64)), "size": 1, "annotations": {REF_NAME: "2.0"}}
        ]));
        assert_eq!(read_layout(l.dir.path(), None, Some("1.4")).unwrap().manifest_digest, md);
        assert!(read_layout(l.dir.path(), None, Some("3")).unwrap_err().message.contains("no image named \"3\""));
    }

    #[test]
    fn tags_of_names() {
        assert_eq!(tag_of("localhost/app:1.4").as_deref(), Some("1.4"));
        assert_eq!(tag_of("app:1.4").as_deref(), Some("1.4"));
        assert_eq!(tag_of("1.4").as_deref(), Some("1.4"));
        assert_eq!(tag_of("reg:5000/app").as_deref(), None);
        assert_eq!(tag_of("bad tag"), None);
        assert_eq!(tag_of(""), None);
    }

    /// A tar written by GNU tar, with a long-named member before the one wanted.
    fn gnu_tar(dir: &Path, members: &[(&str, &[u8])], name: &str, format: &str) -> PathBuf {
        let src = dir.join("src");
        for (n, data) in members {
            let p = src.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::File::create(&p).unwrap().write_all(data).unwrap();
        }
        let out = dir.join(name);
        let mut args = vec![
            "--format".to_string(),
            format.to_string(),
            "-cf".into(),
            out.display().to_string(),
            "-C".into(),
            src.display().to_string(),
        ];
        args.extend(members.iter().map(|(n, _)| n.to_string()));
        let st = std::process::Command::new("tar").args(&args).status().unwrap();
        assert!(st.success());
        out
    }

    #[test]
    fn tar_members_are_found_by_their_headers_alone() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/{}", "d".repeat(80), "f".repeat(90));
        let big = vec![7u8; 70_000];
        for format in ["gnu", "pax", "ustar"] {
            let members: Vec<(&str, &[u8])> = if format == "ustar" {
                vec![("blob", &big), ("manifest.json", b"[1]")]
            } else {
                vec![(long.as_str(), b"x"), ("blob", &big), ("manifest.json", b"[1]")]
            };
            let t = gnu_tar(dir.path(), &members, &format!("{format}.tar"), format);
            assert_eq!(tar_member(&t, "manifest.json", 100).unwrap().as_deref(), Some(&b"[1]"[..]), "{format}");
            assert_eq!(tar_member(&t, "absent.json", 100).unwrap(), None);
            if format != "ustar" {
                assert_eq!(tar_member(&t, &long, 100).unwrap().as_deref(), Some(&b"x"[..]), "{format}");
            }
            assert!(tar_member(&t, "blob", 100).unwrap_err().contains("larger than 100"));
        }
        let not_tar = dir.path().join("x.gz");
        std::fs::write(&not_tar, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(tar_member(&not_tar, "manifest.json", 100).unwrap(), None);
    }

    fn archive_ref(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn archive_tags_come_from_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let manifest =
            br#"[{"Config":"c.json","RepoTags":["localhost/app:1.4","localhost/app:latest"],"Layers":["l.tar"]},
            {"Config":"d.json","RepoTags":null,"Layers":[]}]"#;
        let t = gnu_tar(dir.path(), &[("l.tar", b"layer"), ("manifest.json", manifest)], "d.tar", "gnu");
        let p = t.display();
        assert_eq!(archive_tag(&archive_ref(&format!("docker-archive:{p}:@0"))).as_deref(), Some("1.4"));
        assert_eq!(archive_tag(&archive_ref(&format!("docker-archive:{p}:@1"))), None);
        assert_eq!(archive_tag(&archive_ref(&format!("docker-archive:{p}"))), None, "two images, none chosen");
        assert_eq!(archive_tag(&archive_ref(&format!("docker-archive:{p}:app:2.0"))).as_deref(), Some("2.0"));

        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{}","size":1,"annotations":{{"{REF_NAME}":"localhost/app:1.4"}}}}]}}"#,
            "a".repeat(64)
        );
        let o = gnu_tar(dir.path(), &[("oci-layout", b"{}"), ("index.json", index.as_bytes())], "o.tar", "pax");
        assert_eq!(archive_tag(&archive_ref(&format!("oci-archive:{}", o.display()))).as_deref(), Some("1.4"));
        assert_eq!(archive_tag(&archive_ref(&format!("oci-archive:{}:9.9", o.display()))).as_deref(), Some("9.9"));
        let od = dir.path().join("layout");
        std::fs::create_dir(&od).unwrap();
        std::fs::write(od.join("index.json"), index.replace("localhost/app:1.4", "2.1")).unwrap();
        assert_eq!(archive_tag(&archive_ref(&format!("oci:{}", od.display()))).as_deref(), Some("2.1"));
        assert_eq!(archive_tag(&archive_ref("docker://r.io/app:3")), None);
        assert_eq!(archive_tag(&archive_ref("oci-archive:/nonexistent.tar")), None);
    }
}
