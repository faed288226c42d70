//! The whole chain of `scripts/chain.sh` (sbom -> attest -> `verify image`), built in-process
//! over the committed sample image, then tampered with one link at a time. The untouched chain
//! is trusted with no finding other than a pass; each change must make the real `verify image`
//! binary exit 1 with the finding that names *that* change (check, kind and subject). Where a
//! change could also be caught for an incidental reason, the case is built so that it cannot
//! be, or asserts the incidental finding absent, or shows the same input passing without it.
//!
//! attest runs through its library CLI (`attest::cli`), so no attest or sbom binary is needed.
//! Times are fixed: statements carry 2025-01-01 (`SOURCE_DATE_EPOCH`, `--started-on`,
//! `--finished-on`), the layout a fixed `expires`, and verify judges at `--time` 2025-01-02.
//! The one exception is the certificate case: `attest ca` stamps certificates with the
//! current time, so that case judges at the time its certificates were made.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use clap::Parser;
use sbom::rpm::header::Header;
use serde_json::Value;

/// 2025-01-01T00:00:00Z: the sample's build time, and every statement's time.
const EPOCH: &str = "1735689600";
/// When verify judges ages and expiry: a day after the build.
const CHECK_TIME: &str = "2025-01-02T00:00:00Z";
const EXPIRES: &str = "2035-01-01T00:00:00Z";
const BUILDER: &str = "https://example.invalid/fedora-attest/builders/sample-ci";
/// The attestations chain.sh presents, in its order.
const PROV: &str = "provenance.sigstore.json";
const PKGS: &str = "packages.intoto.jsonl";
const SBOM: &str = "sbom.sigstore.json";
const RPMDB: &str = "rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite";
const BASH: &str = "bash-5.2.37-3.azl4.x86_64";

// ---- building the chain ----------------------------------------------------------------

/// A file chain.sh writes with a here-document (`cat >"$W/NAME" <<'EOF'`), read from the
/// script itself so that this chain stays the script's.
fn chain_sh_file(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/chain.sh");
    let script = std::fs::read_to_string(path).unwrap();
    let open = format!("cat >\"$W/{name}\" <<'EOF'\n");
    let from = script.find(&open).expect("chain.sh writes it") + open.len();
    let len = script[from..].find("\nEOF\n").expect("here-document ends") + 1;
    script[from..from + len].to_owned()
}

/// chain.sh's layout description, expiring at `expires` instead of in 365 days (which would
/// count from the clock).
fn layout_toml(expires: &str) -> String {
    let text = chain_sh_file("chain.toml");
    let relative = "expires_in_days = 365";
    assert!(text.contains(relative), "chain.sh's layout changed: {text}");
    text.replace(relative, &format!("expires = \"{expires}\""))
}

/// Runs one attest command in-process, written as its command line: words split on spaces,
/// a word starting with `@` is a path in the work tree `w`. A failure fails the test with
/// attest's message.
fn attest(w: &Path, line: &str) {
    let args = line.split_whitespace().map(|a| match a.strip_prefix('@') {
        Some(rel) => s(&w.join(rel)),
        None => a.to_owned(),
    });
    let cli = attest::cli::Cli::try_parse_from(std::iter::once("attest".into()).chain(args))
        .unwrap_or_else(|e| panic!("attest {line}: {e}"));
    if let Err(f) = attest::cli::run(cli) {
        panic!("attest {line}: exit {}: {}", f.code, f.message);
    }
}

fn s(p: &Path) -> String {
    p.to_str().expect("temporary paths are UTF-8").to_owned()
}

use common::cp_a;

/// `attest provenance` of `image` as chain.sh runs it, with fixed times; `opts` are further
/// options (`--key` required; `--builder-id` defaults to the allowed builder).
fn provenance(w: &Path, image: &str, out: &str, opts: &str) {
    let mut line = format!(
        "provenance @{image} --recipe @recipe.toml --repo @repo --invocation-id chain.sh \
         --started-on {EPOCH} --finished-on {EPOCH} {opts} -o @{out}"
    );
    if !opts.contains("--builder-id") {
        line += &format!(" --builder-id {BUILDER}");
    }
    attest(w, &line);
}

/// `attest sbom` of the work tree's rootfs, signed by the sbomer (time: SOURCE_DATE_EPOCH).
fn sbom_attestation(w: &Path) {
    attest(
        w,
        "sbom @rootfs --format spdx-json --key @keys/sbomer.key -o @sbom.sigstore.json",
    );
}

fn layout(w: &Path, desc: &str, out: &str) {
    attest(
        w,
        &format!("layout @{desc} --key @keys/owner.key -o @{out}"),
    );
}

/// Builds the chain of scripts/chain.sh in `w` (which must not exist yet).
fn build_chain(w: &Path) {
    std::fs::create_dir_all(w.join("keys")).unwrap();
    std::fs::create_dir_all(w.join("links")).unwrap();
    let sample = std::fs::canonicalize(common::sample_dir()).unwrap();
    cp_a(&sample.join("repo"), &w.join("repo"));
    cp_a(&sample.join("rootfs"), &w.join("rootfs"));
    std::fs::copy(sample.join("../recipes/sample.toml"), w.join("recipe.toml")).unwrap();
    let keys = "owner:ecdsa-p256 packager:ed25519 overlayer:ecdsa-p256 composer:rsa \
                sbomer:ed25519 releaser:ecdsa-p256 builder:ecdsa-p256";
    for (role, kind) in keys.split_whitespace().filter_map(|k| k.split_once(':')) {
        attest(w, &format!("keygen --type {kind} -o @keys/{role}.key"));
    }

    // The SBOM product, as `sbom ROOTFS -f spdx-json` writes it.
    let inv = sbom::scan::scan_root(&w.join("rootfs")).unwrap();
    let info = sbom::format::DocumentInfo {
        created: EPOCH.parse().unwrap(),
        tool_name: "sbom".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        include_files: true,
    };
    let mut doc = Vec::new();
    sbom::format::write(sbom::format::Format::Spdx23, &inv, &info, &mut doc).unwrap();
    std::fs::write(w.join("sample.spdx.json"), doc).unwrap();

    provenance(w, "rootfs", PROV, "--key @keys/builder.key");
    attest(
        w,
        &format!(
            "packages @rootfs --key @keys/builder.key --repo @repo --builder-id {BUILDER} \
             --started-on {EPOCH} --finished-on {EPOCH} -o @{PKGS}"
        ),
    );
    sbom_attestation(w);

    std::fs::write(w.join("chain.toml"), layout_toml(EXPIRES)).unwrap();
    layout(w, "chain.toml", "root.layout");
    // As chain.sh runs them from the work tree: artifacts relative to it.
    for step in [
        "fedora-packages --key @keys/packager.key --products repo",
        "overlays --key @keys/overlayer.key --materials recipe.toml \
         --products rootfs/etc/motd.d/azl rootfs/etc/sample-overlay.conf",
        "compose --key @keys/composer.key --materials repo recipe.toml --products rootfs \
         -- compose recipe.toml",
        "sbom --key @keys/sbomer.key --materials rootfs --products sample.spdx.json",
        "release --key @keys/releaser.key --materials sample.spdx.json \
         provenance.sigstore.json packages.intoto.jsonl sbom.sigstore.json",
    ] {
        attest(w, &format!("link --base-dir @ -o @links {step}"));
    }
    let policy = chain_sh_file("policy.toml").replace("@SAMPLE@", &s(&sample));
    std::fs::write(w.join("policy.toml"), policy).unwrap();
}

/// The link file of a step (`<step>.<keyid8>.link`).
fn find_link(w: &Path, step: &str) -> PathBuf {
    let files = std::fs::read_dir(w.join("links")).unwrap();
    let mut found = files.map(|e| e.unwrap().path()).filter(|p| {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        n.starts_with(&format!("{step}.")) && n.ends_with(".link")
    });
    found
        .next()
        .unwrap_or_else(|| panic!("no link for step {step}"))
}

/// The untouched chain, built once per test run. Statics are never dropped, so it lives in
/// cargo's per-target scratch directory rather than /tmp; trees of runs more than an hour
/// old are removed first (a concurrent run's tree is younger).
fn baseline() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        // `attest sbom` takes its document time only from SOURCE_DATE_EPOCH. Set once, always
        // to the same value, while every other test waits on this OnceLock; std reads and
        // writes the environment under one lock.
        std::env::set_var("SOURCE_DATE_EPOCH", EPOCH);
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let hour = std::time::Duration::from_secs(3600);
        for e in std::fs::read_dir(scratch).into_iter().flatten().flatten() {
            let age = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok()?.elapsed().ok());
            let ours = e.file_name().to_string_lossy().starts_with("chain-tamper-");
            if ours && age.is_some_and(|a| a > hour) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("chain-tamper-")
            .tempdir_in(scratch);
        let w = dir.unwrap().keep().join("w");
        build_chain(&w);
        w
    })
}

/// A private copy of the baseline to tamper with (removed when the test ends).
struct Work {
    _dir: tempfile::TempDir,
    w: PathBuf,
}

fn work() -> Work {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    cp_a(baseline(), &w);
    Work { _dir: dir, w }
}

// ---- running verify ----------------------------------------------------------------------

/// A non-pass finding; subjects inside the work tree are named relative to it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Problem {
    /// `check kind`
    what: String,
    subject: String,
    reason: String,
}

struct Run {
    code: Option<i32>,
    report: Value,
    problems: Vec<Problem>,
}

/// What `verify image` is given; the defaults are chain.sh's arguments.
struct Args<'a> {
    attestations: [&'a str; 3],
    layout: &'a str,
    policy: &'a str,
    time: String,
    /// `--layout-param` values.
    params: &'a [&'a str],
}

impl Default for Args<'_> {
    fn default() -> Self {
        Args {
            attestations: [PROV, PKGS, SBOM],
            layout: "root.layout",
            policy: "policy.toml",
            time: CHECK_TIME.into(),
            params: &[],
        }
    }
}

/// chain.sh's arguments with `provenance` in place of its image provenance.
fn with_provenance(provenance: &str) -> Args<'_> {
    Args {
        attestations: [provenance, PKGS, SBOM],
        ..Args::default()
    }
}

fn verify_with(w: &Path, a: &Args) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verify"));
    cmd.arg("image").arg(w.join("rootfs"));
    cmd.arg("--policy").arg(w.join(a.policy));
    for f in a.attestations {
        cmd.arg("--attestation").arg(w.join(f));
    }
    cmd.arg("--layout").arg(w.join(a.layout));
    cmd.arg("--links").arg(w.join("links"));
    for p in a.params {
        cmd.arg("--layout-param").arg(p);
    }
    let out = cmd.args(["--time", &a.time, "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        let (o, e2) = (&out.stdout, &out.stderr);
        let (o, e2) = (String::from_utf8_lossy(o), String::from_utf8_lossy(e2));
        panic!("{e}: stdout {o}, stderr {e2}")
    });
    let prefix = format!("{}/", s(w));
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let findings = report["findings"].as_array().unwrap().iter();
    let mut problems: Vec<Problem> = findings
        .filter(|f| f["status"] != "pass")
        .map(|f| {
            let name = text(&f["subject"]["name"]);
            Problem {
                what: format!("{} {}", text(&f["check"]), text(&f["kind"])),
                subject: name.strip_prefix(&prefix).unwrap_or(&name).to_owned(),
                reason: text(&f["reason"]),
            }
        })
        .collect();
    problems.sort();
    let code = out.status.code();
    Run {
        code,
        report,
        problems,
    }
}

fn verify(w: &Path) -> Run {
    verify_with(w, &Args::default())
}

fn listing(run: &Run) -> String {
    let line = |p: &Problem| format!("  {} {}: {}\n", p.what, p.subject, p.reason);
    run.problems.iter().map(line).collect()
}

/// Exit 1, and each `"check kind subject"` is among the non-pass findings.
fn assert_fails(run: &Run, expected: &[&str]) {
    let all = listing(run);
    assert_eq!(run.code, Some(1), "not trusted expected; findings:\n{all}");
    for e in expected {
        let mut parts = e.splitn(3, ' ');
        let what = format!("{} {}", parts.next().unwrap(), parts.next().unwrap());
        let subject = parts.next().unwrap();
        let hit = run
            .problems
            .iter()
            .any(|p| p.what == what && p.subject == subject);
        assert!(hit, "expected {e}; findings:\n{all}");
    }
}

/// No non-pass finding `"check kind"` (an incidental one would blur the case).
fn assert_absent(run: &Run, what: &str) {
    let found = run.problems.iter().any(|p| p.what == what);
    assert!(!found, "unexpected {what}; findings:\n{}", listing(run));
}

/// `"check kind"` of every non-pass finding about one subject.
fn about<'r>(run: &'r Run, subject: &str) -> Vec<&'r str> {
    let f = run.problems.iter().filter(|p| p.subject == subject);
    f.map(|p| p.what.as_str()).collect()
}

fn reason_of<'r>(run: &'r Run, what: &str) -> &'r str {
    let p = run.problems.iter().find(|p| p.what == what);
    &p.unwrap_or_else(|| panic!("no {what}")).reason
}

// ---- tampering helpers -------------------------------------------------------------------

/// The row number and header blob of package `name`.
fn package_row(conn: &rusqlite::Connection, name: &str) -> (i64, Vec<u8>) {
    let mut q = conn.prepare("SELECT hnum, blob FROM Packages").unwrap();
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let found = rows.map(Result::unwrap).find(|(_, b): &(i64, Vec<u8>)| {
        let h = Header::parse(b).unwrap();
        h.string(sbom::rpm::tags::NAME).unwrap().as_deref() == Some(name)
    });
    found.unwrap_or_else(|| panic!("no package {name}"))
}

/// Flips one bit of package `name`'s header blob in the work tree's rpmdb.sqlite, at the
/// offset `pick` returns (given the parsed header and the offset of its data store).
fn flip_header_bit(w: &Path, name: &str, pick: impl Fn(&Header, usize) -> usize) {
    let conn = rusqlite::Connection::open(w.join(RPMDB)).unwrap();
    let (hnum, mut blob) = package_row(&conn, name);
    let at = {
        let h = Header::parse(&blob).unwrap();
        let il = u32::from_be_bytes(blob[..4].try_into().unwrap()) as usize;
        pick(&h, 8 + 16 * il)
    };
    blob[at] ^= 0x01;
    let sql = "UPDATE Packages SET blob = ?1 WHERE hnum = ?2";
    conn.execute(sql, rusqlite::params![blob, hnum]).unwrap();
    close(w, conn);
}

/// Closes the database, which checkpoints its write-ahead log into the file: verify reads
/// rpmdb.sqlite immutable, without a WAL, as it is at rest.
fn close(w: &Path, conn: rusqlite::Connection) {
    conn.close().unwrap();
    let wal = w.join(format!("{RPMDB}-wal"));
    assert!(!wal.exists(), "{} left behind", wal.display());
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn b64d(v: &Value) -> Vec<u8> {
    attest::dsse::b64_decode_lenient(v.as_str().unwrap()).unwrap()
}

/// The statement inside the work tree's image provenance bundle.
fn provenance_statement(w: &Path) -> Value {
    let bundle = read_json(&w.join(PROV));
    serde_json::from_slice(&b64d(&bundle["dsseEnvelope"]["payload"])).unwrap()
}

// ---- the cases ---------------------------------------------------------------------------

#[test]
fn untouched_chain_is_trusted_with_every_check_passing() {
    let t = work();
    let run = verify(&t.w);
    assert_eq!(run.code, Some(0), "findings:\n{}", listing(&run));
    assert!(run.problems.is_empty(), "{}", listing(&run));
    assert_eq!(run.report["trusted"], true);
    let findings = run.report["findings"].as_array().unwrap();
    // Not trusted by omission: every family of checks ran and passed.
    let ran: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    let expected = "rpm.signature rpm.header-digest files.drift files.unowned policy.package \
                    attestation.signature attestation.subject attestation.provenance \
                    attestation.age attestation.sbom attestation.required intoto.layout \
                    intoto.link intoto.rules";
    for c in expected.split_whitespace() {
        assert!(ran.contains(c), "no {c} finding");
    }
    // The overlays pass because the verified provenance names them with their digests.
    let azl = findings
        .iter()
        .find(|f| f["subject"]["name"] == "/etc/motd.d/azl");
    assert!(azl.is_some_and(|f| f["status"] == "pass"), "{azl:?}");
}

#[test]
fn header_byte_in_the_signed_region() {
    let t = work();
    // One bit of bash's SUMMARY: inside the immutable region, name and version unchanged.
    flip_header_bit(&t.w, "bash", |h, data| {
        let e = h.entry(sbom::rpm::tags::SUMMARY).unwrap();
        assert!(e.offset < h.region().unwrap().rdl, "SUMMARY is signed");
        data + e.offset
    });
    let run = verify(&t.w);
    assert_fails(
        &run,
        &[
            &format!("rpm.signature bad-signature {BASH}"),
            &format!("rpm.header-digest digest-mismatch {BASH}"),
            // The image and package provenance recorded bash's header digest: no longer.
            &format!("attestation.provenance dependencies-mismatch {PROV}"),
            "attestation.subject subject-mismatch packages.intoto.jsonl:2",
        ],
    );
    let dep = reason_of(&run, "attestation.provenance dependencies-mismatch");
    assert!(dep.contains(BASH), "{dep}");
    // Only bash's header is wrong.
    let mut rpm = run.problems.iter().filter(|p| p.what.starts_with("rpm."));
    assert!(rpm.all(|p| p.subject == BASH), "{}", listing(&run));
}

#[test]
fn signature_byte_in_rsaheader() {
    let t = work();
    // The last byte of bash's RSAHEADER packet, in the RSA signature MPI. Installed headers
    // keep the signature tags after the immutable region, so the header digest still holds.
    flip_header_bit(&t.w, "bash", |h, data| {
        let e = h
            .entry(sbom::rpm::tags::RSAHEADER)
            .expect("bash is RSA-signed");
        assert!(
            e.offset >= h.region().unwrap().rdl,
            "the signature is not signed"
        );
        data + e.offset + e.len - 1
    });
    let run = verify(&t.w);
    assert_fails(&run, &[&format!("rpm.signature bad-signature {BASH}")]);
    assert_absent(&run, "rpm.header-digest digest-mismatch");
    // The signed header is unchanged: the statements naming its digest still hold.
    assert_absent(&run, "attestation.provenance dependencies-mismatch");
    let per_package = run.problems.iter().filter(|p| p.subject.starts_with(PKGS));
    assert_eq!(per_package.count(), 0, "{}", listing(&run));
}

#[test]
fn packaged_file_content_changed() {
    let t = work();
    let f = t.w.join("rootfs/usr/bin/sample-tool");
    let mut bytes = std::fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&f, bytes).unwrap();
    let run = verify(&t.w);
    assert_fails(
        &run,
        &[
            "files.drift modified /usr/bin/sample-tool",
            // The image is no longer the one the provenance and SBOM are about.
            &format!("attestation.subject subject-mismatch {PROV}"),
            &format!("attestation.subject subject-mismatch {SBOM}"),
        ],
    );
    let drift = reason_of(&run, "files.drift modified");
    assert!(drift.ends_with("digest"), "{drift}");
    assert!(!run.problems.iter().any(|p| p.what.starts_with("rpm.")));
}

#[test]
fn packaged_file_mode_changed() {
    use std::os::unix::fs::PermissionsExt;
    let t = work();
    let f = t.w.join("rootfs/usr/bin/sample-tool");
    let mode = std::fs::metadata(&f).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let run = verify(&t.w);
    assert_fails(&run, &["files.drift modified /usr/bin/sample-tool"]);
    let drift = reason_of(&run, "files.drift modified");
    assert!(drift.ends_with("mode"), "only the mode differs: {drift}");
}

#[test]
fn file_added_to_the_image() {
    let t = work();
    std::fs::write(t.w.join("rootfs/usr/bin/backdoor"), b"#!/bin/sh\n").unwrap();
    let run = verify(&t.w);
    assert_fails(&run, &["files.unowned unowned-file /usr/bin/backdoor"]);
    assert_absent(&run, "files.drift modified");
}

#[test]
fn package_removed_from_the_database() {
    let t = work();
    let conn = rusqlite::Connection::open(t.w.join(RPMDB)).unwrap();
    let (hnum, _) = package_row(&conn, "sample-tools");
    // As `rpm -e --justdb` would: the index rows first (they reference the row), then it.
    let sql = "SELECT name FROM sqlite_master \
               WHERE type = 'table' AND name != 'Packages' AND name NOT LIKE 'sqlite%'";
    let mut q = conn.prepare(sql).unwrap();
    let tables = q.query_map([], |r| r.get::<_, String>(0)).unwrap();
    for table in tables.map(Result::unwrap) {
        let sql = format!("DELETE FROM \"{table}\" WHERE hnum = ?1");
        conn.execute(&sql, [hnum]).unwrap();
    }
    let n = conn.execute("DELETE FROM Packages WHERE hnum = ?1", [hnum]);
    assert_eq!(n.unwrap(), 1);
    drop(q);
    close(&t.w, conn);
    let run = verify(&t.w);
    assert_fails(
        &run,
        &[
            &format!("attestation.provenance dependencies-mismatch {PROV}"),
            &format!("attestation.sbom packages-mismatch {SBOM}"),
            // Its own statement names a package that is not installed.
            "attestation.subject unknown-package packages.intoto.jsonl:7",
            // Its files are owned by no package now.
            "files.unowned unowned-file /usr/bin/sample-tool",
        ],
    );
    let dep = reason_of(&run, "attestation.provenance dependencies-mismatch");
    assert!(dep.contains("sample-tools"), "{dep}");
}

#[test]
fn statement_subject_digest_edited_in_the_payload() {
    let t = work();
    let path = t.w.join(PROV);
    let mut bundle = read_json(&path);
    let mut st = provenance_statement(&t.w);
    let d = st["subject"][0]["digest"]["rootfsSha256"].as_str().unwrap();
    let other = format!("{}{}", if d.starts_with('0') { "1" } else { "0" }, &d[1..]);
    st["subject"][0]["digest"]["rootfsSha256"] = other.into();
    let payload = attest::dsse::b64(&serde_json::to_vec(&st).unwrap());
    bundle["dsseEnvelope"]["payload"] = payload.into();
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let run = verify(&t.w);
    // A statement whose signature fails says nothing else, and vouches for no overlay.
    assert_eq!(about(&run, PROV), ["attestation.signature bad-signature"]);
    assert_fails(&run, &["files.unowned unowned-file /etc/motd.d/azl"]);
}

#[test]
fn statement_correctly_signed_about_another_image() {
    let t = work();
    // The same build with one more file: a different image, honestly attested.
    cp_a(&t.w.join("rootfs"), &t.w.join("rootfs-other"));
    std::fs::write(t.w.join("rootfs-other/etc/extra.conf"), b"x\n").unwrap();
    provenance(
        &t.w,
        "rootfs-other",
        "other.json",
        "--key @keys/builder.key",
    );
    let run = verify_with(&t.w, &with_provenance("other.json"));
    assert_fails(&run, &["attestation.subject subject-mismatch other.json"]);
    assert_eq!(
        about(&run, "other.json"),
        ["attestation.subject subject-mismatch"]
    );
}

#[test]
fn predicate_builder_not_allowed_though_properly_signed() {
    let t = work();
    let opts = "--key @keys/builder.key --builder-id https://evil.invalid/builder";
    provenance(&t.w, "rootfs", "evil.json", opts);
    let run = verify_with(&t.w, &with_provenance("evil.json"));
    assert_fails(
        &run,
        &["attestation.provenance untrusted-builder evil.json"],
    );
    // Signature, subject and age hold: the builder is the only objection to it.
    assert_eq!(
        about(&run, "evil.json"),
        ["attestation.provenance untrusted-builder"]
    );
}

#[test]
fn envelope_payload_byte_changed() {
    let t = work();
    // One payload bit of the second package statement (XOR 1 keeps it ASCII).
    let path = t.w.join(PKGS);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut env: Value = serde_json::from_str(&lines[1]).unwrap();
    let mut payload = b64d(&env["payload"]);
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let package = statement["subject"][0]["name"].as_str().unwrap();
    let nevra = package.strip_suffix(".rpm").unwrap().to_owned();
    let mid = payload.len() / 2;
    payload[mid] ^= 0x01;
    env["payload"] = attest::dsse::b64(&payload).into();
    lines[1] = serde_json::to_string(&env).unwrap();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let run = verify(&t.w);
    // The policy requires provenance for every package: that package now has none.
    let missing = format!("attestation.required missing-package-attestation {nevra}");
    assert_fails(
        &run,
        &[
            "attestation.signature bad-signature packages.intoto.jsonl:2",
            &missing,
        ],
    );
    // That line alone: the other lines and the image are untouched.
    assert_eq!(run.problems.len(), 2, "{}", listing(&run));
}

#[test]
fn certificate_from_an_untrusted_ca() {
    let t = work();
    let w = &t.w;
    // attest ca stamps certificates with the current time (valid from 5 minutes before):
    // this case judges at the time they were made. Both CAs have the same name, so only
    // the signature on the leaf tells them apart.
    let made = attest::cli::now_secs();
    for ca in ["ca-trusted", "ca-rogue"] {
        attest(w, &format!("ca init @{ca}"));
        attest(
            w,
            &format!(
                "ca issue @{ca} --public-key @keys/builder.key.pub \
                 --identity uri:https://example.invalid/builders/sample-ci -o @{ca}.pem"
            ),
        );
        let opts = format!("--key @keys/builder.key --cert @{ca}.pem");
        provenance(w, "rootfs", &format!("{ca}.json"), &opts);
    }
    let policy = std::fs::read_to_string(w.join("policy.toml")).unwrap();
    let roots = "\n[roots]\nprovenance = [\"ca-trusted/root.pem\"]\n";
    std::fs::write(w.join("policy-ca.toml"), policy + roots).unwrap();
    let args = |bundle| Args {
        policy: "policy-ca.toml",
        time: (made + 60).to_string(),
        ..with_provenance(bundle)
    };
    // Control: the same statement certified by the trusted CA passes; the CA is the difference.
    let ok = verify_with(w, &args("ca-trusted.json"));
    assert_eq!(ok.code, Some(0), "findings:\n{}", listing(&ok));
    let run = verify_with(w, &args("ca-rogue.json"));
    let kind = "attestation.signature untrusted-certificate";
    assert_fails(&run, &[&format!("{kind} ca-rogue.json")]);
    assert_eq!(about(&run, "ca-rogue.json"), [kind]);
}

#[test]
fn expired_layout() {
    let t = work();
    let expired = layout_toml("2025-01-01T12:00:00Z");
    std::fs::write(t.w.join("expired.toml"), expired).unwrap();
    layout(&t.w, "expired.toml", "expired.layout");
    let at = |time: &str| Args {
        layout: "expired.layout",
        time: time.into(),
        ..Args::default()
    };
    let run = verify_with(&t.w, &at(CHECK_TIME));
    assert_fails(&run, &["intoto.layout expired expired.layout"]);
    // Expiry is the difference: six hours before `expires` the same layout passes.
    let earlier = verify_with(&t.w, &at("2025-01-01T06:00:00Z"));
    assert_eq!(earlier.code, Some(0), "findings:\n{}", listing(&earlier));
}

/// `--layout-param`: chain.sh's layout with the compose step's package directory written
/// as `{PKGDIR}` passes with the right value only.
#[test]
fn layout_parameters_on_the_command_line() {
    let t = work();
    let text = layout_toml(EXPIRES);
    let rule = r#"["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "fedora-packages"]"#;
    assert!(text.contains(rule), "chain.sh's layout changed: {text}");
    let param = text.replace(rule, &rule.replace("repo/*", "{PKGDIR}/*"));
    std::fs::write(t.w.join("param.toml"), param).unwrap();
    layout(&t.w, "param.toml", "param.layout");
    let with = |params| Args {
        layout: "param.layout",
        params,
        ..Args::default()
    };
    let run = verify_with(&t.w, &with(&["PKGDIR=repo"]));
    assert_eq!(run.code, Some(0), "findings:\n{}", listing(&run));
    // Without parameters `{PKGDIR}/*` is literal: it matches nothing, and the compose
    // step's DISALLOW catches the packages.
    let run = verify_with(&t.w, &with(&[]));
    assert_eq!(run.code, Some(1));
    assert_eq!(about(&run, "step:compose"), ["intoto.rules disallowed"]);
    // Parameters without PKGDIR: the layout cannot be substituted.
    let run = verify_with(&t.w, &with(&["OTHER=repo"]));
    assert_fails(&run, &["intoto.layout substitution param.layout"]);
    assert!(reason_of(&run, "intoto.layout substitution").contains("PKGDIR"));
    // A name in-toto would refuse, or one given twice: a usage error.
    for bad in [&["BAD NAME=x"][..], &["PKGDIR=repo", "PKGDIR=other"]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_verify"));
        cmd.arg("image").arg(t.w.join("rootfs"));
        cmd.arg("--policy").arg(t.w.join("policy.toml"));
        cmd.arg("--layout").arg(t.w.join("param.layout"));
        for p in bad {
            cmd.arg("--layout-param").arg(p);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--layout-param"), "{bad:?}: {err}");
    }
}

#[test]
fn missing_link() {
    let t = work();
    std::fs::remove_file(find_link(&t.w, "overlays")).unwrap();
    let run = verify(&t.w);
    assert_fails(&run, &["intoto.link missing-link step:overlays"]);
    // Nothing outside the layout is affected.
    let outside = run
        .problems
        .iter()
        .filter(|p| !p.what.starts_with("intoto."));
    assert_eq!(outside.count(), 0, "{}", listing(&run));
}

#[test]
fn provenance_signed_by_a_key_not_in_the_policy() {
    let t = work();
    attest(&t.w, "keygen --type ecdsa-p256 -o @keys/rogue.key");
    provenance(&t.w, "rootfs", "rogue.json", "--key @keys/rogue.key");
    let run = verify_with(&t.w, &with_provenance("rogue.json"));
    assert_fails(&run, &["attestation.signature unknown-key rogue.json"]);
    assert_eq!(
        about(&run, "rogue.json"),
        ["attestation.signature unknown-key"]
    );
}

#[test]
fn overlay_changed_after_attestation() {
    let t = work();
    let w = &t.w;
    let azl = w.join("rootfs/etc/motd.d/azl");
    std::fs::write(&azl, b"Welcome to a tampered image.\n").unwrap();
    // So that the overlay's digest is the only thing wrong, provenance and SBOM are issued
    // again for the changed image; the provenance still names the overlay with the digest
    // its builder placed (the builder re-signs it with the new image as subject).
    let mut st = provenance_statement(w);
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"].as_array();
    let dep = deps
        .unwrap()
        .iter()
        .find(|d| d["name"] == "/etc/motd.d/azl");
    let placed = dep.expect("the provenance names the overlay")["digest"]["sha256"].clone();
    let image = attest::rootfs::digest(&w.join("rootfs")).unwrap().sha256;
    st["subject"][0]["digest"]["rootfsSha256"] = image.into();
    let key = attest::keys::PrivateKey::load(&w.join("keys/builder.key")).unwrap();
    let payload = serde_json::to_vec(&st).unwrap();
    let env = attest::dsse::Envelope::sign_one(attest::dsse::INTOTO_PAYLOAD_TYPE, payload, &key);
    std::fs::write(w.join("provenance.dsse.json"), env.unwrap().to_json_line()).unwrap();
    sbom_attestation(w);
    let run = verify_with(w, &with_provenance("provenance.dsse.json"));
    assert_fails(&run, &["files.unowned unowned-file /etc/motd.d/azl"]);
    assert_eq!(
        run.problems.len(),
        1,
        "only the overlay fails:\n{}",
        listing(&run)
    );
    let now = attest::rootfs::hash_file(&azl).unwrap().0;
    assert_ne!(placed.as_str().unwrap(), now);
    assert!(
        run.problems[0].reason.contains(&now),
        "{}",
        run.problems[0].reason
    );
}
