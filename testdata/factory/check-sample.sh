#!/usr/bin/env bash
# Check a built image (default: the committed testdata/sample) with Debian's rpm, the oracle:
#   1. rpm -qa lists exactly the packages in manifest.json (plus one gpg-pubkey per key);
#   2. rpm -K says "digests signatures OK" for every signed .rpm in repo/ and "digests OK"
#      for the unsigned ones, with only the keys in keys/ imported into a scratch db;
#   3. rpm -Va finds no drift except what manifest.json records (mtime, owner and group are
#      ignored: git keeps none of them);
#   4. the unresolved requirements are the ones manifest.json records.
# Works on a copy of the root, so rpm's -shm/-wal files never land in the source tree.
#
#   testdata/factory/check-sample.sh [IMAGE_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="$(cd "${1:-$here/../sample}" && pwd)"
for tool in rpm python3; do
  command -v "$tool" >/dev/null || { echo "check-sample: $tool not found (apt-get install -y rpm)" >&2; exit 2; }
done
if [[ ! -f "$image/manifest.json" ]]; then
  echo "check-sample: $image/manifest.json missing: not a complete factory build" >&2; exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -a "$image/rootfs" "$tmp/rootfs"
q=(rpm --root "$tmp/rootfs" --dbpath /usr/lib/sysimage/rpm --define "_db_backend sqlite")
fail=0
check() { # name, expected, actual
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else
    echo "FAIL $1"; diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/     /'; fail=1; fi
}
manifest() { python3 -c "import json,sys; m=json.load(open('$image/manifest.json')); $1"; }

check "rpm -qa matches manifest.json" \
  "$(manifest 'print("\n".join(sorted([p["nevra"] for p in m["packages"]] + [k["rpm_name"] for k in m["keys"]])))')" \
  "$("${q[@]}" -qa --qf '%{NEVRA}\n' | sed -E 's/^(gpg-pubkey-[0-9a-f]{8})-.*/\1/' | sort)"

mkdir "$tmp/keydb"
k=(rpm --dbpath "$tmp/keydb" --define "_db_backend sqlite")
"${k[@]}" --initdb
"${k[@]}" --import "$image"/keys/*.asc
check "rpm -K of repo/*.rpm" \
  "$(manifest 'print("\n".join(sorted(p["rpm"]+": digests "+("OK" if p["signed_by"]=="none" else "signatures OK") for p in m["packages"])))')" \
  "$(cd "$image" && "${k[@]}" -K repo/*.rpm | sort)"

check "rpm -Va (no mtime/user/group)" \
  "$(manifest 'print("\n".join(l[:5]+"..."+l[8:] for l in (m["rpm_verify"] or [])))')" \
  "$("${q[@]}" -Va --nodeps --noscripts --nomtime --nouser --nogroup || true)"

check "unresolved requirements" \
  "$(manifest 'print("\n".join(m["unresolved_requires"]))')" \
  "$("${q[@]}" -Va --nofiles --noscripts 2>&1 | sed -nE 's/^\s+(.+) is needed by (\(installed\) )?(.+)-[^-]+-[^-]+$/\3: \1/p' | sort || true)"

exit $fail
