//! Where an image's base image ends: the pure part (what the image says about its base, the
//! history's `FROM` marker, the diff-ID prefix test). Inspecting a base is the pipeline's
//! (podman for storage, skopeo for the registry source).

use crate::inspect::ImageInspect;
use crate::model::BaseFoundBy;

pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";

/// The base image an image's annotations or labels name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub found_by: BaseFoundBy,
    pub name: Option<String>,
    pub digest: Option<String>,
}

impl Named {
    /// What to inspect: `repo@digest` when both are given (the tag dropped: the digest pins
    /// it), else the name. None when only a digest is given: it names no repository.
    pub fn reference(&self) -> Option<String> {
        let name = self.name.as_deref()?;
        let Some(digest) = &self.digest else { return Some(name.to_string()) };
        let repo = match crate::reference::ImageRef::parse(name) {
            Ok(r) if r.transport == crate::reference::Transport::Docker && r.image_id.is_none() => r.repo_name()?,
            _ => return Some(name.to_string()),
        };
        Some(format!("{repo}@{digest}"))
    }
}

/// The base named by the annotations (first) or the labels. buildah writes both keys empty
/// on an image built from scratch: an empty value names nothing.
pub fn named(image: &ImageInspect) -> Option<Named> {
    let from = |m: &std::collections::BTreeMap<String, String>, found_by| {
        let get = |k: &str| m.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let (name, digest) = (get(BASE_NAME), get(BASE_DIGEST));
        (name.is_some() || digest.is_some()).then_some(Named { found_by, name, digest })
    };
    from(&image.annotations, BaseFoundBy::Annotation).or_else(|| from(&image.config.labels, BaseFoundBy::Label))
}

/// A `FROM` comment that starts a build. buildah and podman comment a build's first step
/// with `FROM <base as named>`; a `podman build --layers` step after the first names the
/// previous step's intermediate image by a hex ID prefix, which starts nothing.
fn starts_build(comment: &str) -> Option<&str> {
    let from = comment.strip_prefix("FROM ")?.trim();
    let hex_id = from.len() >= 12 && from.bytes().all(|b| b.is_ascii_hexdigit());
    (!from.is_empty() && !hex_id).then_some(from)
}

/// The history entry that starts the image's own (last) build: the last one whose comment is
/// `FROM` a name, not an intermediate image's hex ID.
pub fn build_start(image: &ImageInspect) -> Option<usize> {
    image.history.iter().rposition(|h| starts_build(&h.comment).is_some())
}

/// The boundary the history shows: the base as the last build's `FROM` names it, and how
/// many layers were made before that entry. One build commits its layer at the entry that
/// carries the comment (`buildah commit` after `buildah from`, `podman build --layers`), or
/// at its last step with the `FROM` on it (`buildah build`, one layer for the whole file):
/// either way the layers made before the entry are the base's. Err says why there is none.
pub fn from_history(image: &ImageInspect) -> Result<(String, usize), String> {
    let Some(at) = build_start(image) else {
        return Err("the history has no FROM comment (buildah and podman write one at a build's first step)".into());
    };
    let made = image.history.iter().filter(|h| !h.empty_layer).count();
    if made != image.root_fs.layers.len() {
        return Err(format!(
            "the history records {made} layers but the image has {}: it cannot say where the base ends",
            image.root_fs.layers.len()
        ));
    }
    let base_layers = image.history[..at].iter().filter(|h| !h.empty_layer).count();
    let name = starts_build(&image.history[at].comment).unwrap_or_default().to_string();
    Ok((name, base_layers))
}

/// Whether the base's layers are the bottom of the image's. Err names the first layer that
/// differs (1-based) or says the base has more layers.
pub fn check_prefix(base: &[String], image: &[String]) -> Result<(), String> {
    if let Some(i) = base.iter().zip(image).position(|(b, i)| b != i) {
        return Err(format!(
            "layer {} differs (base {}, image {})",
            i + 1,
            crate::escape::text(&base[i]),
            crate::escape::text(&image[i])
        ));
    }
    if base.len() > image.len() {
        return Err(format!(
            "the base has {} layers, the image only {} (layer {} is missing)",
            base.len(),
            image.len(),
            image.len() + 1
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(json: &str) -> ImageInspect {
        crate::inspect::parse(format!("[{json}]").as_bytes()).unwrap()
    }

    #[test]
    fn prefix_is_checked_layer_by_layer() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(check_prefix(&v(&["a", "b"]), &v(&["a", "b", "c"])).is_ok());
        assert!(check_prefix(&v(&["a", "b"]), &v(&["a", "b"])).is_ok());
        assert!(check_prefix(&[], &v(&["a"])).is_ok());
        let e = check_prefix(&v(&["a", "x"]), &v(&["a", "b", "c"])).unwrap_err();
        assert!(e.contains("layer 2 differs (base x, image b)"), "{e}");
        let e = check_prefix(&v(&["a", "b", "c"]), &v(&["a", "b"])).unwrap_err();
        assert!(e.contains("layer 3 is missing"), "{e}");
        let e = check_prefix(&v(&["a\u{1b}[31m"]), &v(&["b"])).unwrap_err();
        assert!(!e.contains('\u{1b}'), "escaped: {e}");
    }

    // The shapes buildah 1.28 / podman 4.3 write (seen on this machine).
    #[test]
    fn history_of_buildah_from_and_commit() {
        let i = image(
            r#"{"RootFS":{"Layers":["sha256:a","sha256:b"]},"History":[
            {"created_by":"COPY a /a"},
            {"created_by":"/bin/sh","comment":"FROM localhost/g-exp-base:latest"}]}"#,
        );
        assert_eq!(from_history(&i).unwrap(), ("localhost/g-exp-base:latest".to_string(), 1));
    }

    #[test]
    fn history_of_podman_build_with_layers() {
        let i = image(
            r#"{"RootFS":{"Layers":["sha256:a","sha256:c","sha256:d"]},"History":[
            {"created_by":"COPY a /a"},
            {"created_by":"/bin/sh -c #(nop) COPY file:ec94 in /c ","comment":"FROM localhost/g-exp-base:latest"},
            {"created_by":"/bin/sh -c #(nop) ENV X=1","comment":"FROM ed470a61a973","empty_layer":true},
            {"created_by":"/bin/sh -c #(nop) COPY file:23cd in /d ","comment":"FROM 065d4dd02690"}]}"#,
        );
        assert_eq!(from_history(&i).unwrap(), ("localhost/g-exp-base:latest".to_string(), 1));
    }

    #[test]
    fn history_of_buildah_build_one_layer() {
        // The FROM is on the last step, the one that committed the layer.
        let i = image(
            r#"{"RootFS":{"Layers":["sha256:a","sha256:b","sha256:c"]},"History":[
            {"created_by":"ADD x"},{"created_by":"RUN y","comment":"FROM debian:12"},
            {"created_by":"/bin/sh -c #(nop) COPY file:ec94 in /c ","empty_layer":true},
            {"created_by":"/bin/sh -c #(nop) ENV X=1","empty_layer":true},
            {"created_by":"/bin/sh -c #(nop) COPY file:23cd in /d ","comment":"FROM localhost/mid:latest"}]}"#,
        );
        // The last build counts: debian:12 started the base's own build.
        assert_eq!(from_history(&i).unwrap(), ("localhost/mid:latest".to_string(), 2));
    }

    #[test]
    fn history_without_a_usable_marker() {
        let none = image(r#"{"RootFS":{"Layers":["sha256:a"]},"History":[{"created_by":"COPY a /a"}]}"#);
        assert!(from_history(&none).unwrap_err().contains("no FROM comment"));
        let hex_only =
            image(r#"{"RootFS":{"Layers":["sha256:a"]},"History":[{"created_by":"x","comment":"FROM 0089bd86b112"}]}"#);
        assert!(from_history(&hex_only).is_err());
        let mismatch = image(
            r#"{"RootFS":{"Layers":["sha256:a","sha256:b"]},"History":[{"created_by":"x","comment":"FROM b:1"}]}"#,
        );
        assert!(from_history(&mismatch).unwrap_err().contains("records 1 layers but the image has 2"));
    }

    #[test]
    fn annotations_before_labels_and_empty_values_name_nothing() {
        let scratch = image(&format!(r#"{{"Annotations":{{"{BASE_DIGEST}":"","{BASE_NAME}":""}}}}"#));
        assert_eq!(named(&scratch), None);
        let i = image(&format!(
            r#"{{"Annotations":{{"{BASE_DIGEST}":"sha256:96a7","{BASE_NAME}":"localhost/b:latest"}},
               "Config":{{"Labels":{{"{BASE_NAME}":"other:1"}}}}}}"#
        ));
        let n = named(&i).unwrap();
        assert_eq!(n.found_by, BaseFoundBy::Annotation);
        assert_eq!(n.reference().as_deref(), Some("localhost/b@sha256:96a7"));
        let l = image(&format!(r#"{{"Config":{{"Labels":{{"{BASE_NAME}":"quay.io/x/y:2"}}}}}}"#));
        let n = named(&l).unwrap();
        assert_eq!((n.found_by, n.reference().as_deref()), (BaseFoundBy::Label, Some("quay.io/x/y:2")));
        let digest_only = image(&format!(r#"{{"Annotations":{{"{BASE_DIGEST}":"sha256:1"}}}}"#));
        assert_eq!(named(&digest_only).unwrap().reference(), None);
    }
}
