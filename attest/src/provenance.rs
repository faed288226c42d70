//! SLSA Provenance v1 predicates: one for an image, one per package, and the SBOM
//! predicates that wrap `sbom` output. Build types and parameters are documented in
//! `docs/attest.md`.
//!
//! Digests of RPMs: `rpmHeaderSha256` is SHA256HEADER (SHA-256 of the signed, immutable
//! header region) — it identifies the signed header, not the `.rpm` file, so it is never
//! written under the standard `sha256` key. `sha256` appears only for a `.rpm` file that was
//! actually hashed (`--repo`), matched to the installed package by that header digest.
//!
//! Invariants: the output depends only on the inventory, the files hashed and the given
//! parameters (times come from arguments or SOURCE_DATE_EPOCH), so it is reproducible;
//! dependencies are listed in inventory order, then the recipe, then overlays sorted by path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use sbom::inventory::Inventory;
use sbom::package::Package;

use crate::recipe::{RecipeError, RecipeOverlay};
use crate::repo::Repo;
use crate::rootfs::{self, RootfsError};
use crate::statement::{ResourceDescriptor, Statement};

pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// Build type of an image composed from RPMs, a recipe and overlays.
pub const BUILD_TYPE_IMAGE: &str = "https://example.invalid/fedora-attest/build-types/image/v1";
/// Build type of one binary RPM built from its source RPM.
pub const BUILD_TYPE_RPM: &str = "https://example.invalid/fedora-attest/build-types/rpm/v1";
/// DigestSet key of an RPM header digest (SHA256HEADER).
pub const RPM_HEADER_DIGEST_KEY: &str = "rpmHeaderSha256";

pub const PREDICATE_SPDX23: &str = "https://spdx.dev/Document/v2.3";
pub const PREDICATE_SPDX3: &str = "https://spdx.dev/Document/v3";
pub const PREDICATE_CYCLONEDX: &str = "https://cyclonedx.org/bom/v1.6";

#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error("overlay {path}{}: not found in the image at {} ({source}); give the path as it is inside the image, e.g. /etc/motd.d/azl", from_recipe(.origin), .abs.display())]
    Overlay {
        path: String,
        abs: PathBuf,
        /// The recipe entry that named it, when one did.
        origin: Option<Box<RecipeOverlay>>,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    RecipeOverlays(#[from] RecipeError),
    #[error("overlay {0}: the path leaves the image root (.. or a symlink); overlays must be inside the image")]
    OverlayEscapes(String),
    #[error("{path}: cannot read the recipe: {source}")]
    Recipe {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the SBOM predicate: {0}")]
    Sbom(String),
}

fn from_recipe(origin: &Option<Box<RecipeOverlay>>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" (recipe entry {})", o.entry))
        .unwrap_or_default()
}

/// A file the build consumed, with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedFile {
    /// As recorded: a recipe's file name, an overlay's absolute path inside the image.
    pub name: String,
    pub sha256: String,
    /// For an overlay the recipe names: that entry (its component is recorded).
    pub origin: Option<RecipeOverlay>,
}

/// An overlay path to hash: from `--overlay` (no origin) or from a recipe entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayRequest {
    pub path: String,
    pub origin: Option<RecipeOverlay>,
}

impl OverlayRequest {
    pub fn given(path: impl Into<String>) -> Self {
        OverlayRequest {
            path: path.into(),
            origin: None,
        }
    }
}

/// Everything the image provenance says besides the inventory.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    pub builder_id: String,
    pub invocation_id: Option<String>,
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
    pub recipe: Option<HashedFile>,
    pub overlays: Vec<HashedFile>,
    /// Extra `externalParameters.inputs` (`--param key=value`).
    pub inputs: BTreeMap<String, String>,
}

/// The subject of statements about an image: its OCI manifest digest when it has one,
/// else the root-filesystem digest of the directory.
pub fn image_subject(
    inv: &Inventory,
    root: Option<&Path>,
    name: Option<&str>,
) -> Result<ResourceDescriptor, ProvenanceError> {
    let default_name = inv
        .distro
        .as_ref()
        .map(|d| d.purl_distro())
        .unwrap_or_else(|| "rootfs".into());
    let name = name.map(str::to_owned).unwrap_or(default_name);
    if let Some(d) = &inv.source.manifest_digest {
        if let Some((alg, hex)) = d.split_once(':') {
            return Ok(ResourceDescriptor::named(name).with_digest(alg, hex));
        }
    }
    let root = root.unwrap_or_else(|| Path::new(&inv.source.location));
    let d = rootfs::digest(root)?;
    Ok(ResourceDescriptor::named(name).with_digest(rootfs::DIGEST_KEY, d.sha256))
}

/// Hashes overlay paths inside `root` (files; a directory contributes every regular file
/// and symlink below it). Symlinks are recorded by target, never followed. A file named
/// both by `--overlay` and by a recipe entry is recorded once, with the recipe's origin.
pub fn hash_overlays(
    root: &Path,
    requests: &[OverlayRequest],
) -> Result<Vec<HashedFile>, ProvenanceError> {
    let mut files: Vec<(String, PathBuf, Option<&RecipeOverlay>)> = Vec::new();
    for req in requests {
        let p = &req.path;
        let rel = p.trim_start_matches('/');
        if rel.split('/').any(|c| c == "..") {
            return Err(ProvenanceError::OverlayEscapes(p.clone()));
        }
        let abs = root.join(rel);
        let meta = std::fs::symlink_metadata(&abs).map_err(|source| ProvenanceError::Overlay {
            path: p.clone(),
            abs: abs.clone(),
            origin: req.origin.clone().map(Box::new),
            source,
        })?;
        // No component on the way may be a symlink: the overlay must be what is in the root.
        let canon_parent = abs
            .parent()
            .and_then(|pp| pp.canonicalize().ok())
            .unwrap_or_default();
        let canon_root = root.canonicalize().unwrap_or_default();
        if !canon_parent.starts_with(&canon_root) {
            return Err(ProvenanceError::OverlayEscapes(p.clone()));
        }
        if meta.is_dir() {
            for e in walkdir::WalkDir::new(&abs)
                .follow_links(false)
                .sort_by_file_name()
            {
                let e = e.map_err(|e| ProvenanceError::Overlay {
                    path: p.clone(),
                    abs: abs.clone(),
                    origin: req.origin.clone().map(Box::new),
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("walk")),
                })?;
                if !e.file_type().is_dir() {
                    let r = e.path().strip_prefix(root).unwrap_or(e.path());
                    files.push((
                        format!("/{}", r.display()),
                        e.into_path(),
                        req.origin.as_ref(),
                    ));
                }
            }
        } else {
            files.push((format!("/{rel}"), abs, req.origin.as_ref()));
        }
    }
    // Per path: an entry with a recipe origin first (`is_none()` is false for it), the
    // first such entry in order, then one record per path.
    files.sort_by(|a, b| (&a.0, a.2.is_none(), a.2).cmp(&(&b.0, b.2.is_none(), b.2)));
    files.dedup_by(|a, b| a.0 == b.0);
    files
        .par_iter()
        .map(|(name, abs, origin)| {
            let fail = |source| ProvenanceError::Overlay {
                path: name.clone(),
                abs: abs.clone(),
                origin: origin.cloned().map(Box::new),
                source,
            };
            let meta = std::fs::symlink_metadata(abs).map_err(fail)?;
            let sha256 = if meta.file_type().is_symlink() {
                let t = std::fs::read_link(abs).map_err(fail)?;
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(t.as_os_str().as_encoded_bytes()))
            } else {
                rootfs::hash_file(abs)?.0
            };
            Ok(HashedFile {
                name: name.clone(),
                sha256,
                origin: origin.cloned(),
            })
        })
        .collect()
}

/// Hashes the recipe file; its recorded name is the file name only (paths differ between
/// machines, content does not).
pub fn hash_recipe(path: &Path) -> Result<HashedFile, ProvenanceError> {
    let (sha256, _) = rootfs::hash_file(path).map_err(|e| match e {
        RootfsError::Io { source, .. } => ProvenanceError::Recipe {
            path: path.into(),
            source,
        },
        other => ProvenanceError::Rootfs(other),
    })?;
    Ok(HashedFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256,
        origin: None,
    })
}

fn header_digest(p: &Package) -> Option<&str> {
    p.sha256_header
        .as_deref()
        .or(p.computed_sha256_header.as_deref())
}

/// The ResourceDescriptor of an installed package: purl, `<nevra>.rpm`, header digest and,
/// when its `.rpm` file was hashed, the file digest.
pub fn package_descriptor(inv: &Inventory, p: &Package, repo: Option<&Repo>) -> ResourceDescriptor {
    let mut d = ResourceDescriptor {
        name: Some(format!("{}.rpm", p.nevra())),
        uri: Some(sbom::purl::for_package(p, inv.distro.as_ref())),
        ..Default::default()
    };
    if let Some(h) = header_digest(p) {
        d.digest.insert(RPM_HEADER_DIGEST_KEY.into(), h.to_owned());
        if let Some(f) = repo.and_then(|r| r.find(h)) {
            d.digest.insert("sha256".into(), f.sha256.clone());
        }
    }
    d
}

/// `{"/path": "component"}` for the overlays a recipe entry named, in path order.
fn overlay_components<'a>(overlays: impl Iterator<Item = &'a HashedFile>) -> Value {
    let mut m = Map::new();
    for o in overlays {
        if let Some(r) = &o.origin {
            m.insert(o.name.clone(), json!(r.component));
        }
    }
    Value::Object(m)
}

fn file_descriptor(f: &HashedFile) -> ResourceDescriptor {
    ResourceDescriptor::named(f.name.clone()).with_digest("sha256", f.sha256.clone())
}

fn run_details(info: &BuildInfo) -> Value {
    let mut metadata = Map::new();
    if let Some(i) = &info.invocation_id {
        metadata.insert("invocationId".into(), json!(i));
    }
    if let Some(t) = &info.started_on {
        metadata.insert("startedOn".into(), json!(t));
    }
    if let Some(t) = &info.finished_on {
        metadata.insert("finishedOn".into(), json!(t));
    }
    json!({
        "builder": {
            "id": info.builder_id,
            "version": {"attest": env!("CARGO_PKG_VERSION")},
        },
        "metadata": metadata,
    })
}

/// SLSA Provenance v1 for the whole image.
pub fn image_statement(
    inv: &Inventory,
    subject: ResourceDescriptor,
    info: &BuildInfo,
    repo: Option<&Repo>,
) -> Statement {
    let mut deps: Vec<ResourceDescriptor> = inv
        .packages
        .iter()
        .map(|p| package_descriptor(inv, p, repo))
        .collect();
    if let Some(r) = &info.recipe {
        deps.push(file_descriptor(r));
    }
    deps.extend(info.overlays.iter().map(file_descriptor));
    let mut ext = Map::new();
    if let Some(r) = &info.recipe {
        ext.insert(
            "recipe".into(),
            json!({"name": r.name, "digest": {"sha256": r.sha256}}),
        );
    }
    ext.insert(
        "overlays".into(),
        json!(info.overlays.iter().map(|o| &o.name).collect::<Vec<_>>()),
    );
    if info.recipe.is_some() {
        ext.insert(
            "overlayComponents".into(),
            overlay_components(info.overlays.iter()),
        );
    }
    ext.insert("inputs".into(), json!(info.inputs));
    let predicate = json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE_IMAGE,
            "externalParameters": ext,
            "internalParameters": {
                "distro": inv.distro.as_ref().map(|d| d.purl_distro()),
                "rpmdb": {"path": inv.source.rpmdb_path, "format": inv.source.rpmdb_format},
                "packageCount": inv.packages.len(),
            },
            "resolvedDependencies": deps,
        },
        "runDetails": run_details(info),
    });
    Statement::new(vec![subject], SLSA_PROVENANCE_V1, predicate)
}

/// The source RPM of a binary package as a ResourceDescriptor (`arch=src` purl).
fn source_descriptor(inv: &Inventory, p: &Package) -> Option<ResourceDescriptor> {
    let src = p.source_rpm.as_deref()?;
    let stem = src.strip_suffix(".src.rpm").unwrap_or(src);
    // name-version-release: the last two '-' separate version and release.
    let mut it = stem.rsplitn(3, '-');
    let (rel, ver, name) = (it.next()?, it.next()?, it.next()?);
    let mut sp = p.clone();
    sp.name = name.to_owned();
    sp.version = ver.to_owned();
    sp.release = rel.to_owned();
    sp.arch = "src".into();
    Some(ResourceDescriptor {
        name: Some(src.to_owned()),
        uri: Some(sbom::purl::for_package(&sp, inv.distro.as_ref())),
        ..Default::default()
    })
}

/// SLSA Provenance v1 for each package, in inventory order. Overlays are listed for the
/// packages whose files they replace.
pub fn package_statements(
    inv: &Inventory,
    info: &BuildInfo,
    repo: Option<&Repo>,
) -> Vec<Statement> {
    inv.packages
        .par_iter()
        .map(|p| {
            let subject = package_descriptor(inv, p, repo);
            let mut deps: Vec<ResourceDescriptor> = source_descriptor(inv, p).into_iter().collect();
            let owned: Vec<&HashedFile> = info
                .overlays
                .iter()
                .filter(|o| p.files.iter().any(|f| f.path == o.name))
                .collect();
            deps.extend(owned.iter().map(|o| file_descriptor(o)));
            let mut external = Map::new();
            external.insert("package".into(), json!(p.nevra()));
            external.insert("sourceRpm".into(), json!(p.source_rpm));
            external.insert(
                "overlays".into(),
                json!(owned.iter().map(|o| &o.name).collect::<Vec<_>>()),
            );
            if info.recipe.is_some() {
                external.insert(
                    "overlayComponents".into(),
                    overlay_components(owned.iter().copied()),
                );
            }
            let mut internal = Map::new();
            if let Some(h) = &p.build_host {
                internal.insert("buildHost".into(), json!(h));
            }
            if let Some(v) = &p.vendor {
                internal.insert("vendor".into(), json!(v));
            }
            // The package was built when its header says, not during this image build.
            let run = run_details(&BuildInfo {
                started_on: None,
                finished_on: p.build_time.map(|t| sbom::format::rfc3339(i64::from(t))),
                ..info.clone()
            });
            let predicate = json!({
                "buildDefinition": {
                    "buildType": BUILD_TYPE_RPM,
                    "externalParameters": external,
                    "internalParameters": internal,
                    "resolvedDependencies": deps,
                },
                "runDetails": run,
            });
            Statement::new(vec![subject], SLSA_PROVENANCE_V1, predicate)
        })
        .collect()
}

/// The predicate type for an SBOM format.
pub fn sbom_predicate_type(f: sbom::format::Format) -> &'static str {
    match f {
        sbom::format::Format::Spdx23 => PREDICATE_SPDX23,
        sbom::format::Format::Spdx3 => PREDICATE_SPDX3,
        sbom::format::Format::CycloneDx => PREDICATE_CYCLONEDX,
    }
}

/// A statement whose predicate is the SBOM `sbom` writes for the inventory.
pub fn sbom_statement(
    inv: &Inventory,
    subject: ResourceDescriptor,
    format: sbom::format::Format,
    info: &sbom::format::DocumentInfo,
) -> Result<Statement, ProvenanceError> {
    let mut buf = Vec::new();
    sbom::format::write(format, inv, info, &mut buf)
        .map_err(|e| ProvenanceError::Sbom(e.to_string()))?;
    let doc: Value =
        serde_json::from_slice(&buf).map_err(|e| ProvenanceError::Sbom(e.to_string()))?;
    Ok(Statement::new(
        vec![subject],
        sbom_predicate_type(format),
        doc,
    ))
}
