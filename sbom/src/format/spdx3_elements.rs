//! The element types of the SPDX 3.0.1 JSON-LD graph that `spdx3.rs` writes (split out to
//! keep each file readable; see `spdx3.rs` for what each element means).

use serde::Serialize;

use super::common::Str;
use super::props::FileAttrs;
use super::spdx3::FileId;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreationInfo<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    #[serde(rename = "@id")]
    pub(super) id: &'static str,
    pub(super) spec_version: &'static str,
    pub(super) created: &'a str,
    pub(super) created_by: [&'a str; 1],
    pub(super) created_using: [&'a str; 1],
}

/// Agent, Tool, Organization.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Named<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: &'a str,
    pub(super) creation_info: &'static str,
    pub(super) name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Collection<'a, E: Serialize> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: &'a str,
    pub(super) creation_info: &'static str,
    pub(super) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) data_license: Option<&'a str>,
    #[serde(rename = "software_sbomType", skip_serializing_if = "Option::is_none")]
    pub(super) sbom_type: Option<[&'static str; 1]>,
    pub(super) profile_conformance: [&'static str; 4],
    pub(super) root_element: [&'a str; 1],
    pub(super) element: E,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExternalIdentifier<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) external_identifier_type: &'static str,
    pub(super) identifier: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PropertyEntry<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    #[serde(rename = "extension_cdxPropName")]
    pub(super) name: String,
    #[serde(rename = "extension_cdxPropValue")]
    pub(super) value: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
pub(super) struct Extension<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    #[serde(rename = "extension_cdxProperty")]
    pub(super) props: Vec<PropertyEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SwPackage<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: &'a str,
    pub(super) creation_info: &'static str,
    pub(super) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) comment: Option<String>,
    #[serde(
        rename = "software_packageVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) version: Option<&'a str>,
    #[serde(
        rename = "software_packageUrl",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) purl: Option<&'a str>,
    #[serde(rename = "software_homePage", skip_serializing_if = "Option::is_none")]
    pub(super) home_page: Option<&'a str>,
    #[serde(
        rename = "software_primaryPurpose",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) primary_purpose: Option<&'static str>,
    #[serde(
        rename = "software_sourceInfo",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) supplied_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) built_time: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) external_identifier: Vec<ExternalIdentifier<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) extension: Vec<Extension<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DictionaryEntry<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) key: &'a str,
    pub(super) value: &'a str,
}

#[derive(Serialize)]
pub(super) struct LicenseExpression<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    #[serde(rename = "spdxId")]
    pub(super) spdx_id: &'a str,
    #[serde(rename = "creationInfo")]
    pub(super) creation_info: &'static str,
    #[serde(rename = "simplelicensing_licenseExpression")]
    pub(super) expression: &'a str,
    #[serde(
        rename = "simplelicensing_customIdToUri",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(super) custom_ids: Vec<DictionaryEntry<'a>>,
}

#[derive(Serialize)]
pub(super) struct LicenseText<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    #[serde(rename = "spdxId")]
    pub(super) spdx_id: &'a str,
    #[serde(rename = "creationInfo")]
    pub(super) creation_info: &'static str,
    pub(super) name: &'a str,
    pub(super) comment: &'static str,
    #[serde(rename = "simplelicensing_licenseText")]
    pub(super) text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Hash<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) algorithm: &'static str,
    pub(super) hash_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SwFile<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: FileId<'a>,
    pub(super) creation_info: &'static str,
    pub(super) name: &'a str,
    #[serde(rename = "software_fileKind")]
    pub(super) kind: &'static str,
    #[serde(
        rename = "software_primaryPurpose",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) primary_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) verified_using: Option<[Hash<'a>; 1]>,
    pub(super) comment: Str<FileAttrs<'a>>,
}

/// A file no package owns, with the digests `--verify-files` computed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UnownedFile<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: &'a str,
    pub(super) creation_info: &'static str,
    pub(super) name: &'a str,
    #[serde(rename = "software_fileKind")]
    pub(super) kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) verified_using: Vec<Hash<'a>>,
    pub(super) comment: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Relationship<'a, T: Serialize> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: String,
    pub(super) creation_info: &'static str,
    pub(super) from: &'a str,
    pub(super) relationship_type: &'static str,
    pub(super) to: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) completeness: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Annotation<'a> {
    #[serde(rename = "type")]
    pub(super) ty: &'static str,
    pub(super) spdx_id: &'a str,
    pub(super) creation_info: &'static str,
    pub(super) annotation_type: &'static str,
    pub(super) subject: &'a str,
    pub(super) statement: String,
}
