//! certrotator: installs the certificate rotation backend for AWS IoT Greengrass core devices
//! into one account and region, switches its certificate issuer, shows planned changes, and
//! removes it again.
//!
//! The binary is a thin layer over these modules so that tests can drive the deploy logic with
//! recorded AWS responses.

pub mod assets;
pub mod cli;
pub mod deploy;
pub mod destroy;
pub mod error;
pub mod job_events;
pub mod output;
pub mod params;
pub mod private_ca;
pub mod progress;
pub mod render;
pub mod session;
pub mod stack;
pub mod template;

use cli::{Cli, Command, GlobalArgs};
use deploy::{DeployInput, PhaseCell, Target, Timing};
use error::ProvisionError;
use params::ValidatedSettings;
use progress::Progress;
use session::Clients;

/// Runs one command and prints its result on stdout.
pub async fn run(cli: &Cli) -> Result<(), ProvisionError> {
    let global = &cli.global;
    match &cli.command {
        Command::Render(args) => {
            let report = render::render(global, args).await?;
            output::print(&report, global.output);
        }
        Command::Deploy(args) => {
            deploy::require_confirmation_possible(args.yes, "deploy")?;
            let (config, region) = session::load_config(global).await?;
            let settings = ValidatedSettings::check(&args.stack, &region)?;
            let template = template::load(args.stack.template.as_deref())?;
            let artifacts = assets::load_artifacts(&args.stack.lambda_dir)?;
            let (clients, account) = connect(&config, global, &region).await?;
            if let Some(ca) = &settings.ca {
                ca.check_account(&account)?;
                private_ca::check_active(&clients.acmpca, ca, (&args.stack).into()).await?;
            }
            let target = Target {
                clients: &clients,
                account,
                region,
            };
            let progress = Progress::new(!global.no_progress);
            let phase = PhaseCell::default();
            let input = DeployInput {
                args,
                settings: &settings,
                template: &template,
                artifacts: &artifacts,
            };
            let timing = Timing::for_minutes(args.timeout_minutes);
            let work = deploy::deploy(&target, input, &progress, timing, &phase);
            let report = interruptible(work, &clients, &phase).await?;
            progress.finish();
            output::print(&report, global.output);
        }
        Command::Plan(args) => {
            let (config, region) = session::load_config(global).await?;
            let settings = ValidatedSettings::check(&args.stack, &region)?;
            let template = template::load(args.stack.template.as_deref())?;
            let artifacts = assets::load_artifacts(&args.stack.lambda_dir)?;
            let (clients, account) = connect(&config, global, &region).await?;
            if let Some(ca) = &settings.ca {
                ca.check_account(&account)?;
                private_ca::check_active(&clients.acmpca, ca, (&args.stack).into()).await?;
            }
            let target = Target {
                clients: &clients,
                account,
                region,
            };
            let progress = Progress::new(!global.no_progress);
            let phase = PhaseCell::default();
            let timing = Timing::for_minutes(30);
            let input = deploy::PlanInput {
                args,
                settings: &settings,
                template: &template,
                artifacts: &artifacts,
            };
            let work = deploy::plan(&target, input, &progress, timing, &phase);
            let report = interruptible(work, &clients, &phase).await?;
            progress.finish();
            output::print(&report, global.output);
        }
        Command::Destroy(args) => {
            deploy::require_confirmation_possible(args.yes, "destroy")?;
            params::validate_stack_name(&args.stack_name)?;
            let (config, region) = session::load_config(global).await?;
            let (clients, account) = connect(&config, global, &region).await?;
            let question = format!(
                "delete stack {} and its assets bucket in account {account} region {region}?",
                args.stack_name
            );
            if !args.yes && !deploy::confirm(question, &Progress::plain()).await? {
                return Err(ProvisionError::Declined { action: "destroy" });
            }
            let target = Target {
                clients: &clients,
                account,
                region,
            };
            let progress = Progress::new(!global.no_progress);
            let wait = stack::WaitSettings::minutes(args.timeout_minutes);
            let work = destroy::destroy(&target, args, &progress, wait);
            // Destroy leaves nothing half-made to clean up because every step is safe to repeat.
            let report = tokio::select! {
                result = work => result?,
                _ = tokio::signal::ctrl_c() => {
                    return Err(ProvisionError::Interrupted {
                        state: format!(
                            "a stack deletion that had started goes on in CloudFormation; run destroy again to finish removing stack {}",
                            args.stack_name
                        ),
                    });
                }
            };
            progress.finish();
            output::print(&report, global.output);
        }
    }
    Ok(())
}

/// Checks credentials, builds the clients and resolves the account.
async fn connect(
    config: &aws_config::SdkConfig,
    global: &GlobalArgs,
    region: &str,
) -> Result<(Clients, String), ProvisionError> {
    session::check_credentials(config, global).await?;
    let clients = Clients::new(config);
    let account = session::account_id(&clients.sts, region).await?;
    tracing::info!(account, region, "resolved the target account");
    Ok((clients, account))
}

/// Runs `work` until it ends or Ctrl-C; on Ctrl-C, cleans up according to the phase.
async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, ProvisionError>>,
    clients: &Clients,
    phase: &PhaseCell,
) -> Result<T, ProvisionError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; cleaning up");
            let state = deploy::clean_up_after_interrupt(&clients.cfn, phase).await;
            Err(ProvisionError::Interrupted { state })
        }
    }
}
