//! The agent's link to the cloud: connect with a certificate and key, subscribe, publish and
//! receive. [`crate::mqtt::MqttTransport`] implements it over MQTT with mutual TLS.

use std::future::Future;

use crate::store::PairPaths;

/// Errors from a transport. Messages name files and hosts, never credential contents.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("failed to load TLS credentials: {0}")]
    Credentials(String),
    #[error("failed to connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    #[error("the broker rejected the subscription to {0}")]
    SubscriptionRejected(String),
    #[error("not connected")]
    NotConnected,
    #[error("failed to publish to {topic}: {reason}")]
    Publish { topic: String, reason: String },
}

/// An item delivered by a connected transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Message {
        topic: String,
        payload: Vec<u8>,
    },
    /// The connection dropped; no more messages until the next `connect`.
    Disconnected {
        error: String,
    },
}

/// A publish/subscribe connection to the cloud.
pub trait Transport {
    /// Drops any current connection, connects with the pair at `pair` and subscribes to every
    /// filter. Returns once the broker acknowledged the connection and every subscription.
    fn connect(
        &mut self,
        pair: &PairPaths,
        subscriptions: &[String],
    ) -> impl Future<Output = Result<(), TransportError>>;

    /// Queues one message at QoS 1.
    fn publish(
        &mut self,
        topic: &str,
        payload: &str,
    ) -> impl Future<Output = Result<(), TransportError>>;

    /// Waits for the next message or for the loss of the connection. Never completes while
    /// disconnected.
    fn next_delivery(&mut self) -> impl Future<Output = Delivery>;
}
