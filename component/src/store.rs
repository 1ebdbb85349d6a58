//! File credential store: the live certificate and key, their backup, and the pending key.
//!
//! Every write goes through [`write_atomic`]. The backup is written certificate first, key
//! second, and the live pair is only touched once both backup files exist, so a complete backup
//! (both files present) always contains the old matching pair while the live files change.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{KEY_MODE, PUBLIC_MODE, remove_durably, write_atomic};

/// Errors from the credential store. Messages name files, never their contents. The I/O error
/// is part of the message and is not also returned as the source, so a chain prints it once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to read {path}: {error}")]
    Read { path: PathBuf, error: io::Error },
    #[error("failed to write {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    #[error("failed to delete {path}: {error}")]
    Delete { path: PathBuf, error: io::Error },
    #[error("no pending key at {0}: the key generated for this job is gone")]
    NoPendingKey(PathBuf),
}

/// A certificate file and its private key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairPaths {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// Every file the store manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreLayout {
    /// The pair the device connects with.
    pub live: PairPaths,
    /// The old pair, kept from before the install until the commit or the rollback.
    pub backup: PairPaths,
    /// The key generated for the current job, until it is installed or discarded.
    pub pending_key: PathBuf,
}

impl StoreLayout {
    /// Places the backup and the pending key in `work_dir`.
    pub fn new(live: PairPaths, work_dir: &Path) -> Self {
        Self {
            live,
            backup: PairPaths {
                certificate: work_dir.join("backup").join("certificate.pem"),
                private_key: work_dir.join("backup").join("private.key"),
            },
            pending_key: work_dir.join("pending").join("private.key"),
        }
    }
}

/// Credential store backed by PEM files.
#[derive(Debug, Clone)]
pub struct FileStore {
    layout: StoreLayout,
}

impl FileStore {
    /// Opens the store, creating the backup and pending directories (mode 0700).
    pub fn open(layout: StoreLayout) -> Result<Self, StoreError> {
        for path in [&layout.backup.certificate, &layout.pending_key] {
            if let Some(directory) = path.parent() {
                create_private_dir(directory)?;
            }
        }
        Ok(Self { layout })
    }

    pub fn layout(&self) -> &StoreLayout {
        &self.layout
    }

    pub fn read_live_certificate(&self) -> Result<String, StoreError> {
        read_text(&self.layout.live.certificate)
    }

    pub fn write_pending_key(&self, private_key_pem: &str) -> Result<(), StoreError> {
        write(
            &self.layout.pending_key,
            private_key_pem.as_bytes(),
            KEY_MODE,
        )
    }

    pub fn read_pending_key(&self) -> Result<String, StoreError> {
        match fs::read_to_string(&self.layout.pending_key) {
            Ok(text) => Ok(text),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NoPendingKey(self.layout.pending_key.clone()))
            }
            Err(error) => Err(StoreError::Read {
                path: self.layout.pending_key.clone(),
                error,
            }),
        }
    }

    /// Copies the live pair to the backup, byte for byte.
    pub fn back_up(&self) -> Result<(), StoreError> {
        let certificate = read_bytes(&self.layout.live.certificate)?;
        let key = read_bytes(&self.layout.live.private_key)?;
        // Remove a partial backup first, so that "both files exist" keeps meaning "complete".
        remove(&self.layout.backup.private_key)?;
        write(&self.layout.backup.certificate, &certificate, PUBLIC_MODE)?;
        write(&self.layout.backup.private_key, &key, KEY_MODE)
    }

    /// Whether both backup files exist, which means the backup contains the old pair in full.
    pub fn backup_complete(&self) -> bool {
        self.layout.backup.certificate.is_file() && self.layout.backup.private_key.is_file()
    }

    /// Writes the certificate and the pending key over the live pair. Requires a complete
    /// backup, so that a crash between the two renames leaves a matching pair on disk.
    pub fn install(&self, certificate_pem: &str) -> Result<(), StoreError> {
        let key = self.read_pending_key()?;
        if !self.backup_complete() {
            return Err(StoreError::Write {
                path: self.layout.live.certificate.clone(),
                error: io::Error::other("refusing to install without a complete backup"),
            });
        }
        write(
            &self.layout.live.certificate,
            certificate_pem.as_bytes(),
            PUBLIC_MODE,
        )?;
        write(&self.layout.live.private_key, key.as_bytes(), KEY_MODE)
    }

    /// Restores the live pair from a complete backup and deletes the backup. Without a
    /// complete backup the live pair was never touched, so only the partial backup goes.
    pub fn roll_back(&self) -> Result<(), StoreError> {
        if self.backup_complete() {
            let certificate = read_bytes(&self.layout.backup.certificate)?;
            let key = read_bytes(&self.layout.backup.private_key)?;
            write(&self.layout.live.certificate, &certificate, PUBLIC_MODE)?;
            write(&self.layout.live.private_key, &key, KEY_MODE)?;
        }
        self.delete_backup()
    }

    /// Deletes the backup and the pending key once the new pair is final.
    pub fn commit(&self) -> Result<(), StoreError> {
        self.delete_backup()?;
        self.discard_pending()
    }

    pub fn discard_pending(&self) -> Result<(), StoreError> {
        remove(&self.layout.pending_key)
    }

    fn delete_backup(&self) -> Result<(), StoreError> {
        // Key first: a lone certificate is an incomplete backup and is never restored.
        remove(&self.layout.backup.private_key)?;
        remove(&self.layout.backup.certificate)
    }
}

fn create_private_dir(directory: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
    {
        Ok(()) => Ok(()),
        Err(error) => Err(StoreError::Write {
            path: directory.to_path_buf(),
            error,
        }),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|error| StoreError::Read {
        path: path.to_path_buf(),
        error,
    })
}

fn read_text(path: &Path) -> Result<String, StoreError> {
    fs::read_to_string(path).map_err(|error| StoreError::Read {
        path: path.to_path_buf(),
        error,
    })
}

fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), StoreError> {
    write_atomic(path, contents, mode).map_err(|error| StoreError::Write {
        path: path.to_path_buf(),
        error,
    })
}

fn remove(path: &Path) -> Result<(), StoreError> {
    remove_durably(path).map_err(|error| StoreError::Delete {
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: FileStore,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let live = PairPaths {
            certificate: dir.path().join("certs").join("device.pem.crt"),
            private_key: dir.path().join("certs").join("private.pem.key"),
        };
        fs::create_dir_all(dir.path().join("certs")).unwrap();
        fs::write(&live.certificate, "OLD CERT").unwrap();
        fs::write(&live.private_key, "OLD KEY").unwrap();
        let layout = StoreLayout::new(live, &dir.path().join("work"));
        let store = FileStore::open(layout).unwrap();
        Fixture { _dir: dir, store }
    }

    fn live(store: &FileStore) -> (String, String) {
        let layout = store.layout();
        (
            fs::read_to_string(&layout.live.certificate).unwrap(),
            fs::read_to_string(&layout.live.private_key).unwrap(),
        )
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn install_then_commit_keeps_new_pair() {
        let Fixture { store, _dir } = fixture();
        store.write_pending_key("NEW KEY").unwrap();
        store.back_up().unwrap();
        assert!(store.backup_complete());
        store.install("NEW CERT").unwrap();
        assert_eq!(live(&store), ("NEW CERT".into(), "NEW KEY".into()));
        assert_eq!(mode(&store.layout().live.private_key), 0o600);
        assert_eq!(mode(&store.layout().backup.private_key), 0o600);
        store.commit().unwrap();
        assert!(!store.layout().backup.certificate.exists());
        assert!(!store.layout().backup.private_key.exists());
        assert!(!store.layout().pending_key.exists());
        assert_eq!(live(&store), ("NEW CERT".into(), "NEW KEY".into()));
    }

    #[test]
    fn roll_back_restores_old_pair() {
        let Fixture { store, _dir } = fixture();
        store.write_pending_key("NEW KEY").unwrap();
        store.back_up().unwrap();
        store.install("NEW CERT").unwrap();
        store.roll_back().unwrap();
        assert_eq!(live(&store), ("OLD CERT".into(), "OLD KEY".into()));
        assert!(!store.backup_complete());
    }

    #[test]
    fn roll_back_after_half_install_restores_old_pair() {
        let Fixture { store, _dir } = fixture();
        store.back_up().unwrap();
        // A crash between the two renames leaves the new certificate with the old key.
        fs::write(&store.layout().live.certificate, "NEW CERT").unwrap();
        store.roll_back().unwrap();
        assert_eq!(live(&store), ("OLD CERT".into(), "OLD KEY".into()));
    }

    #[test]
    fn roll_back_with_partial_backup_keeps_live_pair() {
        let Fixture { store, _dir } = fixture();
        fs::write(&store.layout().backup.certificate, "OLD CERT").unwrap();
        assert!(!store.backup_complete());
        store.roll_back().unwrap();
        assert_eq!(live(&store), ("OLD CERT".into(), "OLD KEY".into()));
        assert!(!store.layout().backup.certificate.exists());
    }

    #[test]
    fn install_requires_pending_key_and_backup() {
        let Fixture { store, _dir } = fixture();
        assert!(matches!(
            store.install("NEW CERT"),
            Err(StoreError::NoPendingKey(_))
        ));
        store.write_pending_key("NEW KEY").unwrap();
        assert!(store.install("NEW CERT").is_err());
        assert_eq!(live(&store), ("OLD CERT".into(), "OLD KEY".into()));
    }

    #[test]
    fn back_up_again_replaces_partial_backup() {
        let Fixture { store, _dir } = fixture();
        fs::write(&store.layout().backup.private_key, "STALE").unwrap();
        store.back_up().unwrap();
        let backup = &store.layout().backup;
        assert_eq!(fs::read_to_string(&backup.certificate).unwrap(), "OLD CERT");
        assert_eq!(fs::read_to_string(&backup.private_key).unwrap(), "OLD KEY");
    }

    #[test]
    fn errors_name_the_file() {
        let Fixture { store, _dir } = fixture();
        fs::remove_file(&store.layout().live.private_key).unwrap();
        let error = store.back_up().unwrap_err().to_string();
        assert!(error.contains("private.pem.key"), "{error}");
    }
}
