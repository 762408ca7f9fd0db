//! The content-addressed cache of pulled blobs: `blobs/sha256/<hex>` under the cache folder.
//! A blob is checked against its digest before it is stored (written to a temporary file in
//! the same folder, then renamed into place) and again every time it is read, so a file changed
//! on disk is never used.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::DistributionError;

/// The blob cache under one folder.
pub struct BlobCache {
    dir: PathBuf,
}

/// The `sha256:<hex>` digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Fails unless `bytes` hash to `expected`; `what` names the content in the message.
pub fn verify(what: &str, expected: &str, bytes: &[u8]) -> Result<(), DistributionError> {
    let actual = sha256(bytes);
    match actual == expected {
        true => Ok(()),
        false => Err(DistributionError::DigestMismatch {
            what: what.to_owned(),
            expected: expected.to_owned(),
            actual,
        }),
    }
}

impl BlobCache {
    /// The cache under `dir` (created on the first store).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.join("blobs").join("sha256"),
        }
    }

    /// The blob named `digest`, if held; a held blob that no longer matches its digest is an
    /// error, not a miss.
    pub fn read(&self, digest: &str) -> Result<Option<Vec<u8>>, DistributionError> {
        let path = self.path(digest)?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(&path, &error)),
        };
        verify(&format!("cached blob {}", path.display()), digest, &bytes)?;
        Ok(Some(bytes))
    }

    /// Stores `bytes` as `digest` after checking they hash to it.
    pub fn store(&self, digest: &str, bytes: &[u8]) -> Result<(), DistributionError> {
        verify("pulled blob", digest, bytes)?;
        let path = self.path(digest)?;
        std::fs::create_dir_all(&self.dir).map_err(|error| io_error(&self.dir, &error))?;
        let mut temporary = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(|error| io_error(&self.dir, &error))?;
        temporary
            .write_all(bytes)
            .and_then(|()| temporary.as_file().sync_all())
            .map_err(|error| io_error(temporary.path(), &error))?;
        temporary
            .persist(&path)
            .map_err(|error| io_error(&path, &error.error))?;
        Ok(())
    }

    fn path(&self, digest: &str) -> Result<PathBuf, DistributionError> {
        super::reference::check_digest(digest).map_err(DistributionError::Reference)?;
        Ok(self.dir.join(&digest["sha256:".len()..]))
    }
}

fn io_error(path: &Path, error: &std::io::Error) -> DistributionError {
    DistributionError::Io(format!(
        "plugin cache {}: {error}; check that the folder given by --plugin-cache exists and is writable by capstan",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_under_its_digest_and_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        let digest = sha256(b"component");
        assert_eq!(cache.read(&digest).unwrap(), None);
        cache.store(&digest, b"component").unwrap();
        assert_eq!(
            cache.read(&digest).unwrap().as_deref(),
            Some(&b"component"[..])
        );
        let file = dir.path().join("blobs/sha256").join(&digest[7..]);
        std::fs::write(file, b"tampered").unwrap();
        let error = cache.read(&digest).unwrap_err().to_string();
        assert!(
            error.contains(&digest) && error.contains(&sha256(b"tampered")),
            "{error}"
        );
    }

    #[test]
    fn content_that_does_not_match_its_digest_is_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        let digest = sha256(b"expected");
        assert!(cache.store(&digest, b"other").is_err());
        assert_eq!(cache.read(&digest).unwrap(), None);
    }
}
