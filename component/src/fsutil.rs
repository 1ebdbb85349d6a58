//! Durable file replacement: write a temporary file beside the target, fsync it, rename it over
//! the target and fsync the directory, so that after a crash or power cut the path contains either
//! the old or the new content in full.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Permissions for private keys and the pending key.
pub const KEY_MODE: u32 = 0o600;
/// Permissions for certificates and the journal.
pub const PUBLIC_MODE: u32 = 0o644;

/// Replaces `path` with `contents` atomically and durably, with permissions `mode`.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let directory = parent(path);
    let temporary = temporary_path(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temporary)?;
        // The mode given to open applies only when the file is created, and a stale temporary
        // file from a crash may exist with other permissions.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        sync_directory(&directory)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Deletes `path` if it exists and makes the deletion durable.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_directory(&parent(path)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Fsyncs a directory so that renames and deletions in it survive a power cut.
pub fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent(path).join(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_atomic_replaces_content_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new", KEY_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file must be gone");
    }

    #[test]
    fn stale_temporary_file_is_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let stale = temporary_path(&path);
        fs::write(&stale, "partial content that is longer").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o666)).unwrap();
        write_atomic(&path, b"k", KEY_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"k");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn remove_durably_ignores_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        remove_durably(&path).unwrap();
        fs::write(&path, "x").unwrap();
        remove_durably(&path).unwrap();
        assert!(!path.exists());
    }
}
