//! Creates an active AWS Private CA certificate authority in the sandbox for the demo.
//!
//! moto creates a CA in `PENDING_CERTIFICATE` and does not check the certificate it is given,
//! so this imports a self-signed certificate from a throwaway key to make the CA `ACTIVE`. It
//! prints the CA's ARN on stdout. It refuses to run unless `AWS_ENDPOINT_URL` names a loopback
//! address, because creating a real CA costs money.

use anyhow::{Context, bail};
use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types::{
    Asn1Subject, CertificateAuthorityConfiguration, CertificateAuthorityType,
    CertificateAuthorityUsageMode, KeyAlgorithm, SigningAlgorithm,
};

const COMMON_NAME: &str = "certrotator demo CA";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if !is_loopback_url(&endpoint) {
        bail!(
            "AWS_ENDPOINT_URL is {endpoint:?}: set it to the sandbox's loopback URL \
             (see target/sandbox/endpoint after `make sandbox-up`)"
        );
    }
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_acmpca::Client::new(&config);

    let subject = Asn1Subject::builder().common_name(COMMON_NAME).build();
    let configuration = CertificateAuthorityConfiguration::builder()
        .key_algorithm(KeyAlgorithm::Rsa2048)
        .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
        .subject(subject)
        .build()
        .context("failed to build the CA configuration")?;
    let created = client
        .create_certificate_authority()
        .certificate_authority_configuration(configuration)
        .certificate_authority_type(CertificateAuthorityType::Root)
        // A short-lived CA issues at most 7 days of validity. NOTE: moto 5.2.5 ignores this
        // and reports SHORT_LIVED_CERTIFICATE, so the demo deploys with --validity-days 5.
        .usage_mode(CertificateAuthorityUsageMode::GeneralPurpose)
        .send()
        .await
        .context("failed to create the demo certificate authority")?;
    let arn = created
        .certificate_authority_arn()
        .context("CreateCertificateAuthority returned no ARN")?
        .to_owned();

    client
        .import_certificate_authority_certificate()
        .certificate_authority_arn(&arn)
        .certificate(Blob::new(self_signed_certificate()?.into_bytes()))
        .send()
        .await
        .with_context(|| format!("failed to activate the demo certificate authority {arn}"))?;

    println!("{arn}");
    Ok(())
}

fn self_signed_certificate() -> anyhow::Result<String> {
    let key = rcgen::KeyPair::generate().context("failed to generate the demo CA key")?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .context("failed to build the demo CA certificate parameters")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, COMMON_NAME);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let certificate = params
        .self_signed(&key)
        .context("failed to self-sign the demo CA certificate")?;
    Ok(certificate.pem())
}

fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.")
}
