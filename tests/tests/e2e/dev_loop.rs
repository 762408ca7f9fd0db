//! The plugin author's dev loop on the real binary: `capstan call` runs one tool once and
//! prints its result and every request it sent (allowed to which target, or refused and why),
//! never the credential it injected; `capstan check` warns about what authors get wrong.

use std::process::Command;

use capstan_tests::capstan::PluginDir;
use capstan_tests::fakes::argocd;
use capstan_tests::paths;
use capstan_tests::upstream::Upstream;
use serde_json::Value;

/// What one run of the binary gave: exit code, stdout, stderr.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The egress lines of stderr.
    fn egress(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.starts_with("egress "))
            .collect()
    }

    fn mentions(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the binary; blocks, so async tests run on a multi-thread runtime whose workers keep
/// serving the fakes meanwhile.
fn capstan(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(paths::capstan_bin())
        .args(args)
        .env("CAPSTAN_CACHE_DIR", paths::shared_cache_dir())
        .env_remove("CAPSTAN_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("running capstan");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const ARGOCD_TOKEN: &str = "argocd-dev-loop-token-7c41";

#[tokio::test(flavor = "multi_thread")]
async fn call_runs_an_argo_cd_tool_against_the_fake_and_shows_its_one_request() {
    let argocd = argocd::start(
        capstan_tests::fakes::demo::argocd()
            .with_base_path("/argocd")
            .with_token(ARGOCD_TOKEN),
    )
    .await
    .unwrap();
    let plugins = PluginDir::new();
    plugins.manifest(
        "argocd",
        "argocd",
        &format!(
            "prefix = \"argocd\"\nread_only = true\n[[targets]]\nname = \"prod\"\nurl = \"{}\"\n\
             auth = {{ bearer_env = \"ARGOCD_TOKEN\" }}",
            argocd.base_url()
        ),
    );
    let dir = plugins.path().to_str().unwrap();
    let env = [("ARGOCD_TOKEN", ARGOCD_TOKEN)];

    let run = capstan(&["call", dir, "argocd_get_version"], &env);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.egress(),
        [format!(
            "egress allowed GET {}/api/version (target prod): 200",
            argocd.base_url()
        )],
        "{run:?}"
    );
    assert!(run.stdout.contains("\"Version\""), "{run:?}");
    assert!(
        run.stderr.ends_with("result argocd_get_version: ok\n"),
        "{run:?}"
    );
    assert!(!run.mentions(ARGOCD_TOKEN), "the token leaked: {run:?}");
    let requests = argocd.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].authorization(),
        Some(format!("Bearer {ARGOCD_TOKEN}").as_str())
    );

    let run = capstan(
        &[
            "call",
            dir,
            "get_application",
            r#"{"applicationName": "guestbook"}"#,
            "--target",
            "prod",
            "--json",
        ],
        &env,
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let result: Value = serde_json::from_str(&run.stdout).expect("--json prints one JSON object");
    assert_eq!(result["isError"], false, "{run:?}");
    assert!(result["structuredContent"].is_object(), "{run:?}");
    assert_eq!(run.egress().len(), 1, "{run:?}");
    assert!(
        run.egress()[0].contains("/api/v1/applications/guestbook (target prod): 200"),
        "{run:?}"
    );
    assert!(!run.mentions(ARGOCD_TOKEN), "the token leaked: {run:?}");
    argocd.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_shows_a_refused_request_with_its_reason_and_exits_1() {
    let upstream = Upstream::http().await;
    let secret = "probe-dev-loop-secret-19fe";
    let plugins = PluginDir::new();
    plugins.manifest(
        "probe",
        "probe",
        &format!(
            "[[targets]]\nname = \"up\"\nurl = \"{}/api\"\nauth = {{ bearer_env = \"PROBE_TOKEN\" }}",
            upstream.url()
        ),
    );
    let dir = plugins.path().to_str().unwrap();
    let env = [("PROBE_TOKEN", secret)];

    let allowed = format!(
        r#"{{"url": "{}/api/v1/x?token=in-the-query"}}"#,
        upstream.url()
    );
    let run = capstan(&["call", dir, "probe_fetch", &allowed], &env);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.egress(),
        [format!(
            "egress allowed GET {}/api/v1/x (target up): 200",
            upstream.url()
        )],
        "{run:?}"
    );
    assert_eq!(
        upstream.only_request().values("authorization"),
        [format!("Bearer {secret}")]
    );

    let refused = format!(r#"{{"url": "{}/admin"}}"#, upstream.url());
    let run = capstan(&["call", dir, "fetch", &refused], &env);
    assert_eq!(run.code, Some(1), "{run:?}");
    let egress = run.egress();
    assert_eq!(egress.len(), 1, "{run:?}");
    assert!(
        egress[0].starts_with(&format!(
            "egress refused GET {}/admin (outside_targets): ",
            upstream.url()
        )) && egress[0].contains("allowed targets: up ("),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("capstan refused a request to"),
        "{run:?}"
    );
    assert!(
        run.stderr.ends_with("result probe_fetch: isError\n"),
        "{run:?}"
    );
    assert_eq!(upstream.seen().len(), 1, "the refused request never left");
    assert!(!run.mentions(secret), "the token leaked: {run:?}");
}

#[test]
fn call_says_what_is_wrong_and_exits_2_when_nothing_ran() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let dir = plugins.path().to_str().unwrap();

    let run = capstan(&["call", dir, "probe_nope"], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("no tool is named `probe_nope`; the folder serves: ")
            && run.stderr.contains("probe_echo"),
        "{run:?}"
    );
    let run = capstan(&["call", dir, "probe_echo", "{text: hi}"], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("the arguments are not JSON"), "{run:?}");
    let run = capstan(&["call", dir, "probe_echo", r#"{"times": 20}"#], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("invalid arguments for tool `probe_echo`")
            && run.stderr.contains("argument `times`"),
        "{run:?}"
    );
    let run = capstan(&["call", dir, "probe_echo", r#"{"text": "hi"}"#], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "{\n  \"echo\": \"hi\"\n}\n", "{run:?}");
    assert!(run.egress().is_empty(), "{run:?}");
}

#[test]
fn check_warns_about_what_authors_get_wrong_and_fails_on_it_only_when_strict() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let dir = plugins.path().to_str().unwrap();
    let run = capstan(&["check", dir], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains(
            "warn  probe: tool `probe_noop` has no output schema: clients can neither check nor rely on its structuredContent; declare one"
        ),
        "{run:?}"
    );
    assert!(
        !run.stdout.contains("tool `probe_echo`"),
        "echo has an output schema: {run:?}"
    );
    let run = capstan(&["check", "--strict", dir], &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("--strict fails on them"), "{run:?}");
}
