//! Validation of the CSR a device sends, before any certificate is issued for it.
//!
//! The signature is checked with aws-lc-rs directly, not through x509-parser's helper, so every
//! accepted scheme is listed here. They are RSA PKCS#1 v1.5, RSA-PSS (salt as long as the digest,
//! MGF1 over the same hash) and ECDSA, each with SHA-256, SHA-384 or SHA-512.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::der_parser::oid::Oid;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_NIST_HASH_SHA256, OID_NIST_HASH_SHA384, OID_NIST_HASH_SHA512, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ECDSA_WITH_SHA512,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::signature_algorithm::SignatureAlgorithm;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::error::{BackendError, Result};

/// Largest CSR PEM accepted. An RSA-8192 CSR in PEM is under 4 KiB, so anything larger is not
/// a CSR this protocol produces.
pub const MAX_CSR_PEM_BYTES: usize = 8 * 1024;

/// Smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits; aws-lc-rs verifies up to this size.
const MAX_RSA_BITS: usize = 8192;

/// The public key of a CSR that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedCsr {
    /// DER of the SubjectPublicKeyInfo, to compare keys across certificates and CSRs.
    pub public_key_der: Vec<u8>,
    /// The key type and size, for logs (for example `RSA-3072` or `EC P-384`).
    pub key_description: String,
}

/// Checks a CSR in PEM. It must parse, its signature must verify, and its key must be RSA of
/// 2048 to 8192 bits or EC on P-256, P-384 or P-521, and differ from the current certificate's.
/// Its subject must equal the current certificate's, because devices copy it, so a different
/// subject means the CSR was made for another device.
pub fn validate_csr(csr_pem: &str, current_certificate_pem: &str) -> Result<ValidatedCsr> {
    if csr_pem.len() > MAX_CSR_PEM_BYTES {
        return Err(BackendError::invalid_request(format!(
            "invalid CSR: {} bytes is more than the {MAX_CSR_PEM_BYTES} allowed",
            csr_pem.len()
        )));
    }
    let csr_der = pem_contents(csr_pem, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"])
        .map_err(|reason| BackendError::invalid_request(format!("invalid CSR: {reason}")))?;
    let csr = parse_csr(&csr_der)?;

    let info = &csr.certification_request_info;
    let key_description = check_key(&info.subject_pki)?;
    verify_signature(&csr)?;

    let current_der =
        pem_contents(current_certificate_pem, &["CERTIFICATE"]).map_err(|reason| {
            BackendError::precondition(format!("invalid current certificate: {reason}"))
        })?;
    let (_, current) = X509Certificate::from_der(&current_der).map_err(|error| {
        BackendError::precondition(format!("invalid current certificate: {error}"))
    })?;

    if info.subject_pki.raw == current.public_key().raw {
        return Err(BackendError::invalid_request(
            "invalid CSR: its key is the key of the current certificate; generate a new key pair",
        ));
    }
    if info.subject.as_raw() != current.subject().as_raw() {
        return Err(BackendError::invalid_request(format!(
            "invalid CSR: subject {:?} differs from the current certificate's subject {:?}; \
             the CSR must copy the subject of the certificate it replaces",
            info.subject.to_string(),
            current.subject().to_string()
        )));
    }

    Ok(ValidatedCsr {
        public_key_der: info.subject_pki.raw.to_vec(),
        key_description,
    })
}

/// Returns the DER SubjectPublicKeyInfo of a PEM certificate.
pub fn certificate_public_key(certificate_pem: &str) -> Result<Vec<u8>> {
    let der = pem_contents(certificate_pem, &["CERTIFICATE"])
        .map_err(|reason| BackendError::precondition(format!("invalid certificate: {reason}")))?;
    let (_, certificate) = X509Certificate::from_der(&der)
        .map_err(|error| BackendError::precondition(format!("invalid certificate: {error}")))?;
    Ok(certificate.public_key().raw.to_vec())
}

/// Returns the serial number of a PEM certificate as the colon-separated hex that AWS Private
/// CA's `RevokeCertificate` expects.
pub fn certificate_serial(certificate_pem: &str) -> Result<String> {
    let der = pem_contents(certificate_pem, &["CERTIFICATE"])
        .map_err(|reason| BackendError::precondition(format!("invalid certificate: {reason}")))?;
    let (_, certificate) = X509Certificate::from_der(&der)
        .map_err(|error| BackendError::precondition(format!("invalid certificate: {error}")))?;
    let bytes = certificate.raw_serial();
    let bytes = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => bytes,
    };
    let hex: Vec<String> = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(hex.join(":"))
}

/// Decodes the first PEM block and checks its label. Trailing blocks are ignored, because a
/// certificate PEM may carry its chain after it.
fn pem_contents(pem: &str, labels: &[&str]) -> std::result::Result<Vec<u8>, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| "not a PEM document".to_owned())?;
    if !labels.contains(&block.label.as_str()) {
        return Err(format!(
            "PEM label {:?} is not {}",
            block.label,
            labels.join(" or ")
        ));
    }
    Ok(block.contents)
}

fn parse_csr(der: &[u8]) -> Result<X509CertificationRequest<'_>> {
    let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|error| {
        BackendError::invalid_request(format!("invalid CSR: not a PKCS#10 request ({error})"))
    })?;
    if !rest.is_empty() {
        return Err(BackendError::invalid_request(format!(
            "invalid CSR: {} bytes follow the PKCS#10 request",
            rest.len()
        )));
    }
    Ok(csr)
}

fn check_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<String> {
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
            return Err(BackendError::invalid_request(
                "invalid CSR: the RSA public key does not parse",
            ));
        };
        let bits = rsa.key_size();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(BackendError::invalid_request(format!(
                "invalid CSR: RSA key of {bits} bits; use {MIN_RSA_BITS} to {MAX_RSA_BITS} bits"
            )));
        }
        return Ok(format!("RSA-{bits}"));
    }
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = ec_curve(spki).ok_or_else(|| {
            BackendError::invalid_request(
                "invalid CSR: unsupported EC curve; use P-256, P-384 or P-521",
            )
        })?;
        return Ok(format!("EC {}", curve.name()));
    }
    Err(BackendError::invalid_request(format!(
        "invalid CSR: unsupported key algorithm {algorithm}; use RSA or EC on P-256, P-384 or P-521"
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
}

fn ec_curve(spki: &SubjectPublicKeyInfo<'_>) -> Option<Curve> {
    let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
    if curve == OID_EC_P256 {
        Some(Curve::P256)
    } else if curve == OID_NIST_EC_P384 {
        Some(Curve::P384)
    } else if curve == OID_NIST_EC_P521 {
        Some(Curve::P521)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    fn from_hash_oid(oid: &Oid<'_>) -> Option<Self> {
        if *oid == OID_NIST_HASH_SHA256 {
            Some(Digest::Sha256)
        } else if *oid == OID_NIST_HASH_SHA384 {
            Some(Digest::Sha384)
        } else if *oid == OID_NIST_HASH_SHA512 {
            Some(Digest::Sha512)
        } else {
            None
        }
    }

    fn len(self) -> u32 {
        match self {
            Digest::Sha256 => 32,
            Digest::Sha384 => 48,
            Digest::Sha512 => 64,
        }
    }
}

fn verify_signature(csr: &X509CertificationRequest<'_>) -> Result<()> {
    let algorithm = verification_algorithm(csr)?;
    let info = &csr.certification_request_info;
    let key = UnparsedPublicKey::new(algorithm, info.subject_pki.subject_public_key.data.as_ref());
    key.verify(info.raw, csr.signature_value.data.as_ref())
        .map_err(|_| {
            BackendError::invalid_request(
                "invalid CSR: the signature does not verify with the CSR's public key",
            )
        })
}

fn verification_algorithm(
    csr: &X509CertificationRequest<'_>,
) -> Result<&'static dyn VerificationAlgorithm> {
    let unsupported = |what: &str| {
        BackendError::invalid_request(format!(
            "invalid CSR: unsupported signature algorithm ({what}); use SHA-256, SHA-384 or \
             SHA-512 with RSA PKCS#1 v1.5, RSA-PSS or ECDSA"
        ))
    };
    let identifier = &csr.signature_algorithm;
    let spki = &csr.certification_request_info.subject_pki;
    let key_is_rsa = spki.algorithm.algorithm == OID_PKCS1_RSAENCRYPTION;
    let scheme = SignatureAlgorithm::try_from(identifier)
        .map_err(|_| unsupported(&identifier.algorithm.to_id_string()))?;

    match scheme {
        SignatureAlgorithm::RSA if key_is_rsa => {
            let oid = &identifier.algorithm;
            if *oid == OID_PKCS1_SHA256WITHRSA {
                Ok(&signature::RSA_PKCS1_2048_8192_SHA256)
            } else if *oid == OID_PKCS1_SHA384WITHRSA {
                Ok(&signature::RSA_PKCS1_2048_8192_SHA384)
            } else if *oid == OID_PKCS1_SHA512WITHRSA {
                Ok(&signature::RSA_PKCS1_2048_8192_SHA512)
            } else {
                Err(unsupported(&oid.to_id_string()))
            }
        }
        SignatureAlgorithm::RSASSA_PSS(params) if key_is_rsa => {
            let digest = Digest::from_hash_oid(params.hash_algorithm_oid())
                .ok_or_else(|| unsupported("RSA-PSS hash"))?;
            let mask = params
                .mask_gen_algorithm()
                .map_err(|_| unsupported("RSA-PSS mask generation"))?;
            let mgf1 = Oid::from(&[1, 2, 840, 113549, 1, 1, 8]).expect("MGF1 OID is valid");
            if mask.mgf != mgf1 || Digest::from_hash_oid(&mask.hash) != Some(digest) {
                return Err(unsupported(
                    "RSA-PSS mask generation must be MGF1 with the same hash",
                ));
            }
            if params.salt_length() != digest.len() || params.trailer_field() != 1 {
                return Err(unsupported(
                    "RSA-PSS salt length must equal the digest length",
                ));
            }
            Ok(match digest {
                Digest::Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
                Digest::Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
                Digest::Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
            })
        }
        SignatureAlgorithm::ECDSA if !key_is_rsa => {
            let oid = &identifier.algorithm;
            let digest = if *oid == OID_SIG_ECDSA_WITH_SHA256 {
                Digest::Sha256
            } else if *oid == OID_SIG_ECDSA_WITH_SHA384 {
                Digest::Sha384
            } else if *oid == OID_SIG_ECDSA_WITH_SHA512 {
                Digest::Sha512
            } else {
                return Err(unsupported(&oid.to_id_string()));
            };
            let curve = ec_curve(spki).ok_or_else(|| unsupported("EC curve"))?;
            Ok(ecdsa_algorithm(curve, digest))
        }
        _ => Err(unsupported(
            "the signature scheme does not match the key type",
        )),
    }
}

fn ecdsa_algorithm(curve: Curve, digest: Digest) -> &'static dyn VerificationAlgorithm {
    match (curve, digest) {
        (Curve::P256, Digest::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, Digest::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
        (Curve::P256, Digest::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
        (Curve::P384, Digest::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, Digest::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, Digest::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
        (Curve::P521, Digest::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
        (Curve::P521, Digest::Sha384) => &signature::ECDSA_P521_SHA384_ASN1,
        (Curve::P521, Digest::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
    }
}
