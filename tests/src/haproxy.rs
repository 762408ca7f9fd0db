//! HAProxy (Debian's `haproxy`) in front of capstan replicas, run with the configuration
//! capstan ships (`deploy/haproxy/haproxy.cfg`), its addresses given through the environment.
//! `./dev test` installs the package; `$CAPSTAN_TEST_HAPROXY` names another binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::capstan::free_address;
use crate::paths::repo_root;

/// A running HAProxy; killed when dropped.
pub struct Haproxy {
    child: Child,
    address: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl Haproxy {
    /// Starts HAProxy balancing over `replicas` (exactly three, as the shipped configuration
    /// names) and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When the binary is missing or the configuration does not load.
    pub fn start(replicas: [SocketAddr; 3]) -> Self {
        let address = free_address();
        let config = repo_root().join("deploy/haproxy/haproxy.cfg");
        let log = tempfile::NamedTempFile::new().expect("creating haproxy's log");
        let mut command = Command::new(binary());
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .env("CAPSTAN_LB_BIND", address.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("opening haproxy's log"));
        for (number, replica) in replicas.iter().enumerate() {
            command.env(
                format!("CAPSTAN_REPLICA_{}", number + 1),
                replica.to_string(),
            );
        }
        let child = command.spawn().expect("starting haproxy");
        let mut haproxy = Self {
            child,
            address,
            log,
        };
        haproxy.wait_listening(Duration::from_secs(20));
        haproxy
    }

    fn wait_listening(&mut self, limit: Duration) {
        let started = Instant::now();
        while std::net::TcpStream::connect(self.address).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
                panic!("haproxy exited with {status} before listening:\n{log}");
            }
            assert!(
                started.elapsed() < limit,
                "haproxy did not listen in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The MCP endpoint through the load balancer.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.address)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$CAPSTAN_TEST_HAPROXY`, else `haproxy` on the path or in `/usr/sbin`.
fn binary() -> PathBuf {
    if let Some(binary) = std::env::var_os("CAPSTAN_TEST_HAPROXY") {
        return PathBuf::from(binary);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
        .expect(
            "haproxy is not installed: install Debian's `haproxy` (./dev test does), or set \
             CAPSTAN_TEST_HAPROXY to its binary",
        )
}
