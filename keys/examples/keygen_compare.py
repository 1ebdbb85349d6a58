"""Compare key + CSR generation time: rotator-keys (Rust) against Python's `cryptography`.

Usage (from the repository root):

    cargo build --release -p rotator-keys --example keygen_timing
    .venv/bin/python keys/examples/keygen_compare.py [--rounds 7] [--iterations 20] [--example PATH]

Each round runs `keygen_timing ITERATIONS` once, then the same job ITERATIONS times in this
process through `cryptography`, and the next round starts with the other side, so that a change
in machine load falls on both. One iteration covers every key algorithm in turn. For each, it
reads the subject from a certificate, generates the key and serializes it to PEM (PKCS#1 for RSA,
PKCS#8 for EC, as the agent stores them). It then builds a CSR with that subject, signs it and
encodes it as PEM. Both sides read the same certificate, which this script makes. `--example`
times another build of keygen_timing, for example one made with `--profile agent`. The report gives, per
algorithm, the median over the rounds of each round's median, and the range of those medians.
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time

import cryptography
from cryptography import x509
from cryptography.hazmat.backends.openssl import backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUST_EXAMPLE = os.path.join(REPOSITORY, "target", "release", "examples", "keygen_timing")

# The names keygen_timing prints, with the key and hash each maps to in `cryptography`. The
# hashes are keygen_timing's defaults: SHA-256 for RSA and P-256, SHA-384 for P-384, SHA-512
# for P-521.
ALGORITHMS = [
    ("RSA-2048", lambda: rsa.generate_private_key(65537, 2048), hashes.SHA256),
    ("RSA-3072", lambda: rsa.generate_private_key(65537, 3072), hashes.SHA256),
    ("ECDSA-P256", lambda: ec.generate_private_key(ec.SECP256R1()), hashes.SHA256),
    ("ECDSA-P384", lambda: ec.generate_private_key(ec.SECP384R1()), hashes.SHA384),
    ("ECDSA-P521", lambda: ec.generate_private_key(ec.SECP521R1()), hashes.SHA512),
]


def make_certificate():
    """Return a self-signed P-256 certificate in PEM, used only as the subject source."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Devices"),
            x509.NameAttribute(NameOID.COMMON_NAME, "bench-core-device"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_and_csr(certificate_pem, generate, digest):
    """Generate a key and a CSR as the agent does, and return the key PEM and the CSR PEM."""
    subject = x509.load_pem_x509_certificate(certificate_pem).subject
    key = generate()
    key_format = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, rsa.RSAPrivateKey)
        else serialization.PrivateFormat.PKCS8
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, key_format, serialization.NoEncryption()
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, digest())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def python_round(certificate_pem, iterations):
    """Time `iterations` interleaved passes over every algorithm and return the medians in ms."""
    samples = {name: [] for name, _, _ in ALGORITHMS}
    for _ in range(iterations):
        for name, generate, digest in ALGORITHMS:
            started = time.perf_counter()
            key_and_csr(certificate_pem, generate, digest)
            samples[name].append((time.perf_counter() - started) * 1000.0)
    return {name: statistics.median(values) for name, values in samples.items()}


def rust_round(example, certificate_path, iterations):
    """Run keygen_timing once and return its median column in ms, by key algorithm."""
    output = subprocess.run(
        [example, str(iterations), "--certificate", certificate_path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = {name for name, _, _ in ALGORITHMS}
    medians = {}
    for line in output.splitlines():
        fields = line.split()
        if fields and fields[0] in names:
            medians[fields[0]] = float(fields[3])
    missing = [name for name, _, _ in ALGORITHMS if name not in medians]
    if missing:
        sys.exit(f"keygen_timing printed no row for {missing}; its output was:\n{output}")
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="number of rounds, each running both sides")
    parser.add_argument("--iterations", type=int, default=20, help="iterations per round")
    parser.add_argument(
        "--example", default=RUST_EXAMPLE, help="keygen_timing binary [default: %(default)s]"
    )
    arguments = parser.parse_args()
    if not os.access(arguments.example, os.X_OK):
        sys.exit(
            f"{arguments.example} not found: run "
            "'cargo build --release -p rotator-keys --example keygen_timing' first"
        )

    print(
        f"cryptography {cryptography.__version__} ({backend.openssl_version_text()}), "
        f"Python {sys.version.split()[0]}"
    )
    print(f"Rust side: {arguments.example}")
    print(f"{arguments.rounds} rounds x {arguments.iterations} iterations, sides alternating")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    iterations = arguments.iterations
    results = {"rust": {}, "python": {}}
    with tempfile.NamedTemporaryFile(suffix=".pem") as certificate_file:
        certificate_pem = make_certificate()
        certificate_file.write(certificate_pem)
        certificate_file.flush()
        for round_index in range(arguments.rounds):
            sides = [
                ("rust", lambda: rust_round(arguments.example, certificate_file.name, iterations)),
                ("python", lambda: python_round(certificate_pem, iterations)),
            ]
            if round_index % 2 == 1:
                sides.reverse()
            for side, run in sides:
                for name, median in run().items():
                    results[side].setdefault(name, []).append(median)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    print()
    print(
        f"{'key':<11} {'Rust ms':>9} {'range':>17} {'Python ms':>10} {'range':>17} "
        f"{'Python/Rust':>11}"
    )
    for name, _, _ in ALGORITHMS:
        rust = results["rust"][name]
        python = results["python"][name]
        rust_median = statistics.median(rust)
        python_median = statistics.median(python)
        print(
            f"{name:<11} {rust_median:>9.3f} {min(rust):>8.3f}-{max(rust):<8.3f} "
            f"{python_median:>10.3f} {min(python):>8.3f}-{max(python):<8.3f} "
            f"{python_median / rust_median:>11.2f}"
        )


if __name__ == "__main__":
    main()
