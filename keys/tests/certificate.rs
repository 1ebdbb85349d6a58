//! Certificate checks, mismatched algorithm pairs, external signers and bad input, with
//! certificates and keys made by the `openssl` CLI.

mod common;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair};
use common::{EC_P256, EC_P384, EC_P521, RSA_2048, RSA_3072, SUBJECT, Workspace};
use rotator_keys::{
    CsrSigner, KeysError, PrivateKey, build_csr, build_csr_with, certificate_id,
    certificate_key_algorithm, certificate_matches_key, certificate_subject_der,
    ecdsa_signature_der, generate_key, generate_key_and_csr,
};
use rotator_protocol::{KeyAlgorithm, SigningAlgorithm};

const KEY_TYPES: [(KeyAlgorithm, &[&str]); 5] = [
    (KeyAlgorithm::Rsa2048, RSA_2048),
    (KeyAlgorithm::Rsa3072, RSA_3072),
    (KeyAlgorithm::EcdsaP256, EC_P256),
    (KeyAlgorithm::EcdsaP384, EC_P384),
    (KeyAlgorithm::EcdsaP521, EC_P521),
];

#[test]
fn matches_key_across_key_types() {
    let workspace = Workspace::new();
    let pairs: Vec<(KeyAlgorithm, String, String)> = KEY_TYPES
        .iter()
        .map(|(algorithm, new_key)| {
            let name = algorithm.name();
            let certificate = workspace.self_signed(name, new_key, SUBJECT);
            (
                *algorithm,
                certificate,
                workspace.read(&format!("{name}.key")),
            )
        })
        .collect();

    for (algorithm, certificate, _) in &pairs {
        assert_eq!(certificate_key_algorithm(certificate).unwrap(), *algorithm);
        for (other, _, key) in &pairs {
            let matches = certificate_matches_key(certificate, key).unwrap();
            assert_eq!(
                matches,
                algorithm == other,
                "{algorithm} certificate, {other} key"
            );
        }
    }
}

#[test]
fn matches_key_in_every_pem_format() {
    let workspace = Workspace::new();
    let rsa = workspace.self_signed("rsa", RSA_2048, SUBJECT);
    let ec = workspace.self_signed("ec", EC_P384, SUBJECT);
    workspace.openssl(&[
        "rsa",
        "-in",
        "rsa.key",
        "-traditional",
        "-out",
        "rsa-pkcs1.key",
    ]);
    workspace.openssl(&["ec", "-in", "ec.key", "-out", "ec-sec1.key"]);
    let pkcs1 = workspace.read("rsa-pkcs1.key");
    let sec1 = workspace.read("ec-sec1.key");
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));

    assert!(certificate_matches_key(&rsa, &pkcs1).unwrap());
    assert!(certificate_matches_key(&rsa, &workspace.read("rsa.key")).unwrap());
    assert!(certificate_matches_key(&ec, &sec1).unwrap());
    assert!(!certificate_matches_key(&ec, &pkcs1).unwrap());

    // Loading normalises to PKCS#1 for RSA and PKCS#8 for EC.
    let loaded = rotator_keys::GeneratedKey::from_private_key_pem(&sec1).unwrap();
    assert_eq!(loaded.algorithm, KeyAlgorithm::EcdsaP384);
    assert!(
        loaded
            .private_key_pem
            .expose()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(certificate_matches_key(&ec, loaded.private_key_pem.expose()).unwrap());
}

#[test]
fn issued_certificate_matches_generated_key() {
    let workspace = Workspace::new();
    let device = workspace.self_signed("device", EC_P256, SUBJECT);
    workspace.self_signed("ca", EC_P384, "/CN=Test CA");
    for (key_algorithm, signing) in [
        (KeyAlgorithm::Rsa2048, SigningAlgorithm::Sha384WithRsaPss),
        (KeyAlgorithm::EcdsaP521, SigningAlgorithm::Sha256WithEcdsa),
    ] {
        let (key, csr) = generate_key_and_csr(key_algorithm, signing, &device).unwrap();
        workspace.write("new.csr", &csr);
        workspace.openssl(&[
            "x509",
            "-req",
            "-in",
            "new.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-days",
            "1",
            "-set_serial",
            "7",
            "-out",
            "new.pem",
        ]);
        let issued = workspace.read("new.pem");
        assert!(certificate_matches_key(&issued, key.private_key_pem.expose()).unwrap());
        assert_eq!(certificate_key_algorithm(&issued).unwrap(), key_algorithm);
        assert_eq!(
            certificate_subject_der(&issued).unwrap(),
            certificate_subject_der(&device).unwrap()
        );
        let other = generate_key(key_algorithm).unwrap();
        assert!(!certificate_matches_key(&issued, other.private_key_pem.expose()).unwrap());
        assert!(!certificate_matches_key(&device, key.private_key_pem.expose()).unwrap());
    }
}

#[test]
fn certificate_id_matches_openssl_digest() {
    let workspace = Workspace::new();
    let first = workspace.self_signed("first", EC_P256, SUBJECT);
    let second = workspace.self_signed("second", EC_P256, "/CN=Intermediate");
    let expected = workspace.shell("openssl x509 -in first.pem -outform DER | sha256sum");
    let expected = expected.split_whitespace().next().unwrap();
    assert_eq!(expected.len(), 64);
    assert_eq!(certificate_id(&first).unwrap(), expected);
    // A chain: the ID is the first certificate's.
    let chain = format!("{first}{second}");
    assert_eq!(certificate_id(&chain).unwrap(), expected);
    assert_ne!(certificate_id(&second).unwrap(), expected);
}

#[test]
fn unsupported_certificate_keys_are_errors() {
    let workspace = Workspace::new();
    let small = workspace.self_signed("small", &["rsa:1024"], "/CN=small");
    let edwards = workspace.self_signed("edwards", &["ed25519"], "/CN=edwards");
    let error = certificate_key_algorithm(&small).unwrap_err();
    assert!(
        matches!(error, KeysError::UnsupportedCertificateKey(_)),
        "{error}"
    );
    assert!(error.to_string().contains("RSA-1024"), "{error}");
    let error = certificate_key_algorithm(&edwards).unwrap_err();
    assert!(
        matches!(error, KeysError::UnsupportedCertificateKey(_)),
        "{error}"
    );
    // The subject and ID do not depend on the key type.
    assert!(certificate_subject_der(&edwards).is_ok());
    assert!(certificate_id(&edwards).is_ok());
}

#[test]
fn mismatched_pairs_are_rejected() {
    let workspace = Workspace::new();
    let device = workspace.self_signed("device", EC_P256, SUBJECT);
    let ec = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let rsa = generate_key(KeyAlgorithm::Rsa2048).unwrap();
    for signing in SigningAlgorithm::ALL {
        let (key, compatible) = if signing.is_rsa() {
            (&ec, &rsa)
        } else {
            (&rsa, &ec)
        };
        let error = build_csr(key, signing, &device).unwrap_err();
        assert!(
            matches!(error, KeysError::Algorithm(_)),
            "{signing}: {error}"
        );
        assert!(build_csr(compatible, signing, &device).is_ok(), "{signing}");
    }
    // A public key that belongs to another private key.
    let mut swapped = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    swapped.public_key_der = ec.public_key_der.clone();
    let error = build_csr(&swapped, SigningAlgorithm::Sha256WithEcdsa, &device).unwrap_err();
    assert!(matches!(error, KeysError::PublicKeyMismatch), "{error}");
    let error = build_csr_with(
        &swapped,
        SigningAlgorithm::Sha256WithEcdsa,
        &certificate_subject_der(&device).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(error, KeysError::SignatureCheck { .. }), "{error}");

    // The pair is checked before the certificate is read or a key is made.
    let error = generate_key_and_csr(
        KeyAlgorithm::EcdsaP521,
        SigningAlgorithm::Sha512WithRsaPss,
        "not a certificate",
    )
    .unwrap_err();
    assert!(matches!(error, KeysError::Algorithm(_)), "{error}");
    assert!(error.to_string().contains("ECDSA-P521"), "{error}");
}

const GARBAGE: [&str; 7] = [
    "",
    "hello",
    "-----BEGIN CERTIFICATE-----\nMIIB\n",
    "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n",
    "\u{0}\u{1}\u{ff}binary",
];

#[test]
fn garbage_certificate_pem_is_error() {
    let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    for input in GARBAGE {
        assert!(certificate_id(input).is_err(), "{input:?}");
        assert!(certificate_subject_der(input).is_err(), "{input:?}");
        assert!(certificate_key_algorithm(input).is_err(), "{input:?}");
        assert!(
            build_csr(&key, SigningAlgorithm::Sha256WithEcdsa, input).is_err(),
            "{input:?}"
        );
        assert!(
            certificate_matches_key(input, key.private_key_pem.expose()).is_err(),
            "{input:?}"
        );
    }
    assert!(matches!(
        certificate_id("hello").unwrap_err(),
        KeysError::NoCertificate
    ));
}

#[test]
fn garbage_private_key_pem_is_error() {
    let workspace = Workspace::new();
    let device = workspace.self_signed("device", EC_P256, SUBJECT);
    workspace.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "device.key",
        "-passout",
        "pass:secret",
        "-out",
        "enc.key",
    ]);
    let encrypted = workspace.read("enc.key");
    let device_key = workspace.read("device.key");
    // A valid key body cut short, and a key body with a flipped character.
    let truncated = device_key.lines().take(2).collect::<Vec<_>>().join("\n");
    let mut lines: Vec<String> = device_key.lines().map(str::to_owned).collect();
    let flipped = if lines[2].as_bytes()[10] == b'A' {
        "B"
    } else {
        "A"
    };
    lines[2].replace_range(10..11, flipped);
    let corrupted = lines.join("\n");
    let mut inputs: Vec<String> = GARBAGE.iter().map(|text| text.to_string()).collect();
    inputs.extend([encrypted, truncated, corrupted, device.clone()]);
    for input in &inputs {
        let error = certificate_matches_key(&device, input).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(
                error,
                KeysError::InvalidPrivateKeyPem(_) | KeysError::UnsupportedPrivateKey(_)
            ),
            "{message}"
        );
        for line in input
            .lines()
            .filter(|line| line.len() > 8 && !line.starts_with("-----"))
        {
            assert!(!message.contains(line), "error quotes the input: {message}");
        }
        assert!(PrivateKey::from_pem(input).is_err());
    }
}

/// A signer that, like a PKCS#11 token with `CKM_ECDSA`, returns raw `r || s` signatures.
struct FixedSigner {
    pair: EcdsaKeyPair,
    public_key_der: Vec<u8>,
}

impl CsrSigner for FixedSigner {
    fn key_algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::EcdsaP256
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.public_key_der.clone()
    }

    fn sign(&self, _signing: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, KeysError> {
        let fixed = self.pair.sign(&SystemRandom::new(), message).unwrap();
        assert_eq!(fixed.as_ref().len(), 64);
        ecdsa_signature_der(fixed.as_ref())
    }
}

fn fixed_signer() -> FixedSigner {
    let pkcs8 = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let der = pem_rfc7468::decode_vec(pkcs8.private_key_pem.expose().as_bytes())
        .unwrap()
        .1;
    let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
    FixedSigner {
        pair,
        public_key_der: pkcs8.public_key_der.clone(),
    }
}

#[test]
fn external_signer_with_raw_ecdsa_verifies() {
    let workspace = Workspace::new();
    let device = workspace.self_signed("device", EC_P256, SUBJECT);
    let signer = fixed_signer();
    let subject = certificate_subject_der(&device).unwrap();
    // Many CSRs, so that r or s with a high bit or a leading zero byte is likely to occur.
    for index in 0..16 {
        let csr = build_csr_with(&signer, SigningAlgorithm::Sha256WithEcdsa, &subject).unwrap();
        let file = format!("{index}.csr");
        workspace.write(&file, &csr);
        workspace.openssl(&["req", "-verify", "-noout", "-in", &file]);
    }
}

#[test]
fn external_signer_faults_are_caught() {
    let device = Workspace::new().self_signed("device", EC_P256, SUBJECT);
    let subject = certificate_subject_der(&device).unwrap();
    let mut signer = fixed_signer();

    // A signer whose key does not match its public key.
    signer.public_key_der = generate_key(KeyAlgorithm::EcdsaP256)
        .unwrap()
        .public_key_der;
    let error = build_csr_with(&signer, SigningAlgorithm::Sha256WithEcdsa, &subject).unwrap_err();
    assert!(matches!(error, KeysError::SignatureCheck { .. }), "{error}");

    // A public key of another type than the signer claims.
    signer.public_key_der = generate_key(KeyAlgorithm::EcdsaP384)
        .unwrap()
        .public_key_der;
    let error = build_csr_with(&signer, SigningAlgorithm::Sha256WithEcdsa, &subject).unwrap_err();
    assert!(
        matches!(error, KeysError::InvalidPublicKey { .. }),
        "{error}"
    );

    signer.public_key_der = vec![0x30, 0x00];
    let error = build_csr_with(&signer, SigningAlgorithm::Sha256WithEcdsa, &subject).unwrap_err();
    assert!(
        matches!(error, KeysError::InvalidPublicKey { .. }),
        "{error}"
    );

    // A subject that is not one DER SEQUENCE.
    let signer = fixed_signer();
    for bad_subject in [
        &b""[..],
        &[0x31, 0x00],
        &[0x30, 0x05, 0x00],
        &[0x30, 0x00, 0x00],
    ] {
        let error =
            build_csr_with(&signer, SigningAlgorithm::Sha256WithEcdsa, bad_subject).unwrap_err();
        assert!(matches!(error, KeysError::InvalidSubject), "{error}");
    }

    assert!(matches!(
        ecdsa_signature_der(&[1, 2, 3]).unwrap_err(),
        KeysError::InvalidFixedSignature { length: 3 }
    ));
    assert!(ecdsa_signature_der(&[]).is_err());
}
