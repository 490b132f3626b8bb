//! A report file as `merge` reads it, then every format: each image report and the merged
//! summary of two of them, through the built-in templates in strict mode. Whatever a report
//! file says, no renderer may panic or fail, and the merged table `merge` prints shows no raw
//! control character. (The per-image console report is only ever printed by the scan that
//! made the report, from strings it escaped.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::commands::merge::parse_report;
use oci_compliance::render::{console, Format, Renderer};
use std::sync::OnceLock;

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| Renderer::new(None).expect("built-in templates compile"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some(report)) = parse_report(data, "fuzz.json") else { return };
    for format in Format::ALL {
        if let Err(e) = renderer().render(format, &report) {
            panic!("{} report: {e}", format.name());
        }
    }
    let sources = vec![("a.json".to_string(), report.clone()), ("b/\u{1b}.json".to_string(), report)];
    let reports: Vec<_> = sources.iter().map(|(_, r)| r.clone()).collect();
    let summary = oci_compliance::aggregate::summarize(&sources, reports[0].settings.exit_codes, "2026-01-01T00:00:00Z".into());
    for format in Format::ALL {
        if let Err(e) = renderer().render_merged(format, &summary, &reports) {
            panic!("{} summary: {e}", format.name());
        }
    }
    let table = console::render_merged(&summary, &console::Style { color: false });
    assert!(!table.chars().any(|c| c.is_control() && c != '\n'), "{table}");
});
