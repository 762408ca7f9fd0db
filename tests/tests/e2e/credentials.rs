//! Credentials and TLS per target: every form of `auth` reaches the upstream as the right
//! header, replaces whatever the plugin set, follows rotation without a reload, stays with its
//! own target across redirects, and never shows up in a tool result or capstan's log.

use base64::Engine as _;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::pki::Pki;
use capstan_tests::upstream::Upstream;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// A capstan serving the probe as instance `probe` with `targets`, with `env` set.
async fn serve(targets: &str, env: &[(&str, &str)]) -> (PluginDir, Capstan, Client) {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", targets);
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url())
        .await
        .expect("connecting to capstan");
    (plugins, capstan, client)
}

/// A path as a TOML string.
fn toml_path(path: &std::path::Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Calls the probe's `fetch` tool with `url` and the guest's own `headers`.
async fn fetch(client: &Client, url: &str, headers: Value) -> CallToolResult {
    client
        .call("probe_fetch", json!({"url": url, "headers": headers}))
        .await
        .expect("tools/call")
}

/// Asserts the call succeeded and the upstream answered 200.
fn assert_ok(result: &CallToolResult) {
    assert!(!is_error(result), "the call failed: {}", text(result));
    let structured = result
        .structured_content
        .as_ref()
        .expect("structured output");
    assert_eq!(structured["status"], 200, "{structured}");
}

/// Asserts none of `secrets` appears in the results (text or structured) or capstan's log.
fn assert_hidden(secrets: &[&str], results: &[&CallToolResult], capstan: &Capstan) {
    let log = capstan.log_text();
    for secret in secrets {
        for result in results {
            let shown = serde_json::to_string(result).expect("a result serialises");
            assert!(
                !shown.contains(secret),
                "`{secret}` is in a result: {shown}"
            );
        }
        assert!(!log.contains(secret), "`{secret}` is in capstan's log");
    }
}

#[tokio::test]
async fn a_rotated_bearer_file_is_used_from_the_next_request_without_a_reload() {
    let upstream = Upstream::http().await;
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    let (first_token, second_token) = ("token-a-51f0c9", "token-b-77e2d4");
    std::fs::write(&token, format!("{first_token}\n")).unwrap();
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"api\"\nurl = \"{}\"\nauth = {{ bearer_file = {} }}",
            upstream.url(),
            toml_path(&token)
        ),
        &[],
    )
    .await;

    let first = fetch(&client, &format!("{}/v1/first", upstream.url()), json!({})).await;
    std::fs::write(&token, format!("{second_token}\n")).unwrap();
    let second = fetch(&client, &format!("{}/v1/second", upstream.url()), json!({})).await;

    assert_ok(&first);
    assert_ok(&second);
    let sent: Vec<Vec<String>> = upstream
        .seen()
        .iter()
        .map(|seen| seen.values("authorization"))
        .collect();
    assert_eq!(
        sent,
        [
            vec![format!("Bearer {first_token}")],
            vec![format!("Bearer {second_token}")]
        ]
    );
    assert_hidden(&[first_token, second_token], &[&first, &second], &capstan);
}

#[tokio::test]
async fn a_header_credential_replaces_every_value_the_plugin_set() {
    let upstream = Upstream::http().await;
    let secrets = tempfile::tempdir().unwrap();
    let value_file = secrets.path().join("cf-token");
    let (from_file, from_env) = ("cf-file-3a9e01", "cf-env-c40b7d");
    std::fs::write(&value_file, format!("{from_file}\n")).unwrap();
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"by-file\"\nurl = \"{url}/file\"\n\
             auth = {{ header = \"Cf-Access-Token\", value_file = {} }}\n\
             [[targets]]\nname = \"by-env\"\nurl = \"{url}/env\"\n\
             auth = {{ header = \"Cf-Access-Token\", value_env = \"CF_TOKEN\" }}",
            toml_path(&value_file),
            url = upstream.url(),
        ),
        &[("CF_TOKEN", from_env)],
    )
    .await;

    // Two spellings make the guest send two values; both must go.
    let forged = json!({"Cf-Access-Token": "guest-forged", "cf-access-token": "guest-again"});
    let by_file = fetch(
        &client,
        &format!("{}/file/x", upstream.url()),
        forged.clone(),
    )
    .await;
    let by_env = fetch(&client, &format!("{}/env/x", upstream.url()), forged).await;

    assert_ok(&by_file);
    assert_ok(&by_env);
    let sent: Vec<(String, Vec<String>)> = upstream
        .seen()
        .iter()
        .map(|seen| (seen.path.clone(), seen.values("cf-access-token")))
        .collect();
    assert_eq!(
        sent,
        [
            ("/file/x".to_owned(), vec![from_file.to_owned()]),
            ("/env/x".to_owned(), vec![from_env.to_owned()])
        ]
    );
    assert_hidden(&[from_file, from_env], &[&by_file, &by_env], &capstan);
}

#[tokio::test]
async fn basic_credentials_reach_the_upstream_encoded() {
    let upstream = Upstream::http().await;
    let password = "pa55-w0rd-9c1d2e";
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"api\"\nurl = \"{}\"\n\
             auth = {{ username = \"admin\", password_env = \"API_PASSWORD\" }}",
            upstream.url()
        ),
        &[("API_PASSWORD", password)],
    )
    .await;

    let result = fetch(
        &client,
        &format!("{}/v1", upstream.url()),
        json!({"authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="}),
    )
    .await;

    assert_ok(&result);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
    assert_eq!(
        upstream.only_request().values("authorization"),
        [format!("Basic {encoded}")]
    );
    assert_hidden(&[password, &encoded], &[&result], &capstan);
}

#[tokio::test]
async fn passthrough_forwards_the_mcp_clients_header_to_its_target_only() {
    let forwarding = Upstream::http().await;
    let plain = Upstream::http().await;
    let user_token = "u-123-4be0f2";
    let (_plugins, capstan, _client) = serve(
        &format!(
            "[[targets]]\nname = \"user\"\nurl = \"{}\"\nauth = {{ passthrough = \"X-User-Token\" }}\n\
             [[targets]]\nname = \"plain\"\nurl = \"{}\"",
            forwarding.url(), plain.url()
        ),
        &[],
    )
    .await;
    let client = Client::connect_with_headers(&capstan.url(), &[("X-User-Token", user_token)])
        .await
        .expect("connecting with a user token");

    let forwarded = fetch(&client, &format!("{}/v1", forwarding.url()), json!({})).await;
    let not_forwarded = fetch(&client, &format!("{}/v1", plain.url()), json!({})).await;

    assert_ok(&forwarded);
    assert_ok(&not_forwarded);
    assert_eq!(
        forwarding.only_request().values("x-user-token"),
        [user_token]
    );
    assert_eq!(
        plain.only_request().values("x-user-token"),
        Vec::<String>::new()
    );

    let anonymous = Client::connect(&capstan.url()).await.unwrap();
    let missing = fetch(&anonymous, &format!("{}/v1", forwarding.url()), json!({})).await;
    assert!(is_error(&missing), "{}", text(&missing));
    assert!(
        text(&missing).to_ascii_lowercase().contains("x-user-token"),
        "the error should name the missing header: {}",
        text(&missing)
    );
    assert_eq!(
        forwarding.seen().len(),
        1,
        "a call without the header reached the target"
    );
    assert_hidden(&[user_token], &[&forwarded, &not_forwarded], &capstan);
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_by_the_target_that_names_it() {
    let pki = Pki::new();
    let upstream = Upstream::https(&pki).await;
    let token = "tls-token-0d8c31";
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"untrusted\"\nurl = \"{url}/untrusted\"\nauth = {{ bearer_env = \"API_TOKEN\" }}\n\
             [[targets]]\nname = \"trusted\"\nurl = \"{url}/trusted\"\nauth = {{ bearer_env = \"API_TOKEN\" }}\n\
             tls = {{ ca_file = {} }}",
            toml_path(&pki.file("ca.pem")),
            url = upstream.url(),
        ),
        &[("API_TOKEN", token)],
    )
    .await;

    let refused = fetch(
        &client,
        &format!("{}/untrusted/x", upstream.url()),
        json!({}),
    )
    .await;
    assert!(is_error(&refused), "{}", text(&refused));
    let message = text(&refused).to_ascii_lowercase();
    assert!(
        message.contains("certificate"),
        "the error should say the certificate is not trusted: {message}"
    );
    let log = capstan.log_text();
    assert!(
        log.lines()
            .any(|line| line.contains("egress failed") && line.contains("invalid peer certificate")),
        "the audit log should give the reason:\n{log}"
    );

    let trusted = fetch(&client, &format!("{}/trusted/x", upstream.url()), json!({})).await;
    assert_ok(&trusted);
    let seen = upstream.only_request();
    assert_eq!(seen.path, "/trusted/x");
    assert_eq!(seen.values("authorization"), [format!("Bearer {token}")]);
    assert_hidden(&[token], &[&refused, &trusted], &capstan);
}

#[tokio::test]
async fn a_rotated_ca_bundle_reloads_the_instance_that_reads_it() {
    let pki = Pki::new();
    let stale = Pki::new();
    let upstream = Upstream::https(&pki).await;
    // The bundle lives outside the plugin folder: its own folder must be watched.
    let secrets = tempfile::tempdir().unwrap();
    let bundle = secrets.path().join("ca.pem");
    std::fs::write(&bundle, stale.ca_pem()).unwrap();
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"api\"\nurl = \"{}\"\ntls = {{ ca_file = {} }}",
            upstream.url(),
            toml_path(&bundle),
        ),
        &[],
    )
    .await;
    let url = format!("{}/x", upstream.url());
    let refused = fetch(&client, &url, json!({})).await;
    assert!(is_error(&refused), "{}", text(&refused));

    // Rotated the way a mounted Secret is: a new file renamed over the old one.
    let fresh = secrets.path().join(".ca.pem.new");
    std::fs::write(&fresh, pki.ca_pem()).unwrap();
    std::fs::rename(&fresh, &bundle).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = fetch(&client, &url, json!({})).await;
        if !is_error(&answer) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the instance never picked up the rotated CA bundle: {}\n{}",
            text(&answer),
            capstan.log_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(upstream.only_request().path, "/x");
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate_only_where_configured() {
    let pki = Pki::new();
    let upstream = Upstream::builder().mutual_tls(&pki).start().await;
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"with-cert\"\nurl = \"{url}/with-cert\"\n\
             tls = {{ ca_file = {ca}, client_cert = {}, client_key = {} }}\n\
             [[targets]]\nname = \"without-cert\"\nurl = \"{url}/without-cert\"\n\
             tls = {{ ca_file = {ca} }}",
            toml_path(&pki.file("client.pem")),
            toml_path(&pki.file("client.key")),
            ca = toml_path(&pki.file("ca.pem")),
            url = upstream.url(),
        ),
        &[],
    )
    .await;

    let refused = fetch(
        &client,
        &format!("{}/without-cert/x", upstream.url()),
        json!({}),
    )
    .await;
    assert!(is_error(&refused), "{}", text(&refused));
    assert!(
        text(&refused).to_ascii_lowercase().contains("tls"),
        "the error should say TLS failed: {}",
        text(&refused)
    );
    assert!(
        upstream.seen().is_empty(),
        "a request without a client certificate got through"
    );

    let accepted = fetch(
        &client,
        &format!("{}/with-cert/x", upstream.url()),
        json!({}),
    )
    .await;
    assert_ok(&accepted);
    assert_eq!(upstream.only_request().path, "/with-cert/x");

    let key = std::fs::read_to_string(pki.file("client.key")).unwrap();
    let key_body = key.lines().nth(1).expect("a PEM body line");
    assert_hidden(&[key_body], &[&refused, &accepted], &capstan);
}

#[tokio::test]
async fn skipping_verification_works_and_is_logged_loudly() {
    let pki = Pki::new();
    let upstream = Upstream::https(&pki).await;
    let token = "insecure-token-e61a05";
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"lab\"\nurl = \"{}\"\nauth = {{ bearer_env = \"API_TOKEN\" }}\n\
             tls = {{ insecure_skip_verify = true }}",
            upstream.url()
        ),
        &[("API_TOKEN", token)],
    )
    .await;

    let result = fetch(&client, &format!("{}/v1", upstream.url()), json!({})).await;

    assert_ok(&result);
    assert_eq!(
        upstream.only_request().values("authorization"),
        [format!("Bearer {token}")]
    );
    let log = capstan.log_text();
    let warning = log
        .lines()
        .find(|line| line.contains("TLS verification is OFF"))
        .unwrap_or_else(|| panic!("no warning about verification being off in:\n{log}"));
    assert!(
        warning.contains("WARN") && warning.contains("lab"),
        "{warning}"
    );
    assert_hidden(&[token], &[&result], &capstan);
}

/// A kubeconfig whose context `test` points at `server` (trusting `ca_pem`) as `user`, and
/// whose current context points elsewhere, so only an explicit `context` reaches `server`.
fn kubeconfig(server: &str, ca_pem: &str, user: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\n\
         clusters:\n\
         - name: test-cluster\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
         - name: elsewhere-cluster\n  cluster:\n    server: https://127.0.0.1:9\n\
         contexts:\n\
         - name: test\n  context:\n    cluster: test-cluster\n    user: robot\n\
         - name: elsewhere\n  context:\n    cluster: elsewhere-cluster\n    user: robot\n\
         users:\n- name: robot\n  user:\n{user}\n"
    )
}

#[tokio::test]
async fn a_kubeconfig_context_gives_the_server_its_ca_and_token() {
    let pki = Pki::new();
    let upstream = Upstream::https(&pki).await;
    let token = "kube-token-72c1aa";
    let kube = tempfile::tempdir().unwrap();
    std::fs::write(kube.path().join("token"), format!("{token}\n")).unwrap();
    let config = kube.path().join("config");
    std::fs::write(
        &config,
        kubeconfig(upstream.url(), &pki.ca_pem(), "    tokenFile: token"),
    )
    .unwrap();
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"cluster\"\nauth = {{ kubeconfig = {}, context = \"test\" }}",
            toml_path(&config)
        ),
        &[],
    )
    .await;

    lists_namespaces_with_token(&client, &upstream, token, &capstan).await;
}

/// The probe lists namespaces on the cluster `upstream`; exactly that request arrives, with
/// `token`, which shows up nowhere else.
async fn lists_namespaces_with_token(
    client: &Client,
    upstream: &Upstream,
    token: &str,
    capstan: &Capstan,
) {
    let url = format!("{}/api/v1/namespaces", upstream.url());
    let result = fetch(client, &url, json!({})).await;
    assert_ok(&result);
    let seen = upstream.only_request();
    assert_eq!(seen.path, "/api/v1/namespaces");
    assert_eq!(seen.values("authorization"), [format!("Bearer {token}")]);
    assert_hidden(&[token], &[&result], capstan);
}

#[tokio::test]
async fn a_kubeconfig_user_that_runs_an_exec_plugin_fails_the_load_and_says_so() {
    let kube = tempfile::tempdir().unwrap();
    let config = kube.path().join("config");
    let exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token]";
    std::fs::write(&config, kubeconfig("https://127.0.0.1:9", "not a CA", exec)).unwrap();
    let plugins = PluginDir::new();
    plugins.manifest(
        "probe",
        "probe",
        &format!(
            "[[targets]]\nname = \"cluster\"\nauth = {{ kubeconfig = {}, context = \"test\" }}",
            toml_path(&config)
        ),
    );
    let capstan = Capstan::start(&plugins);

    let failures = capstan.load_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (manifest, error) = &failures[0];
    assert_eq!(manifest, "probe.toml");
    assert!(
        error.contains("exec") && error.contains("targets[0].auth"),
        "{error}"
    );
}

#[tokio::test]
async fn in_cluster_uses_the_pods_service_account() {
    let pki = Pki::new();
    let upstream = Upstream::https(&pki).await;
    let port = upstream.port().to_string();
    let token = "sa-token-90b3fe";
    let account = tempfile::tempdir().unwrap();
    std::fs::write(account.path().join("token"), format!("{token}\n")).unwrap();
    std::fs::write(account.path().join("ca.crt"), pki.ca_pem()).unwrap();
    let account_dir = account.path().display().to_string();
    let (_plugins, capstan, client) = serve(
        "[[targets]]\nname = \"cluster\"\nauth = { in_cluster = true }",
        &[
            ("CAPSTAN_SERVICE_ACCOUNT_DIR", account_dir.as_str()),
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", port.as_str()),
        ],
    )
    .await;

    lists_namespaces_with_token(&client, &upstream, token, &capstan).await;
}

#[tokio::test]
async fn a_redirect_carries_no_credential_to_another_target_and_none_outside_the_targets() {
    let other_target = Upstream::http().await;
    let canary = Upstream::http().await;
    let origin = Upstream::builder()
        .redirect("/to-target", format!("{}/landing", other_target.url()))
        .redirect("/to-outside", format!("{}/landing", canary.url()))
        .start()
        .await;
    let token = "origin-token-5e27c8";
    let (_plugins, capstan, client) = serve(
        &format!(
            "[[targets]]\nname = \"origin\"\nurl = \"{}\"\nauth = {{ bearer_env = \"ORIGIN_TOKEN\" }}\n\
             [[targets]]\nname = \"other\"\nurl = \"{}\"",
            origin.url(), other_target.url()
        ),
        &[("ORIGIN_TOKEN", token)],
    )
    .await;

    let followed = fetch(&client, &format!("{}/to-target", origin.url()), json!({})).await;
    assert_ok(&followed);
    let landed = other_target.only_request();
    assert_eq!(landed.path, "/landing");
    assert_eq!(landed.values("authorization"), Vec::<String>::new());

    let refused = fetch(&client, &format!("{}/to-outside", origin.url()), json!({})).await;
    assert!(is_error(&refused), "{}", text(&refused));
    let refused_url = format!("{}/landing", canary.url());
    assert!(
        text(&refused).contains(&refused_url),
        "the error should name {refused_url}: {}",
        text(&refused)
    );
    assert!(
        canary.seen().is_empty(),
        "a redirect outside the targets was followed"
    );

    let at_origin: Vec<Vec<String>> = origin
        .seen()
        .iter()
        .map(|seen| seen.values("authorization"))
        .collect();
    assert_eq!(at_origin, vec![vec![format!("Bearer {token}")]; 2]);
    assert_hidden(&[token], &[&followed, &refused], &capstan);
}
