//! The create-certificate handler against moto's IoT registry, named shadows and Private CA,
//! with keys and CSRs made by `openssl`.
//!
//! Doubles, each described in `common`: `StartedJobs` (moto has no Jobs data plane, so
//! executions cannot reach IN_PROGRESS), `OpensslSigner` (moto's `CreateCertificateFromCsr`
//! ignores the CSR's key), `RecordingPublisher` (moto cannot return published messages) and
//! `FailingRecordStore` (to force a failure after issuing).

mod common;

use std::sync::Mutex;

use common::{
    AdjustableRegistry, Device, FailingRecordStore, Key, PREFIX, RecordingPublisher, StartedJobs,
    World, make_csr, make_key, openssl, public_key_of, rule_event,
};
use rotator_backend::aws::{CertificateSigner, IssuedCertificate, RecordStore};
use rotator_backend::create::{CreateHandler, CreateOutcome};
use rotator_backend::error::Result;
use rotator_backend::sdk::{IotCoreSigner, PrivateCaSigner, SdkRegistry, ShadowRecordStore};
use rotator_protocol::{JobDocument, Progress, SigningAlgorithm};

type Handler<S, C> = CreateHandler<SdkRegistry, StartedJobs, S, RecordingPublisher, C>;

fn handler<S: RecordStore, C: CertificateSigner>(
    world: &World,
    records: S,
    signer: C,
) -> Handler<S, C> {
    CreateHandler {
        registry: world.registry(),
        jobs: world.jobs(),
        records,
        publisher: world.publisher(),
        signer,
        topic_prefix: PREFIX.to_owned(),
    }
}

/// Creates a device with a rotation job and a CSR for a new P-384 key.
async fn rotating_device(world: &World, thing: &str, job_id: &str) -> (Device, String) {
    let device = world.device(thing, Key::Ec("P-256")).await;
    world
        .create_job(thing, job_id, &JobDocument::rotate().to_json())
        .await;
    let key = make_key(world.path(), &format!("{thing}-new"), Key::Ec("P-384"));
    let csr = make_csr(world.path(), &key, &format!("/CN={thing}"), "sha384", false);
    (device, csr)
}

fn rejected_reason(outcome: &CreateOutcome) -> &str {
    match outcome {
        CreateOutcome::Rejected { reason } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn issues_attaches_and_records() {
    let world = World::start();
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let handler = handler(&world, world.records(), world.openssl_signer());
    handler.jobs.start("core-1", "rotate-1");

    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    let CreateOutcome::Issued { certificate_id } = outcome else {
        panic!("expected a certificate, got {outcome:?}");
    };

    let (topic, reply) = handler.publisher.last();
    assert_eq!(topic, "awslabs/things/core-1/certificate/create/accepted");
    let certificate_pem = reply["certificatePem"].as_str().unwrap();
    assert!(
        public_key_of(world.path(), certificate_pem, false)
            == public_key_of(world.path(), &csr, true),
        "the certificate must carry the CSR's public key"
    );

    let attached = world.attached_certificates("core-1").await;
    assert!(attached.contains(&device.certificate_id));
    assert!(attached.contains(&certificate_id));
    assert_eq!(attached.len(), 2);

    let snapshot = world.snapshot("core-1").await;
    let new_arn = format!("arn:aws:iot:us-east-1:123456789012:cert/{certificate_id}");
    let (status, policies) = &snapshot.certificates[&new_arn];
    assert_eq!(status, "ACTIVE");
    assert!(
        policies.contains(&device.policy),
        "policies were not copied"
    );

    let record = snapshot.record.unwrap();
    assert_eq!(record.progress, Progress::Created);
    assert_eq!(record.old_certificate_id, device.certificate_id);
    assert_eq!(record.new_certificate_id, certificate_id);
    assert_eq!(record.job_id.as_deref(), Some("rotate-1"));
}

#[tokio::test]
async fn repeated_create_returns_same_certificate() {
    let world = World::start();
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let handler = handler(&world, world.records(), world.openssl_signer());
    handler.jobs.start("core-1", "rotate-1");
    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );

    let first = handler.handle(&event).await.unwrap();
    let (_, first_reply) = handler.publisher.last();
    let after_first = world.snapshot("core-1").await;

    let second = handler.handle(&event).await.unwrap();
    let (topic, second_reply) = handler.publisher.last();
    let CreateOutcome::Issued { certificate_id } = first else {
        panic!("expected a certificate, got {first:?}");
    };
    assert_eq!(second, CreateOutcome::Repeated { certificate_id });
    assert_eq!(topic, "awslabs/things/core-1/certificate/create/accepted");
    assert!(
        first_reply == second_reply,
        "the repeated reply must carry the same certificate"
    );
    assert_eq!(world.snapshot("core-1").await, after_first);

    // The same job with another key is rejected and changes nothing.
    let other_key = make_key(world.path(), "core-1-other", Key::Ec("P-256"));
    let other_csr = make_csr(world.path(), &other_key, "/CN=core-1", "sha256", false);
    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&other_csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    assert!(
        rejected_reason(&outcome).contains("for a different key"),
        "{outcome:?}"
    );
    assert_eq!(world.snapshot("core-1").await, after_first);
}

#[tokio::test]
async fn bad_requests_are_rejected_without_changes() {
    let world = World::start();
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let other = world.device("core-2", Key::Ec("P-256")).await;
    world
        .create_job("core-1", "reboot-1", r#"{"operation":"REBOOT"}"#)
        .await;
    world
        .create_job("core-1", "queued-1", &JobDocument::rotate().to_json())
        .await;
    let handler = handler(&world, world.records(), world.openssl_signer());
    handler.jobs.start("core-1", "rotate-1");
    handler.jobs.start("core-1", "reboot-1");

    let other_thing_key = make_key(world.path(), "for-core-2", Key::Ec("P-256"));
    let other_thing_csr = make_csr(
        world.path(),
        &other_thing_key,
        "/CN=core-2",
        "sha256",
        false,
    );
    let current_key_csr = make_csr(world.path(), &device.key, "/CN=core-1", "sha256", false);
    let oversize = format!(
        "{csr}{}",
        " ".repeat(rotator_backend::csr::MAX_CSR_PEM_BYTES)
    );
    let good = |job: &str, csr: &str| {
        rule_event(&device, "create", job, Some(csr), &device.certificate_id)
    };

    let mut cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "payload that is not a JSON object",
            serde_json::json!({
                "thingName": "core-1",
                "topic": "awslabs/things/core-1/certificate/create",
                "clientId": "core-1",
                "principal": device.certificate_id,
            }),
            "missing field \"jobId\"",
        ),
        (
            "missing CSR",
            rule_event(&device, "create", "rotate-1", None, &device.certificate_id),
            "missing field \"csr\"",
        ),
        ("oversize CSR", good("rotate-1", &oversize), "more than the"),
        (
            "garbage PEM",
            good(
                "rotate-1",
                "-----BEGIN CERTIFICATE REQUEST-----\n!!\n-----END CERTIFICATE REQUEST-----\n",
            ),
            "invalid CSR",
        ),
        (
            "CSR for another thing",
            good("rotate-1", &other_thing_csr),
            "differs from the current certificate",
        ),
        (
            "CSR with the current key",
            good("rotate-1", &current_key_csr),
            "key of the current certificate",
        ),
        (
            "principal that is not the attached certificate",
            rule_event(
                &device,
                "create",
                "rotate-1",
                Some(&csr),
                &other.certificate_id,
            ),
            "not the certificate attached",
        ),
        (
            "job that is not a rotation job",
            good("reboot-1", &csr),
            "not a rotation job",
        ),
        (
            "job not IN_PROGRESS",
            good("queued-1", &csr),
            "is QUEUED, not IN_PROGRESS",
        ),
        (
            "job without an execution",
            good("missing-1", &csr),
            "has no execution",
        ),
    ];
    let mut wrong_type = good("rotate-1", &csr);
    wrong_type["jobId"] = serde_json::json!(17);
    cases.push((
        "job ID of the wrong type",
        wrong_type,
        "expected a string, found a number",
    ));
    let mut wrong_client = good("rotate-1", &csr);
    wrong_client["clientId"] = serde_json::json!("intruder");
    cases.push((
        "client ID of another device",
        wrong_client,
        "does not start with the thing name",
    ));

    let before = world.snapshot("core-1").await;
    for (name, event, expected) in cases {
        let outcome = handler.handle(&event).await.unwrap();
        let reason = rejected_reason(&outcome);
        assert!(
            reason.contains(expected),
            "{name}: {reason:?} should contain {expected:?}"
        );

        let (topic, reply) = handler.publisher.last();
        assert_eq!(
            topic, "awslabs/things/core-1/certificate/create/rejected",
            "{name}"
        );
        assert_eq!(reply["errorMsg"].as_str(), Some(reason), "{name}");
        assert_eq!(
            world.snapshot("core-1").await,
            before,
            "{name} changed the registry"
        );
    }
}

#[tokio::test]
async fn second_certificate_attached_is_rejected() {
    let world = World::start();
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let extra = world.device("spare", Key::Ec("P-256")).await;
    world
        .iot
        .attach_thing_principal()
        .thing_name("core-1")
        .principal(&extra.certificate_arn)
        .send()
        .await
        .unwrap();
    let handler = handler(&world, world.records(), world.openssl_signer());
    handler.jobs.start("core-1", "rotate-1");
    let before = world.snapshot("core-1").await;

    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    assert!(
        rejected_reason(&outcome).contains("has 2 certificates attached"),
        "{outcome:?}"
    );
    assert_eq!(world.snapshot("core-1").await, before);
}

#[tokio::test]
async fn event_without_thing_fails_without_reply() {
    let world = World::start();
    let handler = handler(&world, world.records(), world.openssl_signer());
    let error = handler
        .handle(&serde_json::json!("not an object"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cannot reply"), "{error}");
    assert!(handler.publisher.messages().is_empty());
}

#[tokio::test]
async fn failure_after_issuing_undoes_the_certificate() {
    let world = World::start();
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let records = FailingRecordStore {
        inner: world.records(),
    };
    let handler = handler(&world, records, world.openssl_signer());
    handler.jobs.start("core-1", "rotate-1");
    let before = world.snapshot("core-1").await;

    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    assert!(
        rejected_reason(&outcome).contains("injected failure"),
        "{outcome:?}"
    );
    let (topic, _) = handler.publisher.last();
    assert_eq!(topic, "awslabs/things/core-1/certificate/create/rejected");

    // The issued certificate is gone: no orphan, and the old one is untouched.
    assert_eq!(world.snapshot("core-1").await, before);
    let listed = world.iot.list_certificates().send().await.unwrap();
    assert_eq!(listed.certificates().len(), 1);
}

/// Records what a real signer issued and revoked, delegating every call to it.
struct RecordingSigner<C> {
    inner: C,
    issued: Mutex<Vec<IssuedCertificate>>,
    revoked: Mutex<Vec<String>>,
}

impl<C: CertificateSigner> CertificateSigner for RecordingSigner<C> {
    async fn issue(&self, csr_pem: &str) -> Result<IssuedCertificate> {
        let issued = self.inner.issue(csr_pem).await?;
        self.issued.lock().unwrap().push(issued.clone());
        Ok(issued)
    }

    async fn revoke(&self, certificate_pem: &str) -> Result<()> {
        self.inner.revoke(certificate_pem).await?;
        self.revoked
            .lock()
            .unwrap()
            .push(certificate_pem.to_owned());
        Ok(())
    }

    async fn chain_pem(&self) -> Result<String> {
        self.inner.chain_pem().await
    }
}

fn private_ca_signer(world: &World, ca_arn: &str) -> RecordingSigner<PrivateCaSigner> {
    RecordingSigner {
        inner: PrivateCaSigner::new(
            world.pca.clone(),
            world.registry(),
            ca_arn,
            7,
            SigningAlgorithm::Sha256WithRsa,
            std::time::Duration::from_secs(30),
        ),
        issued: Mutex::new(Vec::new()),
        revoked: Mutex::new(Vec::new()),
    }
}

/// Splits a PEM bundle into its blocks.
fn pem_blocks(bundle: &str) -> Vec<String> {
    let end = "-----END CERTIFICATE-----";
    bundle
        .split_inclusive(end)
        .map(str::trim)
        .filter(|block| block.ends_with(end))
        .map(|block| format!("{block}\n"))
        .collect()
}

#[tokio::test]
async fn private_ca_certificate_and_chain_verify() {
    let world = World::start();
    let ca_arn = world.private_ca().await;
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let handler = handler(&world, world.records(), private_ca_signer(&world, &ca_arn));
    handler.jobs.start("core-1", "rotate-1");

    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    let CreateOutcome::Issued { certificate_id } = outcome else {
        panic!("expected a certificate, got {outcome:?}");
    };

    let (_, reply) = handler.publisher.last();
    let blocks = pem_blocks(reply["certificatePem"].as_str().unwrap());
    assert!(
        blocks.len() >= 2,
        "the reply must carry the chain after the certificate"
    );
    let leaf = world.path().join("leaf.pem");
    let chain = world.path().join("chain.pem");
    std::fs::write(&leaf, &blocks[0]).unwrap();
    std::fs::write(&chain, blocks[1..].concat()).unwrap();
    let verified = openssl(
        world.path(),
        &[
            "verify",
            "-CAfile",
            chain.to_str().unwrap(),
            leaf.to_str().unwrap(),
        ],
    );
    assert!(verified.trim_end().ends_with(": OK"), "{verified}");
    assert!(
        public_key_of(world.path(), &blocks[0], false) == public_key_of(world.path(), &csr, true),
        "the certificate must carry the CSR's public key"
    );
    assert!(
        world
            .attached_certificates("core-1")
            .await
            .contains(&certificate_id)
    );

    // A repeated request sends the certificate and the CA chain again.
    let repeated = handler.handle(&event).await.unwrap();
    assert_eq!(repeated, CreateOutcome::Repeated { certificate_id });
    let (_, reply) = handler.publisher.last();
    let repeated_blocks = pem_blocks(reply["certificatePem"].as_str().unwrap());
    assert!(
        repeated_blocks[0] == blocks[0],
        "the repeated reply must carry the same certificate"
    );
    std::fs::write(&chain, repeated_blocks[1..].concat()).unwrap();
    openssl(
        world.path(),
        &[
            "verify",
            "-CAfile",
            chain.to_str().unwrap(),
            leaf.to_str().unwrap(),
        ],
    );
}

#[tokio::test]
async fn private_ca_failure_revokes_the_certificate() {
    let world = World::start();
    let ca_arn = world.private_ca().await;
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let records = FailingRecordStore {
        inner: ShadowRecordStore::new(world.iot_data.clone(), common::SHADOW_NAME),
    };
    let handler = handler(&world, records, private_ca_signer(&world, &ca_arn));
    handler.jobs.start("core-1", "rotate-1");
    let before = world.snapshot("core-1").await;

    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    rejected_reason(&outcome);
    assert_eq!(world.snapshot("core-1").await, before);

    let issued = handler.signer.issued.lock().unwrap().clone();
    let revoked = handler.signer.revoked.lock().unwrap().clone();
    assert_eq!(issued.len(), 1);
    assert_eq!(revoked.len(), 1);
    assert!(
        revoked[0] == issued[0].certificate_pem,
        "the issued certificate must be revoked"
    );
}

/// moto's `CreateCertificateFromCsr` returns a certificate for a random key, so this checks
/// only what moto emulates: the certificate is registered and active.
#[tokio::test]
async fn iot_core_signer_registers_active_certificate() {
    let world = World::start();
    let key = make_key(world.path(), "iot-core", Key::Ec("P-256"));
    let csr = make_csr(world.path(), &key, "/CN=core-1", "sha256", false);
    let signer = IotCoreSigner::new(world.iot.clone());

    let issued = signer.issue(&csr).await.unwrap();
    let described = world
        .iot
        .describe_certificate()
        .certificate_id(&issued.id)
        .send()
        .await
        .unwrap();
    let description = described.certificate_description().unwrap();
    assert_eq!(description.status().unwrap().as_str(), "ACTIVE");
    assert_eq!(description.certificate_arn(), Some(issued.arn.as_str()));
    assert!(signer.chain_pem().await.unwrap().is_empty());
}

#[tokio::test]
async fn non_exclusive_attachment_is_rejected() {
    let world = World::start();
    let (device, csr) = rotating_device(&world, "core-1", "rotate-1").await;
    let registry = AdjustableRegistry::new(world.registry());
    registry
        .non_exclusive
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let handler = CreateHandler {
        registry,
        jobs: world.jobs(),
        records: world.records(),
        publisher: world.publisher(),
        signer: world.openssl_signer(),
        topic_prefix: PREFIX.to_owned(),
    };
    handler.jobs.start("core-1", "rotate-1");
    let before = world.snapshot("core-1").await;

    let event = rule_event(
        &device,
        "create",
        "rotate-1",
        Some(&csr),
        &device.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    assert!(
        rejected_reason(&outcome).contains("non-exclusively"),
        "{outcome:?}"
    );
    assert_eq!(world.snapshot("core-1").await, before);
}
