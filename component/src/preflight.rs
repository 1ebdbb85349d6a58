//! Start-up checks that run before the first connection attempt, so that a broken credential
//! file or an unsafe work directory stops the agent with one clear error. Without them each
//! connection attempt would fail the same way and be retried forever.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::store::PairPaths;

/// Permissions of the work directory: it contains the journal, the backup pair and the
/// pending key.
pub const WORK_DIR_MODE: u32 = 0o700;

/// A credential file or the work directory that the agent cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("invalid {file_kind} {path}: {reason}")]
    Credential {
        file_kind: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "the private key {key} does not match the certificate {certificate}: configure the key that was generated with this certificate"
    )]
    KeyMismatch { certificate: PathBuf, key: PathBuf },
    #[error(
        "unsafe work directory {path}: mode {mode:04o}, owner uid {owner} (this agent runs as uid {agent}); it must be owned by the agent and writable only by it: run `chmod 700 {path}` and, if needed, `chown {agent} {path}`"
    )]
    UnsafeWorkDir {
        path: PathBuf,
        mode: u32,
        owner: u32,
        agent: u32,
    },
    #[error("invalid work directory {path}: {reason}")]
    WorkDir { path: PathBuf, reason: String },
}

/// Checks that `ca_file` contains at least one certificate.
pub fn check_ca_file(ca_file: &Path) -> Result<(), PreflightError> {
    let file_kind = "CA file";
    let text = read_pem_text(ca_file, file_kind)?;
    let count = count_certificates(&text, ca_file, file_kind)?;
    if count == 0 {
        return Err(credential_error(
            file_kind,
            ca_file,
            "it contains no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(())
}

/// Checks that the live certificate and private key are readable PEM of the right kind and
/// belong together.
pub fn check_live_pair(pair: &PairPaths) -> Result<(), PreflightError> {
    let certificate_pem = read_pem_text(&pair.certificate, "certificate")?;
    let key_pem = read_pem_text(&pair.private_key, "private key")?;

    if count_certificates(&certificate_pem, &pair.certificate, "certificate")? == 0 {
        let reason = if PrivateKeyDer::from_pem_slice(certificate_pem.as_bytes()).is_ok() {
            "it contains a private key, not a certificate: check that the certificate and \
             private key settings are not swapped"
        } else {
            "it contains no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
        };
        return Err(credential_error("certificate", &pair.certificate, reason));
    }

    match PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) {
        Ok(_) => {}
        Err(pem::Error::NoItemsFound) => {
            let contains_certificate = CertificateDer::pem_slice_iter(key_pem.as_bytes())
                .next()
                .is_some_and(|item| item.is_ok());
            let reason = if contains_certificate {
                "it contains a certificate, not a private key: check that the certificate and \
                 private key settings are not swapped"
            } else {
                "it contains no PEM private key (expected PRIVATE KEY, RSA PRIVATE KEY or EC \
                 PRIVATE KEY)"
            };
            return Err(credential_error("private key", &pair.private_key, reason));
        }
        Err(error) => {
            return Err(credential_error(
                "private key",
                &pair.private_key,
                &format!("invalid PEM: {error}"),
            ));
        }
    }

    match rotator_keys::certificate_matches_key(&certificate_pem, &key_pem) {
        Ok(true) => Ok(()),
        Ok(false) => Err(PreflightError::KeyMismatch {
            certificate: pair.certificate.clone(),
            key: pair.private_key.clone(),
        }),
        Err(error) => Err(credential_error(
            "certificate",
            &pair.certificate,
            &format!(
                "failed to compare it with the private key {}: {error}",
                pair.private_key.display()
            ),
        )),
    }
}

/// Logs a warning when the private key file can be read by its group or by other users.
pub fn warn_if_key_readable_by_others(private_key: &Path) {
    let Ok(metadata) = fs::metadata(private_key) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o044 != 0 {
        tracing::warn!(
            path = %private_key.display(),
            "the private key file has mode {mode:04o} and can be read by other users: run `chmod 600 {}`",
            private_key.display()
        );
    }
}

/// Rejects an existing work directory that another user owns or that its group or other users
/// can write to. A missing directory passes, because [`create_work_dir`] creates it later.
pub fn check_work_dir(path: &Path) -> Result<(), PreflightError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(PreflightError::WorkDir {
                path: path.to_path_buf(),
                reason: error.to_string(),
            });
        }
    };
    if !metadata.is_dir() {
        return Err(PreflightError::WorkDir {
            path: path.to_path_buf(),
            reason: "it exists but is not a directory".to_owned(),
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let agent = unsafe { libc::geteuid() };
    if mode & 0o022 != 0 || metadata.uid() != agent {
        return Err(PreflightError::UnsafeWorkDir {
            path: path.to_path_buf(),
            mode,
            owner: metadata.uid(),
            agent,
        });
    }
    Ok(())
}

/// Creates the work directory and its missing parents with mode 0700, then checks it.
pub fn create_work_dir(path: &Path) -> Result<(), PreflightError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(WORK_DIR_MODE)
        .create(path)
        .map_err(|error| PreflightError::WorkDir {
            path: path.to_path_buf(),
            reason: format!("failed to create it: {error}"),
        })?;
    check_work_dir(path)
}

fn credential_error(file_kind: &'static str, path: &Path, reason: &str) -> PreflightError {
    PreflightError::Credential {
        file_kind,
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

/// Reads a credential file as text, naming the problem when it is missing, a directory,
/// unreadable, empty or not text.
fn read_pem_text(path: &Path, file_kind: &'static str) -> Result<String, PreflightError> {
    let metadata = fs::metadata(path).map_err(|error| {
        let reason = match error.kind() {
            io::ErrorKind::NotFound => "the file does not exist".to_owned(),
            _ => error.to_string(),
        };
        credential_error(file_kind, path, &reason)
    })?;
    if metadata.is_dir() {
        return Err(credential_error(
            file_kind,
            path,
            "it is a directory, not a PEM file",
        ));
    }
    let bytes = fs::read(path).map_err(|error| {
        credential_error(file_kind, path, &format!("failed to read it: {error}"))
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(credential_error(file_kind, path, "the file is empty"));
    }
    String::from_utf8(bytes).map_err(|_| {
        credential_error(
            file_kind,
            path,
            "it is not PEM text (DER or other binary data?)",
        )
    })
}

fn count_certificates(
    text: &str,
    path: &Path,
    file_kind: &'static str,
) -> Result<usize, PreflightError> {
    let mut count = 0;
    for item in CertificateDer::pem_slice_iter(text.as_bytes()) {
        item.map_err(|error| credential_error(file_kind, path, &format!("invalid PEM: {error}")))?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn create_work_dir_uses_mode_0700() {
        let dir = tempfile::tempdir().unwrap();
        let work_dir = dir.path().join("var").join("rotator");
        create_work_dir(&work_dir).unwrap();
        assert_eq!(mode_of(&work_dir), 0o700);
    }

    #[test]
    fn check_work_dir_rejects_writable_modes() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o770, 0o702] {
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
            let error = check_work_dir(dir.path()).unwrap_err().to_string();
            assert!(error.contains(&format!("mode {mode:04o}")), "{error}");
            assert!(error.contains("chmod 700"), "{error}");
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        assert!(check_work_dir(dir.path()).is_ok());
    }

    #[test]
    fn check_work_dir_rejects_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("work");
        fs::write(&file, "").unwrap();
        let error = check_work_dir(&file).unwrap_err().to_string();
        assert!(error.contains("not a directory"), "{error}");
    }
}
