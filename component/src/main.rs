use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rotator_agent::config::{AgentConfig, Flags, RestartMode};
use rotator_agent::journal::Journal;
use rotator_agent::machine::{Machine, Step};
use rotator_agent::mqtt::MqttTransport;
use rotator_agent::preflight;
use rotator_agent::restarter::{CommandRestarter, ReexecRestarter, Restarter};
use rotator_agent::runner::Runner;
use rotator_agent::store::{FileStore, StoreLayout};
use tracing_subscriber::filter::{LevelFilter, Targets};

/// The restarter chosen by the configuration.
enum ConfiguredRestarter {
    /// Reconnect mode never restarts; the machine reconnects instead.
    None,
    Command(CommandRestarter),
    Reexec(ReexecRestarter),
}

impl Restarter for ConfiguredRestarter {
    fn restart(&self) -> Result<(), rotator_agent::restarter::RestartError> {
        match self {
            ConfiguredRestarter::None => Ok(()),
            ConfiguredRestarter::Command(command) => command.restart(),
            ConfiguredRestarter::Reexec(reexec) => reexec.restart(),
        }
    }
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    init_logging(flags.verbose);
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: Flags) -> anyhow::Result<()> {
    let config = AgentConfig::load(&flags)?;
    let layout = StoreLayout::new(config.live.clone(), &config.work_dir);
    let journal = Journal::new(&config.work_dir, &config.thing_name, layout.clone());
    let step = check_files(&config, &journal)?;
    let store = FileStore::open(layout).context("failed to prepare the work directory")?;
    tracing::info!(
        thing_name = config.thing_name,
        job_id = step.job_id().unwrap_or("-"),
        step = step.name(),
        "starting from the journal"
    );
    let restarter = match config.restart_mode {
        RestartMode::Reconnect => ConfiguredRestarter::None,
        RestartMode::Command => {
            let (program, args) = config
                .restart_command
                .split_first()
                .context("restart.command is empty")?;
            ConfiguredRestarter::Command(CommandRestarter {
                program: program.clone(),
                args: args.to_vec(),
            })
        }
        RestartMode::Reexec => ConfiguredRestarter::Reexec(ReexecRestarter),
    };
    let runner = Runner {
        thing_name: config.thing_name.clone(),
        topics: config.machine.topics.clone(),
        machine: Machine::resume(config.machine.clone(), step),
        transport: MqttTransport::new(config.mqtt.clone()),
        journal,
        store,
        restarter,
        exit_after_job: config.exit_after_job,
    };
    // One event loop drives everything, so one thread is enough. Key generation still runs on
    // tokio's blocking pool, which keeps the MQTT connection served during an RSA key search.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(runner.run())?;
    Ok(())
}

/// Checks the work directory and the credential files before the first connection attempt,
/// creates the work directory, and returns the step recorded in the journal.
fn check_files(config: &AgentConfig, journal: &Journal) -> anyhow::Result<Step> {
    preflight::check_work_dir(&config.work_dir)?;
    let step = journal.load()?;
    preflight::check_ca_file(&config.mqtt.ca_file)?;
    // While a rotation is in progress the live pair may be half replaced, and the journal
    // decides which pair to connect with, so only an idle start checks the live pair.
    if step == Step::Idle {
        preflight::check_live_pair(&config.live)?;
    }
    preflight::warn_if_key_readable_by_others(&config.live.private_key);
    preflight::create_work_dir(&config.work_dir)?;
    Ok(step)
}

/// Sets up logging to stderr. `RUST_LOG` takes `target=level` directives separated by commas,
/// and a bare level sets the default. It is parsed as a `Targets` filter, not an `EnvFilter`,
/// to keep the regex engine out of the binary. So span and field filters are not supported.
fn init_logging(verbose: u8) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let default = match verbose {
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| !directives.trim().is_empty())
        .map(|directives| (directives.parse::<Targets>(), directives));
    let filter = match &from_env {
        Some((Ok(targets), _)) => targets.clone(),
        _ => Targets::new().with_default(default),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .init();
    if let Some((Err(error), directives)) = from_env {
        tracing::warn!(
            "invalid RUST_LOG {directives:?} ({error}): expected target=level directives \
             separated by commas; logging at {default} instead"
        );
    }
}
