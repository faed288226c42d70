//! Opening an input that must be a regular file, without ever blocking on a FIFO.
//!
//! A path given as an attestation, layout or link may name a FIFO (unpacked from someone
//! else's archive, matched by a glob): a plain `open(2)` for reading blocks until a writer
//! appears, i.e. forever. So the file is opened with `O_NONBLOCK` (which does nothing to a
//! regular file's reads) and its type is taken from the open descriptor (`fstat`), not
//! from the path before opening, so a path swapped for a FIFO between the two cannot
//! block us either. Anything but a regular file (FIFO, socket, device, directory) is
//! refused with an error saying what it is.

use std::fs::File;
use std::io;
use std::path::Path;

/// What a file that is not regular is, for the error.
fn what(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn not_regular(ft: std::fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: only regular files are read", what(ft)),
    )
}

/// Opens `path` for reading if it is a regular file (symlinks followed, as by `open`).
/// Errors are the `open`/`fstat` errors (`NotFound` for a missing file) and
/// `InvalidInput` naming the kind of file otherwise; the caller adds the path.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let f = File::from(rustix::fs::open(path, flags, Mode::empty())?);
    let ft = f.metadata()?.file_type();
    if !ft.is_file() {
        return Err(not_regular(ft));
    }
    Ok(f)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        for (p, want) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/null"), "a device"),
            (dir.path(), "a directory"),
        ] {
            let e = open_regular(p).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{}", p.display());
            assert!(e.to_string().contains(want), "{e}");
        }
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let mut s = String::new();
        io::Read::read_to_string(&mut open_regular(&file).unwrap(), &mut s).unwrap();
        assert_eq!(s, "x");
        let e = open_regular(&dir.path().join("nope")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
