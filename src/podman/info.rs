//! The part of `podman info` this tool needs: which containers/storage store podman uses
//! (after CONTAINERS_STORAGE_CONF, --root, --runroot and --storage-driver) and which
//! storage.conf it read, parsed leniently like `image inspect`.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StoreInfo {
    #[serde(deserialize_with = "nullable")]
    pub config_file: String,
    #[serde(deserialize_with = "nullable")]
    pub graph_driver_name: String,
    #[serde(deserialize_with = "nullable")]
    pub graph_root: String,
    #[serde(deserialize_with = "nullable")]
    pub run_root: String,
    /// Driver options, e.g. `vfs.imagestore` (podman shows only the last of several).
    #[serde(deserialize_with = "nullable")]
    pub graph_options: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default, deserialize_with = "nullable")]
    store: StoreInfo,
}

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parse `podman info --format json`.
pub fn parse(json: &[u8]) -> Result<StoreInfo, String> {
    let info: Info = serde_json::from_slice(json).map_err(|e| format!("cannot parse podman info output: {e}"))?;
    if info.store.graph_root.is_empty() {
        return Err("podman info reported no store.graphRoot".into());
    }
    Ok(info.store)
}

impl StoreInfo {
    /// Every store that may hold an image's layers: the writable one first, then the
    /// read-only additional image stores. podman info lists only one of those, so the
    /// storage.conf it read is consulted for the rest.
    pub fn stores(&self) -> Vec<PathBuf> {
        let mut out = vec![PathBuf::from(&self.graph_root)];
        let mut add = |p: &str| {
            let p = PathBuf::from(p.trim_end_matches('/'));
            if !p.as_os_str().is_empty() && !out.contains(&p) {
                out.push(p);
            }
        };
        for (k, v) in &self.graph_options {
            if k.ends_with(".imagestore") {
                if let Some(s) = v.as_str() {
                    s.split(',').for_each(&mut add);
                }
            }
        }
        if !self.config_file.is_empty() {
            if let Ok(text) = std::fs::read_to_string(&self.config_file) {
                additional_image_stores(&text).iter().for_each(|s| add(s));
            }
        }
        out
    }
}

/// `[storage.options] additionalimagestores = [...]` of a storage.conf; anything
/// unparsable yields nothing (podman itself already accepted the file).
pub fn additional_image_stores(storage_conf: &str) -> Vec<String> {
    let Ok(v) = storage_conf.parse::<toml::Table>() else { return Vec::new() };
    v.get("storage")
        .and_then(|s| s.get("options"))
        .and_then(|o| o.get("additionalimagestores"))
        .and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_info_and_its_stores() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("storage.conf");
        std::fs::write(
            &conf,
            "[storage]\ndriver = \"vfs\"\n[storage.options]\nadditionalimagestores = [\"/ro/one\", \"/ro/two/\"]\n",
        )
        .unwrap();
        let json = format!(
            r#"{{"host":{{}},"store":{{"configFile":"{}","graphDriverName":"vfs","graphRoot":"/g","runRoot":"/r",
                "graphOptions":{{"vfs.imagestore":"/ro/two"}},"imageStore":{{"number":2}}}}}}"#,
            conf.display()
        );
        let s = parse(json.as_bytes()).unwrap();
        assert_eq!(s.graph_driver_name, "vfs");
        let stores: Vec<String> = s.stores().iter().map(|p| p.display().to_string()).collect();
        assert_eq!(stores, vec!["/g", "/ro/two", "/ro/one"]);
    }

    #[test]
    fn lenient_but_needs_a_graph_root() {
        assert!(parse(br#"{"store":null}"#).is_err());
        assert!(parse(b"garbage").is_err());
        let s = parse(br#"{"store":{"graphRoot":"/g","graphOptions":null,"configFile":null}}"#).unwrap();
        assert_eq!(s.stores(), vec![PathBuf::from("/g")]);
        assert!(additional_image_stores("not toml [").is_empty());
    }
}
