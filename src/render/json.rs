//! The JSON report: the report model serialised as is (schema documented in README.md).

use crate::report::Report;

pub fn render(report: &Report) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(report).expect("the report model always serialises");
    v.push(b'\n');
    v
}
