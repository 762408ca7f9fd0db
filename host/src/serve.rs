//! `capstan serve`: build the runtime, load the plugins, serve MCP until a shutdown signal.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use rmcp::ServiceExt as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::egress::EgressSettings;
use crate::mcp::http::{self, HttpOptions, Readiness};
use crate::mcp::notify::{Broadcaster, Changes};
use crate::mcp::server::{McpServer, ServeOptions, Shared};
use crate::registry::{LoadOptions, Registry, Snapshot, load_snapshot};
use crate::runtime::{EngineLimits, Runtime};

/// Runs a server with `settings`, over stdio when `stdio` is set, else over HTTP.
pub async fn run(settings: Settings, stdio: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let runtime = Runtime::new(EngineLimits::default(), &settings.cache_dir)?;
    let shared = Arc::new(Shared {
        registry: Arc::new(Registry::default()),
        broadcaster: Arc::new(Broadcaster::default()),
        options: ServeOptions {
            result_cap: settings.result_cap,
        },
    });
    let load_options = LoadOptions {
        plugin_dirs: settings.plugins.clone(),
        egress: EgressSettings {
            overrides: Arc::new(settings.resolve.clone()),
            inbound_authorization: settings.auth_token.is_some(),
            ..EgressSettings::default()
        },
    };
    if stdio {
        install(
            &shared,
            load_snapshot(&runtime, &load_options).await,
            started,
        );
        return serve_stdio(shared).await;
    }
    serve_http(settings, runtime, shared, load_options, started).await
}

async fn serve_stdio(shared: Arc<Shared>) -> anyhow::Result<()> {
    let service = McpServer::new(shared)
        .serve(rmcp::transport::stdio())
        .await
        .context("the stdio MCP session could not start")?;
    service
        .waiting()
        .await
        .context("the stdio MCP session failed")?;
    Ok(())
}

async fn serve_http(
    settings: Settings,
    runtime: Runtime,
    shared: Arc<Shared>,
    load_options: LoadOptions,
    started: Instant,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another process using it? choose another with --listen",
                settings.listen
            )
        })?;
    let address = listener.local_addr()?;
    let readiness = Arc::new(LoadState::default());
    let shutdown = CancellationToken::new();
    let options = HttpOptions {
        stateless: settings.stateless,
        bearer_token: settings.auth_token.clone(),
        allowed_hosts: settings.allowed_hosts.clone(),
        allowed_origins: settings.allowed_origins.clone(),
    };
    let app = http::app(
        shared.clone(),
        readiness.clone(),
        &options,
        shutdown.clone(),
    );
    tracing::info!(%address, stateless = settings.stateless, auth = settings.auth_token.is_some(), "serving MCP at http://{address}/mcp");
    tokio::spawn(async move {
        let snapshot = load_snapshot(&runtime, &load_options).await;
        readiness.record(&snapshot);
        install(&shared, snapshot, started);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            shutdown.cancel();
        })
        .await
        .context("the HTTP server failed")
}

/// Installs a freshly loaded snapshot and tells connected clients.
fn install(shared: &Arc<Shared>, snapshot: Snapshot, started: Instant) {
    for failure in snapshot.failures() {
        tracing::error!(manifest = %failure.manifest.display(), "plugin not loaded: {}", failure.error);
    }
    let tools = snapshot.tools().count();
    let instances = snapshot.instances().len();
    shared.registry.replace(snapshot);
    tracing::info!(
        instances,
        tools,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    let broadcaster = shared.broadcaster.clone();
    tokio::spawn(async move {
        broadcaster
            .announce(Changes {
                tools: true,
                prompts: true,
            })
            .await
    });
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// The `/readyz` report: empty until the first load finished.
#[derive(Default)]
struct LoadState {
    report: Mutex<Option<Value>>,
}

impl LoadState {
    fn record(&self, snapshot: &Snapshot) {
        let instances: Vec<Value> = snapshot
            .instances()
            .iter()
            .map(|instance| json!({"name": instance.name(), "tools": instance.tools().len(), "prompts": instance.prompts().len(), "sha256": instance.component().sha256()}))
            .collect();
        let failures: Vec<Value> = snapshot
            .failures()
            .iter()
            .map(|failure| json!({"manifest": failure.manifest.display().to_string(), "error": failure.error}))
            .collect();
        *self.report.lock().expect("readiness lock") =
            Some(json!({"ready": true, "instances": instances, "failures": failures}));
    }
}

impl Readiness for LoadState {
    fn report(&self) -> Option<Value> {
        self.report.lock().expect("readiness lock").clone()
    }
}
