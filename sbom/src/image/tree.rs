//! The merged file tree of an image, in memory: every path the layers leave behind, with
//! its type, mode, owner, size, link target and where its content lives (layer, entry
//! index), so content can be streamed again later without anything being unpacked.
//!
//! Invariants: keys are normalized relative paths (`usr/bin/bash`: no leading `/`, no `.`
//! or `..` component, no empty component); every ancestor of a key is a directory node;
//! resolving a path never leaves the root (a symlink that climbs above it is an error,
//! never clamped silently and never followed out); no key is longer than [`MAX_PATH`], and
//! [`Tree::footprint`] counts every key ever added, so a reader can bound the tree's memory
//! (deep paths add one implicit directory per component); resolving charges its work to a
//! budget ([`Tree::resolve_within`]), so symlinks cannot make reading an image slow.

use std::collections::BTreeMap;

/// Longest relative path an image may hold: Linux's PATH_MAX (4096) less the leading `/`
/// and the NUL of the absolute path. No package can own a longer path and no program can
/// open one by name; without this bound one 64 KiB tar path of 1-byte components would
/// make 32,000 implicit directories whose keys total a gigabyte.
pub const MAX_PATH: usize = 4094;

/// Most components an image path may have. Resolving a path looks up every prefix, so the
/// work per entry grows with the square of its depth: at 2,000 levels (what PATH_MAX
/// allows) that was 10 ms an entry, and a 52 KB layer took 20 s; at 256 it is 0.3 ms.
/// The deepest packaged path of the real CBL-Mariner 2.0 image has 9 components.
pub const MAX_DEPTH: usize = 256;

/// Why `path` is too long ([`MAX_PATH`]) or too deep ([`MAX_DEPTH`]) for an image, if it is.
pub fn beyond_limits(path: &str) -> Option<String> {
    if path.len() > MAX_PATH {
        return Some(format!(
            "a path {} bytes long, where PATH_MAX (4096, with the leading / and the NUL) \
             allows {MAX_PATH}: no package can own it and no program can open it by name",
            path.len()
        ));
    }
    let depth = path.split('/').count();
    (depth > MAX_DEPTH).then(|| {
        format!("a path {depth} directories deep, more than the {MAX_DEPTH} an image may nest")
    })
}

/// Longest symlink target Linux stores (PATH_MAX less the NUL).
pub const MAX_LINK: usize = 4095;

/// The first bytes of a path too long to print whole, cut at a character boundary.
pub fn path_prefix(path: &str) -> &str {
    let mut cut = 120.min(path.len());
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    &path[..cut]
}

/// What kind of file system object a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

impl Kind {
    /// The S_IFMT bits of this kind, as rpm stores them in FILEMODES.
    pub fn mode_bits(self) -> u32 {
        match self {
            Kind::File => 0o100000,
            Kind::Dir => 0o040000,
            Kind::Symlink => 0o120000,
            Kind::CharDevice => 0o020000,
            Kind::BlockDevice => 0o060000,
            Kind::Fifo => 0o010000,
        }
    }
}

/// Where a regular file's bytes are: the `entry`-th tar entry of layer `layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentRef {
    pub layer: u32,
    pub entry: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits only (`0o7777`).
    pub perm: u32,
    pub uid: u64,
    pub gid: u64,
    /// Owner names from the tar header, empty when the header has none.
    pub uname: String,
    pub gname: String,
    pub size: u64,
    /// Symlink target, verbatim.
    pub link: Option<String>,
    /// Regular files only. Hard links share the `ContentRef` of the file they link to.
    pub content: Option<ContentRef>,
    /// The layer that last wrote this node (whiteouts only hide lower layers).
    pub layer: u32,
}

impl Node {
    pub fn implicit_dir(layer: u32) -> Self {
        Node {
            kind: Kind::Dir,
            perm: 0o755,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            size: 0,
            link: None,
            content: None,
            layer,
        }
    }

    /// `st_mode`: type bits and permissions.
    pub fn mode(&self) -> u32 {
        self.kind.mode_bits() | self.perm
    }
}

/// The components of a path to walk: empty ones and `.` dropped.
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// What one component of a resolution costs besides the key it looks up.
pub const STEP_COST: usize = 16;

/// The most one [`Tree::resolve`] may cost. The kernel's bounds (40 symlinks, 4,095-byte
/// targets) allow ~80,000 components a resolution, and through deep directories each one
/// looks up a key of up to 4 KiB: 40 links whose targets go 250 directories down and up
/// three times cost ~8.5 million units, 3.3 ms in a release build.
pub const RESOLVE_WORK_PER_CALL: u64 = 1 << 27;

/// Why a path could not be resolved inside the root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The budget of [`Tree::resolve_within`] ran out: symlinks made resolving cost more
    /// than any real image needs.
    #[error(
        "resolving {path} through symlinks exhausted the work budget for resolving paths \
         (a symlink chain that sends paths up and down many levels; no real image needs it; \
         see the limits in docs/images.md)"
    )]
    TooCostly { path: String },
    #[error("symlink {link} -> {target} climbs above the image root")]
    Escapes { link: String, target: String },
    #[error("too many levels of symbolic links at {0}")]
    Loop(String),
    #[error("{0} is not a directory")]
    NotDir(String),
}

#[derive(Debug, Default, Clone)]
pub struct Tree {
    pub nodes: BTreeMap<String, Node>,
    /// Bytes of every key ever added plus [`NODE_COST`] each (removals not subtracted).
    added: usize,
}

/// What one node costs besides its key, roughly: the `Node` and its share of the map.
pub const NODE_COST: usize = 128;

/// Splits `target` (a symlink target found at `dir`) into normalized components relative
/// to the root. An absolute target starts at the image root. `None` when `..` climbs
/// above the root.
pub fn join_target(dir: &str, target: &str) -> Option<Vec<String>> {
    let mut parts: Vec<String> = if target.starts_with('/') || dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').map(str::to_owned).collect()
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(c.to_owned()),
        }
    }
    Some(parts)
}

/// `a/b/c` -> (`a/b`, `c`); a top-level name has the parent `""` (the root).
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

impl Tree {
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Resolves `path` inside the root, following symlinks in every component (and in the
    /// last one when `follow_last`). Missing components are kept as they are, so the
    /// result names where a new entry would go. One call may cost up to
    /// [`RESOLVE_WORK_PER_CALL`]; a caller resolving many paths shares one budget through
    /// [`Tree::resolve_within`].
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<String, ResolveError> {
        let mut budget = RESOLVE_WORK_PER_CALL;
        self.resolve_within(path, follow_last, &mut budget)
    }

    /// [`Tree::resolve`], charging its work to `budget` ([`ResolveError::TooCostly`] once
    /// it runs out): a step costs [`STEP_COST`], a lookup also the length of its key.
    pub fn resolve_within(
        &self,
        path: &str,
        follow_last: bool,
        budget: &mut u64,
    ) -> Result<String, ResolveError> {
        // A stack of components still to walk, the next one on top; `..` pops from the
        // resolved prefix, exactly as the kernel walks a path, except that climbing above
        // the root is an error instead of staying at `/`.
        let mut todo: Vec<&str> = components(path).rev().collect();
        // The resolved prefix, and where each of its components ends in it.
        let mut cur = String::new();
        let mut ends: Vec<usize> = Vec::new();
        // How many trailing components of `cur` are not in the tree. Every ancestor of a
        // key is a directory node, so nothing exists below a missing path: those
        // components need no lookup until `..` climbs back out of them.
        let mut missing = 0usize;
        let mut hops = 0;
        let mut via: Option<(String, String)> = None;
        let mut charge = |cost: usize| {
            *budget = budget
                .checked_sub(cost as u64)
                .ok_or_else(|| ResolveError::TooCostly {
                    path: path_prefix(path).to_owned(),
                })?;
            Ok(())
        };
        while let Some(c) = todo.pop() {
            charge(STEP_COST)?;
            if c == ".." {
                if ends.pop().is_none() {
                    let (link, target) = via.unwrap_or_else(|| (path.to_owned(), path.to_owned()));
                    return Err(ResolveError::Escapes { link, target });
                }
                cur.truncate(ends.last().copied().unwrap_or(0));
                missing = missing.saturating_sub(1);
                continue;
            }
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(c);
            ends.push(cur.len());
            if missing > 0 {
                missing += 1;
                continue;
            }
            charge(cur.len())?;
            let last = todo.is_empty();
            match self.nodes.get(&cur) {
                None => missing = 1,
                Some(n) if n.kind == Kind::Symlink && (!last || follow_last) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(ResolveError::Loop(cur));
                    }
                    let target = n.link.as_deref().unwrap_or_default();
                    ends.pop();
                    if target.starts_with('/') {
                        ends.clear();
                    }
                    todo.extend(components(target).rev());
                    via = Some((cur.clone(), target.to_owned()));
                    cur.truncate(ends.last().copied().unwrap_or(0));
                }
                Some(n) if n.kind != Kind::Dir && !last => {
                    return Err(ResolveError::NotDir(cur));
                }
                _ => {}
            }
        }
        Ok(cur)
    }

    /// Removes `path` and everything below it that a layer lower than `layer` wrote. What
    /// `layer` itself put below `path` stays (a whiteout hides lower layers only), under an
    /// implicit directory so that every key keeps its parent.
    pub fn remove_lower(&mut self, path: &str, layer: u32) {
        let removed = self.nodes.get(path).is_some_and(|n| n.layer < layer);
        if removed {
            self.nodes.remove(path);
        }
        self.remove_children(path, Some(layer));
        let prefix = format!("{path}/");
        let orphans = self
            .nodes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix));
        if removed && orphans {
            self.add(path.to_owned(), Node::implicit_dir(layer));
        }
    }

    /// Approximate memory the tree has taken: keys and nodes ever added.
    pub fn footprint(&self) -> usize {
        self.added
    }

    fn add(&mut self, key: String, node: Node) {
        self.added = self.added.saturating_add(key.len() + NODE_COST);
        self.nodes.insert(key, node);
    }

    /// Removes the descendants of `dir` (all of them, or those below `layer`).
    pub fn remove_children(&mut self, dir: &str, below: Option<u32>) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let keys: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| below.is_none_or(|l| n.layer < l))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.nodes.remove(&k);
        }
    }

    /// Makes sure every ancestor of `path` exists as a directory (tar streams may omit them).
    pub fn ensure_parents(&mut self, path: &str, layer: u32) -> Result<(), ResolveError> {
        let (parent, _) = split_parent(path);
        // Every ancestor of a key is a directory node, so a parent directory that is
        // there vouches for the rest: one lookup for almost every entry.
        if parent.is_empty() || self.nodes.get(parent).is_some_and(|n| n.kind == Kind::Dir) {
            return Ok(());
        }
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let dir = &path[..end + i];
            match self.nodes.get(dir) {
                Some(n) if n.kind == Kind::Dir => {}
                Some(_) => return Err(ResolveError::NotDir(dir.to_owned())),
                None => self.add(dir.to_owned(), Node::implicit_dir(layer)),
            }
            end += i + 1;
        }
        Ok(())
    }

    /// Inserts a node, replacing what was there: a non-directory (or a directory over a
    /// non-directory) replaces the whole subtree; a directory over a directory keeps the
    /// children and takes the new metadata, as layer application does.
    pub fn insert(&mut self, path: String, node: Node) -> Result<(), ResolveError> {
        self.ensure_parents(&path, node.layer)?;
        self.insert_with_parents(path, node);
        Ok(())
    }

    /// [`Tree::insert`] once [`Tree::ensure_parents`] succeeded for `path`.
    pub fn insert_with_parents(&mut self, path: String, node: Node) {
        use std::collections::btree_map::Entry;
        match self.nodes.entry(path) {
            Entry::Vacant(v) => {
                // Only a directory has children, so a new key has none to drop.
                self.added = self.added.saturating_add(v.key().len() + NODE_COST);
                v.insert(node);
            }
            Entry::Occupied(mut o) => {
                let was_dir = o.get().kind == Kind::Dir;
                let is_dir = node.kind == Kind::Dir;
                o.insert(node);
                if was_dir && !is_dir {
                    let key = o.key().clone();
                    self.remove_children(&key, None);
                }
            }
        }
    }

    /// Regular-file and symlink count, for summaries.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(t: &mut Tree, p: &str, target: &str) {
        let mut n = Node::implicit_dir(0);
        n.kind = Kind::Symlink;
        n.link = Some(target.into());
        t.insert(p.into(), n).unwrap();
    }

    #[test]
    fn resolves_inside_the_root_only() {
        let mut t = Tree::default();
        t.insert("usr/lib".into(), Node::implicit_dir(0)).unwrap();
        link(&mut t, "etc/os-release", "../usr/lib/os-release");
        link(&mut t, "lib", "usr/lib");
        link(&mut t, "abs", "/usr/lib");
        link(&mut t, "up", "../../etc");
        link(&mut t, "a", "b");
        link(&mut t, "b", "a");
        assert_eq!(
            t.resolve("etc/os-release", true).unwrap(),
            "usr/lib/os-release"
        );
        assert_eq!(
            t.resolve("etc/os-release", false).unwrap(),
            "etc/os-release"
        );
        assert_eq!(t.resolve("lib/x", false).unwrap(), "usr/lib/x");
        assert_eq!(t.resolve("abs/x", false).unwrap(), "usr/lib/x");
        assert!(matches!(
            t.resolve("up/passwd", false),
            Err(ResolveError::Escapes { .. })
        ));
        assert!(matches!(
            t.resolve("a/x", false),
            Err(ResolveError::Loop(_))
        ));
        assert_eq!(
            join_target("usr/bin", "../lib"),
            Some(vec!["usr".into(), "lib".into()])
        );
        assert_eq!(join_target("", "../x"), None);
    }

    #[test]
    fn missing_components_are_kept_and_climbed_out_of() {
        let mut t = Tree::default();
        t.insert("usr/lib".into(), Node::implicit_dir(0)).unwrap();
        let mut f = Node::implicit_dir(0);
        f.kind = Kind::File;
        t.insert("usr/lib/file".into(), f).unwrap();
        link(&mut t, "lib", "usr/lib");
        link(&mut t, "via-missing", "nope/deeper/../../lib");
        // Missing components stay as written; `..` out of them finds the tree again.
        assert_eq!(t.resolve("nope/a/b", true).unwrap(), "nope/a/b");
        assert_eq!(t.resolve("nope/a/../../lib/x", true).unwrap(), "usr/lib/x");
        assert_eq!(t.resolve("via-missing/x", true).unwrap(), "usr/lib/x");
        assert_eq!(t.resolve("./usr//lib/./x", true).unwrap(), "usr/lib/x");
        assert!(matches!(
            t.resolve("nope/../../x", true),
            Err(ResolveError::Escapes { .. })
        ));
        // A file in the middle of a path is not a directory, missing or not below it.
        assert_eq!(
            t.resolve("lib/file/x", true),
            Err(ResolveError::NotDir("usr/lib/file".into()))
        );
    }

    #[test]
    fn resolving_charges_its_budget_and_stops_when_it_runs_out() {
        let mut t = Tree::default();
        t.insert("usr/lib".into(), Node::implicit_dir(0)).unwrap();
        link(&mut t, "lib", "usr/lib");
        let mut budget = 1_000;
        assert_eq!(
            t.resolve_within("lib/x", true, &mut budget).unwrap(),
            "usr/lib/x"
        );
        // Four steps (lib, then usr, lib, x through the link) and the keys looked up:
        // "lib", "usr", "usr/lib", "usr/lib/x".
        assert_eq!(1_000 - budget, 4 * STEP_COST as u64 + 3 + 3 + 7 + 9);
        let mut budget = 40;
        assert_eq!(
            t.resolve_within("lib/x", true, &mut budget),
            Err(ResolveError::TooCostly {
                path: "lib/x".into()
            })
        );
        // Steps below a missing directory look nothing up: they cost STEP_COST each.
        let mut budget = 1_000;
        t.resolve_within("nope/a/b/c", true, &mut budget).unwrap();
        assert_eq!(1_000 - budget, 4 * STEP_COST as u64 + 4);
    }

    #[test]
    fn whiteouts_hide_lower_layers_only() {
        let mut t = Tree::default();
        let mut f = Node::implicit_dir(0);
        f.kind = Kind::File;
        t.insert("d/a".into(), f.clone()).unwrap();
        let mut g = f.clone();
        g.layer = 1;
        t.insert("d/b".into(), g).unwrap();
        t.remove_children("d", Some(1));
        assert!(t.get("d/a").is_none());
        assert!(t.get("d/b").is_some());
        assert!(t.get("d").is_some());
    }
}
