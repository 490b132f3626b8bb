//! Canonical JSON: object keys sorted (by their UTF-8 bytes) at every level, no
//! insignificant whitespace, strings and numbers as serde_json writes them. Used where a
//! digest of a JSON value must not depend on field order or formatting.

use serde::Serialize;
use serde_json::Value;

/// The canonical JSON of anything serialisable (a report's settings, say).
pub fn json_of<T: Serialize>(value: &T) -> String {
    to_string(&serde_json::to_value(value).expect("report data always serialises"))
}

/// `sha256:` of `json_of(value)`: the same for equal values, whatever their field order.
pub fn digest_of<T: Serialize>(value: &T) -> String {
    format!("sha256:{}", crate::sha256::hex(json_of(value).as_bytes()))
}

pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v);
    out
}

fn write(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(out, &map[k]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, x);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_sorted_no_whitespace() {
        let v = serde_json::json!({"b": [1, {"z": null, "a": "x\"y"}], "a": true});
        assert_eq!(super::to_string(&v), r#"{"a":true,"b":[1,{"a":"x\"y","z":null}]}"#);
    }
}
