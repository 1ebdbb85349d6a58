//! Test-only helpers that start real third-party services on loopback.
//!
//! Nothing here is part of the product. Each service binds 127.0.0.1 on a free port and is
//! stopped when its handle is dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Maximum time moto's server may take to start responding, because its first start imports
/// every backend.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Returns the workspace root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testsupport lives one level below the workspace root")
        .to_path_buf()
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Path of the `moto_server` executable: `$MOTO_SERVER` if set, else the workspace venv's.
pub fn moto_server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    workspace_root().join(".venv/bin/moto_server")
}

/// A moto server process on loopback, killed on drop.
pub struct MotoServer {
    child: Child,
    address: SocketAddr,
}

impl MotoServer {
    /// Starts moto's server on a free loopback port and waits until it responds to HTTP.
    ///
    /// Panics with the fix when the executable is missing, because every test that calls this
    /// needs it and a skipped test would hide the gap.
    pub fn start() -> Self {
        let program = moto_server_path();
        assert!(
            program.exists(),
            "moto server not found at {}: run `make venv` or set MOTO_SERVER",
            program.display()
        );
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {}: {error}", program.display()));
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = Self { child, address };
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + MOTO_START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto server exited during start-up with {status}");
            }
            if http_get_ok(self.address, "/moto-api/") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "moto server on {} did not respond within {MOTO_START_TIMEOUT:?}",
            self.address
        );
    }

    /// Returns the endpoint URL to give the AWS SDK (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Clears every resource moto holds, for tests that share one server.
    pub fn reset(&self) {
        let request = "POST /moto-api/reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let mut stream = TcpStream::connect(self.address).expect("moto server is reachable");
        stream
            .write_all(request.as_bytes())
            .expect("failed to send the reset request");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "moto reset failed: {response}"
        );
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get_ok(address: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_starts_and_resets() {
        let server = MotoServer::start();
        assert!(server.endpoint().starts_with("http://127.0.0.1:"));
        server.reset();
    }
}
