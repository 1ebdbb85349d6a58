//! The binary's command line: help, and configuration errors reported before any job runs.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{EC_P256, TestCa, wait_exit, wait_for};
use rotator_agent::store::PairPaths;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rotator-agent"))
}

fn device_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ca.pem", "device.crt", "device.key"] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    dir
}

fn base_args(dir: &std::path::Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).display().to_string();
    vec![
        "--thing-name".into(),
        "core-1".into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        "1".into(),
        "--ca-file".into(),
        path("ca.pem"),
        "--certificate".into(),
        path("device.crt"),
        "--private-key".into(),
        path("device.key"),
        "--work-dir".into(),
        path("work"),
    ]
}

#[test]
fn help_lists_every_setting() {
    let output = agent().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--config",
        "--thing-name",
        "--host",
        "--port",
        "--ca-file",
        "--certificate",
        "--private-key",
        "--work-dir",
        "--topic-prefix",
        "--key-algorithm",
        "--signing-algorithm",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn mismatched_algorithms_fail_at_startup() {
    let dir = device_files();
    let output = agent()
        .args(base_args(dir.path()))
        .args([
            "--key-algorithm",
            "ECDSA-P384",
            "--signing-algorithm",
            "SHA256WITHRSA",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("signing algorithm SHA256WITHRSA does not match key algorithm ECDSA-P384"),
        "{log}"
    );
    assert!(!dir.path().join("work").exists(), "nothing may run");
}

#[test]
fn missing_thing_name_names_the_flag() {
    let output = agent().output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("--thing-name"), "{log}");
}

#[test]
fn invalid_config_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "thing-name = 5\n").unwrap();
    let output = agent().arg("--config").arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("agent.toml"), "{log}");
}

/// A CA and a device pair issued by it, made with openssl, plus a second key that matches no
/// certificate.
struct Credentials {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    device: PairPaths,
    other_key: PathBuf,
}

impl Credentials {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(dir.path(), "Start-up Test CA");
        let device = ca.issue(dir.path(), "device", "core-1", EC_P256);
        let other = ca.issue(dir.path(), "other", "core-2", EC_P256);
        Self {
            ca_file: ca.certificate(),
            device,
            other_key: other.private_key,
            dir,
        }
    }

    fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Starts the agent against a closed loopback port with the given files.
    fn agent(&self, ca_file: &Path, certificate: &Path, private_key: &Path) -> Child {
        agent()
            .args([
                "--thing-name",
                "core-1",
                "--host",
                "127.0.0.1",
                "--port",
                "1",
            ])
            .arg("--ca-file")
            .arg(ca_file)
            .arg("--certificate")
            .arg(certificate)
            .arg("--private-key")
            .arg(private_key)
            .arg("--work-dir")
            .arg(self.work_dir())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn agent_with_device_files(&self) -> Child {
        self.agent(
            &self.ca_file,
            &self.device.certificate,
            &self.device.private_key,
        )
    }
}

/// Waits for the agent to exit and returns its exit code and stderr.
fn exit_and_log(mut child: Child) -> (Option<i32>, String) {
    let status = wait_exit(&mut child);
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    (status.code(), log)
}

#[test]
fn bad_credentials_fail_before_connecting() {
    let files = Credentials::new();
    let dir = files.dir.path();
    let empty = dir.join("empty.pem");
    fs::write(&empty, "").unwrap();
    let garbage = dir.join("garbage.pem");
    fs::write(&garbage, "not a PEM file\n").unwrap();
    let missing = dir.join("missing.pem");
    let directory = dir.join("a-directory");
    fs::create_dir(&directory).unwrap();
    let ca = files.ca_file.as_path();
    let certificate = files.device.certificate.as_path();
    let key = files.device.private_key.as_path();

    // (CA file, certificate, private key, file named in the error, expected reason)
    let cases: [(&Path, &Path, &Path, &Path, &str); 9] = [
        (ca, &missing, key, &missing, "not found"),
        (ca, certificate, &missing, &missing, "not found"),
        (ca, &directory, key, &directory, "is a directory"),
        (ca, certificate, &empty, &empty, "the file is empty"),
        (
            ca,
            key,
            key,
            key,
            "contains a private key, not a certificate",
        ),
        (
            ca,
            certificate,
            certificate,
            certificate,
            "contains a certificate, not a private key",
        ),
        (
            ca,
            certificate,
            &files.other_key,
            &files.other_key,
            "does not match the certificate",
        ),
        (&empty, certificate, key, &empty, "the file is empty"),
        (
            &garbage,
            certificate,
            key,
            &garbage,
            "contains no PEM certificate",
        ),
    ];
    for (ca_file, certificate, private_key, named, reason) in cases {
        let child = files.agent(ca_file, certificate, private_key);
        let (code, log) = exit_and_log(child);
        let case = format!(
            "{} / {} / {}",
            ca_file.display(),
            certificate.display(),
            private_key.display()
        );
        assert_eq!(code, Some(1), "{case}: {log}");
        assert!(log.contains(&named.display().to_string()), "{case}: {log}");
        assert!(log.contains(reason), "{case}: expected {reason:?} in {log}");
    }
    assert!(
        !files.work_dir().exists(),
        "a failed check must not create the work directory"
    );
}

#[test]
fn key_passed_as_ca_file_is_rejected() {
    let files = Credentials::new();
    let key = &files.device.private_key;
    let (code, log) = exit_and_log(files.agent(key, &files.device.certificate, key));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("invalid CA file"), "{log}");
    assert!(log.contains(&key.display().to_string()), "{log}");
}

#[test]
fn unreadable_key_is_rejected() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root reads files whatever their mode");
        return;
    }
    let files = Credentials::new();
    let key = &files.device.private_key;
    fs::set_permissions(key, fs::Permissions::from_mode(0o000)).unwrap();
    let (code, log) = exit_and_log(files.agent_with_device_files());
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains(&key.display().to_string()), "{log}");
    assert!(log.contains("Permission denied"), "{log}");
}

#[test]
fn world_writable_work_dir_is_rejected() {
    let files = Credentials::new();
    let work_dir = files.work_dir();
    fs::create_dir(&work_dir).unwrap();
    fs::set_permissions(&work_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let (code, log) = exit_and_log(files.agent_with_device_files());
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains(&work_dir.display().to_string()), "{log}");
    assert!(log.contains("mode 0777"), "{log}");
    assert!(
        log.contains(&format!("chmod 700 {}", work_dir.display())),
        "{log}"
    );
    assert!(
        !work_dir.join("backup").exists(),
        "nothing may be written to it"
    );
}

#[test]
fn work_dir_of_other_user_is_rejected() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can give a directory to another user");
        return;
    }
    let files = Credentials::new();
    let work_dir = files.work_dir();
    fs::create_dir(&work_dir).unwrap();
    std::os::unix::fs::chown(&work_dir, Some(65534), None).unwrap();
    let (code, log) = exit_and_log(files.agent_with_device_files());
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("owner uid 65534"), "{log}");
    assert!(log.contains(&work_dir.display().to_string()), "{log}");
}

#[test]
fn fresh_work_dir_is_private() {
    let files = Credentials::new();
    fs::set_permissions(&files.device.private_key, fs::Permissions::from_mode(0o644)).unwrap();
    let mut child = files.agent_with_device_files();
    let work_dir = files.work_dir();
    // The agent keeps retrying the closed port, so it is stopped once its store exists.
    wait_for("the work directory", || work_dir.join("pending").is_dir());
    child.kill().unwrap();
    let (_, log) = exit_and_log(child);
    let mode = fs::metadata(&work_dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "{log}");
    assert_eq!(
        log.matches("can be read by other users").count(),
        1,
        "one warning about the private key's mode: {log}"
    );
}

#[test]
fn help_describes_one_level_prefix() {
    let output = agent().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("First topic level of the certificate topics"),
        "{help}"
    );
    assert!(!help.contains("First levels"), "{help}");
}

#[test]
fn empty_host_and_port_zero_fail_at_startup() {
    let dir = device_files();
    let cases = [
        ("--host", "", "the broker host is empty"),
        ("--port", "0", "port 0 is not a broker port"),
    ];
    for (flag, value, expected) in cases {
        let mut args = base_args(dir.path());
        let position = args.iter().position(|arg| arg == flag).unwrap();
        args[position + 1] = value.to_owned();
        let output = agent().args(&args).env("NO_COLOR", "1").output().unwrap();
        let log = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{flag} {value:?}: {log}");
        assert!(log.contains(expected), "{flag} {value:?}: {log}");
    }
    assert!(!dir.path().join("work").exists(), "nothing may run");
}

#[test]
fn io_errors_are_reported_once() {
    let dir = device_files();
    let missing = dir.path().join("missing.toml");
    let output = agent()
        .arg("--config")
        .arg(&missing)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("missing.toml"), "{log}");
    assert_eq!(log.matches("os error 2").count(), 1, "{log}");

    let work_dir = dir.path().join("work");
    fs::create_dir(&work_dir).unwrap();
    fs::set_permissions(&work_dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir(work_dir.join("journal.json")).unwrap();
    let output = agent()
        .args(base_args(dir.path()))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("failed to read the journal"), "{log}");
    assert_eq!(log.matches("os error 21").count(), 1, "{log}");
}
