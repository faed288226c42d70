//! in-toto Statement v1 and ResourceDescriptor.
//!
//! Invariants: serialization is deterministic (struct field order, `BTreeMap` digests,
//! serde_json with preserved insertion order for predicates), so the same inputs give the
//! same payload bytes; a subject always has a non-empty digest set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// An in-toto ResourceDescriptor (subject, material, dependency).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(
        default,
        rename = "downloadLocation",
        skip_serializing_if = "Option::is_none"
    )]
    pub download_location: Option<String>,
    #[serde(default, rename = "mediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ResourceDescriptor {
    pub fn named(name: impl Into<String>) -> Self {
        ResourceDescriptor {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    pub fn with_digest(mut self, alg: &str, hex: impl Into<String>) -> Self {
        self.digest.insert(alg.to_owned(), hex.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error("statement has no subject with a digest; every subject needs at least one digest")]
    NoSubjectDigest,
    #[error("cannot serialize statement: {0}")]
    Json(#[from] serde_json::Error),
}

impl Statement {
    pub fn new(
        subject: Vec<ResourceDescriptor>,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Self {
        Statement {
            type_: STATEMENT_V1.to_owned(),
            subject,
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// Compact JSON bytes: the DSSE payload.
    pub fn to_payload(&self) -> Result<Vec<u8>, StatementError> {
        if self.subject.is_empty() || self.subject.iter().any(|s| s.digest.is_empty()) {
            return Err(StatementError::NoSubjectDigest);
        }
        Ok(serde_json::to_vec(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_spec_shape() {
        let s = Statement::new(
            vec![ResourceDescriptor::named("img").with_digest("sha256", "ab")],
            "https://slsa.dev/provenance/v1",
            serde_json::json!({"z": 1, "a": 2}),
        );
        let text = String::from_utf8(s.to_payload().unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"img","digest":{"sha256":"ab"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"z":1,"a":2}}"#
        );
        let back: Statement = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn subject_without_digest_is_refused() {
        let s = Statement::new(
            vec![ResourceDescriptor::named("x")],
            "t",
            serde_json::Value::Null,
        );
        assert!(matches!(
            s.to_payload(),
            Err(StatementError::NoSubjectDigest)
        ));
        let s = Statement::new(vec![], "t", serde_json::Value::Null);
        assert!(s.to_payload().is_err());
    }
}
