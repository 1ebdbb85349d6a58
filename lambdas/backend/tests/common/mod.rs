//! Shared fixtures for the handler tests: a moto server per test, SDK clients aimed at it,
//! keys and certificates made by the `openssl` CLI, and the few doubles that stand in for what
//! moto does not emulate.
//!
//! Every client gets its endpoint, region and dummy credentials explicitly, so no test reads
//! the environment, a profile or an instance metadata address.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use rotator_backend::aws::{
    CertificateSigner, IssuedCertificate, JobExecution, JobLookup, Notifier, Publisher,
    RecordStore, RegisteredCertificate, Registry, ThingPrincipal,
};
use rotator_backend::error::{BackendError, ErrorKind, Result};
use rotator_backend::sdk::{
    SdkJobLookup, SdkPublisher, SdkRegistry, ShadowRecordStore, SnsNotifier,
};
use rotator_protocol::{JobExecutionStatus, RotationRecord};
use testsupport::MotoServer;

pub const SHADOW_NAME: &str = "rotator";
pub const PREFIX: &str = "awslabs";
pub const REGION: &str = "us-east-1";

/// Runs `openssl` in `dir` and returns its stdout. Output is never echoed because some
/// commands handle private keys. A failure reports only the arguments and stderr.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("failed to run openssl: install it with apt-get install openssl");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Key types the tests generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Rsa(u32),
    Ec(&'static str),
}

/// Generates a private key file and returns its path.
pub fn make_key(dir: &Path, name: &str, key: Key) -> PathBuf {
    let path = dir.join(format!("{name}.key"));
    let path_text = path.to_str().unwrap();
    match key {
        Key::Rsa(bits) => {
            let bits = format!("rsa_keygen_bits:{bits}");
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    &bits,
                    "-out",
                    path_text,
                ],
            );
        }
        Key::Ec(curve) => {
            let curve = format!("ec_paramgen_curve:{curve}");
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    &curve,
                    "-out",
                    path_text,
                ],
            );
        }
    }
    path
}

/// Makes a CSR for `key` with `subject` (for example `/CN=core-1`), signed with `digest`
/// (`sha256`, `sha384`, `sha512`), with RSA-PSS when `pss` is set. Returns the PEM.
pub fn make_csr(dir: &Path, key: &Path, subject: &str, digest: &str, pss: bool) -> String {
    let out = dir.join(format!(
        "{}.csr",
        key.file_stem().unwrap().to_str().unwrap()
    ));
    let digest = format!("-{digest}");
    let mut args = vec![
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        subject,
        &digest,
        "-out",
        out.to_str().unwrap(),
    ];
    if pss {
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ]);
    }
    openssl(dir, &args);
    std::fs::read_to_string(out).unwrap()
}

/// Makes a self-signed certificate for `key` and returns the PEM: a device's first
/// certificate, registered without a CA.
pub fn self_signed(dir: &Path, key: &Path, subject: &str) -> String {
    let out = dir.join(format!(
        "{}.crt",
        key.file_stem().unwrap().to_str().unwrap()
    ));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            key.to_str().unwrap(),
            "-subj",
            subject,
            "-days",
            "30",
            "-out",
            out.to_str().unwrap(),
        ],
    );
    std::fs::read_to_string(out).unwrap()
}

/// Returns the public key of a PEM certificate or CSR as openssl prints it.
pub fn public_key_of(dir: &Path, pem: &str, is_csr: bool) -> String {
    let path = dir.join("public-key-input.pem");
    std::fs::write(&path, pem).unwrap();
    let path = path.to_str().unwrap();
    if is_csr {
        openssl(dir, &["req", "-in", path, "-noout", "-pubkey"])
    } else {
        openssl(dir, &["x509", "-in", path, "-noout", "-pubkey"])
    }
}

/// A moto server with SDK clients aimed at it.
pub struct World {
    pub moto: MotoServer,
    pub iot: aws_sdk_iot::Client,
    pub iot_data: aws_sdk_iotdataplane::Client,
    pub pca: aws_sdk_acmpca::Client,
    pub sns: aws_sdk_sns::Client,
    pub dir: tempfile::TempDir,
}

/// A thing with its first certificate, registered and attached as a provisioned device has it.
#[derive(Debug, Clone)]
pub struct Device {
    pub thing: String,
    pub certificate_id: String,
    pub certificate_arn: String,
    pub certificate_pem: String,
    pub key: PathBuf,
    pub policy: String,
}

macro_rules! client_config {
    ($module:ident, $endpoint:expr) => {
        $module::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url($endpoint)
            .build()
    };
}

impl World {
    pub fn start() -> Self {
        let moto = MotoServer::start();
        let endpoint = moto.endpoint();
        Self {
            iot: aws_sdk_iot::Client::from_conf(client_config!(aws_sdk_iot, &endpoint)),
            iot_data: aws_sdk_iotdataplane::Client::from_conf(client_config!(
                aws_sdk_iotdataplane,
                &endpoint
            )),
            pca: aws_sdk_acmpca::Client::from_conf(client_config!(aws_sdk_acmpca, &endpoint)),
            sns: aws_sdk_sns::Client::from_conf(client_config!(aws_sdk_sns, &endpoint)),
            moto,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn registry(&self) -> SdkRegistry {
        SdkRegistry::new(self.iot.clone())
    }

    pub fn records(&self) -> ShadowRecordStore {
        ShadowRecordStore::new(self.iot_data.clone(), SHADOW_NAME)
    }

    pub fn publisher(&self) -> RecordingPublisher {
        RecordingPublisher {
            inner: SdkPublisher::new(self.iot_data.clone()),
            sent: Mutex::new(Vec::new()),
        }
    }

    pub fn jobs(&self) -> StartedJobs {
        StartedJobs {
            inner: SdkJobLookup::new(self.iot.clone()),
            started: Mutex::new(HashSet::new()),
        }
    }

    /// Creates a thing with a self-signed certificate for `key`, attached exclusively, and an
    /// IoT policy attached to the certificate.
    pub async fn device(&self, thing: &str, key: Key) -> Device {
        self.iot
            .create_thing()
            .thing_name(thing)
            .send()
            .await
            .unwrap();
        let key = make_key(self.path(), &format!("{thing}-old"), key);
        let pem = self_signed(self.path(), &key, &format!("/CN={thing}"));
        let registered = self
            .iot
            .register_certificate_without_ca()
            .certificate_pem(&pem)
            .status(aws_sdk_iot::types::CertificateStatus::Active)
            .send()
            .await
            .unwrap();
        let arn = registered.certificate_arn().unwrap().to_owned();
        self.iot
            .attach_thing_principal()
            .thing_name(thing)
            .principal(&arn)
            .thing_principal_type(aws_sdk_iot::types::ThingPrincipalType::ExclusiveThing)
            .send()
            .await
            .unwrap();
        let policy = format!("{thing}-policy");
        self.iot
            .create_policy()
            .policy_name(&policy)
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap();
        self.iot
            .attach_policy()
            .policy_name(&policy)
            .target(&arn)
            .send()
            .await
            .unwrap();
        Device {
            thing: thing.to_owned(),
            certificate_id: registered.certificate_id().unwrap().to_owned(),
            certificate_arn: arn,
            certificate_pem: pem,
            key,
            policy,
        }
    }

    /// Creates a job targeting `thing` with `document`.
    pub async fn create_job(&self, thing: &str, job_id: &str, document: &str) {
        let thing_arn = self
            .iot
            .describe_thing()
            .thing_name(thing)
            .send()
            .await
            .unwrap()
            .thing_arn()
            .unwrap()
            .to_owned();
        self.iot
            .create_job()
            .job_id(job_id)
            .targets(thing_arn)
            .document(document)
            .send()
            .await
            .unwrap();
    }

    /// Records the registry state of `thing` and of every certificate, to show that a
    /// rejected request changed nothing.
    pub async fn snapshot(&self, thing: &str) -> Snapshot {
        let mut certificates = BTreeMap::new();
        let listed = self.iot.list_certificates().send().await.unwrap();
        for certificate in listed.certificates() {
            let arn = certificate.certificate_arn().unwrap().to_owned();
            let policies: BTreeSet<String> = self
                .iot
                .list_attached_policies()
                .target(&arn)
                .send()
                .await
                .unwrap()
                .policies()
                .iter()
                .map(|policy| policy.policy_name().unwrap().to_owned())
                .collect();
            let status = certificate.status().unwrap().as_str().to_owned();
            certificates.insert(arn, (status, policies));
        }
        let principals = self
            .iot
            .list_thing_principals_v2()
            .thing_name(thing)
            .send()
            .await
            .unwrap()
            .thing_principal_objects()
            .iter()
            .map(|object| object.principal().to_owned())
            .collect();
        let record = self.records().load(thing).await.unwrap();
        Snapshot {
            certificates,
            principals,
            record,
        }
    }

    /// Returns the IDs of the certificates attached to `thing`.
    pub async fn attached_certificates(&self, thing: &str) -> BTreeSet<String> {
        self.registry()
            .thing_principals(thing)
            .await
            .unwrap()
            .iter()
            .filter_map(|principal| principal.certificate_id().map(str::to_owned))
            .collect()
    }

    /// Returns whether a certificate with this ID is registered.
    pub async fn certificate_exists(&self, certificate_id: &str) -> bool {
        match self.registry().describe_certificate(certificate_id).await {
            Ok(_) => true,
            Err(error) if error.is_not_found() => false,
            Err(error) => panic!("describe certificate failed: {error}"),
        }
    }

    /// Creates an active root CA in moto's Private CA, as an operator would: create, sign the
    /// CA's CSR with the root template, import the result.
    pub async fn private_ca(&self) -> String {
        use aws_sdk_acmpca::types::{
            Asn1Subject, CertificateAuthorityConfiguration, CertificateAuthorityType, KeyAlgorithm,
            SigningAlgorithm, Validity, ValidityPeriodType,
        };
        let configuration = CertificateAuthorityConfiguration::builder()
            .key_algorithm(KeyAlgorithm::Rsa2048)
            .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
            .subject(
                Asn1Subject::builder()
                    .common_name("Rotation Test CA")
                    .build(),
            )
            .build()
            .unwrap();
        let arn = self
            .pca
            .create_certificate_authority()
            .certificate_authority_configuration(configuration)
            .certificate_authority_type(CertificateAuthorityType::Root)
            .send()
            .await
            .unwrap()
            .certificate_authority_arn()
            .unwrap()
            .to_owned();
        let csr = self
            .pca
            .get_certificate_authority_csr()
            .certificate_authority_arn(&arn)
            .send()
            .await
            .unwrap()
            .csr()
            .unwrap()
            .to_owned();
        let root = self
            .pca
            .issue_certificate()
            .certificate_authority_arn(&arn)
            .csr(aws_smithy_types::Blob::new(csr))
            .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
            .template_arn("arn:aws:acm-pca:::template/RootCACertificate/V1")
            .validity(
                Validity::builder()
                    .r#type(ValidityPeriodType::Days)
                    .value(365)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_owned();
        let root_pem = self
            .pca
            .get_certificate()
            .certificate_authority_arn(&arn)
            .certificate_arn(&root)
            .send()
            .await
            .unwrap()
            .certificate()
            .unwrap()
            .to_owned();
        self.pca
            .import_certificate_authority_certificate()
            .certificate_authority_arn(&arn)
            .certificate(aws_smithy_types::Blob::new(root_pem))
            .send()
            .await
            .unwrap();
        arn
    }

    pub async fn sns_topic(&self) -> String {
        self.sns
            .create_topic()
            .name("rotation-notifications")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_owned()
    }

    pub fn notifier(&self, topic_arn: &str) -> RecordingNotifier {
        RecordingNotifier {
            inner: SnsNotifier::new(self.sns.clone(), topic_arn),
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Returns the signer that replaces AWS IoT Core in tests (see `OpensslSigner`).
    pub fn openssl_signer(&self) -> OpensslSigner {
        let dir = self.path().join("test-ca");
        std::fs::create_dir_all(&dir).unwrap();
        let key = make_key(&dir, "ca", Key::Ec("P-256"));
        self_signed(&dir, &key, "/CN=Test IoT Core CA");
        OpensslSigner {
            registry: self.registry(),
            dir,
        }
    }
}

/// The registry state of one thing and of every certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Certificate ARN → (status, attached policy names).
    pub certificates: BTreeMap<String, (String, BTreeSet<String>)>,
    pub principals: BTreeSet<String>,
    pub record: Option<RotationRecord>,
}

/// Publisher double: publishes through the real SDK client to moto (which accepts the call but
/// offers no way to read published messages back) and records each message for assertions.
pub struct RecordingPublisher {
    inner: SdkPublisher,
    pub sent: Mutex<Vec<(String, serde_json::Value)>>,
}

impl RecordingPublisher {
    pub fn messages(&self) -> Vec<(String, serde_json::Value)> {
        self.sent.lock().unwrap().clone()
    }

    pub fn last(&self) -> (String, serde_json::Value) {
        self.messages()
            .last()
            .cloned()
            .expect("no reply was published")
    }
}

impl Publisher for RecordingPublisher {
    async fn publish(&self, topic: &str, payload: &str) -> Result<()> {
        self.inner.publish(topic, payload).await?;
        let payload = serde_json::from_str(payload).expect("replies are JSON");
        self.sent.lock().unwrap().push((topic.to_owned(), payload));
        Ok(())
    }
}

/// Notifier double: publishes through the real SDK client to moto's SNS and records each
/// notification, because moto offers no API to read published messages back.
pub struct RecordingNotifier {
    inner: SnsNotifier,
    pub sent: Mutex<Vec<(String, String)>>,
}

impl RecordingNotifier {
    pub fn messages(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Notifier for RecordingNotifier {
    async fn notify(&self, subject: &str, message: &str) -> Result<()> {
        self.inner.notify(subject, message).await?;
        self.sent
            .lock()
            .unwrap()
            .push((subject.to_owned(), message.to_owned()));
        Ok(())
    }
}

/// Jobs double. moto 5.2.5 has no Jobs data plane, so a device cannot move its execution to
/// IN_PROGRESS and every execution stays QUEUED. This reads the execution and the job document
/// from moto through the real lookup, and reports executions the test marked as started as
/// IN_PROGRESS. Statuses other than QUEUED pass through unchanged.
pub struct StartedJobs {
    inner: SdkJobLookup,
    started: Mutex<HashSet<(String, String)>>,
}

impl StartedJobs {
    pub fn start(&self, thing: &str, job_id: &str) {
        self.started
            .lock()
            .unwrap()
            .insert((thing.to_owned(), job_id.to_owned()));
    }
}

impl JobLookup for StartedJobs {
    async fn job_execution(&self, thing: &str, job_id: &str) -> Result<Option<JobExecution>> {
        let execution = self.inner.job_execution(thing, job_id).await?;
        let started = self
            .started
            .lock()
            .unwrap()
            .contains(&(thing.to_owned(), job_id.to_owned()));
        Ok(execution.map(|mut execution| {
            if started && execution.status == JobExecutionStatus::Queued {
                execution.status = JobExecutionStatus::InProgress;
            }
            execution
        }))
    }
}

/// Signer double for AWS IoT Core. moto's `CreateCertificateFromCsr` returns a certificate for
/// a random key instead of the CSR's, which no device could use. This double signs the CSR with
/// a test CA through the `openssl` CLI and registers the result in moto with
/// `RegisterCertificateWithoutCA`, as AWS IoT Core's own call registers it. It does not emulate
/// revocation, which AWS IoT Core lacks too.
pub struct OpensslSigner {
    registry: SdkRegistry,
    dir: PathBuf,
}

impl CertificateSigner for OpensslSigner {
    async fn issue(&self, csr_pem: &str) -> Result<IssuedCertificate> {
        let csr = self.dir.join("request.csr");
        let out = self.dir.join("issued.crt");
        std::fs::write(&csr, csr_pem).unwrap();
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                "request.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "0x1234abcd",
                "-days",
                "7",
                "-out",
                "issued.crt",
            ],
        );
        let pem = std::fs::read_to_string(out).unwrap();
        let registered = self.registry.register_certificate_without_ca(&pem).await?;
        Ok(IssuedCertificate {
            id: registered.id,
            arn: registered.arn,
            certificate_pem: pem.clone(),
            reply_pem: pem,
        })
    }

    async fn revoke(&self, _certificate_pem: &str) -> Result<()> {
        Ok(())
    }

    async fn chain_pem(&self) -> Result<String> {
        Ok(String::new())
    }
}

/// Record store double that reads from the real shadow but fails every write, to drive the
/// undo path after a certificate was issued.
pub struct FailingRecordStore {
    pub inner: ShadowRecordStore,
}

impl RecordStore for FailingRecordStore {
    async fn load(&self, thing: &str) -> Result<Option<RotationRecord>> {
        self.inner.load(thing).await
    }

    async fn store(&self, thing: &str, _record: &RotationRecord) -> Result<()> {
        Err(BackendError::new(
            ErrorKind::AwsPermanent,
            format!("failed to update shadow {SHADOW_NAME} of thing {thing}: injected failure"),
        ))
    }
}

/// Builds the rule event that a device's request produces.
pub fn rule_event(
    device: &Device,
    kind: &str,
    job_id: &str,
    csr: Option<&str>,
    principal: &str,
) -> serde_json::Value {
    let mut event = serde_json::json!({
        "jobId": job_id,
        "thingName": device.thing,
        "topic": format!("{PREFIX}/things/{}/certificate/{kind}", device.thing),
        "clientId": device.thing,
        "principal": principal,
    });
    if let Some(csr) = csr {
        event["csr"] = serde_json::Value::String(csr.to_owned());
    }
    event
}

/// Registry double that delegates every call to moto, with two adjustments. It fails the first
/// `conflicts` deletes with a conflict, as AWS IoT does while an asynchronous
/// `DetachThingPrincipal` is still in progress, because moto detaches at once. With
/// `non_exclusive` set, it reports every principal as `NON_EXCLUSIVE_THING`, because moto
/// reports no association type at all.
pub struct AdjustableRegistry {
    pub inner: SdkRegistry,
    pub conflicts: AtomicU32,
    pub deletes: AtomicU32,
    pub non_exclusive: AtomicBool,
}

impl AdjustableRegistry {
    pub fn new(inner: SdkRegistry) -> Self {
        Self {
            inner,
            conflicts: AtomicU32::new(0),
            deletes: AtomicU32::new(0),
            non_exclusive: AtomicBool::new(false),
        }
    }
}

impl Registry for AdjustableRegistry {
    async fn thing_principals(&self, thing: &str) -> Result<Vec<ThingPrincipal>> {
        let mut principals = self.inner.thing_principals(thing).await?;
        if self.non_exclusive.load(Ordering::SeqCst) {
            for principal in &mut principals {
                principal.exclusive = Some(false);
            }
        }
        Ok(principals)
    }

    async fn describe_certificate(&self, certificate_id: &str) -> Result<RegisteredCertificate> {
        self.inner.describe_certificate(certificate_id).await
    }

    async fn certificate_policies(&self, certificate_arn: &str) -> Result<Vec<String>> {
        self.inner.certificate_policies(certificate_arn).await
    }

    async fn attach_policy(&self, policy: &str, certificate_arn: &str) -> Result<()> {
        self.inner.attach_policy(policy, certificate_arn).await
    }

    async fn detach_policy(&self, policy: &str, certificate_arn: &str) -> Result<()> {
        self.inner.detach_policy(policy, certificate_arn).await
    }

    async fn attach_thing_exclusive(&self, thing: &str, certificate_arn: &str) -> Result<()> {
        self.inner
            .attach_thing_exclusive(thing, certificate_arn)
            .await
    }

    async fn detach_thing(&self, thing: &str, certificate_arn: &str) -> Result<()> {
        self.inner.detach_thing(thing, certificate_arn).await
    }

    async fn deactivate_certificate(&self, certificate_id: &str) -> Result<()> {
        self.inner.deactivate_certificate(certificate_id).await
    }

    async fn delete_certificate(&self, certificate_id: &str) -> Result<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        let remaining = self.conflicts.load(Ordering::SeqCst);
        if remaining > 0 {
            self.conflicts.store(remaining - 1, Ordering::SeqCst);
            return Err(BackendError::new(
                ErrorKind::Conflict,
                format!(
                    "failed to delete certificate {certificate_id}: things must be detached before deletion"
                ),
            ));
        }
        self.inner.delete_certificate(certificate_id).await
    }

    async fn register_certificate_without_ca(
        &self,
        certificate_pem: &str,
    ) -> Result<RegisteredCertificate> {
        self.inner
            .register_certificate_without_ca(certificate_pem)
            .await
    }
}
