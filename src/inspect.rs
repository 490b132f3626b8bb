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
        (Some(i), None) => Ok(i),
        (None, _) => Err("podman image inspect returned no image".into()),
        (Some(_), Some(_)) => Err("podman image inspect returned more than one image".into()),
    }
}

impl ImageInspect {
    /// The digest that identifies the scanned image in its registry: the RepoDigest of the
    /// repository we were asked about, else the manifest digest podman recorded.
    pub fn digest_for(&self, repository: Option<&str>) -> Option<String> {
        if let Some(repo) = repository {
            for rd in &self.repo_digests {
                if let Some((name, digest)) = rd.split_once('@') {
                    if name == repo || name.ends_with(&format!("/{repo}")) {
                        return Some(digest.to_string());
                    }
                }
            }
        }
        if !self.digest.is_empty() {
            return Some(self.digest.clone());
        }
        self.repo_digests.iter().find_map(|rd| rd.split_once('@').map(|(_, d)| d.to_string()))
    }

    /// History entries that produced a layer, bottom to top.
    pub fn layer_history(&self) -> Vec<&History> {
        self.history.iter().filter(|h| !h.empty_layer).collect()
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
        let i = parse(br#"[{"Digest":"sha256:top","RepoDigests":["a.io/x@sha256:one","b.io/ns/y@sha256:two"]}]"#).unwrap();
        assert_eq!(i.digest_for(Some("ns/y")).as_deref(), Some("sha256:two"));
        assert_eq!(i.digest_for(Some("zzz")).as_deref(), Some("sha256:top"));
        assert_eq!(i.digest_for(None).as_deref(), Some("sha256:top"));
    }

    #[test]
    fn empty_layers_are_not_layer_history() {
        let i = parse(br#"[{"History":[{"created_by":"ADD x"},{"created_by":"ENV a=b","empty_layer":true},{"created_by":"RUN y"}]}]"#).unwrap();
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
