//! Times key generation plus CSR, in process, for each key algorithm.
//!
//! Run it in release mode:
//!
//! ```text
//! cargo run --release -p rotator-keys --example keygen_timing -- [ITERATIONS] [--all-schemes] [--certificate PATH]
//! ```
//!
//! Each iteration calls `generate_key_and_csr` once for every algorithm in turn (interleaved, so
//! that a change in machine load spreads over all of them). That call reads the subject from a
//! certificate, generates the key, PEM-encodes it and builds the CSR.
//!
//! By default every key type is signed with its usual scheme: SHA-256 for RSA and P-256,
//! SHA-384 for P-384 and SHA-512 for P-521. `--all-schemes` times every compatible key and
//! signing pair. ITERATIONS defaults to 20. `--certificate PATH` copies the subject from another
//! PEM certificate.

use std::time::{Duration, Instant};

use rotator_keys::generate_key_and_csr;
use rotator_protocol::{KeyAlgorithm, SigningAlgorithm};

/// A self-signed P-256 certificate, used only as the subject source.
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIB+TCCAZ+gAwIBAgIUbdioxBM86w98Os4KL+LRT9aUyBUwCgYIKoZIzj0EAwIw
UjELMAkGA1UEBhMCVVMxFTATBgNVBAoMDEV4YW1wbGUgQ29ycDEQMA4GA1UECwwH
RGV2aWNlczEaMBgGA1UEAwwRYmVuY2gtY29yZS1kZXZpY2UwHhcNMjYxMjA0MTgz
MjU1WhcNMzYxMjAxMTgzMjU1WjBSMQswCQYDVQQGEwJVUzEVMBMGA1UECgwMRXhh
bXBsZSBDb3JwMRAwDgYDVQQLDAdEZXZpY2VzMRowGAYDVQQDDBFiZW5jaC1jb3Jl
LWRldmljZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBpqasQY5BjXpODbcqnP
STOFCzzHYZEsPPUX3rdiO/HaaouGoTocbNZiaW5M7x2U707c+5lPxo0fwFGf/QTq
1tOjUzBRMB0GA1UdDgQWBBTkcCd8ZIijC7x1lLf0iqmtYgH+HDAfBgNVHSMEGDAW
gBTkcCd8ZIijC7x1lLf0iqmtYgH+HDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0gAMEUCIEDZLfBOqSEMKV6+micf/MLwzQQ1r4UCgbxwkixBJEyUAiEA7juD
vOs/RgGtr13ITwBk2RHbvRUWsBJu89hUP8N3RI4=
-----END CERTIFICATE-----
";

struct Options {
    iterations: usize,
    all_schemes: bool,
    certificate: String,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        iterations: 20,
        all_schemes: false,
        certificate: CERTIFICATE.to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--all-schemes" => options.all_schemes = true,
            "--certificate" => {
                let path = args.next().ok_or("missing PATH after --certificate")?;
                options.certificate = std::fs::read_to_string(&path)
                    .map_err(|error| format!("failed to read {path}: {error}"))?;
            }
            number => {
                options.iterations = number
                    .parse()
                    .ok()
                    .filter(|count| *count > 0)
                    .ok_or(format!(
                        "invalid argument {number:?}: expected a positive iteration count, --all-schemes or --certificate PATH"
                    ))?;
            }
        }
    }
    Ok(options)
}

fn usual_scheme(key: KeyAlgorithm) -> SigningAlgorithm {
    match key {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => SigningAlgorithm::Sha256WithRsa,
        KeyAlgorithm::EcdsaP256 => SigningAlgorithm::Sha256WithEcdsa,
        KeyAlgorithm::EcdsaP384 => SigningAlgorithm::Sha384WithEcdsa,
        KeyAlgorithm::EcdsaP521 => SigningAlgorithm::Sha512WithEcdsa,
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let pairs: Vec<(KeyAlgorithm, SigningAlgorithm)> = KeyAlgorithm::ALL
        .into_iter()
        .flat_map(|key| {
            SigningAlgorithm::ALL
                .into_iter()
                .filter(move |signing| signing.check_key(key).is_ok())
                .map(move |signing| (key, signing))
        })
        .filter(|(key, signing)| options.all_schemes || *signing == usual_scheme(*key))
        .collect();

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(options.iterations); pairs.len()];
    for _ in 0..options.iterations {
        for (index, (key_algorithm, signing)) in pairs.iter().enumerate() {
            let started = Instant::now();
            let generated = generate_key_and_csr(*key_algorithm, *signing, &options.certificate)
                .map_err(|error| error.to_string())?;
            samples[index].push(started.elapsed());
            std::hint::black_box(generated);
        }
    }

    println!(
        "key + CSR, {} iterations, interleaved ({} build)",
        options.iterations,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "{:<11} {:<21} {:>10} {:>10} {:>10} {:>10}",
        "key", "signing", "mean ms", "median ms", "min ms", "max ms"
    );
    for ((key, signing), durations) in pairs.iter().zip(&mut samples) {
        durations.sort();
        let total: Duration = durations.iter().sum();
        let mean = total / durations.len() as u32;
        println!(
            "{:<11} {:<21} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            key.name(),
            signing.name(),
            milliseconds(mean),
            milliseconds(durations[durations.len() / 2]),
            milliseconds(durations[0]),
            milliseconds(durations[durations.len() - 1]),
        );
    }
    Ok(())
}
