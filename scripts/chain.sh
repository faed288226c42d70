#!/usr/bin/env bash
# The whole chain on the committed sample image, end to end, as a release pipeline and an
# auditor would run it:
#
#   sbom     an SPDX 2.3 SBOM of the image
#   attest   keys for each role; SLSA provenance of the image (recipe, overlays, every RPM),
#            per-package provenance, the SBOM as a signed attestation; an in-toto layout for
#            fedora-packages -> overlays -> compose -> sbom -> release and a signed link per step
#   verify   every RPM header signature, every file against its signed header, every
#            attestation and the layout, under a policy; ends with the verification report
#
# Usage: scripts/chain.sh [WORKDIR]    (default target/chain; recreated on each run)
# Exit status: verify's (0 trusted, 1 not trusted, 2 usage or input error).
# The keys are generated for this run and are not protected: this is a demonstration and a
# test of the tools, not a key ceremony (see docs/attest.md for encrypted and PKCS#11 keys).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-target/chain}
# Fixed times: the SBOM and statements are byte-identical between runs (Ed25519 signatures).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}

cargo build --release --quiet -p sbom -p attest -p verify
BIN=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)
sbom() { "$BIN/sbom" "$@"; }
attest() { "$BIN/attest" "$@"; }
verify() { "$BIN/verify" "$@"; }

rm -rf "$W"
mkdir -p "$W/keys" "$W/links"
# The pipeline's work tree: the packages it installed and the image it composed.
cp -a testdata/sample/repo testdata/sample/rootfs "$W/"
cp testdata/recipes/sample.toml "$W/recipe.toml"

step() { printf '\n== %s\n' "$*" >&2; }

step "keys: one per role (Ed25519, ECDSA P-256, RSA-3072)"
for k in owner:ecdsa-p256 packager:ed25519 overlayer:ecdsa-p256 composer:rsa \
         sbomer:ed25519 releaser:ecdsa-p256 builder:ecdsa-p256; do
  attest keygen --type "${k#*:}" -o "$W/keys/${k%%:*}.key" >/dev/null
done

step "sbom: SPDX 2.3 of the image"
sbom "$W/rootfs" -f spdx-json -o "$W/sample.spdx.json"

step "attest: SLSA provenance of the image, of every package, and the SBOM attestation"
attest provenance "$W/rootfs" --key "$W/keys/builder.key" --recipe "$W/recipe.toml" \
  --repo "$W/repo" --builder-id https://example.invalid/fedora-attest/builders/sample-ci \
  --invocation-id "chain.sh" -o "$W/provenance.sigstore.json"
attest packages "$W/rootfs" --key "$W/keys/builder.key" --repo "$W/repo" \
  --builder-id https://example.invalid/fedora-attest/builders/sample-ci \
  -o "$W/packages.intoto.jsonl"
attest sbom "$W/rootfs" --format spdx-json --key "$W/keys/sbomer.key" -o "$W/sbom.sigstore.json"

step "attest: in-toto layout and one signed link per step"
cat >"$W/chain.toml" <<'EOF'
readme = "Azure Linux sample: Fedora packages -> overlays -> compose -> sbom -> release"
expires_in_days = 365

[keys]
packager = "keys/packager.key.pub"
overlayer = "keys/overlayer.key.pub"
composer = "keys/composer.key.pub"
sbomer = "keys/sbomer.key.pub"
releaser = "keys/releaser.key.pub"

[[step]]
name = "fedora-packages"
functionaries = ["packager"]
expected_products = [["CREATE", "repo/*"], ["DISALLOW", "*"]]

[[step]]
name = "overlays"
functionaries = ["overlayer"]
expected_materials = [["ALLOW", "recipe.toml"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "rootfs/etc/motd.d/azl"], ["CREATE", "rootfs/etc/sample-overlay.conf"], ["DISALLOW", "*"]]

[[step]]
name = "compose"
functionaries = ["composer"]
expected_command = ["compose", "recipe.toml"]
expected_materials = [
  ["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "fedora-packages"],
  ["ALLOW", "recipe.toml"],
  ["DISALLOW", "*"],
]
expected_products = [
  ["MATCH", "rootfs/etc/motd.d/azl", "WITH", "PRODUCTS", "FROM", "overlays"],
  ["MATCH", "rootfs/etc/sample-overlay.conf", "WITH", "PRODUCTS", "FROM", "overlays"],
  ["CREATE", "rootfs/*"],
  ["DISALLOW", "*"],
]

[[step]]
name = "sbom"
functionaries = ["sbomer"]
expected_materials = [["MATCH", "rootfs/*", "WITH", "PRODUCTS", "FROM", "compose"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "sample.spdx.json"], ["DISALLOW", "*"]]

[[step]]
name = "release"
functionaries = ["releaser"]
expected_materials = [
  ["MATCH", "sample.spdx.json", "WITH", "PRODUCTS", "FROM", "sbom"],
  ["ALLOW", "provenance.sigstore.json"],
  ["ALLOW", "packages.intoto.jsonl"],
  ["ALLOW", "sbom.sigstore.json"],
  ["DISALLOW", "*"],
]
expected_products = [["DISALLOW", "*"]]
EOF
attest layout "$W/chain.toml" --key "$W/keys/owner.key" -o "$W/root.layout"
# Artifacts are recorded relative to the work tree, as the layout's rules name them.
link() { (cd "$W" && "$BIN/attest" link -o links "$@"); }
link fedora-packages --key keys/packager.key --products repo
link overlays --key keys/overlayer.key --materials recipe.toml \
  --products rootfs/etc/motd.d/azl rootfs/etc/sample-overlay.conf
link compose --key keys/composer.key --materials repo recipe.toml --products rootfs \
  -- compose recipe.toml
link sbom --key keys/sbomer.key --materials rootfs --products sample.spdx.json
link release --key keys/releaser.key \
  --materials sample.spdx.json provenance.sigstore.json packages.intoto.jsonl sbom.sigstore.json

step "policy: whom to trust for what, and what to accept"
cat >"$W/policy.toml" <<'EOF'
[keys]
rpm = ["@SAMPLE@/keys/RPM-GPG-KEY-test-rsa4096.asc",
       "@SAMPLE@/keys/RPM-GPG-KEY-test-ed25519.asc"]
provenance = ["keys/builder.key.pub"]
sbom = ["keys/sbomer.key.pub"]
layout = ["keys/owner.key.pub"]

[packages]
# The sample's site configuration package (local-config) is deliberately unsigned.
require_signed = false
forbidden = ["telnet*", "rsh", "rsh-*"]

[attestations]
max_age = "3650d"
required_predicates = ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document/v2.3"]
required_package_predicates = ["https://slsa.dev/provenance/v1"]
allowed_builders = ["https://example.invalid/fedora-attest/builders/sample-ci"]

[drift]
# Made by the image build, owned by no package. The two overlays are also named, with their
# digests, by the verified provenance; the os-release files and the rpmdb link are not.
added = ["/etc/os-release", "/usr/lib/os-release", "/var/lib/rpm"]
EOF
sed -i "s|@SAMPLE@|$PWD/testdata/sample|" "$W/policy.toml"

step "verify: headers, files, attestations, layout, policy"
verify image "$W/rootfs" --policy "$W/policy.toml" \
  --attestation "$W/provenance.sigstore.json" \
  --attestation "$W/packages.intoto.jsonl" \
  --attestation "$W/sbom.sigstore.json" \
  --layout "$W/root.layout" --links "$W/links"
