//! Atomic output: write to a temporary file beside the target, then rename over it, so a
//! failure at any point leaves either the old file or none, never half a document.

use std::io::Write;
use std::path::Path;

/// Runs `write` against a temporary file in `path`'s directory and renames it to `path`
/// only if `write` succeeds. The file gets mode 0644 (the tempfile default is 0600).
pub fn write_atomically<F>(path: &Path, write: F) -> std::io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".sbom-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        write(&mut buf)?;
        buf.flush()?;
    }
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
