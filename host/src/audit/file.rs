//! The audit file: JSON Lines appended to `FILE`, rotated by size. When a line would take the
//! file past its limit, `FILE.N-1` becomes `FILE.N` (the oldest beyond `keep` is removed),
//! `FILE` becomes `FILE.1`, and a new `FILE` is started. The file is created owner-only.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The audit file could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("audit file {path}: {source}; check that capstan's user may write that folder")]
pub struct AuditFileError {
    path: PathBuf,
    source: std::io::Error,
}

/// An append-only file rotated by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    keep: usize,
}

impl RotatingFile {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path, max_size: u64, keep: usize) -> Result<Self, AuditFileError> {
        let file = open_append(path).map_err(|source| AuditFileError {
            path: path.to_owned(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            path: path.to_owned(),
            file,
            size,
            max_size: max_size.max(1),
            keep,
        })
    }

    /// Appends `line` and a newline, rotating first if the file would grow past its limit.
    pub fn append(&mut self, line: &str) -> Result<(), AuditFileError> {
        let bytes = line.len() as u64 + 1;
        if self.size > 0 && self.size + bytes > self.max_size {
            self.rotate().map_err(|source| self.error(source))?;
        }
        let mut buffer = Vec::with_capacity(line.len() + 1);
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
        self.file
            .write_all(&buffer)
            .map_err(|source| self.error(source))?;
        self.size += bytes;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(self.numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn error(&self, source: std::io::Error) -> AuditFileError {
        AuditFileError {
            path: self.path.clone(),
            source,
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_by_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut file = RotatingFile::open(&path, 25, 2).unwrap();
        for n in 0..8 {
            file.append(&format!("{{\"n\":{n:>10}}}")).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path).lines().count(), 1);
        assert!(read(&path).contains("7}"));
        assert!(read(&dir.path().join("audit.jsonl.1")).contains("6}"));
        assert!(read(&dir.path().join("audit.jsonl.2")).contains("5}"));
        assert!(!dir.path().join("audit.jsonl.3").exists());
    }

    #[test]
    fn reopening_appends_and_counts_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        RotatingFile::open(&path, 1 << 20, 1)
            .unwrap()
            .append("one")
            .unwrap();
        let mut again = RotatingFile::open(&path, 1 << 20, 1).unwrap();
        assert_eq!(again.size, 4);
        again.append("two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_to_capstan() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        RotatingFile::open(&path, 100, 1).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_the_file() {
        let error = RotatingFile::open(Path::new("/nonexistent/dir/audit.jsonl"), 100, 1)
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/dir/audit.jsonl"), "{error}");
    }
}
