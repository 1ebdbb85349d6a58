//! Test helpers that drive the `openssl` command line in a temporary directory.

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use tempfile::TempDir;

/// A multi-attribute subject with a multi-valued RDN and a UTF-8 value, so that a copy that
/// re-encodes or reorders anything shows up in the comparison.
pub const SUBJECT: &str =
    "/C=US/ST=Washington/O=Example Corp/OU=Devices+OU=Fleet A/CN=Gerät-01/serialNumber=0042";

/// A temporary directory in which `openssl` runs.
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: &str) {
        fs::write(self.path(name), contents).expect("write a test file");
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).expect("read a test file")
    }

    /// Runs `openssl` with `args` and returns its output, whatever the exit status.
    pub fn openssl_output(&self, args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl (install the openssl package)")
    }

    /// Runs `openssl` with `args`, asserts that it succeeded and returns its standard output.
    pub fn openssl(&self, args: &[&str]) -> String {
        let output = self.openssl_output(args);
        assert!(
            output.status.success(),
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("openssl prints UTF-8")
    }

    /// Runs a shell pipeline in the workspace and returns its standard output.
    pub fn shell(&self, script: &str) -> String {
        let output = Command::new("sh")
            .args(["-c", script])
            .current_dir(self.dir.path())
            .output()
            .expect("run sh");
        assert!(
            output.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("shell output is UTF-8")
    }

    /// Makes a self-signed certificate `{name}.pem` with key `{name}.key` (PKCS#8, as
    /// `openssl req` writes it); `new_key` is the `-newkey` value followed by any `-pkeyopt`.
    /// Returns the certificate PEM.
    pub fn self_signed(&self, name: &str, new_key: &[&str], subject: &str) -> String {
        let key = format!("{name}.key");
        let certificate = format!("{name}.pem");
        let mut args = vec![
            "req", "-x509", "-nodes", "-days", "2", "-utf8", "-subj", subject,
        ];
        args.extend_from_slice(&["-keyout", &key, "-out", &certificate, "-newkey"]);
        args.extend_from_slice(new_key);
        self.openssl(&args);
        self.read(&certificate)
    }
}

pub const RSA_2048: &[&str] = &["rsa:2048"];
pub const RSA_3072: &[&str] = &["rsa:3072"];
pub const EC_P256: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
pub const EC_P384: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-384"];
pub const EC_P521: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-521"];
