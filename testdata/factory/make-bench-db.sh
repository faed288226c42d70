#!/usr/bin/env bash
# Build the benchmark image (2,000 packages, 200,000 file entries) from
# testdata/recipes/bench.toml into DIR (default: target/bench-image under the repository root).
# Skips the build when DIR already holds a complete build of the same recipe and factory
# sources (manifest.json is written last and records an input fingerprint). Never commit DIR.
#
#   testdata/factory/make-bench-db.sh [DIR] [extra factory.py options]
#
# For the drift throughput benchmark (hashing must dominate, so files need realistic sizes):
#   testdata/factory/make-bench-db.sh target/bench-sized --packages 3000 --size-profile fedora --compose
# gives 3,000 packages x 100 entries whose data files are mostly small with a tail of
# 100 KB-10 MB (~2.8 GB of content; the root takes ~4 GB of disk, plus a ~2.8 GB docker-archive).
#
# The rpm database is then DIR/rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/bench-image}"
shift || true

missing=()
for tool in rpm rpmbuild rpmsign gpg gpgconf python3 flock; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "make-bench-db: missing ${missing[*]}; on Debian/Ubuntu: apt-get install -y rpm gnupg" >&2
  exit 2
fi

mkdir -p "$(dirname "$out")"
# One builder at a time per output directory (a benchmark and a test may both ask for it).
exec 9>"$out.lock"
flock 9
python3 "$here/factory.py" "$repo/testdata/recipes/bench.toml" --out "$out" --skip-if-complete "$@"
echo "$out/rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite"
