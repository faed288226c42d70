#!/usr/bin/env python3
"""Test-image factory: turn a TOML compose recipe into an installed RPM root filesystem.

Uses the real tools end to end: rpmbuild builds the packages, rpmsign signs them with keys
generated for this run (RSA-4096 and/or Ed25519 in a throw-away GNUPGHOME), and rpm installs
them into OUT/rootfs with the Fedora database layout (/usr/lib/sysimage/rpm, sqlite).

  OUT/rootfs/         installed root (rpmdb.sqlite, package files, os-release, overlays)
  OUT/repo/           the signed .rpm files and the public keys (RPM-GPG-KEY-test-*)
  OUT/keys/           the public keys, armored (*.asc)
  OUT/specs/          the generated spec files (deterministic)
  OUT/manifest.json   what was built; written last, so its presence means the build completed

Examples:
  factory.py testdata/recipes/sample.toml --out testdata/sample --force
  factory.py --packages 2000 --files-per-package 100 --out target/bench-image
See README.md beside this file for the recipe format.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep testdata/factory free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))

import recipe as recipe_mod  # noqa: E402
import rpmtools  # noqa: E402
from recipe import Recipe, RecipeError  # noqa: E402
from rpmtools import DBPATH, FactoryError  # noqa: E402
from spec import SpecGroup, describe_file, group_packages, materialize, stage_group, write_spec  # noqa: E402

FACTORY_VERSION = 1
OUTPUTS = ("rootfs", "repo", "keys", "specs", "manifest.json", "oci", "image.oci.tar", "image.docker.tar")
FILE_LIST_LIMIT = 10000  # per-file records in the manifest only for images up to this many entries
NON_DETERMINISTIC = [
    "signing keys are generated per run (gpg cannot seed key generation), so fingerprints, "
    "key IDs and gpg-pubkey-* entries differ on every build",
    "signature packets embed their creation time, so signed .rpm sha256 values differ on every build "
    "(unsigned_sha256 is reproducible: SOURCE_DATE_EPOCH, fixed buildhost, clamped mtimes)",
    "the rpm database records INSTALLTIME/INSTALLTID and the page layout of rpmdb.sqlite varies",
    "files created by rpm -i get their header mtime; directories rpm creates implicitly "
    "and overlay/os-release files get their own mtimes (overlays are set to SOURCE_DATE_EPOCH)",
    "manifest.json 'timings' and 'tools'",
]


def log(msg: str):
    print(f"[factory] {msg}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_fingerprint(recipe_path: str | None, scale_override: dict) -> str:
    """Hash of everything that decides the output: recipe, CLI scale flags, factory sources."""
    h = hashlib.sha256(f"factory-v{FACTORY_VERSION}\n".encode())
    h.update(Path(recipe_path).read_bytes() if recipe_path else b"<built-in>")
    h.update(json.dumps(scale_override, sort_keys=True).encode())
    here = Path(__file__).resolve().parent
    for name in ("factory.py", "recipe.py", "spec.py", "rpmtools.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def is_complete(out: Path, fingerprint: str) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (manifest.get("complete") is True and manifest.get("input_fingerprint") == fingerprint
            and (out / "rootfs" / DBPATH.lstrip("/") / "rpmdb.sqlite").is_file())


def prepare_out(out: Path, force: bool):
    present = [name for name in OUTPUTS if (out / name).exists() or (out / name).is_symlink()]
    if present and not force:
        raise FactoryError(f"{out} already holds {present}; pass --force to replace them")
    for name in present:
        p = out / name
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for name in ("rootfs", "repo", "keys", "specs"):
        (out / name).mkdir(parents=True, exist_ok=True)
    (out / "rootfs").rmdir()  # rpmtools.create_root makes it


# ---------------------------------------------------------------- steps

def make_keys(r: Recipe, keyring: rpmtools.Keyring, out: Path) -> list[Path]:
    key_files = []
    for name in r.signing_keys:
        key = keyring.generate(name)
        (out / "repo" / key.filename).write_text(key.armored)
        path = out / "keys" / f"{key.filename}.asc"
        path.write_text(key.armored)
        key_files.append(path)
        log(f"key {name}: {key.fingerprint}")
    return key_files


def build_group(g: SpecGroup, r: Recipe, work: Path, out: Path, keys: dict[str, str]) -> Path:
    stage = work / "stage" / g.key
    stage_group(g, stage, keys, r.source_date_epoch)
    spec = out / "specs" / f"{g.key}.spec"
    spec.write_text(write_spec(g))
    topdir = work / "rpmbuild" / g.key
    env = {}
    if all(p.synthetic for p in g.packages):
        # rpmbuild classifies every file with libmagic (FILECLASS); with the full database that
        # is ~2 ms a file, most of the time of a 200,000-file build. Synthetic files are plain
        # text, which libmagic recognizes without any database entry, so give it a tiny one.
        magic = work / "factory.magic"
        if not magic.exists():
            magic.write_text("0\tstring\tFACTORY-TEST-DATA\tfactory test data\n")
        env["MAGIC"] = str(magic)
    rpmtools.rpmbuild(spec, topdir, g.target, stage=stage, sde=r.source_date_epoch, payload=r.payload,
                      file_digest=r.file_digest, buildhost=r.buildhost, log=work / f"rpmbuild-{g.key}.log",
                      env=env)
    return topdir


def build_packages(r: Recipe, groups: list[SpecGroup], work: Path, out: Path, keys: dict[str, str],
                   jobs: int) -> dict[str, Path]:
    """rpmbuild every group (in parallel), move the .rpm files to OUT/repo; name -> path."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        topdirs = list(pool.map(lambda g: build_group(g, r, work, out, keys), groups))
    rpms = {}
    for g, topdir in zip(groups, topdirs):
        built = {p.name: p for p in (topdir / "RPMS").rglob("*.rpm")}
        for p in g.packages:
            src = topdir / "RPMS" / p.arch / p.rpm_filename
            if not src.is_file():
                raise FactoryError(f"rpmbuild of {g.key} did not produce {p.rpm_filename}; "
                                   f"it wrote {sorted(built)[:10]} (log: {work}/rpmbuild-{g.key}.log)")
            built.pop(src.name)
            rpms[p.name] = out / "repo" / p.rpm_filename
            shutil.move(src, rpms[p.name])
        if built:
            raise FactoryError(f"rpmbuild of {g.key} produced unexpected packages {sorted(built)}")
    return rpms


def sign_packages(r: Recipe, rpms: dict[str, Path], keyring: rpmtools.Keyring, work: Path, jobs: int):
    batches = []
    for name in r.signing_keys:
        files = sorted(rpms[p.name] for p in r.packages if p.sign == name)
        # rpmsign runs gpg once per package; split each key's list so both cores sign.
        n = max(1, min(jobs, len(files) // 50 or 1))
        batches += [(name, files[i::n], i) for i in range(n) if files[i::n]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda b: rpmtools.rpmsign(b[1], keyring, keyring.keys[b[0]],
                                                 work / f"rpmsign-{b[0]}-{b[2]}.log"), batches))


def finish_rootfs(r: Recipe, root: Path, keys: dict[str, str]) -> list[dict]:
    """os-release, the var/lib/rpm link and the overlays; returns the overlay records."""
    owned = {f.path for p in r.packages for f in p.files}
    if r.os_release != "none":
        text = "".join(f'{k.upper()}="{v}"\n' for k, v in _os_release_order(r.distro))
        usr = root / "usr/lib/os-release"
        if "/usr/lib/os-release" not in owned:
            usr.parent.mkdir(parents=True, exist_ok=True)
            usr.write_text(text)
        etc = root / "etc/os-release"
        if "/etc/os-release" not in owned:
            etc.parent.mkdir(parents=True, exist_ok=True)
            if r.os_release == "symlink":
                os.symlink("../usr/lib/os-release", etc)
            else:
                etc.write_text(text)
    if r.var_lib_rpm == "symlink":
        (root / "var/lib").mkdir(parents=True, exist_ok=True)
        os.symlink("../../usr/lib/sysimage/rpm", root / "var/lib/rpm")
    records = []
    for o in r.overlays:
        dest = root / o.file.path.lstrip("/")
        exists = dest.exists() or dest.is_symlink()
        if o.type == "file-add" and exists:
            raise FactoryError(f"overlay {o.component}: file-add {o.file.path} already exists in the root")
        if o.type == "file-replace" and not exists:
            raise FactoryError(f"overlay {o.component}: file-replace {o.file.path} does not exist in the root")
        data = materialize(root, o.file, o.component, keys, r.source_date_epoch, replace=True)
        records.append({"component": o.component, "type": o.type, "path": o.file.path,
                        "description": o.description,
                        "mode": None if o.file.symlink else f"{o.file.effective_mode():04o}",
                        "symlink": o.file.symlink, "directory": o.file.directory,
                        "sha256": hashlib.sha256(data).hexdigest() if data is not None else None})
    return records


def _os_release_order(distro: dict[str, str]):
    first = ["name", "version", "id", "id_like", "version_id", "pretty_name"]
    yield from ((k, distro[k]) for k in first if k in distro)
    yield from ((k, v) for k, v in distro.items() if k not in first)


def verify(r: Recipe, root: Path, rpms: dict[str, Path], key_files: list[Path],
           keyring: rpmtools.Keyring, work: Path, check_files: bool) -> dict:
    """Compare what rpm reports with the recipe; raise FactoryError on any difference."""
    problems = []
    rows = rpmtools.installed(root)
    keyids = {k.keyid: k.name for k in keyring.keys.values()}
    pubkeys = sorted(row["version"] for row in rows if row["name"] == "gpg-pubkey")
    want_pubkeys = sorted(k.keyid[-8:] for k in keyring.keys.values())
    if pubkeys != want_pubkeys:
        problems.append(f"gpg-pubkey entries {pubkeys} != imported keys {want_pubkeys}")
    got = {row["name"]: row for row in rows if row["name"] != "gpg-pubkey"}
    want = {p.name: p for p in r.packages}
    if set(got) != set(want):
        problems.append(f"rpm -qa differs from the recipe: missing {sorted(set(want) - set(got))[:10]}, "
                        f"extra {sorted(set(got) - set(want))[:10]}")
    for name in sorted(set(got) & set(want)):
        row, p = got[name], want[name]
        nevra = f"{name}-{'' if row['epoch'] is None else str(row['epoch']) + ':'}" \
                f"{row['version']}-{row['release']}.{row['arch']}"
        if nevra != p.nevra:
            problems.append(f"{name}: installed {nevra}, recipe says {p.nevra}")
        signer = keyids.get(row["keyid"], row["keyid"]) if row["keyid"] else "none"
        if signer != p.sign:
            problems.append(f"{name}: signed by {signer} ({row['sig']}), recipe says {p.sign}")
        if row["files"] != len(p.files):
            problems.append(f"{name}: {row['files']} file entries in the db, recipe has {len(p.files)}")
    verdicts = rpmtools.check_signatures(sorted(rpms.values()), key_files, work / "keydb")
    for p in r.packages:
        want_v = "digests OK" if p.sign == "none" else "digests signatures OK"
        if verdicts[str(rpms[p.name])] != want_v:
            problems.append(f"rpm -K {rpms[p.name].name}: {verdicts[str(rpms[p.name])]!r}, expected {want_v!r}")
    unresolved = rpmtools.unresolved(root)
    short = sorted(f"{u.split(':', 1)[0].rsplit('-', 2)[0]}:{u.split(':', 1)[1]}" for u in unresolved)
    if r.expect_unresolved is not None and short != r.expect_unresolved:
        problems.append(f"unresolved requirements {short} != [expect] unresolved {r.expect_unresolved}")
    drift = None
    if check_files:
        drift = rpmtools.verify_files(root)
        replaced = {o.file.path for o in r.overlays if o.type == "file-replace"}
        drifted = {line.split()[-1] for line in drift}
        if drifted != replaced:
            problems.append(f"rpm -Va reports {sorted(drifted)[:10]}, expected only the replaced "
                            f"overlay files {sorted(replaced)}:\n" + "\n".join(drift[:20]))
    if problems:
        raise FactoryError("verification failed:\n  - " + "\n  - ".join(problems))
    return {"installed": got, "unresolved": short, "rpm_verify": drift, "rpm_K": verdicts}


def write_manifest(out: Path, r: Recipe, groups, rpms, unsigned, keyring, overlays, checks,
                   fingerprint, timings):
    keys = {k.name: k.armored for k in keyring.keys.values()}
    with_files = sum(len(p.files) for p in r.packages) <= FILE_LIST_LIMIT
    pkgs = []
    for p in sorted(r.packages, key=lambda p: p.name):
        pkgs.append({"name": p.name, "epoch": p.epoch, "version": p.version, "release": p.release,
                     "arch": p.arch, "nevra": p.nevra, "source_rpm": checks["installed"][p.name]["srpm"],
                     "license": p.license, "vendor": p.vendor, "signed_by": p.sign,
                     "rpm": f"repo/{p.rpm_filename}", "sha256": sha256_file(rpms[p.name]),
                     "unsigned_sha256": unsigned[p.name], "files": len(p.files),
                     "requires": p.deps["requires"], "provides": p.deps["provides"]})
        if with_files:
            pkgs[-1]["file_list"] = [describe_file(f, p.name, keys) for f in p.files]
    manifest = {
        "complete": True, "factory_version": FACTORY_VERSION, "input_fingerprint": fingerprint,
        "recipe": r.path, "scale": r.scale, "source_date_epoch": r.source_date_epoch,
        "distro": r.distro,
        "rootfs": {"path": "rootfs", "dbpath": DBPATH.lstrip("/"), "db_backend": "sqlite",
                   "os_release": r.os_release, "var_lib_rpm": r.var_lib_rpm},
        "keys": [{"name": k.name, "uid": k.uid, "fingerprint": k.fingerprint, "keyid": k.keyid,
                  "rpm_name": f"gpg-pubkey-{k.keyid[-8:]}", "file": f"keys/{k.filename}.asc"}
                 for k in keyring.keys.values()],
        "packages": pkgs,
        "package_count": len(pkgs), "file_entry_count": sum(p["files"] for p in pkgs),
        "specs": [f"specs/{g.key}.spec" for g in groups],
        "overlays": overlays,
        "unresolved_requires": checks["unresolved"],
        "rpm_verify": checks["rpm_verify"],
        "non_deterministic": NON_DETERMINISTIC,
        "tools": rpmtools.tool_versions(),
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out / "manifest.json")


# ---------------------------------------------------------------- main

def choose_workdir(requested: str | None, r: Recipe) -> str | None:
    """Scratch space: /dev/shm when it is roomy (deleting many files on a disk mounted with
    `discard` took minutes here), else the system temp dir."""
    if requested:
        return requested
    need = sum(len(p.files) for p in r.packages) * 4096 * 3 + (256 << 20)
    need += 3 * sum(f.size or 0 for p in r.packages for f in p.files)
    try:
        st = os.statvfs("/dev/shm")
        if os.access("/dev/shm", os.W_OK) and st.f_bavail * st.f_frsize > 2 * need:
            return "/dev/shm"
    except OSError:
        pass
    return None


def build(args, r: Recipe, groups: list[SpecGroup], out: Path, work: Path, fingerprint: str):
    timings: dict[str, float] = {}
    t = time.monotonic()

    def lap(name):
        nonlocal t
        now = time.monotonic()
        timings[name] = now - t
        log(f"{name}: {timings[name]:.1f}s")
        t = now

    keyring = rpmtools.Keyring(work / "gnupg")
    try:
        key_files = make_keys(r, keyring, out)
        keys = {k.name: k.armored for k in keyring.keys.values()}
        lap("keys")
        log(f"building {len(r.packages)} packages, {sum(len(p.files) for p in r.packages)} file entries, "
            f"{len(groups)} spec(s)")
        rpms = build_packages(r, groups, work, out, keys, args.jobs)
        unsigned = {name: sha256_file(path) for name, path in rpms.items()}
        lap("rpmbuild")
        sign_packages(r, rpms, keyring, work, args.jobs)
        lap("rpmsign")
        root = out / "rootfs"
        rpmtools.create_root(root, key_files, [rpms[p.name] for p in r.packages], work / "rpm-install.log")
        lap("rpm -i")
        overlays = finish_rootfs(r, root, keys)
        empty = sorted(str(d.relative_to(root)) for d in root.rglob("*")
                       if d.is_dir() and not d.is_symlink() and not any(d.iterdir()))
        if empty:
            log(f"note: empty directories in the root (git would not keep them): {empty[:10]}")
        checks = verify(r, root, rpms, key_files, keyring, work, not args.no_verify_files)
        rpmtools.tidy_db(root)
        lap("verify")
        composed = None
        if r.compose is not None or args.compose:
            import compose as compose_mod
            cfg = compose_mod.parse_config(r.compose)
            if args.compose and args.compose != "recipe":
                cfg["compression"] = args.compose
            composed = compose_mod.compose(out, r, keys, cfg, r.source_date_epoch, args.host_arch)
            lap("compose")
        timings["total"] = sum(timings.values())
        write_manifest(out, r, groups, rpms, unsigned, keyring, overlays, checks, fingerprint, timings)
        if composed is not None:
            m = json.loads((out / "manifest.json").read_text())
            m["compose"] = composed
            (out / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    finally:
        keyring.close()
    log(f"done in {timings['total']:.1f}s: {out}/manifest.json")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Recipe format: testdata/factory/README.md",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", nargs="?", help="TOML recipe (default: the built-in benchmark recipe, "
                    "which needs --packages)")
    ap.add_argument("--out", required=True, help="output directory (rootfs/, repo/, keys/, specs/, manifest.json)")
    ap.add_argument("--packages", type=int, help="[scale] packages: synthesize N packages")
    ap.add_argument("--files-per-package", type=int, help="[scale] files_per_package (default 100)")
    ap.add_argument("--size-profile", choices=("tiny", "fedora", "mariner"),
                    help="[scale] size_profile: data files of a few bytes (tiny, the default), "
                         "Fedora-like sizes (fedora: mostly small, a tail of 100 KB-10 MB; ~10 KB a file) "
                         "or the measured sizes of a real CBL-Mariner 2.0 image (mariner: ~43 KB a file)")
    ap.add_argument("--payload", help="override [build] payload, e.g. w0.ufdio, w1.gzdio, w19.zstdio")
    ap.add_argument("--force", action="store_true", help="replace existing outputs in --out")
    ap.add_argument("--skip-if-complete", action="store_true",
                    help="do nothing if --out holds a complete build of the same inputs")
    ap.add_argument("--no-verify-files", action="store_true", help="skip the rpm -Va file check")
    ap.add_argument("--compose", nargs="?", const="recipe", choices=("recipe", "gzip", "zstd", "none"),
                    help="also write OUT/oci, OUT/image.oci.tar and OUT/image.docker.tar (compose.py); "
                         "optionally with this layer compression (default: the recipe's [compose], else gzip)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel rpmbuild/rpmsign runs")
    ap.add_argument("--workdir", help="parent of the scratch directory (default: /dev/shm when roomy, else the system temp dir)")
    ap.add_argument("--keep-work", action="store_true",
                    help="keep the scratch directory (holds the PRIVATE test keys and build logs)")
    args = ap.parse_args(argv)
    if args.files_per_package is not None and args.packages is None:
        ap.error("--files-per-package needs --packages")
    if args.recipe is None and args.packages is None:
        ap.error("give a recipe or --packages N")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    scale_override = {}
    if args.packages is not None:
        scale_override = {"packages": args.packages, "files_per_package": args.files_per_package or 100}
    if args.size_profile is not None:
        scale_override["size_profile"] = args.size_profile
    out = Path(args.out).resolve()
    work = None
    try:
        fingerprint = input_fingerprint(args.recipe, {**scale_override, "payload": args.payload})
        if args.skip_if_complete and is_complete(out, fingerprint):
            log(f"{out} is complete and up to date; nothing to do")
            return 0
        if os.geteuid() != 0:
            log("warning: not root; rpm -i into a root usually needs root to set file ownership")
        args.host_arch = rpmtools.rpm_eval("%_arch")
        r = recipe_mod.load(args.recipe, args.host_arch, scale_override)
        if args.payload:
            r.payload = args.payload
        groups = group_packages(r, args.host_arch)  # validates arch mixing before any work
        t0 = time.monotonic()
        prepare_out(out, args.force or args.skip_if_complete)
        if time.monotonic() - t0 > 1:
            log(f"removed the previous outputs in {time.monotonic() - t0:.1f}s")
        work = Path(tempfile.mkdtemp(prefix="factory-", dir=choose_workdir(args.workdir, r)))
        log(f"scratch directory: {work}")
        build(args, r, groups, out, work, fingerprint)
        return 0
    except (RecipeError, FactoryError) as e:
        print(f"factory: error: {e}", file=sys.stderr)
        if work is not None:
            print(f"factory: scratch directory kept for inspection: {work}", file=sys.stderr)
            work = None
        return 1
    finally:
        if work is not None and not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        elif work is not None:
            log(f"scratch directory kept: {work} (contains private test keys)")


if __name__ == "__main__":
    sys.exit(main())
