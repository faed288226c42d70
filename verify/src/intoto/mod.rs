//! in-toto layout verification (signatures, expiry, thresholds, artifact rules).
//! Work in progress.
