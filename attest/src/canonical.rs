//! Canonical JSON as securesystemslib (and so in-toto) signs it: OLPC canonical JSON.
//!
//! Objects with keys sorted by code point (= UTF-8 byte order), no insignificant
//! whitespace, strings with only `\` and `"` escaped (every other character, control
//! characters included, is written raw as UTF-8), integers only (no floats), `true`,
//! `false`, `null`. This is what `securesystemslib.formats.encode_canonical` produces; a
//! signature over anything else does not verify in in-toto.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error(
        "canonical JSON has no floating-point numbers (found {0}); use an integer or a string"
    )]
    Float(String),
}

/// Encodes `v` as canonical JSON bytes.
pub fn to_vec(v: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    write(v, &mut out)?;
    Ok(out)
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn write(v: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(CanonicalError::Float(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(x, out)?;
            }
            out.push(b']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(&m[k], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_securesystemslib_rules() {
        let v = json!({"b": [1, -2, "x\"y\\z\n"], "a": {"é": null, "Z": true}, "_type": false});
        let got = String::from_utf8(to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            got,
            "{\"_type\":false,\"a\":{\"Z\":true,\"é\":null},\"b\":[1,-2,\"x\\\"y\\\\z\n\"]}"
        );
        assert!(to_vec(&json!({"f": 1.5})).is_err());
    }

    #[test]
    fn in_toto_link_payload_is_canonical() {
        // The payload of in-toto's own DSSE link (python-tests demo) is canonical JSON:
        // re-encoding its parsed form must give the same bytes.
        let payload = br#"{"_type":"link","byproducts":{},"command":[],"environment":{},"materials":{},"name":"write-code","products":{"foo.py":{"sha256":"74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549"}}}"#;
        let v: Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(to_vec(&v).unwrap(), payload.to_vec());
    }
}
