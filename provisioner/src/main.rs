use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rotator_provisioner::cli::{Cli, OutputFormat};
use rotator_provisioner::error::ProvisionError;
use rotator_provisioner::output::ErrorReport;
use tracing_subscriber::EnvFilter;

/// Exit status after Ctrl-C, as shells report a process ended by SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// How long to wait for background work when the command has ended.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(rotator_provisioner::run(&cli));
    // A question interrupted by Ctrl-C leaves its stdin read running on a blocking thread,
    // which a plain drop of the runtime would wait for.
    runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report_error(&error, cli.global.output),
    }
}

fn report_error(error: &ProvisionError, format: OutputFormat) -> ExitCode {
    eprintln!("error: {error}");
    if format == OutputFormat::Json {
        let report = ErrorReport::new(error);
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("error reports serialize to JSON")
        );
    }
    match error {
        ProvisionError::Interrupted { .. } => ExitCode::from(EXIT_INTERRUPTED),
        _ => ExitCode::FAILURE,
    }
}

/// Logs to stderr: warnings by default, `-v` adds debug and `-vv` trace (including the AWS
/// SDK's request logs); `RUST_LOG` overrides both.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,rotator_provisioner=debug,certrotator=debug",
        _ => "debug,rotator_provisioner=trace,aws_smithy_runtime=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .init();
}
