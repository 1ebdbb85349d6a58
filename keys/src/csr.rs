//! PKCS#10 certificate signing requests (RFC 2986) signed by any [`CsrSigner`].

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use pem_rfc7468::LineEnding;
use rotator_protocol::algorithm::Hash;
use rotator_protocol::{KeyAlgorithm, SigningAlgorithm};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::certificate::{certificate_subject_der, public_key_algorithm};
use crate::der;
use crate::key::{GeneratedKey, PrivateKey};
use crate::{KeysError, check_algorithms};

const CSR_LABEL: &str = "CERTIFICATE REQUEST";

const SHA256_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 11];
const SHA384_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 12];
const SHA512_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 13];
const RSASSA_PSS: &[u32] = &[1, 2, 840, 113549, 1, 1, 10];
const MGF1: &[u32] = &[1, 2, 840, 113549, 1, 1, 8];
const ECDSA_WITH_SHA256: &[u32] = &[1, 2, 840, 10045, 4, 3, 2];
const ECDSA_WITH_SHA384: &[u32] = &[1, 2, 840, 10045, 4, 3, 3];
const ECDSA_WITH_SHA512: &[u32] = &[1, 2, 840, 10045, 4, 3, 4];
const SHA256: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const SHA384: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 2, 2];
const SHA512: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 2, 3];

/// Anything that can sign a CSR: an in-memory key, or a key object inside an HSM.
pub trait CsrSigner {
    fn key_algorithm(&self) -> KeyAlgorithm;

    /// SubjectPublicKeyInfo DER of the signing key.
    fn public_key_der(&self) -> Vec<u8>;

    /// Signs `message` (the DER `CertificationRequestInfo`) and returns the signature as the
    /// CSR carries it: the RSA signature bytes, or for ECDSA the DER `Ecdsa-Sig-Value`
    /// (`SEQUENCE { r INTEGER, s INTEGER }`, RFC 3279). A signer that only produces the raw
    /// `r || s` form, as PKCS#11 `CKM_ECDSA` does, must DER-encode it first.
    fn sign(&self, signing: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, KeysError>;
}

impl CsrSigner for PrivateKey {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm()
    }

    fn public_key_der(&self) -> Vec<u8> {
        PrivateKey::public_key_der(self).to_vec()
    }

    fn sign(&self, signing: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, KeysError> {
        PrivateKey::sign(self, signing, message)
    }
}

impl CsrSigner for GeneratedKey {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.public_key_der.clone()
    }

    fn sign(&self, signing: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, KeysError> {
        self.private_key()?.sign(signing, message)
    }
}

/// Builds a PKCS#10 CSR (PEM) for `key` with the subject copied from `subject_certificate_pem`.
pub fn build_csr(
    key: &GeneratedKey,
    signing: SigningAlgorithm,
    subject_certificate_pem: &str,
) -> Result<String, KeysError> {
    check_algorithms(key.algorithm, signing)?;
    let subject = certificate_subject_der(subject_certificate_pem)?;
    let private_key = key.private_key()?;
    if private_key.public_key_der() != key.public_key_der {
        return Err(KeysError::PublicKeyMismatch);
    }
    // The key was just parsed by aws-lc, so its signature needs no second check.
    assemble_csr(&private_key, signing, &subject, false)
}

/// Checks the algorithm pair and reads the subject, then generates a key of type `key` and a
/// CSR for it. A mismatched pair or an unreadable certificate fails before any key is made.
pub fn generate_key_and_csr(
    key: KeyAlgorithm,
    signing: SigningAlgorithm,
    subject_certificate_pem: &str,
) -> Result<(GeneratedKey, String), KeysError> {
    check_algorithms(key, signing)?;
    let subject = certificate_subject_der(subject_certificate_pem)?;
    let private_key = PrivateKey::generate(key)?;
    let csr = assemble_csr(&private_key, signing, &subject, false)?;
    Ok((private_key.to_generated_key()?, csr))
}

/// Builds a PKCS#10 CSR (PEM) signed by `signer`, with `subject_der` (a DER X.509 Name) copied
/// into it unchanged. The signature is verified against the signer's public key before the
/// CSR is returned, so a signer holding the wrong key is caught here.
pub fn build_csr_with(
    signer: &dyn CsrSigner,
    signing: SigningAlgorithm,
    subject_der: &[u8],
) -> Result<String, KeysError> {
    assemble_csr(signer, signing, subject_der, true)
}

fn assemble_csr(
    signer: &dyn CsrSigner,
    signing: SigningAlgorithm,
    subject_der: &[u8],
    verify_signature: bool,
) -> Result<String, KeysError> {
    let key = signer.key_algorithm();
    check_algorithms(key, signing)?;
    der::read_single(subject_der, der::TAG_SEQUENCE).map_err(|_| KeysError::InvalidSubject)?;
    let public_key = signer.public_key_der();
    check_public_key(key, &public_key)?;

    // CertificationRequestInfo: version 0, subject, public key, and an empty attribute set.
    let empty_attributes = der::tlv(der::context_tag(0), &[]);
    let info = der::sequence(&[
        &der::small_integer(0),
        subject_der,
        &public_key,
        &empty_attributes,
    ]);
    let signature = signer.sign(signing, &info)?;
    if verify_signature {
        UnparsedPublicKey::new(verification_algorithm(key, signing), &public_key)
            .verify(&info, &signature)
            .map_err(|_| KeysError::SignatureCheck { signing })?;
    }

    let request = der::sequence(&[
        &info,
        &signature_algorithm(signing),
        &der::bit_string(&signature),
    ]);
    pem_rfc7468::encode_string(CSR_LABEL, LineEnding::LF, &request)
        .map_err(|_| KeysError::Encoding("the CSR as PEM"))
}

/// Converts a raw ECDSA signature `r || s` (two big-endian halves of equal length, as PKCS#11
/// `CKM_ECDSA` returns it) into the DER `Ecdsa-Sig-Value` that [`CsrSigner::sign`] returns.
pub fn ecdsa_signature_der(fixed: &[u8]) -> Result<Vec<u8>, KeysError> {
    if fixed.is_empty() || !fixed.len().is_multiple_of(2) {
        return Err(KeysError::InvalidFixedSignature {
            length: fixed.len(),
        });
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    Ok(der::sequence(&[
        &der::unsigned_integer(r),
        &der::unsigned_integer(s),
    ]))
}

fn check_public_key(key: KeyAlgorithm, public_key: &[u8]) -> Result<(), KeysError> {
    let invalid = || KeysError::InvalidPublicKey { key };
    let (rest, info) = SubjectPublicKeyInfo::from_der(public_key).map_err(|_| invalid())?;
    if !rest.is_empty() || public_key_algorithm(&info) != Ok(key) {
        return Err(invalid());
    }
    Ok(())
}

/// Encodes the signature `AlgorithmIdentifier` (RFC 4055 for RSA, RFC 5758 for ECDSA).
pub(crate) fn signature_algorithm(signing: SigningAlgorithm) -> Vec<u8> {
    use SigningAlgorithm::*;
    let with_null = |arcs: &[u32]| der::sequence(&[&der::oid(arcs), &der::null()]);
    // RFC 5758 section 3.2: the parameters of ecdsa-with-SHA* are absent.
    let absent = |arcs: &[u32]| der::sequence(&[&der::oid(arcs)]);
    match signing {
        Sha256WithRsa => with_null(SHA256_WITH_RSA),
        Sha384WithRsa => with_null(SHA384_WITH_RSA),
        Sha512WithRsa => with_null(SHA512_WITH_RSA),
        Sha256WithRsaPss | Sha384WithRsaPss | Sha512WithRsaPss => {
            der::sequence(&[&der::oid(RSASSA_PSS), &pss_parameters(signing.hash())])
        }
        Sha256WithEcdsa => absent(ECDSA_WITH_SHA256),
        Sha384WithEcdsa => absent(ECDSA_WITH_SHA384),
        Sha512WithEcdsa => absent(ECDSA_WITH_SHA512),
    }
}

/// Encodes RSASSA-PSS-params (RFC 4055 section 3.1) for `hash`: MGF1 with the same hash, and a
/// salt as long as the digest. The trailer field keeps its default (1), so DER leaves it out.
fn pss_parameters(hash: Hash) -> Vec<u8> {
    let hash_oid = match hash {
        Hash::Sha256 => SHA256,
        Hash::Sha384 => SHA384,
        Hash::Sha512 => SHA512,
    };
    // PKCS#1 v2.2 (OAEP-PSSDigestAlgorithms) defines these hash identifiers with NULL parameters.
    let hash_algorithm = der::sequence(&[&der::oid(hash_oid), &der::null()]);
    let mask_generation = der::sequence(&[&der::oid(MGF1), &hash_algorithm]);
    let salt_length = der::small_integer(hash.len() as u64);
    der::sequence(&[
        &der::constructed(der::context_tag(0), &[&hash_algorithm]),
        &der::constructed(der::context_tag(1), &[&mask_generation]),
        &der::constructed(der::context_tag(2), &[&salt_length]),
    ])
}

fn verification_algorithm(
    key: KeyAlgorithm,
    signing: SigningAlgorithm,
) -> &'static dyn VerificationAlgorithm {
    use SigningAlgorithm::*;
    match (key, signing) {
        (_, Sha256WithRsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (_, Sha384WithRsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (_, Sha512WithRsa) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (_, Sha256WithRsaPss) => &signature::RSA_PSS_2048_8192_SHA256,
        (_, Sha384WithRsaPss) => &signature::RSA_PSS_2048_8192_SHA384,
        (_, Sha512WithRsaPss) => &signature::RSA_PSS_2048_8192_SHA512,
        (KeyAlgorithm::EcdsaP384, Sha256WithEcdsa) => &signature::ECDSA_P384_SHA256_ASN1,
        (KeyAlgorithm::EcdsaP384, Sha384WithEcdsa) => &signature::ECDSA_P384_SHA384_ASN1,
        (KeyAlgorithm::EcdsaP384, Sha512WithEcdsa) => &signature::ECDSA_P384_SHA512_ASN1,
        (KeyAlgorithm::EcdsaP521, Sha256WithEcdsa) => &signature::ECDSA_P521_SHA256_ASN1,
        (KeyAlgorithm::EcdsaP521, Sha384WithEcdsa) => &signature::ECDSA_P521_SHA384_ASN1,
        (KeyAlgorithm::EcdsaP521, Sha512WithEcdsa) => &signature::ECDSA_P521_SHA512_ASN1,
        // P-256. RSA keys never reach the ECDSA arms because the pair was checked first.
        (_, Sha256WithEcdsa) => &signature::ECDSA_P256_SHA256_ASN1,
        (_, Sha384WithEcdsa) => &signature::ECDSA_P256_SHA384_ASN1,
        (_, Sha512WithEcdsa) => &signature::ECDSA_P256_SHA512_ASN1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_sha256_identifier_is_exact() {
        let expected: &[u8] = &[
            0x30, 0x41, // AlgorithmIdentifier
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, // id-RSASSA-PSS
            0x30, 0x34, // RSASSA-PSS-params
            0xa0, 0x0f, 0x30, 0x0d, // [0] hashAlgorithm
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa1,
            0x1c, 0x30, 0x1a, // [1] maskGenAlgorithm
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, // id-mgf1
            0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00, // sha256, NULL
            0xa2, 0x03, 0x02, 0x01, 0x20, // [2] saltLength 32
        ];
        assert_eq!(
            signature_algorithm(SigningAlgorithm::Sha256WithRsaPss),
            expected
        );
    }

    #[test]
    fn ecdsa_identifier_has_no_parameters() {
        assert_eq!(
            signature_algorithm(SigningAlgorithm::Sha384WithEcdsa),
            [
                0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03
            ]
        );
    }

    #[test]
    fn rsa_identifier_has_null_parameters() {
        let identifier = signature_algorithm(SigningAlgorithm::Sha512WithRsa);
        assert_eq!(identifier[identifier.len() - 2..], [0x05, 0x00]);
    }
}
