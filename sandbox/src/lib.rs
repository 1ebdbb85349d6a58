//! A local stand-in for the AWS APIs that the provisioner calls, for tests and demos only.
//!
//! The sandbox listens on loopback and sits in front of moto's server (moto 5.2.5). It routes
//! each request by the service name in its SigV4 credential scope. It handles the calls listed
//! below itself, at the real AWS wire protocol, and forwards every other request to moto with
//! the same method, path, query, headers and body. A client needs nothing but
//! `AWS_ENDPOINT_URL` pointing at the sandbox.
//!
//! Emulated (each checked against moto 5.2.5, which lacks or gets it wrong):
//!
//! - AWS IoT `DescribeEventConfigurations` and `UpdateEventConfigurations`, kept in memory per
//!   account and region, every event type disabled at first. moto has neither (HTTP 500).
//! - CloudFormation change sets: moto reports wrong or missing changes, so the sandbox
//!   computes each change set's `Changes` itself (`Add`, `Modify` with `Replacement` and the
//!   changed properties, `Remove`), with conditions and parameters resolved. An `UPDATE` change set
//!   with the stack's template and parameters ends `FAILED` with the real status reason ("The
//!   submitted information didn't contain changes. ...") and `ExecutionStatus`
//!   `UNAVAILABLE`, and executing it fails with `InvalidChangeSetStatus`. An unchanged
//!   `UpdateStack` fails with "No updates are to be performed." whether or not parameters
//!   were given. After an execution the stack's other change sets are gone, as in AWS.
//! - `DescribeStackEvents` with per-resource events (`CREATE_*`, `UPDATE_*` including
//!   replacements, `DELETE_*` and the cleanup phase), newest first, found by stack ID after a
//!   delete and by name only while the stack exists. moto records only stack-level events.
//! - `DescribeStacks` outputs: moto leaves the outputs of a stack made by a change set empty,
//!   so the sandbox resolves them from the template, the parameters and the physical IDs.
//! - `DescribeStackResource(s)`, `ListStackResources` and `GetTemplate`: every resource with its
//!   physical ID (moto lists skipped types as blank rows), and the template as sent.
//! - `AWS::IoT::TopicRule`, which moto's CloudFormation skips: the sandbox creates, replaces
//!   and deletes the rules through moto's IoT API as stacks are created, updated and deleted,
//!   so `GetTopicRule` returns them with `Ref`, `Fn::GetAtt` and `Fn::Sub` resolved. The
//!   template moto gets has references to the rules replaced by their names, so that a Lambda
//!   permission's `SourceArn` names the real rule.
//! - Stack operations that take time, with [`Options::operation_duration`] set: the events
//!   of an operation appear one by one over that time, and `DescribeStacks` reports the
//!   `*_IN_PROGRESS` status (for a deletion, by name too) until the last one.
//! - `AWS::Lambda::EventInvokeConfig`, which moto's CloudFormation skips too: the sandbox
//!   sets it through moto's `PutFunctionEventInvokeConfig` after each create and update, and
//!   removes the ones an update drops.
//! - `AWS::IoT::JobTemplate` with a computed `JobTemplateId`: moto creates it but fails the
//!   whole DeleteStack (HTTP 500) because it reads the unresolved ID; the sandbox sends moto
//!   the template with that ID resolved.
//!
//! Not emulated (moto's behaviour, or its gaps, show through):
//!
//! - every other API; in particular iot-jobs-data, Greengrass v2, ACM-PCA resources in
//!   templates, and the IoT rules engine (topic rules are stored but never run);
//! - other resource types moto skips: they get a generated physical ID and events, but
//!   nothing is created;
//! - stack failures and rollbacks: moto finishes every operation within the request and
//!   never rolls back, so no stack reaches `*_FAILED` or `ROLLBACK_*`;
//! - stacks created before the sandbox started, or directly in moto, get moto's behaviour
//!   only. The sandbox keeps its records in memory, loses them when it stops, and clears them
//!   when moto's `/moto-api/reset` is requested through it (not when moto is reset directly);
//! - request signatures, which moto does not verify either;
//! - streaming: request and response bodies are read in full before they are passed on.

mod cloudformation;
mod iot_events;
mod moto;
mod scope;
mod server;
mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use scope::CredentialScope;

/// Errors of the sandbox itself. Failures of emulated AWS calls go back to the caller as AWS
/// error responses instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid moto endpoint {0:?}: expected http://HOST:PORT, for example http://127.0.0.1:5000"
    )]
    InvalidMotoEndpoint(String),
    #[error("invalid request target {0:?}")]
    InvalidPath(String),
    #[error("failed to reach moto at {endpoint}: {message}; check that moto_server is running")]
    MotoUnreachable { endpoint: String, message: String },
    #[error("invalid credential scope value {0:?} in the request's Authorization header")]
    InvalidCredentialScope(String),
    #[error("failed to listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("moto returned HTTP {status} to {action}: {body}")]
    MotoFailed {
        action: String,
        status: u16,
        body: String,
    },
    #[error("failed to read moto's response to {action}: {message}")]
    MotoResponse { action: String, message: String },
}

/// Settings of a sandbox.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// How long each stack operation shows as in progress. moto completes every operation
    /// within the request. With a non-zero duration the sandbox reveals the operation's stack
    /// events one by one over this time and reports the `*_IN_PROGRESS` stack status until the
    /// last one. Zero shows everything at once.
    pub operation_duration: std::time::Duration,
}

/// A running sandbox. Dropping it stops the listener at once, while [`Sandbox::shutdown`] lets
/// open requests finish first.
pub struct Sandbox {
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts a sandbox on a free port of 127.0.0.1 in front of moto at `moto_endpoint`.
    pub async fn start(moto_endpoint: &str) -> Result<Self, Error> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), moto_endpoint).await
    }

    /// Starts a sandbox on `address` in front of moto at `moto_endpoint`.
    pub async fn bind(address: SocketAddr, moto_endpoint: &str) -> Result<Self, Error> {
        Self::bind_with_options(address, moto_endpoint, Options::default()).await
    }

    /// Starts a sandbox on `address` in front of moto at `moto_endpoint` with `options`.
    pub async fn bind_with_options(
        address: SocketAddr,
        moto_endpoint: &str,
        options: Options,
    ) -> Result<Self, Error> {
        let moto = moto::Moto::new(moto_endpoint)?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| Error::Bind { address, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| Error::Bind { address, source })?;
        let (shutdown, receiver) = watch::channel(false);
        let app = Arc::new(server::App::new(moto, options));
        let task = tokio::spawn(server::serve(listener, app, receiver));
        tracing::info!(%address, moto = moto_endpoint, "sandbox started");
        Ok(Self {
            address,
            shutdown,
            task: Some(task),
        })
    }

    /// Returns the endpoint URL for clients (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        tracing::info!(address = %self.address, "sandbox stopped");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
