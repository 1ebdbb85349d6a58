//! The iot-data endpoint: `DescribeEndpoint` against moto, and the client built from its result.
//!
//! The address that moto returns is a host name under amazonaws.com, so the client under test
//! gets a connector that records each request's URI and fails it without opening a connection.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iot::config::Credentials;
use aws_sdk_iotdataplane::config::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::retry::RetryConfig;
use rotator_backend::aws::EndpointLookup;
use rotator_backend::endpoint::iot_data_client;
use rotator_backend::error::{ErrorKind, Result};
use rotator_backend::sdk::SdkEndpointLookup;
use testsupport::MotoServer;

const REGION: &str = "us-east-1";

fn iot_client(endpoint: &str) -> aws_sdk_iot::Client {
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_iot::Client::from_conf(config)
}

/// Records the URI of every request and fails it with an I/O error, so nothing leaves the process.
#[derive(Debug, Clone, Default)]
struct RecordingConnector {
    uris: Arc<Mutex<Vec<String>>>,
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.uris.lock().unwrap().push(request.uri().to_owned());
        HttpConnectorFuture::ready(Err(ConnectorError::io(
            "the test connector sends no request".into(),
        )))
    }
}

impl HttpClient for RecordingConnector {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// Builds an SDK configuration without an endpoint URL, like the one `aws_config::load_from_env`
/// returns in AWS Lambda, but with `connector` as its transport and no retries.
fn sdk_config_without_endpoint(connector: &RecordingConnector) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .retry_config(RetryConfig::disabled())
        .http_client(connector.clone())
        .build()
}

/// Passes calls to an inner lookup, counts them and keeps the last address returned.
struct CountingLookup<L> {
    inner: L,
    calls: AtomicU32,
    last_address: Mutex<Option<String>>,
}

impl<L: EndpointLookup> EndpointLookup for CountingLookup<L> {
    async fn data_ats_endpoint(&self) -> Result<String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let address = self.inner.data_ats_endpoint().await?;
        *self.last_address.lock().unwrap() = Some(address.clone());
        Ok(address)
    }
}

/// Checks that `address` is a bare host name of the form `<prefix>-ats.iot.<region>.<domain>`.
fn assert_data_ats_address(address: &str) {
    assert!(!address.contains("://"), "{address} has a scheme");
    assert!(!address.contains('/'), "{address} has a path");
    let (prefix, rest) = address
        .split_once('.')
        .unwrap_or_else(|| panic!("{address} is not a dotted host name"));
    assert!(prefix.ends_with("-ats"), "{address} is not an ATS endpoint");
    assert!(
        prefix.len() > "-ats".len(),
        "{address} has no account prefix"
    );
    assert!(
        rest.starts_with(&format!("iot.{REGION}.")),
        "{address} is not in iot.{REGION}"
    );
}

#[tokio::test]
async fn moto_returns_data_ats_address() {
    let moto = MotoServer::start();
    let lookup = SdkEndpointLookup::new(iot_client(&moto.endpoint()));

    let address = lookup.data_ats_endpoint().await.unwrap();
    assert_data_ats_address(&address);
}

#[tokio::test]
async fn client_sends_to_described_endpoint() {
    let moto = MotoServer::start();
    let lookup = CountingLookup {
        inner: SdkEndpointLookup::new(iot_client(&moto.endpoint())),
        calls: AtomicU32::new(0),
        last_address: Mutex::new(None),
    };
    let connector = RecordingConnector::default();

    let client = iot_data_client(&sdk_config_without_endpoint(&connector), &lookup)
        .await
        .unwrap();
    for topic in ["awslabs/things/core-1/certificate/create/accepted", "a/b"] {
        let error = client
            .publish()
            .topic(topic)
            .qos(1)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                aws_sdk_iotdataplane::error::SdkError::DispatchFailure(_)
            ),
            "{error:?}"
        );
    }

    // Two requests, one DescribeEndpoint: the client keeps the address it was built with.
    assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
    let address = lookup.last_address.lock().unwrap().clone().unwrap();
    assert_data_ats_address(&address);
    let uris = connector.uris.lock().unwrap().clone();
    assert_eq!(uris.len(), 2, "{uris:?}");
    for uri in &uris {
        assert!(
            uri.starts_with(&format!("https://{address}/topics/")),
            "{uri} does not go to https://{address}"
        );
    }
}

#[tokio::test]
async fn unreachable_iot_endpoint_names_the_fix() {
    let port = testsupport::free_port();
    let lookup = SdkEndpointLookup::new(iot_client(&format!("http://127.0.0.1:{port}")));
    let connector = RecordingConnector::default();

    let error = iot_data_client(&sdk_config_without_endpoint(&connector), &lookup)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AwsTransient, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("failed to describe the iot:Data-ATS endpoint"),
        "{message}"
    );
    assert!(message.contains("iot:DescribeEndpoint"), "{message}");
    assert!(
        message.contains("AWS_ENDPOINT_URL_IOT_DATA_PLANE"),
        "{message}"
    );
    assert!(connector.uris.lock().unwrap().is_empty());
}
