//! `capstan serve`: build the runtime, load the plugins, serve MCP until a shutdown signal
//! (draining first, see `drain`), and reload the plugins when their folders change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use rmcp::ServiceExt as _;
use tokio_util::sync::CancellationToken;

use crate::access::PolicyStore;
use crate::audit::AuditLog;
use crate::config::Settings;
use crate::drain::Drain;
use crate::egress::EgressSettings;
use crate::identity::Authenticator;
use crate::mcp::guard::Guard;
use crate::mcp::http::{self, HttpOptions};
use crate::mcp::notify::Broadcaster;
use crate::mcp::rounds::Rounds;
use crate::mcp::server::{McpServer, ServeOptions};
use crate::mcp::tasks::Tasks;
use crate::metrics::Metrics;
use crate::registry::{ChangeListener as _, Changes, LoadOptions, LoadStatus, Readiness, Registry};
use crate::reload::Reloader;
use crate::runtime::{EngineLimits, Runtime};

/// Runs a server with `settings`, over stdio when `stdio` is set, else over HTTP.
///
/// The wiring: the registry tells the MCP broadcaster when the lists change; the reloader
/// fills the registry, the readiness report and the metrics; the MCP handler serves the
/// registry; the HTTP app serves the handler, the readiness report and the metrics.
pub async fn run(settings: Settings, stdio: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let runtime = Runtime::new(EngineLimits::default(), &settings.cache_dir)?;
    let broadcaster = Broadcaster::default();
    let registry = Arc::new(Registry::with_listener(Arc::new(broadcaster.clone())));
    let metrics = Arc::new(Metrics::default());
    let policy = load_policy(&settings, &metrics)?;
    let guard = Guard::new(
        policy.clone(),
        Arc::new(rounds(&settings)?),
        Arc::new(AuditLog::open(&settings.audit)?),
    );
    let server = McpServer::new(
        registry.clone(),
        broadcaster.clone(),
        ServeOptions {
            result_cap: settings.result_cap,
            resource_poll_interval: settings.resource_poll_interval,
        },
    )
    .with_guard(guard)
    .with_tasks(Tasks::new(settings.tasks.clone()));
    let load_options = LoadOptions {
        plugin_dirs: settings.plugins.clone(),
        egress: EgressSettings {
            overrides: Arc::new(settings.resolve.clone()),
            inbound_authorization: settings.authenticates(),
            ..EgressSettings::default()
        },
        distribution: settings.distribution.clone(),
    };
    let status = Arc::new(LoadStatus::default());
    let mut reloader = Reloader::new(
        runtime,
        load_options,
        registry.clone(),
        status.clone(),
        metrics.clone(),
    )?;
    let watch = settings.reload.watch_mode(!stdio);
    let shutdown = CancellationToken::new();
    if let Some(policy) = &policy {
        let interval = settings.reload.poll_interval.unwrap_or(POLICY_POLL);
        // A new policy can grant or withdraw tools: every client lists them again.
        let installed = move || broadcaster.changed(Changes::TOOLS);
        tokio::spawn(policy.clone().watch(interval, shutdown.clone(), installed));
    }
    let readiness = Arc::new(ServeReadiness {
        plugins: status.clone(),
        policy,
    });
    if stdio {
        reloader.reload().await;
        log_ready(&registry, started);
        tokio::spawn(reloader.run(watch, shutdown.clone()));
        return serve_stdio(server).await;
    }
    let authenticator = Arc::new(Authenticator::new(
        &settings.identity,
        settings
            .auth_token
            .as_ref()
            .map(|token| token.expose().to_owned()),
    )?);
    let prefetch = authenticator.clone();
    tokio::spawn(async move { prefetch.prefetch().await });
    let options = http_options(&settings, authenticator);
    if let Some(address) = settings.metrics_listen {
        let listener = bind_metrics(address).await?;
        let app = http::metrics_app(metrics.clone(), &options);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the metrics listener failed");
            }
        });
    }
    let drain = options.drain.clone();
    let drain_settings = settings.drain;
    let app = http::app(server, readiness, metrics, &options, shutdown.clone());
    let reload_shutdown = shutdown.clone();
    let listener = bind(&settings).await?;
    tokio::spawn(async move {
        reloader.reload().await;
        log_ready(&registry, started);
        reloader.run(watch, reload_shutdown).await;
    });
    let (drained, drain_ended) = tokio::sync::oneshot::channel();
    let served = axum::serve(listener.tap_io(no_delay), app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            drain.run(drain_settings).await;
            tracing::info!("shutting down: ending open streams");
            shutdown.cancel();
            let _ = drained.send(());
        })
        .into_future();
    // After the drain, connections get a moment to send their last bytes; a call the grace cut
    // off would hold its connection open for as long as it runs, so it is not waited for.
    let cut_off = async {
        if drain_ended.await.is_ok() {
            tokio::time::sleep(CLOSE_WAIT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = served => result.context("the HTTP server failed"),
        () = cut_off => {
            tracing::warn!("connections still open after the drain; exiting without them");
            Ok(())
        }
    }
}

/// How long connections may take to close once the drain is over.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How often the policy file is looked at when no poll interval is configured.
const POLICY_POLL: Duration = Duration::from_secs(2);

/// The policy file's store, loaded and checked before anything serves; `None` without a policy.
fn load_policy(
    settings: &Settings,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<Arc<PolicyStore>>> {
    let Some(file) = &settings.policy else {
        return Ok(None);
    };
    let store = PolicyStore::load(file, Some(metrics.clone()))?;
    if settings.auth_token.is_some() {
        tracing::warn!(
            "the shared --auth-token-file token is an anonymous administrator (`shared-token`): the policy applies to it like anyone, but it names no person; prefer API keys or OAuth"
        );
    }
    Ok(Some(Arc::new(store)))
}

/// Confirmation rounds sealed with the configured key, or a random one per process.
fn rounds(settings: &Settings) -> anyhow::Result<Rounds> {
    let key = match &settings.request_state_key_file {
        Some(file) => Some(std::fs::read(file).with_context(|| {
            format!("cannot read the request-state key file {}", file.display())
        })?),
        None => None,
    };
    Ok(Rounds::new(key.as_deref())?)
}

/// `/readyz`: the plugins' report, with the policy file's state when there is one.
struct ServeReadiness {
    plugins: Arc<LoadStatus>,
    policy: Option<Arc<PolicyStore>>,
}

impl Readiness for ServeReadiness {
    fn report(&self) -> Option<serde_json::Value> {
        let mut report = self.plugins.report()?;
        if let (Some(policy), Some(object)) = (&self.policy, report.as_object_mut()) {
            let status = serde_json::to_value(policy.status()).unwrap_or_default();
            object.insert("policy".into(), status);
        }
        Some(report)
    }
}

async fn serve_stdio(server: McpServer) -> anyhow::Result<()> {
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the stdio MCP session could not start")?;
    service
        .waiting()
        .await
        .context("the stdio MCP session failed")?;
    Ok(())
}

fn http_options(settings: &Settings, authenticator: Arc<Authenticator>) -> HttpOptions {
    HttpOptions {
        stateless: settings.stateless,
        authenticator,
        allowed_hosts: settings.allowed_hosts.clone(),
        allowed_origins: settings.allowed_origins.clone(),
        separate_metrics: settings.metrics_listen.is_some(),
        drain: Arc::new(Drain::default()),
    }
}

async fn bind_metrics(address: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("cannot listen on {address} for /metrics; is another process using it? choose another with --metrics-listen")
        })?;
    tracing::info!(address = %listener.local_addr()?, "serving metrics at /metrics");
    Ok(listener)
}

async fn bind(settings: &Settings) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another process using it? choose another with --listen",
                settings.listen
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!(%address, stateless = settings.stateless, auth = settings.authenticates(), oauth = settings.identity.oauth.is_some(), api_keys = settings.identity.api_keys_file.is_some(), "serving MCP at http://{address}/mcp");
    Ok(listener)
}

/// Turns Nagle's algorithm off on an accepted connection. An MCP reply is an SSE stream written
/// in several small pieces (priming event, message, end of stream); with Nagle on, each piece
/// after the first waits for the client's ACK, which a delayed-ACK client holds for up to 40 ms.
fn no_delay(connection: &mut tokio::net::TcpStream) {
    if let Err(error) = connection.set_nodelay(true) {
        tracing::debug!("could not set TCP_NODELAY on a connection: {error}");
    }
}

fn log_ready(registry: &Registry, started: Instant) {
    let snapshot = registry.snapshot();
    tracing::info!(
        instances = snapshot.instances().len(),
        tools = snapshot.tools().count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
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
