//! The overlays a compose recipe names: files the build placed in the image after the
//! packages were installed (`[[component]]` entries with `[[component.overlays]]`, the
//! format of `testdata/recipes/`, modeled on Azure Linux's component configuration).
//!
//! Only overlay types that place a file at `path` in the image are recognized
//! ([`RECOGNIZED_TYPES`]). Any other type, such as Azure Linux's `spec-search-replace`,
//! which changes a package's sources rather than the image, is an error naming the entry:
//! ignoring it would let a recipe say more than the provenance records. Azure Linux's own
//! shape, `[components.NAME]` with `[[components.NAME.overlays]]`, is read the same way.

use std::path::{Path, PathBuf};

/// Overlay types that place the file, directory or symlink at `path`.
pub const RECOGNIZED_TYPES: &[&str] = &["file-add", "file-replace"];

/// Recipes are small text files; anything larger is refused before parsing.
const MAX_RECIPE_BYTES: u64 = 16 << 20;

/// One overlay entry of a recipe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecipeOverlay {
    /// The path inside the image, absolute (`/etc/motd.d/azl`).
    pub path: String,
    /// The component that declares it.
    pub component: String,
    /// `file-add` or `file-replace`.
    pub overlay_type: String,
    /// Where in the recipe: `[[component]] 'NAME' overlays[I]`.
    pub entry: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("{path}: cannot read the recipe: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes is too large for a recipe", path = .path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path}: not a TOML recipe: {reason}", path = .path.display())]
    Toml { path: PathBuf, reason: String },
    #[error("{path}: {entry}: {reason}", path = .path.display())]
    Entry {
        path: PathBuf,
        entry: String,
        reason: String,
    },
}

/// Reads the overlays of the recipe file at `path`.
pub fn overlays(path: &Path) -> Result<Vec<RecipeOverlay>, RecipeError> {
    let io = |source| RecipeError::Io {
        path: path.into(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_RECIPE_BYTES {
        return Err(RecipeError::TooLarge {
            path: path.into(),
            size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse_overlays(&text, path)
}

/// The overlays of recipe text, in recipe order; `origin` names the recipe in errors.
pub fn parse_overlays(text: &str, origin: &Path) -> Result<Vec<RecipeOverlay>, RecipeError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| RecipeError::Toml {
        path: origin.into(),
        reason: e.to_string(),
    })?;
    let err = |entry: &str, reason: String| RecipeError::Entry {
        path: origin.into(),
        entry: entry.to_owned(),
        reason,
    };
    // (component name, where, its table)
    let mut components: Vec<(String, String, &toml::Table)> = Vec::new();
    if let Some(v) = doc.get("component") {
        let arr = v.as_array().ok_or_else(|| {
            err(
                "component",
                "must be an array of tables ([[component]])".into(),
            )
        })?;
        for (i, c) in arr.iter().enumerate() {
            let at = format!("[[component]] #{i}");
            let t = c
                .as_table()
                .ok_or_else(|| err(&at, "must be a table".into()))?;
            let name = t
                .get("name")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| err(&at, "needs a string 'name'".into()))?;
            components.push((name.to_owned(), format!("[[component]] '{name}'"), t));
        }
    }
    if let Some(v) = doc.get("components") {
        let t = v
            .as_table()
            .ok_or_else(|| err("components", "must be a table of components".into()))?;
        for (name, c) in t {
            let at = format!("[components.{name}]");
            let ct = c
                .as_table()
                .ok_or_else(|| err(&at, "must be a table".into()))?;
            components.push((name.clone(), at, ct));
        }
    }
    let mut out = Vec::new();
    for (component, at, table) in components {
        let Some(list) = table.get("overlays") else {
            continue;
        };
        let list = list
            .as_array()
            .ok_or_else(|| err(&at, "'overlays' must be an array of tables".into()))?;
        for (i, o) in list.iter().enumerate() {
            let entry = format!("{at} overlays[{i}]");
            let o = o
                .as_table()
                .ok_or_else(|| err(&entry, "must be a table".into()))?;
            let kind = o
                .get("type")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| err(&entry, "needs a string 'type'".into()))?;
            if !RECOGNIZED_TYPES.contains(&kind) {
                return Err(err(
                    &entry,
                    format!(
                        "overlay type '{kind}' is not recognized; attest records overlays that place a file at 'path' in the image ({})",
                        RECOGNIZED_TYPES.join(", ")
                    ),
                ));
            }
            let path = o.get("path").and_then(toml::Value::as_str).ok_or_else(|| {
                err(
                    &entry,
                    format!("a {kind} overlay needs a string 'path' inside the image"),
                )
            })?;
            if !path.starts_with('/')
                || path.len() == 1
                || path.contains('\0')
                || path.split('/').any(|c| c == "..")
            {
                return Err(err(
                    &entry,
                    format!("path {path:?} must be absolute inside the image, without '..'"),
                ));
            }
            out.push(RecipeOverlay {
                path: path.to_owned(),
                component: component.clone(),
                overlay_type: kind.to_owned(),
                entry,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Vec<RecipeOverlay>, RecipeError> {
        parse_overlays(t, Path::new("r.toml"))
    }

    #[test]
    fn the_sample_recipe_names_its_two_overlays() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/recipes/sample.toml");
        let o = overlays(&p).unwrap();
        let got: Vec<_> = o
            .iter()
            .map(|o| {
                (
                    o.path.as_str(),
                    o.component.as_str(),
                    o.overlay_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/etc/motd.d/azl", "image-customizations", "file-add"),
                (
                    "/etc/sample-overlay.conf",
                    "image-customizations",
                    "file-add"
                ),
            ]
        );
        assert_eq!(
            o[1].entry,
            "[[component]] 'image-customizations' overlays[1]"
        );
    }

    #[test]
    fn both_component_shapes_and_no_components() {
        let o = parse(
            "[[component]]\nname = \"a\"\n[[component.overlays]]\ntype = \"file-replace\"\npath = \"/etc/x\"\n\
             [components.b]\n[[components.b.overlays]]\ntype = \"file-add\"\npath = \"/usr/y\"\n\
             [components.c]\n",
        )
        .unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(
            (o[0].component.as_str(), o[0].path.as_str()),
            ("a", "/etc/x")
        );
        assert_eq!(
            (o[1].component.as_str(), o[1].entry.as_str()),
            ("b", "[components.b] overlays[0]")
        );
        assert!(parse("[distro]\nid = \"x\"\n").unwrap().is_empty());
    }

    #[test]
    fn unknown_types_and_bad_entries_are_errors_naming_the_entry() {
        for (t, want) in [
            (
                "[components.k]\n[[components.k.overlays]]\ntype = \"spec-search-replace\"\nregex = \"a\"\nreplacement = \"b\"\n",
                "[components.k] overlays[0]: overlay type 'spec-search-replace' is not recognized",
            ),
            (
                "[[component]]\nname = \"n\"\n[[component.overlays]]\ntype = \"file-add\"\nfile = \"x.patch\"\n",
                "[[component]] 'n' overlays[0]: a file-add overlay needs a string 'path'",
            ),
            (
                "[[component]]\nname = \"n\"\n[[component.overlays]]\npath = \"/x\"\n",
                "needs a string 'type'",
            ),
            (
                "[[component]]\nname = \"n\"\n[[component.overlays]]\ntype = \"file-add\"\npath = \"etc/x\"\n",
                "must be absolute",
            ),
            (
                "[[component]]\nname = \"n\"\n[[component.overlays]]\ntype = \"file-add\"\npath = \"/etc/../../x\"\n",
                "without '..'",
            ),
            ("[[component]]\noverlays = []\n", "[[component]] #0: needs a string 'name'"),
            ("component = 3\n", "array of tables"),
            ("not toml = = 1", "not a TOML recipe"),
        ] {
            let e = parse(t).unwrap_err().to_string();
            assert!(e.starts_with("r.toml: "), "{e}");
            assert!(e.contains(want), "{t}: want {want:?}, got {e}");
        }
    }
}
