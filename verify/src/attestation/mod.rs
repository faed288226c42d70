//! Attestation checks for `verify image` (DSSE envelopes, Sigstore bundles, SLSA
//! provenance, SBOM predicates) against the image and the policy. Work in progress.
