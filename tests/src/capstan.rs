//! A real `capstan serve` process on loopback, with a plugin folder of its own.

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths;

/// A plugin folder under construction: write manifests, then start capstan on it.
pub struct PluginDir {
    dir: tempfile::TempDir,
}

impl Default for PluginDir {
    fn default() -> Self {
        Self::new()
    }
}

impl PluginDir {
    /// An empty folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("creating a plugin folder"),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `<instance>.toml` for the component `plugin` (by name, e.g. "probe") with the
    /// given extra manifest lines (the component line is added).
    pub fn manifest(&self, instance: &str, plugin: &str, rest: &str) -> PathBuf {
        let component = paths::plugin(plugin);
        let text = format!(
            "component = {:?}\n{rest}\n",
            component.display().to_string()
        );
        self.raw_manifest(instance, &text)
    }

    /// Writes `<instance>.toml` with exactly `text`.
    pub fn raw_manifest(&self, instance: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{instance}.toml"));
        std::fs::write(&path, text).expect("writing a manifest");
        path
    }

    /// Replaces the file `name` in the folder the way deployment tools do: writes a hidden
    /// temporary file next to it, then renames it over `name`.
    pub fn swap_in(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        let temporary = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&temporary, bytes).expect("writing a temporary file");
        std::fs::rename(&temporary, &path).expect("renaming a file into place");
        path
    }

    /// Removes the file `name` from the folder.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).expect("removing a file");
    }
}

/// How to start capstan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Compile cache; the shared test cache when `None`.
    pub cache_dir: Option<PathBuf>,
    /// The listen address; a free loopback port when `None`. Set it when capstan's own URL
    /// must be known before it starts (e.g. as its OAuth audience).
    pub listen: Option<SocketAddr>,
}

/// A running capstan; killed when dropped.
pub struct Capstan {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Capstan {
    /// Starts capstan serving `plugins` and waits until `/readyz` says it is ready.
    pub fn start(plugins: &PluginDir) -> Self {
        Self::start_with(plugins, Options::default())
    }

    /// Starts capstan with `options` and waits until ready.
    pub fn start_with(plugins: &PluginDir, options: Options) -> Self {
        let capstan = Self::spawn(plugins.path(), options);
        capstan.wait_ready(Duration::from_secs(120));
        capstan
    }

    /// Starts capstan without waiting.
    pub fn spawn(plugins: &Path, options: Options) -> Self {
        let address = options.listen.unwrap_or_else(free_address);
        let log_dir = tempfile::tempdir().expect("creating a log folder");
        let log = log_dir.path().join("capstan.log");
        let cache = options.cache_dir.unwrap_or_else(paths::shared_cache_dir);
        let mut command = Command::new(paths::capstan_bin());
        command
            .arg("serve")
            .arg("--plugins")
            .arg(plugins)
            .arg("--listen")
            .arg(address.to_string())
            .arg("--cache-dir")
            .arg(cache)
            .args(&options.args)
            .env_remove("CAPSTAN_AUTH_TOKEN")
            .env("CAPSTAN_LOG", "info,capstan=debug")
            .envs(options.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("creating the log file"));
        let child = command.spawn().expect("starting capstan");
        Self {
            child,
            address,
            log,
            _log_dir: log_dir,
        }
    }

    /// Polls `/readyz` until it answers 200.
    pub fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(body) = http_get(self.address, "/readyz")
                && body.starts_with("HTTP/1.1 200")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "capstan did not become ready in {limit:?}; its log:\n{}",
            self.log_text()
        );
    }

    /// The listen address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.address)
    }

    /// Everything capstan logged so far.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// The `/readyz` JSON report.
    pub fn readiness(&self) -> serde_json::Value {
        let response = http_get(self.address, "/readyz").expect("GET /readyz");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }

    /// The manifests `/readyz` reports as failed: (file name, error), in report order.
    pub fn load_failures(&self) -> Vec<(String, String)> {
        let report = self.readiness();
        let failures = report["failures"].as_array().cloned().unwrap_or_default();
        failures
            .iter()
            .map(|failure| {
                let manifest = failure["manifest"].as_str().unwrap_or_default();
                let file = manifest.rsplit('/').next().unwrap_or_default().to_owned();
                (
                    file,
                    failure["error"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The `/metrics` text.
    pub fn metrics(&self) -> String {
        let response = http_get(self.address, "/metrics").expect("GET /metrics");
        response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    /// Sends SIGHUP (capstan rescans its plugin folders).
    pub fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -HUP failed");
    }

    /// Sends SIGTERM (capstan drains, then exits).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit; its exit status, or `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's resident memory (`VmRSS` in `/proc/<pid>/status`), in bytes.
    pub fn resident_bytes(&self) -> u64 {
        resident_bytes(self.pid())
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Capstan {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident memory of process `pid` (`VmRSS` in `/proc/<pid>/status`), in bytes; 0 when
/// the process is gone.
pub fn resident_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// The peak resident memory of process `pid` so far (`VmHWM` in `/proc/<pid>/status`), in
/// bytes; 0 when the process is gone.
pub fn peak_resident_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// A `kB` field of `/proc/<pid>/status`, in bytes; 0 when absent.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// A loopback address with a port that was free a moment ago.
pub fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a probe socket");
    listener.local_addr().expect("probe socket address")
}

/// A bare HTTP/1.1 GET; returns the whole response as text.
pub fn http_get(address: SocketAddr, path: &str) -> std::io::Result<String> {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}
