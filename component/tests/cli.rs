//! The binary's command line: help, and configuration errors reported before any job runs.

use std::process::Command;

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
