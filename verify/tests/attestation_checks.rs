//! `verify::attestation::check` on attestations made by attest's own library for the
//! committed sample image: every form passes untouched, and each one-change tamper fails
//! with exactly the check and reason kind it should.

mod attestation_fixture;

use attest::keys::Signer;
use attestation_fixture::*;
use sbom::format::Format;
use serde_json::json;
use verify::attestation::{self, AttestationError, ImageFacts};
use verify::report::Status;

const SIG: &str = attestation::CHECK_SIGNATURE;
const SUBJ: &str = attestation::CHECK_SUBJECT;
const PROV: &str = attestation::CHECK_PROVENANCE;
const AGE: &str = attestation::CHECK_AGE;
const SBOM: &str = attestation::CHECK_SBOM;
const REQ: &str = attestation::CHECK_REQUIRED;

/// The passing findings of an image provenance.
fn provenance_passes() -> Vec<(String, Status, String)> {
    sorted(vec![
        s(AGE, Status::Pass, "fresh"),
        s(SIG, Status::Pass, "verified"),
        s(PROV, Status::Pass, "trusted"),
        s(SUBJ, Status::Pass, "match"),
    ])
}

/// `provenance_passes` with one finding replaced.
fn passes_but(check: &str, status: Status, kind: &str) -> Vec<(String, Status, String)> {
    let mut v: Vec<_> = provenance_passes()
        .into_iter()
        .filter(|(c, _, _)| c != check)
        .chain([s(check, status, kind)])
        .collect();
    v.sort();
    v
}

#[test]
fn untouched_attestations_of_every_form_pass() {
    let f = Fixture::new();
    let prov = f.write("image.dsse.json", f.envelope(&f.image_statement(), &f.prov));
    let lines: Vec<String> = f.package_envelopes();
    assert_eq!(lines.len(), 7);
    let pkgs = f.write("packages.intoto.jsonl", lines.join("\n") + "\n");
    let spdx = f.write(
        "spdx.dsse.json",
        f.envelope(&f.sbom_statement(Format::Spdx23), &f.sbom),
    );
    let spdx3 = f.write(
        "spdx3.bundle.json",
        f.key_bundle(&f.sbom_statement(Format::Spdx3), &f.sbom),
    );
    let cdx = f.write(
        "cdx.bundle.json",
        f.key_bundle(&f.sbom_statement(Format::CycloneDx), &f.sbom),
    );
    let trust = f.trust(&f.policy_text(
        "required_predicates = [\"https://slsa.dev/provenance/v1\", \"https://spdx.dev/Document\", \
         \"https://cyclonedx.org/bom/v1.6\"]",
    ));
    let o = f.check_with(&[prov, pkgs, spdx, spdx3, cdx], &trust, f.now);
    let all: Vec<_> = o.findings.iter().collect();
    assert_all_pass(&all);
    assert_eq!(summary(&about(&o, "image.dsse.json")), provenance_passes());
    for n in 1..=7 {
        let fs = about(&o, &format!("packages.intoto.jsonl:{n}"));
        assert_eq!(summary(&fs), provenance_passes(), "line {n}");
    }
    for name in ["spdx.dsse.json", "spdx3.bundle.json", "cdx.bundle.json"] {
        let fs = about(&o, name);
        assert_eq!(
            summary(&fs),
            sorted(vec![
                s(AGE, Status::Pass, "fresh"),
                s(SIG, Status::Pass, "verified"),
                s(SBOM, Status::Pass, "match"),
                s(SUBJ, Status::Pass, "match"),
            ]),
            "{name}"
        );
        let sbom = fs.iter().find(|x| x.check == SBOM).unwrap();
        assert!(sbom.reason.contains("file digests"), "{}", sbom.reason);
    }
    let req: Vec<_> = o.findings.iter().filter(|x| x.check == REQ).collect();
    assert_eq!(req.len(), 3);
    // Only verified image provenance vouches for overlays, with the digest it names.
    let overlay = std::fs::read(sample_root().join(&OVERLAY[1..])).unwrap();
    assert_eq!(
        o.attested_overlays.into_iter().collect::<Vec<_>>(),
        [(OVERLAY.to_string(), sha256_hex(&overlay))]
    );
}

#[test]
fn a_changed_payload_or_signature_byte_is_a_bad_signature_and_nothing_else() {
    let f = Fixture::new();
    let line = f.envelope(&f.image_statement(), &f.prov);
    let mut env: serde_json::Value = serde_json::from_str(&line).unwrap();
    let b64 =
        |s: &serde_json::Value| attest::dsse::b64_decode_lenient(s.as_str().unwrap()).unwrap();
    // One payload byte: the builder id's host, so the JSON stays valid.
    let mut payload = b64(&env["payload"]);
    let at = payload
        .windows(11)
        .position(|w| w == b"ci.example.")
        .unwrap();
    payload[at] = b'k';
    let mut t1 = env.clone();
    t1["payload"] = json!(attest::dsse::b64(&payload));
    // One signature byte.
    let mut sig = b64(&env["signatures"][0]["sig"]);
    let n = sig.len();
    sig[n / 2] ^= 0x01;
    env["signatures"][0]["sig"] = json!(attest::dsse::b64(&sig));
    let p1 = f.write("payload.json", t1.to_string());
    let p2 = f.write("sig.json", env.to_string());
    let trust =
        f.trust(&f.policy_text("required_predicates = [\"https://slsa.dev/provenance/v1\"]"));
    let o = f.check_with(&[p1, p2], &trust, f.now);
    for name in ["payload.json", "sig.json"] {
        let fs = about(&o, name);
        assert_eq!(
            summary(&fs),
            [s(SIG, Status::Fail, "bad-signature")],
            "{name}"
        );
        assert!(fs[0].reason.contains("does not verify"), "{}", fs[0].reason);
    }
    // Failed signatures vouch for nothing: no overlays, no credit.
    assert!(o.attested_overlays.is_empty());
    let req: Vec<_> = o.findings.iter().filter(|x| x.check == REQ).collect();
    assert_eq!(summary(&req), [s(REQ, Status::Fail, "missing-attestation")]);
}

#[test]
fn a_payload_byte_that_breaks_the_json_is_still_a_bad_signature() {
    let f = Fixture::new();
    let env =
        Envelope::from_json(f.envelope(&f.image_statement(), &f.prov).as_bytes(), "t").unwrap();
    let mut t = env.clone();
    t.payload[0] = b'[';
    let p = f.write("broken.json", t.to_json_line());
    let o = f.check(&[p]);
    assert_eq!(
        summary(&about(&o, "broken.json")),
        [s(SIG, Status::Fail, "bad-signature")]
    );
    // Signed by a trusted key but not a statement: an error, never a pass.
    let signed = f.write(
        "signed-garbage.json",
        sign_payload(b"{\"not\":\"a statement\"}".to_vec(), &f.prov),
    );
    let o = f.check(&[signed]);
    let fs = about(&o, "signed-garbage.json");
    assert_eq!(summary(&fs), [s(SIG, Status::Error, "malformed-statement")]);
    assert!(
        fs[0].reason.contains("signed by provenance key"),
        "{}",
        fs[0].reason
    );
}

/// A change to a statement's JSON.
type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

#[test]
fn re_signed_changes_to_the_statement_fail_the_check_they_break() {
    let f = Fixture::new();
    let line = f.envelope(&f.image_statement(), &f.prov);
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "subject.json",
            Box::new(|v| {
                let d = &mut v["subject"][0]["digest"]["rootfsSha256"];
                let mut h = d.as_str().unwrap().to_string();
                let c = if h.ends_with('0') { "1" } else { "0" };
                h.replace_range(63.., c);
                *d = json!(h);
            }),
            SUBJ,
            "subject-mismatch",
        ),
        (
            "builder.json",
            Box::new(|v| {
                v["predicate"]["runDetails"]["builder"]["id"] =
                    json!("https://evil.example/builder")
            }),
            PROV,
            "untrusted-builder",
        ),
        (
            "dependency.json",
            Box::new(|v| {
                let deps = v["predicate"]["buildDefinition"]["resolvedDependencies"]
                    .as_array_mut()
                    .unwrap();
                let bash = deps
                    .iter_mut()
                    .find(|d| d["name"].as_str().unwrap().starts_with("bash-"))
                    .unwrap();
                bash["digest"]["rpmHeaderSha256"] = json!("0".repeat(64));
            }),
            PROV,
            "dependencies-mismatch",
        ),
        (
            "dropped.json",
            Box::new(|v| {
                let deps = v["predicate"]["buildDefinition"]["resolvedDependencies"]
                    .as_array_mut()
                    .unwrap();
                deps.retain(|d| !d["name"].as_str().unwrap().starts_with("sample-tools-"));
            }),
            PROV,
            "dependencies-mismatch",
        ),
        (
            "old.json",
            Box::new(|v| {
                v["predicate"]["runDetails"]["metadata"]["finishedOn"] =
                    json!("2001-01-01T00:00:00Z")
            }),
            AGE,
            "too-old",
        ),
        (
            "future.json",
            Box::new(|v| {
                v["predicate"]["runDetails"]["metadata"]["finishedOn"] =
                    json!("2999-01-01T00:00:00Z")
            }),
            AGE,
            "future",
        ),
        (
            "no-time.json",
            Box::new(|v| {
                v["predicate"]["runDetails"]["metadata"]
                    .as_object_mut()
                    .unwrap()
                    .remove("finishedOn");
            }),
            AGE,
            "no-time",
        ),
    ];
    let mut files = Vec::new();
    let mut expect = Vec::new();
    for (name, edit, check, kind) in cases {
        files.push(f.write(name, resign(&line, &f.prov, edit)));
        expect.push((name, check, kind));
    }
    let o = f.check(&files);
    for (name, check, kind) in expect {
        let fs = about(&o, name);
        assert_eq!(
            summary(&fs),
            passes_but(check, Status::Fail, kind),
            "{name}"
        );
    }
    let dep = &about(&o, "dependency.json")
        .into_iter()
        .find(|x| x.check == PROV)
        .unwrap()
        .reason;
    assert!(
        dep.contains("header digest differs: bash-5.2.37-3.azl4.x86_64"),
        "{dep}"
    );
    let dropped = &about(&o, "dropped.json")
        .into_iter()
        .find(|x| x.check == PROV)
        .unwrap()
        .reason;
    assert!(
        dropped.contains("installed but not in the provenance: sample-tools-0.9.1-2.azl4.x86_64"),
        "{dropped}"
    );
    // None of the failing provenance vouches for overlays.
    assert!(o.attested_overlays.is_empty());
}

#[test]
fn max_age_from_the_policy_and_the_time_of_the_check() {
    let f = Fixture::new();
    let p = f.write("p.json", f.envelope(&f.image_statement(), &f.prov));
    // finishedOn is an hour before `now`: too old for max_age = 30m.
    let strict = f.trust(&f.policy_text("").replace("1000w", "30m"));
    let o = f.check_with(std::slice::from_ref(&p), &strict, f.now);
    assert_eq!(
        summary(&about(&o, "p.json")),
        passes_but(AGE, Status::Fail, "too-old")
    );
    // Checked 10 minutes before it was made: in the future beyond the 5 minute skew.
    let o = f.check_with(&[p], &f.trust(&f.policy_text("")), f.now - 4200);
    assert_eq!(
        summary(&about(&o, "p.json")),
        passes_but(AGE, Status::Fail, "future")
    );
}

#[test]
fn package_provenance_is_dated_by_build_time_and_not_held_to_max_age() {
    let f = Fixture::new();
    let lines: Vec<String> = f.package_envelopes();
    let file = f.write("pkgs.intoto.jsonl", lines.join("\n") + "\n");
    // The sample's packages were built on 2025-01-01; max_age = 30m would refuse an image
    // statement that old, but a package's BUILDTIME says when it was built, not attested.
    let strict = f.trust(&f.policy_text("").replace("1000w", "30m"));
    let o = f.check_with(std::slice::from_ref(&file), &strict, f.now);
    for n in 1..=7 {
        let fs = about(&o, &format!("pkgs.intoto.jsonl:{n}"));
        let age: Vec<_> = fs.iter().filter(|f| f.check == AGE).collect();
        assert_eq!(age.len(), 1, "line {n}");
        assert_eq!(age[0].status, Status::Pass, "line {n}: {}", age[0].reason);
        assert!(
            age[0].reason.contains("not limited by max_age"),
            "{}",
            age[0].reason
        );
    }
    // A build time in the future still fails.
    let future = resign(&lines[0], &f.prov, |v| {
        v["predicate"]["runDetails"]["metadata"]["finishedOn"] = json!("2999-01-01T00:00:00Z")
    });
    let file = f.write("future.intoto.jsonl", future + "\n");
    let o = f.check_with(&[file], &strict, f.now);
    // One line is read as a single envelope, named by the file.
    let got = summary(&about(&o, "future.intoto.jsonl"));
    assert!(got.contains(&s(AGE, Status::Fail, "future")), "{got:?}");
}

#[test]
fn wrong_key_and_wrong_role() {
    let f = Fixture::new();
    let st = f.image_statement();
    let stranger = f.write("stranger.json", f.envelope(&st, &f.stranger));
    let sbom_key = f.write("sbom-key.json", f.envelope(&st, &f.sbom));
    let sbom_by_prov = f.write(
        "sbom-by-prov.json",
        f.key_bundle(&f.sbom_statement(Format::Spdx23), &f.prov),
    );
    let o = f.check(&[stranger, sbom_key, sbom_by_prov]);
    assert_eq!(
        summary(&about(&o, "stranger.json")),
        [s(SIG, Status::Fail, "unknown-key")]
    );
    assert_eq!(
        summary(&about(&o, "sbom-key.json")),
        [s(SIG, Status::Fail, "wrong-role")]
    );
    assert_eq!(
        summary(&about(&o, "sbom-by-prov.json")),
        [s(SIG, Status::Fail, "wrong-role")]
    );
    let r = &about(&o, "sbom-key.json")[0].reason;
    assert!(
        r.contains("signed by sbom key") && r.contains("not trusted for provenance"),
        "{r}"
    );
    // The keyid is only a hint: a wrong hint with the right key still verifies.
    let mut env = Envelope::from_json(f.envelope(&st, &f.prov).as_bytes(), "t").unwrap();
    env.signatures[0].keyid = Some(f.sbom.public_key().key_id());
    let hinted = f.write("hint.json", env.to_json_line());
    let o = f.check(&[hinted]);
    assert_all_pass(&about(&o, "hint.json"));
}

#[test]
fn package_statements_name_installed_headers() {
    let f = Fixture::new();
    let mut lines: Vec<String> = f.package_envelopes();
    // Line 2: another header digest for the same package. Line 3: a package that is not
    // installed. Line 5: garbage.
    lines[1] = resign(&lines[1], &f.prov, |v| {
        v["subject"][0]["digest"]["rpmHeaderSha256"] = json!("a".repeat(64))
    });
    lines[2] = resign(&lines[2], &f.prov, |v| {
        v["subject"][0]["name"] = json!("bash-9.9-1.x86_64.rpm");
        v["predicate"]["buildDefinition"]["externalParameters"]["package"] =
            json!("bash-9.9-1.x86_64");
    });
    lines[4] = "{\"payload\": truncated".into();
    let file = f.write("p.intoto.jsonl", lines.join("\n"));
    let o = f.check(&[file]);
    assert_eq!(summary(&about(&o, "p.intoto.jsonl:1")), provenance_passes());
    assert_eq!(
        summary(&about(&o, "p.intoto.jsonl:2")),
        passes_but(SUBJ, Status::Fail, "subject-mismatch")
    );
    assert_eq!(
        summary(&about(&o, "p.intoto.jsonl:3")),
        passes_but(SUBJ, Status::Fail, "unknown-package")
    );
    assert_eq!(summary(&about(&o, "p.intoto.jsonl:4")), provenance_passes());
    let garbage = about(&o, "p.intoto.jsonl:5");
    assert_eq!(
        summary(&garbage),
        [s(SIG, Status::Error, "malformed-envelope")]
    );
    assert_eq!(
        garbage[0].subject.name,
        format!("{}:5", f.path("p.intoto.jsonl").display())
    );
    assert_eq!(summary(&about(&o, "p.intoto.jsonl:7")), provenance_passes());
}

#[test]
fn sbom_contents_must_be_the_installed_packages_and_their_files() {
    let f = Fixture::new();
    let mut fewer = f.inv.clone();
    let removed = fewer.packages.remove(2).nevra();
    let mut changed = f.inv.clone();
    let bash = changed
        .packages
        .iter_mut()
        .find(|p| p.name == "bash")
        .unwrap();
    let file = bash
        .files
        .iter_mut()
        .find(|x| x.path == "/usr/bin/bash")
        .unwrap();
    file.digest = Some("0".repeat(64));
    let mut files = Vec::new();
    for (fmt, name) in [
        (Format::Spdx23, "spdx"),
        (Format::Spdx3, "spdx3"),
        (Format::CycloneDx, "cdx"),
    ] {
        files.push(f.write(
            &format!("{name}-fewer.json"),
            f.envelope(&f.sbom_statement_of(&fewer, fmt), &f.sbom),
        ));
        files.push(f.write(
            &format!("{name}-file.json"),
            f.envelope(&f.sbom_statement_of(&changed, fmt), &f.sbom),
        ));
    }
    let o = f.check(&files);
    for name in ["spdx", "spdx3", "cdx"] {
        let fewer = about(&o, &format!("{name}-fewer.json"));
        let bad: Vec<_> = fewer.iter().filter(|x| x.status != Status::Pass).collect();
        assert_eq!(bad.len(), 1, "{name}: {fewer:?}");
        assert_eq!(
            (bad[0].check.as_str(), bad[0].kind.as_str()),
            (SBOM, "packages-mismatch")
        );
        assert!(
            bad[0]
                .reason
                .contains(&format!("installed but not in the SBOM: {removed}")),
            "{}",
            bad[0].reason
        );
        let file = about(&o, &format!("{name}-file.json"));
        let bad: Vec<_> = file.iter().filter(|x| x.status != Status::Pass).collect();
        assert_eq!(bad.len(), 1, "{name}: {file:?}");
        assert_eq!(
            (bad[0].check.as_str(), bad[0].kind.as_str()),
            (SBOM, "files-mismatch")
        );
        assert!(
            bad[0].reason.contains("/usr/bin/bash (digest)"),
            "{}",
            bad[0].reason
        );
    }
}

#[test]
fn sbom_without_files_and_too_old_sbom() {
    let f = Fixture::new();
    let info = sbom::format::DocumentInfo {
        created: f.now - 40 * 86_400,
        tool_name: "attest".into(),
        tool_version: "test".into(),
        include_files: false,
    };
    let st =
        attest::provenance::sbom_statement(&f.inv, f.image_subject(), Format::CycloneDx, &info)
            .unwrap();
    let p = f.write("nofiles.json", f.envelope(&st, &f.sbom));
    let trust = f.trust(&f.policy_text("").replace("1000w", "30d"));
    let o = f.check_with(&[p], &trust, f.now);
    let fs = about(&o, "nofiles.json");
    assert_eq!(
        summary(&fs),
        sorted(vec![
            s(AGE, Status::Fail, "too-old"),
            s(SIG, Status::Pass, "verified"),
            s(SBOM, Status::Pass, "match"),
            s(SUBJ, Status::Pass, "match"),
        ])
    );
    assert!(fs
        .iter()
        .any(|x| x.reason.contains("carries no per-file digests")));
}

#[test]
fn required_predicates_need_a_verified_attestation_about_this_image() {
    let f = Fixture::new();
    let prov = f.write("p.json", f.envelope(&f.image_statement(), &f.prov));
    // An SBOM about another image: signed, but its subject does not match.
    let other = resign(
        &f.envelope(&f.sbom_statement(Format::Spdx23), &f.sbom),
        &f.sbom,
        |v| v["subject"][0]["digest"]["rootfsSha256"] = json!("b".repeat(64)),
    );
    let sbom = f.write("other-image-sbom.json", other);
    let trust = f.trust(&f.policy_text(
        "required_predicates = [\"https://slsa.dev/provenance/v1\", \"https://spdx.dev/Document/v2.3\"]",
    ));
    let o = f.check_with(&[prov, sbom], &trust, f.now);
    let req: Vec<_> = o.findings.iter().filter(|x| x.check == REQ).collect();
    assert_eq!(
        summary(&req),
        sorted(vec![
            s(REQ, Status::Fail, "missing-attestation"),
            s(REQ, Status::Pass, "attested")
        ])
    );
    let missing = req.iter().find(|x| x.status == Status::Fail).unwrap();
    assert!(missing.reason.contains("https://spdx.dev/Document/v2.3"));
    assert_eq!(missing.subject.kind, verify::report::SubjectKind::Image);
    assert_eq!(missing.subject.name, f.inv.source.location);
}

#[test]
fn package_provenance_counts_for_packages_and_never_for_the_image() {
    let f = Fixture::new();
    let mut lines: Vec<String> = f.package_envelopes();
    let policy = "required_predicates = [\"https://slsa.dev/provenance/v1\"]\n\
                  required_package_predicates = [\"https://slsa.dev/provenance/v1\"]";
    let trust = f.trust(&f.policy_text(policy));
    let req = |o: &verify::attestation::Outcome| -> Vec<(String, Status, String, String)> {
        let mut v: Vec<_> = o
            .findings
            .iter()
            .filter(|x| x.check == REQ)
            .map(|x| {
                (
                    x.subject.name.clone(),
                    x.status,
                    x.kind.clone(),
                    x.reason.clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };

    // Every package attested, no image provenance: the packages pass, the image fails.
    let all = f.write("all.intoto.jsonl", lines.join("\n"));
    let o = f.check_with(std::slice::from_ref(&all), &trust, f.now);
    let got = req(&o);
    assert_eq!(got.len(), 2, "{got:?}");
    let image = got.iter().find(|x| x.0 == f.inv.source.location).unwrap();
    assert_eq!(
        (image.1, image.2.as_str()),
        (Status::Fail, "missing-attestation")
    );
    let pkgs = got
        .iter()
        .find(|x| x.2 == "attested")
        .expect("one pass for all packages");
    assert!(pkgs.3.contains(&format!(
        "every installed package ({})",
        f.inv.packages.len()
    )));

    // With image provenance too, and one package's statement re-signed by a stranger and
    // another's changed to a different header: exactly those two packages fail.
    let stranger = f.envelope(&f.package_statements()[0], &f.stranger);
    lines[0] = stranger;
    lines[1] = resign(&lines[1], &f.prov, |v| {
        v["subject"][0]["digest"]["rpmHeaderSha256"] = json!("c".repeat(64))
    });
    let some = f.write("some.intoto.jsonl", lines.join("\n"));
    let prov = f.write("image.json", f.envelope(&f.image_statement(), &f.prov));
    let o = f.check_with(&[some, prov], &trust, f.now);
    let got = req(&o);
    let failed: Vec<&str> = got
        .iter()
        .filter(|x| x.1 == Status::Fail)
        .map(|x| x.0.as_str())
        .collect();
    let mut want = vec![f.inv.packages[0].nevra(), f.inv.packages[1].nevra()];
    want.sort();
    assert_eq!(failed, want, "{got:?}");
    assert!(got
        .iter()
        .filter(|x| x.1 == Status::Fail)
        .all(|x| x.2 == "missing-package-attestation"));
    assert!(got
        .iter()
        .any(|x| x.0 == f.inv.source.location && x.1 == Status::Pass && x.2 == "attested"));
}

#[test]
fn image_digests_the_check_can_and_cannot_compare() {
    let f = Fixture::new();
    let manifest = format!("sha256:{}", "c".repeat(64));
    let oci = resign(&f.envelope(&f.image_statement(), &f.prov), &f.prov, |v| {
        v["subject"][0]["digest"] = json!({"sha256": "c".repeat(64)})
    });
    let p = f.write("oci.json", oci);
    let trust = f.trust(&f.policy_text(""));
    let facts = ImageFacts {
        inventory: &f.inv,
        rootfs_digest: None,
        manifest_digest: Some(manifest),
    };
    let o = attestation::check(std::slice::from_ref(&p), &facts, &trust, f.now).unwrap();
    assert_eq!(summary(&about(&o, "oci.json")), provenance_passes());
    // No digest to compare with: fails, never passes by omission.
    let bare = ImageFacts {
        inventory: &f.inv,
        rootfs_digest: None,
        manifest_digest: None,
    };
    let o = attestation::check(&[p], &bare, &trust, f.now).unwrap();
    assert_eq!(
        summary(&about(&o, "oci.json")),
        passes_but(SUBJ, Status::Fail, "uncheckable-subject")
    );
}

#[test]
fn inputs_that_are_not_attestations() {
    let f = Fixture::new();
    let st = f.image_statement();
    let other_type = Envelope::sign_one("text/plain", st.to_payload().unwrap(), &f.prov).unwrap();
    let mut vuln = st.clone();
    vuln.predicate_type = "https://cosign.sigstore.dev/attestation/vuln/v1".into();
    let msg_bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": f.prov.public_key().key_id()}, "tlogEntries": []},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": attest::dsse::b64(&[7u8; 32])},
            "signature": attest::dsse::b64(b"sig")
        }
    });
    let files = [
        f.write("type.json", other_type.to_json_line()),
        f.write("vuln.json", f.envelope(&vuln, &f.prov)),
        f.write("message.sigstore.json", msg_bundle.to_string()),
        f.write("garbage.bin", b"\x00\x01 not json"),
        f.write("pretty-broken.json", "{\n  \"payload\": \"e30\",\n"),
        f.write(
            "first-line-bad.jsonl",
            format!(
                "not json\n{}\n",
                f.envelope(&f.package_statements()[0], &f.prov)
            ),
        ),
        f.write("extra-field.json", {
            let mut v: serde_json::Value = serde_json::from_str(&f.envelope(&st, &f.prov)).unwrap();
            v["unsigned"] = json!("ignored?");
            v.to_string()
        }),
    ];
    let o = f.check(&files);
    let one = |name: &str| summary(&about(&o, name));
    assert_eq!(
        one("type.json"),
        [s(SIG, Status::Fail, "wrong-payload-type")]
    );
    assert_eq!(
        one("vuln.json"),
        [s(SIG, Status::Fail, "unknown-predicate")]
    );
    assert_eq!(
        one("message.sigstore.json"),
        [s(SIG, Status::Error, "not-an-attestation")]
    );
    assert_eq!(
        one("garbage.bin"),
        [s(SIG, Status::Error, "malformed-envelope")]
    );
    assert_eq!(
        one("pretty-broken.json"),
        [s(SIG, Status::Error, "malformed-envelope")]
    );
    assert_eq!(
        one("first-line-bad.jsonl:1"),
        [s(SIG, Status::Error, "malformed-envelope")]
    );
    assert_eq!(one("first-line-bad.jsonl:2"), provenance_passes());
    assert_eq!(
        one("extra-field.json"),
        [s(SIG, Status::Error, "malformed-envelope")]
    );
    // A (sparse) file over the limit is a finding, and is not read.
    let huge = f.path("huge.jsonl");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(attestation::MAX_ATTESTATION_FILE + 1)
        .unwrap();
    let o = f.check(&[huge]);
    assert_eq!(
        summary(&about(&o, "huge.jsonl")),
        [s(SIG, Status::Error, "too-large")]
    );
    // A path that does not exist is the caller's error, not a finding.
    let missing = f.path("nope.json");
    match attestation::check(&[missing], &f.facts(), &f.trust(&f.policy_text("")), f.now) {
        Err(AttestationError::Read { path, .. }) => assert!(path.ends_with("nope.json")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn trust_material_that_is_not_what_it_claims_is_an_error() {
    let f = Fixture::new();
    f.write("empty.pub", "");
    f.write("not-a-cert.pem", f.prov.public_key().to_pem());
    let ca = f.ca("ca-inter", true);
    std::fs::copy(ca.join("intermediate.pem"), f.path("only-intermediate.pem")).unwrap();
    for (text, what) in [
        ("[keys]\nprovenance = [\"empty.pub\"]\n", "empty.pub"),
        ("[roots]\nsbom = [\"not-a-cert.pem\"]\n", "not-a-cert.pem"),
        (
            "[roots]\nprovenance = [\"only-intermediate.pem\"]\n",
            "only-intermediate.pem",
        ),
    ] {
        let e = verify::attestation::Trust::from_policy(&f.policy(text)).unwrap_err();
        assert!(e.to_string().contains(what), "{e}");
    }
}

use attest::dsse::Envelope;

#[test]
fn every_truncation_and_byte_change_of_an_envelope_fails_without_panicking() {
    let f = Fixture::new();
    let trust = f.trust(&f.policy_text(""));
    let line = f.envelope(&f.package_statements()[0], &f.prov);
    let bytes = line.as_bytes();
    // Changing the keyid changes only the hint: the signature still verifies.
    let hint = f.prov.public_key().key_id();
    let at = line.find(&hint).unwrap();
    let in_hint = |i: usize| (at..at + hint.len()).contains(&i);
    let signature_passes = |tag: String, b: &[u8]| {
        let path = f.write(&tag, b);
        let o = f.check_with(std::slice::from_ref(&path), &trust, f.now);
        o.findings
            .iter()
            .any(|x| x.check == SIG && x.status == Status::Pass)
    };
    use rayon::prelude::*;
    (0..bytes.len()).into_par_iter().for_each(|n| {
        assert!(
            !signature_passes(format!("t{n}"), &bytes[..n]),
            "truncated to {n}"
        );
    });
    (0..bytes.len())
        .into_par_iter()
        .filter(|i| !in_hint(*i))
        .for_each(|i| {
            let mut b = bytes.to_vec();
            b[i] ^= 0x04;
            let passes = signature_passes(format!("c{i}"), &b);
            assert!(!passes, "byte {i} ({:?}) changed", bytes[i] as char);
        });
}
