//! The reference server, `argocd-mcp` 0.9.0 from npm, run on Node 22: installed on first use
//! under `target/tools/` (Node itself from the npm package `node@22`, as `./dev` does), started
//! over Streamable HTTP on a free loopback port with its documented settings, and stopped when
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use capstan_tests::capstan::{free_address, http_get};
use capstan_tests::paths::repo_root;

/// The version compared against.
pub const VERSION: &str = "0.9.0";
const NODE_MAJOR: &str = "22";

/// A running `argocd-mcp`.
pub struct ArgocdMcp {
    child: Child,
    url: String,
}

impl ArgocdMcp {
    /// Starts `argocd-mcp http` against the Argo CD API at `argocd_url` with `token`, with
    /// every tool (read-only mode off, as `sync_application` needs).
    pub fn start(argocd_url: &str, token: &str) -> anyhow::Result<Self> {
        let tools = tools_dir();
        let node = ensure_node(&tools)?;
        let script = ensure_package(&tools, &node)?;
        let address = free_address();
        let child = Command::new(&node)
            .arg(&script)
            .args(["http", "--port", &address.port().to_string()])
            .env("ARGOCD_BASE_URL", argocd_url)
            .env("ARGOCD_API_TOKEN", token)
            .env_remove("MCP_READ_ONLY")
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let mut server = Self {
            child,
            url: format!("http://{address}/mcp"),
        };
        server.wait_healthy(address)?;
        Ok(server)
    }

    /// The MCP endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Node process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The Node version it runs on.
    pub fn node_version() -> anyhow::Result<String> {
        let node = ensure_node(&tools_dir())?;
        let output = Command::new(node).arg("--version").output()?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn wait_healthy(&mut self, address: std::net::SocketAddr) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if http_get(address, "/healthz").is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("argocd-mcp exited during start-up ({status})");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        bail!("argocd-mcp did not answer /healthz within 30 s")
    }
}

impl Drop for ArgocdMcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_dir() -> PathBuf {
    repo_root().join("target/tools")
}

/// Node 22's binary, installed from npm into `target/tools/node22` when missing.
fn ensure_node(tools: &Path) -> anyhow::Result<PathBuf> {
    let prefix = tools.join(format!("node{NODE_MAJOR}"));
    let node = prefix.join("node_modules/.bin/node");
    if !node.is_file() {
        npm_install(&prefix, &format!("node@{NODE_MAJOR}"), None)?;
    }
    Ok(node)
}

/// `argocd-mcp`'s entry script, installed from npm into `target/tools/argocd-mcp` when missing.
fn ensure_package(tools: &Path, node: &Path) -> anyhow::Result<PathBuf> {
    let prefix = tools.join("argocd-mcp");
    let package = prefix.join("node_modules/argocd-mcp");
    let installed = std::fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|manifest| manifest["version"] == VERSION);
    if !installed {
        npm_install(&prefix, &format!("argocd-mcp@{VERSION}"), Some(node))?;
    }
    Ok(package.join("dist/index.js"))
}

fn npm_install(prefix: &Path, package: &str, node: Option<&Path>) -> anyhow::Result<()> {
    eprintln!("installing {package} from npm into {}", prefix.display());
    std::fs::create_dir_all(prefix)?;
    let mut command = Command::new("npm");
    command.args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"]);
    command.arg(prefix).arg(package);
    if let Some(bin) = node.and_then(Path::parent) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin.to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        command.env("PATH", std::env::join_paths(paths)?);
    }
    let status = command
        .status()
        .context("running npm (install Node.js and npm to run the comparison)")?;
    if !status.success() {
        bail!("`npm install {package}` failed ({status})");
    }
    Ok(())
}
