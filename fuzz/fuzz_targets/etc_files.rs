//! passwd, group and os-release from inside an image: never a panic; what is returned is
//! well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::etc_files::{id, parse_group, parse_os_release, parse_passwd};

fuzz_target!(|data: &[u8]| {
    for e in parse_passwd(data) {
        assert!(!e.name.is_empty() && !e.name.contains(':') && !e.name.contains('\n'), "{e:?}");
    }
    for e in parse_group(data) {
        assert!(!e.name.is_empty() && !e.name.contains(':') && !e.name.contains('\n'), "{e:?}");
    }
    for (k, v) in parse_os_release(data) {
        assert!(!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{k:?}");
        assert!(!v.contains('\n'), "{v:?}");
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(n) = id(s) {
            assert_eq!(s.trim_start_matches('0').parse::<u32>().unwrap_or(0), n);
        }
    }
});
