"""Thin wrappers over the real tools: gpg, rpmbuild, rpmsign and rpm.

Every command goes through run(), which raises FactoryError with the exact command line
and the tail of its stderr when it fails. Nothing here fakes an rpm database.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

DBPATH = "/usr/lib/sysimage/rpm"
# Debian's rpm defaults to ~/.rpmdb; always name the Fedora dbpath and the sqlite backend.
DB_DEFINES = ["--dbpath", DBPATH, "--define", "_db_backend sqlite"]
DEBIAN_NAG = "RPM should not be used directly"


class FactoryError(Exception):
    """A build step failed; the message names the step, the command and its stderr."""


def run(cmd: list[str], *, env: dict | None = None, log: Path | None = None,
        what: str = "", check: bool = True) -> subprocess.CompletedProcess:
    """Run a command; on failure raise FactoryError with the command and the stderr tail.

    With `log`, stdout and stderr go to that file (rpmbuild of thousands of packages is chatty)
    and the error shows the log's last lines.
    """
    full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
    try:
        if log is not None:
            with open(log, "w") as fh:
                proc = subprocess.run(cmd, env=full_env, stdout=fh, stderr=subprocess.STDOUT, text=True)
            proc.stdout = ""
            proc.stderr = log.read_text(errors="replace")
        else:
            proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise FactoryError(f"{what or cmd[0]}: cannot run {cmd[0]!r}: {e}. "
                           "Install the tools: apt-get install -y rpm gnupg") from e
    if check and proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-40:])
        where = f" (full log: {log})" if log else ""
        raise FactoryError(f"{what or 'command'} failed with exit status {proc.returncode}{where}\n"
                           f"  command: {shlex.join(cmd)}\n  stderr:\n{_indent(tail)}")
    return proc


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines()) or "    (empty)"


def rpm_eval(expr: str) -> str:
    return run(["rpm", "--eval", expr], what="rpm --eval").stdout.strip()


def tool_versions() -> dict[str, str]:
    return {"rpm": run(["rpm", "--version"]).stdout.strip(),
            "rpmbuild": run(["rpmbuild", "--version"]).stdout.strip(),
            "gpg": run(["gpg", "--version"]).stdout.splitlines()[0].strip()}


# ---------------------------------------------------------------- keys

@dataclass
class Key:
    name: str           # "rsa4096" or "ed25519"
    uid: str
    fingerprint: str
    armored: str

    @property
    def keyid(self) -> str:
        return self.fingerprint[-16:].lower()

    @property
    def filename(self) -> str:
        return f"RPM-GPG-KEY-test-{self.name}"


class Keyring:
    """Throw-away GnuPG home holding the test signing keys (private keys never leave it)."""

    def __init__(self, home: Path):
        self.home = home
        home.mkdir(mode=0o700, parents=True)
        self.env = {"GNUPGHOME": str(home)}
        self.keys: dict[str, Key] = {}

    def gpg(self, *args: str, what: str) -> subprocess.CompletedProcess:
        return run(["gpg", "--homedir", str(self.home), "--batch", *args], env=self.env, what=what)

    def generate(self, name: str) -> Key:
        uid = f"Factory Test {name} <{name}@factory.invalid>"
        self.gpg("--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid, name,
                 "sign", "never", what=f"gpg key generation ({name})")
        listing = self.gpg("--with-colons", "--list-keys", f"={uid}", what="gpg --list-keys").stdout
        fprs = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
        if not fprs:
            raise FactoryError(f"gpg generated no key for {uid!r}; listing:\n{listing}")
        armored = self.gpg("--armor", "--export", fprs[0], what="gpg --export").stdout
        if "BEGIN PGP PUBLIC KEY BLOCK" not in armored:
            raise FactoryError(f"gpg --export {fprs[0]} returned no armored key")
        key = Key(name, uid, fprs[0], armored)
        self.keys[name] = key
        return key

    def close(self):
        # End the gpg-agent this home started (only ours: it is addressed by --homedir).
        run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], env=self.env, check=False)


# ---------------------------------------------------------------- build and sign

def rpmbuild(spec: Path, topdir: Path, target: str, *, stage: Path, sde: int, payload: str, file_digest: str,
             buildhost: str, log: Path, env: dict | None = None):
    digest_ids = {"md5": 1, "sha1": 2, "sha256": 8, "sha384": 9, "sha512": 10}
    cmd = ["rpmbuild", "-bb", "--target", target,
           "--define", f"_topdir {topdir}", "--define", f"_tmppath {topdir}/tmp",
           "--define", "use_source_date_epoch_as_buildtime 1",
           "--define", "clamp_mtime_to_source_date_epoch 1",
           "--define", f"_buildhost {buildhost}",
           "--define", f"factory_stage {stage}",
           "--define", f"_binary_payload {payload}",
           "--define", f"_binary_filedigest_algorithm {digest_ids[file_digest]}",
           str(spec)]
    (topdir / "tmp").mkdir(parents=True, exist_ok=True)
    run(cmd, env={"SOURCE_DATE_EPOCH": str(sde), "TZ": "UTC", **(env or {})}, log=log,
        what=f"rpmbuild of {spec.name}")


def rpmsign(files: list[Path], keyring: Keyring, key: Key, log: Path):
    if not files:
        return
    gpg = shutil.which("gpg")
    cmd = ["rpmsign", "--addsign",
           "--define", f"__gpg {gpg}", "--define", f"_gpg_path {keyring.home}",
           "--define", f"_gpg_name {key.fingerprint}", "--define", "_gpg_digest_algo sha256",
           *map(str, files)]
    run(cmd, env=keyring.env, log=log, what=f"rpmsign with {key.name} ({len(files)} packages)")


# ---------------------------------------------------------------- root filesystem

def rpm_root(root: Path, *args: str, what: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["rpm", "--root", str(root), *DB_DEFINES, *args], what=what, check=check)


def create_root(root: Path, key_files: list[Path], rpms: list[Path], log: Path):
    root.mkdir(parents=True)
    rpm_root(root, "--initdb", what="rpm --initdb")
    if key_files:
        rpm_root(root, "--import", *map(str, key_files), what="rpm --import of the test keys")
    cmd = ["rpm", "--root", str(root), *DB_DEFINES, "-i", "--nodeps", "--noscripts",
           "--ignorearch", "--ignoreos", *map(str, rpms)]
    run(cmd, log=log, what=f"rpm -i of {len(rpms)} packages")
    db = root / DBPATH.lstrip("/") / "rpmdb.sqlite"
    if not db.is_file():
        raise FactoryError(f"rpm did not create a sqlite database at {db} "
                           f"(_db_backend is {rpm_eval('%_db_backend')!r})")


def tidy_db(root: Path):
    """Fold any WAL back into rpmdb.sqlite and drop lock/journal files rpm leaves behind."""
    dbdir = root / DBPATH.lstrip("/")
    wal = dbdir / "rpmdb.sqlite-wal"
    if wal.exists() and wal.stat().st_size > 0:
        con = sqlite3.connect(dbdir / "rpmdb.sqlite")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
    for p in dbdir.iterdir():
        if p.name in (".rpm.lock", "rpmdb.sqlite-wal", "rpmdb.sqlite-shm") or p.name.startswith("__db."):
            p.unlink()
    leftovers = sorted(p.name for p in dbdir.iterdir())
    if leftovers != ["rpmdb.sqlite"]:
        raise FactoryError(f"unexpected files in {dbdir}: {leftovers}")


def installed(root: Path) -> list[dict]:
    """NEVRA, signature and file count of every installed header, as rpm itself reports them."""
    qf = ("%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{RSAHEADER:pgpsig}|%{DSAHEADER:pgpsig}"
          "|%{FILENAMES:arraysize}|%{SOURCERPM}\\n")
    out = rpm_root(root, "-qa", "--qf", qf, what="rpm -qa").stdout
    rows = []
    for line in out.splitlines():
        name, epoch, version, release, arch, rsa, dsa, nfiles, srpm = line.split("|")
        sig = rsa if rsa != "(none)" else dsa
        m = re.search(r"Key ID ([0-9a-f]{16})", sig)
        rows.append({"name": name, "epoch": None if epoch == "(none)" else int(epoch), "version": version,
                     "release": release, "arch": arch, "keyid": m.group(1) if m else None,
                     "sig": sig, "files": 0 if nfiles == "(none)" else int(nfiles), "srpm": srpm})
    return rows


def unresolved(root: Path) -> list[str]:
    """`PKGNAME: requirement` for each dependency no installed package satisfies."""
    proc = rpm_root(root, "-Va", "--nofiles", "--noscripts", what="rpm -Va --nofiles", check=False)
    result = []
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"\s+(.+) is needed by (?:\(installed\) )?(\S+)$", line)
        if m:
            result.append(f"{m.group(2)}: {m.group(1)}")
    if proc.returncode != 0 and not result:
        raise FactoryError(f"rpm -Va --nofiles failed without naming a dependency:\n{proc.stderr}")
    return sorted(result)


def verify_files(root: Path) -> list[str]:
    """rpm -Va file verification lines (modified or missing files)."""
    proc = rpm_root(root, "-Va", "--nodeps", "--noscripts", what="rpm -Va --nodeps", check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    errors = [line for line in proc.stderr.splitlines() if line.strip() and DEBIAN_NAG not in line]
    if errors:
        raise FactoryError("rpm -Va printed errors:\n" + _indent("\n".join(errors[:40])))
    return lines


def check_signatures(rpms: list[Path], key_files: list[Path], tmpdb: Path) -> dict[str, str]:
    """rpm -K each package against a scratch db holding only the test keys; path -> verdict."""
    tmpdb.mkdir(parents=True)
    base = ["rpm", "--dbpath", str(tmpdb), "--define", "_db_backend sqlite"]
    run([*base, "--initdb"], what="rpm --initdb (scratch keyring db)")
    if key_files:
        run([*base, "--import", *map(str, key_files)], what="rpm --import (scratch keyring db)")
    proc = run([*base, "-K", *map(str, rpms)], what="rpm -K", check=False)
    verdicts = {}
    for line in proc.stdout.splitlines():
        path, _, verdict = line.rpartition(": ")
        verdicts[path] = verdict.strip()
    missing = [str(p) for p in rpms if str(p) not in verdicts]
    if missing:
        raise FactoryError(f"rpm -K reported nothing for {missing[:5]}; stderr:\n{proc.stderr[-2000:]}")
    return verdicts
