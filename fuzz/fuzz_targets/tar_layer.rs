//! Layer tars (any bytes, under each declared compression; the reader sniffs gzip and zstd
//! itself): never a panic, and what comes out is what the overlay merge relies on: parents
//! before children and directories, one entry per path, hashes and hits in step. A re-streamed
//! read agrees with what the scan captured.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::layers::entry::{path_hash, NO_PARENT};
use oci_compliance::layers::tar::{read_file, read_layer, Compression};
use oci_compliance::layers::{Classify, Entry};
use oci_compliance::model::EntryKind;
use std::collections::HashSet;

struct Setuid;

impl Classify for Setuid {
    fn classify(&self, e: &Entry) -> u64 {
        u64::from(e.mode & 0o4000 != 0)
    }
}

fuzz_target!(|data: &[u8]| {
    let capture = |p: &[u8]| p.starts_with(b"/etc/");
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let l = read_layer(data, c, &Setuid, &capture, 64);
        let s = &l.scan;
        assert_eq!(s.hashes.len(), s.entries.len());
        let mut seen = HashSet::new();
        for (i, e) in s.entries.iter().enumerate() {
            assert!(e.path.starts_with(b"/") && e.path.len() > 1 && !e.path.ends_with(b"/"), "{e:?}");
            assert!(e.path.len() <= 4096);
            assert!(seen.insert(&e.path[..]), "two entries at {e:?}");
            assert_eq!(s.hashes[i], path_hash(&e.path));
            assert!(e.mode <= 0o7777);
            if e.dir() == b"/" {
                assert_eq!(e.parent, NO_PARENT);
            } else {
                assert!((e.parent as usize) < i, "{e:?}");
                let p = &s.entries[e.parent as usize];
                assert!(p.kind == EntryKind::Dir && &p.path[..] == e.dir(), "{e:?} under {p:?}");
            }
            assert!(!e.opaque || e.kind == EntryKind::Dir);
        }
        let bits: Vec<u32> = s.hits.iter().map(|&(i, _)| i).collect();
        let want: Vec<u32> =
            (0..s.entries.len() as u32).filter(|&i| s.entries[i as usize].mode & 0o4000 != 0).collect();
        assert_eq!(bits, want);
        assert!(s.capabilities.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(s.capabilities.iter().all(|(i, _)| (*i as usize) < s.entries.len()));
        let bytes: u64 = s.entries.iter().filter(|e| e.kind == EntryKind::File).map(|e| e.size).sum();
        assert_eq!(s.bytes, bytes);
        for (path, content) in &l.captured {
            assert!(content.len() <= 64 && seen.contains(&path[..]));
            if s.errors.is_empty() {
                let again = read_file(data, c, l.content_path(path), 64);
                assert_eq!(again.as_ref().ok().and_then(|c| c.as_deref()), Some(&content[..]), "{path:?}");
            }
        }
        for (link, target) in &l.hardlinks {
            assert!(seen.contains(&link[..]));
            // Chains lead to the data (unless the layer replaced a linked file: an error).
            assert!(!s.errors.is_empty() || !l.hardlinks.contains_key(&target[..]));
        }
        if !s.errors.is_empty() {
            assert!(read_file(data, c, b"/etc/passwd", 64).is_err());
        }
    }
});
