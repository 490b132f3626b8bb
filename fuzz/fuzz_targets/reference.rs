//! Image references: never a panic; what parses has a file-safe slug, and the argument
//! handed to `podman pull` parses back to the same image (podman reads it the same way).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::reference::{ImageRef, Transport};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(r) = ImageRef::parse(s) else { return };
    let slug = r.slug();
    assert!(!slug.is_empty() && slug.len() <= 150, "{slug:?}");
    assert!(!slug.contains('/') && !slug.starts_with('.'), "{slug:?}");
    let _ = (r.effective_tag(), r.is_pinned(), r.is_registry(), r.pull_arg());
    if r.transport == Transport::Docker {
        assert!(r.local_name().is_some(), "a registry reference names an image");
        let name = r.pull_arg();
        let again = ImageRef::parse(&name).unwrap_or_else(|e| panic!("{s:?} -> {name:?}: {e}"));
        assert_eq!(
            (&again.registry, &again.repository, &again.tag, &again.digest, &again.image_id),
            (&r.registry, &r.repository, &r.tag, &r.digest, &r.image_id),
            "{s:?} -> {name:?}"
        );
    }
});
