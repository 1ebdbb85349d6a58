//! Test harness: a test PKI made with `openssl`, Debian's mosquitto with mutual TLS, a scripted
//! cloud double, and the agent binary.

#![allow(dead_code)]

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotator_agent::mqtt::client_config;
use rotator_agent::store::PairPaths;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde_json::{Value, json};

pub const THING: &str = "core-1";
/// Upper bound for waiting on the agent or the broker. Tests poll for a condition and fail
/// with a message when it never holds; no test asserts on elapsed time.
pub const WAIT_LIMIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(50);

pub fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority made with `openssl`, with an `openssl ca` database for the CRL.
pub struct TestCa {
    pub dir: PathBuf,
    pub name: String,
    serial: Mutex<u64>,
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> Self {
        let dir = dir.join(name);
        fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        fs::write(dir.join("index.txt"), "").unwrap();
        fs::write(dir.join("crlnumber"), "01\n").unwrap();
        let config = format!(
            "[ca]\ndefault_ca = test_ca\n[test_ca]\ndir = {dir}\ndatabase = $dir/index.txt\n\
             crlnumber = $dir/crlnumber\ncertificate = $dir/ca.pem\nprivate_key = $dir/ca.key\n\
             default_md = sha256\ndefault_crl_days = 2\nnew_certs_dir = $dir\n\
             policy = policy_any\n[policy_any]\ncommonName = optional\n",
            dir = dir.display()
        );
        fs::write(dir.join("ca.cnf"), config).unwrap();
        let ca = Self {
            dir,
            name: name.to_owned(),
            serial: Mutex::new(1000),
        };
        ca.write_crl();
        ca
    }

    pub fn certificate(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }

    fn next_serial(&self) -> String {
        let mut serial = self.serial.lock().unwrap();
        *serial += 1;
        format!("{}", *serial)
    }

    /// Signs a CSR file and returns the certificate in PEM.
    pub fn sign_csr(&self, csr: &Path, extensions: Option<&str>) -> String {
        let out = csr.with_extension("crt");
        let serial = self.next_serial();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-out",
            out.to_str().unwrap(),
        ];
        // Any extension makes openssl issue X.509 v3, the only version rustls accepts.
        let ext_file = self.dir.join(format!("ext-{serial}.cnf"));
        fs::write(
            &ext_file,
            extensions.unwrap_or("basicConstraints=CA:FALSE\n"),
        )
        .unwrap();
        args.extend(["-extfile", ext_file.to_str().unwrap()]);
        openssl(&self.dir, &args);
        fs::read_to_string(out).unwrap()
    }

    /// Makes a key (an `openssl genpkey` algorithm spec) and a certificate for `common_name`.
    pub fn issue(&self, dir: &Path, stem: &str, common_name: &str, key_spec: &[&str]) -> PairPaths {
        let key = dir.join(format!("{stem}.key"));
        let csr = dir.join(format!("{stem}.csr"));
        let mut args = vec!["genpkey"];
        args.extend(key_spec);
        args.extend(["-out", key.to_str().unwrap()]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                key.to_str().unwrap(),
                "-out",
                csr.to_str().unwrap(),
                "-subj",
                &format!("/CN={common_name}/O=Rotator Tests"),
            ],
        );
        let pem = self.sign_csr(&csr, Some("subjectAltName=IP:127.0.0.1,DNS:localhost\n"));
        let certificate = dir.join(format!("{stem}.crt"));
        fs::write(&certificate, pem).unwrap();
        PairPaths {
            certificate,
            private_key: key,
        }
    }

    /// Adds a certificate to the CRL.
    pub fn revoke(&self, certificate: &Path) {
        openssl(
            &self.dir,
            &[
                "ca",
                "-config",
                "ca.cnf",
                "-revoke",
                certificate.to_str().unwrap(),
            ],
        );
        self.write_crl();
    }

    fn write_crl(&self) {
        openssl(
            &self.dir,
            &["ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem"],
        );
    }
}

pub const EC_P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
pub const RSA_2048: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];

/// Debian's mosquitto on a free loopback port, TLS only, client certificates required.
pub struct Broker {
    pub port: u16,
    config: PathBuf,
    child: Child,
}

impl Broker {
    pub fn start(dir: &Path, ca: &TestCa) -> Self {
        let server = ca.issue(dir, "broker", "localhost", EC_P256);
        let port = testsupport::free_port();
        let config = dir.join("mosquitto.conf");
        let mut text = format!(
            "per_listener_settings false\nlistener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\n\
             keyfile {key}\nrequire_certificate true\nuse_identity_as_username true\n\
             crlfile {crl}\nallow_anonymous false\npersistence false\n\
             log_dest file {log}\nlog_type all\nmax_packet_size 1000000\n",
            ca = ca.certificate().display(),
            cert = server.certificate.display(),
            key = server.private_key.display(),
            crl = ca.crl().display(),
            log = dir.join("mosquitto.log").display(),
        );
        // As root, mosquitto switches to its own user, which cannot read the test directory.
        if unsafe_is_root() {
            text.push_str("user root\n");
        }
        fs::write(&config, text).unwrap();
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/sbin/mosquitto must be installed (apt-get install mosquitto)");
        let broker = Self {
            port,
            config,
            child,
        };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&self) {
        wait_for("mosquitto to listen", || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// Makes mosquitto reload its configuration, CRL included.
    pub fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_is_root() -> bool {
    std::env::var("USER")
        .map(|user| user == "root")
        .unwrap_or(false)
        || Command::new("id")
            .arg("-u")
            .output()
            .map(|out| out.stdout.starts_with(b"0"))
            .unwrap_or(false)
}

/// Polls `condition` until it holds, failing the test after [`WAIT_LIMIT`].
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT_LIMIT, "gave up waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// The cloud double's reply to a CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateReply {
    /// Sign the CSR with the broker's CA.
    Sign,
    /// Sign the CSR with a CA the broker does not trust.
    SignUntrusted,
    /// Issue a certificate for an unrelated key of this `openssl genpkey` spec.
    SignOtherKey(&'static [&'static str]),
    Reject,
    /// Send nothing.
    Ignore,
    /// Send this payload on `create/accepted`.
    Raw(String),
    /// Send this payload on `create/rejected`.
    RawRejected(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitReply {
    Accept,
    Reject,
    Ignore,
    Raw(String),
}

/// The scripted behaviour of the cloud double.
#[derive(Debug, Clone)]
pub struct Script {
    pub create: CreateReply,
    pub commit: CommitReply,
    /// Requests of each kind to drop before replying, to exercise the agent's re-asking.
    pub drop_first_creates: usize,
    pub drop_first_commits: usize,
    /// Send every reply twice.
    pub duplicate_replies: bool,
    /// Before each reply, publish invalid messages on device topics that the agent is not
    /// waiting on at that point.
    pub noise: bool,
    pub job_document: Value,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            create: CreateReply::Sign,
            commit: CommitReply::Accept,
            drop_first_creates: 0,
            drop_first_commits: 0,
            duplicate_replies: false,
            noise: false,
            job_document: json!({"operation": "ROTATE_CERTIFICATE"}),
        }
    }
}

/// What the cloud double saw and holds.
#[derive(Debug, Default, Clone)]
pub struct CloudState {
    pub job_id: String,
    pub status: String,
    pub status_details: Value,
    pub next_gets: usize,
    pub updates: Vec<Value>,
    pub csrs: Vec<String>,
    /// Whether `openssl req -verify` accepted each CSR, in order.
    pub csr_signatures_valid: Vec<bool>,
    pub commits: Vec<Value>,
    pub issued: Vec<String>,
}

/// A test double for the cloud side: one MQTT client that plays the AWS IoT Jobs MQTT API for
/// one job execution and the create and commit Lambdas behind their rules, as `script` specifies.
///
/// It does not emulate: the rules engine (it subscribes to the device's request topics
/// directly, so it cannot see the caller's certificate and does not check the principal or
/// client ID), IoT policies, the thing registry and certificate attachment, the rotation
/// shadow, job timeouts, cancellation, `notify-next` pushes, `clientToken` and version
/// checks, or `$aws` topic restrictions.
pub struct CloudDouble {
    pub state: Arc<Mutex<CloudState>>,
    runtime: tokio::runtime::Runtime,
}

impl CloudDouble {
    pub fn start(
        dir: &Path,
        ca: Arc<TestCa>,
        untrusted: Arc<TestCa>,
        port: u16,
        script: Script,
    ) -> Self {
        let identity = ca.issue(dir, "cloud", "cloud-double", EC_P256);
        let config = client_config(&ca.certificate(), &identity).unwrap();
        let mut options = MqttOptions::new("cloud-double", "127.0.0.1", port);
        options
            .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(config),
            )))
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1_000_000, 1_000_000);
        let state = Arc::new(Mutex::new(CloudState {
            job_id: "rotate-1".into(),
            status: "QUEUED".into(),
            status_details: json!({}),
            ..CloudState::default()
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        let work = dir.join("cloud");
        fs::create_dir_all(&work).unwrap();
        runtime.spawn(async move {
            let (client, mut event_loop) = AsyncClient::new(options, 100);
            for filter in [
                format!("$aws/things/{THING}/jobs/$next/get"),
                format!("$aws/things/{THING}/jobs/+/update"),
                format!("awslabs/things/{THING}/certificate/create"),
                format!("awslabs/things/{THING}/certificate/commit"),
            ] {
                client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
            }
            let mut acks = 0;
            let mut double = Responder {
                client,
                state: shared,
                script,
                ca,
                untrusted,
                work,
            };
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acks += 1;
                        if acks == 4 {
                            let _ = ready_tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        double.handle(&publish.topic, &publish.payload).await;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        eprintln!("cloud double connection error: {error}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        ready_rx
            .recv_timeout(WAIT_LIMIT)
            .expect("the cloud double could not subscribe");
        Self { state, runtime }
    }

    pub fn snapshot(&self) -> CloudState {
        self.state.lock().unwrap().clone()
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self.snapshot().status.as_str(),
            "SUCCEEDED" | "FAILED" | "REJECTED" | "CANCELED" | "REMOVED" | "TIMED_OUT"
        )
    }

    pub fn failure_reason(&self) -> Option<String> {
        self.snapshot().status_details["DeviceFailureReason"]
            .as_str()
            .map(str::to_owned)
    }
}

struct Responder {
    client: AsyncClient,
    state: Arc<Mutex<CloudState>>,
    script: Script,
    ca: Arc<TestCa>,
    untrusted: Arc<TestCa>,
    work: PathBuf,
}

impl Responder {
    async fn send(&self, topic: String, payload: String) {
        let copies = if self.script.duplicate_replies { 2 } else { 1 };
        for _ in 0..copies {
            self.client
                .publish(
                    topic.clone(),
                    QoS::AtLeastOnce,
                    false,
                    payload.clone().into_bytes(),
                )
                .await
                .unwrap();
        }
    }

    /// Publishes invalid or unrelated messages on the device topics whose tails are listed.
    async fn noise(&self, tails: &[&str]) {
        if !self.script.noise {
            return;
        }
        let huge = format!("{{\"certificatePem\":\"{}\"}}", "A".repeat(200 * 1024));
        let wrong_types = json!({"execution": {"jobId": 5, "status": "QUEUED",
            "jobDocument": {"operation": "ROTATE_CERTIFICATE"}}})
        .to_string();
        let payloads = [
            "",
            "{",
            "[1,2]",
            "{\"certificatePem\":7}",
            &huge,
            &wrong_types,
        ];
        for tail in tails {
            let topic = if tail.starts_with("certificate/") {
                format!("awslabs/things/{THING}/{tail}")
            } else {
                format!("$aws/things/{THING}/jobs/{tail}")
            };
            for payload in payloads {
                self.client
                    .publish(
                        topic.clone(),
                        QoS::AtLeastOnce,
                        false,
                        payload.as_bytes().to_vec(),
                    )
                    .await
                    .unwrap();
            }
        }
    }

    async fn handle(&mut self, topic: &str, payload: &[u8]) {
        let jobs = format!("$aws/things/{THING}/jobs/");
        let certificate = format!("awslabs/things/{THING}/certificate/");
        if topic == format!("{jobs}$next/get") {
            self.next_get().await;
        } else if let Some(job_id) = topic
            .strip_prefix(&jobs)
            .and_then(|rest| rest.strip_suffix("/update"))
        {
            self.update(job_id, payload).await;
        } else if topic == format!("{certificate}create") {
            self.create(payload).await;
        } else if topic == format!("{certificate}commit") {
            self.commit(payload).await;
        }
    }

    async fn next_get(&self) {
        self.noise(&[
            "notify-next",
            "other/update/accepted",
            "other/update/rejected",
            "certificate/create/accepted",
            "certificate/create/rejected",
            "certificate/commit/accepted",
            "certificate/commit/rejected",
        ])
        .await;
        let reply = {
            let mut state = self.state.lock().unwrap();
            state.next_gets += 1;
            if matches!(state.status.as_str(), "QUEUED" | "IN_PROGRESS") {
                json!({"timestamp": 1, "execution": {
                    "jobId": state.job_id, "thingName": THING, "status": state.status,
                    "statusDetails": state.status_details, "queuedAt": 1, "lastUpdatedAt": 1,
                    "versionNumber": 1, "executionNumber": 1,
                    "jobDocument": self.script.job_document,
                }})
            } else {
                json!({"timestamp": 1})
            }
        };
        self.send(
            format!("$aws/things/{THING}/jobs/$next/get/accepted"),
            reply.to_string(),
        )
        .await;
    }

    async fn update(&self, job_id: &str, payload: &[u8]) {
        self.noise(&[
            "notify-next",
            "$next/get/accepted",
            "other/update/accepted",
            "certificate/create/accepted",
            "certificate/commit/accepted",
            "certificate/commit/rejected",
        ])
        .await;
        let request: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let accepted = {
            let mut state = self.state.lock().unwrap();
            state.updates.push(request.clone());
            let terminal = !matches!(state.status.as_str(), "QUEUED" | "IN_PROGRESS");
            match request["status"].as_str() {
                Some(status) if job_id == state.job_id && !terminal => {
                    state.status = status.to_owned();
                    state.status_details = request["statusDetails"].clone();
                    true
                }
                _ => false,
            }
        };
        let (tail, reply) = if accepted {
            ("accepted", json!({"timestamp": 1}))
        } else {
            (
                "rejected",
                json!({"code": "InvalidStateTransition", "message": "terminal"}),
            )
        };
        self.send(
            format!("$aws/things/{THING}/jobs/{job_id}/update/{tail}"),
            reply.to_string(),
        )
        .await;
    }

    async fn create(&mut self, payload: &[u8]) {
        let request: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let csr = request["csr"].as_str().unwrap_or_default().to_owned();
        let count = {
            let mut state = self.state.lock().unwrap();
            state.csrs.push(csr.clone());
            state.csrs.len()
        };
        if count <= self.script.drop_first_creates {
            return;
        }
        self.noise(&[
            "notify-next",
            "$next/get/accepted",
            "$next/get/rejected",
            "other/update/accepted",
            "certificate/commit/accepted",
            "certificate/commit/rejected",
        ])
        .await;
        let base = format!("awslabs/things/{THING}/certificate/create");
        let csr_path = self.work.join(format!("request-{count}.csr"));
        fs::write(&csr_path, &csr).unwrap();
        let verified = Command::new("openssl")
            .args(["req", "-verify", "-noout", "-in"])
            .arg(&csr_path)
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false);
        self.state
            .lock()
            .unwrap()
            .csr_signatures_valid
            .push(verified);
        let reply = match self.script.create.clone() {
            CreateReply::Sign => Some(("accepted", self.ca.sign_csr(&csr_path, None))),
            CreateReply::SignUntrusted => {
                Some(("accepted", self.untrusted.sign_csr(&csr_path, None)))
            }
            CreateReply::SignOtherKey(spec) => {
                let other = self
                    .ca
                    .issue(&self.work, &format!("other-{count}"), THING, spec);
                Some(("accepted", fs::read_to_string(other.certificate).unwrap()))
            }
            CreateReply::Reject => None,
            CreateReply::Ignore => return,
            CreateReply::Raw(payload) => {
                self.send(format!("{base}/accepted"), payload).await;
                return;
            }
            CreateReply::RawRejected(payload) => {
                self.send(format!("{base}/rejected"), payload).await;
                return;
            }
        };
        match reply {
            Some((tail, certificate)) => {
                self.state.lock().unwrap().issued.push(certificate.clone());
                let body = json!({"certificatePem": certificate}).to_string();
                self.send(format!("{base}/{tail}"), body).await;
            }
            None => {
                let body = json!({"errorMsg": "CSR rejected by the test script"}).to_string();
                self.send(format!("{base}/rejected"), body).await;
            }
        }
    }

    async fn commit(&mut self, payload: &[u8]) {
        let request: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let count = {
            let mut state = self.state.lock().unwrap();
            state.commits.push(request);
            state.commits.len()
        };
        if count <= self.script.drop_first_commits {
            return;
        }
        self.noise(&[
            "notify-next",
            "$next/get/accepted",
            "other/update/rejected",
            "certificate/create/accepted",
            "certificate/create/rejected",
        ])
        .await;
        let base = format!("awslabs/things/{THING}/certificate/commit");
        match self.script.commit.clone() {
            CommitReply::Accept => self.send(format!("{base}/accepted"), "{}".into()).await,
            CommitReply::Reject => {
                let body = json!({"errorMsg": "commit rejected by the test script"});
                self.send(format!("{base}/rejected"), body.to_string())
                    .await
            }
            CommitReply::Ignore => {}
            CommitReply::Raw(payload) => self.send(format!("{base}/accepted"), payload).await,
        }
    }
}

/// One test's world: PKI, broker, cloud double, device files and agent configuration.
pub struct World {
    pub dir: tempfile::TempDir,
    pub ca: Arc<TestCa>,
    pub broker: Broker,
    pub cloud: CloudDouble,
    pub device: PairPaths,
    pub old_certificate: Vec<u8>,
    pub old_key: Vec<u8>,
    pub work_dir: PathBuf,
    pub config: PathBuf,
}

impl World {
    pub fn new(script: Script) -> Self {
        Self::with_config(script, "")
    }

    /// Builds the world; `extra` is appended to the agent's TOML configuration.
    pub fn with_config(script: Script, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = Arc::new(TestCa::new(dir.path(), "Rotator Test CA"));
        let untrusted = Arc::new(TestCa::new(dir.path(), "Untrusted CA"));
        let broker = Broker::start(dir.path(), &ca);
        let cloud = CloudDouble::start(dir.path(), ca.clone(), untrusted, broker.port, script);
        let device_dir = dir.path().join("greengrass");
        fs::create_dir_all(&device_dir).unwrap();
        let device = ca.issue(&device_dir, "device", THING, EC_P256);
        let old_certificate = fs::read(&device.certificate).unwrap();
        let old_key = fs::read(&device.private_key).unwrap();
        let work_dir = dir.path().join("work");
        let config = dir.path().join("agent.toml");
        let text = format!(
            "thing-name = \"{THING}\"\nhost = \"127.0.0.1\"\nport = {port}\nca-file = \"{ca}\"\n\
             certificate = \"{cert}\"\nprivate-key = \"{key}\"\nwork-dir = \"{work}\"\n{extra}\n\
             [timeouts]\njobs = 2\ncreate = 1\ncommit = 1\nconnect = 5\nreconnect-delay = 0.2\n\
             [retries]\njobs = 2\ncreate = 1\ncommit = 1\nconnect-attempts = 2\n",
            port = broker.port,
            ca = ca.certificate().display(),
            cert = device.certificate.display(),
            key = device.private_key.display(),
            work = work_dir.display(),
        );
        fs::write(&config, text).unwrap();
        Self {
            dir,
            ca,
            broker,
            cloud,
            device,
            old_certificate,
            old_key,
            work_dir,
            config,
        }
    }

    pub fn agent_command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rotator-agent"));
        command
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "debug")
            .env_remove(rotator_agent::journal::CRASH_AFTER_STEP_ENV)
            .stdout(Stdio::null());
        command
    }

    /// Runs the agent until it exits after one job, and returns its status and log.
    pub fn run_agent(&self, crash_after: Option<&str>) -> (ExitStatus, String) {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, Ordering::SeqCst);
        let log_path = self.dir.path().join(format!("agent-{run}.log"));
        let log = fs::File::create(&log_path).unwrap();
        let mut command = self.agent_command();
        command.arg("--exit-after-job").stderr(log);
        if let Some(step) = crash_after {
            command.env(rotator_agent::journal::CRASH_AFTER_STEP_ENV, step);
        }
        let mut child = command.spawn().unwrap();
        let status = wait_exit(&mut child);
        (status, fs::read_to_string(&log_path).unwrap())
    }

    pub fn live_pair(&self) -> (Vec<u8>, Vec<u8>) {
        (
            fs::read(&self.device.certificate).unwrap(),
            fs::read(&self.device.private_key).unwrap(),
        )
    }

    /// Asserts the old pair is back byte for byte and the backup and pending key are gone.
    pub fn assert_old_pair_restored(&self) {
        let (certificate, key) = self.live_pair();
        assert!(
            certificate == self.old_certificate,
            "old certificate not restored"
        );
        assert!(key == self.old_key, "old key not restored");
        assert!(
            !self.work_dir.join("backup/private.key").exists(),
            "backup key left"
        );
        assert!(
            !self.work_dir.join("backup/certificate.pem").exists(),
            "backup cert left"
        );
        assert!(
            !self.work_dir.join("pending/private.key").exists(),
            "pending key left"
        );
    }

    /// Asserts the live pair is new, issued by the test CA, and matches.
    pub fn assert_new_pair_installed(&self) {
        let (certificate, key) = self.live_pair();
        assert!(certificate != self.old_certificate, "certificate unchanged");
        assert!(key != self.old_key, "key unchanged");
        assert_pair_matches(&self.device);
        let mode = fs::metadata(&self.device.private_key)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(
            mode, 0o600,
            "the new key must be readable by its owner only"
        );
        let output = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(self.ca.certificate())
            .arg(&self.device.certificate)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            !self.work_dir.join("backup/private.key").exists(),
            "backup key left"
        );
        assert!(
            !self.work_dir.join("pending/private.key").exists(),
            "pending key left"
        );
    }

    pub fn journal(&self) -> Value {
        let text = fs::read_to_string(self.work_dir.join("journal.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Whether a client with `pair` can connect to the broker.
    pub fn can_connect(&self, pair: &PairPaths) -> bool {
        let config = match client_config(&self.ca.certificate(), pair) {
            Ok(config) => config,
            Err(_) => return false,
        };
        let mut options = MqttOptions::new("probe", "127.0.0.1", self.broker.port);
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(config),
        )));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (_client, mut event_loop) = AsyncClient::new(options, 10);
            let attempt = async {
                loop {
                    match event_loop.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => return true,
                        Ok(_) => continue,
                        Err(_) => return false,
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(10), attempt)
                .await
                .unwrap_or(false)
        })
    }
}

/// Waits for the agent to exit, killing it and failing the test after [`WAIT_LIMIT`].
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > WAIT_LIMIT {
            let _ = child.kill();
            panic!("the agent did not exit");
        }
        std::thread::sleep(POLL);
    }
}

/// Asserts with openssl that a certificate and key file carry the same public key.
pub fn assert_pair_matches(pair: &PairPaths) {
    let from_certificate = Command::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(&pair.certificate)
        .output()
        .unwrap();
    let from_key = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&pair.private_key)
        .output()
        .unwrap();
    assert!(from_certificate.status.success());
    assert!(from_key.status.success());
    assert_eq!(
        String::from_utf8_lossy(&from_certificate.stdout),
        String::from_utf8_lossy(&from_key.stdout),
        "the live certificate and key do not match"
    );
}
