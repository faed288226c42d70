//! `attest keygen`, `attest key-info`, `attest ca init|issue`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::certs;
use crate::intoto::keys as itkeys;
use crate::keys::{self, KeyType, PrivateKey, Signer};

use super::{load_public, usage, Failure, HsmOpts};

#[derive(Args)]
pub struct KeygenArgs {
    /// Key type.
    #[arg(short = 't', long = "type", value_enum, default_value = "ecdsa-p256")]
    pub kind: KeyType,
    /// RSA modulus size.
    #[arg(long, default_value_t = 3072, value_parser = parse_bits)]
    pub bits: usize,
    /// Private key file to write (mode 0600).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Public key file (default: the private key's path + `.pub`).
    #[arg(long, value_name = "FILE")]
    pub public: Option<PathBuf>,
    /// Encrypt the private key (passphrase from ATTEST_KEY_PASSPHRASE or a prompt).
    #[arg(long)]
    pub encrypt: bool,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct KeyInfoArgs {
    /// A private key (PKCS#8 PEM) or public key (SPKI PEM) file, or a PKCS#11 URI (the
    /// public key is read from the token; no PIN is needed when a public key object matches).
    #[arg(value_name = "FILE|URI")]
    pub key: PathBuf,
    #[command(flatten)]
    pub hsm: HsmOpts,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum CaCmd {
    /// Create a CA directory: root.pem/root.key, optionally intermediate.pem/.key, and
    /// trusted_root.json (Sigstore form).
    Init {
        /// Directory to create the CA in.
        dir: PathBuf,
        /// Also create an intermediate CA; leaves are then issued by it.
        #[arg(long)]
        intermediate: bool,
        /// Key type of the CA keys.
        #[arg(short = 't', long = "type", value_enum, default_value = "ecdsa-p256")]
        kind: KeyType,
        /// Common name prefix.
        #[arg(long, default_value = "attest test CA")]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: i64,
        /// Encrypt the CA keys (passphrase from ATTEST_KEY_PASSPHRASE or a prompt).
        #[arg(long)]
        encrypt: bool,
        /// Overwrite an existing CA.
        #[arg(long)]
        force: bool,
    },
    /// Issue a code-signing certificate for a public key; writes the chain (leaf first,
    /// intermediate next, never the root).
    Issue {
        /// The CA directory.
        dir: PathBuf,
        /// The public key to certify (SPKI PEM; a private key file or a PKCS#11 URI works
        /// too).
        #[arg(long, value_name = "FILE|URI")]
        public_key: PathBuf,
        #[command(flatten)]
        hsm: HsmOpts,
        /// Subject alternative name: email:NAME@DOMAIN or uri:URI.
        #[arg(long, value_name = "ID")]
        identity: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Chain file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

fn parse_bits(s: &str) -> Result<usize, String> {
    match s {
        "3072" => Ok(3072),
        "4096" => Ok(4096),
        _ => Err("RSA keys are generated with 3072 or 4096 bits".into()),
    }
}

pub fn keygen(a: KeygenArgs) -> Result<(), Failure> {
    let public = a.public.clone().unwrap_or_else(|| {
        let mut p = a.output.clone().into_os_string();
        p.push(".pub");
        PathBuf::from(p)
    });
    if !a.force {
        for p in [&a.output, &public] {
            if p.exists() {
                return Err(keys::KeyError::Exists { path: p.clone() }.into());
            }
        }
    }
    let pass = if a.encrypt {
        Some(keys::passphrase_for_writing()?)
    } else {
        None
    };
    let key = PrivateKey::generate(a.kind, a.bits)?;
    let pem = key.to_pem(pass.as_deref().map(String::as_str))?;
    keys::write_private_file(&a.output, &pem, a.force)?;
    keys::write_public_file(&public, &key.public_key().to_pem(), a.force)?;
    let pk = key.public_key();
    let summary = serde_json::json!({
        "type": a.kind,
        "bits": (a.kind == KeyType::Rsa).then_some(pk.rsa_bits()),
        "private": a.output,
        "public": public,
        "encrypted": a.encrypt,
        "keyId": pk.key_id(),
        "inTotoKeyId": itkeys::in_toto_keyid(pk),
    });
    if a.json {
        println!("{summary}");
    } else {
        eprintln!(
            "attest: {} key written to {} (0600), public key to {}; key id {}",
            a.kind.name(),
            a.output.display(),
            public.display(),
            pk.key_id()
        );
    }
    Ok(())
}

pub fn key_info(a: KeyInfoArgs) -> Result<(), Failure> {
    let pk = load_public(&a.key, &a.hsm)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"type": pk.kind(), "keyId": pk.key_id(), "inTotoKeyId": itkeys::in_toto_keyid(&pk), "publicKeyPem": pk.to_pem()})
        );
    } else {
        print!("{}", pk.to_pem());
        println!(
            "type: {}\nkey id (sha256 of SPKI DER): {}\nin-toto key id: {}",
            pk.kind().name(),
            pk.key_id(),
            itkeys::in_toto_keyid(&pk)
        );
    }
    Ok(())
}

pub fn ca(c: CaCmd) -> Result<(), Failure> {
    match c {
        CaCmd::Init {
            dir,
            intermediate,
            kind,
            name,
            days,
            encrypt,
            force,
        } => {
            if days <= 0 {
                return Err(usage("--days must be positive"));
            }
            if dir.join("root.pem").exists() && !force {
                return Err(Failure::from(format!(
                    "{}: a CA already exists there; pass --force to replace it",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::from(format!("{}: {e}", dir.display())))?;
            let pass = if encrypt {
                Some(keys::passphrase_for_writing()?)
            } else {
                None
            };
            let pass = pass.as_deref().map(String::as_str);
            let files = certs::init_ca(&name, kind, days, intermediate)?;
            keys::write_private_file(&dir.join("root.key"), &files.root_key.to_pem(pass)?, true)?;
            keys::write_public_file(&dir.join("root.pem"), &files.root_pem, true)?;
            if let Some((pem, key)) = &files.intermediate {
                keys::write_private_file(&dir.join("intermediate.key"), &key.to_pem(pass)?, true)?;
                keys::write_public_file(&dir.join("intermediate.pem"), pem, true)?;
            } else {
                for f in ["intermediate.key", "intermediate.pem"] {
                    let _ = std::fs::remove_file(dir.join(f));
                }
            }
            let tr = certs::trusted_root_json(&dir, &name)?;
            keys::write_public_file(
                &dir.join("trusted_root.json"),
                &(serde_json::to_string_pretty(&tr)? + "\n"),
                true,
            )?;
            eprintln!(
                "attest: CA written to {} (root{}; trusted_root.json for Sigstore verifiers)",
                dir.display(),
                if intermediate { " + intermediate" } else { "" }
            );
            Ok(())
        }
        CaCmd::Issue {
            dir,
            public_key,
            hsm,
            identity,
            days,
            output,
        } => {
            if days <= 0 {
                return Err(usage("--days must be positive"));
            }
            let pk = load_public(&public_key, &hsm)?;
            let chain = certs::issue_leaf(&dir, &pk, &identity, days)?;
            keys::write_public_file(&output, &chain, true)?;
            eprintln!(
                "attest: code-signing certificate for {} ({}) written to {}",
                identity,
                pk.key_id(),
                output.display()
            );
            Ok(())
        }
    }
}
