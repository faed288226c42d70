#!/usr/bin/env bash
# Whole-chain verification benchmark (issue #5: "the whole chain for the 3,000-package image
# in at most 5 s"), side by side with the reference verifiers on the same inputs.
#
# Input: a factory image (default target/bench-rsa3000: 3,000 RSA-4096-signed packages,
# ~290,000 files; built by verify/benches/make-rsa-image.sh, ~5 minutes, never committed).
# Produces every attestation with the release `attest` once (not timed), then times:
#   verify image  headers + files + provenance + 3,000 package statements + SBOM + layout
#   verify image  the same without files (--no-verify-files)
#   in-toto-verify            on the same layout and links (pip in-toto)
#   @sigstore/verify          on the provenance and SBOM bundles ($ATTEST_SIGSTORE_JS)
#   rpmkeys --checksig        on the same 3,000 .rpm files (Debian rpm)
#
# Usage: scripts/bench-chain.sh [IMAGE_DIR] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=$(realpath "${1:-target/bench-rsa3000}")
W=${2:-target/bench-chain}
[ -d "$IMG/rootfs" ] || { echo "no image at $IMG (run verify/benches/make-rsa-image.sh)" >&2; exit 2; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}
cargo build --release --quiet -p sbom -p attest -p verify
BIN=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)

rm -rf "$W"; mkdir -p "$W/keys" "$W/links"
W=$(realpath "$W")
for k in owner:ecdsa-p256 packager:ed25519 composer:ecdsa-p256 sbomer:ed25519 builder:ecdsa-p256; do
  "$BIN/attest" keygen --type "${k#*:}" -o "$W/keys/${k%%:*}.key" >/dev/null
done
echo "== producing the attestations (not timed)" >&2
"$BIN/sbom" "$IMG/rootfs" -f spdx-json -o "$W/image.spdx.json"
"$BIN/attest" provenance "$IMG/rootfs" --key "$W/keys/builder.key" --repo "$IMG/repo" \
  --builder-id https://example.invalid/bench -o "$W/provenance.sigstore.json" >/dev/null
"$BIN/attest" packages "$IMG/rootfs" --key "$W/keys/builder.key" \
  --builder-id https://example.invalid/bench -o "$W/packages.intoto.jsonl" >/dev/null
"$BIN/attest" sbom "$IMG/rootfs" --format spdx-json --key "$W/keys/sbomer.key" \
  -o "$W/sbom.sigstore.json" >/dev/null
cat >"$W/chain.toml" <<'EOF'
expires_in_days = 365
[keys]
packager = "keys/packager.key.pub"
composer = "keys/composer.key.pub"
sbomer = "keys/sbomer.key.pub"
[[step]]
name = "packages"
functionaries = ["packager"]
expected_products = [["CREATE", "repo/*"], ["DISALLOW", "*"]]
[[step]]
name = "compose"
functionaries = ["composer"]
expected_materials = [["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "packages"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "rootfs/*"], ["DISALLOW", "*"]]
[[step]]
name = "sbom"
functionaries = ["sbomer"]
expected_materials = [["MATCH", "rootfs/*", "WITH", "PRODUCTS", "FROM", "compose"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "image.spdx.json"], ["DISALLOW", "*"]]
EOF
"$BIN/attest" layout "$W/chain.toml" --key "$W/keys/owner.key" -o "$W/root.layout" >/dev/null
# Links record paths relative to the image directory (repo/, rootfs/, and the SBOM written
# beside them, outside the root filesystem).
cp "$W/image.spdx.json" "$IMG/image.spdx.json"
link() { (cd "$IMG" && "$BIN/attest" link -o "$W/links" "$@" >/dev/null); }
link packages --key "$W/keys/packager.key" --products repo
link compose --key "$W/keys/composer.key" --materials repo --products rootfs
link sbom --key "$W/keys/sbomer.key" --materials rootfs --products image.spdx.json
cat >"$W/policy.toml" <<EOF
[keys]
rpm = ["$IMG/keys/RPM-GPG-KEY-test-rsa4096.asc"]
provenance = ["keys/builder.key.pub"]
sbom = ["keys/sbomer.key.pub"]
layout = ["keys/owner.key.pub"]
[attestations]
max_age = "3650d"
required_predicates = ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document/v2.3"]
required_package_predicates = ["https://slsa.dev/provenance/v1"]
allowed_builders = ["https://example.invalid/bench"]
[drift]
added = ["/etc/os-release", "/usr/lib/os-release", "/var/lib/rpm"]
EOF

# An array, not a function: /usr/bin/time runs programs, not shell functions.
VERIFY=("$BIN/verify" image "$IMG/rootfs" --policy "$W/policy.toml"
  --attestation "$W/provenance.sigstore.json" --attestation "$W/packages.intoto.jsonl"
  --attestation "$W/sbom.sigstore.json" --layout "$W/root.layout" --links "$W/links"
  --json -o "$W/report.json")
time_it() { # label, command...
  local label=$1; shift
  local best="" runs=""
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null 2>"$W/stderr" || true
    read -r secs kb < <(tail -n 1 "$W/time")
    runs="$runs $secs"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; rss=$kb; fi
  done
  printf '%-52s %6.2f s wall (best of 3;%s), peak RSS %4d MB\n' "$label" "$best" "$runs" $((rss / 1024))
}
echo "== load: $(uptime | sed 's/.*load average: //')"
echo "== $(sqlite3 "$IMG/rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite" 'select count(*) from Packages' 2>/dev/null || echo '?') headers, $(wc -l <"$W/packages.intoto.jsonl") package statements"
time_it "verify image: whole chain (headers+files+attest+layout)" "${VERIFY[@]}"
jq -r '"   trusted=\(.trusted) pass=\(.counts.pass) fail=\(.counts.fail) error=\(.counts.error)"' "$W/report.json" 2>/dev/null ||
  python3 -c 'import json,sys;r=json.load(open(sys.argv[1]));print("   trusted=%s counts=%s"%(r["trusted"],r["counts"]))' "$W/report.json"
time_it "verify image: without files (--no-verify-files)" "${VERIFY[@]}" --no-verify-files
if command -v in-toto-verify >/dev/null; then
  time_it "in-toto-verify (layout + links only)" \
    in-toto-verify --layout "$W/root.layout" --verification-keys "$W/keys/owner.key.pub" --link-dir "$W/links"
fi
JS=${ATTEST_SIGSTORE_JS:-/tmp/sigjs}/node_modules
if command -v node >/dev/null && [ -d "$JS/@sigstore/verify" ]; then
  # Signature (and key hint) only: the reference checks no subject and no SBOM content.
  for b in provenance:builder sbom:sbomer; do
    time_it "@sigstore/verify: ${b%%:*} bundle, signature only" env NODE_PATH="$JS" \
      node attest/tests/sigstore_js_verify.js --bundle "$W/${b%%:*}.sigstore.json" --key "$W/keys/${b#*:}.key.pub"
  done
fi
if command -v rpmkeys >/dev/null; then
  tmpdb=$(mktemp -d)
  rpmkeys --dbpath "$tmpdb" --import "$IMG/keys/RPM-GPG-KEY-test-rsa4096.asc"
  time_it "rpmkeys --checksig (headers of the same .rpm files)" \
    sh -c "find '$IMG/repo' -name '*.rpm' -print0 | xargs -0 -n 500 rpmkeys --dbpath '$tmpdb' --checksig"
  rm -rf "$tmpdb"
fi
