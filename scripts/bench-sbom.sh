#!/usr/bin/env bash
# Measures `sbom` on the 2,000-package / 200,000-file bench image: whole-binary wall time
# and peak memory per format (GNU time), then the criterion benchmarks of each stage.
# Usage: scripts/bench-sbom.sh [IMAGE_DIR]   (default target/bench-image; built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-target/bench-image}
[ -d "$img/rootfs" ] || testdata/factory/make-bench-db.sh "$img"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
cargo build --release -q -p sbom
echo "machine: $(nproc) cores; image: $img"
for f in spdx-json spdx3-json cyclonedx-json; do
  out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out.time" target/release/sbom -q -f "$f" -o "$out" "$img/rootfs"
  read -r wall kb < "$out.time"
  printf '%-15s wall %6.2f s   peak RSS %5d MB   output %4d MB\n' "$f" "$wall" $((kb / 1024)) $(( $(stat -c %s "$out") / 1048576 ))
  rm -f "$out" "$out.time"
done
SBOM_BENCH_IMAGE="$img" cargo bench -q -p sbom --bench sbom
