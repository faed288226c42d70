//! RPM header format: parsing blobs and decoding them into packages.
