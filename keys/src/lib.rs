//! Key pairs, PKCS#10 certificate signing requests and certificate checks for the device agent.
//!
//! The agent makes a new key pair (RSA-2048, RSA-3072, ECDSA P-256, P-384 or P-521) and sends a
//! CSR whose subject is copied byte for byte from its current certificate. It then checks that
//! the certificate it gets back carries the new public key. RSA private keys are written as PKCS#1
//! PEM and EC keys as PKCS#8 PEM, the formats Greengrass reads.
//!
//! Cryptography comes from aws-lc-rs. ECDSA over P-256 and P-384 with a hash other than the
//! curve's own (for example P-256 with SHA-512) uses the RustCrypto `p256` and `p384` crates,
//! because aws-lc-rs offers signing only for the matching pairs. Private key bytes live in
//! buffers that are zeroized on drop and never appear in `Debug` output or error messages.

mod certificate;
mod csr;
mod der;
mod key;

use std::fmt;

use rotator_protocol::{KeyAlgorithm, ProtocolError, SigningAlgorithm};
use zeroize::Zeroizing;

pub use certificate::{
    certificate_id, certificate_key_algorithm, certificate_matches_key, certificate_subject_der,
};
pub use csr::{CsrSigner, build_csr, build_csr_with, ecdsa_signature_der, generate_key_and_csr};
pub use key::{GeneratedKey, PrivateKey, generate_key};

/// Secret PEM text: zeroized on drop, and `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct SecretPem(Zeroizing<String>);

impl SecretPem {
    /// Wraps PEM text that contains a private key.
    pub fn new(pem: String) -> Self {
        SecretPem(Zeroizing::new(pem))
    }

    /// Returns the PEM text, for writing it to its file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretPem {
    fn from(pem: String) -> Self {
        SecretPem::new(pem)
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Errors of this crate. No message includes private key material.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The signing algorithm cannot be used with the key algorithm.
    #[error(transparent)]
    Algorithm(#[from] ProtocolError),
    #[error("failed to generate a {0} key pair: the aws-lc random generator or key check failed")]
    KeyGeneration(KeyAlgorithm),
    #[error("failed to sign the CSR with {signing}: {reason}")]
    Signing {
        signing: SigningAlgorithm,
        reason: String,
    },
    #[error(
        "the signature made with {signing} does not verify against the signer's public key: check that the signer uses the private key that matches its public key"
    )]
    SignatureCheck { signing: SigningAlgorithm },
    #[error(
        "invalid public key from the signer for {key}: expected a DER SubjectPublicKeyInfo of that key type"
    )]
    InvalidPublicKey { key: KeyAlgorithm },
    #[error(
        "invalid raw ECDSA signature of {length} bytes: expected r || s, two halves of equal length"
    )]
    InvalidFixedSignature { length: usize },
    #[error(
        "the public key does not belong to the private key: pass the public_key_der generated with the private_key_pem"
    )]
    PublicKeyMismatch,
    #[error("invalid subject name: expected the DER encoding of an X.509 Name (a SEQUENCE)")]
    InvalidSubject,
    #[error("invalid certificate PEM: {0}")]
    InvalidCertificatePem(String),
    #[error("no certificate in the PEM input: expected a -----BEGIN CERTIFICATE----- block")]
    NoCertificate,
    #[error("invalid X.509 certificate: {0}")]
    InvalidCertificate(String),
    #[error(
        "unsupported certificate key {0}: expected RSA-2048, RSA-3072, ECDSA P-256, P-384 or P-521"
    )]
    UnsupportedCertificateKey(String),
    /// The private key PEM could not be read. The reason never quotes the input.
    #[error(
        "invalid private key PEM: {0}: expected an unencrypted RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY block"
    )]
    InvalidPrivateKeyPem(&'static str),
    #[error(
        "unsupported private key: {0}: expected RSA-2048, RSA-3072, ECDSA P-256, P-384 or P-521"
    )]
    UnsupportedPrivateKey(String),
    #[error("failed to encode {0}")]
    Encoding(&'static str),
}

/// Checks that `signing` can be used with a `key` before any key is generated.
pub fn check_algorithms(key: KeyAlgorithm, signing: SigningAlgorithm) -> Result<(), KeysError> {
    signing.check_key(key)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_pem_debug_is_redacted() {
        let secret = SecretPem::new("-----BEGIN PRIVATE KEY-----\nAAAA\n".to_owned());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert!(secret.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn check_algorithms_rejects_mismatch() {
        let error = check_algorithms(KeyAlgorithm::EcdsaP384, SigningAlgorithm::Sha384WithRsaPss)
            .unwrap_err();
        assert!(matches!(error, KeysError::Algorithm(_)));
        assert!(error.to_string().contains("SHA384WITHRSAANDMGF1"));
        assert!(check_algorithms(KeyAlgorithm::Rsa2048, SigningAlgorithm::Sha512WithRsa).is_ok());
    }
}
