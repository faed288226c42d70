#!/usr/bin/env python3
"""Compose: turn a factory build (OUT/rootfs) into container images of two layers.

  OUT/oci/               OCI image layout (oci-layout, index.json, blobs/sha256/...)
  OUT/image.oci.tar      the same layout as a tar (an "OCI archive")
  OUT/image.docker.tar   a docker-archive, as `docker save` writes it (manifest.json,
                         <config hex>.json, <diff id hex>/layer.tar, uncompressed layers)

Layer 1 (base) is the rpm-installed root: everything in OUT/rootfs except the recipe's
overlay files (a `file-replace` path gets the packaged content back, regenerated from the
recipe). Layer 2 (overlay) holds the overlays, plus the test entries of [compose]: a
whiteout (`.wh.<name>`) per `whiteout` path and an opaque marker (`.wh..wh..opq`) with one
new file in each `opaque` directory. Tar members are sorted, owned by root, with mtime
SOURCE_DATE_EPOCH; gzip members carry no name or time: the same root gives the same bytes.

  compose.py --out OUT [--recipe R] [--compression gzip|zstd|none] [--whiteout P] [--opaque D]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rpmtools import FactoryError  # noqa: E402

COMPOSE_KEYS = {"formats", "compression", "whiteout", "opaque", "tag"}
FORMATS = ("oci", "oci-archive", "docker-archive")
OPAQUE_NOTE = "opaque-note.txt"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def parse_config(table: dict | None) -> dict:
    """Validates a recipe's [compose] table (unknown keys are errors)."""
    t = dict(table or {})
    unknown = sorted(set(t) - COMPOSE_KEYS)
    if unknown:
        raise FactoryError(f"[compose]: unknown key(s) {unknown}; allowed: {sorted(COMPOSE_KEYS)}")
    cfg = {"formats": list(t.get("formats", FORMATS)), "compression": t.get("compression", "gzip"),
           "whiteout": list(t.get("whiteout", [])), "opaque": list(t.get("opaque", [])),
           "tag": t.get("tag", "factory/image:latest")}
    for f in cfg["formats"]:
        if f not in FORMATS:
            raise FactoryError(f"[compose] formats: {f!r} is not one of {FORMATS}")
    if cfg["compression"] not in ("gzip", "zstd", "none"):
        raise FactoryError("[compose] compression must be gzip, zstd or none")
    for p in cfg["whiteout"] + cfg["opaque"]:
        if not isinstance(p, str) or not p.startswith("/") or "/../" in p or p.endswith("/"):
            raise FactoryError(f"[compose]: {p!r} must be an absolute normalized path")
    return cfg


class LayerWriter:
    """A deterministic tar of one layer, spooled to a file, with its sha256 (the diff id)."""

    def __init__(self, path: Path, mtime: int):
        self.path = path
        self.fh = open(path, "wb")
        self.tar = tarfile.open(fileobj=self.fh, mode="w", format=tarfile.PAX_FORMAT)
        self.mtime = mtime
        self.inodes: dict[tuple[int, int], str] = {}

    def _info(self, name: str, st: os.stat_result | None, typ: bytes, mode: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = typ
        ti.mode = mode
        ti.uid = st.st_uid if st else 0
        ti.gid = st.st_gid if st else 0
        ti.uname = "root" if ti.uid == 0 else ""
        ti.gname = "root" if ti.gid == 0 else ""
        ti.mtime = self.mtime
        return ti

    def add_path(self, name: str, src: Path):
        st = os.lstat(src)
        if stat.S_ISDIR(st.st_mode):
            self.tar.addfile(self._info(name, st, tarfile.DIRTYPE, stat.S_IMODE(st.st_mode)))
        elif stat.S_ISLNK(st.st_mode):
            ti = self._info(name, st, tarfile.SYMTYPE, 0o777)
            ti.linkname = os.readlink(src)
            self.tar.addfile(ti)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.inodes:
                ti = self._info(name, st, tarfile.LNKTYPE, stat.S_IMODE(st.st_mode))
                ti.linkname = self.inodes[key]
                self.tar.addfile(ti)
                return
            self.inodes[key] = name
            ti = self._info(name, st, tarfile.REGTYPE, stat.S_IMODE(st.st_mode))
            ti.size = st.st_size
            with open(src, "rb") as fh:
                self.tar.addfile(ti, fh)
        else:
            raise FactoryError(f"compose: {src} is not a file, directory or symlink")

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644):
        ti = self._info(name, None, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def add_dir(self, name: str, mode: int = 0o755):
        self.tar.addfile(self._info(name, None, tarfile.DIRTYPE, mode))

    def close(self) -> str:
        self.tar.close()
        self.fh.close()
        return sha256_file(self.path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compress(src: Path, dst: Path, how: str) -> str:
    """Compresses a layer tar; returns the media type suffix. zstd falls back to gzip
    (with a note) when neither the zstandard module nor the zstd tool is present."""
    if how == "zstd":
        try:
            import zstandard  # type: ignore
            with open(src, "rb") as i, open(dst, "wb") as o:
                zstandard.ZstdCompressor(level=3).copy_stream(i, o)
            return "+zstd"
        except ImportError:
            if shutil.which("zstd"):
                subprocess.run(["zstd", "-q", "-3", "-f", "-o", str(dst), str(src)], check=True)
                return "+zstd"
            print("[compose] note: no zstandard module or zstd tool; using gzip", file=sys.stderr)
            how = "gzip"
    if how == "gzip":
        with open(src, "rb") as i, open(dst, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as o:
                shutil.copyfileobj(i, o, 1 << 20)
        return "+gzip"
    shutil.copyfile(src, dst)
    return ""


def walk_sorted(root: Path):
    """Every path below root, relative, sorted (parents before children)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in dirnames + filenames:
            out.append(n if rel == "." else f"{rel}/{n}")
    return sorted(out)


def build_layers(out: Path, work: Path, recipe, keys: dict[str, str], cfg: dict, sde: int):
    from spec import file_bytes  # noqa: E402

    root = out / "rootfs"
    overlays = {o.file.path.lstrip("/"): o for o in (recipe.overlays if recipe else [])}
    owner_spec = {}
    if recipe:
        for p in recipe.packages:
            for f in p.files:
                owner_spec[f.path.lstrip("/")] = (p.name, f)
    base = LayerWriter(work / "base.tar", sde)
    for rel in walk_sorted(root):
        o = overlays.get(rel)
        if o is None:
            base.add_path(rel, root / rel)
        elif o.type == "file-replace" and rel in owner_spec:
            name, f = owner_spec[rel]
            if f.symlink is not None or f.directory:
                raise FactoryError(f"compose: file-replace of {f.path} (a symlink/dir) is not supported")
            base.add_bytes(rel, file_bytes(f, name, keys), f.effective_mode())
    base_id = base.close()
    upper = LayerWriter(work / "overlay.tar", sde)
    entries = []
    for rel in sorted(overlays):
        entries.append((rel, ("path", root / rel)))
    for p in cfg["whiteout"]:
        d, n = os.path.split(p.lstrip("/"))
        entries.append((f"{d}/.wh.{n}" if d else f".wh.{n}", ("bytes", b"", 0o644)))
    for p in cfg["opaque"]:
        d = p.lstrip("/")
        entries.append((d, ("dir",)))
        entries.append((f"{d}/.wh..wh..opq", ("bytes", b"", 0o644)))
        entries.append((f"{d}/{OPAQUE_NOTE}", ("bytes", f"{p} is opaque in this layer\n".encode(), 0o644)))
    # Parent directories of overlay files come first, as in any tar the runtimes write.
    parents = sorted({str(Path(rel).parent) for rel, _ in entries} - {"."})
    seen = set()
    for d in parents:
        parts = d.split("/")
        for i in range(1, len(parts) + 1):
            q = "/".join(parts[:i])
            if q not in seen and q not in {rel for rel, k in entries if k[0] == "dir"}:
                seen.add(q)
                entries.append((q, ("path", root / q) if (root / q).is_dir() else ("dir",)))
    for rel, what in sorted(entries, key=lambda e: e[0]):
        if what[0] == "path":
            upper.add_path(rel, what[1])
        elif what[0] == "dir":
            upper.add_dir(rel)
        else:
            upper.add_bytes(rel, what[1], what[2])
    upper_id = upper.close()
    return [(work / "base.tar", base_id), (work / "overlay.tar", upper_id)]


def write_blob(blobs: Path, data: bytes | None = None, src: Path | None = None) -> tuple[str, int]:
    blobs.mkdir(parents=True, exist_ok=True)
    if data is not None:
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        return h, len(data)
    h = sha256_file(src)
    shutil.move(src, blobs / h)
    return h, (blobs / h).stat().st_size


def tar_dir(src: Path, dst: Path, sde: int):
    """A deterministic tar of a directory tree (the OCI archive)."""
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as t:
        for rel in walk_sorted(src):
            p = src / rel
            ti = t.gettarinfo(str(p), arcname=rel)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mtime = sde
            if ti.isreg():
                with open(p, "rb") as fh:
                    t.addfile(ti, fh)
            else:
                t.addfile(ti)


def compose(out: Path, recipe, keys: dict[str, str], cfg: dict, sde: int, rpm_arch: str) -> dict:
    """Writes the configured image formats into OUT; returns the manifest record."""
    for name in ("oci", "image.oci.tar", "image.docker.tar"):
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    arch = ARCH.get(rpm_arch, rpm_arch)
    with tempfile.TemporaryDirectory(prefix="compose-", dir=out) as w:
        work = Path(w)
        layers = build_layers(out, work, recipe, keys, cfg, sde)
        config = {"architecture": arch, "os": "linux", "created": "1970-01-01T00:00:00Z",
                  "config": {"Labels": {"org.opencontainers.image.title": "factory image"}},
                  "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for _, d in layers]},
                  "history": [{"created_by": "factory: rpm -i (base)"},
                              {"created_by": "factory: overlays, whiteouts, opaque directories"}]}
        cfg_bytes = canonical(config)
        rec = {"diff_ids": config["rootfs"]["diff_ids"], "platform": f"linux/{arch}",
               "compression": cfg["compression"]}
        oci = out / "oci"
        blobs = oci / "blobs" / "sha256"
        descs = []
        for i, (tar_path, _) in enumerate(layers):
            comp = work / f"layer{i}.blob"
            suffix = compress(tar_path, comp, cfg["compression"])
            h, size = write_blob(blobs, src=comp)
            descs.append({"mediaType": f"application/vnd.oci.image.layer.v1.tar{suffix}",
                          "digest": f"sha256:{h}", "size": size})
        ch, csize = write_blob(blobs, data=cfg_bytes)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": f"sha256:{ch}", "size": csize},
                    "layers": descs}
        mh, msize = write_blob(blobs, data=canonical(manifest))
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": f"sha256:{mh}", "size": msize,
                                "platform": {"architecture": arch, "os": "linux"},
                                "annotations": {"org.opencontainers.image.ref.name": cfg["tag"]}}]}
        (oci / "index.json").write_bytes(canonical(index))
        (oci / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
        rec.update({"manifest_digest": f"sha256:{mh}", "config_digest": f"sha256:{ch}",
                    "layers": [d["digest"] for d in descs]})
        if "oci-archive" in cfg["formats"]:
            tar_dir(oci, out / "image.oci.tar", sde)
            rec["oci_archive"] = "image.oci.tar"
        if "docker-archive" in cfg["formats"]:
            dock = work / "docker"
            dock.mkdir()
            names = []
            for tar_path, diff in layers:
                (dock / diff).mkdir()
                shutil.copyfile(tar_path, dock / diff / "layer.tar")
                names.append(f"{diff}/layer.tar")
            (dock / f"{ch}.json").write_bytes(cfg_bytes)
            (dock / "manifest.json").write_bytes(canonical(
                [{"Config": f"{ch}.json", "RepoTags": [cfg["tag"]], "Layers": names}]))
            tar_dir(dock, out / "image.docker.tar", sde)
            rec["docker_archive"] = "image.docker.tar"
        if "oci" in cfg["formats"]:
            rec["oci_layout"] = "oci"
        else:
            shutil.rmtree(oci)
    rec["whiteout"] = cfg["whiteout"]
    rec["opaque"] = cfg["opaque"]
    return rec


def host_arch(manifest: dict) -> str:
    """The rpm arch of the build: from its packages (no rpm needed), else this machine's."""
    for p in manifest.get("packages", []):
        if p.get("arch") not in (None, "noarch"):
            return p["arch"]
    import platform
    return platform.machine()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="a factory output directory (holds rootfs/)")
    ap.add_argument("--recipe", help="the recipe it was built from (overlays, [compose])")
    ap.add_argument("--compression", choices=("gzip", "zstd", "none"))
    ap.add_argument("--whiteout", action="append", default=[], help="package file to delete in layer 2")
    ap.add_argument("--opaque", action="append", default=[], help="directory made opaque in layer 2")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    import recipe as recipe_mod
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        arch = host_arch(manifest)
        r = recipe_mod.load(args.recipe, arch, None) if args.recipe else None
        cfg = parse_config(r.compose if r else None)
        if args.compression:
            cfg["compression"] = args.compression
        cfg["whiteout"] += args.whiteout
        cfg["opaque"] += args.opaque
        keys = {p.stem.removeprefix("RPM-GPG-KEY-test-").removesuffix(".asc"): p.read_text()
                for p in (out / "keys").glob("*.asc")}
        rec = compose(out, r, keys, cfg, manifest.get("source_date_epoch", 1735689600), arch)
    except (FactoryError, recipe_mod.RecipeError, OSError) as e:
        print(f"compose: error: {e}", file=sys.stderr)
        return 1
    manifest["compose"] = rec
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out / "manifest.json")
    print(json.dumps(rec, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
