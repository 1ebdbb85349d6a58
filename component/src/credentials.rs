//! Key and CSR generation and certificate checks, through `rotator-keys`, on the file store.

use rotator_protocol::{DeviceFailureReason, KeyAlgorithm, SigningAlgorithm};

use crate::store::FileStore;

/// Generates a key of `key_algorithm`, stores it as the pending key and returns a CSR signed
/// with `signing_algorithm` whose subject is the live certificate's.
pub fn generate_key_and_csr(
    store: &FileStore,
    key_algorithm: KeyAlgorithm,
    signing_algorithm: SigningAlgorithm,
) -> Result<String, (DeviceFailureReason, String)> {
    let csr_failed = |error: String| (DeviceFailureReason::CsrGenerationFailed, error);
    let current = store
        .read_live_certificate()
        .map_err(|error| csr_failed(error.to_string()))?;
    let key = rotator_keys::generate_key(key_algorithm).map_err(|error| {
        (
            DeviceFailureReason::KeyGenerationFailed,
            format!("failed to generate a {key_algorithm} key: {error}"),
        )
    })?;
    let csr = rotator_keys::build_csr(&key, signing_algorithm, &current).map_err(|error| {
        csr_failed(format!(
            "failed to build a {signing_algorithm} CSR for a {key_algorithm} key: {error}"
        ))
    })?;
    store
        .write_pending_key(key.private_key_pem.expose())
        .map_err(|error| (DeviceFailureReason::KeyGenerationFailed, error.to_string()))?;
    Ok(csr)
}

/// Checks that `certificate_pem` is a certificate for the pending key, of `key_algorithm`.
pub fn check_certificate(
    store: &FileStore,
    certificate_pem: &str,
    key_algorithm: KeyAlgorithm,
) -> Result<(), String> {
    let found = rotator_keys::certificate_key_algorithm(certificate_pem)
        .map_err(|error| format!("invalid certificate: {error}"))?;
    if found != key_algorithm {
        return Err(format!(
            "the certificate carries a {found} key but the job generated a {key_algorithm} key"
        ));
    }
    let key = store
        .read_pending_key()
        .map_err(|error| error.to_string())?;
    match rotator_keys::certificate_matches_key(certificate_pem, &key) {
        Ok(true) => Ok(()),
        Ok(false) => Err("the certificate does not carry the generated public key".to_owned()),
        Err(error) => Err(format!(
            "failed to compare the certificate and the key: {error}"
        )),
    }
}
