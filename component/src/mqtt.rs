//! MQTT over mutual TLS with rumqttc and rustls (aws-lc-rs provider).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeReasonCode, TlsConfiguration,
    Transport as RumqttTransport,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::PairPaths;
use crate::transport::{Delivery, Transport, TransportError};

/// Largest incoming packet accepted. It is above the 128 KiB AWS IoT payload limit so that an
/// oversized payload reaches the state machine, which rejects it, instead of dropping the link.
const MAX_INCOMING_PACKET: usize = 512 * 1024;
const MAX_OUTGOING_PACKET: usize = 128 * 1024;

/// Broker address, trusted CA and connection limits.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub ca_file: PathBuf,
    pub client_id: String,
    pub keep_alive: Duration,
    /// Limit for the TLS handshake, the CONNACK and every SUBACK together.
    pub connect_timeout: Duration,
}

#[derive(Debug)]
enum LinkEvent {
    ConnAck,
    SubAck(Vec<SubscribeReasonCode>),
    Delivery(Delivery),
}

struct Link {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<LinkEvent>,
    task: JoinHandle<()>,
}

/// A [`Transport`] over MQTT 3.1.1 with a client certificate.
pub struct MqttTransport {
    settings: MqttSettings,
    link: Option<Link>,
    /// Messages that arrived while `connect` waited for its acknowledgements.
    early: VecDeque<Delivery>,
}

impl MqttTransport {
    pub fn new(settings: MqttSettings) -> Self {
        Self {
            settings,
            link: None,
            early: VecDeque::new(),
        }
    }

    fn endpoint(&self) -> String {
        format!("{}:{}", self.settings.host, self.settings.port)
    }

    fn drop_link(&mut self) {
        if let Some(link) = self.link.take() {
            link.task.abort();
        }
        self.early.clear();
    }

    async fn open(&mut self, pair: &PairPaths, subscriptions: &[String]) -> Result<(), String> {
        let tls = client_config(&self.settings.ca_file, pair).map_err(|error| error.to_string())?;
        let mut options = MqttOptions::new(
            self.settings.client_id.clone(),
            self.settings.host.clone(),
            self.settings.port,
        );
        options
            .set_transport(RumqttTransport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(tls),
            )))
            .set_keep_alive(self.settings.keep_alive)
            .set_clean_session(true)
            .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET);
        let (client, event_loop) = AsyncClient::new(options, 64);
        let (sender, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(drive(event_loop, sender));
        self.link = Some(Link {
            client,
            events,
            task,
        });

        self.expect(|event| matches!(event, LinkEvent::ConnAck))
            .await?;
        let link = self.link.as_ref().ok_or("connection closed")?;
        for filter in subscriptions {
            link.client
                .subscribe(filter.as_str(), QoS::AtLeastOnce)
                .await
                .map_err(|error| error.to_string())?;
        }
        for filter in subscriptions {
            let event = self
                .expect(|event| matches!(event, LinkEvent::SubAck(_)))
                .await?;
            if let LinkEvent::SubAck(codes) = event
                && codes.contains(&SubscribeReasonCode::Failure)
            {
                return Err(TransportError::SubscriptionRejected(filter.clone()).to_string());
            }
        }
        Ok(())
    }

    /// Waits for the first link event that `wanted` accepts, keeping messages for later.
    async fn expect(&mut self, wanted: impl Fn(&LinkEvent) -> bool) -> Result<LinkEvent, String> {
        let link = self.link.as_mut().ok_or("not connected")?;
        loop {
            match link.events.recv().await {
                Some(event) if wanted(&event) => return Ok(event),
                Some(LinkEvent::Delivery(Delivery::Disconnected { error })) => return Err(error),
                Some(LinkEvent::Delivery(message)) => self.early.push_back(message),
                Some(other) => tracing::debug!(?other, "unexpected MQTT event while connecting"),
                None => return Err("the connection task ended".to_owned()),
            }
        }
    }
}

impl Transport for MqttTransport {
    async fn connect(
        &mut self,
        pair: &PairPaths,
        subscriptions: &[String],
    ) -> Result<(), TransportError> {
        self.drop_link();
        let timeout = self.settings.connect_timeout;
        let result = match tokio::time::timeout(timeout, self.open(pair, subscriptions)).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {timeout:?}")),
        };
        result.map_err(|reason| {
            self.drop_link();
            TransportError::Connect {
                endpoint: self.endpoint(),
                reason,
            }
        })
    }

    async fn publish(&mut self, topic: &str, payload: &str) -> Result<(), TransportError> {
        let link = self.link.as_ref().ok_or(TransportError::NotConnected)?;
        link.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .map_err(|error| TransportError::Publish {
                topic: topic.to_owned(),
                reason: error.to_string(),
            })
    }

    async fn next_delivery(&mut self) -> Delivery {
        if let Some(delivery) = self.early.pop_front() {
            return delivery;
        }
        let Some(link) = self.link.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            match link.events.recv().await {
                Some(LinkEvent::Delivery(delivery)) => {
                    if matches!(delivery, Delivery::Disconnected { .. }) {
                        self.drop_link();
                    }
                    return delivery;
                }
                Some(_) => continue,
                None => {
                    self.drop_link();
                    return Delivery::Disconnected {
                        error: "the connection task ended".to_owned(),
                    };
                }
            }
        }
    }
}

impl Drop for MqttTransport {
    fn drop(&mut self) {
        self.drop_link();
    }
}

/// Polls the event loop until the connection fails. rumqttc would reconnect on the next
/// poll; stopping instead lets the state machine decide when and with which pair.
async fn drive(mut event_loop: EventLoop, sender: mpsc::UnboundedSender<LinkEvent>) {
    loop {
        let event = match event_loop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => LinkEvent::ConnAck,
            Ok(Event::Incoming(Packet::SubAck(ack))) => LinkEvent::SubAck(ack.return_codes),
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                LinkEvent::Delivery(Delivery::Message {
                    topic: publish.topic,
                    payload: publish.payload.to_vec(),
                })
            }
            Ok(_) => continue,
            Err(error) => {
                let _ = sender.send(LinkEvent::Delivery(Delivery::Disconnected {
                    error: error.to_string(),
                }));
                return;
            }
        };
        if sender.send(event).is_err() {
            return;
        }
    }
}

/// Builds a rustls client configuration that trusts `ca_file` and authenticates with `pair`.
pub fn client_config(
    ca_file: &Path,
    pair: &PairPaths,
) -> Result<rustls::ClientConfig, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in read_certificates(ca_file)? {
        roots.add(certificate).map_err(|error| {
            TransportError::Credentials(format!(
                "invalid CA certificate in {}: {error}",
                ca_file.display()
            ))
        })?;
    }
    let chain = read_certificates(&pair.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&pair.private_key).map_err(|error| {
        TransportError::Credentials(format!(
            "failed to read the private key {}: {error}",
            pair.private_key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TransportError::Credentials(error.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|error| {
            TransportError::Credentials(format!(
                "the certificate {} and the key {} cannot be used together: {error}",
                pair.certificate.display(),
                pair.private_key.display()
            ))
        })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| {
            TransportError::Credentials(format!(
                "failed to read certificates from {}: {error}",
                path.display()
            ))
        })?;
    if certificates.is_empty() {
        return Err(TransportError::Credentials(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pair = PairPaths {
            certificate: dir.path().join("device.crt"),
            private_key: dir.path().join("device.key"),
        };
        let ca = dir.path().join("ca.pem");
        let error = client_config(&ca, &pair).unwrap_err().to_string();
        assert!(error.contains("ca.pem"), "{error}");

        std::fs::write(&ca, "not a certificate").unwrap();
        let error = client_config(&ca, &pair).unwrap_err().to_string();
        assert!(error.contains("no certificate in"), "{error}");
        assert!(error.contains("ca.pem"), "{error}");
    }
}
