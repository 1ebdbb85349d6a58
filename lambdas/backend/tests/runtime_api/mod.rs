//! A stand-in for the AWS Lambda Runtime API on loopback, to run a built function binary the
//! way `provided.al2023` runs `bootstrap`. It hands out one event and records the function's
//! response or error. It does not emulate deadlines, X-Ray headers, extensions or the
//! telemetry API. It never replies to a second request for work, so the test stops the process.
//!
//! Shared by the three function crates' tests through `#[path]`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Maximum time a test waits for the function to finish one invocation, so that a hang fails
/// the test instead of blocking it forever.
const INVOCATION_BOUND: Duration = Duration::from_secs(120);

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// The result the function reported for the invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Response(String),
    Error(String),
    InitError(String),
}

pub struct RuntimeApi {
    port: u16,
    results: mpsc::Receiver<Invocation>,
}

impl RuntimeApi {
    /// Starts the server on a free loopback port. It serves `event` once.
    pub fn start(event: serde_json::Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let (sender, results) = mpsc::channel();
        let event = Arc::new(Mutex::new(Some(event.to_string())));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sender = sender.clone();
                let event = Arc::clone(&event);
                std::thread::spawn(move || serve(stream, &event, &sender));
            }
        });
        Self { port, results }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn wait(&self) -> Invocation {
        self.results
            .recv_timeout(INVOCATION_BOUND)
            .expect("the function reported no result")
    }
}

fn serve(stream: TcpStream, event: &Mutex<Option<String>>, results: &mpsc::Sender<Invocation>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let path = request_line.split_whitespace().nth(1).unwrap_or_default();

        if path.ends_with("/runtime/invocation/next") {
            let Some(payload) = event.lock().unwrap().take() else {
                // Only one invocation is served: leave the function waiting until it is killed.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 600_000;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:test\r\n\
                 Content-Length: {}\r\n\r\n{payload}",
                payload.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
            continue;
        }

        let result = if path.ends_with("/response") {
            Invocation::Response(body)
        } else if path.ends_with("/init/error") {
            Invocation::InitError(body)
        } else {
            Invocation::Error(body)
        };
        let _ = results.send(result);
        let reply = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// A function process with its output captured in files.
pub struct FunctionProcess {
    child: Child,
    stdout: std::path::PathBuf,
}

impl FunctionProcess {
    /// Starts `binary` as the Lambda service would, against `api`, moto at `endpoint`, and the
    /// function variables in `variables`. The environment is cleared first so that no profile,
    /// credential or metadata address from the host is used.
    pub fn start(
        binary: &Path,
        api: &RuntimeApi,
        endpoint: &str,
        variables: &[(&str, &str)],
        dir: &Path,
    ) -> Self {
        let stdout = dir.join("function.stdout");
        let stderr = dir.join("function.stderr");
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("AWS_CONFIG_FILE", dir.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "test")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(stderr).unwrap());
        for (name, value) in variables {
            command.env(name, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {}: {error}", binary.display()));
        Self { child, stdout }
    }

    /// Stops the process and returns what it wrote to stdout.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.stdout).unwrap()
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that every log line is a JSON object and that none carries PEM material.
pub fn assert_json_logs_without_pem(stdout: &str) {
    let mut lines = 0;
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        lines += 1;
        assert!(
            !line.contains("-----BEGIN"),
            "log line {lines} carries PEM material"
        );
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            matches!(parsed, Ok(serde_json::Value::Object(_))),
            "log line {lines} is not a JSON object: {line}"
        );
    }
    assert!(lines > 0, "the function logged nothing");
}
