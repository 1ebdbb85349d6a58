//! Starts moto and the sandbox on loopback and builds SDK configurations pointed at them.

#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use rotator_sandbox::Sandbox;
use testsupport::MotoServer;

pub const REGION: &str = "us-east-1";

static ENVIRONMENT: std::sync::Once = std::sync::Once::new();

/// moto and a sandbox in front of it, both stopped on drop.
pub struct Stand {
    pub sandbox: Sandbox,
    pub moto: MotoServer,
}

impl Stand {
    pub async fn start() -> Self {
        ENVIRONMENT.call_once(|| {
            // SAFETY: std serialises this with every other std::env call, and nothing in these
            // tests reads the environment through libc.
            unsafe { std::env::set_var("AWS_EC2_METADATA_DISABLED", "true") };
        });
        let moto = MotoServer::start();
        let sandbox = Sandbox::start(&moto.endpoint())
            .await
            .expect("sandbox starts");
        Self { sandbox, moto }
    }

    /// SDK configuration that talks to the sandbox.
    pub fn config(&self) -> SdkConfig {
        sdk_config(&self.sandbox.endpoint(), "testing")
    }

    /// SDK configuration that talks to moto directly, bypassing the sandbox.
    pub fn moto_config(&self) -> SdkConfig {
        sdk_config(&self.moto.endpoint(), "testing")
    }
}

pub fn sdk_config(endpoint: &str, access_key_id: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iot::config::SharedCredentialsProvider::new(
            aws_sdk_iot::config::Credentials::new(access_key_id, "testing", None, None, "test"),
        ))
        .build()
}

/// Builds an S3 client with default settings. With a loopback IP endpoint the SDK uses
/// path-style addressing by itself.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::new(config)
}
