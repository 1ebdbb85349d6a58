//! The built binary without any AWS endpoint: help text, render, and the checks that must
//! fail before the first AWS call.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// A loopback port nothing listens on: a request that slipped through would fail to connect,
/// which the assertions below would show instead of the expected message.
const CLOSED_ENDPOINT: &str = "http://127.0.0.1:9";

const OTHER_REGION_CA: &str = "arn:aws:acm-pca:eu-central-1:123456789012:certificate-authority/0d1f6a3e-2b7c-4e8f-9a10-1b2c3d4e5f60";

fn certrotator(dir: &Path) -> Command {
    let empty = dir.join("aws-config");
    std::fs::write(&empty, "").unwrap();
    let mut command = Command::cargo_bin("certrotator").unwrap();
    command
        .env_clear()
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", CLOSED_ENDPOINT)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .current_dir(dir);
    command
}

/// Returns a zip holding `entries` (name, content, Unix mode), stored uncompressed with a
/// fixed timestamp so that the same entries always give the same bytes.
fn zip_bytes(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    use std::io::Write;

    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, mode) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(*mode);
        writer.start_file(*name, options).unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Writes stand-in Lambda zips whose bytes, and so whose content hashes, never change.
fn write_fixed_zips(dir: &Path) -> std::path::PathBuf {
    let lambdas = dir.join("lambdas");
    std::fs::create_dir_all(&lambdas).unwrap();
    for name in [
        "create-certificate",
        "commit-certificate",
        "job-execution-terminal",
    ] {
        let bootstrap = format!("{name} v1");
        let zip = zip_bytes(&[("bootstrap", bootstrap.as_bytes(), 0o755)]);
        std::fs::write(lambdas.join(format!("{name}.zip")), zip).unwrap();
    }
    lambdas
}

struct Failure {
    code: Option<i32>,
    stderr: String,
    stdout: String,
}

fn run_failing(command: &mut Command) -> Failure {
    let output = command.output().unwrap();
    assert!(!output.status.success(), "expected a failure");
    Failure {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

#[test]
fn help_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("help_main", vec!["--help"]),
        ("help_deploy", vec!["deploy", "--help"]),
        ("help_plan", vec!["plan", "--help"]),
        ("help_render", vec!["render", "--help"]),
        ("help_destroy", vec!["destroy", "--help"]),
    ] {
        let output = certrotator(dir.path()).args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        insta::assert_snapshot!(name, String::from_utf8_lossy(&output.stdout));
    }
}

#[test]
fn render_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let output = certrotator(dir.path())
        .args(["--output", "json", "render", "--account-id", "123456789012"])
        .arg("--lambda-dir")
        .arg(&lambdas)
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut report: Value = serde_json::from_slice(&output.stdout).unwrap();

    let template = report["template"].as_str().unwrap();
    assert_eq!(template, rotator_provisioner::template::BUILT_IN);
    // The template belongs to the backend and changes on its own; the shape around it is ours.
    report["template"] = Value::from("[templates/backend.yaml]");
    insta::assert_json_snapshot!("render_json", report);
}

#[test]
fn render_writes_files() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let out = dir.path().join("out");
    certrotator(dir.path())
        .args(["render", "--assets-bucket", "my-assets"])
        .args(["--issuer", "private-ca", "--ca-arn"])
        .arg(OTHER_REGION_CA.replace("eu-central-1", "eu-west-1"))
        .arg("--lambda-dir")
        .arg(&lambdas)
        .arg("--out-dir")
        .arg(&out)
        .assert()
        .success();

    let template = std::fs::read_to_string(out.join("backend.yaml")).unwrap();
    let on_disk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/backend.yaml");
    assert_eq!(template, std::fs::read_to_string(on_disk).unwrap());
    let parameters: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("parameters.json")).unwrap())
            .unwrap();
    let lookup = |key: &str| {
        parameters
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["ParameterKey"] == key)
            .map(|p| p["ParameterValue"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("parameter {key} missing"))
    };
    assert_eq!(lookup("AssetsBucket"), "my-assets");
    assert_eq!(lookup("Issuer"), "private-ca");
    assert!(lookup("PrivateCaArn").contains(":eu-west-1:"));
    assert!(lookup("CreateCertificateCodeKey").starts_with("lambdas/create-certificate/"));
}

#[test]
fn render_prints_template_with_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let output = certrotator(dir.path())
        .args([
            "render",
            "--account-id",
            "123456789012",
            "--topic-prefix",
            "fleet",
        ])
        .arg("--lambda-dir")
        .arg(&lambdas)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with(rotator_provisioner::template::BUILT_IN));
    assert!(stdout.contains("#   TopicPrefix=fleet\n"), "{stdout}");
    assert!(
        stdout.contains("#   AssetsBucket=certrotator-assets-123456789012-eu-west-1\n"),
        "{stdout}"
    );
}

#[test]
fn ca_in_other_region_fails_early() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let failure = run_failing(
        certrotator(dir.path())
            .args([
                "--output",
                "json",
                "deploy",
                "--yes",
                "--issuer",
                "private-ca",
            ])
            .args(["--ca-arn", OTHER_REGION_CA])
            .arg("--lambda-dir")
            .arg(&lambdas),
    );
    assert_eq!(failure.code, Some(1));
    assert!(
        failure
            .stderr
            .contains("is in region eu-central-1, but the stack deploys to eu-west-1"),
        "{}",
        failure.stderr
    );
    assert!(failure.stderr.contains("pass --region eu-central-1"));
    let report: Value = serde_json::from_str(&failure.stdout).unwrap();
    insta::assert_json_snapshot!("error_json", report);
}

#[test]
fn invalid_ca_arn_fails_early() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let failure = run_failing(
        certrotator(dir.path())
            .args(["deploy", "--yes", "--issuer", "private-ca"])
            .args([
                "--ca-arn",
                "arn:aws:acm:eu-west-1:123456789012:certificate/0d1f6a3e",
            ])
            .arg("--lambda-dir")
            .arg(&lambdas),
    );
    assert!(
        failure.stderr.contains("invalid --ca-arn"),
        "{}",
        failure.stderr
    );
    assert!(failure.stderr.contains("the service is not acm-pca"));
}

#[test]
fn private_ca_without_arn_fails() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let failure = run_failing(
        certrotator(dir.path())
            .args(["plan", "--issuer", "private-ca", "--lambda-dir"])
            .arg(&lambdas),
    );
    assert!(
        failure
            .stderr
            .contains("--issuer private-ca needs --ca-arn"),
        "{}",
        failure.stderr
    );
}

#[test]
fn validity_days_range_matches_template() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let render = |days: &str| {
        let mut command = certrotator(dir.path());
        command
            .args(["render", "--account-id", "123456789012"])
            .args(["--validity-days", days, "--lambda-dir"])
            .arg(&lambdas);
        command
    };

    render("3650").assert().success();
    let failure = run_failing(&mut render("3651"));
    assert_eq!(failure.code, Some(2));
    assert!(failure.stderr.contains("1..=3650"), "{}", failure.stderr);
    let failure = run_failing(&mut render("0"));
    assert_eq!(failure.code, Some(2));
}

#[test]
fn missing_credentials_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let failure = run_failing(
        certrotator(dir.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(["deploy", "--yes", "--lambda-dir"])
            .arg(&lambdas),
    );
    assert!(
        failure.stderr.contains("no AWS credentials found"),
        "{}",
        failure.stderr
    );
    assert!(failure.stderr.contains("AWS_PROFILE"));
    // The cause is shown as messages, not as a Rust Debug dump.
    assert!(!failure.stderr.contains("{"), "{}", failure.stderr);
    assert!(!failure.stderr.contains("Error {"), "{}", failure.stderr);
}

#[test]
fn missing_region_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let failure = run_failing(
        certrotator(dir.path())
            .env_remove("AWS_REGION")
            .args(["destroy", "--yes"]),
    );
    assert!(
        failure.stderr.contains("no AWS region configured"),
        "{}",
        failure.stderr
    );
}

#[test]
fn invalid_region_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let failure =
        run_failing(certrotator(dir.path()).args(["--region", "mars", "destroy", "--yes"]));
    assert!(
        failure.stderr.contains("invalid region \"mars\""),
        "{}",
        failure.stderr
    );
}

#[test]
fn missing_zips_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let failure = run_failing(certrotator(dir.path()).args(["deploy", "--yes"]));
    assert!(
        failure.stderr.contains("make lambda-zips"),
        "{}",
        failure.stderr
    );
    assert!(
        failure
            .stderr
            .contains("dist/lambdas/create-certificate.zip")
    );
}

#[test]
fn deploy_without_yes_needs_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let failure = run_failing(
        certrotator(dir.path())
            .args(["deploy", "--lambda-dir"])
            .arg(&lambdas)
            .write_stdin(""),
    );
    assert!(failure.stderr.contains("pass --yes"), "{}", failure.stderr);
}

#[test]
fn invalid_topic_prefix_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    for prefix in ["a/b", "a+", "$aws"] {
        let failure = run_failing(
            certrotator(dir.path())
                .args([
                    "render",
                    "--account-id",
                    "123456789012",
                    "--topic-prefix",
                    prefix,
                ])
                .arg("--lambda-dir")
                .arg(&lambdas),
        );
        let stderr = &failure.stderr;
        assert!(
            stderr.contains(&format!(
                "invalid --topic-prefix {prefix:?}: use one topic level"
            )),
            "{prefix}: {stderr}"
        );
        assert_eq!(stderr.matches(prefix).count(), 1, "{prefix}: {stderr}");
    }
}

#[test]
fn profile_supplies_region_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("profile-config");
    let credentials = dir.path().join("profile-credentials");
    std::fs::write(&config, "[profile fleet]\nregion = ap-southeast-2\n").unwrap();
    std::fs::write(
        &credentials,
        "[fleet]\naws_access_key_id = fleetkey\naws_secret_access_key = fleetsecret\n",
    )
    .unwrap();

    // The profile is the only source of a region and credentials, so getting as far as STS
    // (which fails on the closed endpoint) shows that both came from it.
    let failure = run_failing(
        certrotator(dir.path())
            .env_remove("AWS_REGION")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .args(["--profile", "fleet", "destroy", "--yes"]),
    );
    assert!(
        failure.stderr.contains(
            "failed to identify the caller (STS GetCallerIdentity) in region ap-southeast-2"
        ),
        "{}",
        failure.stderr
    );

    let failure = run_failing(
        certrotator(dir.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_PROFILE", "absent")
            .args(["destroy", "--yes"]),
    );
    assert!(
        failure
            .stderr
            .contains("no AWS credentials found for profile \"absent\""),
        "{}",
        failure.stderr
    );
}

#[test]
fn render_uses_template_override() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    let custom = dir.path().join("custom.yaml");
    std::fs::write(&custom, "Resources: {}\n").unwrap();
    let output = certrotator(dir.path())
        .args(["--output", "json", "render", "--account-id", "123456789012"])
        .arg("--template")
        .arg(&custom)
        .arg("--lambda-dir")
        .arg(&lambdas)
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["template"], "Resources: {}\n");

    let failure = run_failing(
        certrotator(dir.path())
            .args([
                "render",
                "--account-id",
                "123456789012",
                "--template",
                "absent.yaml",
            ])
            .arg("--lambda-dir")
            .arg(&lambdas),
    );
    assert!(
        failure.stderr.contains("failed to read absent.yaml"),
        "{}",
        failure.stderr
    );
}

#[test]
fn invalid_lambda_zips_are_rejected() {
    let valid = zip_bytes(&[("bootstrap", b"#!/bin/sh\n", 0o755)]);
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("empty", Vec::new(), "the file is empty"),
        (
            "text",
            b"not a zip\n".to_vec(),
            "not a readable zip archive",
        ),
        (
            "truncated",
            valid[..valid.len() / 2].to_vec(),
            "not a readable zip archive",
        ),
        (
            "no bootstrap",
            zip_bytes(&[("handler", b"#!/bin/sh\n", 0o755)]),
            "no `bootstrap` file at its root",
        ),
        (
            "bootstrap not executable",
            zip_bytes(&[("bootstrap", b"#!/bin/sh\n", 0o644)]),
            "`bootstrap` is not executable (mode 644)",
        ),
        (
            "bootstrap in a folder",
            zip_bytes(&[("target/bootstrap", b"#!/bin/sh\n", 0o755)]),
            "no `bootstrap` file at its root",
        ),
    ];
    for (case, bytes, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        let lambdas = write_fixed_zips(dir.path());
        let broken = lambdas.join("commit-certificate.zip");
        std::fs::write(&broken, &bytes).unwrap();

        for command in [
            vec!["render", "--account-id", "123456789012"],
            vec!["plan"],
            vec!["deploy", "--yes"],
        ] {
            let failure = run_failing(
                certrotator(dir.path())
                    .args(&command)
                    .arg("--lambda-dir")
                    .arg(&lambdas),
            );
            let stderr = &failure.stderr;
            assert_eq!(failure.code, Some(1), "{case} {command:?}: {stderr}");
            assert!(
                stderr.contains(&format!("invalid Lambda zip {}", broken.display())),
                "{case} {command:?}: {stderr}"
            );
            assert!(stderr.contains(reason), "{case} {command:?}: {stderr}");
            assert!(
                stderr.contains("make lambda-zips"),
                "{case} {command:?}: {stderr}"
            );
        }
    }
}

#[test]
fn invalid_lambda_zip_json_code() {
    let dir = tempfile::tempdir().unwrap();
    let lambdas = write_fixed_zips(dir.path());
    std::fs::write(lambdas.join("create-certificate.zip"), "").unwrap();
    let failure = run_failing(
        certrotator(dir.path())
            .args(["--output", "json", "deploy", "--yes", "--lambda-dir"])
            .arg(&lambdas),
    );
    let report: Value = serde_json::from_str(&failure.stdout).unwrap();
    assert_eq!(report["error"]["code"], "invalid_lambda_zip");
}

/// Starts a loopback HTTP server that answers every request with 403 and sends each request's
/// `authorization` header on the returned channel.
fn start_header_recorder() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut authorization = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    authorization = line.trim_end().to_owned();
                }
                line.clear();
            }
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            if sender.send(authorization).is_err() {
                return;
            }
        }
    });
    (endpoint, receiver)
}

#[test]
fn profile_wins_over_environment_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "[profile fleet]\nregion = eu-west-1\n").unwrap();
    std::fs::write(
        &credentials,
        "[fleet]\naws_access_key_id = AKIAFLEETPROFILE\naws_secret_access_key = fleetsecret\n",
    )
    .unwrap();
    let (endpoint, requests) = start_header_recorder();

    let failure = run_failing(
        certrotator(dir.path())
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .args(["--profile", "fleet", "destroy", "--yes"]),
    );
    assert_eq!(failure.code, Some(1), "{}", failure.stderr);
    let authorization = requests.recv().expect("the run sent a request");
    assert!(
        authorization.contains("Credential=AKIAFLEETPROFILE/"),
        "{authorization}"
    );
    assert!(
        !authorization.contains("AKIAENVIRONMENT"),
        "{authorization}"
    );
}

#[test]
fn environment_keys_apply_without_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (endpoint, requests) = start_header_recorder();

    let failure = run_failing(
        certrotator(dir.path())
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
            .args(["destroy", "--yes"]),
    );
    assert_eq!(failure.code, Some(1), "{}", failure.stderr);
    let authorization = requests.recv().expect("the run sent a request");
    assert!(
        authorization.contains("Credential=AKIAENVIRONMENT/"),
        "{authorization}"
    );
}

#[test]
fn unknown_profile_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile fleet]\nregion = eu-west-1\n").unwrap();

    let failure = run_failing(
        certrotator(dir.path())
            .env("AWS_CONFIG_FILE", &config)
            .args(["--profile", "flete", "destroy", "--yes"]),
    );
    let stderr = &failure.stderr;
    assert_eq!(failure.code, Some(1), "{stderr}");
    assert!(stderr.contains("profile \"flete\" not found"), "{stderr}");
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("AWS_SHARED_CREDENTIALS_FILE"), "{stderr}");
}
