//! Key and signature algorithms a device may use for its new key pair and CSR.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ProtocolError;

/// Key pair types the agent can generate and the backend accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "RSA-2048")]
    Rsa2048,
    #[serde(rename = "RSA-3072")]
    Rsa3072,
    #[serde(rename = "ECDSA-P256")]
    EcdsaP256,
    #[serde(rename = "ECDSA-P384")]
    EcdsaP384,
    #[serde(rename = "ECDSA-P521")]
    EcdsaP521,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::EcdsaP521,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "RSA-2048",
            KeyAlgorithm::Rsa3072 => "RSA-3072",
            KeyAlgorithm::EcdsaP256 => "ECDSA-P256",
            KeyAlgorithm::EcdsaP384 => "ECDSA-P384",
            KeyAlgorithm::EcdsaP521 => "ECDSA-P521",
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = ProtocolError;

    /// Parses a name case-insensitively; `ECDSA-P-256` is accepted as a spelling of `ECDSA-P256`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normalized = text.trim().to_ascii_uppercase().replace("P-", "P");
        KeyAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == normalized)
            .ok_or_else(|| ProtocolError::UnknownKeyAlgorithm(text.to_owned()))
    }
}

/// Hash functions used in CSR and certificate signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Digest length in bytes, which is also the RSA-PSS salt length this protocol uses.
    pub fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

/// Signature schemes for a CSR, named as AWS Private CA and Java name them
/// (`…ANDMGF1` is RSA-PSS with the salt as long as the digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SigningAlgorithm {
    Sha256WithRsa,
    Sha384WithRsa,
    Sha512WithRsa,
    Sha256WithRsaPss,
    Sha384WithRsaPss,
    Sha512WithRsaPss,
    Sha256WithEcdsa,
    Sha384WithEcdsa,
    Sha512WithEcdsa,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 9] = [
        SigningAlgorithm::Sha256WithRsa,
        SigningAlgorithm::Sha384WithRsa,
        SigningAlgorithm::Sha512WithRsa,
        SigningAlgorithm::Sha256WithRsaPss,
        SigningAlgorithm::Sha384WithRsaPss,
        SigningAlgorithm::Sha512WithRsaPss,
        SigningAlgorithm::Sha256WithEcdsa,
        SigningAlgorithm::Sha384WithEcdsa,
        SigningAlgorithm::Sha512WithEcdsa,
    ];

    pub const NAMES: [&'static str; 9] = [
        "SHA256WITHRSA",
        "SHA384WITHRSA",
        "SHA512WITHRSA",
        "SHA256WITHRSAANDMGF1",
        "SHA384WITHRSAANDMGF1",
        "SHA512WITHRSAANDMGF1",
        "SHA256WITHECDSA",
        "SHA384WITHECDSA",
        "SHA512WITHECDSA",
    ];

    /// The six algorithms AWS Private CA accepts in `IssueCertificate`.
    pub const PRIVATE_CA: [SigningAlgorithm; 6] = [
        SigningAlgorithm::Sha256WithRsa,
        SigningAlgorithm::Sha384WithRsa,
        SigningAlgorithm::Sha512WithRsa,
        SigningAlgorithm::Sha256WithEcdsa,
        SigningAlgorithm::Sha384WithEcdsa,
        SigningAlgorithm::Sha512WithEcdsa,
    ];

    pub fn name(self) -> &'static str {
        let index = SigningAlgorithm::ALL
            .iter()
            .position(|algorithm| *algorithm == self)
            .unwrap_or_default();
        SigningAlgorithm::NAMES[index]
    }

    pub fn hash(self) -> Hash {
        use SigningAlgorithm::*;
        match self {
            Sha256WithRsa | Sha256WithRsaPss | Sha256WithEcdsa => Hash::Sha256,
            Sha384WithRsa | Sha384WithRsaPss | Sha384WithEcdsa => Hash::Sha384,
            Sha512WithRsa | Sha512WithRsaPss | Sha512WithEcdsa => Hash::Sha512,
        }
    }

    pub fn is_rsa(self) -> bool {
        !self.is_ecdsa()
    }

    pub fn is_pss(self) -> bool {
        use SigningAlgorithm::*;
        matches!(self, Sha256WithRsaPss | Sha384WithRsaPss | Sha512WithRsaPss)
    }

    pub fn is_ecdsa(self) -> bool {
        use SigningAlgorithm::*;
        matches!(self, Sha256WithEcdsa | Sha384WithEcdsa | Sha512WithEcdsa)
    }

    /// Checks that this scheme can sign with a key of type `key`.
    pub fn check_key(self, key: KeyAlgorithm) -> Result<(), ProtocolError> {
        if self.is_rsa() == key.is_rsa() {
            Ok(())
        } else {
            Err(ProtocolError::MismatchedAlgorithms { key, signing: self })
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normalized = text.trim().to_ascii_uppercase();
        SigningAlgorithm::NAMES
            .iter()
            .position(|name| *name == normalized)
            .map(|index| SigningAlgorithm::ALL[index])
            .ok_or_else(|| ProtocolError::UnknownSigningAlgorithm(text.to_owned()))
    }
}

impl TryFrom<String> for SigningAlgorithm {
    type Error = ProtocolError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<SigningAlgorithm> for String {
    fn from(algorithm: SigningAlgorithm) -> Self {
        algorithm.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithm_names_round_trip() {
        for algorithm in KeyAlgorithm::ALL {
            assert_eq!(algorithm.name().parse::<KeyAlgorithm>(), Ok(algorithm));
            let json = serde_json::to_string(&algorithm).unwrap();
            assert_eq!(json, format!("\"{}\"", algorithm.name()));
        }
        assert_eq!("ecdsa-p-384".parse(), Ok(KeyAlgorithm::EcdsaP384));
        assert!("RSA-1024".parse::<KeyAlgorithm>().is_err());
    }

    #[test]
    fn signing_algorithm_names_round_trip() {
        for algorithm in SigningAlgorithm::ALL {
            assert_eq!(algorithm.name().parse(), Ok(algorithm));
            let json = serde_json::to_string(&algorithm).unwrap();
            let back: SigningAlgorithm = serde_json::from_str(&json).unwrap();
            assert_eq!(back, algorithm);
        }
        assert!(serde_json::from_str::<SigningAlgorithm>("\"MD5WITHRSA\"").is_err());
    }

    #[test]
    fn mismatched_pair_is_rejected() {
        let error = SigningAlgorithm::Sha256WithRsa
            .check_key(KeyAlgorithm::EcdsaP256)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "signing algorithm SHA256WITHRSA does not match key algorithm ECDSA-P256: use an ECDSA signing algorithm with an ECDSA key and an RSA one with an RSA key"
        );
        assert!(
            SigningAlgorithm::Sha384WithRsaPss
                .check_key(KeyAlgorithm::Rsa3072)
                .is_ok()
        );
    }

    #[test]
    fn pss_salt_is_digest_length() {
        assert_eq!(SigningAlgorithm::Sha384WithRsaPss.hash().len(), 48);
        assert!(SigningAlgorithm::Sha512WithRsaPss.is_pss());
        assert!(!SigningAlgorithm::PRIVATE_CA.iter().any(|a| a.is_pss()));
    }
}
