//! `podman image inspect` output, parsed leniently: any field may be missing or null, and
//! Entrypoint/Cmd may be a string where an array is usual.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageInspect {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub digest: String,
    #[serde(deserialize_with = "nullable")]
    pub repo_tags: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub repo_digests: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub created: String,
    #[serde(deserialize_with = "nullable")]
    pub architecture: String,
    #[serde(deserialize_with = "nullable")]
    pub os: String,
    #[serde(deserialize_with = "nullable")]
    pub variant: String,
    #[serde(deserialize_with = "nullable")]
    pub size: u64,
    #[serde(deserialize_with = "nullable")]
    pub config: ImageConfig,
    #[serde(rename = "RootFS", deserialize_with = "nullable")]
    pub root_fs: RootFs,
    #[serde(deserialize_with = "nullable")]
    pub graph_driver: GraphDriver,
    #[serde(deserialize_with = "nullable")]
    pub history: Vec<History>,
    /// podman reports a docker-format image's healthcheck here, beside `Config` (which is
    /// the OCI config type and has none); [`parse`] moves it into `config.healthcheck`.
    #[serde(deserialize_with = "nullable")]
    pub healthcheck: Option<HealthConfig>,
    /// The manifest media type (podman's `ManifestType`; the layout reader sets it from the
    /// manifest): an OCI manifest's config cannot carry a healthcheck at all.
    #[serde(deserialize_with = "nullable")]
    pub manifest_type: String,
    /// The manifest's annotations (podman's `Annotations`; the layout reader sets them from
    /// the manifest and the index entry that names it).
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
}

/// A docker-format image's HEALTHCHECK (Docker's `HealthConfig`; durations in ns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `[]`: inherit (none, in a finished image); `["NONE"]`: disabled; `["CMD", …]` or
    /// `["CMD-SHELL", cmd]`: the probe.
    #[serde(deserialize_with = "nullable")]
    pub test: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub interval: i64,
    #[serde(deserialize_with = "nullable")]
    pub timeout: i64,
    #[serde(deserialize_with = "nullable")]
    pub retries: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    #[serde(deserialize_with = "nullable")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "string_or_list")]
    pub entrypoint: Vec<String>,
    #[serde(deserialize_with = "string_or_list")]
    pub cmd: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    /// In a docker-format image config; see [`ImageInspect::healthcheck`] for podman's place.
    #[serde(deserialize_with = "nullable")]
    pub healthcheck: Option<HealthConfig>,
}

impl ImageConfig {
    /// The value of an environment variable set in the image config.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then_some(v)
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(deserialize_with = "nullable")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GraphDriver {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct History {
    #[serde(deserialize_with = "nullable")]
    pub created: String,
    #[serde(deserialize_with = "nullable")]
    pub created_by: String,
    #[serde(deserialize_with = "nullable")]
    pub comment: String,
    #[serde(deserialize_with = "nullable")]
    pub empty_layer: bool,
}

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        None => Vec::new(),
        Some(Either::One(s)) if s.is_empty() => Vec::new(),
        Some(Either::One(s)) => vec![s],
        Some(Either::Many(v)) => v,
    })
}

/// Parse the output of `podman image inspect` (a JSON array with one object per image).
pub fn parse(json: &[u8]) -> Result<ImageInspect, String> {
    let v: Vec<ImageInspect> =
        serde_json::from_slice(json).map_err(|e| format!("cannot parse podman image inspect output: {e}"))?;
    let mut it = v.into_iter();
    match (it.next(), it.next()) {
        (Some(mut i), None) => {
            // One place for rules to look, whichever source filled it.
            if i.config.healthcheck.is_none() {
                i.config.healthcheck = i.healthcheck.take();
            }
            Ok(i)
        }
        (None, _) => Err("podman image inspect returned no image".into()),
        (Some(_), Some(_)) => Err("podman image inspect returned more than one image".into()),
    }
}

impl ImageInspect {
    /// The RepoDigests recorded for one repository (`registry/ns/name`, or a short name).
    /// Storage that both built and pulled an image holds several, one per manifest.
    pub fn digests_of(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .repo_digests
            .iter()
            .filter_map(|rd| rd.split_once('@'))
            .filter(|(n, _)| *n == name || n.ends_with(&format!("/{name}")))
            .map(|(_, d)| d.to_string())
            .collect();
        v.dedup();
        v
    }

    /// The digest that identifies the scanned image: the one RepoDigest of the repository we
    /// were asked about; with none, the manifest digest podman recorded; with several, None
    /// (the caller must ask the registry rather than guess).
    pub fn digest_for(&self, name: Option<&str>) -> Option<String> {
        let candidates = name.map(|n| self.digests_of(n)).unwrap_or_default();
        match candidates.len() {
            1 => candidates.into_iter().next(),
            0 if !self.digest.is_empty() => Some(self.digest.clone()),
            0 => self.repo_digests.iter().find_map(|rd| rd.split_once('@').map(|(_, d)| d.to_string())),
            _ => None,
        }
    }

    /// History entries that produced a layer, bottom to top.
    pub fn layer_history(&self) -> Vec<&History> {
        self.history.iter().filter(|h| !h.empty_layer).collect()
    }

    /// The build steps of each layer, bottom to top: every history entry since the previous
    /// layer's, ending with the one that committed this layer. A build that commits one layer
    /// for a whole Containerfile (`buildah build`, `podman build --layers=false`) records its
    /// COPY and RUN steps as empty and the last step (often CMD) as the layer's. Steps after
    /// the last layer made no files and belong to none.
    pub fn layer_steps(&self) -> Vec<Vec<&History>> {
        let mut groups = Vec::new();
        let mut current = Vec::new();
        for h in &self.history {
            current.push(h);
            if !h.empty_layer {
                groups.push(std::mem::take(&mut current));
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_missing_keys_are_accepted() {
        let i = parse(br#"[{"Id":"abc","RepoTags":null,"Config":{"User":null,"Entrypoint":null,"Cmd":"sh","Labels":null,"ExposedPorts":null},"RootFS":null,"History":null}]"#).unwrap();
        assert_eq!(i.id, "abc");
        assert!(i.repo_tags.is_empty());
        assert_eq!(i.config.cmd, vec!["sh"]);
        assert!(i.config.entrypoint.is_empty());
        assert!(i.root_fs.layers.is_empty());
        let i = parse(b"[{}]").unwrap();
        assert_eq!(i.config.user, "");
    }

    #[test]
    fn digest_prefers_the_requested_repository() {
        let i =
            parse(br#"[{"Digest":"sha256:top","RepoDigests":["a.io/x@sha256:one","b.io/ns/y@sha256:two"]}]"#).unwrap();
        assert_eq!(i.digest_for(Some("b.io/ns/y")).as_deref(), Some("sha256:two"));
        assert_eq!(i.digest_for(Some("zzz")).as_deref(), Some("sha256:top"));
        assert_eq!(i.digest_for(None).as_deref(), Some("sha256:top"));
        let two = parse(br#"[{"Digest":"sha256:local","RepoDigests":["r/x@sha256:a","r/x@sha256:b"]}]"#).unwrap();
        assert_eq!(two.digest_for(Some("r/x")), None, "ambiguous: ask the registry");
    }

    #[test]
    fn empty_layers_are_not_layer_history() {
        let i = parse(br#"[{"History":[{"created_by":"ADD x"},{"created_by":"ENV a=b","empty_layer":true},{"created_by":"RUN y"}]}]"#).unwrap();
        let steps: Vec<Vec<&str>> =
            i.layer_steps().iter().map(|g| g.iter().map(|h| h.created_by.as_str()).collect()).collect();
        assert_eq!(steps, [vec!["ADD x"], vec!["ENV a=b", "RUN y"]]);
        let h: Vec<_> = i.layer_history().iter().map(|h| h.created_by.clone()).collect();
        assert_eq!(h, vec!["ADD x", "RUN y"]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(b"[{},{}]").is_err());
    }
}
