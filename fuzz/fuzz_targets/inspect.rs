//! `podman image inspect` output: never a panic in the parser, the layer ordering, the
//! checks or the renderers; the console report shows no raw control character whatever
//! the image's config says (its USER, labels, ports, PATH, history, architecture…).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::engine;
use oci_compliance::exit::Failure;
use oci_compliance::layers::{self, entry::NO_PARENT, Classify, Entry, ImageFs, LayerScan, LayerSource};
use oci_compliance::model::{
    BaseFoundBy, BaseInfo, EntryKind as Kind, ErrorKind, ImageInfo, Report, SettingsInfo, Severity,
};
use oci_compliance::reference::ImageRef;
use oci_compliance::rules::{self, Classifier, RuleSettings};

fn entry(path: &str, parent: u32, kind: Kind, mode: u32) -> Entry {
    Entry { path: path.as_bytes().into(), parent, kind, mode, uid: 0, gid: 0, size: 1, link: None, opaque: false }
}

fn settings_info() -> SettingsInfo {
    engine::settings::settings_info("never", None, Default::default(), Severity::Informational, None, Default::default())
}

fn assert_printable(r: &Report) {
    let console = oci_compliance::render::console::render(r, &oci_compliance::render::console::Style { color: false });
    assert!(!console.chars().any(|c| c.is_control() && c != '\n'), "{console}");
    let json = oci_compliance::render::json::render(r);
    let _: serde_json::Value = serde_json::from_slice(&json).expect("the JSON report parses");
}

fuzz_target!(|data: &[u8]| {
    let image = match oci_compliance::inspect::parse(data) {
        Ok(i) => i,
        Err(e) => {
            // The parse error becomes the report's error (exit 21), printed on the console.
            let f = Failure::new(ErrorKind::InspectFailed, format!("podman image inspect x: {e}"));
            let info = ImageInfo { reference: "x".into(), ..Default::default() };
            assert_printable(&engine::new_report(settings_info(), info, Vec::new(), Vec::new(), Vec::new(), Some(&f)));
            return;
        }
    };
    let _ = (image.digest_for(Some("ns/app")), image.digest_for(None), image.config.env_var("PATH"));
    if let Ok(sources) = layers::source::layer_sources(&image) {
        assert!(sources.iter().enumerate().all(|(i, s)| s.number == i + 1));
    }
    // One in-memory layer with a setuid su on PATH, so findings carry the fuzzed layer
    // digest and history into the report. Its directory does not exist: reading
    // /etc/passwd from it fails, which the checks must handle too.
    let settings = RuleSettings::default();
    let classifier = Classifier::new(rules::all(), &settings);
    let mut scan = LayerScan::default();
    scan.entries = vec![
        entry("/usr", NO_PARENT, Kind::Dir, 0o755),
        entry("/usr/bin", 0, Kind::Dir, 0o755),
        entry("/usr/bin/su", 1, Kind::File, 0o4755),
    ];
    scan.hits = scan.entries.iter().enumerate().map(|(i, e)| (i as u32, classifier.classify(e))).filter(|h| h.1 != 0).collect();
    let source = LayerSource {
        number: 1,
        files: layers::LayerFiles::Dir("/nonexistent/oci-compliance-fuzz".into()),
        diff_id: image.root_fs.layers.first().cloned().unwrap_or_default(),
        created_by: image.history.first().map(|h| h.created_by.clone()).unwrap_or_default(),
        steps: image.history.iter().map(|h| h.created_by.clone()).collect(),
    };
    let fs = ImageFs::new(vec![(source, std::sync::Arc::new(scan))]);
    let reference = ImageRef::parse("registry.example:5000/ns/app:1").unwrap();
    let policy = Default::default();
    let checks = engine::run_checks(&reference, &image, &fs, &policy, &settings, rules::all());
    // The base as the hostile history and annotations give it: parsed, never trusted.
    let _ = oci_compliance::base::named(&image).and_then(|n| n.reference());
    let base = match oci_compliance::base::from_history(&image) {
        Ok((name, layers)) => BaseInfo {
            found_by: BaseFoundBy::History,
            reference: Some(oci_compliance::escape::text(&name)),
            digest: None,
            layers,
            note: None,
        },
        Err(e) => BaseInfo { found_by: BaseFoundBy::None, reference: None, digest: None, layers: 0, note: Some(e) },
    };
    let layers = engine::layer_info(&fs, &checks, &base);
    let mut r = engine::new_report(settings_info(), engine::image_info(&reference, &image, None, oci_compliance::model::Source::Storage), layers, checks, Vec::new(), None);
    r.base = Some(base);
    assert_printable(&r);
});
