//! SBOM writers. Each takes an [`Inventory`] and [`DocumentInfo`] and writes one JSON
//! document. Hand-written serde structs: no crate covers SPDX 2.3, SPDX 3.0 and
//! CycloneDX 1.6 completely and exactly.
//!
//! Invariants: output depends only on the inventory and `DocumentInfo` (no clock, no
//! hostname, no hash-map order), so the same image gives the same bytes; every
//! identifier is derived from content, never from the scan path.

pub mod common;
pub mod cyclonedx;
pub mod props;
pub mod spdx23;
pub mod spdx3;
mod spdx3_elements;

use std::io::Write;

use crate::inventory::Inventory;

/// Output format, as `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// SPDX 2.3 JSON
    #[value(name = "spdx-json", alias = "spdx23", alias = "spdx-2.3")]
    Spdx23,
    /// SPDX 3.0 JSON-LD
    #[value(name = "spdx3-json", alias = "spdx3", alias = "spdx-3.0")]
    Spdx3,
    /// CycloneDX 1.6 JSON
    #[value(name = "cyclonedx-json", alias = "cyclonedx", alias = "cdx")]
    CycloneDx,
}

/// What a document says about itself.
#[derive(Debug, Clone)]
pub struct DocumentInfo {
    /// Creation time, seconds since the epoch (SOURCE_DATE_EPOCH when set).
    pub created: i64,
    pub tool_name: String,
    pub tool_version: String,
    /// Whether to emit one entry per file (with digests). On by default.
    pub include_files: bool,
}

impl DocumentInfo {
    /// RFC 3339 UTC with seconds, as SPDX and CycloneDX want: `2024-01-31T12:00:00Z`.
    pub fn created_rfc3339(&self) -> String {
        rfc3339(self.created)
    }
}

/// Formats Unix seconds as RFC 3339 UTC. Hand-written (civil-from-days) to keep the
/// dependency tree small: it is the only date formatting the SBOM needs.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (h, m, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Writes the inventory in `format`.
pub fn write(
    format: Format,
    inv: &Inventory,
    info: &DocumentInfo,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Spdx23 => spdx23::write(inv, info, out),
        Format::Spdx3 => spdx3::write(inv, info, out),
        Format::CycloneDx => cyclonedx::write(inv, info, out),
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_643_274_086), "2022-01-27T09:01:26Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
