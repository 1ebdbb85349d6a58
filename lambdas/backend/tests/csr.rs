//! CSR validation against keys and CSRs made by the `openssl` CLI, which also cross-checks the
//! signatures of every CSR accepted here.

mod common;

use common::{Key, make_csr, make_key, openssl, self_signed};
use rotator_backend::csr::{MAX_CSR_PEM_BYTES, certificate_public_key, validate_csr};
use rotator_backend::error::ErrorKind;

struct Fixture {
    dir: tempfile::TempDir,
    current_pem: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "current", Key::Ec("P-256"));
    let current_pem = self_signed(dir.path(), &key, "/CN=core-1");
    Fixture { dir, current_pem }
}

#[test]
fn accepted_key_and_signature_types() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    let cases = [
        (
            "rsa2048-sha256",
            Key::Rsa(2048),
            "sha256",
            false,
            "RSA-2048",
        ),
        (
            "rsa3072-sha384",
            Key::Rsa(3072),
            "sha384",
            false,
            "RSA-3072",
        ),
        (
            "rsa2048-sha512",
            Key::Rsa(2048),
            "sha512",
            false,
            "RSA-2048",
        ),
        ("rsa2048-pss256", Key::Rsa(2048), "sha256", true, "RSA-2048"),
        ("rsa3072-pss384", Key::Rsa(3072), "sha384", true, "RSA-3072"),
        ("rsa2048-pss512", Key::Rsa(2048), "sha512", true, "RSA-2048"),
        ("p256-sha256", Key::Ec("P-256"), "sha256", false, "EC P-256"),
        ("p384-sha384", Key::Ec("P-384"), "sha384", false, "EC P-384"),
        ("p521-sha512", Key::Ec("P-521"), "sha512", false, "EC P-521"),
        ("p256-sha384", Key::Ec("P-256"), "sha384", false, "EC P-256"),
    ];
    for (name, key_type, digest, pss, description) in cases {
        let key = make_key(dir, name, key_type);
        let csr = make_csr(dir, &key, "/CN=core-1", digest, pss);

        let csr_path = dir.join(format!("{name}.csr"));
        openssl(
            dir,
            &[
                "req",
                "-in",
                csr_path.to_str().unwrap(),
                "-noout",
                "-verify",
            ],
        );

        let validated = validate_csr(&csr, &fixture.current_pem)
            .unwrap_or_else(|error| panic!("{name} should be accepted: {error}"));
        assert_eq!(validated.key_description, description, "{name}");
    }
}

#[test]
fn validated_key_matches_openssl() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    let key = make_key(dir, "new", Key::Ec("P-384"));
    let csr = make_csr(dir, &key, "/CN=core-1", "sha384", false);
    let validated = validate_csr(&csr, &fixture.current_pem).unwrap();

    // A certificate signed by openssl for the same key carries the same public key.
    let certificate = self_signed(dir, &key, "/CN=core-1");
    assert!(certificate_public_key(&certificate).unwrap() == validated.public_key_der);
}

#[test]
fn weak_or_unsupported_keys_are_rejected() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    let cases = [
        ("rsa1024", Key::Rsa(1024), "RSA key of 1024 bits"),
        ("secp256k1", Key::Ec("secp256k1"), "unsupported EC curve"),
        ("p224", Key::Ec("P-224"), "unsupported EC curve"),
    ];
    for (name, key_type, expected) in cases {
        let key = make_key(dir, name, key_type);
        let csr = make_csr(dir, &key, "/CN=core-1", "sha256", false);
        let error = validate_csr(&csr, &fixture.current_pem).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{name}");
        assert!(error.to_string().contains(expected), "{name}: {error}");
    }

    let ed25519 = dir.join("ed25519.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "ED25519",
            "-out",
            ed25519.to_str().unwrap(),
        ],
    );
    let csr = make_csr(dir, &ed25519, "/CN=core-1", "sha512", false);
    let error = validate_csr(&csr, &fixture.current_pem).unwrap_err();
    assert!(
        error.to_string().contains("unsupported key algorithm"),
        "{error}"
    );
}

#[test]
fn sha1_signature_is_rejected() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    let key = make_key(dir, "sha1", Key::Rsa(2048));
    let csr = make_csr(dir, &key, "/CN=core-1", "sha1", false);
    let error = validate_csr(&csr, &fixture.current_pem).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("unsupported signature algorithm"),
        "{error}"
    );
}

#[test]
fn tampered_signature_is_rejected() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    for (name, key_type, pss) in [
        ("tampered-ec", Key::Ec("P-256"), false),
        ("tampered-rsa", Key::Rsa(2048), false),
        ("tampered-pss", Key::Rsa(2048), true),
    ] {
        let key = make_key(dir, name, key_type);
        make_csr(dir, &key, "/CN=core-1", "sha256", pss);
        let pem_path = dir.join(format!("{name}.csr"));
        let der_path = dir.join(format!("{name}.der"));
        openssl(
            dir,
            &[
                "req",
                "-in",
                pem_path.to_str().unwrap(),
                "-outform",
                "DER",
                "-out",
                der_path.to_str().unwrap(),
            ],
        );
        // The signature is the last field of the DER, so flipping its last byte breaks it.
        let mut der = std::fs::read(&der_path).unwrap();
        *der.last_mut().unwrap() ^= 0x01;
        std::fs::write(&der_path, der).unwrap();
        let tampered_path = dir.join(format!("{name}-tampered.csr"));
        openssl(
            dir,
            &[
                "req",
                "-inform",
                "DER",
                "-in",
                der_path.to_str().unwrap(),
                "-out",
                tampered_path.to_str().unwrap(),
            ],
        );
        let tampered = std::fs::read_to_string(&tampered_path).unwrap();

        let error = validate_csr(&tampered, &fixture.current_pem).unwrap_err();
        assert!(
            error.to_string().contains("signature does not verify"),
            "{name}: {error}"
        );
    }
}

#[test]
fn malformed_pem_is_rejected() {
    let fixture = fixture();
    let cases = [
        ("", "not a PEM document"),
        ("hello", "not a PEM document"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "not a PKCS#10 request",
        ),
        (fixture.current_pem.as_str(), "PEM label \"CERTIFICATE\""),
    ];
    for (pem, expected) in cases {
        let error = validate_csr(pem, &fixture.current_pem).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
}

#[test]
fn oversize_csr_is_rejected() {
    let fixture = fixture();
    let pem = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        "A".repeat(MAX_CSR_PEM_BYTES)
    );
    let error = validate_csr(&pem, &fixture.current_pem).unwrap_err();
    assert!(error.to_string().contains("more than the"), "{error}");
}

#[test]
fn current_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path(), "reused", Key::Ec("P-256"));
    let current_pem = self_signed(dir.path(), &key, "/CN=core-1");
    let csr = make_csr(dir.path(), &key, "/CN=core-1", "sha256", false);
    let error = validate_csr(&csr, &current_pem).unwrap_err();
    assert!(
        error.to_string().contains("key of the current certificate"),
        "{error}"
    );
}

#[test]
fn other_subject_is_rejected() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    let key = make_key(dir, "other-thing", Key::Ec("P-256"));
    let csr = make_csr(dir, &key, "/CN=core-2", "sha256", false);
    let error = validate_csr(&csr, &fixture.current_pem).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("differs from the current certificate"),
        "{error}"
    );
}

#[test]
fn pss_with_other_parameters_is_rejected() {
    let fixture = fixture();
    let dir = fixture.dir.path();
    let key = make_key(dir, "pss-params", Key::Rsa(2048));
    let cases = [
        ("rsa_pss_saltlen:20", "rsa_mgf1_md:sha256", "salt length"),
        (
            "rsa_pss_saltlen:digest",
            "rsa_mgf1_md:sha1",
            "MGF1 with the same hash",
        ),
    ];
    for (salt, mgf1, expected) in cases {
        let out = dir.join("pss-params.csr");
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                key.to_str().unwrap(),
                "-subj",
                "/CN=core-1",
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                salt,
                "-sigopt",
                mgf1,
                "-out",
                out.to_str().unwrap(),
            ],
        );
        openssl(
            dir,
            &["req", "-in", out.to_str().unwrap(), "-noout", "-verify"],
        );
        let csr = std::fs::read_to_string(&out).unwrap();

        let error = validate_csr(&csr, &fixture.current_pem).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{salt} {mgf1}: {error}"
        );
    }
}
