//! OCI index / manifest / config and `docker save` manifest.json: from a store to the
//! ordered list of layers of one image, with the digests every layer must match.
//!
//! An index may list several images (one per platform) and nest indexes; `--platform`
//! picks one, and without it more than one candidate is an error listing them.
//! Attestation manifests (`unknown/unknown`) are never candidates.

use serde::Deserialize;

use super::blobs::{Digest, Store};
use super::ImageError;

/// Largest JSON document (index, manifest, config) we read.
pub const JSON_LIMIT: u64 = 16 << 20;

/// Most image manifests an index (with its nested indexes) may offer. Real multi-platform
/// indexes list a few dozen; each one listed is read and hashed to choose a platform.
pub const MAX_MANIFESTS: usize = 1024;

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next().filter(|x| !x.is_empty())?.to_owned();
        let architecture = it.next().filter(|x| !x.is_empty())?.to_owned();
        let variant = it.next().map(str::to_owned);
        if it.next().is_some() {
            return None;
        }
        Some(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// Whether `self` (what the user asked for) selects `p`; a missing variant matches any.
    fn selects(&self, p: &Platform) -> bool {
        self.os == p.os
            && self.architecture == p.architecture
            && (self.variant.is_none() || self.variant == p.variant)
    }
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, Default, Deserialize)]
struct Config {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Debug, Default, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// How to open one layer and what its bytes must hash to.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// For messages: the blob digest, or the member path in a docker-archive.
    pub name: String,
    /// Member to open (`blobs/sha256/<hex>` or `<id>/layer.tar`).
    pub member: String,
    /// Digest of the stored bytes (OCI: the compressed blob), with the descriptor size.
    pub stored: Option<(Digest, Option<u64>)>,
    /// Digest of the uncompressed tar (docker-archive: the config's `diff_ids`).
    pub diff_id: Option<Digest>,
}

/// The image chosen from a store.
#[derive(Debug, Clone)]
pub struct Selected {
    pub manifest_digest: Option<Digest>,
    pub config_digest: Digest,
    pub platform: Platform,
    pub layers: Vec<LayerRef>,
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::BadJson {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

fn digest(s: &str, what: &str) -> Result<Digest, ImageError> {
    Digest::parse(s).ok_or_else(|| ImageError::BadJson {
        what: what.to_owned(),
        reason: format!("{s:?} is not a sha256/sha512 digest"),
    })
}

/// Picks the image from an OCI layout (directory or archive).
pub fn select_oci(store: &Store, want: Option<&Platform>) -> Result<Selected, ImageError> {
    let bytes =
        store
            .read_named("index.json", JSON_LIMIT)?
            .ok_or_else(|| ImageError::NotAnImage {
                path: store.describe(),
                reason: "no index.json".into(),
            })?;
    let index: Index = parse_json(&bytes, "index.json")?;
    let mut cands = Vec::new();
    let mut seen = std::collections::HashSet::new();
    collect(store, &index, "index.json", 0, &mut seen, &mut cands)?;
    let mut resolved = Vec::new();
    for d in cands {
        let dg = digest(&d.digest, "index.json")?;
        let m: Manifest = parse_json(&store.read_blob(&dg, d.size, JSON_LIMIT)?, &dg.to_string())?;
        let cd = digest(&m.config.digest, &dg.to_string())?;
        let platform = match &d.platform {
            Some(p) if !p.os.is_empty() => p.clone(),
            _ => {
                let c: Config = parse_json(
                    &store.read_blob(&cd, m.config.size, JSON_LIMIT)?,
                    &cd.to_string(),
                )?;
                Platform {
                    os: c.os,
                    architecture: c.architecture,
                    variant: c.variant,
                }
            }
        };
        if platform.os == "unknown" {
            continue; // buildx attestation manifests
        }
        resolved.push((dg, cd, m, platform));
    }
    let chosen = choose(resolved, want, |(_, _, _, p)| p.clone(), &store.describe())?;
    let (dg, cd, m, platform) = chosen;
    // The config is read (and so verified) even when the index named the platform: it is
    // the image's identity that `attest` signs.
    store.read_blob(&cd, m.config.size, JSON_LIMIT)?;
    let layers = m
        .layers
        .iter()
        .map(|l| {
            let d = digest(&l.digest, &dg.to_string())?;
            Ok(LayerRef {
                name: d.to_string(),
                member: format!("blobs/{}/{}", d.algo, d.hex),
                stored: Some((d, l.size)),
                diff_id: None,
            })
        })
        .collect::<Result<Vec<_>, ImageError>>()?;
    Ok(Selected {
        manifest_digest: Some(dg),
        config_digest: cd,
        platform,
        layers,
    })
}

/// The manifests an index offers, through nested indexes. Each nested index is read once
/// (`seen`, by digest) and the manifests are capped at [`MAX_MANIFESTS`]: an index listing
/// the same nested index many times, nested 4 deep, would otherwise multiply into billions
/// of reads.
fn collect(
    store: &Store,
    index: &Index,
    what: &str,
    depth: usize,
    seen: &mut std::collections::HashSet<String>,
    out: &mut Vec<Descriptor>,
) -> Result<(), ImageError> {
    if depth > 4 {
        return Err(ImageError::BadJson {
            what: what.to_owned(),
            reason: "indexes nested more than 4 deep".into(),
        });
    }
    for d in &index.manifests {
        if INDEX_TYPES.contains(&d.media_type.as_str()) {
            let dg = digest(&d.digest, what)?;
            if !seen.insert(dg.to_string()) {
                continue;
            }
            let nested: Index =
                parse_json(&store.read_blob(&dg, d.size, JSON_LIMIT)?, &dg.to_string())?;
            collect(store, &nested, &dg.to_string(), depth + 1, seen, out)?;
        } else if MANIFEST_TYPES.contains(&d.media_type.as_str()) || d.media_type.is_empty() {
            if out.len() == MAX_MANIFESTS {
                return Err(ImageError::TooLarge {
                    what: format!("{what}: image manifests offered by the index"),
                    limit: MAX_MANIFESTS as u64,
                });
            }
            out.push(d.clone());
        }
    }
    Ok(())
}

fn choose<T>(
    mut cands: Vec<T>,
    want: Option<&Platform>,
    platform: impl Fn(&T) -> Platform,
    path: &str,
) -> Result<T, ImageError> {
    let all: Vec<String> = cands.iter().map(|c| platform(c).to_string()).collect();
    if let Some(w) = want {
        cands.retain(|c| w.selects(&platform(c)));
    }
    match cands.len() {
        1 => Ok(cands.pop().expect("one candidate")),
        0 if all.is_empty() => Err(ImageError::NotAnImage {
            path: path.to_owned(),
            reason: "the index lists no image manifest".into(),
        }),
        0 => Err(ImageError::Platform {
            path: path.to_owned(),
            reason: format!(
                "no image for {}; the image offers: {}",
                want.map(|w| w.to_string()).unwrap_or_default(),
                all.join(", ")
            ),
        }),
        _ => Err(ImageError::Platform {
            path: path.to_owned(),
            reason: format!(
                "{} images match; choose one with --platform: {}",
                cands.len(),
                cands
                    .iter()
                    .map(|c| platform(c).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Picks the image from a `docker save` archive (manifest.json).
pub fn select_docker(store: &Store, want: Option<&Platform>) -> Result<Selected, ImageError> {
    let bytes = store
        .read_named("manifest.json", JSON_LIMIT)?
        .ok_or_else(|| ImageError::NotAnImage {
            path: store.describe(),
            reason: "no manifest.json".into(),
        })?;
    let entries: Vec<DockerEntry> = parse_json(&bytes, "manifest.json")?;
    let mut resolved = Vec::new();
    for e in entries {
        let cfg_name = super::blobs::member_name(&e.config).ok_or_else(|| ImageError::BadJson {
            what: "manifest.json".into(),
            reason: format!("config path {:?} leaves the archive", e.config),
        })?;
        // The config is named by its digest: `<hex>.json` (docker < 25) or `blobs/sha256/<hex>`.
        let hex = cfg_name
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".json")
            .to_owned();
        let cd = Digest::parse(&format!("sha256:{hex}")).ok_or_else(|| ImageError::BadJson {
            what: "manifest.json".into(),
            reason: format!(
                "config {:?} is not named by its sha256 digest, so it cannot be verified",
                e.config
            ),
        })?;
        let cfg_bytes =
            store
                .read_named(&cfg_name, JSON_LIMIT)?
                .ok_or_else(|| ImageError::MissingBlob {
                    blob: cfg_name.clone(),
                })?;
        let actual = Digest::of_sha256(&cfg_bytes);
        if actual != cd {
            return Err(ImageError::DigestMismatch {
                blob: cfg_name,
                expected: cd.to_string(),
                actual: actual.to_string(),
            });
        }
        let c: Config = parse_json(&cfg_bytes, &cfg_name)?;
        let diff_ids = c
            .rootfs
            .as_ref()
            .map(|r| r.diff_ids.clone())
            .unwrap_or_default();
        if diff_ids.len() != e.layers.len() {
            return Err(ImageError::BadJson {
                what: cfg_name,
                reason: format!(
                    "{} layers in manifest.json but {} diff_ids in the config",
                    e.layers.len(),
                    diff_ids.len()
                ),
            });
        }
        let platform = Platform {
            os: c.os,
            architecture: c.architecture,
            variant: c.variant,
        };
        let mut layers = Vec::new();
        for (l, id) in e.layers.iter().zip(&diff_ids) {
            let member = super::blobs::member_name(l).ok_or_else(|| ImageError::BadJson {
                what: "manifest.json".into(),
                reason: format!("layer path {l:?} leaves the archive"),
            })?;
            layers.push(LayerRef {
                name: member.clone(),
                member,
                stored: None,
                diff_id: Some(digest(id, &cd.to_string())?),
            });
        }
        let _ = e.repo_tags;
        resolved.push(Selected {
            manifest_digest: None,
            config_digest: cd,
            platform,
            layers,
        });
    }
    choose(resolved, want, |s| s.platform.clone(), &store.describe())
}
