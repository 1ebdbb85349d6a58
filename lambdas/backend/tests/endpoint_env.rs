//! Which settings make `configured_endpoint_url` skip `DescribeEndpoint`, read through
//! `aws_config::load_from_env` from real environment variables and a real config file.
//!
//! This binary contains one test because it changes the process environment.

use std::path::Path;

use rotator_backend::endpoint::configured_endpoint_url;

const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_DATA_PLANE"];

/// Sets `variables`, clears the other endpoint variables, and loads the SDK configuration.
async fn configured_with(variables: &[(&str, &str)], config_file: &Path) -> Option<String> {
    // SAFETY: this is the only test in this binary, and the runtime it runs on has one thread,
    // so nothing reads the environment while it changes.
    unsafe {
        for name in ENDPOINT_VARIABLES {
            std::env::remove_var(name);
        }
        std::env::set_var("AWS_CONFIG_FILE", config_file);
        for (name, value) in variables {
            std::env::set_var(name, value);
        }
    }
    let sdk_config = aws_config::load_from_env().await;
    configured_endpoint_url(&sdk_config)
}

#[tokio::test(flavor = "current_thread")]
async fn endpoint_settings_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: as in `configured_with`.
    unsafe {
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        );
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    }
    let no_config = dir.path().join("no-config");

    assert_eq!(configured_with(&[], &no_config).await, None);
    assert_eq!(
        configured_with(
            &[("AWS_ENDPOINT_URL_IOT_DATA_PLANE", "http://127.0.0.1:1")],
            &no_config
        )
        .await
        .as_deref(),
        Some("http://127.0.0.1:1")
    );
    assert_eq!(
        configured_with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:2")], &no_config)
            .await
            .as_deref(),
        Some("http://127.0.0.1:2")
    );
    assert_eq!(
        configured_with(
            &[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:2"),
                ("AWS_ENDPOINT_URL_IOT_DATA_PLANE", "http://127.0.0.1:1"),
            ],
            &no_config
        )
        .await
        .as_deref(),
        Some("http://127.0.0.1:1"),
        "the service-specific variable takes precedence"
    );

    // NOTE: aws-runtime 1.5 names a service in a `services` section by its lowercase service
    // ID with '-' for spaces, so it reads `iot-data-plane` and not `iot_data_plane`.
    let services_config = dir.path().join("config");
    std::fs::write(
        &services_config,
        "[default]\nservices = local\n\n[services local]\niot-data-plane =\n  endpoint_url = http://127.0.0.1:3\n",
    )
    .unwrap();
    assert_eq!(
        configured_with(&[], &services_config).await.as_deref(),
        Some("http://127.0.0.1:3")
    );
}
