//! ndb `Packages.db` reader. (To be implemented.)
use super::{DbError, RawHeader};
use std::path::Path;

pub fn read_blobs(path: &Path) -> Result<Vec<RawHeader>, DbError> {
    Err(DbError::Corrupt { path: path.to_path_buf(), format: "ndb", offset: 0, reason: "ndb reader not implemented yet".into() })
}
