//! The published JSON schemas (docs/report-v1.schema.json, docs/summary-v1.schema.json) as
//! validators: every report a test produces is checked against them with boon, format
//! assertions on, and the schema is the one place the JSON layout is written down.

use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// A compiled schema, or its own compile error (which fails every test that uses it).
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
    file: &'static str,
}

fn compile(file: &'static str) -> Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(file);
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = format!("urn:oci-compliance-test:{file}");
    compiler.add_resource(&url, schema).unwrap();
    let index = compiler.compile(&url, &mut schemas).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    Validator { schemas, index, file }
}

fn report_schema() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| compile("report-v1.schema.json"))
}

fn summary_schema() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| compile("summary-v1.schema.json"))
}

impl Validator {
    fn errors(&self, value: &Value) -> Option<String> {
        self.schemas.validate(value, self.index).err().map(|e| format!("not valid against docs/{}:\n{e:#}", self.file))
    }
}

/// Why `value` is not a valid report, if it is not.
pub fn report_errors(value: &Value) -> Option<String> {
    report_schema().errors(value)
}

/// Why `value` is not a valid merged summary, if it is not.
pub fn summary_errors(value: &Value) -> Option<String> {
    summary_schema().errors(value)
}

fn shown(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap().chars().take(4000).collect()
}

pub fn assert_valid_report(value: &Value) {
    if let Some(e) = report_errors(value) {
        panic!("{e}\nin {}", shown(value));
    }
}

pub fn assert_valid_summary(value: &Value) {
    if let Some(e) = summary_errors(value) {
        panic!("{e}\nin {}", shown(value));
    }
}

/// The official CycloneDX 1.5 JSON schema with the two it references, vendored under
/// tests/schema/cyclonedx/ (see its README), each added under the URL its `$ref` resolves to.
fn cyclonedx_schema() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/cyclonedx");
        let load = |f: &str| -> Value { serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap() };
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        let base = "http://cyclonedx.org/schema/";
        for f in ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"] {
            compiler.add_resource(&format!("{base}{f}"), load(f)).unwrap();
        }
        let url = format!("{base}bom-1.5.schema.json");
        compiler.add_resource(&url, load("bom-1.5.SNAPSHOT.schema.json")).unwrap();
        let index = compiler.compile(&url, &mut schemas).unwrap_or_else(|e| panic!("CycloneDX 1.5 schema: {e:#}"));
        Validator { schemas, index, file: "../tests/schema/cyclonedx/bom-1.5.SNAPSHOT.schema.json" }
    })
}

/// Why `value` is not a valid CycloneDX 1.5 BOM, if it is not.
pub fn cyclonedx_errors(value: &Value) -> Option<String> {
    cyclonedx_schema().errors(value)
}

pub fn assert_valid_cyclonedx(value: &Value) {
    if let Some(e) = cyclonedx_errors(value) {
        panic!("{e}\nin {}", shown(value));
    }
}
