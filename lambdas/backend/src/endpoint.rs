//! The endpoint of the `iot-data` client, which reads and writes shadows and publishes replies.
//!
//! AWS documents that data-plane requests go to the account's own endpoint, which
//! `DescribeEndpoint` returns for the `iot:Data-ATS` endpoint type. The SDK's default endpoint
//! (`data-ats.iot.<region>.amazonaws.com`) is a different host. An endpoint URL set through the
//! SDK's configuration (`AWS_ENDPOINT_URL_IOT_DATA_PLANE`, `AWS_ENDPOINT_URL`, or the matching
//! profile settings) takes precedence, so tests and local stand-ins need no `DescribeEndpoint`.

use aws_config::SdkConfig;
use aws_types::service_config::ServiceConfigKey;
use tracing::info;

use crate::aws::EndpointLookup;
use crate::error::Result;

/// The service ID under which the SDK looks up per-service settings for `iot-data`, as in
/// `AWS_ENDPOINT_URL_IOT_DATA_PLANE` and in the `services` section of a profile.
const IOT_DATA_SERVICE_ID: &str = "IoT Data Plane";

/// Returns the endpoint URL that `sdk_config` gives the `iot-data` client, or `None` when the
/// client would use the SDK's default endpoint.
///
/// This repeats the precedence of `aws_sdk_iotdataplane::config::Builder::from(&SdkConfig)`,
/// whose result has no getter. An endpoint set in code on the `SdkConfig` wins, then the
/// service-specific and then the global setting, each from the environment before the profile.
/// The lookup itself is the SDK's (`SdkConfig::service_config`), so the variable names and the
/// profile format stay the SDK's.
pub fn configured_endpoint_url(sdk_config: &SdkConfig) -> Option<String> {
    let from_code = sdk_config.endpoint_url().map(str::to_owned);
    if sdk_config.get_origin("endpoint_url").is_client_config() {
        return from_code;
    }
    let key = ServiceConfigKey::builder()
        .service_id(IOT_DATA_SERVICE_ID)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("service ID, environment variable and profile key are all set");
    sdk_config
        .service_config()
        .and_then(|service_config| service_config.load_config(key))
        .or(from_code)
}

/// Builds the `iot-data` client. Without a configured endpoint URL it calls `DescribeEndpoint`
/// once, so call this once per cold start and share the client between invocations.
pub async fn iot_data_client(
    sdk_config: &SdkConfig,
    lookup: &impl EndpointLookup,
) -> Result<aws_sdk_iotdataplane::Client> {
    if configured_endpoint_url(sdk_config).is_some() {
        info!("iot-data client uses the endpoint URL set in the SDK configuration");
        return Ok(aws_sdk_iotdataplane::Client::new(sdk_config));
    }

    let address = lookup.data_ats_endpoint().await?;
    info!(endpoint = %address, "iot-data client uses the account's iot:Data-ATS endpoint");
    let config = aws_sdk_iotdataplane::config::Builder::from(sdk_config)
        .endpoint_url(format!("https://{address}"))
        .build();
    Ok(aws_sdk_iotdataplane::Client::from_conf(config))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_config::{BehaviorVersion, Region};

    use super::*;
    use crate::error::{BackendError, ErrorKind};

    /// Returns a fixed address, or fails, and counts the calls.
    struct CountingLookup {
        calls: AtomicU32,
        address: Option<&'static str>,
    }

    impl CountingLookup {
        fn returning(address: &'static str) -> Self {
            Self {
                calls: AtomicU32::new(0),
                address: Some(address),
            }
        }

        fn failing() -> Self {
            Self {
                calls: AtomicU32::new(0),
                address: None,
            }
        }

        fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl EndpointLookup for CountingLookup {
        async fn data_ats_endpoint(&self) -> Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.address.map(str::to_owned).ok_or_else(|| {
                BackendError::new(ErrorKind::AwsPermanent, "failed to describe the endpoint")
            })
        }
    }

    fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"));
        builder.set_endpoint_url(endpoint_url.map(str::to_owned));
        builder.build()
    }

    #[test]
    fn endpoint_set_in_code_is_configured() {
        let config = sdk_config(Some("http://127.0.0.1:9"));
        assert_eq!(
            configured_endpoint_url(&config).as_deref(),
            Some("http://127.0.0.1:9")
        );
    }

    #[test]
    fn no_endpoint_is_unconfigured() {
        assert_eq!(configured_endpoint_url(&sdk_config(None)), None);
    }

    #[tokio::test]
    async fn configured_endpoint_skips_lookup() {
        let lookup = CountingLookup::returning("abc-ats.iot.us-east-1.amazonaws.com");
        iot_data_client(&sdk_config(Some("http://127.0.0.1:9")), &lookup)
            .await
            .unwrap();
        assert_eq!(lookup.calls(), 0);
    }

    #[tokio::test]
    async fn unconfigured_endpoint_looks_up_once() {
        let lookup = CountingLookup::returning("abc-ats.iot.us-east-1.amazonaws.com");
        iot_data_client(&sdk_config(None), &lookup).await.unwrap();
        assert_eq!(lookup.calls(), 1);
    }

    #[tokio::test]
    async fn failed_lookup_fails_client() {
        let lookup = CountingLookup::failing();
        let error = iot_data_client(&sdk_config(None), &lookup)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AwsPermanent);
        assert_eq!(lookup.calls(), 1);
    }
}
