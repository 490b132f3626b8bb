//! The JSON report: the report model serialised as is (schema documented in README.md).
//!
//! serde_json escapes C0 controls but writes C1 controls (U+0080..U+009F, e.g. the one-
//! character CSI U+009B) and bidi overrides as they are. Strings from the image (labels,
//! history) may hold them, and the JSON is also printed to CI logs (--json-stdout), so
//! those are written as \uXXXX escapes too: the same JSON value, nothing raw on a terminal.

use crate::model::Report;
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use std::io::{self, Write};

pub fn render(report: &Report) -> Vec<u8> {
    let mut v = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut v, Safe(PrettyFormatter::new()));
    report.serialize(&mut ser).expect("the report model always serialises");
    v.push(b'\n');
    v
}

/// PrettyFormatter, plus \u escapes for invisible and C1 control characters in strings.
struct Safe(PrettyFormatter<'static>);

impl Formatter for Safe {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_control() || crate::escape::is_invisible(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                // All of them are in the Basic Multilingual Plane: one \u escape each.
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        v.serialize(&mut serde_json::Serializer::with_formatter(&mut out, Safe(PrettyFormatter::new()))).unwrap();
        out
    }

    #[test]
    fn c1_and_bidi_characters_are_escaped_and_the_value_is_unchanged() {
        let mut m = std::collections::BTreeMap::new();
        let hostile = "a\u{9b}31m\u{202e}b\u{1b}[2J\u{85}é\u{1F600}\\\"";
        m.insert(hostile.to_string(), hostile.to_string());
        let json = to_json(&m);
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(!text.chars().any(|c| (c.is_control() && c != '\n') || crate::escape::is_invisible(c)), "{text}");
        assert!(text.contains("a\\u009b31m\\u202eb\\u001b[2J\\u0085é\u{1F600}\\\\\\\""), "{text}");
        let back: std::collections::BTreeMap<String, String> = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, m);
        // Same layout as serde_json's own pretty printer otherwise.
        let plain = serde_json::json!({"a": [1, {"b": "c"}], "d": {}});
        assert_eq!(to_json(&plain), serde_json::to_vec_pretty(&plain).unwrap());
    }
}
