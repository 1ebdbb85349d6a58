//! Wiring for the three binaries: tracing, SDK clients built once per cold start, and the
//! Lambda runtime loop.

use std::future::Future;

use lambda_runtime::{LambdaEvent, service_fn};

use crate::commit::CommitHandler;
use crate::config::{Config, IssuerConfig};
use crate::create::CreateHandler;
use crate::endpoint::iot_data_client;
use crate::error::BackendError;
use crate::sdk::{
    ConfiguredSigner, IotCoreSigner, PrivateCaSigner, SdkEndpointLookup, SdkJobLookup,
    SdkPublisher, SdkRegistry, ShadowRecordStore, SnsNotifier,
};
use crate::terminal::{DeleteRetry, TerminalHandler};

/// The error type the Lambda runtime reports.
pub type LambdaError = lambda_runtime::Error;

/// Installs the Lambda runtime's subscriber, which writes JSON when the function's log format is
/// JSON and honours `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

struct Clients {
    iot: aws_sdk_iot::Client,
    iot_data: aws_sdk_iotdataplane::Client,
    config: Config,
    sdk_config: aws_config::SdkConfig,
}

/// Builds the clients once per cold start, including the `DescribeEndpoint` call that finds
/// the iot-data endpoint, so invocations reuse them.
async fn clients() -> Result<Clients, BackendError> {
    let config = Config::from_env()?;
    let sdk_config = aws_config::load_from_env().await;
    let iot = aws_sdk_iot::Client::new(&sdk_config);
    let iot_data = iot_data_client(&sdk_config, &SdkEndpointLookup::new(iot.clone())).await?;
    Ok(Clients {
        iot,
        iot_data,
        config,
        sdk_config,
    })
}

fn signer(clients: &Clients) -> ConfiguredSigner {
    match &clients.config.issuer {
        IssuerConfig::IotCore => ConfiguredSigner::IotCore(IotCoreSigner::new(clients.iot.clone())),
        IssuerConfig::PrivateCa {
            arn,
            validity_days,
            signing_algorithm,
        } => ConfiguredSigner::PrivateCa(PrivateCaSigner::new(
            aws_sdk_acmpca::Client::new(&clients.sdk_config),
            SdkRegistry::new(clients.iot.clone()),
            arn,
            *validity_days,
            *signing_algorithm,
            clients.config.issuance_timeout,
        )),
    }
}

async fn run<F, Fut, T>(handler: F) -> Result<(), LambdaError>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<T, BackendError>>,
    T: std::fmt::Debug,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let outcome = handler(event.payload);
        async move {
            match outcome.await {
                Ok(outcome) => {
                    tracing::info!(?outcome, "invocation finished");
                    Ok::<(), LambdaError>(())
                }
                Err(error) => {
                    tracing::error!(kind = %error.kind(), retryable = error.is_retryable(), %error, "invocation failed");
                    Err(error.into())
                }
            }
        }
    }))
    .await
}

/// Runs the create-certificate function.
pub async fn run_create() -> Result<(), LambdaError> {
    let clients = clients().await?;
    let handler = CreateHandler {
        registry: SdkRegistry::new(clients.iot.clone()),
        jobs: SdkJobLookup::new(clients.iot.clone()),
        records: ShadowRecordStore::new(clients.iot_data.clone(), &clients.config.shadow_name),
        publisher: SdkPublisher::new(clients.iot_data.clone()),
        signer: signer(&clients),
        topic_prefix: clients.config.topic_prefix.clone(),
    };
    let handler = &handler;
    run(|event| async move { handler.handle(&event).await }).await
}

/// Runs the commit-certificate function.
pub async fn run_commit() -> Result<(), LambdaError> {
    let clients = clients().await?;
    let handler = CommitHandler {
        registry: SdkRegistry::new(clients.iot.clone()),
        records: ShadowRecordStore::new(clients.iot_data.clone(), &clients.config.shadow_name),
        publisher: SdkPublisher::new(clients.iot_data.clone()),
        topic_prefix: clients.config.topic_prefix.clone(),
    };
    let handler = &handler;
    run(|event| async move { handler.handle(&event).await }).await
}

/// Runs the job-execution-terminal function.
pub async fn run_terminal() -> Result<(), LambdaError> {
    let clients = clients().await?;
    let topic_arn = clients.config.notification_topic_arn.clone().ok_or_else(|| {
        BackendError::configuration(
            "missing NOTIFICATION_TOPIC_ARN: set it to the SNS topic that receives notifications",
        )
    })?;
    let handler = TerminalHandler {
        registry: SdkRegistry::new(clients.iot.clone()),
        records: ShadowRecordStore::new(clients.iot_data.clone(), &clients.config.shadow_name),
        signer: signer(&clients),
        notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&clients.sdk_config), topic_arn),
        delete_retry: DeleteRetry::default(),
    };
    let handler = &handler;
    run(|event| async move { handler.handle(&event).await }).await
}
