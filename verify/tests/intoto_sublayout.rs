//! in-toto sublayouts and parameter substitution, against in-toto 3.1 itself: a step of the
//! root layout is delegated by its functionary to a sublayout (two steps with their own
//! functionaries and links in `links/<step>.<keyid8>/`), and a layout written with
//! `{NAME}` parameters. Each passing case passes `in-toto-verify` (or in-toto's Python API,
//! for parameters, which its command line does not take); each tampering fails both.

mod intoto_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use attest::intoto::{layout, Form};
use intoto_support::*;
use verify::intoto::{verify_layout, LayoutRequest, CHECK_LAYOUT, CHECK_LINK, CHECK_RULES};
use verify::report::{Finding, Status};

/// The root layout: `inputs` is the composer's, who delegates it to [`SUB`]; `compose`
/// must use exactly the repository and overlays the delegated chain produced.
const ROOT: &str = r#"
expires_in_days = 30
[keys]
composer = "composer.pub"
sbomer = "sbomer.pub"
[[step]]
name = "inputs"
functionaries = ["composer"]
expected_products = [["CREATE", "repo/*"], ["CREATE", "overlays/*"], ["DISALLOW", "*"]]
[[step]]
name = "compose"
functionaries = ["sbomer"]
expected_command = ["compose", "sample.toml"]
expected_materials = [
  ["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "inputs"],
  ["MATCH", "overlays/*", "WITH", "PRODUCTS", "FROM", "inputs"],
  ["DISALLOW", "*"],
]
expected_products = [["CREATE", "rootfs/*"], ["DISALLOW", "*"]]
"#;

/// The composer's sublayout: packages, then overlays over them. Its summary is the first
/// step's materials (none) and the last step's products (repository and overlays).
const SUB: &str = r#"
expires_in_days = 30
[keys]
packager = "packager.pub"
overlayer = "overlayer.pub"
[[step]]
name = "fedora-packages"
functionaries = ["packager"]
expected_products = [["CREATE", "repo/*"], ["DISALLOW", "*"]]
[[step]]
name = "overlays"
functionaries = ["overlayer"]
expected_materials = [["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "fedora-packages"], ["DISALLOW", "*"]]
expected_products = [
  ["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "fedora-packages"],
  ["CREATE", "overlays/*"],
  ["DISALLOW", "*"],
]
"#;

/// Builds and signs a layout from attest's TOML description to any path.
fn sign_layout(c: &Chain, toml_text: &str, owners: &[&str], form: Form, out: &Path) {
    let desc: layout::Description = toml::from_str(toml_text).unwrap();
    let signed = layout::build(&desc, c.w(), now(), "test").unwrap();
    c.sign_to(&signed, owners, form, out);
}

/// `links/inputs.<composer8>.link` (the sublayout) and `links/inputs.<composer8>` (its
/// links' directory), relative to the work tree.
fn sub_paths(c: &Chain) -> (PathBuf, String) {
    let file = c.link_path("links", "inputs", "composer");
    let name = file.file_name().unwrap().to_str().unwrap();
    let dir = format!("links/{}", name.strip_suffix(".link").unwrap());
    (file, dir)
}

/// The delegated chain, the sublayout in `form`; passes as made.
fn delegated(form: Form) -> Chain {
    let c = Chain::new();
    sign_layout(
        &c,
        ROOT,
        &["owner1"],
        Form::Metablock,
        &c.w().join("root.layout"),
    );
    let (sub_file, sub_dir) = sub_paths(&c);
    std::fs::create_dir_all(c.w().join("links")).unwrap();
    sign_layout(&c, SUB, &["composer"], form, &sub_file);
    let w = c.w();
    c.link(
        &sub_dir,
        w,
        "fedora-packages",
        "packager",
        &[],
        &["repo"],
        &[],
        Form::Metablock,
    );
    c.link(
        &sub_dir,
        w,
        "overlays",
        "overlayer",
        &["repo"],
        &["repo", "overlays"],
        &[],
        Form::Dsse,
    );
    c.link(
        "links",
        w,
        "compose",
        "sbomer",
        &["repo", "overlays"],
        &["rootfs"],
        &["compose", "sample.toml"],
        Form::Metablock,
    );
    c
}

fn verify(c: &Chain) -> Vec<Finding> {
    c.verify("root.layout", &["owner1"], "links", None)
}

/// A passing finding with this check, kind and exact subject.
fn passed(f: &[Finding], check: &str, subject: &str, kind: &str) -> bool {
    f.iter().any(|x| {
        x.status == Status::Pass && x.check == check && x.kind == kind && x.subject.name == subject
    })
}

fn count(f: &[Finding], check: &str, kind: &str) -> usize {
    f.iter()
        .filter(|x| x.check == check && x.kind == kind)
        .count()
}

#[test]
fn a_step_delegated_to_a_sublayout_verifies() {
    for form in [Form::Metablock, Form::Dsse] {
        let c = delegated(form);
        let f = verify(&c);
        assert_all_pass(&f);
        let (_, sub_dir) = sub_paths(&c);
        let scope = sub_dir.strip_prefix("links/").unwrap();
        // Root and sublayout are both checked; the sublayout's steps are reported under
        // its directory's name, and its summary stands for the composer's link.
        assert_eq!(count(&f, CHECK_LAYOUT, "valid"), 2, "{}", show(&f));
        for step in ["fedora-packages", "overlays"] {
            let subject = format!("step:{scope}/{step}");
            assert!(
                passed(&f, CHECK_LINK, &subject, "threshold-met"),
                "{}",
                show(&f)
            );
            assert!(
                passed(&f, CHECK_RULES, &subject, "rules-passed"),
                "{}",
                show(&f)
            );
        }
        assert!(passed(&f, CHECK_LINK, "step:inputs", "threshold-met"));
        assert!(
            f.iter()
                .any(|x| x.kind == "verified" && x.reason.contains("sublayout (verified)")),
            "{}",
            show(&f)
        );
        c.reference_accepts("root.layout", &["owner1"], "links");
    }
}

/// Each tampering inside the delegated chain fails the root's step, in both verifiers.
#[test]
fn tampering_inside_a_sublayout_fails() {
    let c = delegated(Form::Metablock);
    let (sub_file, sub_dir) = sub_paths(&c);
    let scope = sub_dir.strip_prefix("links/").unwrap().to_owned();
    let pristine = c.fork_links("pristine");
    let restore = || {
        std::fs::remove_dir_all(c.w().join("links")).unwrap();
        cp(&pristine, &c.w().join("links"));
    };
    let fails_with = |check: &str, subject: &str, kind: &str, reference: &str| {
        let f = verify(&c);
        assert_finding(&f, check, subject, kind);
        assert_finding(&f, CHECK_LINK, "inputs.", "sublayout-failed");
        c.reference_rejects("root.layout", &["owner1"], "links", reference);
    };

    // One digest in the packager's link: its signature fails, the sub-step lacks its link.
    let pkg = c.link_path(&sub_dir, "fedora-packages", "packager");
    let mut v = read_json(&pkg);
    let first = v["signed"]["products"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    v["signed"]["products"][&first]["sha256"] = serde_json::json!("00".repeat(32));
    write_json(&pkg, &v);
    fails_with(
        CHECK_LINK,
        &format!("step:{scope}/fedora-packages"),
        "threshold",
        "ThresholdVerificationError",
    );
    restore();

    // The overlays link records a product the sublayout disallows.
    c.link(
        &sub_dir,
        c.w(),
        "overlays",
        "overlayer",
        &["repo"],
        &["repo", "overlays", "rootfs"],
        &[],
        Form::Dsse,
    );
    fails_with(
        CHECK_RULES,
        &format!("step:{scope}/overlays"),
        "disallowed",
        "RuleVerificationError",
    );
    restore();

    // The sublayout expired.
    let expired = SUB.replace("expires_in_days = 30", "expires = \"2020-01-01T00:00:00Z\"");
    sign_layout(&c, &expired, &["composer"], Form::Metablock, &sub_file);
    let f = verify(&c);
    assert_finding(&f, CHECK_LAYOUT, "inputs.", "expired");
    c.reference_rejects("root.layout", &["owner1"], "links", "LayoutExpiredError");
    restore();

    // The sublayout signed by someone other than the step's functionary: not the
    // composer's delegation, so the step has no link.
    sign_layout(&c, SUB, &["outsider"], Form::Metablock, &sub_file);
    let f = verify(&c);
    assert_finding(&f, CHECK_LINK, "inputs.", "unauthorized-signer");
    assert_finding(&f, CHECK_LINK, "step:inputs", "threshold");
    assert!(
        f.iter()
            .all(|x| !x.subject.name.contains(&format!("{scope}/"))),
        "not followed"
    );
    c.reference_rejects(
        "root.layout",
        &["owner1"],
        "links",
        "ThresholdVerificationError",
    );
    restore();

    // The sublayout's links missing altogether.
    std::fs::remove_dir_all(c.w().join(&sub_dir)).unwrap();
    fails_with(
        CHECK_LINK,
        &format!("step:{scope}/fedora-packages"),
        "missing-link",
        "LinkNotFoundError",
    );
    restore();
    assert_all_pass(&verify(&c));
}

/// A sublayout that delegates its only step back to itself through a symlinked links
/// directory nests without end: followed to the depth limit, then a failure.
#[test]
fn endless_sublayout_nesting_stops_at_the_depth_limit() {
    let c = delegated(Form::Metablock);
    let (sub_file, sub_dir) = sub_paths(&c);
    let again = r#"
expires_in_days = 30
[keys]
composer = "composer.pub"
[[step]]
name = "inputs"
functionaries = ["composer"]
"#;
    sign_layout(&c, again, &["composer"], Form::Metablock, &sub_file);
    std::fs::remove_dir_all(c.w().join(&sub_dir)).unwrap();
    std::os::unix::fs::symlink(".", c.w().join(&sub_dir)).unwrap();
    let f = verify(&c);
    assert_finding(&f, CHECK_LINK, "inputs.", "sublayout-too-deep");
    let depth = verify::intoto::MAX_SUBLAYOUT_DEPTH;
    assert_eq!(count(&f, CHECK_LAYOUT, "valid"), depth + 1, "{}", show(&f));
    assert!(f.iter().any(|x| x.status == Status::Fail));
}

/// The same through three delegated steps a level: 3^8 sublayouts if nothing counted them;
/// verification stops taking them on after the limit.
#[test]
fn a_wide_tree_of_aliased_sublayouts_stops_at_the_count_limit() {
    let c = delegated(Form::Metablock);
    let (sub_file, sub_dir) = sub_paths(&c);
    let wide = r#"
expires_in_days = 30
[keys]
composer = "composer.pub"
[[step]]
name = "inputs"
functionaries = ["composer"]
[[step]]
name = "inputs2"
functionaries = ["composer"]
[[step]]
name = "inputs3"
functionaries = ["composer"]
"#;
    sign_layout(&c, wide, &["composer"], Form::Metablock, &sub_file);
    std::fs::remove_dir_all(c.w().join(&sub_dir)).unwrap();
    for step in ["inputs", "inputs2", "inputs3"] {
        let file = c.link_path("links", step, "composer");
        if step != "inputs" {
            std::fs::copy(&sub_file, &file).unwrap();
        }
        let dir = file.with_extension("");
        std::os::unix::fs::symlink(".", &dir).unwrap();
    }
    let start = std::time::Instant::now();
    let f = verify(&c);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_finding(&f, CHECK_LINK, "inputs", "too-many-sublayouts");
    let limit = verify::intoto::MAX_SUBLAYOUTS;
    assert_eq!(count(&f, CHECK_LAYOUT, "valid"), limit + 1, "{}", show(&f));
}

// ---------------------------------------------------------------------------------------
// Parameter substitution

const PARAMS: &str = r#"
expires_in_days = 30
[keys]
packager = "packager.pub"
composer = "composer.pub"
[[step]]
name = "fedora-packages"
functionaries = ["packager"]
expected_products = [["CREATE", "{PKGDIR}/*"], ["DISALLOW", "*"]]
[[step]]
name = "compose"
functionaries = ["composer"]
expected_command = ["compose", "{RECIPE}"]
expected_materials = [["MATCH", "{PKGDIR}/*", "WITH", "PRODUCTS", "FROM", "fedora-packages"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "rootfs/*"], ["DISALLOW", "*"]]
"#;

/// in-toto's `in_toto_verify(..., substitution_parameters=argv[4])`: whether it passed,
/// and the exception's name.
const PY_VERIFY: &str = r#"
import json, sys
from in_toto.models._signer import load_public_key_from_file
from in_toto.models.metadata import Metadata
from in_toto.verifylib import in_toto_verify
key = load_public_key_from_file(sys.argv[2])
params = json.loads(sys.argv[4])
try:
    in_toto_verify(Metadata.load(sys.argv[1]), {key["keyid"]: key}, link_dir_path=sys.argv[3],
                   substitution_parameters=params)
    print("PASS")
except Exception as e:
    print("FAIL", type(e).__name__, e)
"#;

fn params_chain() -> Chain {
    let c = Chain::new();
    sign_layout(
        &c,
        PARAMS,
        &["owner1"],
        Form::Dsse,
        &c.w().join("root.layout"),
    );
    let w = c.w();
    c.link(
        "links",
        w,
        "fedora-packages",
        "packager",
        &[],
        &["repo"],
        &[],
        Form::Metablock,
    );
    c.link(
        "links",
        w,
        "compose",
        "composer",
        &["repo"],
        &["rootfs"],
        &["compose", "sample.toml"],
        Form::Dsse,
    );
    c
}

fn verify_with(c: &Chain, params: Option<&[(&str, &str)]>) -> Vec<Finding> {
    let map: Option<BTreeMap<String, String>> = params.map(|p| {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    });
    verify_layout(&LayoutRequest {
        layout: &c.w().join("root.layout"),
        layout_keys: &[Chain::public("owner1")],
        links_dir: &c.w().join("links"),
        now_unix: now(),
        allow_inspections: false,
        inspection_base: None,
        parameters: map.as_ref(),
    })
    .unwrap()
}

/// in-toto's verdict with these parameters, or `None` without in-toto.
fn reference_with(c: &Chain, params: &[(&str, &str)]) -> Option<String> {
    if !have_reference() {
        return None;
    }
    let w = c.w();
    std::fs::write(w.join("verify.py"), PY_VERIFY).unwrap();
    let map: BTreeMap<&str, &str> = params.iter().copied().collect();
    let o = Command::new("python3")
        .arg(w.join("verify.py"))
        .arg(w.join("root.layout"))
        .arg(w.join("owner1.pub"))
        .arg(w.join("links"))
        .arg(serde_json::to_string(&map).unwrap())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(out)
}

#[test]
fn layout_parameters_are_substituted_as_in_toto_does() {
    let c = params_chain();
    let given = [("PKGDIR", "repo"), ("RECIPE", "sample.toml")];
    let f = verify_with(&c, Some(&given));
    assert_all_pass(&f);
    // The recorded command equals the substituted one: no mismatch note.
    assert_eq!(count(&f, CHECK_LINK, "command-mismatch"), 0, "{}", show(&f));
    if let Some(out) = reference_with(&c, &given) {
        assert!(out.starts_with("PASS"), "{out}");
    }

    // A wrong value: the rules select nothing and DISALLOW catches the repository.
    let wrong = [("PKGDIR", "elsewhere"), ("RECIPE", "sample.toml")];
    assert_finding(
        &verify_with(&c, Some(&wrong)),
        CHECK_RULES,
        "step:",
        "disallowed",
    );
    if let Some(out) = reference_with(&c, &wrong) {
        assert!(out.starts_with("FAIL RuleVerificationError"), "{out}");
    }

    // A parameter without a value: in-toto raises KeyError, we fail the layout.
    let missing = [("RECIPE", "sample.toml")];
    let f = verify_with(&c, Some(&missing));
    assert_finding(&f, CHECK_LAYOUT, "root.layout", "substitution");
    assert!(show(&f).contains("PKGDIR"), "{}", show(&f));
    if let Some(out) = reference_with(&c, &missing) {
        assert!(out.starts_with("FAIL KeyError"), "{out}");
    }

    // No parameters: nothing is substituted and `{PKGDIR}/*` is a literal pattern.
    assert_finding(&verify_with(&c, None), CHECK_RULES, "step:", "disallowed");
}

#[test]
fn a_bad_parameter_name_is_the_callers_error() {
    let c = params_chain();
    let map = BTreeMap::from([("BAD NAME".to_owned(), "x".to_owned())]);
    let e = verify_layout(&LayoutRequest {
        layout: &c.w().join("root.layout"),
        layout_keys: &[Chain::public("owner1")],
        links_dir: &c.w().join("links"),
        now_unix: now(),
        allow_inspections: false,
        inspection_base: None,
        parameters: Some(&map),
    })
    .unwrap_err();
    assert!(e.to_string().contains("BAD NAME"), "{e}");
}
