//! Container images as input: an OCI image layout directory, an OCI archive (a tar of a
//! layout) and a docker-archive (`docker save`), with gzip, zstd or uncompressed layers.
//!
//! The layers are applied in memory, in order, to a [`tree::Tree`] (whiteouts, opaque
//! directories, hard links, symlinks resolved inside the root only); only the few files
//! the SBOM needs (the RPM database, os-release) are kept as bytes, and any other file's
//! content can be streamed again from its (layer, entry). Nothing is unpacked to disk.
//!
//! Invariants: every blob is checked against its digest while it is read (a mismatch is an
//! error naming the blob); entry paths with `..` or a leading `/`, entries written through
//! a symlink that leaves the root, and hard links to nothing are refused; decompressed
//! bytes are bounded ([`Limits`]); hostile input is an error, never a panic.

pub mod blobs;
pub mod layer;
pub mod manifest;
pub mod tree;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use blobs::Store;
use layer::EntryKind;
pub use manifest::Platform;
use manifest::Selected;
use tree::{ContentRef, Kind, Node, Tree};

/// Bounds on what an image may make us decompress and hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Decompressed bytes over all layers (default 16 GiB): a gzip or zstd bomb stops here.
    pub max_total: u64,
    /// Size of one tar entry (default 4 GiB).
    pub max_entry: u64,
    /// Tar entries in one layer (default 10 million): bounds the in-memory tree.
    pub max_entries: u64,
    /// Memory the merged file tree may take, by [`Tree::footprint`] (default 4 GiB, ~250
    /// bytes a file: a 10-million-file image fits, while a small layer of deep paths, each
    /// adding up to 2,000 implicit directories, cannot grow into tens of gigabytes).
    pub max_tree: u64,
    /// Work all the path resolutions of one image may cost, in [`tree::STEP_COST`] per
    /// component plus the bytes of each key looked up (default 2^30). Symlinks that send
    /// every entry's parent up and down hundreds of levels made a 50 KB layer take 133 s;
    /// the 3,000-package bench image needs ~0.2% of this.
    pub max_resolve: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total: 16 << 30,
            max_entry: 4 << 30,
            max_entries: 10_000_000,
            max_tree: 4 << 30,
            max_resolve: 1 << 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a container image: {reason}")]
    NotAnImage { path: String, reason: String },
    #[error("{what}: invalid JSON: {reason}")]
    BadJson { what: String, reason: String },
    #[error("blob {blob} is missing from the image")]
    MissingBlob { blob: String },
    #[error("blob {blob}: digest mismatch: the manifest says {expected}, the content is {actual}")]
    DigestMismatch {
        blob: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {reason}")]
    Platform { path: String, reason: String },
    #[error("{what}: refused, larger than the limit of {limit} (limits: --max-image-bytes, --max-entry-bytes; docs/images.md)")]
    TooLarge { what: String, limit: u64 },
    #[error("{what}: entry {entry} ({path:?}): refused: {reason}")]
    Hostile {
        what: String,
        entry: u64,
        path: String,
        reason: String,
    },
    #[error("{what}: entry {entry}: {reason}")]
    Tar {
        what: String,
        entry: u64,
        reason: String,
    },
    #[error("{what}: {reason}")]
    Unsupported { what: String, reason: String },
}

/// Which kind of image input a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    OciLayout,
    OciArchive,
    DockerArchive,
}

/// Tells an image input from a root directory or a database file: a directory with an
/// `oci-layout` file, or a tar archive (by the `ustar` magic) holding `oci-layout` /
/// `index.json` (OCI archive) or `manifest.json` (docker-archive). `None`: not an image.
pub fn detect(path: &Path) -> Option<InputKind> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_dir() {
        return path
            .join("oci-layout")
            .is_file()
            .then_some(InputKind::OciLayout);
    }
    let mut head = [0u8; 512];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    if &head[257..262] != b"ustar" {
        return None;
    }
    let store = Store::index_tar(path).ok()?;
    let Store::Tar { members, .. } = &store else {
        return None;
    };
    if members.contains_key("oci-layout") && members.contains_key("index.json") {
        Some(InputKind::OciArchive)
    } else if members.contains_key("manifest.json") {
        Some(InputKind::DockerArchive)
    } else {
        None
    }
}

/// A regular file's resolved path and content, borrowed when it was kept in the first pass.
pub type FileContent<'a> = (String, Cow<'a, [u8]>);

/// A symlink in the image whose target climbs above the root: reported, never followed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EscapingLink {
    pub path: String,
    pub target: String,
}

/// An opened image: its identity, its layers and the merged tree.
pub struct Image {
    pub location: PathBuf,
    pub kind: InputKind,
    pub manifest_digest: Option<String>,
    pub config_digest: String,
    pub platform: String,
    /// Layer names (blob digests, or member paths in a docker-archive), bottom first.
    pub layers: Vec<String>,
    pub tree: Tree,
    pub escaping_links: Vec<EscapingLink>,
    store: Store,
    selected: Selected,
    limits: Limits,
    captured: HashMap<ContentRef, Vec<u8>>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("location", &self.location)
            .field("kind", &self.kind)
            .field("manifest_digest", &self.manifest_digest)
            .field("config_digest", &self.config_digest)
            .field("layers", &self.layers)
            .field("nodes", &self.tree.len())
            .finish()
    }
}

/// Literal paths whose content is kept while the layers are read, so the common case needs
/// no second pass: the RPM database files and os-release.
fn wanted(path: &str) -> bool {
    matches!(path, "etc/os-release" | "usr/lib/os-release")
        || crate::rpmdb::DB_DIRS.iter().any(|d| {
            path.strip_prefix(d)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|f| matches!(f, "rpmdb.sqlite" | "Packages" | "Packages.db"))
        })
}

impl Image {
    /// Opens an image input of any of the three kinds and applies its layers.
    pub fn open(
        path: &Path,
        platform: Option<&Platform>,
        limits: Limits,
    ) -> Result<Image, ImageError> {
        let kind = detect(path).ok_or_else(|| ImageError::NotAnImage {
            path: path.display().to_string(),
            reason: "neither an OCI layout directory nor an OCI or docker archive".into(),
        })?;
        let store = match kind {
            InputKind::OciLayout => Store::Dir(path.to_path_buf()),
            _ => Store::index_tar(path)?,
        };
        let selected = match kind {
            InputKind::DockerArchive => manifest::select_docker(&store, platform)?,
            _ => manifest::select_oci(&store, platform)?,
        };
        let budget = Arc::new(AtomicU64::new(limits.max_total));
        // Layers are applied in order as they stream (no per-layer entry lists); the next
        // layers decompress meanwhile on their own threads.
        let ahead = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut tree = Tree::default();
        let mut captured = HashMap::new();
        let mut resolve_budget = limits.max_resolve;
        let mut appliers: Vec<Applier> = selected
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| Applier::new(i as u32, &l.name))
            .collect();
        layer::walk_layers(
            &store,
            &selected.layers,
            &limits,
            &budget,
            ahead,
            |i, info, content| {
                if info.kind == EntryKind::Node(Kind::File) && wanted(&info.path) {
                    let mut v = Vec::with_capacity(info.size.min(1 << 30) as usize);
                    content
                        .read_to_end(&mut v)
                        .map_err(|source| ImageError::Io {
                            what: format!("{}: {}", appliers[i].what, info.path),
                            source,
                        })?;
                    captured.insert(
                        ContentRef {
                            layer: i as u32,
                            entry: info.index,
                        },
                        v,
                    );
                }
                appliers[i].apply(&mut tree, info, &mut resolve_budget)?;
                if tree.footprint() as u64 > limits.max_tree {
                    return Err(ImageError::TooLarge {
                        what: format!(
                            "{}: the in-memory file tree (paths and implicit directories)",
                            appliers[i].what
                        ),
                        limit: limits.max_tree,
                    });
                }
                Ok(())
            },
        )?;
        // Keep only what the final tree still points to.
        let live: BTreeSet<ContentRef> = tree.nodes.values().filter_map(|n| n.content).collect();
        captured.retain(|k, _| live.contains(k));
        let escaping_links = tree
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == Kind::Symlink)
            .filter_map(|(p, n)| {
                let target = n.link.as_deref().unwrap_or("");
                let (dir, _) = tree::split_parent(p);
                tree::join_target(dir, target)
                    .is_none()
                    .then(|| EscapingLink {
                        path: p.clone(),
                        target: target.to_owned(),
                    })
            })
            .collect();
        Ok(Image {
            location: path.to_path_buf(),
            kind,
            manifest_digest: selected.manifest_digest.as_ref().map(|d| d.to_string()),
            config_digest: selected.config_digest.to_string(),
            platform: selected.platform.to_string(),
            layers: selected.layers.iter().map(|l| l.name.clone()).collect(),
            tree,
            escaping_links,
            store,
            selected,
            limits,
            captured,
        })
    }

    /// The content of a regular file, following symlinks inside the root. `Ok(None)` when
    /// the path does not exist or is not a regular file; reads its layer again when the
    /// content was not kept in the first pass.
    pub fn read_file(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<(String, Vec<u8>)>, ImageError> {
        Ok(self
            .file_content(path, limit)?
            .map(|(real, b)| (real, b.into_owned())))
    }

    /// [`Image::read_file`] without copying content kept from the first pass (the RPM
    /// database: tens of megabytes).
    pub fn file_content(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<FileContent<'_>>, ImageError> {
        let Ok(real) = self.tree.resolve(path, true) else {
            return Ok(None);
        };
        let Some(node) = self.tree.get(&real) else {
            return Ok(None);
        };
        let Some(c) = node.content.filter(|_| node.kind == Kind::File) else {
            return Ok(None);
        };
        if node.size > limit {
            return Err(ImageError::TooLarge {
                what: format!("/{real}"),
                limit,
            });
        }
        if let Some(b) = self.captured.get(&c) {
            return Ok(Some((real, Cow::Borrowed(b.as_slice()))));
        }
        let mut out = None;
        self.stream_layer(c.layer as usize, |info, r| {
            if info.index == c.entry {
                let mut v = Vec::new();
                r.read_to_end(&mut v).map_err(|source| ImageError::Io {
                    what: format!("/{real}"),
                    source,
                })?;
                out = Some(v);
            }
            Ok(())
        })?;
        Ok(out.map(|v| (real, Cow::Owned(v))))
    }

    /// Streams one layer again (checking its digest again), for content the tree points to.
    pub fn stream_layer(
        &self,
        idx: usize,
        visit: impl FnMut(&layer::EntryInfo, &mut dyn Read) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let budget = Arc::new(AtomicU64::new(self.limits.max_total));
        layer::walk(
            &self.store,
            &self.selected.layers[idx],
            idx,
            &self.limits,
            &budget,
            visit,
        )
    }
}

fn hostile(what: &str, index: u32, path: &str, reason: String) -> ImageError {
    ImageError::Hostile {
        what: what.to_owned(),
        entry: u64::from(index),
        path: path.to_owned(),
        reason,
    }
}

/// Applies one layer's entries to the tree, in entry order, as they stream.
struct Applier {
    layer: u32,
    what: String,
    /// Tar streams list a directory's entries together: the last parent resolved. Dropped
    /// when an entry could change how it resolves.
    last: Option<Parent>,
    /// Directories this layer already made opaque: a second marker removes nothing (what
    /// is left below is this layer's own), and each one rescanned the whole subtree.
    opaque: HashSet<String>,
    /// Paths of the tree this layer already whited out: likewise, a second whiteout removes nothing
    /// (no lower-layer node can come back within the layer), and each one rescanned the
    /// subtree: 20,000 files and as many whiteouts of their directory took 3 s.
    whited_out: HashSet<String>,
}

struct Parent {
    raw: String,
    real: String,
    /// `real` is known to be a directory of the tree (so are its ancestors): its next
    /// children need no lookup of it.
    exists: bool,
}

impl Applier {
    fn new(layer: u32, name: &str) -> Self {
        Applier {
            layer,
            what: format!("layer {layer} ({name})"),
            last: None,
            opaque: HashSet::new(),
            whited_out: HashSet::new(),
        }
    }

    /// Forgets the cached parent when `path` is it or one of its ancestors.
    fn touch(last: &mut Option<Parent>, path: &str) {
        if let Some(Parent { real, .. }) = last {
            let under = real
                .strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if under || path.is_empty() {
                *last = None;
            }
        }
    }

    /// Applies one entry; takes its strings (the walk no longer needs them).
    fn apply(
        &mut self,
        tree: &mut Tree,
        e: &mut layer::EntryInfo,
        budget: &mut u64,
    ) -> Result<(), ImageError> {
        let layer = self.layer;
        if e.kind == EntryKind::Opaque && e.path.is_empty() {
            if self.opaque.insert(String::new()) {
                tree.remove_children("", Some(layer));
            }
            self.last = None;
            return Ok(());
        }
        if e.path.is_empty() || e.kind == EntryKind::Skip {
            return Ok(());
        }
        let (dir, base) = tree::split_parent(&e.path);
        if !matches!(&self.last, Some(p) if p.raw == dir) {
            let real = tree
                .resolve_within(dir, true, budget)
                .map_err(|r| hostile(&self.what, e.index, &e.path, r.to_string()))?;
            self.last = Some(Parent {
                raw: dir.to_owned(),
                real,
                exists: false,
            });
        }
        let parent = &self.last.as_ref().expect("resolved above").real;
        let joined = if parent == dir {
            None
        } else if parent.is_empty() {
            Some(base.to_owned())
        } else {
            Some(format!("{parent}/{base}"))
        };
        let resolved = joined.is_some();
        let path = joined.unwrap_or_else(|| std::mem::take(&mut e.path));
        let fail = |path: &str, reason: String| hostile(&self.what, e.index, path, reason);
        // The entry's own path was checked (`layer::classify`); through a symlinked parent
        // it can grow.
        if resolved {
            if let Some(reason) = tree::beyond_limits(&path) {
                return Err(fail(
                    &format!("{}...", tree::path_prefix(&path)),
                    format!("resolves through symlinks to {reason}"),
                ));
            }
        }
        match std::mem::replace(&mut e.kind, EntryKind::Skip) {
            EntryKind::Skip => {}
            EntryKind::Whiteout => {
                // Only a path in the tree can have a subtree to rescan (every ancestor of a
                // key is a node): recording just those keeps the set within the tree's size.
                if !self.whited_out.contains(&path) {
                    let present = tree.get(&path).is_some();
                    tree.remove_lower(&path, layer);
                    if present {
                        self.whited_out.insert(path);
                    }
                }
                self.last = None;
            }
            EntryKind::Opaque => {
                let d = tree
                    .resolve_within(&path, true, budget)
                    .map_err(|r| fail(&path, r.to_string()))?;
                if !self.opaque.contains(&d) {
                    tree.remove_children(&d, Some(layer));
                    self.opaque.insert(d);
                }
                self.last = None;
            }
            EntryKind::HardLink(target) => {
                let t = tree
                    .resolve_within(&target, false, budget)
                    .map_err(|r| fail(&path, r.to_string()))?;
                let Some(src) = tree.get(&t).filter(|n| n.kind == Kind::File).cloned() else {
                    return Err(fail(
                        &path,
                        format!(
                            "hard link to {target:?}, which is not a regular file in the image"
                        ),
                    ));
                };
                let node = Node { layer, ..src };
                self.last = None;
                tree.ensure_parents(&path, layer)
                    .map_err(|r| fail(&path, r.to_string()))?;
                tree.insert_with_parents(path, node);
            }
            EntryKind::Node(kind) => {
                let node = Node {
                    kind,
                    perm: e.perm,
                    uid: e.uid,
                    gid: e.gid,
                    uname: std::mem::take(&mut e.uname),
                    gname: std::mem::take(&mut e.gname),
                    size: if kind == Kind::File { e.size } else { 0 },
                    link: e.link.take(),
                    content: (kind == Kind::File).then_some(ContentRef {
                        layer,
                        entry: e.index,
                    }),
                    layer,
                };
                // A new child of the cached parent cannot change how the parent resolves or
                // whether it exists; an entry at the parent or above it could (a symlink over
                // a directory). Such an entry has another parent, so the cache already moved
                // on; forgetting it here as well keeps that true if the caching changes.
                Self::touch(&mut self.last, &path);
                if !self.last.as_ref().is_some_and(|p| p.exists) {
                    tree.ensure_parents(&path, layer)
                        .map_err(|r| fail(&path, r.to_string()))?;
                    if let Some(p) = self.last.as_mut() {
                        p.exists = true;
                    }
                }
                tree.insert_with_parents(path, node);
            }
        }
        Ok(())
    }
}
