//! How AWS errors map to error kinds and the retryable flag, with the errors coming from
//! moto's typed responses, from a closed loopback port, and from a stand-in Private CA transport.

mod common;

use std::time::Duration;

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use common::{Key, World};
use rotator_backend::aws::{Notifier, RecordStore, Registry};
use rotator_backend::error::ErrorKind;
use rotator_backend::sdk::{PrivateCaSigner, SdkRegistry, SnsNotifier};
use rotator_protocol::SigningAlgorithm;

#[tokio::test]
async fn moto_errors_map_to_kinds() {
    let world = World::start();
    let device = world.device("core-1", Key::Ec("P-256")).await;
    let registry = world.registry();

    let missing = registry.describe_certificate("00ff").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(!missing.is_retryable());

    // An active, attached certificate cannot be deleted yet: a conflict, worth retrying.
    let active = registry
        .delete_certificate(&device.certificate_id)
        .await
        .unwrap_err();
    assert_eq!(active.kind(), ErrorKind::Conflict, "{active}");
    assert!(active.is_retryable());
    assert!(
        active.to_string().contains(&device.certificate_id),
        "{active}"
    );

    registry
        .deactivate_certificate(&device.certificate_id)
        .await
        .unwrap();
    let attached = registry
        .delete_certificate(&device.certificate_id)
        .await
        .unwrap_err();
    assert_eq!(attached.kind(), ErrorKind::Conflict, "{attached}");

    let no_thing = registry.thing_principals("absent").await.unwrap_err();
    assert_eq!(no_thing.kind(), ErrorKind::NotFound, "{no_thing}");

    assert_eq!(world.records().load("absent").await.unwrap(), None);

    let notifier = SnsNotifier::new(world.sns.clone(), "arn:aws:sns:us-east-1:123456789012:x");
    let no_topic = notifier.notify("s", "m").await.unwrap_err();
    assert_eq!(no_topic.kind(), ErrorKind::NotFound, "{no_topic}");
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let port = testsupport::free_port();
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_iot::config::retry::RetryConfig::disabled())
        .build();
    let registry = SdkRegistry::new(aws_sdk_iot::Client::from_conf(config));

    let error = registry.describe_certificate("00ff").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AwsTransient, "{error}");
    assert!(error.is_retryable());
}

/// A stand-in for the AWS Private CA JSON API in place of the HTTP transport: `IssueCertificate`
/// succeeds, and `GetCertificate` fails with the modeled error `get_certificate_error`. It
/// emulates nothing else and opens no connection.
#[derive(Debug, Clone)]
struct FailingGetCertificate {
    get_certificate_error: &'static str,
}

impl HttpConnector for FailingGetCertificate {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let (status, body) = match target {
            "ACMPrivateCA.IssueCertificate" => (
                200,
                format!(r#"{{"CertificateArn":"{CA_ARN}/certificate/0a1b2c"}}"#),
            ),
            "ACMPrivateCA.GetCertificate" => (
                400,
                format!(
                    r#"{{"__type":"{}","message":"stand-in error"}}"#,
                    self.get_certificate_error
                ),
            ),
            other => (400, format!(r#"{{"__type":"UnknownOperation {other}"}}"#)),
        };
        let mut response =
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for FailingGetCertificate {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

const CA_ARN: &str = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/0f1e2d3c";

fn signer_with_failing_get_certificate(error: &'static str) -> PrivateCaSigner {
    let loopback = format!("http://127.0.0.1:{}", testsupport::free_port());
    let pca_config = aws_sdk_acmpca::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(&loopback)
        .retry_config(aws_sdk_iot::config::retry::RetryConfig::disabled())
        .http_client(FailingGetCertificate {
            get_certificate_error: error,
        })
        .build();
    let iot_config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(&loopback)
        .build();
    PrivateCaSigner::new(
        aws_sdk_acmpca::Client::from_conf(pca_config),
        SdkRegistry::new(aws_sdk_iot::Client::from_conf(iot_config)),
        CA_ARN,
        7,
        SigningAlgorithm::Sha256WithRsa,
        Duration::from_secs(25),
    )
}

/// A `GetCertificate` error that the issuance waiter does not handle keeps its own kind: a
/// failed issuance is permanent, so the device gets a rejected reply instead of a retry.
#[tokio::test]
async fn private_ca_wait_errors_map_to_kinds() {
    let cases = [
        ("RequestFailedException", ErrorKind::AwsPermanent),
        ("ResourceNotFoundException", ErrorKind::NotFound),
        ("InvalidStateException", ErrorKind::Conflict),
        ("AccessDeniedException", ErrorKind::AwsPermanent),
    ];
    for (exception, kind) in cases {
        let signer = signer_with_failing_get_certificate(exception);
        let error = signer.sign("csr").await.unwrap_err();
        assert_eq!(error.kind(), kind, "{exception}: {error}");
        assert!(
            error
                .to_string()
                .contains(&format!("{CA_ARN}/certificate/0a1b2c")),
            "{exception}: {error}"
        );
    }
}
