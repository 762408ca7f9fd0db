//! capstan against the reference server, `argocd-mcp` 0.9.0, and against the limit. Both MCP
//! servers front the same upstream: a stand-in ([`standin`]) that replays, byte for byte, what
//! the fake Argo CD of `capstan-tests` answers (100 generated applications as large as real
//! ones, with resource trees; 2,000 for the large list), recorded before the measurements. Both
//! are driven by the same load generator ([`generator`]: raw HTTP/1.1 on keep-alive
//! connections, pre-rendered MCP requests, one session per virtual user) with the same
//! workloads at each concurrency, and the same upstream requests are sent to the stand-in
//! directly, in the same run. The generator's own ceiling (a canned MCP answer) and capstan's
//! floor (`ping`, a no-op tool call) are measured at the same concurrencies.

pub mod argocd_mcp;
mod generator;
mod http1;
mod load;
mod mcp_wire;
pub mod process;
mod session;
mod standin;
mod workload;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::fakes::argocd::{self, ArgoCdServer};
use serde_json::{Value, json};

use self::argocd_mcp::ArgocdMcp;
use self::generator::{Load, Script};
pub use self::load::{Cell, Window};
use self::process::{MachineTime, Meter, Process, Threads};
use self::session::Session;
use self::standin::StandIn;
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
    /// The upstream request alone, sent to the stand-in.
    pub direct: Cell,
}

/// What bounds the rows from below at one concurrency: the load generator against a canned MCP
/// answer (its ceiling), and capstan answering `ping` and a no-op tool call.
pub struct Floor {
    /// Users calling at once.
    pub concurrency: usize,
    /// The generator against the stand-in's canned MCP answer (no server work behind it).
    pub canned: Cell,
    /// capstan answering MCP `ping`.
    pub ping: Cell,
    /// capstan calling the test plugin `probe`'s `noop` tool.
    pub noop: Cell,
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
    /// The generator's ceiling and capstan's floor, by concurrency.
    pub floors: Vec<Floor>,
    /// Upstream requests the stand-in had not recorded and sent on to the fake during the
    /// measurements (0 when the priming covered every request).
    pub upstream_misses: usize,
    /// Answer sizes.
    pub answers: Vec<Answer>,
    /// The Node version argocd-mcp ran on.
    pub node_version: String,
    /// Resident memory of each server before the first workload: (capstan, argocd-mcp).
    pub idle_rss: (u64, u64),
    /// The share of the machine's CPU time the hypervisor stole while the workloads ran.
    pub steal: f64,
}

/// The two servers in front of the stand-in of one fake Argo CD, with an rmcp session each for
/// the priming and the answer sizes.
struct Servers {
    fake: ArgoCdServer,
    /// The fake's own threads, so its answers to misses do not wait for the load generator.
    fake_runtime: tokio::runtime::Runtime,
    standin: StandIn,
    capstan: Capstan,
    reference: ArgocdMcp,
    capstan_session: Session,
    reference_session: Session,
    _plugins: PluginDir,
}

impl Servers {
    async fn start(apps: usize) -> anyhow::Result<Self> {
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
        let standin = StandIn::start(&fake.base_url(), TOKEN)?;
        let plugins = PluginDir::new();
        let target = format!(
            "prefix = \"\"\n[[targets]]\nname = \"argocd\"\nurl = \"{}\"\nauth = {{ bearer_env = \"ARGOCD_TOKEN\" }}",
            standin.base_url()
        );
        plugins.manifest("argocd", "argocd", &target);
        plugins.manifest("probe", "probe", "[limits]\nmax_concurrency = 64");
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
        let reference = ArgocdMcp::start(&standin.base_url(), TOKEN)?;
        let capstan_session = Session::open(&capstan.url()).await?;
        let reference_session = Session::open(reference.url()).await?;
        Ok(Self {
            fake,
            fake_runtime,
            standin,
            capstan,
            reference,
            capstan_session,
            reference_session,
            _plugins: plugins,
        })
    }

    /// Makes every request the workloads cause once, through both servers and directly, so the
    /// stand-in has recorded the fake's answers before anything is measured.
    async fn prime(&self, workloads: &[Workload]) -> anyhow::Result<()> {
        for workload in workloads {
            for call in 0..workload.distinct_calls() {
                let arguments = workload.arguments(call);
                let answer = self
                    .capstan_session
                    .call(workload.tool, arguments.clone())
                    .await?;
                anyhow::ensure!(
                    answer.is_error != Some(true),
                    "capstan's {} failed: {:?}",
                    workload.tool,
                    answer.content
                );
                self.reference_session
                    .call(workload.tool, arguments)
                    .await?;
                let direct = workload.direct(call);
                self.standin
                    .record(direct.method, &direct.path, &direct.body_bytes())
                    .await?;
            }
        }
        self.standin.reset_misses();
        Ok(())
    }

    /// Both servers' answers to `tool` with `arguments`: (capstan, argocd-mcp) sizes.
    async fn answer_sizes(
        &self,
        tool: &str,
        arguments: Value,
    ) -> anyhow::Result<((usize, usize), (usize, usize))> {
        let capstan = self.capstan_session.call(tool, arguments.clone()).await?;
        let reference = self.reference_session.call(tool, arguments).await?;
        anyhow::ensure!(
            capstan.is_error != Some(true),
            "capstan's {tool} failed: {:?}",
            capstan.content
        );
        Ok((load::result_bytes(&capstan), load::result_bytes(&reference)))
    }

    fn capstan_meter(&self) -> Meter {
        Meter::Process(Process::new(self.capstan.pid()))
    }

    fn reference_address(&self) -> anyhow::Result<SocketAddr> {
        let url = self.reference.url();
        url.trim_start_matches("http://")
            .trim_end_matches("/mcp")
            .parse()
            .with_context(|| format!("argocd-mcp's address in {url}"))
    }

    async fn close(self) {
        self.capstan_session.close().await;
        self.reference_session.close().await;
        drop(self.standin);
        self.fake.shutdown().await;
        self.fake_runtime.shutdown_background();
    }
}

/// Runs the comparison.
pub async fn run(plan: &Plan) -> anyhow::Result<Comparison> {
    let servers = Servers::start(APPS).await?;
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
    servers.prime(&workloads).await?;
    let started = MachineTime::now()?;
    let mut floors = Vec::new();
    for &concurrency in &plan.concurrency {
        floors.push(measure_floor(&servers, concurrency, plan.window).await?);
    }
    let mut rows = Vec::new();
    for workload in &workloads {
        for &concurrency in &plan.concurrency {
            rows.push(measure(&servers, workload, concurrency, plan.window).await?);
        }
    }
    let steal = MachineTime::now()?.steal_since(&started);
    let upstream_misses = servers.standin.misses();
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
        floors,
        upstream_misses,
        answers,
        node_version: ArgocdMcp::node_version()?,
        idle_rss,
        steal,
    })
}

/// Runs `load` on the generator's own threads.
async fn drive(
    address: SocketAddr,
    script: &Arc<Script>,
    concurrency: usize,
    window: Window,
    server: Meter,
) -> anyhow::Result<Cell> {
    let load = Load {
        address,
        script: script.clone(),
        concurrency,
        window,
        server,
    };
    tokio::task::spawn_blocking(move || generator::run(&load)).await?
}

async fn measure_floor(
    servers: &Servers,
    concurrency: usize,
    window: Window,
) -> anyhow::Result<Floor> {
    let ping = Arc::new(Script::Mcp(vec![mcp_wire::ping()]));
    let noop = Arc::new(Script::Mcp(vec![mcp_wire::tool_call(
        "probe_noop",
        json!({}),
    )]));
    let standin = Meter::Threads(Threads::named(standin::THREAD_NAME));
    let capstan = servers.capstan.address();
    let floor = Floor {
        concurrency,
        canned: drive(
            servers.standin.address(),
            &ping,
            concurrency,
            window,
            standin,
        )
        .await?,
        ping: drive(capstan, &ping, concurrency, window, servers.capstan_meter()).await?,
        noop: drive(capstan, &noop, concurrency, window, servers.capstan_meter()).await?,
    };
    anyhow::ensure!(
        floor.canned.errors == 0 && floor.ping.errors == 0 && floor.noop.errors == 0,
        "at concurrency {concurrency}: {} canned, {} ping and {} no-op calls failed",
        floor.canned.errors,
        floor.ping.errors,
        floor.noop.errors
    );
    Ok(floor)
}

async fn measure(
    servers: &Servers,
    workload: &Workload,
    concurrency: usize,
    window: Window,
) -> anyhow::Result<Row> {
    let calls = 0..workload.distinct_calls();
    let tool_calls = Arc::new(Script::Mcp(
        calls
            .clone()
            .map(|call| mcp_wire::tool_call(workload.tool, workload.arguments(call)))
            .collect(),
    ));
    let upstream = servers.standin.address();
    let direct = Arc::new(Script::Http(
        calls
            .map(|call| workload.direct(call).render(upstream, TOKEN))
            .collect(),
    ));
    let reference = Meter::Process(Process::new(servers.reference.pid()));
    let standin = Meter::Threads(Threads::named(standin::THREAD_NAME));
    let row = Row {
        tool: workload.tool,
        scope: workload.scope,
        concurrency,
        capstan: drive(
            servers.capstan.address(),
            &tool_calls,
            concurrency,
            window,
            servers.capstan_meter(),
        )
        .await?,
        reference: drive(
            servers.reference_address()?,
            &tool_calls,
            concurrency,
            window,
            reference,
        )
        .await?,
        direct: drive(upstream, &direct, concurrency, window, standin).await?,
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
    let servers = Servers::start(MANY_APPS).await?;
    let (capstan, reference) = servers.answer_sizes("list_applications", json!({})).await?;
    servers.close().await;
    Ok(Answer {
        question: format!("`list_applications` ({MANY_APPS} apps)"),
        capstan,
        reference,
    })
}
