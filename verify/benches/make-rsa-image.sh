#!/usr/bin/env bash
# Builds the image of verify/benches/rpm_header_sigs.rs: 3,000 packages, all
# RSA-4096-signed, into DIR (default target/bench-rsa3000). Does nothing when DIR
# already holds a complete build of the same recipe. Never commit DIR.
#
#   verify/benches/make-rsa-image.sh [DIR] [extra factory.py options]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/bench-rsa3000}"
shift || true
for tool in rpm rpmbuild rpmsign gpg python3 flock; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make-rsa-image: $tool missing (apt-get install -y rpm gnupg)" >&2; exit 2; }
done
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
python3 "$repo/testdata/factory/factory.py" "$here/rsa4096-3000.toml" --out "$out" --skip-if-complete --no-verify-files "$@"
echo "$out/rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite"
