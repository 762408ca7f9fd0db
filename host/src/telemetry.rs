//! Logging and traces. Logs: structured `tracing` events to stderr (stdout belongs to the stdio
//! transport); the filter comes from `CAPSTAN_LOG` (or `RUST_LOG`), default `info`. Egress
//! decisions are logged under the `capstan::audit` target.
//!
//! Traces (off unless an endpoint is configured): the spans with target
//! [`trace_context::TARGET`] (a `tools/call`, its policy decision, its sandbox run, each egress
//! request) go through `tracing-opentelemetry` to a batch span processor on the tokio runtime
//! and out over OTLP/HTTP (protobuf) to `<endpoint>/v1/traces`. The endpoint comes from
//! `--otlp-endpoint`, else `[traces] otlp_endpoint`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! (used as is), else `OTEL_EXPORTER_OTLP_ENDPOINT`. Without one, no exporter is built and the
//! trace spans' callsites stay disabled. [`Telemetry::shutdown`] flushes the last spans, waiting
//! at most [`FLUSH_WAIT`].
//!
//! ```toml
//! [traces]
//! otlp_endpoint = "http://127.0.0.1:4318"
//! service_name = "capstan"   # the default
//! ```

use std::io::IsTerminal as _;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use serde::Deserialize;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};
use url::Url;

use crate::config::LogFormat;
use crate::trace_context;

const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift_codegen=warn,rmcp=warn";

/// The longest wait for the last spans to reach the collector at shutdown.
pub const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `service.name` of capstan's spans unless configured.
pub const DEFAULT_SERVICE_NAME: &str = "capstan";

/// `[traces]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesFile {
    otlp_endpoint: Option<String>,
    service_name: Option<String>,
}

/// Trace settings given on the command line or through `CAPSTAN_*` variables.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct TraceOverrides {
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g. http://127.0.0.1:4318
    /// (spans go to <URL>/v1/traces). Without it, `[traces] otlp_endpoint` or
    /// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, no traces are made.
    #[arg(long, env = "CAPSTAN_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

/// The resolved trace settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSettings {
    /// The full URL spans are posted to (`…/v1/traces`); `None`: traces off.
    pub endpoint: Option<Url>,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
        }
    }
}

/// Why traces cannot be set up; the message names the setting and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// The endpoint is not an HTTP(S) URL.
    #[error(
        "`{setting}`: `{value}` is not an http:// or https:// URL; write the collector's OTLP/HTTP address, e.g. \"http://127.0.0.1:4318\""
    )]
    Endpoint {
        /// Where the value came from.
        setting: &'static str,
        /// The value.
        value: String,
    },
    /// The exporter could not be built.
    #[error("cannot set up the OTLP trace exporter for {endpoint}: {reason}")]
    Exporter {
        /// The traces URL.
        endpoint: Url,
        /// The exporter's reason.
        reason: String,
    },
}

impl TraceSettings {
    /// Flags, then the config file, then the standard `OTEL_EXPORTER_OTLP_*` variables.
    pub fn resolve(
        overrides: TraceOverrides,
        file: Option<TracesFile>,
    ) -> Result<Self, TracesError> {
        Self::resolve_with_env(overrides, file, |name| {
            std::env::var(name).ok().filter(|value| !value.is_empty())
        })
    }

    fn resolve_with_env(
        overrides: TraceOverrides,
        file: Option<TracesFile>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TracesError> {
        let file = file.unwrap_or_default();
        let endpoint = if let Some(base) = overrides.otlp_endpoint {
            Some(traces_url("--otlp-endpoint", &base, true)?)
        } else if let Some(base) = file.otlp_endpoint {
            Some(traces_url("[traces] otlp_endpoint", &base, true)?)
        } else if let Some(full) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(traces_url(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &full,
                false,
            )?)
        } else if let Some(base) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(traces_url("OTEL_EXPORTER_OTLP_ENDPOINT", &base, true)?)
        } else {
            None
        };
        Ok(Self {
            endpoint,
            service_name: file
                .service_name
                .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
        })
    }
}

/// The URL spans are posted to: `base` with `/v1/traces` appended when `append` is set.
fn traces_url(setting: &'static str, value: &str, append: bool) -> Result<Url, TracesError> {
    let text = match append {
        true => format!("{}/v1/traces", value.trim_end_matches('/')),
        false => value.to_owned(),
    };
    match Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(TracesError::Endpoint {
            setting,
            value: value.to_owned(),
        }),
    }
}

/// What [`init`] leaves running: the trace exporter, when traces are on.
#[must_use = "call `shutdown` so the last spans reach the collector"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes the spans still queued and stops the exporter, waiting at most [`FLUSH_WAIT`].
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The SDK blocks until its batch task (on this runtime) answers; keep that off the
        // runtime's workers.
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_WAIT));
        match tokio::time::timeout(FLUSH_WAIT + Duration::from_secs(1), flushed).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::warn!(%error, "the last spans may not have been exported")
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    "the trace exporter did not finish flushing; the last spans may be lost"
                );
            }
        }
    }
}

/// Installs the global subscriber for a server: logs to stderr, and spans to the OTLP
/// collector when `traces` names one. Needs the tokio runtime (the batch processor runs on it).
pub fn init(format: LogFormat, traces: &TraceSettings) -> Result<Telemetry, TracesError> {
    let provider = match &traces.endpoint {
        Some(endpoint) => Some(provider(endpoint, &traces.service_name)?),
        None => None,
    };
    let logs = log_layer(format).with_filter(log_filter());
    let spans = provider.as_ref().map(span_layer);
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
    if let Some(endpoint) = &traces.endpoint {
        tracing::info!(%endpoint, service_name = %traces.service_name, "exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

/// The log filter, which never shows the trace spans (they are for the exporter).
fn log_filter() -> EnvFilter {
    let filter = EnvFilter::try_from_env("CAPSTAN_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    match format!("{}=off", trace_context::TARGET).parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

fn log_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    }
}

/// The bridge to OpenTelemetry, seeing only the trace spans (no log events, no other spans).
fn span_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("capstan"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.is_span() && metadata.target() == trace_context::TARGET
        }))
}

/// The tracer provider: OTLP/HTTP protobuf through reqwest (no proxy), batched on tokio.
fn provider(endpoint: &Url, service_name: &str) -> Result<SdkTracerProvider, TracesError> {
    let failed = |reason: String| TracesError::Exporter {
        endpoint: endpoint.clone(),
        reason,
    };
    // reqwest is built without a default TLS provider; capstan uses ring everywhere (an
    // `https://` collector works too). Already installed by another part: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|error| failed(error.to_string()))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint.as_str())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|error| failed(error.to_string()))?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build())
}

/// Installs a subscriber that shows only warnings, for one-shot commands.
pub fn init_quiet() {
    init_at("warn,wasmtime=error");
}

/// Like [`init_quiet`], logging only what `default` lets through unless `CAPSTAN_LOG` says
/// otherwise (`capstan call` prints the egress decisions itself and logs only errors).
pub fn init_at(default: &str) {
    let filter = EnvFilter::try_from_env("CAPSTAN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        flag: Option<&str>,
        file: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<TraceSettings, TracesError> {
        let file = file.map(|text| toml::from_str::<TracesFile>(text).unwrap());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        TraceSettings::resolve_with_env(
            TraceOverrides {
                otlp_endpoint: flag.map(str::to_owned),
            },
            file,
            |name| {
                env.iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
            },
        )
    }

    fn endpoint(settings: TraceSettings) -> Option<String> {
        settings.endpoint.map(String::from)
    }

    #[test]
    fn traces_are_off_unless_an_endpoint_is_given() {
        assert_eq!(resolve(None, None, &[]).unwrap(), TraceSettings::default());
    }

    #[test]
    fn the_flag_wins_then_the_file_then_the_standard_variables() {
        let file = "otlp_endpoint = \"http://collector:4318/\"\nservice_name = \"gitops\"";
        let env = [
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:4318/custom",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
        ];
        let flagged = resolve(Some("http://127.0.0.1:4318"), Some(file), &env).unwrap();
        assert_eq!(flagged.service_name, "gitops");
        assert_eq!(
            endpoint(flagged).unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            endpoint(resolve(None, Some(file), &env).unwrap()).unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            endpoint(resolve(None, None, &env).unwrap()).unwrap(),
            "http://traces:4318/custom"
        );
        assert_eq!(
            endpoint(resolve(None, None, &env[1..]).unwrap()).unwrap(),
            "http://base:4318/v1/traces"
        );
    }

    #[test]
    fn a_bad_endpoint_names_the_setting() {
        let error = resolve(Some("127.0.0.1:4318"), None, &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--otlp-endpoint") && error.contains("http://"),
            "{error}"
        );
        let error = resolve(None, Some("otlp_endpoint = \"ftp://x\""), &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("[traces] otlp_endpoint"), "{error}");
    }
}
