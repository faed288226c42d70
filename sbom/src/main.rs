//! `sbom`: thin command line over the `sbom` library.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sbom::format::{self, DocumentInfo, Format};
use sbom::{drift, image, osrelease, output, scan};

const AFTER_HELP: &str = "\
Examples:
  sbom testdata/sample/rootfs                          SPDX 2.3 JSON on stdout
  sbom -f cyclonedx-json -o image.cdx.json /mnt/rootfs  CycloneDX 1.6 into a file
  sbom -f spdx3-json --no-files rootfs/                 SPDX 3.0, packages only
  sbom --distro mariner-2.0 var/lib/rpm/rpmdb.sqlite    a bare database file

The image is a root filesystem directory (its database is found under usr/lib/sysimage/rpm,
var/lib/rpm or usr/share/rpm; sqlite, BerkeleyDB and ndb are read), a database file, or a
container image: an OCI image layout directory, an OCI archive (tar of a layout) or a
docker-archive (`docker save`), with gzip, zstd or uncompressed layers. Images are read in
memory, never unpacked; every blob is checked against its digest.

  sbom --platform linux/arm64 image.oci.tar             one image of a multi-platform index
  sbom --verify-files -f cyclonedx-json image/          also compare every file with rpm
The document's timestamp is SOURCE_DATE_EPOCH when set, so builds are reproducible.

Exit status:
  0  the SBOM was written
  1  the image or its RPM database could not be read (missing, corrupt, hostile)
  2  usage error (bad arguments or SOURCE_DATE_EPOCH)
  3  the output could not be written (nothing partial is left behind)";

/// Write an exact SBOM (SPDX 2.3, SPDX 3.0, CycloneDX 1.6) of a Fedora-based image from its RPM database.
#[derive(Parser)]
#[command(version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Root filesystem directory, or an RPM database file.
    image: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "spdx-json")]
    format: Format,
    /// Write the SBOM here (atomically) instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Leave out per-file entries (packages, keys and dependencies only).
    #[arg(long)]
    no_files: bool,
    /// Distro as `ID[-VERSION_ID]` (e.g. `fedora-40`), overriding os-release; needed for
    /// purls of a bare database file.
    #[arg(long, value_name = "ID[-VERSION]")]
    distro: Option<String>,
    /// Hash every file and compare it with what the RPM headers declare (like `rpm -Va`);
    /// the SBOM then marks each package intact or modified and lists unowned files.
    #[arg(long)]
    verify_files: bool,
    /// For an image index with several platforms: `os/arch[/variant]`, e.g. `linux/amd64`.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    /// Refuse an image whose layers decompress to more than this many bytes in total
    /// (gzip/zstd bombs). Default 16 GiB.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 30)]
    max_image_bytes: u64,
    /// Refuse an image with a single file larger than this. Default 4 GiB.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 30)]
    max_entry_bytes: u64,
    /// Print a JSON summary of the scan on stderr (for pipelines).
    #[arg(long)]
    json: bool,
    /// Print nothing but errors on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn source_date_epoch() -> Result<Option<i64>, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds")),
        Err(_) => Ok(None),
    }
}

fn parse_distro(s: &str) -> osrelease::OsRelease {
    // The version is the last `-` segment when it starts with a digit: `opensuse-leap-15.5`.
    let (id, ver) = match s.rsplit_once('-') {
        Some((id, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => (id, Some(v.to_owned())),
        _ => (s, None),
    };
    let mut text = format!("ID={id}\n");
    if let Some(v) = ver {
        text.push_str(&format!("VERSION_ID={v}\n"));
    }
    osrelease::parse(&text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let created = match source_date_epoch() {
        Ok(Some(t)) => t,
        Ok(None) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        Err(e) => {
            eprintln!("sbom: {e}");
            return ExitCode::from(2);
        }
    };
    let platform = match cli
        .platform
        .as_deref()
        .map(|p| (p, image::Platform::parse(p)))
    {
        None => None,
        Some((_, Some(p))) => Some(p),
        Some((p, None)) => {
            eprintln!("sbom: --platform {p:?}: expected os/arch[/variant], e.g. linux/amd64");
            return ExitCode::from(2);
        }
    };
    let opts = scan::ImageOptions {
        platform,
        limits: image::Limits {
            max_total: cli.max_image_bytes,
            max_entry: cli.max_entry_bytes,
            ..image::Limits::default()
        },
    };
    let (mut inv, img) =
        match scan::scan_path_with(&cli.image, cli.distro.as_deref().map(parse_distro), &opts) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sbom: {e}");
                return ExitCode::from(1);
            }
        };
    if cli.verify_files {
        let report = match &img {
            Some(img) => drift::check_image(&inv, img),
            None if inv.source.kind == sbom::inventory::SourceKind::RootDir => {
                drift::check_root(&inv, &cli.image)
            }
            None => {
                eprintln!(
                    "sbom: --verify-files needs an image or a root directory, not a bare database"
                );
                return ExitCode::from(2);
            }
        };
        match report {
            Ok(r) => inv.drift = Some(r),
            Err(e) => {
                eprintln!("sbom: {e}");
                return ExitCode::from(1);
            }
        }
    }
    drop(img);
    let info = DocumentInfo {
        created,
        tool_name: "sbom".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        include_files: !cli.no_files,
    };
    let written = match &cli.output {
        Some(path) => output::write_atomically(path, |w| format::write(cli.format, &inv, &info, w)),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            format::write(cli.format, &inv, &info, &mut w).and_then(|()| w.flush())
        }
    };
    if let Err(e) = written {
        let target = cli
            .output
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdout".into());
        eprintln!("sbom: cannot write {target}: {e}");
        return ExitCode::from(3);
    }
    let files: usize = inv.packages.iter().map(|p| p.files.len()).sum();
    if cli.json {
        let summary = serde_json::json!({
            "image": inv.source.location,
            "rpmdb": inv.source.rpmdb_path,
            "rpmdbFormat": inv.source.rpmdb_format,
            "distro": inv.distro.as_ref().map(|d| d.purl_distro()),
            "packages": inv.packages.len(),
            "files": files,
            "importedKeys": inv.keys.iter().map(|k| &k.short_id).collect::<Vec<_>>(),
            "dependencyEdges": inv.depends_on.len(),
            "unresolvedRequires": inv.unresolved.iter().map(|u| serde_json::json!({
                "package": inv.packages[u.package].nevra(),
                "requires": u.requirement.display(),
            })).collect::<Vec<_>>(),
            "output": cli.output,
            "manifestDigest": inv.source.manifest_digest,
            "configDigest": inv.source.config_digest,
            "escapingLinks": inv.source.escaping_links,
            "drift": inv.drift.as_ref().map(|d| serde_json::json!({
                "modifiedPackages": d.packages.iter().enumerate()
                    .filter(|(_, p)| p.status != drift::PackageStatus::Intact)
                    .map(|(i, p)| serde_json::json!({
                        "package": inv.packages[i].nevra(),
                        "status": p.status.name(),
                        "files": p.files,
                    })).collect::<Vec<_>>(),
                "unownedFiles": d.unowned.len(),
                "filesHashed": d.files_hashed,
                "bytesHashed": d.bytes_hashed,
            })),
        });
        eprintln!("{summary}");
    } else if !cli.quiet {
        eprintln!(
            "sbom: {} packages, {} files, {} imported keys, {} unresolved requirements ({} database {})",
            inv.packages.len(),
            files,
            inv.keys.len(),
            inv.unresolved.len(),
            inv.source.rpmdb_format.name(),
            inv.source.rpmdb_path
        );
        if let Some(d) = &inv.source.manifest_digest {
            eprintln!(
                "sbom: image manifest {d}, config {}",
                inv.source.config_digest.as_deref().unwrap_or("-")
            );
        }
        for l in &inv.source.escaping_links {
            eprintln!(
                "sbom: warning: symlink /{} -> {} points outside the image root (not followed)",
                l.path, l.target
            );
        }
        if let Some(d) = &inv.drift {
            let count = |s| d.packages.iter().filter(|p| p.status == s).count();
            eprintln!(
                "sbom: drift: {} packages intact, {} modified, {} with changed config; {} unowned files; {} files ({} bytes) hashed",
                count(drift::PackageStatus::Intact),
                count(drift::PackageStatus::Modified),
                count(drift::PackageStatus::ConfigChanged),
                d.unowned.len(),
                d.files_hashed,
                d.bytes_hashed
            );
        }
        for u in &inv.unresolved {
            eprintln!(
                "sbom: note: {} requires {}, which no installed package provides",
                inv.packages[u.package].nevra(),
                u.requirement.display()
            );
        }
    }
    ExitCode::SUCCESS
}
