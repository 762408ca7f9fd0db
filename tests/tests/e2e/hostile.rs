//! The hostile-plugin corpus: one test per attack, each through a real capstan serving the
//! `hostile` component next to a well-behaved `probe` instance.
//!
//! Every test checks four things: the attack failed in the way the table below says; nothing
//! reached a listener it must not reach (the canaries on another loopback address and on
//! another port, paths under `/never` on the allowed upstreams, plain HTTP on the HTTPS
//! target's port); the target's token appears nowhere the guest or the client can read, nor
//! in capstan's log; and well-behaved calls made at the same time (a probe echo, an
//! authorised request of the hostile instance itself) still succeeded. The table is
//! `docs/security.md`'s corpus section; a test keeps the two equal (run with
//! `CAPSTAN_BLESS=1` to rewrite the document after changing the table).

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, ClientOptions, is_error, params, text};
use capstan_tests::paths;
use capstan_tests::pki::Pki;
use capstan_tests::upstream::Upstream;
use rmcp::model::{
    CallToolResponse, CallToolResult, GetTaskParams, InputResponses, TaskPayload, UpdateTaskParams,
};
use serde_json::{Value, json};

const TOKEN: &str = "hostile-corpus-token-7f3a9c1e";

macro_rules! corpus {
    ($($id:ident: $attack:literal => $outcome:literal;)*) => {
        /// (test, attack, outcome) rows of the corpus table.
        const CORPUS: &[(&str, &str, &str)] = &[$((stringify!($id), $attack, $outcome)),*];
        $(
            #[tokio::test]
            async fn $id() {
                run(stringify!($id)).await;
            }
        )*
    };
}

corpus! {
    busy_loop: "Loops forever without calling the host" => "Interrupted at the instance's timeout by epoch interruption; the call reports `timed out`.";
    deep_recursion: "Recurses without bound" => "Stack overflow trap; the call reports the crash.";
    memory_bomb: "Allocates 1 GiB" => "Growth past `[limits].memory` is refused; the call reports `ran out of memory`.";
    holding_memory_at_the_cap: "Holds most of its memory cap while sleeping" => "Allowed within its own cap; other calls and instances are unaffected.";
    huge_output: "Returns 100 MiB of text" => "Never copied: the host copies at most 4 × `result_cap` (at least 4 MiB) out of a plugin at once (wasmtime's hostcall fuel), so the call reports `passed the host more than`.";
    output_over_the_cap: "Returns 2 MiB of text, over the result cap but under the copy limit" => "Cut to the result cap with a truncation marker.";
    many_content_blocks: "Returns 200,000 content blocks" => "Refused before the copy like `huge_output`: the limit counts the host's size of every list element.";
    huge_log_line: "Writes one 64 MiB log line" => "Refused before the copy like `huge_output`; nothing is logged.";
    panic: "Panics" => "The call reports the crash with the panic message.";
    trap: "Executes `unreachable`" => "The call reports the crash.";
    sleep_past_deadline: "Sleeps in a host call past the call's deadline" => "Host time counts: the call reports `timed out`.";
    endless_host_calls: "Keeps calling `sleep` in a loop" => "The call reports `timed out`.";
    forbidden_imports: "A component importing wasi:filesystem and wasi:sockets" => "Refused at load, naming the imports; other instances serve.";
    other_contract: "A component built against another plugin contract version (capstan:plugin@0.1.0)" => "Refused at load, naming its version and how to rebuild; other instances serve.";
    reads_its_configuration: "Reads every `wasi:config` key, the environment and arguments" => "Sees `[config]` and target URLs only; no credential.";
    host_not_allowlisted: "Requests a host that is not a target" => "`HttpRequestDenied`; the result names the URL, the instance and the allowed targets.";
    ip_literal_of_allowed_name: "Requests the address an allowed name resolves to" => "Denied: a name target does not allow its address.";
    decimal_loopback: "Requests `2130706433` (127.0.0.1 in decimal)" => "Canonicalised to 127.0.0.1, then denied.";
    octal_loopback: "Requests `0177.0.0.1`" => "Canonicalised to 127.0.0.1, then denied.";
    hex_loopback: "Requests `0x7f.0.0.1`" => "Canonicalised to 127.0.0.1, then denied.";
    ipv6_mapped_loopback: "Requests `[::ffff:127.0.0.1]`" => "Canonicalised to 127.0.0.1, then denied.";
    loopback_names: "Requests `localhost.` and `LOCALHOST`" => "Denied: not a target name.";
    userinfo_trick: "Requests `http://allowed.test@evil.test/`" => "Denied: URLs with user info are refused.";
    wrong_port: "Requests an allowed host on another port" => "Denied: the port is part of the target.";
    wrong_scheme: "Requests an http target over https, and an `ftp` URL" => "Denied: the scheme is part of the target.";
    path_outside_prefix: "Requests a path outside the target's prefix" => "Denied.";
    dot_dot_path: "Requests `/api/../never`" => "Dot segments resolved first, then denied.";
    encoded_dot_dot_path: "Requests `/api/%2e%2e/never` and `/api/..%2fnever`" => "Denied on the decoded path too.";
    redirect_to_other_host: "Gets redirected by the upstream to a canary host" => "The hop is checked like a new request and denied; the canary gets nothing.";
    redirect_scheme_change: "Gets redirected from http to https on the same host" => "The hop is denied: the scheme is part of the target.";
    redirect_https_to_http: "Gets redirected from an https target to http on the same host and port" => "The hop is denied: the scheme is part of the target; the token is not sent in clear.";
    redirect_outside_prefix: "Gets redirected to a path outside the prefix" => "The hop is denied.";
    redirect_keeps_no_token: "Gets redirected from the token's target to a target without auth" => "The hop is followed without the token.";
    crlf_in_header: "Sets a header value containing CR/LF" => "Refused when the guest sets it; nothing is injected upstream.";
    forged_host_header: "Sets `Host: evil.test`" => "The URL decides where a request goes; the upstream sees its own host.";
    token_sent_elsewhere: "Sends its own `Authorization` to a target without auth, hoping for the real token" => "The other target gets only what the guest wrote; the token goes only to its own target.";
    name_resolving_to_metadata: "Requests a target whose name resolves to 169.254.169.254" => "Refused after DNS: link-local addresses need a target of their own.";
    slow_upstream: "Requests an upstream that answers after the target's timeout" => "The request times out at the target's `timeout`; the call ends.";
    endless_response_body: "Reads a response body that never ends" => "Cut at the target's `max_response`.";
    oversized_request_body: "Sends a 9 MiB request body" => "Refused at the 8 MiB request-body cap.";
    thousand_outbound_requests: "Starts 1,000 requests at once" => "At most `[limits].max_outbound` are in flight; the rest wait.";
    unfinished_request_bodies: "Opens 100 requests and writes 7 MiB into each body without finishing it" => "A request takes its outbound slot before its body is buffered, and buffered bodies share `[limits].request_buffer`: capstan's resident memory grows by under 128 MiB and falls back.";
    hoarded_header_fields: "Builds 20,000 header collections of 15 KiB, and one of 100 KiB" => "Handles are capped at 4,096 per call and header collections at 16 KiB: resident memory grows by under 128 MiB and falls back at once (the allocator returns freed pages without delay).";
    concurrent_memory_hogs: "Eight concurrent calls each hold 150 MiB of linear memory" => "Calls past the instance's `[limits].memory_total` report `ran out of memory`; resident memory grows by under 400 MiB and falls back.";
    structured_output_bomb: "Returns 3 MiB of structured JSON (`[0,0,…]`, under the copy limit), 50 MiB once parsed; and 32 MiB of it" => "The 3 MiB answer is measured by its bytes and cut to the result cap before anything is parsed or converted, so capstan's peak memory grows by far less than parsing would take; the 32 MiB one is never copied (`huge_output`).";
    huge_prompt: "Renders a 1 MiB prompt, and a 10 MiB one" => "The 1 MiB prompt is refused at the result cap, naming it; the 10 MiB one is never copied (`huge_output`); nothing is converted or sent.";
    tool_flood: "Lists 300 tools, or one tool with a 2 MiB description" => "Refused at load, naming the limit (256 tools, 1 MiB of names, descriptions and schemas); other instances serve.";
    forged_log_lines: "Logs, writes to stderr and panics with newlines, a fake log line, CR and ANSI escapes" => "Guest text is escaped into a field of capstan's log line: no forged line, no escape sequence reaches the log.";
    trace_echoes_the_credential: "Sends `TRACE`, `CONNECT` and a made-up method to the token's target, hoping the upstream echoes the injected header" => "Refused before sending (`method_not_allowed`) on every target; the upstream sees none of them.";
    credential_minting: "POSTs to Argo CD's account and project-role token endpoints and to Kubernetes `TokenRequest` on the token's target" => "Refused (`credential_minting`) unless the target sets `allow_token_requests`; the upstream sees none.";
    secret_reads: "Gets, lists and watches Kubernetes `Secret` objects, namespaced and cluster-wide" => "Refused (`secret_access`) unless the target sets `allow_secrets`; the upstream sees none.";
    impersonation_headers: "Adds `Impersonate-User` or `Impersonate-Group` to an allowed request" => "Refused (`impersonation`) unless the target sets `allow_impersonation`; the upstream sees neither.";
    name_rebound_to_another_port: "Requests a token target whose name resolves to loopback, where loopback targets allow other ports only" => "Refused after DNS: a special address is allowed only on the port of the target naming it; the token reaches no other port.";
    refusal_flood: "Sends 1,000 refused requests to distinct 16 KiB URLs with query strings" => "The result keeps 5 notes and a count; the log records the first 5 (URLs cut to 1 KiB, no query) and one summary line.";
    hostile_task_questions: "Runs as a task and asks the person again after every answer, without end" => "The task waits as `input_required` for each answer, then fails after 8 rounds naming the tool and the limit; its place is given back.";
    hostile_questions: "Asks the client with a 100 KiB state (over the 16 KiB a plugin may keep), with an elicitation lacking its schema, and for sampling the client never declared" => "The state and the malformed request fail the call, naming the problem, before anything is sent to the client; the undeclared one is a `-32021` error naming the capability.";
}

/// The upstreams of one test: the allowed API and the listeners nothing may reach.
struct World {
    /// `allowed.test`: the `api` target (127.0.0.1), token required on `/api/ok`.
    api: Upstream,
    /// Another port on 127.0.0.1, not a target.
    wrong_port: Upstream,
    /// `evil.test` on 127.0.0.2, not a target.
    evil: Upstream,
    /// `sink.test` on 127.0.0.3: the `sink` target, without auth.
    sink: Upstream,
    /// `secure.test` (127.0.0.1): the `secure` target over HTTPS, with the token; plain HTTP
    /// on its port is a canary.
    secure: Upstream,
    _pki: Pki,
    _plugins: PluginDir,
    capstan: Capstan,
    client: Client,
}

impl World {
    async fn start() -> Self {
        let api = Upstream::builder().token(TOKEN).start().await;
        let wrong_port = Upstream::http().await;
        let evil = Upstream::builder().ip("127.0.0.2").start().await;
        let sink = Upstream::builder().ip("127.0.0.3").start().await;
        let pki = Pki::for_server(&["secure.test"]);
        let secure = Upstream::builder().tls(&pki).token(TOKEN).start().await;
        let plugins = PluginDir::new();
        let manifest = hostile_manifest(&api, &sink, &secure, &wrong_port, &pki);
        plugins.manifest("hostile", "hostile", &manifest);
        plugins.manifest("good", "probe", "");
        plugins.manifest("forbidden", "forbidden", "");
        plugins.manifest("legacy", "legacy", "");
        let resolve = "allowed.test=127.0.0.1;secure.test=127.0.0.1;sink.test=127.0.0.3;evil.test=127.0.0.2;metadata.test=169.254.169.254;rebound.test=127.0.0.1".to_owned();
        let capstan = Capstan::start_with(
            &plugins,
            Options {
                args: vec!["--resolve".into(), resolve],
                env: vec![("HOSTILE_TOKEN".into(), TOKEN.into())],
                ..Options::default()
            },
        );
        let client = Client::connect(&capstan.url()).await.expect("connecting");
        Self {
            api,
            wrong_port,
            evil,
            sink,
            secure,
            _pki: pki,
            _plugins: plugins,
            capstan,
            client,
        }
    }

    fn api_authority(&self) -> String {
        format!("allowed.test:{}", self.api.port())
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.client
            .call(&format!("hostile_{tool}"), arguments)
            .await
            .unwrap_or_else(|error| panic!("calling hostile_{tool}: {error}"))
    }

    /// A raw request through the hostile instance to `authority` and `path`.
    async fn request(&self, scheme: &str, authority: &str, path: &str) -> CallToolResult {
        self.call(
            "request",
            json!({"scheme": scheme, "authority": authority, "path_with_query": path}),
        )
        .await
    }

    /// A raw request with `method` and `headers` through the hostile instance to the `api`
    /// target's `path`.
    async fn method(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> CallToolResult {
        self.call(
            "request",
            json!({"scheme": "http", "authority": self.api_authority(), "path_with_query": path,
                   "method": method, "headers": headers}),
        )
        .await
    }

    /// Sends `method path` with `headers` to the token's target and checks it is refused with
    /// a message naming the target key `allow` that would permit it.
    async fn assert_refused_unless(
        &self,
        allow: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) {
        let result = self.attack(self.method(method, path, headers)).await;
        assert_denied(&result);
        assert!(
            text(&result).contains(&format!("{allow} = true")),
            "{}",
            text(&result)
        );
    }

    /// The well-behaved calls that must keep working during an attack.
    async fn well_behaved(&self) {
        let echo = self
            .client
            .call("good_echo", json!({"text": "still here"}))
            .await
            .expect("calling the well-behaved probe");
        assert!(!is_error(&echo), "{}", text(&echo));
        assert!(text(&echo).contains("still here"));
        let own = self.request("http", &self.api_authority(), "/api/ok").await;
        let report = structured(&own);
        assert_eq!(report["status"], 200, "authorised request failed: {report}");
        assert_eq!(report["body"], "fine");
    }

    /// Runs `attack` while the well-behaved calls run, then checks the invariants.
    async fn attack(&self, attack: impl Future<Output = CallToolResult>) -> CallToolResult {
        let (result, ()) = tokio::join!(attack, self.well_behaved());
        self.well_behaved().await;
        self.assert_contained(&result);
        result
    }

    fn assert_contained(&self, result: &CallToolResult) {
        for (name, canary) in [("wrong port", &self.wrong_port), ("evil.test", &self.evil)] {
            assert!(
                canary.seen().is_empty(),
                "the {name} canary was reached: {:?}",
                canary.seen()
            );
        }
        for allowed in [&self.api, &self.secure] {
            assert!(
                allowed.seen_with("/never").is_empty(),
                "{:?}",
                allowed.seen()
            );
        }
        let in_clear: Vec<_> = self
            .secure
            .seen()
            .into_iter()
            .filter(|seen| seen.scheme != "https")
            .collect();
        assert!(
            in_clear.is_empty(),
            "plain HTTP reached the https target: {in_clear:?}"
        );
        let shown = serde_json::to_string(result).expect("a serialisable result");
        assert!(
            !shown.contains(TOKEN),
            "the token reached the client: {shown}"
        );
        assert!(
            !self.capstan.log_text().contains(TOKEN),
            "the token is in the log"
        );
        for seen in self.sink.seen() {
            assert!(!seen.mentions(TOKEN), "the token reached the sink");
        }
    }
}

fn hostile_manifest(
    api: &Upstream,
    sink: &Upstream,
    secure: &Upstream,
    wrong: &Upstream,
    pki: &Pki,
) -> String {
    format!(
        r#"prefix = "hostile"
[[targets]]
name = "api"
url = "http://allowed.test:{api}/api"
auth = {{ bearer_env = "HOSTILE_TOKEN" }}
timeout = "1s"
max_response = "1MiB"
[[targets]]
name = "sink"
url = "http://sink.test:{sink}/"
[[targets]]
name = "metadata"
url = "http://metadata.test:{api}/api"
[[targets]]
name = "secure"
url = "https://secure.test:{secure}/api"
auth = {{ bearer_env = "HOSTILE_TOKEN" }}
tls = {{ ca_file = {ca:?} }}
# Let the pinned test names resolve to loopback, on their own ports only.
[[targets]]
name = "loopback"
url = "http://127.0.0.0/8:{api}/unused"
[[targets]]
name = "loopback-sink"
url = "http://127.0.0.0/8:{sink}/unused"
[[targets]]
name = "loopback-secure"
url = "http://127.0.0.0/8:{secure}/unused"
# A name pinned to loopback on a port no loopback target allows (the wrong-port canary's).
[[targets]]
name = "rebound"
url = "http://rebound.test:{wrong}/"
auth = {{ bearer_env = "HOSTILE_TOKEN" }}
[limits]
memory = "128MiB"
timeout = "6s"
max_outbound = 8
"#,
        api = api.port(),
        sink = sink.port(),
        secure = secure.port(),
        wrong = wrong.port(),
        ca = pki.file("ca.pem").display().to_string(),
    )
}

fn structured(result: &CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("no structured content: {}", text(result)))
}

/// The result of a refused raw request: the guest saw `HttpRequestDenied`, the agent sees
/// why, with the allowed targets.
fn assert_denied(result: &CallToolResult) {
    let report = structured(result);
    assert_eq!(report["error"], "HttpRequestDenied", "{report}");
    let notes = text(result);
    assert!(notes.contains("capstan refused a request to"), "{notes}");
    assert!(
        notes.contains("allowed targets: api (http://allowed.test:"),
        "{notes}"
    );
}

/// Starts `hostile_nag` as a task and answers each of its questions until the task ends: the
/// rounds answered and the task's error.
async fn nag_to_the_end(capstan: &Capstan) -> (usize, serde_json::Map<String, Value>) {
    let options = ClientOptions {
        discover: true,
        tasks: true,
        answer: Some(true),
        ..ClientOptions::default()
    };
    let asker = Client::connect_with(&capstan.url(), &options)
        .await
        .unwrap();
    let peer = asker.service().peer();
    let started = peer
        .call_tool_once(params("hostile_nag", json!({})))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = started else {
        panic!("hostile_nag did not start a task: {started:?}");
    };
    let id = created.task.task_id;
    let mut answered = 0;
    for _ in 0..400 {
        let task = peer.get_task(GetTaskParams::new(&id)).await.unwrap();
        match task.task.payload {
            TaskPayload::InputRequired { input_requests } => {
                let yes = json!({"action": "accept", "content": {"ok": true}});
                let responses: InputResponses = input_requests
                    .into_keys()
                    .map(|key| (key, yes.clone()))
                    .collect();
                peer.update_task(UpdateTaskParams::new(&id, responses))
                    .await
                    .unwrap();
                answered += 1;
            }
            TaskPayload::Failed { error } => return (answered, error),
            TaskPayload::Working => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("the nagging task ended otherwise: {other:?}"),
        }
    }
    panic!("the nagging task never ended");
}

fn assert_failed_with(result: &CallToolResult, expected: &str) {
    assert!(is_error(result), "expected a failure: {}", text(result));
    assert!(
        text(result).contains(expected),
        "expected `{expected}` in: {}",
        text(result)
    );
}

fn assert_truncated(result: &CallToolResult) {
    let shown = text(result);
    assert!(
        shown.len() < 300 << 10,
        "{} bytes reached the client",
        shown.len()
    );
    assert!(shown.contains("[capstan: result truncated"), "no marker");
}

/// How a call that passed the host more than the (default) copy limit at once fails.
const NOT_COPIED: &str = "passed the host more than 4.0 MiB at once";

/// The call failed because the plugin passed the host more than the copy limit at once.
fn assert_not_copied(result: &CallToolResult) {
    assert_failed_with(result, NOT_COPIED);
    assert!(text(result).len() < 1024, "{}", text(result));
}

async fn run(id: &str) {
    if crate::memory::run(id).await {
        return;
    }
    let world = World::start().await;
    let w = &world;
    let api = w.api_authority();
    match id {
        "busy_loop" => assert_failed_with(&w.attack(w.call("spin", json!({}))).await, "timed out"),
        "deep_recursion" => {
            let result = w.attack(w.call("recurse", json!({}))).await;
            assert!(
                is_error(&result) && text(&result).contains("hostile"),
                "{}",
                text(&result)
            );
        }
        "memory_bomb" => assert_failed_with(
            &w.attack(w.call("alloc", json!({"mib": 1024}))).await,
            "ran out of memory",
        ),
        "holding_memory_at_the_cap" => {
            let result = w
                .attack(w.call("hold", json!({"mib": 100, "ms": 500})))
                .await;
            assert!(text(&result).contains("held"), "{}", text(&result));
        }
        "huge_output" => assert_not_copied(&w.attack(w.call("output", json!({"mib": 100}))).await),
        "output_over_the_cap" => {
            assert_truncated(&w.attack(w.call("output", json!({"mib": 2}))).await)
        }
        "many_content_blocks" => {
            assert_not_copied(&w.attack(w.call("blocks", json!({"n": 200_000}))).await)
        }
        "huge_log_line" => assert_not_copied(&w.attack(w.call("shout", json!({"mib": 64}))).await),
        "panic" => assert_failed_with(&w.attack(w.call("panic", json!({}))).await, "hostile panic"),
        "trap" => assert_failed_with(&w.attack(w.call("trap", json!({}))).await, "crashed"),
        "sleep_past_deadline" => assert_failed_with(
            &w.attack(w.call("sleep", json!({"ms": 30_000}))).await,
            "timed out",
        ),
        "endless_host_calls" => {
            assert_failed_with(&w.attack(w.call("nap_loop", json!({}))).await, "timed out")
        }
        "forbidden_imports" => try_forbidden_imports(w).await,
        "other_contract" => try_other_contract(w).await,
        "reads_its_configuration" => {
            let result = w.attack(w.call("guess_secrets", json!({}))).await;
            assert!(
                text(&result).contains("capstan.target.api.url"),
                "{}",
                text(&result)
            );
        }
        "host_not_allowlisted" => {
            let evil = format!("evil.test:{}", w.evil.port());
            let result = w.attack(w.request("http", &evil, "/never")).await;
            assert_denied(&result);
            assert!(
                text(&result).contains("instance `hostile`"),
                "{}",
                text(&result)
            );
            let metrics = capstan_tests::capstan::http_get(w.capstan.address(), "/metrics")
                .expect("reading /metrics");
            for decision in ["denied", "allowed"] {
                let line = format!(
                    "capstan_egress_requests_total{{instance=\"hostile\",decision=\"{decision}\"}}"
                );
                assert!(metrics.contains(&line), "no {line} in:\n{metrics}");
            }
        }
        "ip_literal_of_allowed_name" => {
            let literal = format!("127.0.0.1:{}", w.api.port());
            assert_denied(&w.attack(w.request("http", &literal, "/api/never")).await);
        }
        "decimal_loopback" => spelled_loopback(w, "2130706433").await,
        "octal_loopback" => spelled_loopback(w, "0177.0.0.1").await,
        "hex_loopback" => spelled_loopback(w, "0x7f.0.0.1").await,
        "ipv6_mapped_loopback" => spelled_loopback(w, "[::ffff:127.0.0.1]").await,
        "loopback_names" => {
            spelled_loopback(w, "localhost.").await;
            spelled_loopback(w, "LOCALHOST").await;
        }
        "userinfo_trick" => {
            let trick = format!("allowed.test@evil.test:{}", w.evil.port());
            let result = w.attack(w.request("http", &trick, "/never")).await;
            assert_eq!(structured(&result)["error"], "HttpRequestDenied");
        }
        "wrong_port" => {
            let other = format!("allowed.test:{}", w.wrong_port.port());
            assert_denied(&w.attack(w.request("http", &other, "/api/never")).await);
        }
        "wrong_scheme" => {
            assert_denied(&w.attack(w.request("https", &api, "/api/never")).await);
            let result = w.attack(w.request("ftp", &api, "/api/never")).await;
            let report = structured(&result);
            assert!(
                report["status"].is_null() && report["error"].is_string(),
                "{report}"
            );
        }
        "path_outside_prefix" => assert_denied(&w.attack(w.request("http", &api, "/never")).await),
        "dot_dot_path" => assert_denied(&w.attack(w.request("http", &api, "/api/../never")).await),
        "encoded_dot_dot_path" => {
            assert_denied(&w.attack(w.request("http", &api, "/api/%2e%2e/never")).await);
            assert_denied(&w.attack(w.request("http", &api, "/api/..%2fnever")).await);
        }
        "redirect_to_other_host" => {
            let to = format!("http://evil.test:{}/never", w.evil.port());
            redirected(w, &to, "307").await;
        }
        "redirect_scheme_change" => {
            let to = format!("https://{api}/api/never");
            redirected(w, &to, "302").await;
        }
        "redirect_https_to_http" => try_redirect_https_to_http(w).await,
        "redirect_outside_prefix" => redirected(w, "/never", "301").await,
        "redirect_keeps_no_token" => try_redirect_keeps_no_token(w).await,
        "crlf_in_header" => {
            let result = w
                .attack(w.call(
                    "request",
                    json!({"scheme": "http", "authority": api, "path_with_query": "/api/crlf",
                           "headers": [["x-note", "a\r\nX-Injected: 1"]]}),
                ))
                .await;
            assert_eq!(structured(&result)["stage"], "header", "{}", text(&result));
            let injected = w
                .api
                .seen()
                .iter()
                .any(|s| s.headers.contains_key("x-injected"));
            assert!(!injected);
        }
        "forged_host_header" => try_forged_host_header(w).await,
        "token_sent_elsewhere" => try_token_sent_elsewhere(w).await,
        "name_resolving_to_metadata" => {
            let metadata = format!("metadata.test:{}", w.api.port());
            let result = w.attack(w.request("http", &metadata, "/api/never")).await;
            assert_eq!(structured(&result)["error"], "HttpRequestDenied");
            let notes = text(&result);
            assert!(notes.contains("169.254.169.254: link-local"), "{notes}");
        }
        "slow_upstream" => {
            let result = w.attack(w.request("http", &api, "/api/slow")).await;
            assert!(
                !is_error(&result),
                "the call itself must end normally: {}",
                text(&result)
            );
            let report = structured(&result);
            assert!(
                report["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("Timeout")),
                "{report}"
            );
        }
        "endless_response_body" => {
            let url = format!("http://{api}/api/endless");
            let result = w.attack(w.call("read_endless", json!({"url": url}))).await;
            let report = structured(&result);
            let bytes = report["bytes"].as_u64().expect("a byte count");
            assert!(bytes <= 1 << 20, "read {bytes} bytes past the 1 MiB cap");
            assert!(report["error"].is_string(), "{report}");
        }
        "oversized_request_body" => {
            let result = w
                .attack(w.call(
                    "request",
                    json!({"scheme": "http", "authority": api, "path_with_query": "/api/never",
                           "method": "POST", "body": "x".repeat(1024), "body_repeat": 9 * 1024}),
                ))
                .await;
            let report = structured(&result);
            assert!(
                report["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("BodySize")),
                "{report}"
            );
        }
        "thousand_outbound_requests" => {
            let url = format!("http://{api}/api/slow?ms=5");
            let result = w
                .attack(w.call("flood", json!({"url": url, "n": 1000})))
                .await;
            assert!(!is_error(&result), "{}", text(&result));
            let peak = w.api.peak_concurrency();
            assert!(
                peak <= 8 + 2,
                "{peak} requests in flight at once (max_outbound = 8)"
            );
        }
        "structured_output_bomb" => try_structured_output_bomb(w).await,
        "huge_prompt" => try_huge_prompt(w).await,
        "tool_flood" => try_tool_flood().await,
        "forged_log_lines" => {
            let result = w.attack(w.call("forge_log", json!({}))).await;
            assert!(is_error(&result), "{}", text(&result));
            let log = w.capstan.log_text();
            assert!(
                log.contains("fine\\n2030-01-01"),
                "the log line is not there:\n{log}"
            );
            assert!(!log.contains('\x1b'), "an escape sequence reached the log");
            assert!(!log.contains('\r'), "a carriage return reached the log");
            assert!(
                !log.lines().any(|line| line.starts_with("2030-01-01")),
                "a forged line is in the log:\n{log}"
            );
        }
        "trace_echoes_the_credential" => {
            for method in ["TRACE", "CONNECT", "BREW"] {
                let result = w.attack(w.method(method, "/api/ok", &[])).await;
                assert_denied(&result);
                assert!(text(&result).contains("never sends"), "{}", text(&result));
            }
            let seen: Vec<_> = w
                .api
                .seen()
                .into_iter()
                .filter(|s| s.method != "GET")
                .collect();
            assert!(seen.is_empty(), "the upstream saw {seen:?}");
        }
        "credential_minting" => {
            for path in [
                "/api/api/v1/account/admin/token",
                "/api/api/v1/projects/default/roles/deployer/token",
                "/api/api/v1/namespaces/kube-system/serviceaccounts/admin/token",
            ] {
                w.assert_refused_unless("allow_token_requests", "POST", path, &[])
                    .await;
            }
            assert!(w.api.seen_with("/token").is_empty(), "{:?}", w.api.seen());
        }
        "secret_reads" => {
            for path in [
                "/api/api/v1/secrets",
                "/api/api/v1/namespaces/prod/secrets/db",
                "/api/api/v1/watch/namespaces/prod/secrets",
                "/api/api/v1/namespaces/prod/secrets?watch=true",
            ] {
                w.assert_refused_unless("allow_secrets", "GET", path, &[])
                    .await;
            }
            assert!(w.api.seen_with("secrets").is_empty(), "{:?}", w.api.seen());
        }
        "impersonation_headers" => {
            for header in [
                "Impersonate-User",
                "impersonate-group",
                "Impersonate-Extra-Scopes",
            ] {
                w.assert_refused_unless(
                    "allow_impersonation",
                    "GET",
                    "/api/ok",
                    &[(header, "system:admin")],
                )
                .await;
            }
            let impersonated = w.api.seen().iter().any(|s| {
                s.headers
                    .keys()
                    .any(|name| name.as_str().starts_with("impersonate-"))
            });
            assert!(!impersonated, "{:?}", w.api.seen());
        }
        "name_rebound_to_another_port" => {
            let rebound = format!("rebound.test:{}", w.wrong_port.port());
            let result = w.attack(w.request("http", &rebound, "/never")).await;
            assert_eq!(
                structured(&result)["error"],
                "HttpRequestDenied",
                "{}",
                text(&result)
            );
            assert!(
                text(&result).contains("127.0.0.1: loopback"),
                "{}",
                text(&result)
            );
        }
        "hostile_questions" => {
            let huge = w.attack(w.call("ask", json!({"mode": "huge_state"}))).await;
            assert_failed_with(&huge, "state over 16384 bytes");
            let bad = w.attack(w.call("ask", json!({"mode": "bad_params"}))).await;
            assert_failed_with(&bad, "invalid `elicitation/create` parameters");
            let undeclared = w
                .client
                .call("hostile_ask", json!({"mode": "undeclared"}))
                .await
                .unwrap_err()
                .to_string();
            assert!(
                undeclared.contains("-32021") || undeclared.contains("sampling"),
                "{undeclared}"
            );
        }
        "hostile_task_questions" => {
            let (nagged, ()) = tokio::join!(nag_to_the_end(&w.capstan), w.well_behaved());
            let (answered, error) = nagged;
            assert_eq!(answered, 8, "rounds answered before the task ended");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("nag") && message.contains("more than 8 times"),
                "{error:?}"
            );
        }
        "refusal_flood" => {
            let evil = format!("evil.test:{}", w.evil.port());
            let flood = json!({"authority": evil, "n": 1000, "path_bytes": 16 * 1024});
            let result = w.attack(w.call("refusal_flood", flood)).await;
            assert_eq!(structured(&result)["denied"], 1000, "{}", text(&result));
            let notes: Vec<_> = result.content.iter().filter_map(|c| c.as_text()).collect();
            let refused = notes
                .iter()
                .filter(|n| n.text.starts_with("capstan refused a request"))
                .count();
            assert_eq!(refused, 5, "{}", text(&result));
            assert!(
                text(&result).contains("capstan refused 995 more requests"),
                "{}",
                text(&result)
            );
            assert!(
                text(&result).len() < 32 << 10,
                "{} bytes of notes",
                text(&result).len()
            );
            let log = w.capstan.log_text();
            assert!(
                !log.contains("secret-query"),
                "a query string reached the log"
            );
            let recorded = log
                .lines()
                .filter(|line| line.contains("egress denied") && !line.contains("of this call"))
                .count();
            assert_eq!(recorded, 5, "{}", &log[..log.len().min(4000)]);
            assert!(
                log.contains("995 more requests of this call"),
                "no summary line"
            );
            assert!(log.len() < 256 << 10, "the log grew to {} bytes", log.len());
        }
        other => panic!("no attack named {other}"),
    }
}

async fn spelled_loopback(w: &World, host: &str) {
    let authority = format!("{host}:{}", w.api.port());
    let result = w.attack(w.request("http", &authority, "/api/never")).await;
    assert_denied(&result);
}

/// Asks the `api` target to redirect to `to` with `status`; the hop must be denied.
async fn redirected(w: &World, to: &str, status: &str) {
    redirected_from(w, "http", &w.api_authority(), to, status).await;
}

/// Asks the target at `scheme://authority` to redirect to `to` with `status`; the hop must
/// be denied.
async fn redirected_from(w: &World, scheme: &str, authority: &str, to: &str, status: &str) {
    let path = format!(
        "/api/redirect?status={status}&to={}",
        percent_encoding::utf8_percent_encode(to, percent_encoding::NON_ALPHANUMERIC)
    );
    let result = w.attack(w.request(scheme, authority, &path)).await;
    assert_eq!(
        structured(&result)["error"],
        "HttpRequestDenied",
        "{}",
        text(&result)
    );
    assert!(
        text(&result).contains("redirected from"),
        "{}",
        text(&result)
    );
}

/// The downgrade keeps host, port and path prefix, so only the scheme can refuse it; had it
/// been followed, the token would have reached the same listener in clear (the upstream
/// answers plain HTTP on its TLS port, and `assert_contained` fails on that).
async fn try_redirect_https_to_http(w: &World) {
    let secure = format!("secure.test:{}", w.secure.port());
    redirected_from(
        w,
        "https",
        &secure,
        &format!("http://{secure}/api/never"),
        "302",
    )
    .await;
    let hops = w.secure.seen_with("/api/redirect");
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert_eq!(hops[0].scheme, "https");
    assert_eq!(hops[0].values("authorization"), [format!("Bearer {TOKEN}")]);
}

async fn try_redirect_keeps_no_token(w: &World) {
    let to = format!("http://sink.test:{}/landing", w.sink.port());
    let path = format!(
        "/api/redirect?to={}",
        percent_encoding::utf8_percent_encode(&to, percent_encoding::NON_ALPHANUMERIC)
    );
    let result = w.attack(w.request("http", &w.api_authority(), &path)).await;
    assert_eq!(structured(&result)["status"], 200, "{}", text(&result));
    let landed = w.sink.seen_with("/landing");
    assert_eq!(landed.len(), 1);
    assert_eq!(
        landed[0].values("authorization"),
        Vec::<String>::new(),
        "{:?}",
        landed[0].headers
    );
}

async fn try_forged_host_header(w: &World) {
    let result = w
        .attack(w.call(
            "request",
            json!({"scheme": "http", "authority": w.api_authority(), "path_with_query": "/api/host",
                   "headers": [["host", "evil.test"]]}),
        ))
        .await;
    let report = structured(&result);
    let arrived = w.api.seen_with("/api/host");
    match report["stage"].as_str() {
        Some("header") => assert!(arrived.is_empty()),
        _ => {
            let host = [w.api_authority()];
            assert!(
                arrived.iter().all(|s| s.values("host") == host),
                "{arrived:?}"
            );
        }
    }
    assert!(w.evil.seen().is_empty());
}

async fn try_token_sent_elsewhere(w: &World) {
    let sink = format!("sink.test:{}", w.sink.port());
    let result = w
        .attack(w.call(
            "request",
            json!({"scheme": "http", "authority": sink, "path_with_query": "/collect",
                   "headers": [["authorization", "Bearer guess"]]}),
        ))
        .await;
    assert_eq!(structured(&result)["status"], 200, "{}", text(&result));
    let collected = w.sink.seen_with("/collect");
    assert_eq!(collected.len(), 1);
    assert_eq!(collected[0].values("authorization"), ["Bearer guess"]);
}

async fn try_forbidden_imports(w: &World) {
    let failures = w.capstan.load_failures();
    let (_, error) = failures
        .iter()
        .find(|(manifest, _)| manifest.contains("forbidden"))
        .expect("the forbidden component is refused");
    assert!(
        error.contains("wasi:filesystem") || error.contains("wasi:sockets"),
        "{error}"
    );
    w.attack(async { w.request("http", &w.api_authority(), "/api/ok").await })
        .await;
    let tools = w.client.tools().await.expect("listing tools");
    assert!(tools.iter().all(|tool| !tool.name.starts_with("forbidden")));
}

async fn try_other_contract(w: &World) {
    let failures = w.capstan.load_failures();
    let (_, error) = failures
        .iter()
        .find(|(manifest, _)| manifest.contains("legacy"))
        .expect("the component of another contract version is refused");
    assert!(
        error.contains("capstan plugin contract 0.1.0") && error.contains("rebuild"),
        "{error}"
    );
    w.well_behaved().await;
    let tools = w.client.tools().await.expect("listing tools");
    assert!(tools.iter().all(|tool| !tool.name.starts_with("legacy")));
}

/// The peak resident memory of capstan so far, in bytes.
fn peak_memory(w: &World) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.capstan.pid()))
        .expect("reading capstan's /proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kib * 1024
}

async fn try_structured_output_bomb(w: &World) {
    w.well_behaved().await;
    let before = peak_memory(w);
    let result = w.attack(w.call("structured_bomb", json!({"mib": 3}))).await;
    assert_truncated(&result);
    let grown = peak_memory(w).saturating_sub(before);
    // The guest's own memory (its 3 MiB text and the store) counts too; parsing the text into
    // JSON values would add about 50 MiB.
    assert!(
        grown < 32 << 20,
        "capstan's peak memory grew by {} MiB",
        grown >> 20
    );
    let result = w
        .attack(w.call("structured_bomb", json!({"mib": 32})))
        .await;
    assert_not_copied(&result);
}

async fn try_huge_prompt(w: &World) {
    for (mib, expected) in [("1", "result cap"), ("10", NOT_COPIED)] {
        let params = rmcp::model::GetPromptRequestParams::new("hostile_huge")
            .with_arguments(json!({ "mib": mib }).as_object().unwrap().clone());
        let answer = w.client.service().get_prompt(params).await;
        let error = answer
            .expect_err("a prompt over the result cap must be refused")
            .to_string();
        assert!(error.contains(expected), "{error}");
        w.well_behaved().await;
    }
}

async fn try_tool_flood() {
    let plugins = PluginDir::new();
    plugins.manifest("flooder", "hostile", "[config]\ntool_flood = \"300\"\n");
    plugins.manifest(
        "wordy",
        "hostile",
        "[config]\ntool_description_mib = \"2\"\n",
    );
    plugins.manifest("good", "probe", "");
    let capstan = Capstan::start(&plugins);
    let failures = capstan.load_failures();
    for (instance, limit) in [("flooder", "256"), ("wordy", "1048576 bytes")] {
        let (_, error) = failures
            .iter()
            .find(|(manifest, _)| manifest.contains(instance))
            .unwrap_or_else(|| panic!("{instance} was loaded: {failures:?}"));
        assert!(error.contains(limit), "{error}");
    }
    let client = Client::connect(&capstan.url()).await.expect("connecting");
    let echo = client
        .call("good_echo", json!({"text": "still here"}))
        .await
        .expect("calling good_echo");
    assert!(text(&echo).contains("still here"));
}

#[test]
fn security_doc_lists_the_corpus() {
    let mut table = String::from("| Test | Attack | Outcome |\n|---|---|---|\n");
    for (id, attack, outcome) in CORPUS {
        table.push_str(&format!("| `{id}` | {attack} | {outcome} |\n"));
    }
    let doc_path = paths::repo_root().join("docs/security.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/security.md exists");
    let (begin, end) = ("<!-- corpus:begin -->\n", "<!-- corpus:end -->");
    let start = doc.find(begin).expect("a corpus:begin marker") + begin.len();
    let stop = doc.find(end).expect("a corpus:end marker");
    if doc[start..stop] == table {
        return;
    }
    if std::env::var_os("CAPSTAN_BLESS").is_some() {
        let updated = format!("{}{table}{}", &doc[..start], &doc[stop..]);
        std::fs::write(&doc_path, updated).expect("rewriting docs/security.md");
        return;
    }
    panic!(
        "docs/security.md's corpus table differs from tests/tests/e2e/hostile.rs; run the test with CAPSTAN_BLESS=1 to update it"
    );
}
