//! CycloneDX 1.5 JSON: a software bill of materials of the installed packages the image's
//! package databases list (`report.packages.installed`), each a `library` component with
//! its purl; the image itself is the `container` the BOM describes. Merged, every image is
//! a `container` component with its packages nested. Built with serde, so valid JSON whatever
//! the databases hold; the serial number is derived from the content (the same report gives
//! the same BOM), shaped as a version-4 UUID.

use crate::model::Report;
use serde_json::{json, Value};

pub fn render(reports: &[&Report]) -> Vec<u8> {
    let mut bom = match reports {
        [r] => {
            let mut b = base(&r.scanned_at, &r.tool.version);
            b["metadata"]["component"] = container(r, false);
            b["components"] = Value::Array(packages(r));
            b
        }
        _ => {
            let at = reports.first().map(|r| r.scanned_at.as_str()).unwrap_or("");
            let version = reports.first().map(|r| r.tool.version.clone()).unwrap_or_default();
            let mut b = base(at, &version);
            b["components"] = Value::Array(reports.iter().map(|r| container(r, true)).collect());
            b
        }
    };
    let serial = serial_number(&serde_json::to_vec(&bom).expect("a BOM always serialises"));
    bom["serialNumber"] = Value::String(serial);
    let mut out = serde_json::to_vec_pretty(&bom).expect("a BOM always serialises");
    out.push(b'\n');
    out
}

fn base(scanned_at: &str, tool_version: &str) -> Value {
    let mut metadata = json!({
        "tools": { "components": [{ "type": "application", "name": "oci-compliance", "version": tool_version }] },
    });
    if !scanned_at.is_empty() {
        metadata["timestamp"] = Value::String(scanned_at.to_string());
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": metadata,
        "components": [],
    })
}

/// The image: its repository (or reference) as the name, its tag as the version, its
/// manifest digest as a hash.
fn container(r: &Report, nested: bool) -> Value {
    let img = &r.image;
    let esc = crate::escape::text;
    let name = img.repository.as_deref().map(esc).unwrap_or_else(|| esc(&img.reference));
    let mut c = json!({ "type": "container", "name": name });
    if let Some(t) = &img.tag {
        c["version"] = Value::String(esc(t));
    }
    if let Some(hex) = img.digest.as_deref().and_then(|d| d.strip_prefix("sha256:")) {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            c["hashes"] = json!([{ "alg": "SHA-256", "content": hex }]);
        }
    }
    if nested {
        c["components"] = Value::Array(packages(r));
    }
    c
}

fn packages(r: &Report) -> Vec<Value> {
    let Some(p) = &r.packages else { return Vec::new() };
    p.installed
        .iter()
        .map(|p| {
            let mut c = json!({ "type": "library", "name": p.name, "version": p.version, "purl": p.purl });
            let mut props = vec![json!({ "name": "oci-compliance:ecosystem", "value": p.ecosystem })];
            if let Some(s) = &p.source {
                props.push(json!({ "name": "oci-compliance:source", "value": s }));
            }
            c["properties"] = Value::Array(props);
            c
        })
        .collect()
}

/// `urn:uuid:` of the content's SHA-256, with the version (4) and variant bits set.
fn serial_number(content: &[u8]) -> String {
    let mut b = crate::sha256::digest(content);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
