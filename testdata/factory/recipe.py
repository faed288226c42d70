"""Compose recipes: load a TOML recipe, validate every key, synthesize [scale] packages.

A recipe describes an image: the distro (os-release), the signing keys, the packages
(with their files and dependencies), overlays applied to the root after rpm installs,
and optionally a [scale] block that adds N synthetic packages of M files each.
Unknown keys are errors, so a typo never silently changes what is built.
See README.md beside this file for the format.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field

KEY_NAMES = ("rsa4096", "ed25519")
DEP_KINDS = ("requires", "provides", "conflicts", "obsoletes",
             "recommends", "suggests", "supplements", "enhances")
OVERLAY_TYPES = ("file-add", "file-replace")
DEFAULT_SOURCE_DATE_EPOCH = 1735689600  # 2025-01-01T00:00:00Z

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_VER_RE = re.compile(r"^[A-Za-z0-9_.+~^]+$")
_ARCH_RE = re.compile(r"^[a-z0-9_]+$")
# Characters that rpm's %files parser would glob, expand or split on.
_BAD_PATH_CHARS = set('"%*?[]{}\\\n\r\t')


class RecipeError(Exception):
    """The recipe is invalid; the message says where and why."""


@dataclass
class FileSpec:
    path: str
    content: str | None = None
    size: int | None = None
    symlink: str | None = None
    directory: bool = False
    key: str | None = None          # content = armored public key of this signing key
    mode: int | None = None
    user: str = "root"
    group: str = "root"
    config: bool | str = False      # False, True, "noreplace" or "missingok"
    doc: bool = False
    license: bool = False
    ghost: bool = False
    bulk: bool = False              # sized content made by bulk_bytes (benchmark size profiles)

    def effective_mode(self) -> int:
        if self.mode is not None:
            return self.mode
        return 0o755 if self.directory else 0o644


@dataclass
class Package:
    name: str
    version: str
    release: str
    arch: str
    license: str
    summary: str
    epoch: int | None = None
    vendor: str | None = None
    url: str | None = None
    packager: str | None = None
    distribution: str | None = None
    group: str | None = None
    description: str | None = None
    source: str | None = None
    sign: str = "none"
    autoreqprov: bool = True
    synthetic: bool = False         # made by [scale]; built with a minimal libmagic database
    deps: dict[str, list[str]] = field(default_factory=dict)
    files: list[FileSpec] = field(default_factory=list)

    @property
    def evr(self) -> str:
        e = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{e}{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"

    @property
    def source_name(self) -> str:
        return self.source or self.name

    @property
    def rpm_filename(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}.rpm"


@dataclass
class Overlay:
    component: str
    type: str
    file: FileSpec
    description: str = ""


@dataclass
class Recipe:
    path: str
    distro: dict[str, str]
    os_release: str = "symlink"     # etc/os-release: "symlink", "file" or "none"
    var_lib_rpm: str = "symlink"    # var/lib/rpm -> ../../usr/lib/sysimage/rpm: "symlink" or "none"
    source_date_epoch: int = DEFAULT_SOURCE_DATE_EPOCH
    payload: str = "w19.zstdio"
    file_digest: str = "sha256"
    buildhost: str = "factory.invalid"
    signing_keys: list[str] = field(default_factory=lambda: list(KEY_NAMES))
    default_sign: str = "rsa4096"
    packages: list[Package] = field(default_factory=list)
    overlays: list[Overlay] = field(default_factory=list)
    expect_unresolved: list[str] | None = field(default_factory=list)  # None = "any"
    scale: dict | None = None
    compose: dict | None = None     # [compose] table, validated by compose.parse_config


# ---------------------------------------------------------------- helpers

def _check_keys(where: str, table: dict, allowed: set[str], required: set[str] = frozenset()):
    if not isinstance(table, dict):
        raise RecipeError(f"{where}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(table))
    if missing:
        raise RecipeError(f"{where}: missing required key(s) {missing}")


def _typed(where: str, value, typ, what: str):
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise RecipeError(f"{where}: {what} must be {typ.__name__ if isinstance(typ, type) else typ}, got {value!r}")
    return value


def _text(where: str, value, key: str, multiline: bool = False) -> str:
    _typed(where, value, str, key)
    if not multiline and ("\n" in value or "\r" in value):
        raise RecipeError(f"{where}: {key} must be a single line")
    return value


def check_path(where: str, path: str) -> str:
    _typed(where, path, str, "path")
    bad = _BAD_PATH_CHARS.intersection(path)
    if not path.startswith("/") or path == "/" or path.endswith("/") or bad \
            or "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        extra = f" (contains {sorted(bad)})" if bad else ""
        raise RecipeError(f"{where}: path {path!r} must be absolute, normalized, not '/', "
                          f"without a trailing slash, glob, quote, % or control characters{extra}")
    return path


def _mode(where: str, value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        m = value
    elif isinstance(value, str) and re.fullmatch(r"0?[0-7]{3,4}", value):
        m = int(value, 8)
    else:
        raise RecipeError(f"{where}: mode must be an octal string like \"0644\" or a TOML 0o644, got {value!r}")
    if not 0 <= m <= 0o7777:
        raise RecipeError(f"{where}: mode {oct(m)} out of range")
    return m


FILE_KEYS = {"path", "content", "size", "symlink", "directory", "key", "mode", "user", "group",
             "config", "doc", "license", "ghost"}


def parse_file(where: str, t: dict, allow_flags: bool = True) -> FileSpec:
    allowed = FILE_KEYS if allow_flags else FILE_KEYS - {"config", "doc", "license", "ghost", "user", "group"}
    _check_keys(where, t, allowed, {"path"})
    f = FileSpec(path=check_path(where, t["path"]))
    where = f"{where} ({f.path})"
    sources = [k for k in ("content", "size", "symlink", "directory", "key") if t.get(k) not in (None, False)]
    if len(sources) > 1:
        raise RecipeError(f"{where}: at most one of content/size/symlink/directory/key, got {sources}")
    if "content" in t:
        f.content = _text(where, t["content"], "content", multiline=True)
    if "size" in t:
        f.size = _typed(where, t["size"], int, "size")
        if f.size < 0:
            raise RecipeError(f"{where}: size must be >= 0")
    if "symlink" in t:
        f.symlink = _text(where, t["symlink"], "symlink")
        if not f.symlink:
            raise RecipeError(f"{where}: symlink target must not be empty")
    if "directory" in t:
        f.directory = _typed(where, t["directory"], bool, "directory")
    if "key" in t:
        f.key = _text(where, t["key"], "key")
        if f.key not in KEY_NAMES:
            raise RecipeError(f"{where}: key must be one of {KEY_NAMES}")
    if "mode" in t:
        f.mode = _mode(where, t["mode"])
    for k in ("user", "group"):
        if k in t:
            setattr(f, k, _text(where, t[k], k))
            if not _NAME_RE.match(getattr(f, k)):
                raise RecipeError(f"{where}: {k} {t[k]!r} is not a valid user/group name")
    if "config" in t:
        c = t["config"]
        if c not in (True, False, "noreplace", "missingok"):
            raise RecipeError(f"{where}: config must be true, false, \"noreplace\" or \"missingok\", got {c!r}")
        f.config = c
    for k in ("doc", "license", "ghost"):
        if k in t:
            setattr(f, k, _typed(where, t[k], bool, k))
    if f.ghost and (f.content is not None or f.size is not None or f.symlink or f.key):
        raise RecipeError(f"{where}: a ghost file has no content in the package (drop content/size/symlink/key)")
    if f.symlink and (f.config or f.mode is not None):
        raise RecipeError(f"{where}: a symlink takes neither config nor mode")
    return f


# ---------------------------------------------------------------- packages

PKG_KEYS = {"name", "epoch", "version", "release", "arch", "license", "summary", "description", "vendor",
            "url", "packager", "distribution", "group", "source", "sign", "autoreqprov", "files", *DEP_KINDS}
PKG_REQUIRED = {"name", "version", "release", "license"}


def parse_package(where: str, t: dict, defaults: dict, recipe: Recipe, host_arch: str) -> Package:
    merged = {**defaults, **t}
    _check_keys(where, merged, PKG_KEYS, PKG_REQUIRED)
    name = _text(where, merged["name"], "name")
    where = f"{where} ({name})"
    if not _NAME_RE.match(name):
        raise RecipeError(f"{where}: invalid package name")
    p = Package(name=name, version=_text(where, merged["version"], "version"),
                release=_text(where, merged["release"], "release"),
                arch=_text(where, merged.get("arch", host_arch), "arch"),
                license=_text(where, merged["license"], "license"),
                summary=_text(where, merged.get("summary", f"Factory test package {name}"), "summary"))
    for k in ("version", "release"):
        if not _VER_RE.match(getattr(p, k)):
            raise RecipeError(f"{where}: {k} {getattr(p, k)!r} has characters rpm does not allow (no '-' or spaces)")
    if not _ARCH_RE.match(p.arch):
        raise RecipeError(f"{where}: invalid arch {p.arch!r}")
    if "epoch" in merged:
        p.epoch = _typed(where, merged["epoch"], int, "epoch")
        if p.epoch < 0:
            raise RecipeError(f"{where}: epoch must be >= 0")
    for k in ("vendor", "url", "packager", "distribution", "group", "source"):
        if k in merged:
            setattr(p, k, _text(where, merged[k], k))
    if p.source is not None and not _NAME_RE.match(p.source):
        raise RecipeError(f"{where}: invalid source name {p.source!r}")
    if "description" in merged:
        p.description = _text(where, merged["description"], "description", multiline=True)
    p.sign = _text(where, merged.get("sign", recipe.default_sign), "sign")
    if p.sign != "none" and p.sign not in recipe.signing_keys:
        raise RecipeError(f"{where}: sign = {p.sign!r} but [signing] keys = {recipe.signing_keys} (or \"none\")")
    if "autoreqprov" in merged:
        p.autoreqprov = _typed(where, merged["autoreqprov"], bool, "autoreqprov")
    for kind in DEP_KINDS:
        deps = merged.get(kind, [])
        _typed(where, deps, list, kind)
        p.deps[kind] = [_text(where, d, kind) for d in deps]
        if any(not d.strip() for d in p.deps[kind]):
            raise RecipeError(f"{where}: empty {kind} entry")
    for i, ft in enumerate(merged.get("files", [])):
        p.files.append(parse_file(f"{where} files[{i}]", ft))
    seen = set()
    for f in p.files:
        if f.path in seen:
            raise RecipeError(f"{where}: file {f.path} listed twice")
        seen.add(f.path)
    return p


# ---------------------------------------------------------------- scale

SCALE_KEYS = {"packages", "files_per_package", "prefix", "source", "packages_per_source", "arch",
              "noarch_every", "dist", "autoreqprov", "vendor", "size_profile"}
# Data-file sizes per profile: (share, smallest, largest) tiers, log-uniform inside a tier.
# "fedora": many small files and a tail of 100 KB-10 MB binaries, ~10 KB a file on average
# (~2.8 GB for 3,000 x 100), so that hashing, not per-file system calls, dominates a drift check.
SIZE_PROFILES = {
    "tiny": None,
    "fedora": [(0.8525, 64, 8 << 10), (0.14, 8 << 10, 64 << 10),
               (0.007, 100 << 10, 1 << 20), (0.0005, 1 << 20, 10 << 20)],
    # "mariner": the sizes of a real image's regular files: the percentiles (0, 10, ..., 90,
    # 95, 99, 99.9, 100) of FILESIZES in ../shared/realdata/rpmdb/cbl-mariner-2.0 (5,352
    # files, 37.7 KB on average; this profile averages ~43 KB, ~12 GB for 3,000 x 100).
    "mariner": [(0.1, 1, 423), (0.1, 423, 804), (0.1, 804, 1482), (0.1, 1482, 2390),
                (0.1, 2390, 3484), (0.1, 3484, 7149), (0.1, 7149, 15320), (0.1, 15320, 26432),
                (0.1, 26432, 62527), (0.05, 62527, 114336), (0.04, 114336, 560496),
                (0.009, 560496, 3388459), (0.001, 3388459, 7014280)],
}
SCALE_LICENSES = ["MIT", "Apache-2.0", "GPL-2.0-or-later", "MIT AND (Apache-2.0 OR BSD-3-Clause)",
                  "GPLv2+", "LGPLv2+ and MIT", "BSD", "Apache-2.0 WITH LLVM-exception", "ASL 2.0",
                  "Public Domain", "LGPL-2.1-or-later", "GPLv3+ with exceptions"]


def _h(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def synthesize(scale: dict, recipe: Recipe, host_arch: str) -> list[Package]:
    """N synthetic packages of M file entries each, deterministic from (prefix, N, M).

    Package 0 owns a shared file that every other package requires by path; package i>0
    requires 1-3 earlier packages (some versioned) and sometimes a virtual provide.
    Each package's file entries include a %dir, a %doc, a %config(noreplace), a %license,
    a symlink and a %ghost (when M is large enough); the rest are tiny data files.
    """
    _check_keys("[scale]", scale, SCALE_KEYS, {"packages", "files_per_package"})
    n = _typed("[scale]", scale["packages"], int, "packages")
    m = _typed("[scale]", scale["files_per_package"], int, "files_per_package")
    if n < 1 or m < 1:
        raise RecipeError("[scale]: packages and files_per_package must be >= 1")
    for k, typ in (("prefix", str), ("source", str), ("packages_per_source", int), ("arch", str),
                   ("noarch_every", int), ("dist", str), ("autoreqprov", bool), ("vendor", str),
                   ("size_profile", str)):
        if k in scale:
            _typed("[scale]", scale[k], typ, k)
    if scale.get("packages_per_source", 1) < 1 or scale.get("noarch_every", 0) < 0:
        raise RecipeError("[scale]: packages_per_source must be >= 1 and noarch_every >= 0")
    prefix = scale.get("prefix", "bench-pkg-")
    source = scale.get("source", "bench-synthetic")
    per_source = scale.get("packages_per_source", 250)   # one spec (one rpmbuild run) per chunk
    arch = scale.get("arch", host_arch)
    noarch_every = scale.get("noarch_every", 5)
    dist = scale.get("dist", "")
    vendor = scale.get("vendor", "Factory Benchmark")
    profile = scale.get("size_profile", "tiny")
    if profile not in SIZE_PROFILES:
        raise RecipeError(f"[scale]: size_profile must be one of {sorted(SIZE_PROFILES)}, got {profile!r}")
    keys = recipe.signing_keys or ["none"]
    shared = f"/usr/share/{prefix}common/shared.conf"
    pkgs: list[Package] = []
    for i in range(n):
        name = f"{prefix}{i:05d}"
        p = Package(name=name, version=f"{1 + i % 7}.{i % 13}.{i % 5}", release=f"{1 + i % 3}{dist}",
                    arch="noarch" if noarch_every and i % noarch_every == 0 else arch,
                    license=SCALE_LICENSES[i % len(SCALE_LICENSES)],
                    summary=f"Synthetic benchmark package {i}", vendor=vendor,
                    url=f"https://factory.invalid/{name}", source=f"{source}-{i // per_source:03d}",
                    sign=keys[i % len(keys)], autoreqprov=scale.get("autoreqprov", False), synthetic=True)
        if i % 50 == 7:
            p.epoch = 1 + i % 3
        p.deps = {k: [] for k in DEP_KINDS}
        if i % 10 == 0:
            p.deps["provides"].append(f"{prefix}virtual({i // 10})")
        if i > 0:
            p.deps["requires"].append(shared)
            chosen = set()
            for t in range(1 + _h(name, "ndeps") % 3):
                dep = pkgs[_h(name, "dep", t) % i]
                if dep.name not in chosen:
                    chosen.add(dep.name)
                    p.deps["requires"].append(dep.name if t % 2 == 0 else f"{dep.name} >= {dep.evr}")
            if i >= 10 and i % 4 == 1:
                p.deps["requires"].append(f"{prefix}virtual({_h(name, 'virt') % (i // 10)})")
        p.files = _synthetic_files(name, i, m, shared, prefix, SIZE_PROFILES[profile])
        pkgs.append(p)
    return pkgs


def _profile_size(name: str, j: int, tiers: list) -> int:
    """A deterministic size for data file j of package `name` drawn from the profile's tiers."""
    u = _h(name, "size", j) / 2**64
    for share, lo, hi in tiers:
        if u < share:
            v = _h(name, "within", j) / 2**64
            return int(lo * (hi / lo) ** v)
        u -= share
    return tiers[0][1]


def _synthetic_files(name: str, i: int, m: int, shared: str, prefix: str,
                     tiers: list | None = None) -> list[FileSpec]:
    libdir = f"/usr/lib/{prefix.rstrip('-')}/{name}"
    special = [FileSpec(path=libdir, directory=True),
               FileSpec(path=f"/usr/share/doc/{name}/README", doc=True, content=f"{name} README\n"),
               FileSpec(path=f"/etc/{prefix.rstrip('-')}/{name}.conf", config="noreplace",
                        content=f"# {name}\nindex = {i}\n"),
               FileSpec(path=f"/usr/share/licenses/{name}/LICENSE", license=True,
                        content=f"License text of {name}\n"),
               FileSpec(path=f"{libdir}/current", symlink="data-0000.dat"),
               FileSpec(path=f"/var/log/{name}.log", ghost=True)]
    files = [FileSpec(path=shared, config=True, content="shared = true\n")] if i == 0 else []
    files += special[:max(0, min(len(special), m - len(files) - 1))]
    j = 0
    while len(files) < m:
        path = f"{libdir}/data-{j:04d}.dat"
        if tiers:
            files.append(FileSpec(path=path, size=_profile_size(name, j, tiers), bulk=True))
        else:
            files.append(FileSpec(path=path, content=f"{name} {j}\n"))
        j += 1
    return files


# ---------------------------------------------------------------- recipe

TOP_KEYS = {"distro", "rootfs", "build", "signing", "package_defaults", "package", "component", "compose",
            "scale", "expect"}
DISTRO_REQUIRED = {"id", "version_id", "name", "pretty_name"}


def load(path: str | None, host_arch: str, scale_override: dict | None = None) -> Recipe:
    """Load and validate a recipe file (or the built-in benchmark recipe when path is None)."""
    if path is None:
        data = {"distro": {"id": "azurelinux", "version_id": "4.0", "name": "Azure Linux",
                           "pretty_name": "Azure Linux 4.0 (factory benchmark)", "id_like": "fedora"},
                "build": {"payload": "w1.gzdio"}, "scale": {"dist": ".azl4"}}
        path = "<built-in benchmark recipe>"
    else:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise RecipeError(f"{path}: cannot load recipe: {e}") from e
    _check_keys(path, data, TOP_KEYS, {"distro"})

    distro = data["distro"]
    _check_keys("[distro]", distro, set(distro), DISTRO_REQUIRED)
    for k, v in distro.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", k):
            raise RecipeError(f"[distro]: key {k!r} must be lowercase (it becomes os-release {k.upper()})")
        _text(f"[distro] {k}", v, k)
    r = Recipe(path=path, distro=dict(distro))

    rootfs = data.get("rootfs", {})
    _check_keys("[rootfs]", rootfs, {"os_release", "var_lib_rpm"})
    r.os_release = rootfs.get("os_release", r.os_release)
    r.var_lib_rpm = rootfs.get("var_lib_rpm", r.var_lib_rpm)
    if r.os_release not in ("symlink", "file", "none"):
        raise RecipeError("[rootfs] os_release must be \"symlink\", \"file\" or \"none\"")
    if r.var_lib_rpm not in ("symlink", "none"):
        raise RecipeError("[rootfs] var_lib_rpm must be \"symlink\" or \"none\"")

    build = data.get("build", {})
    _check_keys("[build]", build, {"source_date_epoch", "payload", "file_digest", "buildhost"})
    r.source_date_epoch = _typed("[build]", build.get("source_date_epoch", r.source_date_epoch), int,
                                 "source_date_epoch")
    r.payload = _text("[build]", build.get("payload", r.payload), "payload")
    r.file_digest = _text("[build]", build.get("file_digest", r.file_digest), "file_digest")
    if r.file_digest not in ("md5", "sha1", "sha256", "sha384", "sha512"):
        raise RecipeError("[build] file_digest must be md5, sha1, sha256, sha384 or sha512")
    r.buildhost = _text("[build]", build.get("buildhost", r.buildhost), "buildhost")

    signing = data.get("signing", {})
    _check_keys("[signing]", signing, {"keys", "default"})
    r.signing_keys = list(_typed("[signing]", signing.get("keys", list(KEY_NAMES)), list, "keys"))
    for k in r.signing_keys:
        if k not in KEY_NAMES:
            raise RecipeError(f"[signing] keys: {k!r} is not one of {KEY_NAMES}")
    r.default_sign = signing.get("default", r.signing_keys[0] if r.signing_keys else "none")
    if r.default_sign != "none" and r.default_sign not in r.signing_keys:
        raise RecipeError(f"[signing] default {r.default_sign!r} is not in keys {r.signing_keys}")

    defaults = data.get("package_defaults", {})
    _check_keys("[package_defaults]", defaults, PKG_KEYS - {"name", "files", "epoch"})
    for i, t in enumerate(data.get("package", [])):
        r.packages.append(parse_package(f"[[package]] #{i}", t, defaults, r, host_arch))

    for ci, comp in enumerate(data.get("component", [])):
        cw = f"[[component]] #{ci}"
        _check_keys(cw, comp, {"name", "description", "overlays"}, {"name", "overlays"})
        cname = _text(cw, comp["name"], "name")
        for oi, ot in enumerate(_typed(cw, comp["overlays"], list, "overlays")):
            ow = f"{cw} ({cname}) overlays[{oi}]"
            _check_keys(ow, ot, {"type", "description", *FILE_KEYS} - {"config", "doc", "license", "ghost"},
                        {"type", "path"})
            if ot["type"] not in OVERLAY_TYPES:
                raise RecipeError(f"{ow}: type must be one of {OVERLAY_TYPES}, got {ot['type']!r}")
            ft = {k: v for k, v in ot.items() if k not in ("type", "description")}
            r.overlays.append(Overlay(component=cname, type=ot["type"],
                                      file=parse_file(ow, ft, allow_flags=False),
                                      description=_text(ow, ot.get("description", ""), "description")))

    if "compose" in data:
        r.compose = _typed("[compose]", data["compose"], dict, "[compose]")

    scale = dict(data.get("scale", {}))
    scale.update(scale_override or {})
    if scale:
        r.scale = scale
        r.packages.extend(synthesize(scale, r, host_arch))

    expect = data.get("expect", {})
    _check_keys("[expect]", expect, {"unresolved"})
    unresolved = expect.get("unresolved", [])
    if unresolved == "any":
        r.expect_unresolved = None
    else:
        r.expect_unresolved = sorted(_text("[expect] unresolved", u, "entry")
                                     for u in _typed("[expect]", unresolved, list, "unresolved"))

    _check_unique(r)
    return r


def _check_unique(r: Recipe):
    if not r.packages:
        raise RecipeError(f"{r.path}: no packages (add [[package]] entries or a [scale] table)")
    names = {}
    for p in r.packages:
        if p.name in names:
            raise RecipeError(f"package {p.name} defined twice")
        names[p.name] = p
    owners: dict[str, str] = {}
    for p in r.packages:
        for f in p.files:
            if not f.directory and f.path in owners:
                raise RecipeError(f"file {f.path} is in both {owners[f.path]} and {p.name}; "
                                  "rpm would report a file conflict")
            owners.setdefault(f.path, p.name)
    for o in r.overlays:
        if o.type == "file-replace" and o.file.path not in owners:
            raise RecipeError(f"overlay {o.component}: file-replace {o.file.path} is not a packaged file")
        if o.type == "file-add" and o.file.path in owners:
            raise RecipeError(f"overlay {o.component}: file-add {o.file.path} is a packaged file "
                              "(use file-replace)")
