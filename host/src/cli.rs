//! The command line: `capstan serve`, `capstan check`, `capstan tools`, `capstan call`,
//! `capstan new`, `capstan skills export`, `capstan policy`, `capstan key new`,
//! `capstan plugin push`, `capstan plugin sign`, `capstan plugin keygen`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Overrides, Settings};
use crate::{distribution, identity, inspect, serve, telemetry};

/// capstan: GitOps tools for AI agents, run as sandboxed WebAssembly plugins and served over MCP.
#[derive(Debug, Parser)]
#[command(name = "capstan", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the plugins in the plugin folders over MCP (HTTP by default, or stdio).
    Serve {
        #[command(flatten)]
        settings: Box<Overrides>,
        /// Serve one MCP client over stdin/stdout instead of HTTP.
        #[arg(long)]
        stdio: bool,
    },
    /// Validate the manifests and components in DIR, list their tools and warn about what
    /// their authors should fix; exit 1 on any error (with --strict, on any warning too).
    Check {
        /// Plugin folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Fail on warnings too (a tool without an output schema, an output schema that does
        /// not compile or describes no object, contradictory behaviour hints).
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        caches: inspect::Caches,
    },
    /// Print the table of tools the plugins in DIR would serve.
    Tools {
        /// Plugin folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[command(flatten)]
        caches: inspect::Caches,
    },
    /// Run one tool of the plugins in DIR once, as `capstan serve` would, and print its result
    /// and every request it sent (allowed to which target, or refused and why); exit 0 when it
    /// answered, 1 when it answered isError or failed, 2 when nothing ran.
    Call(Box<inspect::call::CallArgs>),
    /// Write a new plugin project (sources, the plugin contract, a manifest, a test) that
    /// builds into a component `capstan check` and `capstan call` accept.
    New(inspect::new::NewArgs),
    /// Work with the Agent Skills the plugins ship.
    #[command(subcommand)]
    Skills(SkillsCommand),
    /// Check a Cedar policy file, or explain what it decides for one call.
    #[command(subcommand)]
    Policy(inspect::policy::PolicyCommand),
    /// Manage named API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Publish plugin components to OCI registries.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Push a component to a registry in the Wasm OCI artifact layout and print the reference
    /// to pin in a manifest (`REF@sha256:…`).
    Push(distribution::PushArgs),
    /// Sign a pushed component as `cosign sign --key` does (the key's password from
    /// COSIGN_PASSWORD) and print the signature image (`REPO:sha256-HEX.sig`).
    Sign(distribution::SignArgs),
    /// Write a cosign key pair (PREFIX.key encrypted with COSIGN_PASSWORD, PREFIX.pub) for
    /// `capstan plugin sign` and manifests' `[signature] key`.
    Keygen(distribution::KeygenArgs),
}

#[derive(Debug, Subcommand)]
enum SkillsCommand {
    /// Write the skills of the plugins in DIR to OUT as an Agent Skills folder
    /// (OUT/NAME/SKILL.md), with tool names as the instances serve them.
    Export {
        /// Plugin folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The folder to write the skills into.
        #[arg(long, short)]
        out: PathBuf,
        /// Only the skills of this plugin instance.
        #[arg(long)]
        instance: Option<String>,
        #[command(flatten)]
        caches: inspect::Caches,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print a fresh API key on stdout and the keys file entry to add on stderr.
    New {
        /// The machine's name: the caller's subject.
        #[arg(long)]
        name: String,
        /// A group the key's holder belongs to; repeatable.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&anyhow::anyhow!("cannot start the async runtime: {error}")),
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve { settings, stdio } => {
                let settings = Settings::resolve(*settings)?;
                let telemetry = telemetry::init(settings.log_format, &settings.traces)?;
                let served = serve::run(settings, stdio).await;
                telemetry.shutdown().await;
                served.map(|()| ExitCode::SUCCESS)
            }
            Command::Check {
                dirs,
                strict,
                caches,
            } => {
                telemetry::init_quiet();
                inspect::check(dirs, caches, strict).await
            }
            Command::Call(args) => {
                telemetry::init_at("error,wasmtime=error");
                inspect::call::run(*args).await
            }
            Command::New(args) => inspect::new::run(&args),
            Command::Tools { dirs, caches } => {
                telemetry::init_quiet();
                inspect::tools(dirs, caches).await
            }
            Command::Skills(SkillsCommand::Export {
                dirs,
                out,
                instance,
                caches,
            }) => {
                telemetry::init_quiet();
                inspect::export_skills(dirs, caches, (out, instance)).await
            }
            Command::Policy(command) => {
                telemetry::init_quiet();
                inspect::policy::run(command).await
            }
            Command::Key(KeyCommand::New { name, groups }) => new_key(&name, &groups),
            Command::Plugin(PluginCommand::Push(args)) => {
                telemetry::init_quiet();
                Ok(distribution::run_push(args).await?)
            }
            Command::Plugin(PluginCommand::Sign(args)) => {
                telemetry::init_quiet();
                Ok(distribution::run_sign(args).await?)
            }
            Command::Plugin(PluginCommand::Keygen(args)) => Ok(distribution::run_keygen(&args)?),
        }
    });
    outcome.unwrap_or_else(|error| fail(&error))
}

fn new_key(name: &str, groups: &[String]) -> anyhow::Result<ExitCode> {
    let key = identity::keys::generate()?;
    println!("{key}");
    eprintln!(
        "add this entry to the API keys file (the key itself is not stored):\n\n{}",
        identity::keys::entry(name, groups, &key)
    );
    Ok(ExitCode::SUCCESS)
}

fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("capstan: {error:#}");
    ExitCode::from(2)
}
