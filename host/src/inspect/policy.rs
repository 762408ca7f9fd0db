//! `capstan policy check` and `capstan policy explain`: validate a Cedar policy file, and show
//! what it decides for one request, without serving anything.
//!
//! `explain` exits 0 for allow and confirm, 3 for deny (1 for an invalid policy, 2 for other
//! errors), so scripts can test a policy change.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::access::{Outcome, Policy, PolicyError, Request, ToolFacts};
use crate::caller::{Caller, CallerKind};

/// `capstan policy …`.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Parse and validate a policy file against capstan's schema; print its rules or its
    /// problems (line:column) and exit 1 on any.
    Check {
        /// The Cedar policy file.
        file: PathBuf,
    },
    /// Print what a policy decides for one call: allow, confirm or deny, the rule and the
    /// reason. Exits 0 for allow and confirm, 3 for deny.
    Explain(Box<Explain>),
}

/// The request `explain` asks about.
#[derive(Debug, clap::Args)]
pub struct Explain {
    /// The Cedar policy file.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// The caller's subject (token `sub` or API key name).
    #[arg(long, value_name = "SUB")]
    principal: String,
    /// A group of the caller; repeatable.
    #[arg(long = "group", value_name = "G")]
    groups: Vec<String>,
    /// The OAuth client the caller's token was issued to.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// A scope granted to the caller; repeatable.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// How the caller authenticated.
    #[arg(long, value_enum, default_value_t = Kind::Token)]
    kind: Kind,
    /// The tool's exposed name.
    #[arg(long, value_name = "NAME")]
    tool: String,
    /// The tool's instance (without --plugins; default: the tool name up to its first `_`).
    #[arg(long, value_name = "I")]
    instance: Option<String>,
    /// The target the call addresses.
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// The call's arguments, a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    arguments: String,
    /// The tool only reads (without --plugins).
    #[arg(long)]
    read_only: bool,
    /// The tool may destroy or overwrite something (without --plugins).
    #[arg(long)]
    destructive: bool,
    /// Take the tool's instance and annotations from the plugins in DIR instead of the flags.
    #[arg(long, value_name = "DIR")]
    plugins: Vec<PathBuf>,
    /// Where compiled plugins are cached and pulled ones kept (with --plugins).
    #[command(flatten)]
    caches: super::Caches,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    Token,
    ApiKey,
    SharedToken,
    Anonymous,
}

/// Runs a `policy` subcommand.
pub async fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => Ok(check(&file)),
        PolicyCommand::Explain(explain) => self::explain(*explain).await,
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    match Policy::from_file(file) {
        Ok(policy) => {
            println!(
                "ok: {} rules ({})",
                policy.rules(),
                policy.rule_names().join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            print_problems(&error);
            ExitCode::FAILURE
        }
    }
}

fn print_problems(error: &PolicyError) {
    match error {
        PolicyError::Invalid { file, problems } => {
            for problem in problems {
                println!("{}:{problem}", file.display());
            }
        }
        PolicyError::Read { .. } => println!("{error}"),
    }
}

async fn explain(explain: Explain) -> anyhow::Result<ExitCode> {
    let policy = match Policy::from_file(&explain.policy) {
        Ok(policy) => policy,
        Err(error) => {
            print_problems(&error);
            return Ok(ExitCode::FAILURE);
        }
    };
    let arguments: serde_json::Value = serde_json::from_str(&explain.arguments)
        .context("--arguments is not JSON; write an object such as '{\"prune\":true}'")?;
    let tool = tool_facts(&explain).await?;
    let caller = caller(&explain);
    let decision = policy.decide(&Request {
        caller: &caller,
        tool: &tool,
        target: explain.target.as_deref(),
        arguments: &arguments,
    });
    println!("outcome: {}", decision.outcome.as_str());
    println!("rule:    {}", decision.rule.as_deref().unwrap_or("(none)"));
    println!("reason:  {}", decision.reason);
    for note in &decision.notes {
        println!("note:    {note}");
    }
    Ok(match decision.outcome {
        Outcome::Allow | Outcome::Confirm => ExitCode::SUCCESS,
        Outcome::Deny => ExitCode::from(3),
    })
}

fn caller(explain: &Explain) -> Caller {
    let kind = match explain.kind {
        Kind::Token => CallerKind::Token {
            issuer: String::new(),
        },
        Kind::ApiKey => CallerKind::ApiKey,
        Kind::SharedToken => CallerKind::SharedToken,
        Kind::Anonymous => CallerKind::Anonymous,
    };
    Caller {
        subject: explain.principal.clone(),
        name: None,
        groups: explain.groups.clone(),
        client_id: explain.client_id.clone(),
        scopes: explain.scopes.clone(),
        kind,
        token: None,
    }
}

/// The tool from the flags, or from the plugin folders when `--plugins` is given.
async fn tool_facts(explain: &Explain) -> anyhow::Result<ToolFacts> {
    if explain.plugins.is_empty() {
        let instance = explain.instance.clone().unwrap_or_else(|| {
            explain
                .tool
                .split('_')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let name = explain
            .tool
            .strip_prefix(&format!("{instance}_"))
            .unwrap_or(&explain.tool)
            .to_owned();
        return Ok(ToolFacts {
            exposed: explain.tool.clone(),
            instance,
            name,
            read_only: explain.read_only,
            destructive: explain.destructive,
            idempotent: false,
        });
    }
    let snapshot = super::load(explain.plugins.clone(), explain.caches.clone()).await?;
    let Some((_, entry)) = snapshot.tools().find(|(name, _)| **name == explain.tool) else {
        anyhow::bail!(
            "no plugin in {} serves a tool named `{}`; `capstan tools DIR` lists them",
            explain
                .plugins
                .iter()
                .map(|dir| dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            explain.tool
        );
    };
    let definition = &entry.instance.tools()[entry.index];
    let hints = &definition.tool.annotations;
    Ok(ToolFacts {
        exposed: definition.exposed.clone(),
        instance: entry.instance.name().to_owned(),
        name: definition.name().to_owned(),
        read_only: hints.read_only || entry.instance.manifest().read_only,
        destructive: hints.destructive,
        idempotent: hints.idempotent,
    })
}
