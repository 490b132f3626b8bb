//! escape::bytes is printable and lossless: unescape gives the input back, text() agrees
//! with bytes() on UTF-8, and unescape never panics on anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::escape;

fuzz_target!(|data: &[u8]| {
    let e = escape::bytes(data);
    assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
    assert!(
        !e.chars().any(|c| matches!(c as u32, 0x061c | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069)),
        "bidi control left in {e:?}"
    );
    assert_eq!(escape::unescape(&e).as_deref(), Some(data), "{e:?}");
    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(escape::text(s), e);
        let _ = escape::unescape(s);
    }
});
