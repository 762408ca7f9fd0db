//! `capstan check` and `capstan tools`: load plugin folders without serving them, `check`
//! adding warnings about what plugin authors get wrong ([`lint`]); `capstan call` runs one
//! tool once (see [`call`]); `capstan new` writes a plugin project (see [`new`]); and `capstan
//! policy` (see [`policy`]).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::default_cache_dir;
use crate::distribution::DistributionOverrides;
use crate::egress::EgressSettings;
use crate::guest_text::escape;
use crate::registry::{LoadOptions, Snapshot, load_snapshot};
use crate::runtime::types::TaskSupport;
use crate::runtime::{EngineLimits, Runtime};

pub mod call;
pub mod lint;
pub mod new;
pub mod policy;
mod skills;

/// Where an inspecting command keeps compiled plugins, and how it pulls and checks `oci://`
/// components (the same flags and variables as `capstan serve`).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Caches {
    /// Where compiled plugins are cached.
    #[arg(long, env = "CAPSTAN_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How `oci://` components are pulled and checked.
    #[command(flatten)]
    pub distribution: DistributionOverrides,
}

async fn load(dirs: Vec<PathBuf>, caches: Caches) -> anyhow::Result<Snapshot> {
    load_with(dirs, caches, EgressSettings::default()).await
}

async fn load_with(
    dirs: Vec<PathBuf>,
    caches: Caches,
    egress: EgressSettings,
) -> anyhow::Result<Snapshot> {
    let runtime = Runtime::new(
        EngineLimits::default(),
        &caches.cache_dir.unwrap_or_else(default_cache_dir),
    )?;
    Ok(load_snapshot(
        &runtime,
        &LoadOptions {
            plugin_dirs: dirs,
            egress,
            distribution: caches.distribution.settings(),
        },
    )
    .await)
}

/// Validates every manifest and component; prints one line per instance, per problem (an
/// error: the plugin is not served) and per warning ([`lint`]: served, but something its
/// author should fix). Exits 1 on any error, and with `strict` on any warning too.
pub async fn check(dirs: Vec<PathBuf>, caches: Caches, strict: bool) -> anyhow::Result<ExitCode> {
    let snapshot = load(dirs, caches).await?;
    let mut warnings = 0;
    for instance in snapshot.instances() {
        let names: Vec<&str> = instance
            .tools()
            .iter()
            .map(|t| t.exposed.as_str())
            .collect();
        println!(
            "ok    {} ({}): {} tools: {}",
            instance.name(),
            instance.manifest().path.display(),
            names.len(),
            names.join(", ")
        );
        for warning in instance.tools().iter().flat_map(lint::tool_warnings) {
            warnings += 1;
            println!(
                "warn  {}: {}",
                instance.name(),
                escape(&warning.to_string())
            );
        }
    }
    for failure in snapshot.failures() {
        println!(
            "error {}: {}",
            failure.manifest.display(),
            escape(&failure.error.to_string())
        );
    }
    if snapshot.instances().is_empty() && snapshot.failures().is_empty() {
        println!("error: no manifests (*.toml) found");
        return Ok(ExitCode::FAILURE);
    }
    if warnings > 0 {
        let strictly = match strict {
            true => "; --strict fails on them",
            false => "; they do not fail the check without --strict",
        };
        println!("{warnings} warnings{strictly}");
    }
    Ok(
        if snapshot.failures().is_empty() && (!strict || warnings == 0) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// Prints the tool table: name, instance, behaviour hints and whether it runs as an MCP task,
/// description's first line.
pub async fn tools(dirs: Vec<PathBuf>, caches: Caches) -> anyhow::Result<ExitCode> {
    let snapshot = load(dirs, caches).await?;
    let rows: Vec<[String; 4]> = snapshot
        .tools()
        .map(|(name, entry)| {
            let tool = &entry.instance.tools()[entry.index].tool;
            let hints = &tool.annotations;
            let kind = if hints.read_only {
                "read-only"
            } else if !hints.destructive {
                "writes"
            } else {
                "destructive"
            };
            let kind = match tool.task_support {
                TaskSupport::Forbidden => kind.to_owned(),
                TaskSupport::Optional => format!("{kind}, task"),
                TaskSupport::Required => format!("{kind}, task only"),
            };
            let first_line = tool.description.lines().next().unwrap_or_default();
            let description = escape(first_line).into_owned();
            [
                name.clone(),
                entry.instance.name().to_owned(),
                kind,
                description,
            ]
        })
        .collect();
    let widths = [0, 1, 2].map(|column| {
        rows.iter()
            .map(|row| row[column].len())
            .max()
            .unwrap_or(0)
            .max(8)
    });
    println!(
        "{:w0$}  {:w1$}  {:w2$}  DESCRIPTION",
        "TOOL",
        "INSTANCE",
        "KIND",
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2]
    );
    for [name, instance, kind, description] in &rows {
        println!(
            "{name:w0$}  {instance:w1$}  {kind:w2$}  {description}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    for failure in snapshot.failures() {
        eprintln!(
            "error {}: {}",
            failure.manifest.display(),
            escape(&failure.error.to_string())
        );
    }
    Ok(if snapshot.failures().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes the skills the plugins in `dirs` ship into `out` as an Agent Skills folder.
pub async fn export_skills(
    dirs: Vec<PathBuf>,
    caches: Caches,
    (out, instance): (PathBuf, Option<String>),
) -> anyhow::Result<ExitCode> {
    let snapshot = load(dirs, caches).await?;
    for failure in snapshot.failures() {
        eprintln!("skipped {}: {}", failure.manifest.display(), failure.error);
    }
    skills::export(&snapshot, &out, instance.as_deref())
}
