//! Agent configuration: a TOML file, overridden by command-line flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use rotator_protocol::{DEFAULT_TOPIC_PREFIX, KeyAlgorithm, SigningAlgorithm, Topics};
use serde::Deserialize;

use crate::machine::{Activation, Settings};
use crate::mqtt::MqttSettings;
use crate::store::PairPaths;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read the configuration file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("missing {0}: set it in the configuration file or with --{1}")]
    Missing(&'static str, &'static str),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Command-line flags. Each one overrides the same setting in the configuration file.
#[derive(Debug, Default, Parser)]
#[command(
    name = "rotator-agent",
    version,
    about = "Rotates this device's AWS IoT certificate and private key when a rotation job arrives"
)]
pub struct Flags {
    /// TOML configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// AWS IoT thing name; also the MQTT client ID.
    #[arg(long)]
    pub thing_name: Option<String>,
    /// MQTT broker host name or IP address.
    #[arg(long)]
    pub host: Option<String>,
    /// MQTT broker TLS port [default: 8883].
    #[arg(long)]
    pub port: Option<u16>,
    /// PEM file with the CA certificates that sign the broker's certificate.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The device certificate (PEM); replaced by a rotation.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// The device private key (PEM); replaced by a rotation.
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Directory for the journal, the backup pair and the pending key.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// First topic level of the certificate topics, one level without '/'
    /// (<PREFIX>/things/<thing>/certificate/...) [default: awslabs].
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Key type for new keys, unless a job names one [default: ECDSA-P256].
    #[arg(long)]
    pub key_algorithm: Option<String>,
    /// CSR signature, unless a job names one [default: SHA256WITHECDSA].
    #[arg(long)]
    pub signing_algorithm: Option<String>,
    /// Exit with status 0 once a job has finished (for scripts and tests).
    #[arg(long)]
    pub exit_after_job: bool,
    /// Log more: -v for debug, -vv for trace. RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The configuration file's content. Every field is optional here and checked after merging.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub thing_name: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub ca_file: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    pub work_dir: Option<PathBuf>,
    pub topic_prefix: Option<String>,
    pub key_algorithm: Option<String>,
    pub signing_algorithm: Option<String>,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub retries: Retries,
    #[serde(default)]
    pub restart: Restart,
}

/// Timeouts in seconds (fractions allowed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Timeouts {
    /// Wait for a reply from the Jobs API.
    pub jobs: f64,
    /// Wait for the certificate after sending the CSR. AWS Private CA issuance plus a Lambda
    /// cold start can take more than 30 seconds.
    pub create: f64,
    /// Wait for the commit reply.
    pub commit: f64,
    /// Limit for one connection attempt (TLS, CONNACK and SUBACKs).
    pub connect: f64,
    /// Pause between connection attempts.
    pub reconnect_delay: f64,
    pub keep_alive: f64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            jobs: 30.0,
            create: 90.0,
            commit: 30.0,
            connect: 30.0,
            reconnect_delay: 5.0,
            keep_alive: 30.0,
        }
    }
}

/// How often a request is sent again before the agent gives up on it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Retries {
    pub jobs: u32,
    pub create: u32,
    pub commit: u32,
    /// Failed connections with a new pair before rolling back.
    pub connect_attempts: u32,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            jobs: 3,
            create: 2,
            commit: 3,
            connect_attempts: 3,
        }
    }
}

/// Settings for putting the new pair to use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Restart {
    #[serde(default)]
    pub mode: RestartMode,
    /// Program and arguments for `mode = "command"`.
    #[serde(default)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    /// Reconnect the agent's own MQTT connection with the new pair.
    #[default]
    Reconnect,
    /// Run `restart.command`, then reconnect if this process is still running.
    Command,
    /// Re-execute the agent, which resumes from its journal.
    Reexec,
}

/// The checked, merged configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub thing_name: String,
    pub mqtt: MqttSettings,
    pub live: PairPaths,
    pub work_dir: PathBuf,
    pub machine: Settings,
    pub restart_mode: RestartMode,
    pub restart_command: Vec<String>,
    pub exit_after_job: bool,
}

impl AgentConfig {
    /// Reads the file named by `--config` (if any), applies the flags and checks the result.
    pub fn load(flags: &Flags) -> Result<Self, ConfigError> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::merge(flags, file)
    }

    pub fn merge(flags: &Flags, file: FileConfig) -> Result<Self, ConfigError> {
        let thing_name = pick(
            &flags.thing_name,
            file.thing_name,
            "thing name",
            "thing-name",
        )?;
        let host = pick(&flags.host, file.host, "broker host", "host")?;
        if host.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "the broker host is empty: set --host or host to the broker's host name or IP address".to_owned(),
            ));
        }
        let port = flags.port.or(file.port).unwrap_or(8883);
        if port == 0 {
            return Err(ConfigError::Invalid(
                "port 0 is not a broker port: set --port or port to the broker's TLS port, usually 8883".to_owned(),
            ));
        }
        let ca_file = pick(&flags.ca_file, file.ca_file, "CA file", "ca-file")?;
        let certificate = pick(
            &flags.certificate,
            file.certificate,
            "certificate",
            "certificate",
        )?;
        let private_key = pick(
            &flags.private_key,
            file.private_key,
            "private key",
            "private-key",
        )?;
        let work_dir = pick(&flags.work_dir, file.work_dir, "work directory", "work-dir")?;
        let prefix = flags
            .topic_prefix
            .clone()
            .or(file.topic_prefix)
            .unwrap_or_else(|| DEFAULT_TOPIC_PREFIX.to_owned());
        let topics = Topics::new(&prefix, &thing_name)
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;

        let key_algorithm: KeyAlgorithm = flags
            .key_algorithm
            .clone()
            .or(file.key_algorithm)
            .unwrap_or_else(|| "ECDSA-P256".to_owned())
            .parse()
            .map_err(|error: rotator_protocol::ProtocolError| {
                ConfigError::Invalid(error.to_string())
            })?;
        let signing_algorithm: SigningAlgorithm = flags
            .signing_algorithm
            .clone()
            .or(file.signing_algorithm)
            .unwrap_or_else(|| "SHA256WITHECDSA".to_owned())
            .parse()
            .map_err(|error: rotator_protocol::ProtocolError| {
                ConfigError::Invalid(error.to_string())
            })?;
        signing_algorithm
            .check_key(key_algorithm)
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;

        for (path, what) in [
            (&ca_file, "CA file"),
            (&certificate, "certificate"),
            (&private_key, "private key"),
        ] {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "{what} {} not found",
                    path.display()
                )));
            }
        }
        let timeouts = &file.timeouts;
        let restart = &file.restart;
        if restart.mode == RestartMode::Command && restart.command.is_empty() {
            return Err(ConfigError::Invalid(
                "restart mode \"command\" needs restart.command, for example [\"systemctl\", \"restart\", \"greengrass\"]".to_owned(),
            ));
        }
        if file.retries.connect_attempts == 0 {
            return Err(ConfigError::Invalid(
                "retries.connect-attempts must be at least 1".to_owned(),
            ));
        }
        let activation = match restart.mode {
            RestartMode::Reconnect => Activation::Reconnect,
            RestartMode::Command | RestartMode::Reexec => Activation::Restart,
        };
        let machine = Settings {
            topics,
            key_algorithm,
            signing_algorithm,
            activation,
            jobs_timeout: seconds(timeouts.jobs, "timeouts.jobs")?,
            create_timeout: seconds(timeouts.create, "timeouts.create")?,
            commit_timeout: seconds(timeouts.commit, "timeouts.commit")?,
            reconnect_delay: seconds(timeouts.reconnect_delay, "timeouts.reconnect-delay")?,
            jobs_retries: file.retries.jobs,
            create_retries: file.retries.create,
            commit_retries: file.retries.commit,
            connect_attempts: file.retries.connect_attempts,
        };
        let mqtt = MqttSettings {
            host,
            port,
            ca_file,
            client_id: thing_name.clone(),
            keep_alive: seconds(timeouts.keep_alive, "timeouts.keep-alive")?,
            connect_timeout: seconds(timeouts.connect, "timeouts.connect")?,
        };
        Ok(Self {
            thing_name,
            mqtt,
            live: PairPaths {
                certificate,
                private_key,
            },
            work_dir,
            machine,
            restart_mode: restart.mode,
            restart_command: restart.command.clone(),
            exit_after_job: flags.exit_after_job,
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

fn pick<T: Clone>(
    flag: &Option<T>,
    file: Option<T>,
    what: &'static str,
    flag_name: &'static str,
) -> Result<T, ConfigError> {
    flag.clone()
        .or(file)
        .ok_or(ConfigError::Missing(what, flag_name))
}

fn seconds(value: f64, name: &str) -> Result<Duration, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(ConfigError::Invalid(format!(
            "{name} = {value}: expected a positive number of seconds"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        dir: tempfile::TempDir,
    }

    fn files() -> Files {
        let dir = tempfile::tempdir().unwrap();
        for name in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        Files { dir }
    }

    fn toml_for(files: &Files, extra: &str) -> FileConfig {
        let dir = files.dir.path().display();
        let text = format!(
            r#"
thing-name = "core-1"
host = "127.0.0.1"
port = 8884
ca-file = "{dir}/ca.pem"
certificate = "{dir}/cert.pem"
private-key = "{dir}/key.pem"
work-dir = "{dir}/work"
{extra}
"#
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn file_with_defaults_loads() {
        let files = files();
        let config = AgentConfig::merge(&Flags::default(), toml_for(&files, "")).unwrap();
        assert_eq!(config.thing_name, "core-1");
        assert_eq!(config.mqtt.port, 8884);
        assert_eq!(config.machine.key_algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(config.machine.create_timeout, Duration::from_secs(90));
        assert_eq!(config.restart_mode, RestartMode::Reconnect);
        assert_eq!(
            config.machine.topics.create(),
            "awslabs/things/core-1/certificate/create"
        );
    }

    #[test]
    fn flags_override_file() {
        let files = files();
        let flags = Flags {
            thing_name: Some("core-2".into()),
            topic_prefix: Some("acme".into()),
            key_algorithm: Some("RSA-3072".into()),
            signing_algorithm: Some("SHA384WITHRSAANDMGF1".into()),
            ..Flags::default()
        };
        let extra = "[timeouts]\ncreate = 0.5\n[retries]\ncreate = 0\n";
        let config = AgentConfig::merge(&flags, toml_for(&files, extra)).unwrap();
        assert_eq!(config.thing_name, "core-2");
        assert_eq!(config.mqtt.client_id, "core-2");
        assert_eq!(
            config.machine.topics.commit(),
            "acme/things/core-2/certificate/commit"
        );
        assert_eq!(config.machine.key_algorithm, KeyAlgorithm::Rsa3072);
        assert_eq!(config.machine.create_timeout, Duration::from_millis(500));
        assert_eq!(config.machine.create_retries, 0);
    }

    #[test]
    fn mismatched_algorithms_are_rejected() {
        let files = files();
        let extra = "key-algorithm = \"ECDSA-P384\"\nsigning-algorithm = \"SHA256WITHRSA\"\n";
        let error = AgentConfig::merge(&Flags::default(), toml_for(&files, extra))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("does not match key algorithm ECDSA-P384"),
            "{error}"
        );
    }

    #[test]
    fn invalid_values_are_rejected() {
        let files = files();
        let cases = [
            ("key-algorithm = \"RSA-1024\"", "unknown key algorithm"),
            ("[timeouts]\ncommit = 0", "timeouts.commit"),
            ("[restart]\nmode = \"command\"", "restart.command"),
            ("[retries]\nconnect-attempts = 0", "connect-attempts"),
            ("topic-prefix = \"a/#\"", "invalid topic prefix"),
            ("topic-prefix = \"a/b\"", "invalid topic prefix"),
        ];
        for (extra, expected) in cases {
            let error = AgentConfig::merge(&Flags::default(), toml_for(&files, extra))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{extra}: {error}");
        }
        let unknown = toml::from_str::<FileConfig>("colour = 1");
        assert!(unknown.is_err());
    }

    #[test]
    fn empty_host_and_port_zero_are_rejected() {
        let files = files();
        for host in ["", " "] {
            let flags = Flags {
                host: Some(host.into()),
                ..Flags::default()
            };
            let error = AgentConfig::merge(&flags, toml_for(&files, ""))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("the broker host is empty"),
                "{host:?}: {error}"
            );
        }
        let flags = Flags {
            port: Some(0),
            ..Flags::default()
        };
        let error = AgentConfig::merge(&flags, toml_for(&files, ""))
            .unwrap_err()
            .to_string();
        assert!(error.contains("port 0 is not a broker port"), "{error}");
    }

    #[test]
    fn missing_settings_name_the_flag() {
        let error = AgentConfig::merge(&Flags::default(), FileConfig::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "missing thing name: set it in the configuration file or with --thing-name"
        );
    }

    #[test]
    fn missing_files_are_rejected() {
        let files = files();
        std::fs::remove_file(files.dir.path().join("key.pem")).unwrap();
        let error = AgentConfig::merge(&Flags::default(), toml_for(&files, ""))
            .unwrap_err()
            .to_string();
        assert!(error.contains("private key"), "{error}");
        assert!(error.contains("not found"), "{error}");
    }
}
