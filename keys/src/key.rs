//! Key pair generation, PEM encoding and signing with an in-memory private key.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RsaKeyPair};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use pem_rfc7468::LineEnding;
use rotator_protocol::algorithm::Hash;
use rotator_protocol::{KeyAlgorithm, SigningAlgorithm};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject};
use zeroize::{Zeroize, Zeroizing};

use crate::der;
use crate::{KeysError, SecretPem};

const PKCS1_LABEL: &str = "RSA PRIVATE KEY";
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// A freshly generated key pair, ready to be written to disk and to sign a CSR.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub algorithm: KeyAlgorithm,
    /// RSA: PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"); EC: PKCS#8 PEM ("BEGIN PRIVATE KEY").
    pub private_key_pem: SecretPem,
    /// SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
}

/// Generates a key pair of type `algorithm`.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<GeneratedKey, KeysError> {
    PrivateKey::generate(algorithm)?.to_generated_key()
}

impl GeneratedKey {
    /// Reads a private key PEM (PKCS#1, PKCS#8 or SEC1) and stores it in this crate's format
    /// (PKCS#1 for RSA, PKCS#8 for EC), for example to sign a CSR again with a key on disk.
    pub fn from_private_key_pem(pem: &str) -> Result<GeneratedKey, KeysError> {
        PrivateKey::from_pem(pem)?.to_generated_key()
    }

    /// Parses the private key PEM into a key that can sign.
    pub fn private_key(&self) -> Result<PrivateKey, KeysError> {
        let key = PrivateKey::from_pem(self.private_key_pem.expose())?;
        if key.algorithm() != self.algorithm {
            return Err(KeysError::UnsupportedPrivateKey(format!(
                "the PEM contains a {} key but the algorithm field is {}",
                key.algorithm(),
                self.algorithm
            )));
        }
        Ok(key)
    }
}

/// A private key held in memory by aws-lc, which zeroizes it on drop.
pub struct PrivateKey {
    algorithm: KeyAlgorithm,
    public_key_der: Vec<u8>,
    pair: Pair,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a key pair of type `algorithm`.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<PrivateKey, KeysError> {
        let failed = |_| KeysError::KeyGeneration(algorithm);
        let pair = match algorithm {
            KeyAlgorithm::Rsa2048 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?)
            }
            KeyAlgorithm::Rsa3072 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa3072).map_err(failed)?)
            }
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                let signing = ecdsa_signing(algorithm, native_hash(algorithm));
                Pair::Ec(EcdsaKeyPair::generate(signing).map_err(failed)?)
            }
        };
        PrivateKey::new(algorithm, pair)
    }

    /// Parses an unencrypted private key PEM: PKCS#1 (`RSA PRIVATE KEY`), PKCS#8
    /// (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). Other PEM blocks before it are skipped.
    pub fn from_pem(pem: &str) -> Result<PrivateKey, KeysError> {
        let (curve, pair) = read_pem(pem)?;
        let algorithm = match (curve, &pair) {
            (Some(curve), _) => curve,
            (None, Pair::Rsa(rsa)) => match rsa.public_modulus_len() * 8 {
                2048 => KeyAlgorithm::Rsa2048,
                3072 => KeyAlgorithm::Rsa3072,
                bits => {
                    return Err(KeysError::UnsupportedPrivateKey(format!(
                        "RSA key of {bits} bits"
                    )));
                }
            },
            (None, Pair::Ec(_)) => return Err(rejected("EC key on an unknown curve")),
        };
        PrivateKey::new(algorithm, pair)
    }

    fn new(algorithm: KeyAlgorithm, pair: Pair) -> Result<PrivateKey, KeysError> {
        Ok(PrivateKey {
            algorithm,
            public_key_der: pair_public_key_der(&pair)?,
            pair,
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// SubjectPublicKeyInfo DER of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// Encodes the private key as PKCS#1 PEM (RSA) or PKCS#8 PEM (EC).
    pub fn to_pem(&self) -> Result<SecretPem, KeysError> {
        let failed = |_| KeysError::Encoding("the private key");
        let pem = match &self.pair {
            Pair::Rsa(rsa) => {
                let pkcs8 =
                    AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(rsa).map_err(failed)?;
                let pkcs1 = der::pkcs8_private_key(pkcs8.as_ref())
                    .map_err(|_| KeysError::Encoding("the RSA private key as PKCS#1"))?;
                encode_secret_pem(PKCS1_LABEL, &pkcs1)?
            }
            Pair::Ec(ec) => {
                let pkcs8 = ec.to_pkcs8v1().map_err(failed)?;
                encode_secret_pem(PKCS8_LABEL, pkcs8.as_ref())?
            }
        };
        Ok(SecretPem(pem))
    }

    pub(crate) fn to_generated_key(&self) -> Result<GeneratedKey, KeysError> {
        Ok(GeneratedKey {
            algorithm: self.algorithm,
            private_key_pem: self.to_pem()?,
            public_key_der: self.public_key_der.clone(),
        })
    }

    /// Signs `message` with `signing` and returns the signature as it goes in a CSR: the RSA
    /// signature bytes, or a DER `Ecdsa-Sig-Value`.
    pub fn sign(&self, signing: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, KeysError> {
        signing.check_key(self.algorithm)?;
        let failed = |reason: &str| KeysError::Signing {
            signing,
            reason: reason.to_owned(),
        };
        match &self.pair {
            Pair::Rsa(rsa) => {
                let encoding = rsa_encoding(signing).ok_or_else(|| failed("not an RSA scheme"))?;
                let mut signature = vec![0; rsa.public_modulus_len()];
                rsa.sign(encoding, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| failed("aws-lc RSA signing failed"))?;
                Ok(signature)
            }
            Pair::Ec(ec) => self
                .sign_ecdsa(ec, signing.hash(), message)
                .map_err(|()| failed("ECDSA signing failed")),
        }
    }

    fn sign_ecdsa(&self, ec: &EcdsaKeyPair, hash: Hash, message: &[u8]) -> Result<Vec<u8>, ()> {
        let rng = SystemRandom::new();
        if hash == native_hash(self.algorithm) {
            let signature = ec.sign(&rng, message).map_err(|_| ())?;
            return Ok(signature.as_ref().to_vec());
        }
        match self.algorithm {
            KeyAlgorithm::EcdsaP521 => {
                // aws-lc-rs fixes the hash when a key pair is made, so load the key again
                // with the requested hash.
                let pkcs8 = ec.to_pkcs8v1().map_err(|_| ())?;
                let signing = ecdsa_signing(self.algorithm, hash);
                let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).map_err(|_| ())?;
                let signature = pair.sign(&rng, message).map_err(|_| ())?;
                Ok(signature.as_ref().to_vec())
            }
            KeyAlgorithm::EcdsaP256 => {
                let scalar = ec.private_key().as_be_bytes().map_err(|_| ())?;
                let key = p256::ecdsa::SigningKey::from_slice(scalar.as_ref()).map_err(|_| ())?;
                let digest = digest::digest(digest_algorithm(hash), message);
                let signature: p256::ecdsa::Signature =
                    key.sign_prehash(digest.as_ref()).map_err(|_| ())?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            KeyAlgorithm::EcdsaP384 => {
                let scalar = ec.private_key().as_be_bytes().map_err(|_| ())?;
                let key = p384::ecdsa::SigningKey::from_slice(scalar.as_ref()).map_err(|_| ())?;
                let digest = digest::digest(digest_algorithm(hash), message);
                let signature: p384::ecdsa::Signature =
                    key.sign_prehash(digest.as_ref()).map_err(|_| ())?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => Err(()),
        }
    }
}

fn rejected(reason: &str) -> KeysError {
    KeysError::UnsupportedPrivateKey(reason.to_owned())
}

/// Returns the hash a curve's key pair is made with. Signing with another hash takes a slower path.
fn native_hash(algorithm: KeyAlgorithm) -> Hash {
    match algorithm {
        KeyAlgorithm::EcdsaP384 => Hash::Sha384,
        KeyAlgorithm::EcdsaP521 => Hash::Sha512,
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => Hash::Sha256,
    }
}

/// Selects the aws-lc-rs signing parameters for a curve and hash. P-256 and P-384 exist only
/// with their own hash, so other hashes map to it here and are signed through RustCrypto.
fn ecdsa_signing(algorithm: KeyAlgorithm, hash: Hash) -> &'static EcdsaSigningAlgorithm {
    match (algorithm, hash) {
        (KeyAlgorithm::EcdsaP384, _) => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        (KeyAlgorithm::EcdsaP521, Hash::Sha256) => &signature::ECDSA_P521_SHA256_ASN1_SIGNING,
        (KeyAlgorithm::EcdsaP521, Hash::Sha384) => &signature::ECDSA_P521_SHA384_ASN1_SIGNING,
        (KeyAlgorithm::EcdsaP521, Hash::Sha512) => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
    }
}

const EC_CURVES: [KeyAlgorithm; 3] = [
    KeyAlgorithm::EcdsaP256,
    KeyAlgorithm::EcdsaP384,
    KeyAlgorithm::EcdsaP521,
];

/// SubjectPublicKeyInfo DER of the key in a private key PEM. Unlike [`PrivateKey::from_pem`]
/// it accepts every RSA size aws-lc reads (2048 to 8192 bits), so a device's current key can
/// be checked even when the agent would not generate one like it.
pub(crate) fn public_key_der_from_pem(pem: &str) -> Result<Vec<u8>, KeysError> {
    let (_, pair) = read_pem(pem)?;
    pair_public_key_der(&pair)
}

/// Reads a private key PEM and, for an EC key, its curve.
// NOTE: rustls-pki-types collects the base64 body in a working buffer that it does not zeroize;
// only the decoded DER is zeroized here.
fn read_pem(pem: &str) -> Result<(Option<KeyAlgorithm>, Pair), KeysError> {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|error| {
        KeysError::InvalidPrivateKeyPem(match error {
            pem::Error::NoItemsFound => "no unencrypted private key block found",
            pem::Error::MissingSectionEnd { .. } => "the END line is missing",
            pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
            pem::Error::Base64Decode(_) => "the body is not valid base64",
            _ => "the PEM text cannot be read",
        })
    })?;
    let der = Zeroizing::new(der);
    match &*der {
        PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der())
            .map(|rsa| (None, Pair::Rsa(rsa)))
            .map_err(|_| rejected("the RSA PRIVATE KEY block is not a valid RSA key")),
        PrivateKeyDer::Pkcs8(key) => parse_pkcs8(key.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(key) => parse_sec1(key.secret_sec1_der()),
        _ => Err(rejected("unknown private key format")),
    }
}

fn pair_public_key_der(pair: &Pair) -> Result<Vec<u8>, KeysError> {
    match pair {
        Pair::Rsa(rsa) => rsa.public_key().as_der().map(|der| der.as_ref().to_vec()),
        Pair::Ec(ec) => ec.public_key().as_der().map(|der| der.as_ref().to_vec()),
    }
    .map_err(|_| KeysError::Encoding("the public key as SubjectPublicKeyInfo DER"))
}

fn parse_pkcs8(pkcs8: &[u8]) -> Result<(Option<KeyAlgorithm>, Pair), KeysError> {
    if let Ok(rsa) = RsaKeyPair::from_pkcs8(pkcs8) {
        return Ok((None, Pair::Rsa(rsa)));
    }
    EC_CURVES
        .into_iter()
        .find_map(|curve| {
            let signing = ecdsa_signing(curve, native_hash(curve));
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8).ok()?;
            Some((Some(curve), Pair::Ec(pair)))
        })
        .ok_or_else(|| {
            rejected("the PRIVATE KEY block is not a valid RSA, P-256, P-384 or P-521 key")
        })
}

fn parse_sec1(sec1: &[u8]) -> Result<(Option<KeyAlgorithm>, Pair), KeysError> {
    EC_CURVES
        .into_iter()
        .find_map(|curve| {
            let signing = ecdsa_signing(curve, native_hash(curve));
            let pair = EcdsaKeyPair::from_private_key_der(signing, sec1).ok()?;
            Some((Some(curve), Pair::Ec(pair)))
        })
        .ok_or_else(|| {
            rejected("the EC PRIVATE KEY block is not a valid P-256, P-384 or P-521 key")
        })
}

fn rsa_encoding(signing: SigningAlgorithm) -> Option<&'static dyn signature::RsaEncoding> {
    use SigningAlgorithm::*;
    match signing {
        Sha256WithRsa => Some(&signature::RSA_PKCS1_SHA256),
        Sha384WithRsa => Some(&signature::RSA_PKCS1_SHA384),
        Sha512WithRsa => Some(&signature::RSA_PKCS1_SHA512),
        Sha256WithRsaPss => Some(&signature::RSA_PSS_SHA256),
        Sha384WithRsaPss => Some(&signature::RSA_PSS_SHA384),
        Sha512WithRsaPss => Some(&signature::RSA_PSS_SHA512),
        Sha256WithEcdsa | Sha384WithEcdsa | Sha512WithEcdsa => None,
    }
}

pub(crate) fn digest_algorithm(hash: Hash) -> &'static digest::Algorithm {
    match hash {
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
    }
}

/// PEM-encodes secret DER into a buffer that is zeroized on drop and never reallocated.
fn encode_secret_pem(label: &str, der: &[u8]) -> Result<Zeroizing<String>, KeysError> {
    let failed = |_| KeysError::Encoding("the private key as PEM");
    let length = pem_rfc7468::encoded_len(label, LineEnding::LF, der).map_err(failed)?;
    let mut buffer = Zeroizing::new(vec![0u8; length]);
    let written = pem_rfc7468::encode(label, LineEnding::LF, der, &mut buffer)
        .map_err(failed)?
        .len();
    buffer.truncate(written);
    let text = String::from_utf8(std::mem::take(&mut *buffer)).map_err(|error| {
        error.into_bytes().zeroize();
        KeysError::Encoding("the private key as PEM")
    })?;
    Ok(Zeroizing::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pem_headers_match_key_type() {
        let rsa = generate_key(KeyAlgorithm::Rsa2048).unwrap();
        assert!(
            rsa.private_key_pem
                .expose()
                .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
        );
        assert!(
            rsa.private_key_pem
                .expose()
                .ends_with("-----END RSA PRIVATE KEY-----\n")
        );
        for curve in EC_CURVES {
            let ec = generate_key(curve).unwrap();
            assert!(
                ec.private_key_pem
                    .expose()
                    .starts_with("-----BEGIN PRIVATE KEY-----\n")
            );
            assert_eq!(ec.algorithm, curve);
        }
    }

    #[test]
    fn pem_round_trip_keeps_key() {
        for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP384] {
            let generated = generate_key(algorithm).unwrap();
            let loaded =
                GeneratedKey::from_private_key_pem(generated.private_key_pem.expose()).unwrap();
            assert_eq!(loaded.algorithm, algorithm);
            assert_eq!(loaded.public_key_der, generated.public_key_der);
            assert_eq!(
                loaded.private_key_pem.expose(),
                generated.private_key_pem.expose()
            );
        }
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let generated = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let body = generated
            .private_key_pem
            .expose()
            .lines()
            .nth(1)
            .unwrap()
            .to_owned();
        let debug = format!("{generated:?} {:?}", generated.private_key().unwrap());
        assert!(debug.contains("[redacted]"));
        assert!(!debug.contains(&body));
        assert!(!debug.contains("BEGIN"));
    }

    #[test]
    fn private_key_label_mismatch_is_error() {
        let mut generated = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        generated.algorithm = KeyAlgorithm::EcdsaP521;
        let error = generated.private_key().unwrap_err();
        assert!(
            error.to_string().contains("algorithm field is ECDSA-P521"),
            "{error}"
        );
    }
}
