//! An OCI registry (Debian's `docker-registry`, the CNCF distribution server) on a free
//! loopback port, storing blobs in a temporary folder, optionally behind basic auth.
//! `./dev test` installs the package; `$CAPSTAN_TEST_DOCKER_REGISTRY` names another binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::capstan::free_address;

/// The user of a registry started [`Registry::with_basic_auth`].
pub const USERNAME: &str = "capstan";
/// That user's password (a test fixture: the registry lives on loopback for one test).
pub const PASSWORD: &str = "capstan-registry-test";
/// bcrypt of [`PASSWORD`] (cost 4), as the registry's htpasswd file wants it.
const PASSWORD_BCRYPT: &str = "$2b$04$lbR7lB6pkjaLowZMAQL4feRfr/XYWs/tyIZWmb8zqxPCsHbQ3jBxC";

/// A running registry; killed when dropped.
pub struct Registry {
    child: Option<Child>,
    address: SocketAddr,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts an anonymous registry and waits until it answers.
    ///
    /// # Panics
    ///
    /// When the binary is missing or the registry does not start.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// Starts a registry that wants [`USERNAME`] and [`PASSWORD`].
    pub fn with_basic_auth() -> Self {
        Self::launch(true)
    }

    fn launch(basic_auth: bool) -> Self {
        let dir = tempfile::tempdir().expect("creating the registry's folder");
        let address = free_address();
        let auth = match basic_auth {
            true => {
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{USERNAME}:{PASSWORD_BCRYPT}\n"))
                    .expect("writing htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: capstan-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            false => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n{auth}",
            dir.path().join("storage").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).expect("writing the config");
        let mut registry = Self {
            child: None,
            address,
            dir,
        };
        registry.run();
        registry
    }

    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("log")).expect("registry log");
        let child = Command::new(binary())
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("registry log"))
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        self.wait_listening(Duration::from_secs(20));
    }

    fn wait_listening(&mut self, limit: Duration) {
        let started = Instant::now();
        while std::net::TcpStream::connect(self.address).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
                panic!("docker-registry exited with {status} before listening:\n{log}");
            }
            assert!(
                started.elapsed() < limit,
                "docker-registry did not listen in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`, as references and `--insecure-registry` name it.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Stops the registry (its storage stays, so [`Registry::restart`] serves it again).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The stored blob `digest` (`sha256:…`) in the registry's storage folder.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `$CAPSTAN_TEST_DOCKER_REGISTRY`, else `docker-registry` on the path or in `/usr/bin`.
fn binary() -> PathBuf {
    if let Some(binary) = std::env::var_os("CAPSTAN_TEST_DOCKER_REGISTRY") {
        return PathBuf::from(binary);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("docker-registry"))
        .find(|candidate| candidate.is_file())
        .expect(
            "docker-registry is not installed: install Debian's `docker-registry` (./dev test \
             does), or set CAPSTAN_TEST_DOCKER_REGISTRY to its binary",
        )
}
