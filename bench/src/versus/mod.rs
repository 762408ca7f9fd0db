//! capstan against the reference server, `argocd-mcp` 0.9.0, and against the limit: both MCP
//! servers front the same fake Argo CD (100 generated applications as large as real ones, with
//! resource trees, events and logs; 2,000 for the large list), are driven by the same MCP
//! client (rmcp's Streamable HTTP transport, see [`session`]) with the same workloads at each concurrency, and the same upstream requests
//! are also sent directly with a plain HTTP client, in the same run.

pub mod argocd_mcp;
mod load;
pub mod process;
mod session;
mod workload;

use std::sync::Arc;

use anyhow::Context as _;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::fakes::argocd::{self, ArgoCdServer};
use futures::future::try_join_all;
use serde_json::{Value, json};

use self::argocd_mcp::ArgocdMcp;
pub use self::load::{Cell, Window};
use self::process::{MachineTime, Process};
use self::session::Session;
use self::workload::Workload;

/// The token both servers present to the fake Argo CD.
const TOKEN: &str = "bench-argocd-token";

/// Applications in the data set most workloads use, and in the large one.
pub const APPS: usize = 100;
/// Applications in the large data set (bytes of a default `list_applications`).
pub const MANY_APPS: usize = 2000;

/// What to run.
pub struct Plan {
    /// Concurrency levels, each a row per workload.
    pub concurrency: Vec<usize>,
    /// The measured window of each cell.
    pub window: Window,
    /// Only these tools (all four when empty).
    pub only: Vec<String>,
}

/// One workload at one concurrency: capstan, argocd-mcp and the direct upstream request.
pub struct Row {
    /// The tool.
    pub tool: &'static str,
    /// The data it covers.
    pub scope: &'static str,
    /// Workers calling at once.
    pub concurrency: usize,
    /// capstan with the Argo CD plugin.
    pub capstan: Cell,
    /// argocd-mcp.
    pub reference: Cell,
    /// The upstream request alone.
    pub direct: Cell,
}

/// How many bytes each server returns for the same question with its defaults.
pub struct Answer {
    /// The question.
    pub question: String,
    /// capstan: (text a model reads, the whole result as JSON).
    pub capstan: (usize, usize),
    /// argocd-mcp: (text, whole result).
    pub reference: (usize, usize),
}

/// Everything the comparison measured.
pub struct Comparison {
    /// Workload rows, by workload then concurrency.
    pub rows: Vec<Row>,
    /// Answer sizes.
    pub answers: Vec<Answer>,
    /// The Node version argocd-mcp ran on.
    pub node_version: String,
    /// Resident memory of each server before the first workload: (capstan, argocd-mcp).
    pub idle_rss: (u64, u64),
    /// The share of the machine's CPU time the hypervisor stole while the workloads ran.
    pub steal: f64,
}

/// The two servers in front of one fake Argo CD, with open MCP sessions.
struct Servers {
    fake: ArgoCdServer,
    /// The fake's own threads, so serving the upstream does not delay the load generator's
    /// clients (and the other way round).
    fake_runtime: tokio::runtime::Runtime,
    capstan: Capstan,
    reference: ArgocdMcp,
    capstan_sessions: Vec<Arc<Session>>,
    reference_sessions: Vec<Arc<Session>>,
    _plugins: PluginDir,
}

impl Servers {
    async fn start(apps: usize, sessions: usize) -> anyhow::Result<Self> {
        let fake_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-argocd")
            .enable_all()
            .build()?;
        let fake = fake_runtime
            .spawn(argocd::start(
                argocd::ArgoCd::new()
                    .with_generated_apps(apps)
                    .with_token(TOKEN),
            ))
            .await??;
        let plugins = PluginDir::new();
        let target = format!(
            "prefix = \"\"\n[[targets]]\nname = \"argocd\"\nurl = \"{}\"\nauth = {{ bearer_env = \"ARGOCD_TOKEN\" }}",
            fake.base_url()
        );
        plugins.manifest("argocd", "argocd", &target);
        let capstan = Capstan::start_with(
            &plugins,
            Options {
                env: vec![
                    ("ARGOCD_TOKEN".into(), TOKEN.into()),
                    ("CAPSTAN_LOG".into(), "warn".into()),
                ],
                ..Default::default()
            },
        );
        let reference = ArgocdMcp::start(&fake.base_url(), TOKEN)?;
        let capstan_sessions = connect(&capstan.url(), sessions).await?;
        let reference_sessions = connect(reference.url(), sessions).await?;
        Ok(Self {
            fake,
            fake_runtime,
            capstan,
            reference,
            capstan_sessions,
            reference_sessions,
            _plugins: plugins,
        })
    }

    /// Both servers' answers to `tool` with `arguments`: (capstan, argocd-mcp) sizes.
    async fn answer_sizes(
        &self,
        tool: &str,
        arguments: Value,
    ) -> anyhow::Result<((usize, usize), (usize, usize))> {
        let capstan = self.capstan_sessions[0]
            .call(tool, arguments.clone())
            .await?;
        let reference = self.reference_sessions[0].call(tool, arguments).await?;
        anyhow::ensure!(
            capstan.is_error != Some(true),
            "capstan's {tool} failed: {:?}",
            capstan.content
        );
        Ok((load::result_bytes(&capstan), load::result_bytes(&reference)))
    }

    async fn close(self) {
        for session in self
            .capstan_sessions
            .into_iter()
            .chain(self.reference_sessions)
        {
            if let Ok(session) = Arc::try_unwrap(session) {
                session.close().await;
            }
        }
        self.fake.shutdown().await;
        self.fake_runtime.shutdown_background();
    }
}

async fn connect(url: &str, sessions: usize) -> anyhow::Result<Vec<Arc<Session>>> {
    let clients = try_join_all((0..sessions).map(|_| Session::open(url)))
        .await
        .with_context(|| format!("opening {sessions} MCP sessions to {url}"))?;
    Ok(clients.into_iter().map(Arc::new).collect())
}

/// Runs the comparison.
pub async fn run(plan: &Plan) -> anyhow::Result<Comparison> {
    let sessions = plan.concurrency.iter().copied().max().unwrap_or(1);
    let servers = Servers::start(APPS, sessions).await?;
    let idle_rss = (
        Process::new(servers.capstan.pid()).rss()?,
        Process::new(servers.reference.pid()).rss()?,
    );
    let apps: Vec<String> = argocd::generate(APPS)
        .iter()
        .map(|app| app.name().to_owned())
        .collect();
    let workloads: Vec<Workload> = Workload::all(&apps)
        .into_iter()
        .filter(|w| plan.only.is_empty() || plan.only.iter().any(|tool| tool == w.tool))
        .collect();
    let http = capstan_tests::http_client();
    let mut rows = Vec::new();
    let started = MachineTime::now()?;
    for workload in &workloads {
        for &concurrency in &plan.concurrency {
            rows.push(measure(&servers, &http, workload, concurrency, plan.window).await?);
        }
    }
    let steal = MachineTime::now()?.steal_since(&started);
    let mut answers = Vec::new();
    for workload in &workloads {
        let (capstan, reference) = servers
            .answer_sizes(workload.tool, workload.default_arguments())
            .await?;
        answers.push(Answer {
            question: format!("`{}` ({})", workload.tool, workload.scope),
            capstan,
            reference,
        });
    }
    servers.close().await;
    answers.push(many_apps_answer().await?);
    Ok(Comparison {
        rows,
        answers,
        node_version: ArgocdMcp::node_version()?,
        idle_rss,
        steal,
    })
}

async fn measure(
    servers: &Servers,
    http: &reqwest::Client,
    workload: &Workload,
    concurrency: usize,
    window: Window,
) -> anyhow::Result<Row> {
    let capstan = Process::new(servers.capstan.pid());
    let reference = Process::new(servers.reference.pid());
    let row = Row {
        tool: workload.tool,
        scope: workload.scope,
        concurrency,
        capstan: load::mcp(
            &servers.capstan_sessions,
            concurrency,
            workload,
            window,
            capstan,
        )
        .await?,
        reference: load::mcp(
            &servers.reference_sessions,
            concurrency,
            workload,
            window,
            reference,
        )
        .await?,
        direct: load::direct(
            http,
            &servers.fake.base_url(),
            TOKEN,
            concurrency,
            workload,
            window,
        )
        .await?,
    };
    anyhow::ensure!(
        row.capstan.errors == 0 && row.direct.errors == 0,
        "{} at concurrency {concurrency}: {} capstan calls and {} direct requests failed",
        workload.tool,
        row.capstan.errors,
        row.direct.errors
    );
    Ok(row)
}

/// A default `list_applications` over 2,000 applications from each server.
async fn many_apps_answer() -> anyhow::Result<Answer> {
    let servers = Servers::start(MANY_APPS, 1).await?;
    let (capstan, reference) = servers.answer_sizes("list_applications", json!({})).await?;
    servers.close().await;
    Ok(Answer {
        question: format!("`list_applications` ({MANY_APPS} apps)"),
        capstan,
        reference,
    })
}
