//! Runs the sandbox in front of a moto server until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rotator_sandbox::{Options, Sandbox};
use tracing_subscriber::EnvFilter;

/// Local AWS stand-in for tests and demos: forwards to moto and emulates what moto lacks.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// moto server endpoint, for example http://127.0.0.1:5000.
    #[arg(long, value_name = "URL")]
    moto_url: String,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// File to write the listening port to, once the listener is bound.
    #[arg(long, value_name = "PATH")]
    port_file: Option<PathBuf>,

    /// Milliseconds each stack operation shows as in progress, with its events appearing one
    /// by one; 0 shows every operation complete at once, as moto does.
    #[arg(long, value_name = "MILLISECONDS", default_value_t = 0)]
    operation_duration_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let options = Options {
        operation_duration: Duration::from_millis(args.operation_duration_ms),
    };
    let sandbox = Sandbox::bind_with_options(args.listen, &args.moto_url, options)
        .await
        .with_context(|| format!("failed to start the sandbox on {}", args.listen))?;
    if let Some(path) = &args.port_file {
        std::fs::write(path, format!("{}\n", sandbox.local_addr().port()))
            .with_context(|| format!("failed to write the port file {}", path.display()))?;
    }
    println!("listening on {}", sandbox.endpoint());

    wait_for_signal().await?;
    sandbox.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).context("failed to install the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("failed to wait for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
