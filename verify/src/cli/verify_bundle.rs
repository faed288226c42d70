//! `verify verify-bundle`: the Sigstore conformance protocol, and the
//! user-facing way to check a `*.sigstore.json` bundle.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use sha2::Digest;

use super::Outcome;
use crate::report::sanitize;
use crate::sigstore::{
    trust, Artifact, ArtifactSource, IdentityPolicy, KeyPolicy, Matcher, Policy, Signer,
    SigstoreBundle, SigstoreError, SigstoreVerifier, TrustedRoot, Verified, TRUSTED_ROOT_ENV,
};

/// Artifacts up to this size are read into memory; larger ones are hashed
/// while streaming and verified by digest (fine for ECDSA/RSA signatures and
/// in-toto subjects; Ed25519 message signatures need the bytes).
const IN_MEMORY_ARTIFACT_LIMIT: u64 = 256 * 1024 * 1024;
const MAX_BUNDLE_FILE: u64 = crate::sigstore::bundle::MAX_BUNDLE_BYTES as u64;
const MAX_KEY_FILE: u64 = 1024 * 1024;

const EXAMPLES: &str = "\
Examples:
  # A GitHub Actions keyless signature
  verify verify-bundle --trusted-root trusted_root.json --bundle app.sigstore.json \\
      --certificate-identity https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz

  # Any workflow of one repository, by digest instead of the file
  verify verify-bundle --trusted-root trusted_root.json --bundle app.sigstore.json \\
      --certificate-identity-regexp 'https://github.com/org/repo/\\.github/workflows/.*' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
      sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824

  # A bundle signed with a managed key
  VERIFY_SIGSTORE_TRUSTED_ROOT=trusted_root.json \\
      verify verify-bundle --bundle app.sigstore.json --key cosign.pub app.tar.gz

Trusted root: there is no built-in default. Give --trusted-root or set
VERIFY_SIGSTORE_TRUSTED_ROOT to a trusted_root.json (for the public-good
instance, the one Sigstore's TUF repository publishes). Regular expressions
must match the whole value.

Exit status: 0 verified, 1 not verified, 2 usage or input error.";

/// Arguments of `verify-bundle`.
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (*.sigstore.json, bundle v0.1 to v0.3).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,

    /// Certificate identity (a subject alternative name) that must match exactly.
    #[arg(long, value_name = "ID", conflicts_with_all = ["certificate_identity_regexp", "key"])]
    pub certificate_identity: Option<String>,

    /// Certificate identity as a regular expression matching the whole SAN.
    #[arg(long, value_name = "REGEX", conflicts_with = "key")]
    pub certificate_identity_regexp: Option<String>,

    /// OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8 or .1.1) that must match exactly.
    #[arg(long, value_name = "URL", conflicts_with_all = ["certificate_oidc_issuer_regexp", "key"])]
    pub certificate_oidc_issuer: Option<String>,

    /// OIDC issuer as a regular expression matching the whole value.
    #[arg(long, value_name = "REGEX", conflicts_with = "key")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// Verify a key-based bundle with this PEM public key (SubjectPublicKeyInfo).
    #[arg(long, value_name = "PEM")]
    pub key: Option<PathBuf>,

    /// With --key: accept a bundle that has no transparency log entry.
    #[arg(long, requires = "key")]
    pub allow_missing_tlog: bool,

    /// trusted_root.json to verify against [env: VERIFY_SIGSTORE_TRUSTED_ROOT].
    #[arg(long, value_name = "FILE", env = TRUSTED_ROOT_ENV, hide_env = true)]
    pub trusted_root: Option<PathBuf>,

    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    /// The artifact file, or `sha256:<64 hex digits>` of it.
    #[arg(value_name = "ARTIFACT | sha256:HEX")]
    pub artifact: String,
}

/// Run `verify-bundle`.
///
/// Error messages quote the bundle (a serde error names the unknown value, a
/// certificate its SANs), so every line for the terminal goes through
/// [`sanitize`]: a bundle must not be able to print its own "Verified OK". The
/// `--json` output is serde's, where such text is a JSON string.
pub fn run(args: &VerifyBundleArgs) -> Outcome {
    match verify(args) {
        Ok(v) => {
            if args.json {
                println!("{}", success_json(&v));
            } else {
                print!("{}", success_text(args, &v));
            }
            Outcome::Verified
        }
        Err(e) if e.is_input_error() => {
            eprintln!("{}", error_line("error", &e));
            Outcome::InputError
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": false, "error": e.to_string()})
                );
            }
            eprintln!("{}", error_line("NOT verified", &e));
            Outcome::NotVerified
        }
    }
}

/// `verify-bundle: <what>: <error>`, on one line, with the error's text escaped.
fn error_line(what: &str, e: &SigstoreError) -> String {
    format!("verify-bundle: {what}: {}", sanitize(&e.to_string()))
}

fn policy(args: &VerifyBundleArgs) -> Result<Policy, SigstoreError> {
    if let Some(key) = &args.key {
        let pem = trust::read_limited(key, "public key", MAX_KEY_FILE)?;
        let pem = String::from_utf8(pem)
            .map_err(|_| SigstoreError::PublicKey(format!("{}: not UTF-8 PEM", key.display())))?;
        let policy = KeyPolicy::from_pem(&pem).map_err(|e| match e {
            SigstoreError::PublicKey(m) => {
                SigstoreError::PublicKey(format!("{}: {m}", key.display()))
            }
            other => other,
        })?;
        return Ok(Policy::Key(
            policy.allowing_missing_tlog(args.allow_missing_tlog),
        ));
    }
    let identity = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(id), _) => Matcher::exact(id.clone()),
        (None, Some(re)) => Matcher::regex(re)?,
        (None, None) => {
            return Err(SigstoreError::Policy(
                "give --certificate-identity or --certificate-identity-regexp (keyless \
                 bundles), or --key (key-based bundles)"
                    .into(),
            ))
        }
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(iss), _) => Matcher::exact(iss.clone()),
        (None, Some(re)) => Matcher::regex(re)?,
        (None, None) => {
            return Err(SigstoreError::Policy(
                "give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp".into(),
            ))
        }
    };
    Ok(Policy::Identity(IdentityPolicy { identity, issuer }))
}

fn verify(args: &VerifyBundleArgs) -> Result<Verified, SigstoreError> {
    // Inputs the caller controls are checked first, so that a usage problem
    // is reported as such and not hidden behind a bundle failure.
    let policy = policy(args)?;
    let root_path = args
        .trusted_root
        .as_deref()
        .ok_or(SigstoreError::NoTrustedRoot)?;
    let root = TrustedRoot::from_file(root_path)?;
    let artifact = ArtifactSource::parse(&args.artifact)?;
    let artifact = load_artifact(&artifact)?;
    let bundle_bytes = trust::read_limited(&args.bundle, "bundle", MAX_BUNDLE_FILE)?;

    let bundle = SigstoreBundle::from_json(&bundle_bytes)?;
    let verifier = SigstoreVerifier::new(&root)?;
    let artifact = match &artifact {
        LoadedArtifact::Bytes(b) => Artifact::Bytes(b),
        LoadedArtifact::Sha256(d) => Artifact::Sha256(*d),
    };
    verifier.verify(&bundle, artifact, &policy)
}

enum LoadedArtifact {
    Bytes(Vec<u8>),
    Sha256([u8; 32]),
}

fn load_artifact(source: &ArtifactSource) -> Result<LoadedArtifact, SigstoreError> {
    let path = match source {
        ArtifactSource::Sha256(d) => return Ok(LoadedArtifact::Sha256(*d)),
        ArtifactSource::File(p) => p,
    };
    let io = |source| SigstoreError::Io {
        what: "artifact",
        path: path.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size <= IN_MEMORY_ARTIFACT_LIMIT {
        return trust::read_limited(path, "artifact", IN_MEMORY_ARTIFACT_LIMIT)
            .map(LoadedArtifact::Bytes);
    }
    hash_file(path).map_err(io).map(LoadedArtifact::Sha256)
}

fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

fn time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}

/// The certificate's SANs and issuer, as the certificate has them.
fn signer_claims(v: &Verified) -> (Vec<String>, Option<String>) {
    match &v.signer {
        Signer::Certificate(id) => (
            id.sans
                .iter()
                .map(|s| s.value().to_string())
                .collect::<Vec<_>>(),
            id.issuer.clone(),
        ),
        Signer::Key => (Vec::new(), None),
    }
}

/// The `--json` success object (strings as the certificate has them; JSON escapes them).
fn success_json(v: &Verified) -> serde_json::Value {
    let (identity, issuer) = signer_claims(v);
    serde_json::json!({
            "verified": true,
            "bundleVersion": v.bundle_version,
            "signer": if matches!(v.signer, Signer::Key) { "key" } else { "certificate" },
            "identities": identity,
            "issuer": issuer,
            "integratedTime": v.integrated_time.map(time),
            "verifiedTimes": v.verified_times.iter().copied().map(time).collect::<Vec<_>>(),
            "tlogVerified": v.tlog_verified,
            "tlogEntries": v.tlog_entries,
    })
}

/// The human success report. The SANs and the issuer come from the bundle's
/// certificate and the paths from the command line (a downloaded file's name):
/// all of them are escaped.
fn success_text(args: &VerifyBundleArgs, v: &Verified) -> String {
    use std::fmt::Write;
    let (identity, issuer) = signer_claims(v);
    let signer = match &v.signer {
        Signer::Certificate(_) => format!(
            "{} (issuer {})",
            identity
                .iter()
                .map(|s| sanitize(s))
                .collect::<Vec<_>>()
                .join(", "),
            issuer.as_deref().map_or_else(|| "none".into(), sanitize)
        ),
        Signer::Key => format!(
            "key {}",
            sanitize(
                &args
                    .key
                    .as_deref()
                    .unwrap_or(Path::new("?"))
                    .display()
                    .to_string()
            )
        ),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Verified OK: {}",
        sanitize(&args.bundle.display().to_string())
    );
    let _ = writeln!(out, "  bundle version: {}", sanitize(v.bundle_version));
    let _ = writeln!(out, "  signed by: {signer}");
    if let Some(t) = v.integrated_time {
        let _ = writeln!(out, "  logged at: {}", time(t));
    }
    for t in &v.verified_times {
        let _ = writeln!(out, "  authenticated time: {}", time(*t));
    }
    let _ = writeln!(
        out,
        "  transparency log: {}",
        if v.tlog_verified {
            format!("inclusion verified ({} entries)", v.tlog_entries)
        } else {
            "no entry (allowed by --allow-missing-tlog)".to_string()
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::{CertificateIdentity, San};

    fn args(bundle: &str) -> VerifyBundleArgs {
        VerifyBundleArgs {
            bundle: PathBuf::from(bundle),
            certificate_identity: None,
            certificate_identity_regexp: Some(".*".into()),
            certificate_oidc_issuer: None,
            certificate_oidc_issuer_regexp: Some(".*".into()),
            key: None,
            allow_missing_tlog: false,
            trusted_root: None,
            json: false,
            artifact: "sha256:00".into(),
        }
    }

    const EVIL: &str = "\u{1b}[2K\r\u{1b}[32mVerified OK\u{1b}[0m\u{7}\u{202e}dekcah\u{2069}\n";

    fn hostile() -> Verified {
        Verified {
            bundle_version: "0.3",
            signer: Signer::Certificate(CertificateIdentity {
                sans: vec![San::Uri(EVIL.into()), San::Email(format!("a{EVIL}@b"))],
                issuer: Some(EVIL.into()),
            }),
            integrated_time: Some(1_700_000_000),
            verified_times: vec![1_700_000_000],
            tlog_verified: true,
            tlog_entries: 1,
        }
    }

    #[test]
    fn success_text_escapes_certificate_claims_and_paths() {
        let text = success_text(&args(&format!("b{EVIL}.json")), &hostile());
        for bad in ['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{2069}'] {
            assert!(!text.contains(bad), "U+{:04X} in {text:?}", bad as u32);
        }
        // One line per field: the claims cannot add lines of their own.
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(text.starts_with("Verified OK: b\\u{1b}[2K"), "{text}");
        assert!(text.contains("signed by: \\u{1b}[2K"), "{text}");
    }

    #[test]
    fn success_json_keeps_the_claims_exact() {
        let v = success_json(&hostile());
        assert_eq!(v["identities"][0], EVIL);
        assert_eq!(v["issuer"], EVIL);
        let text = v.to_string();
        assert!(!text.contains('\u{1b}') && !text.contains('\n'), "{text}");
    }

    #[test]
    fn error_lines_are_one_escaped_line() {
        let e = SigstoreError::BundleMalformed(format!("unknown kind {EVIL}"));
        let line = error_line("NOT verified", &e);
        assert!(!line.contains('\u{1b}') && !line.contains('\n') && !line.contains('\u{202e}'));
        assert!(line.starts_with("verify-bundle: NOT verified: "), "{line}");
    }
}
