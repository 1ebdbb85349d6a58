//! A local AWS for CLI tests: moto's server behind the sandbox, dummy credentials, Lambda zips
//! in a temporary directory, and SDK clients to check what the CLI did.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as ProcessCommand;

use assert_cmd::Command;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types::{
    Asn1Subject, CertificateAuthorityConfiguration, CertificateAuthorityType, KeyAlgorithm,
    SigningAlgorithm,
};
use aws_smithy_runtime_api::client::result::SdkError;
use rotator_sandbox::Sandbox;
use serde_json::Value;
use testsupport::MotoServer;

pub const STACK: &str = "greengrass-cert-rotator";
pub const REGION: &str = "us-east-1";
/// The account moto uses for any access key that is not an assumed role's.
pub const ACCOUNT: &str = "123456789012";
pub const FUNCTION_IDS: [&str; 3] = [
    "CreateCertificateFunction",
    "CommitCertificateFunction",
    "JobExecutionTerminalFunction",
];

/// Log filter that makes the binary log one line per AWS request attempt, inside a span named
/// after the operation (`S3.PutObject`).
const CALL_LOG_FILTER: &str =
    "warn,aws_sdk=debug,aws_smithy_runtime::client::orchestrator::endpoints=debug";

const CA_COMMON_NAME: &str = "certrotator test CA";

/// moto plus the sandbox, with everything a test needs to run the binary against them.
pub struct Stand {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
    _moto: MotoServer,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    pub config: SdkConfig,
}

impl Stand {
    pub fn start() -> Self {
        let moto = MotoServer::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("failed to build the test runtime");
        let sandbox = runtime
            .block_on(Sandbox::start(&moto.endpoint()))
            .expect("failed to start the sandbox");
        let endpoint = sandbox.endpoint();
        let dir = tempfile::tempdir().expect("failed to create a temporary directory");
        write_lambda_zips(&dir.path().join("lambdas"), "v1");
        std::fs::write(dir.path().join("aws-config"), "").unwrap();

        let config = runtime.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(REGION))
                .endpoint_url(&endpoint)
                .credentials_provider(aws_sdk_sts::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .load(),
        );
        Self {
            runtime,
            sandbox: Some(sandbox),
            _moto: moto,
            endpoint,
            dir,
            config,
        }
    }

    pub fn lambda_dir(&self) -> PathBuf {
        self.dir.path().join("lambdas")
    }

    /// Returns an environment that reaches only this stand.
    pub fn environment(&self) -> Vec<(String, String)> {
        let empty_file = self.dir.path().join("aws-config").display().to_string();
        [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", empty_file.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", empty_file),
            ("NO_COLOR", "1".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// Builds a command for the binary with an environment that reaches only this stand.
    pub fn cli(&self) -> Command {
        let mut command = Command::cargo_bin("certrotator").expect("binary is built");
        command
            .env_clear()
            .envs(self.environment())
            .current_dir(self.dir.path());
        command
    }

    /// Runs `certrotator --output json <args>` with the stand's zips; asserts success and
    /// returns the parsed report.
    pub fn run_json(&self, args: &[&str]) -> Value {
        let output = self
            .cli()
            .args(["--output", "json", "--no-progress"])
            .args(args)
            .output()
            .expect("failed to run certrotator");
        assert!(
            output.status.success(),
            "certrotator {args:?} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Runs `certrotator --output json <args>`; asserts that it fails with exit status 1 and
    /// returns the JSON error document and stderr.
    pub fn run_json_failure(&self, args: &[&str]) -> (Value, String) {
        let output = self
            .cli()
            .args(["--output", "json", "--no-progress"])
            .args(args)
            .output()
            .expect("failed to run certrotator");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(1),
            "certrotator {args:?} did not fail as expected:\n{stderr}"
        );
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        (report, stderr)
    }

    /// Runs `deploy --yes` with the stand's zips and `extra` flags, and returns the report
    /// with the AWS operations the run called, in order (`S3.HeadBucket`, ...).
    ///
    /// The operations come from the SDK's debug log: one `will apply endpoint` line per request
    /// attempt, inside the span named after the operation.
    pub fn deploy_with_calls(&self, extra: &[&str]) -> (Value, Vec<String>) {
        let lambda_dir = self.lambda_dir();
        let output = self
            .cli()
            .env("RUST_LOG", CALL_LOG_FILTER)
            .args(["--output", "json", "--no-progress", "deploy", "--yes"])
            .arg("--lambda-dir")
            .arg(&lambda_dir)
            .args(extra)
            .output()
            .expect("failed to run certrotator");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "deploy {extra:?} failed with {}:\n{stderr}",
            output.status
        );
        let calls = stderr
            .lines()
            .filter(|line| line.contains("will apply endpoint"))
            .map(|line| {
                operation_name(line)
                    .unwrap_or_else(|| panic!("no operation span in log line {line:?}"))
            })
            .collect();
        let report = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
        (report, calls)
    }

    /// Runs `deploy --yes` with the stand's zips and `extra` flags.
    pub fn deploy(&self, extra: &[&str]) -> Value {
        let lambda_dir = self.lambda_dir();
        let mut args = vec![
            "deploy",
            "--yes",
            "--lambda-dir",
            lambda_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.run_json(&args)
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn cfn(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::new(&self.config)
    }

    pub fn iot(&self) -> aws_sdk_iot::Client {
        aws_sdk_iot::Client::new(&self.config)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }

    pub fn pca(&self) -> aws_sdk_acmpca::Client {
        aws_sdk_acmpca::Client::new(&self.config)
    }

    /// Creates a root certificate authority and returns its ARN. moto leaves a new CA in
    /// PENDING_CERTIFICATE, as AWS does until a CA certificate is installed.
    pub fn create_pending_ca(&self) -> String {
        let subject = Asn1Subject::builder().common_name(CA_COMMON_NAME).build();
        let configuration = CertificateAuthorityConfiguration::builder()
            .key_algorithm(KeyAlgorithm::Rsa2048)
            .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
            .subject(subject)
            .build()
            .expect("key and signing algorithms are set");
        let created = self
            .block_on(
                self.pca()
                    .create_certificate_authority()
                    .certificate_authority_configuration(configuration)
                    .certificate_authority_type(CertificateAuthorityType::Root)
                    // NOTE: moto 5.2.5 ignores this and reports SHORT_LIVED_CERTIFICATE, so
                    // tests against it request at most 7 days of validity.
                    .usage_mode(
                        aws_sdk_acmpca::types::CertificateAuthorityUsageMode::GeneralPurpose,
                    )
                    .send(),
            )
            .expect("failed to create a certificate authority");
        let arn = created
            .certificate_authority_arn()
            .expect("CreateCertificateAuthority returns the ARN")
            .to_owned();
        assert_eq!(self.ca_status(&arn), "PENDING_CERTIFICATE");
        arn
    }

    /// Creates a root certificate authority and makes it ACTIVE by importing a self-signed CA
    /// certificate; returns its ARN. moto checks only that the certificate parses.
    pub fn create_active_ca(&self) -> String {
        let arn = self.create_pending_ca();
        self.block_on(
            self.pca()
                .import_certificate_authority_certificate()
                .certificate_authority_arn(&arn)
                .certificate(Blob::new(self_signed_ca_certificate()))
                .send(),
        )
        .expect("failed to import the CA certificate");
        assert_eq!(self.ca_status(&arn), "ACTIVE");
        arn
    }

    pub fn ca_status(&self, arn: &str) -> String {
        let output = self
            .block_on(
                self.pca()
                    .describe_certificate_authority()
                    .certificate_authority_arn(arn)
                    .send(),
            )
            .expect("failed to describe the certificate authority");
        output
            .certificate_authority()
            .and_then(|authority| authority.status())
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default()
    }

    /// Physical IDs of the stack's resources by logical ID.
    pub fn stack_resources(&self) -> BTreeMap<String, String> {
        let output = self
            .block_on(self.cfn().list_stack_resources().stack_name(STACK).send())
            .expect("failed to list the stack's resources");
        output
            .stack_resource_summaries()
            .iter()
            .map(|resource| {
                (
                    resource
                        .logical_resource_id()
                        .unwrap_or_default()
                        .to_owned(),
                    resource
                        .physical_resource_id()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    /// The environment of each Lambda function, by logical ID, read with
    /// GetFunctionConfiguration.
    pub fn function_environments(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let resources = self.stack_resources();
        FUNCTION_IDS
            .iter()
            .map(|logical_id| {
                let name = resources
                    .get(*logical_id)
                    .unwrap_or_else(|| panic!("stack has no {logical_id}"));
                (logical_id.to_string(), self.function_environment(name))
            })
            .collect()
    }

    fn function_environment(&self, name: &str) -> BTreeMap<String, String> {
        let result = self.block_on(
            self.lambda()
                .get_function_configuration()
                .function_name(name)
                .send(),
        );
        let body = match result {
            Ok(configuration) => {
                return configuration
                    .environment()
                    .and_then(|environment| environment.variables())
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
            }
            // NOTE: moto 5.2.5 passes a `Ref` to a Number parameter into the environment as a
            // JSON number, which the SDK rejects (AWS returns strings). Read the same
            // GetFunctionConfiguration response body directly in that case.
            Err(SdkError::ServiceError(error)) if error.raw().status().is_success() => {
                error.raw().body().bytes().unwrap_or_default().to_vec()
            }
            Err(error) => panic!("failed to read function {name}: {error:?}"),
        };
        let configuration: Value = serde_json::from_slice(&body).expect("response is JSON");
        configuration["Environment"]["Variables"]
            .as_object()
            .map(|variables| {
                variables
                    .iter()
                    .map(|(key, value)| {
                        let text = match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        (key.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn job_execution_events_enabled(&self) -> bool {
        let output = self
            .block_on(self.iot().describe_event_configurations().send())
            .expect("failed to read the event configurations");
        output
            .event_configurations()
            .and_then(|map| map.get(&aws_sdk_iot::types::EventType::JobExecution))
            .map(|configuration| configuration.enabled())
            .unwrap_or(false)
    }

    pub fn stack_exists(&self) -> bool {
        match self.block_on(self.cfn().describe_stacks().stack_name(STACK).send()) {
            Ok(output) => output.stacks().iter().any(|stack| {
                stack.stack_status().map(|status| status.as_str()) != Some("DELETE_COMPLETE")
            }),
            Err(_) => false,
        }
    }

    pub fn stack_event_count(&self) -> usize {
        self.block_on(self.cfn().describe_stack_events().stack_name(STACK).send())
            .expect("failed to read stack events")
            .stack_events()
            .len()
    }

    pub fn bucket_exists(&self, bucket: &str) -> bool {
        self.block_on(self.s3().head_bucket().bucket(bucket).send())
            .is_ok()
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.shutdown());
        }
    }
}

/// Writes the three Lambda zips, each with a `bootstrap` whose content depends on `version`.
pub fn write_lambda_zips(dir: &Path, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for name in [
        "create-certificate",
        "commit-certificate",
        "job-execution-terminal",
    ] {
        let staging = tempfile::tempdir().unwrap();
        std::fs::write(
            staging.path().join("bootstrap"),
            format!("#!/bin/sh\necho {name} {version}\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            staging.path().join("bootstrap"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let zip = dir.join(format!("{name}.zip"));
        let _ = std::fs::remove_file(&zip);
        let status = ProcessCommand::new("zip")
            .args(["-q", "-X"])
            .arg(&zip)
            .arg("bootstrap")
            .current_dir(staging.path())
            .status()
            .expect("failed to run zip (apt-get install zip)");
        assert!(status.success(), "zip failed for {name}");
    }
}

/// Returns a syntactically valid Private CA ARN in the stand's region and account.
pub fn ca_arn() -> String {
    format!(
        "arn:aws:acm-pca:{REGION}:{ACCOUNT}:certificate-authority/0d1f6a3e-2b7c-4e8f-9a10-1b2c3d4e5f60"
    )
}

pub fn bucket_name() -> String {
    format!("certrotator-assets-{ACCOUNT}-{REGION}")
}

/// Returns the operation (`S3.HeadBucket`) whose span encloses an SDK log line, from the
/// span's `rpc.service` and `rpc.method` fields.
fn operation_name(line: &str) -> Option<String> {
    let field = |name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + line[start..].find('"')?;
        Some(line[start..end].to_owned())
    };
    Some(format!(
        "{}.{}",
        field("rpc.service")?,
        field("rpc.method")?
    ))
}

/// Returns a self-signed CA certificate (PEM) for a throwaway key.
fn self_signed_ca_certificate() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().expect("failed to generate the CA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("empty subject alternative names are valid");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let certificate = params
        .self_signed(&key)
        .expect("failed to self-sign the CA certificate");
    certificate.pem().into_bytes()
}
