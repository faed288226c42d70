//! `--json`: the report as one JSON document (schema in `docs/verify.md`).
//!
//! Field names and kinds are the stable interface; `schemaVersion` changes when they do.

use super::Report;

/// Pretty-printed JSON with a trailing newline.
pub fn render(report: &Report) -> String {
    // Serializing plain structs and strings cannot fail.
    let mut s =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_field_names() {
        let v: serde_json::Value =
            serde_json::from_str(&render(&super::super::tests::sample())).unwrap();
        assert_eq!(v["schemaVersion"], 1);
        assert_eq!(v["trusted"], false);
        assert_eq!(v["counts"]["fail"], 1);
        let f = &v["findings"][1];
        assert_eq!(f["check"], "rpm.signature");
        assert_eq!(f["subject"]["kind"], "package");
        assert_eq!(f["status"], "fail");
        assert_eq!(f["kind"], "bad-signature");
        assert_eq!(v["trustedKeys"][0]["userId"], "Test <t@example.invalid>");
    }
}
