//! Every key algorithm with every compatible signing algorithm, checked by the `openssl` CLI.

mod common;

use common::{EC_P256, SUBJECT, Workspace};
use rotator_keys::{build_csr, build_csr_with, certificate_subject_der, generate_key};
use rotator_protocol::{KeyAlgorithm, SigningAlgorithm};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

/// Lines `openssl req -text` prints for the key and the signature algorithm.
fn expected_text(key: KeyAlgorithm, signing: SigningAlgorithm) -> Vec<String> {
    let hash = match signing.hash().len() {
        32 => "sha256",
        48 => "sha384",
        _ => "sha512",
    };
    let mut lines = vec![
        match key {
            KeyAlgorithm::Rsa2048 => "Public-Key: (2048 bit)",
            KeyAlgorithm::Rsa3072 => "Public-Key: (3072 bit)",
            KeyAlgorithm::EcdsaP256 => "NIST CURVE: P-256",
            KeyAlgorithm::EcdsaP384 => "NIST CURVE: P-384",
            KeyAlgorithm::EcdsaP521 => "NIST CURVE: P-521",
        }
        .to_owned(),
    ];
    if signing.is_pss() {
        lines.push("Signature Algorithm: rsassaPss".to_owned());
        lines.push(format!("Hash Algorithm: {hash}\n"));
        lines.push(format!("Mask Algorithm: mgf1 with {hash}\n"));
        lines.push(format!("Salt Length: 0x{:x}\n", signing.hash().len()));
        lines.push("Trailer Field: 0x01 (default)".to_owned());
    } else if signing.is_ecdsa() {
        lines.push(format!(
            "Signature Algorithm: ecdsa-with-{}\n",
            hash.to_uppercase()
        ));
    } else {
        lines.push(format!("Signature Algorithm: {hash}WithRSAEncryption\n"));
    }
    lines
}

fn check_every_scheme(key_algorithm: KeyAlgorithm) {
    let workspace = Workspace::new();
    let source = workspace.self_signed("source", EC_P256, SUBJECT);
    let source_subject = workspace.openssl(&["x509", "-in", "source.pem", "-noout", "-subject"]);
    let source_subject_der = certificate_subject_der(&source).unwrap();

    let key = generate_key(key_algorithm).unwrap();
    assert_eq!(key.algorithm, key_algorithm);
    workspace.write("key.pem", key.private_key_pem.expose());
    let header = key.private_key_pem.expose().lines().next().unwrap();
    if key_algorithm.is_rsa() {
        assert_eq!(header, "-----BEGIN RSA PRIVATE KEY-----");
    } else {
        assert_eq!(header, "-----BEGIN PRIVATE KEY-----");
    }
    let check = workspace.openssl_output(&["pkey", "-in", "key.pem", "-check", "-noout"]);
    assert!(
        check.status.success(),
        "openssl pkey -check rejected the key"
    );
    let key_public = workspace.openssl(&["pkey", "-in", "key.pem", "-pubout"]);
    let der_public =
        workspace.shell("openssl pkey -in key.pem -pubout -outform DER | od -An -v -tx1");
    let ours: String = key
        .public_key_der
        .iter()
        .map(|byte| format!(" {byte:02x}"))
        .collect();
    assert_eq!(
        der_public.split_whitespace().collect::<Vec<_>>(),
        ours.split_whitespace().collect::<Vec<_>>(),
        "public_key_der differs from openssl's SubjectPublicKeyInfo"
    );

    let schemes: Vec<SigningAlgorithm> = SigningAlgorithm::ALL
        .into_iter()
        .filter(|signing| signing.check_key(key_algorithm).is_ok())
        .collect();
    assert_eq!(schemes.len(), if key_algorithm.is_rsa() { 6 } else { 3 });

    for signing in schemes {
        let csr = build_csr(&key, signing, &source).unwrap();
        let file = format!("{}.csr", signing.name());
        workspace.write(&file, &csr);

        let verify = workspace.openssl_output(&["req", "-verify", "-noout", "-in", &file]);
        let verify_message = String::from_utf8_lossy(&verify.stderr);
        assert!(verify.status.success(), "{signing}: {verify_message}");
        assert!(
            verify_message.contains("verify OK"),
            "{signing}: {verify_message}"
        );

        let csr_public = workspace.openssl(&["req", "-in", &file, "-noout", "-pubkey"]);
        assert_eq!(csr_public, key_public, "{signing}: public key");

        let csr_subject = workspace.openssl(&["req", "-in", &file, "-noout", "-subject"]);
        assert_eq!(csr_subject, source_subject, "{signing}: subject");

        let text = workspace.openssl(&["req", "-in", &file, "-noout", "-text"]);
        for expected in expected_text(key_algorithm, signing) {
            assert!(
                text.contains(&expected),
                "{signing}: {expected:?} missing from\n{text}"
            );
        }

        // The same key through the generic signer path, which also checks the signature.
        let generic = build_csr_with(&key, signing, &source_subject_der).unwrap();
        let generic_file = format!("{}-generic.csr", signing.name());
        workspace.write(&generic_file, &generic);
        workspace.openssl(&["req", "-verify", "-noout", "-in", &generic_file]);

        let (_, request_der) = pem_rfc7468::decode_vec(csr.as_bytes()).unwrap();
        let (rest, request) = X509CertificationRequest::from_der(&request_der).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            request.certification_request_info.subject.as_raw(),
            source_subject_der.as_slice(),
            "{signing}: subject bytes"
        );
    }
}

#[test]
fn rsa_2048_every_scheme() {
    check_every_scheme(KeyAlgorithm::Rsa2048);
}

#[test]
fn rsa_3072_every_scheme() {
    check_every_scheme(KeyAlgorithm::Rsa3072);
}

#[test]
fn ecdsa_p256_every_scheme() {
    check_every_scheme(KeyAlgorithm::EcdsaP256);
}

#[test]
fn ecdsa_p384_every_scheme() {
    check_every_scheme(KeyAlgorithm::EcdsaP384);
}

#[test]
fn ecdsa_p521_every_scheme() {
    check_every_scheme(KeyAlgorithm::EcdsaP521);
}
