//! `attest layout`, `attest link`.

use std::path::PathBuf;

use clap::Args;

use crate::intoto::{self, keys as itkeys, layout, link, Form};
use crate::keys::Signer;

use super::{load_signer, now_secs, usage, Failure, HsmOpts};

#[derive(Args)]
pub struct LayoutArgs {
    /// The layout description (TOML; see docs/attest.md).
    pub description: PathBuf,
    /// Layout owner's private key file or PKCS#11 URI (repeatable: every key signs).
    #[arg(long, value_name = "FILE|URI", required = true)]
    pub key: Vec<PathBuf>,
    #[command(flatten)]
    pub hsm: HsmOpts,
    /// Layout file to write (conventionally root.layout).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Write a DSSE envelope instead of a Metablock.
    #[arg(long)]
    pub dsse: bool,
}

#[derive(Args)]
pub struct LinkArgs {
    /// Step name (as in the layout).
    pub step: String,
    /// Functionary's private key file or PKCS#11 URI.
    #[arg(long, value_name = "FILE|URI")]
    pub key: PathBuf,
    #[command(flatten)]
    pub hsm: HsmOpts,
    /// Materials: files or directories, relative to --base-dir.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub materials: Vec<PathBuf>,
    /// Products: files or directories, relative to --base-dir.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub products: Vec<PathBuf>,
    /// Directory artifact paths are relative to (and recorded relative to).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub base_dir: PathBuf,
    /// The command the step ran, recorded as given (after `--`).
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Output: a directory (the link is named <step>.<keyid8>.link in it; created when the
    /// path ends with '/') or a file.
    #[arg(short, long, value_name = "DIR|FILE")]
    pub output: PathBuf,
    /// Write a DSSE envelope instead of a Metablock.
    #[arg(long)]
    pub dsse: bool,
}

fn write_json(path: &std::path::Path, v: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v)? + "\n";
    sbom::output::write_atomically(path, |w| w.write_all(text.as_bytes()))
        .map_err(|e| Failure::from(format!("cannot write {}: {e}", path.display())))
}

pub fn layout(a: LayoutArgs) -> Result<(), Failure> {
    let desc = layout::read_description(&a.description)?;
    let base = a
        .description
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let signed = layout::build(
        &desc,
        &base,
        now_secs(),
        &a.description.display().to_string(),
    )?;
    let keys: Vec<Box<dyn Signer>> = a
        .key
        .iter()
        .map(|k| load_signer(k, &a.hsm))
        .collect::<Result<_, _>>()?;
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| k.as_ref()).collect();
    let form = if a.dsse { Form::Dsse } else { Form::Metablock };
    let doc = intoto::sign(&signed, &signers, form)?;
    write_json(&a.output, &doc)?;
    eprintln!(
        "attest: layout with {} steps, expiring {}, signed by {} key(s), written to {}",
        desc.steps.len(),
        signed["expires"].as_str().unwrap_or("?"),
        keys.len(),
        a.output.display()
    );
    Ok(())
}

pub fn link(a: LinkArgs) -> Result<(), Failure> {
    if a.step.is_empty() || a.step.contains('/') {
        return Err(usage(format!(
            "step name {:?} must be non-empty and contain no '/'",
            a.step
        )));
    }
    let key = load_signer(&a.key, &a.hsm)?;
    let materials = link::record(&a.base_dir, &a.materials)?;
    let products = link::record(&a.base_dir, &a.products)?;
    let signed = link::link_object(&a.step, materials, products, &a.command);
    let form = if a.dsse { Form::Dsse } else { Form::Metablock };
    let doc = intoto::sign(&signed, &[key.as_ref()], form)?;
    // `-o links/step.1a2b3c4d/` (a sublayout's links directory): made when missing.
    let wants_dir = a.output.as_os_str().as_encoded_bytes().ends_with(b"/");
    if wants_dir && !a.output.is_dir() {
        std::fs::create_dir_all(&a.output).map_err(|e| {
            usage(format!(
                "cannot create directory {}: {e}",
                a.output.display()
            ))
        })?;
    }
    let out = if a.output.is_dir() {
        a.output.join(link::file_name(
            &a.step,
            &itkeys::in_toto_keyid(key.public_key()),
        ))
    } else {
        a.output.clone()
    };
    write_json(&out, &doc)?;
    eprintln!(
        "attest: link for step {} ({} materials, {} products) written to {}",
        a.step,
        signed["materials"].as_object().map_or(0, |m| m.len()),
        signed["products"].as_object().map_or(0, |m| m.len()),
        out.display()
    );
    Ok(())
}
