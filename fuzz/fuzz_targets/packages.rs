//! Package databases (dpkg status and file lists, apk installed, rpm headers, rpmdb.sqlite
//! through the one-table SQLite reader): any bytes, every parser; never a panic, and what
//! comes out is what owner lookups rely on: named packages owning absolute paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::packages::{apk, dpkg, rpm, sqlite, Package};

fn well_formed(p: &Package) {
    assert!(!p.name.is_empty(), "{p:?}");
    for f in &p.files {
        assert!(f.starts_with(b"/"), "{p:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    for st in dpkg::stanzas(data) {
        for need_status in [true, false] {
            if let Some(p) = dpkg::package(&st, need_status) {
                well_formed(&p);
            }
        }
    }
    for f in dpkg::list_paths(data).iter().chain(&dpkg::md5sums_paths(data)) {
        assert!(f.starts_with(b"/") && f.len() > 1 && !f.ends_with(b"/"), "{f:?}");
    }
    if let Ok(ps) = apk::parse(data) {
        ps.iter().for_each(well_formed);
    }
    if let Ok(p) = rpm::parse_header(data) {
        well_formed(&p);
    }
    let mut notes = Vec::new();
    if let Ok(ps) = rpm::parse_db(data, &mut notes) {
        ps.iter().for_each(well_formed);
    }
    let _ = sqlite::table_rows(data, "sqlite_sequence", |_, payload| {
        let _ = sqlite::record(payload);
    });
});
