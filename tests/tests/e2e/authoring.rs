//! The plugin authoring guide, `docs/plugin-authoring.md`, run as written, so it cannot rot.
//!
//! Every fenced `sh` block of the guide carries a marker on the line before it:
//! - `<!-- test -->`: run in order with bash (`set -euo pipefail`), in a fresh folder, the
//!   folder a block `cd`s into carrying over to the next; it must exit 0 (`<!-- test: exit N
//!   -->`: exit N). The real `capstan` is first on `PATH`; cargo builds into a shared folder
//!   under `target/` so repeated runs reuse the compiled dependencies.
//! - `<!-- test: serve -->`: one `capstan serve` command, started as written (on a free port,
//!   through `CAPSTAN_LISTEN`); the test then lists, calls and renders with its own MCP client
//!   what the guide's MCP client commands do.
//! - `<!-- not run: why -->`: shown, not run.
//!
//! `<!-- output -->` before a `text` block: each of its lines is a line of what the previous
//! block printed. `<!-- excerpt: PATH -->` before a block: the generated file PATH holds it
//! word for word. An unmarked `sh` block fails the test.

use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use capstan_tests::capstan::{free_address, http_get};
use capstan_tests::client::{Client, is_error};
use capstan_tests::paths;
use rmcp::model::GetPromptRequestParams;
use serde_json::json;

/// The guide, relative to the repository root.
const GUIDE: &str = "docs/plugin-authoring.md";

/// Where the guide's cargo commands build, relative to the repository root.
const SHARED_TARGET: &str = "target/authoring";

/// What a marker says about the block after it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mark {
    Run { exit: i32 },
    Serve,
    NotRun,
    Output,
    Excerpt(String),
    Unmarked,
}

/// One fenced block of the guide.
#[derive(Debug)]
struct Block {
    /// The 1-based line of its opening fence.
    line: usize,
    /// The fence's info string, e.g. `sh`.
    lang: String,
    /// The text between the fences, each line ending in `\n`.
    text: String,
    /// The marker on the line before it.
    mark: Mark,
}

/// The marker a comment line is, if it is one.
fn mark(line: &str) -> Option<Mark> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let mark = match inner.split_once(':') {
        None if inner == "test" => Mark::Run { exit: 0 },
        None if inner == "output" => Mark::Output,
        Some(("test", "serve")) | Some(("test", " serve")) => Mark::Serve,
        Some(("test", rest)) => {
            let code = rest.trim().strip_prefix("exit ")?;
            Mark::Run {
                exit: code.trim().parse().ok()?,
            }
        }
        Some(("not run", _)) => Mark::NotRun,
        Some(("excerpt", path)) => Mark::Excerpt(path.trim().to_owned()),
        _ => return None,
    };
    Some(mark)
}

/// The guide's fenced blocks, in order, with their markers.
fn blocks(guide: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut previous = "";
    let mut open: Option<Block> = None;
    for (index, line) in guide.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (Some(_), Some("")) => blocks.push(open.take().expect("an open block")),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, Some(lang)) => {
                open = Some(Block {
                    line: index + 1,
                    lang: lang.trim().to_owned(),
                    text: String::new(),
                    mark: mark(previous).unwrap_or(Mark::Unmarked),
                });
            }
            (None, None) => {}
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    assert!(open.is_none(), "{GUIDE} has an unclosed fence");
    blocks
}

/// The folder the guide's commands run in, and their environment.
struct Session {
    root: tempfile::TempDir,
    cwd: PathBuf,
    cache: PathBuf,
    target: PathBuf,
    path: std::ffi::OsString,
}

impl Session {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("creating a folder for the guide");
        let cache = root.path().join("compile-cache");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&cache)
            .expect("creating the compile cache");
        let target = paths::repo_root().join(SHARED_TARGET);
        std::fs::create_dir_all(&target).expect("creating the shared cargo target folder");
        let bin_dir = paths::capstan_bin()
            .parent()
            .expect("the binary's folder")
            .to_path_buf();
        let mut dirs = vec![bin_dir];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Self {
            cwd: root.path().to_path_buf(),
            root,
            cache,
            target,
            path: std::env::join_paths(dirs).expect("a PATH"),
        }
    }

    /// A command with the session's environment, in its current folder.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CAPSTAN_CACHE_DIR", &self.cache)
            .env_remove("CAPSTAN_LOG")
            .env_remove("CAPSTAN_PLUGINS")
            .env_remove("CAPSTAN_CONFIG");
        command
    }

    /// In a Cargo project, `target` is the shared folder, so the manifest's relative
    /// component path finds what cargo built there.
    fn link_target(&self) {
        let link = self.cwd.join("target");
        if self.cwd.join("Cargo.toml").is_file() && std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&self.target, &link).expect("linking target/");
        }
    }

    /// Runs a block; returns what it printed (stdout, then stderr).
    fn run(&mut self, block: &Block, exit: i32) -> String {
        self.link_target();
        let pwd = self.root.path().join("pwd");
        let script = format!(
            "set -euo pipefail\n{}pwd > '{}'\n",
            block.text,
            pwd.display()
        );
        let started = Instant::now();
        let output = self
            .command("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("running bash");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "{GUIDE}:{} took {:.1}s: {}",
            block.line,
            started.elapsed().as_secs_f64(),
            block.text.trim()
        );
        assert_eq!(
            output.status.code(),
            Some(exit),
            "{GUIDE}:{}: the block should exit {exit}:\n{}\n--- it printed:\n{printed}",
            block.line,
            block.text
        );
        if exit == 0 {
            let folder = std::fs::read_to_string(&pwd).expect("the block's last folder");
            self.cwd = PathBuf::from(folder.trim_end());
        }
        printed
    }

    /// Starts the block's `capstan serve` as written, on a free port.
    fn serve(&self, block: &Block) -> Served {
        let line = block.text.trim();
        assert!(
            line.starts_with("capstan serve ") && !line.contains('\n'),
            "{GUIDE}:{}: a serve block is one `capstan serve` command",
            block.line
        );
        let address = free_address();
        let log = self.root.path().join("serve.log");
        let child = self
            .command("bash")
            .arg("-c")
            .arg(format!("exec {line}"))
            .env("CAPSTAN_LISTEN", address.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("creating the serve log"))
            .spawn()
            .expect("starting capstan serve");
        let served = Served {
            child,
            address,
            log,
        };
        served.wait_ready();
        served
    }
}

/// A `capstan serve` the guide started; stopped when dropped.
struct Served {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Served {
    fn wait_ready(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(answer) = http_get(self.address, "/readyz")
                && answer.starts_with("HTTP/1.1 200")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "capstan serve did not become ready; its log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the guide's MCP client commands do: list the tools, call the tool, render the prompt.
async fn use_as_an_mcp_client(served: &Served) {
    let client = Client::connect(&format!("http://{}/mcp", served.address))
        .await
        .expect("connecting to the served plugin");
    let names: Vec<String> = client
        .tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    assert_eq!(names, ["hello_gitops_parse_image"]);
    let result = client
        .call("hello_gitops_parse_image", json!({"image": "nginx:1.27"}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{result:?}");
    assert_eq!(
        result.structured_content,
        Some(json!({"registry": "docker.io", "repository": "nginx", "tag": "1.27"}))
    );
    let arguments = json!({"image": "nginx:1.27"});
    let prompt = client
        .service()
        .get_prompt(
            GetPromptRequestParams::new("hello_gitops_explain_image")
                .with_arguments(arguments.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let said = &prompt.messages[0]
        .content
        .as_text()
        .expect("a text message")
        .text;
    assert!(said.contains("nginx:1.27"), "{said}");
    client.close().await;
}

/// Each line the guide shows is a line the command printed.
fn check_output(block: &Block, printed: &str) {
    let lines: Vec<&str> = printed.lines().map(str::trim_end).collect();
    for expected in block.text.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            lines.contains(&expected.trim_end()),
            "{GUIDE}:{}: `{expected}` is not a line of what the command printed:\n{printed}",
            block.line
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_authoring_guide_runs_as_written() {
    let guide = std::fs::read_to_string(paths::repo_root().join(GUIDE)).expect("reading the guide");
    let mut session = Session::new();
    let mut printed: Option<String> = None;
    let mut served = false;
    for block in blocks(&guide) {
        match &block.mark {
            Mark::Run { exit } => printed = Some(session.run(&block, *exit)),
            Mark::Output => check_output(&block, printed.as_deref().expect("a block ran before")),
            Mark::Excerpt(path) => {
                let file = std::fs::read_to_string(session.cwd.join(path)).expect(path);
                assert!(
                    file.contains(&block.text),
                    "{GUIDE}:{}: {path} no longer holds the excerpt",
                    block.line
                );
            }
            Mark::Serve => {
                use_as_an_mcp_client(&session.serve(&block)).await;
                served = true;
            }
            Mark::NotRun => {}
            Mark::Unmarked => assert!(
                block.lang != "sh",
                "{GUIDE}:{}: mark the block `<!-- test -->` or `<!-- not run: why -->`",
                block.line
            ),
        }
    }
    assert!(served, "{GUIDE} has no `<!-- test: serve -->` block");
}

#[test]
fn the_guide_markers_parse() {
    assert_eq!(mark("<!-- test -->"), Some(Mark::Run { exit: 0 }));
    assert_eq!(mark("<!-- test: exit 2 -->"), Some(Mark::Run { exit: 2 }));
    assert_eq!(mark("<!-- test: serve -->"), Some(Mark::Serve));
    assert_eq!(mark("<!-- not run: needs Node -->"), Some(Mark::NotRun));
    assert_eq!(
        mark("<!-- excerpt: src/image.rs -->"),
        Some(Mark::Excerpt("src/image.rs".to_owned()))
    );
    assert_eq!(mark("<!-- test: later -->"), None);
    assert_eq!(mark("prose"), None);
}
