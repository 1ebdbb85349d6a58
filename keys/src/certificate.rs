//! Reading the device certificate: its subject, key type, ID, and whether it fits a private key.

use aws_lc_rs::digest;
use rotator_protocol::KeyAlgorithm;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, Oid,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::KeysError;
use crate::key::public_key_der_from_pem;

/// True when the first certificate in `certificate_pem` carries the public key of
/// `private_key_pem` (PKCS#1, PKCS#8 or SEC1 PEM). Works for RSA keys of 2048 to 8192 bits and
/// EC keys on P-256, P-384 and P-521, so it can also check a device's original pair.
pub fn certificate_matches_key(
    certificate_pem: &str,
    private_key_pem: &str,
) -> Result<bool, KeysError> {
    let der = first_certificate_der(certificate_pem)?;
    let certificate = parse_certificate(&der)?;
    let key_public = public_key_der_from_pem(private_key_pem)?;
    let (_, key_info) = SubjectPublicKeyInfo::from_der(&key_public)
        .map_err(|_| KeysError::Encoding("the private key's public key"))?;
    Ok(same_public_key(certificate.public_key(), &key_info))
}

/// Key algorithm of the first certificate in a PEM chain (errors on other key types).
pub fn certificate_key_algorithm(certificate_pem: &str) -> Result<KeyAlgorithm, KeysError> {
    let der = first_certificate_der(certificate_pem)?;
    let certificate = parse_certificate(&der)?;
    public_key_algorithm(certificate.public_key()).map_err(KeysError::UnsupportedCertificateKey)
}

/// Subject DER of the first certificate in a PEM chain, byte for byte as the certificate has it.
pub fn certificate_subject_der(certificate_pem: &str) -> Result<Vec<u8>, KeysError> {
    let der = first_certificate_der(certificate_pem)?;
    let certificate = parse_certificate(&der)?;
    Ok(certificate.subject().as_raw().to_vec())
}

/// Certificate ID as AWS IoT computes it: lowercase hex SHA-256 of the first certificate's DER.
pub fn certificate_id(certificate_pem: &str) -> Result<String, KeysError> {
    let der = first_certificate_der(certificate_pem)?;
    parse_certificate(&der)?;
    let hash = digest::digest(&digest::SHA256, &der);
    Ok(hash
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

fn first_certificate_der(certificate_pem: &str) -> Result<CertificateDer<'static>, KeysError> {
    match CertificateDer::pem_slice_iter(certificate_pem.as_bytes()).next() {
        Some(Ok(der)) => Ok(der),
        Some(Err(error)) => Err(KeysError::InvalidCertificatePem(error.to_string())),
        None => Err(KeysError::NoCertificate),
    }
}

fn parse_certificate<'a>(der: &'a [u8]) -> Result<X509Certificate<'a>, KeysError> {
    let (rest, certificate) = X509Certificate::from_der(der)
        .map_err(|error| KeysError::InvalidCertificate(error.to_string()))?;
    if !rest.is_empty() {
        return Err(KeysError::InvalidCertificate(format!(
            "{} bytes follow the certificate inside its PEM block",
            rest.len()
        )));
    }
    Ok(certificate)
}

/// Compares the algorithm, the curve and the key bits, so that parameter encodings may differ.
fn same_public_key(left: &SubjectPublicKeyInfo, right: &SubjectPublicKeyInfo) -> bool {
    left.algorithm.algorithm == right.algorithm.algorithm
        && left.subject_public_key.data == right.subject_public_key.data
        && (left.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY
            || named_curve(left) == named_curve(right))
}

fn named_curve<'a>(info: &'a SubjectPublicKeyInfo) -> Option<Oid<'a>> {
    info.algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.as_oid().ok())
}

/// Maps a SubjectPublicKeyInfo to its key algorithm, or describes an unsupported key.
pub(crate) fn public_key_algorithm(info: &SubjectPublicKeyInfo) -> Result<KeyAlgorithm, String> {
    let algorithm = &info.algorithm.algorithm;
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let bits = rsa_modulus_bits(info).ok_or("RSA key with a malformed modulus")?;
        return match bits {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            _ => Err(format!("RSA-{bits}")),
        };
    }
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = named_curve(info).ok_or("EC key without a named curve")?;
        return if curve == OID_EC_P256 {
            Ok(KeyAlgorithm::EcdsaP256)
        } else if curve == OID_NIST_EC_P384 {
            Ok(KeyAlgorithm::EcdsaP384)
        } else if curve == OID_NIST_EC_P521 {
            Ok(KeyAlgorithm::EcdsaP521)
        } else {
            Err(format!("EC key on curve {curve}"))
        };
    }
    Err(format!("of algorithm {algorithm}"))
}

fn rsa_modulus_bits(info: &SubjectPublicKeyInfo) -> Option<usize> {
    let x509_parser::public_key::PublicKey::RSA(rsa) = info.parsed().ok()? else {
        return None;
    };
    let start = rsa.modulus.iter().position(|byte| *byte != 0)?;
    let significant = &rsa.modulus[start..];
    Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
}
