//! Identity end to end with a real OpenID provider (oidc-provider, `tests/oidc`): the provider
//! and the token flows the other tests rely on, then capstan as an OAuth 2.1 resource server
//! driven by real clients (rmcp with a bearer token, the MCP Python SDK doing the whole OAuth
//! dance). One provider serves the whole module.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use capstan_tests::capstan::{Capstan, Options, PluginDir, free_address};
use capstan_tests::client::Client;
use capstan_tests::oidc::{
    EXCHANGE_CLIENT, IdentityProvider, MCP_SCOPE, SERVICE_GROUPS, SigningAlg, decode_jwt,
    groups_of, tamper_signature,
};
use capstan_tests::{http_client, paths};
use serde_json::{Value, json};

/// The resource the provider-only tests ask tokens for (nothing listens there).
const RESOURCE: &str = "http://127.0.0.1:9/mcp";
/// A downstream audience for token exchange.
const DOWNSTREAM: &str = "https://argocd.example.test";

fn provider() -> &'static IdentityProvider {
    static PROVIDER: OnceLock<IdentityProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| IdentityProvider::start(&[RESOURCE, DOWNSTREAM]))
}

async fn get_json(url: &str) -> Value {
    let response = http_client().get(url).send().await.expect("GET");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().await.expect("a JSON body")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_provider_publishes_discovery_and_a_key_per_algorithm() {
    let idp = provider();
    let discovery = get_json(&idp.url("/.well-known/openid-configuration")).await;
    assert_eq!(discovery["issuer"], idp.issuer());
    assert_eq!(discovery["jwks_uri"], idp.url("/jwks"));
    assert_eq!(discovery["token_endpoint"], idp.url("/token"));
    assert!(
        discovery["registration_endpoint"].is_string(),
        "{discovery}"
    );
    assert_eq!(
        strings(&discovery["code_challenge_methods_supported"]),
        ["S256"]
    );
    let grants = strings(&discovery["grant_types_supported"]);
    for grant in [
        "authorization_code",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ] {
        assert!(grants.contains(&grant), "{grant} missing from {grants:?}");
    }
    assert!(strings(&discovery["scopes_supported"]).contains(&MCP_SCOPE));

    let jwks = get_json(&idp.url("/jwks")).await;
    let keys = jwks["keys"].as_array().expect("keys");
    for alg in SigningAlg::ALL {
        let key = keys
            .iter()
            .find(|key| key["alg"] == alg.name())
            .unwrap_or_else(|| panic!("no {} key in {jwks}", alg.name()));
        assert!(key["kid"].is_string() && key.get("d").is_none(), "{key}");
    }
}

#[tokio::test]
async fn client_credentials_tokens_are_jwts_for_the_resource_signed_with_each_algorithm() {
    let idp = provider();
    let jwks = get_json(&idp.url("/jwks")).await;
    for alg in SigningAlg::ALL {
        let token = idp
            .client_credentials_token(RESOURCE, MCP_SCOPE, alg)
            .await
            .expect("a client-credentials token");
        let (header, claims) = decode_jwt(&token);
        assert_eq!(header["alg"], alg.name());
        assert_eq!(header["typ"], "at+jwt");
        let kid = header["kid"].as_str().expect("a kid");
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == kid),
            "{kid} is not published"
        );
        assert_eq!(claims["iss"], idp.issuer());
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["sub"], alg.client_id());
        assert_eq!(claims["client_id"], alg.client_id());
        assert_eq!(claims["scope"], MCP_SCOPE);
        assert_eq!(claims["groups"], json!(SERVICE_GROUPS));
        assert!(claims["exp"].as_i64() > claims["iat"].as_i64(), "{claims}");
    }
    let refused = idp
        .client_credentials_token("http://127.0.0.1:9/elsewhere", MCP_SCOPE, SigningAlg::Rs256)
        .await
        .expect_err("a resource the provider does not know");
    assert_eq!(refused.error, "invalid_target", "{refused}");
}

#[tokio::test]
async fn users_get_tokens_with_their_groups_through_authorization_code_and_pkce() {
    let idp = provider();
    for user in ["alice", "bob"] {
        let token = idp
            .user_token(user, RESOURCE, &format!("openid {MCP_SCOPE}"))
            .await
            .unwrap_or_else(|error| panic!("a token for {user}: {error}"));
        let (header, claims) = decode_jwt(&token);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["iss"], idp.issuer());
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["sub"], user);
        assert_eq!(claims["groups"], json!(groups_of(user)));
        assert_eq!(claims["scope"], MCP_SCOPE);
        assert_eq!(claims["client_id"], SigningAlg::Rs256.client_id());
    }
    assert_eq!(groups_of("alice"), ["developers"]);
    assert!(provider().log_text().contains("interaction user=bob"));
    let unknown = idp
        .user_token("mallory", RESOURCE, MCP_SCOPE)
        .await
        .expect_err("an unknown user");
    assert_eq!(unknown.error, "unknown_user", "{unknown}");
}

#[tokio::test]
async fn token_exchange_keeps_the_person_and_names_the_actor() {
    let idp = provider();
    let alice = idp
        .user_token("alice", RESOURCE, MCP_SCOPE)
        .await
        .expect("alice's token");
    let exchanged = idp.exchange(&alice, DOWNSTREAM).await.expect("an exchange");
    let (header, claims) = decode_jwt(&exchanged);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["aud"], DOWNSTREAM);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["groups"], json!(["developers"]));
    assert_eq!(claims["act"], json!({ "sub": EXCHANGE_CLIENT.0 }));
    assert!(
        idp.log_text().contains(&format!(
            "token-exchange client=capstan sub=alice audience={DOWNSTREAM}"
        )),
        "{}",
        idp.log_text()
    );

    let forged = tamper_signature(&alice);
    let refused = idp
        .exchange(&forged, DOWNSTREAM)
        .await
        .expect_err("a bad signature");
    assert_eq!(refused.error, "invalid_grant", "{refused}");
    let expired = idp
        .mint(json!({ "sub": "alice", "aud": RESOURCE, "ttl": -60 }))
        .await;
    let refused = idp
        .exchange(&expired, DOWNSTREAM)
        .await
        .expect_err("an expired token");
    assert_eq!(refused.error, "invalid_grant", "{refused}");
    let refused = idp
        .exchange(&alice, "https://unknown.example.test")
        .await
        .expect_err("an unknown audience");
    assert_eq!(refused.error, "invalid_target", "{refused}");
}

#[tokio::test]
async fn minted_tokens_and_rotated_keys_are_what_the_provider_publishes() {
    // A provider of its own: rotation changes the keys every other test's tokens use.
    let idp = IdentityProvider::start(&[RESOURCE]);
    let minted = idp
        .mint(json!({ "sub": "bob", "ttl": 5, "alg": "ES256" }))
        .await;
    let (header, claims) = decode_jwt(&minted);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["groups"], json!(["sre"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        5
    );

    let before = get_json(&idp.url("/jwks")).await;
    let kids = idp.rotate_keys().await;
    let after = get_json(&idp.url("/jwks")).await;
    let published: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    for kid in &kids {
        assert!(
            published.contains(&kid.as_str()),
            "{kid} not in {published:?}"
        );
    }
    for old in before["keys"].as_array().unwrap() {
        assert!(
            published.contains(&old["kid"].as_str().unwrap()),
            "old keys stay published"
        );
    }
    let token = idp
        .client_credentials_token(RESOURCE, MCP_SCOPE, SigningAlg::Rs256)
        .await
        .expect("a token after rotation");
    let (header, _) = decode_jwt(&token);
    assert!(
        kids.contains(&header["kid"].as_str().unwrap().to_owned()),
        "{header}"
    );
}

// ---------------------------------------------------------------------------------------------
// capstan as an OAuth resource server.

/// capstan serving the probe plugin, with OAuth against the module's provider: its audience is
/// its own MCP URL, which the provider is told to issue tokens for.
struct Protected {
    _plugins: PluginDir,
    capstan: Capstan,
    _policy: Option<tempfile::NamedTempFile>,
}

impl Protected {
    async fn start(policy: Option<&str>) -> Self {
        Self::start_with(provider(), policy).await
    }

    async fn start_with(idp: &IdentityProvider, policy: Option<&str>) -> Self {
        let address: SocketAddr = free_address();
        let audience = format!("http://{address}/mcp");
        idp.allow_resource(&audience).await;
        let plugins = PluginDir::new();
        plugins.manifest("probe", "probe", "prefix = \"probe\"");
        let mut args = vec![
            "--oauth-issuer".to_owned(),
            idp.issuer().to_owned(),
            "--oauth-audience".to_owned(),
            audience,
            "--oauth-required-scope".to_owned(),
            MCP_SCOPE.to_owned(),
        ];
        let policy = policy.map(|text| {
            let file = tempfile::NamedTempFile::new().expect("a policy file");
            std::fs::write(file.path(), text).expect("writing the policy");
            args.push("--policy".to_owned());
            args.push(file.path().display().to_string());
            file
        });
        let options = Options {
            args,
            listen: Some(address),
            ..Options::default()
        };
        let capstan = Capstan::start_with(&plugins, options);
        Self {
            _plugins: plugins,
            capstan,
            _policy: policy,
        }
    }

    fn url(&self) -> String {
        self.capstan.url()
    }

    fn metadata_url(&self) -> String {
        format!(
            "http://{}/.well-known/oauth-protected-resource/mcp",
            self.capstan.address()
        )
    }

    /// POSTs an initialize request with `token` (if any); returns status and WWW-Authenticate.
    async fn initialize(&self, token: Option<&str>) -> (u16, String) {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": { "name": "e2e", "version": "0" }
            }
        });
        let mut request = http_client()
            .post(self.url())
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /mcp");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (response.status().as_u16(), challenge)
    }
}

#[tokio::test]
async fn capstan_challenges_and_publishes_its_resource_metadata() {
    let idp = provider();
    let server = Protected::start(None).await;

    let (status, challenge) = server.initialize(None).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("resource_metadata=\"{}\"", server.metadata_url())),
        "{challenge}"
    );
    let metadata = get_json(&server.metadata_url()).await;
    assert_eq!(metadata["resource"], server.url());
    assert_eq!(metadata["authorization_servers"], json!([idp.issuer()]));

    for alg in SigningAlg::ALL {
        let token = idp
            .client_credentials_token(&server.url(), MCP_SCOPE, alg)
            .await
            .expect("a token for capstan");
        assert_eq!(
            server.initialize(Some(&token)).await.0,
            200,
            "{}",
            alg.name()
        );
    }

    let alice = idp
        .user_token("alice", &server.url(), MCP_SCOPE)
        .await
        .expect("alice's token");
    let bearer = format!("Bearer {alice}");
    let client = Client::connect_with_headers(&server.url(), &[("authorization", &bearer)])
        .await
        .expect("connecting with alice's token");
    let names: Vec<String> = client
        .tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    assert!(names.contains(&"probe_echo".to_owned()), "{names:?}");
    let echo = client
        .call("probe_echo", json!({ "text": "hi", "times": 1 }))
        .await
        .expect("tools/call");
    assert_ne!(echo.is_error, Some(true), "{echo:?}");
    assert!(
        !server.capstan.log_text().contains(&alice),
        "capstan logged the inbound token"
    );
}

#[tokio::test]
async fn capstan_refuses_tokens_that_are_not_for_it() {
    let idp = provider();
    let server = Protected::start(None).await;
    let refusals = [
        (
            "another audience",
            idp.client_credentials_token(RESOURCE, MCP_SCOPE, SigningAlg::Rs256)
                .await
                .expect("a token for another resource"),
        ),
        (
            "expired",
            idp.mint(json!({ "aud": server.url(), "ttl": -120 })).await,
        ),
        (
            "another issuer",
            idp.mint(json!({ "aud": server.url(), "claims": { "iss": "http://127.0.0.1:9" } }))
                .await,
        ),
        ("tampered", {
            tamper_signature(&idp.mint(json!({ "aud": server.url() })).await)
        }),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (what, token) in refusals {
        let (status, challenge) = server.initialize(Some(&token)).await;
        assert_eq!(status, 401, "{what}: {challenge}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert!(
            !challenge.contains(&token),
            "{what}: the challenge echoes the token"
        );
    }
    let no_scope = idp
        .mint(json!({ "aud": server.url(), "scope": "openid" }))
        .await;
    let (status, challenge) = server.initialize(Some(&no_scope)).await;
    assert_eq!(status, 403, "{challenge}");
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
}

#[tokio::test]
async fn capstan_accepts_tokens_signed_with_a_key_rotated_in_after_start() {
    // A provider of its own: rotation changes the keys the module's other tests see.
    let idp = IdentityProvider::start(&[]);
    let server = Protected::start_with(&idp, None).await;
    let before = idp
        .client_credentials_token(&server.url(), MCP_SCOPE, SigningAlg::Rs256)
        .await
        .expect("a token");
    assert_eq!(server.initialize(Some(&before)).await.0, 200);
    let kids = idp.rotate_keys().await;
    let after = idp
        .client_credentials_token(&server.url(), MCP_SCOPE, SigningAlg::Rs256)
        .await
        .expect("a token signed with the new key");
    assert!(kids.contains(&decode_jwt(&after).0["kid"].as_str().unwrap().to_owned()));
    assert_eq!(server.initialize(Some(&after)).await.0, 200);
    assert_eq!(
        server.initialize(Some(&before)).await.0,
        200,
        "the old key is still published"
    );
}

#[tokio::test]
async fn the_python_sdk_does_the_oauth_dance_and_policy_tells_alice_from_bob() {
    let policy = r#"
@id("developers-echo")
permit(principal in Capstan::Group::"developers", action, resource == Capstan::Tool::"probe_echo");
"#;
    let server = Protected::start(Some(policy)).await;
    let alice = json!({
        "listed": ["probe_echo"],
        "absent": ["probe_trap"],
        "succeed": { "probe_echo": { "text": "py", "times": 2 } },
        "refused": { "probe_trap": {} }
    });
    let bob = json!({
        "absent": ["probe_echo", "probe_trap"],
        "refused": { "probe_echo": { "text": "py", "times": 2 } }
    });
    for (user, expect) in [("alice", alice), ("bob", bob)] {
        let output = Command::new(python())
            .arg(paths::repo_root().join("tests/clients/python_oauth.py"))
            .arg(server.url())
            .arg(user)
            .arg(expect.to_string())
            .output()
            .expect("running python_oauth.py");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "python_oauth.py for {user} failed:\n{stdout}\n{}\ncapstan's log:\n{}",
            String::from_utf8_lossy(&output.stderr),
            server.capstan.log_text()
        );
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("ok ")).count(),
            2,
            "{stdout}"
        );
    }
}

/// The MCP Python SDK's interpreter that `./dev` installs.
fn python() -> PathBuf {
    let python = paths::repo_root().join("target/tools/py/bin/python");
    assert!(
        python.is_file(),
        "the MCP Python SDK is not installed at {}: run `./dev test` (it installs mcp in \
         target/tools/py)",
        python.display()
    );
    python
}

#[tokio::test]
async fn the_upstream_sees_the_person_through_a_token_exchange_never_capstans_inbound_token() {
    let idp = provider();
    let argocd = capstan_tests::fakes::argocd::start(capstan_tests::fakes::demo::argocd())
        .await
        .unwrap();
    let discovery = get_json(&idp.url("/.well-known/openid-configuration")).await;
    let token_endpoint = discovery["token_endpoint"].as_str().unwrap().to_owned();
    let address: SocketAddr = free_address();
    let audience = format!("http://{address}/mcp");
    idp.allow_resource(&audience).await;
    let plugins = PluginDir::new();
    plugins.manifest(
        "argocd",
        "argocd",
        &format!(
            "[[targets]]\nname = \"prod\"\nurl = \"{}\"\nauth = {{ token_exchange = {{ endpoint = \"{token_endpoint}\", audience = \"{DOWNSTREAM}\", client_id = \"{}\", client_secret_env = \"EXCHANGE_SECRET\" }} }}\n",
            argocd.base_url(),
            EXCHANGE_CLIENT.0,
        ),
    );
    let options = Options {
        args: [
            "--oauth-issuer",
            idp.issuer(),
            "--oauth-audience",
            &audience,
            "--oauth-required-scope",
            MCP_SCOPE,
        ]
        .map(String::from)
        .to_vec(),
        env: vec![("EXCHANGE_SECRET".into(), EXCHANGE_CLIENT.1.into())],
        listen: Some(address),
        ..Options::default()
    };
    let capstan = Capstan::start_with(&plugins, options);
    let token = idp
        .user_token("alice", &audience, MCP_SCOPE)
        .await
        .expect("alice's token");
    let client = Client::connect_with(
        &capstan.url(),
        &capstan_tests::client::ClientOptions::bearer(&token),
    )
    .await
    .unwrap();
    let app = client
        .call(
            "argocd_get_application",
            json!({"applicationName": "payments-api"}),
        )
        .await
        .unwrap();
    assert!(
        !capstan_tests::client::is_error(&app),
        "{}",
        capstan_tests::client::text(&app)
    );
    let seen = argocd.requests();
    assert!(!seen.is_empty());
    let (_, inbound) = decode_jwt(&token);
    for request in &seen {
        let presented = request
            .authorization()
            .and_then(|value| value.strip_prefix("Bearer "))
            .expect("an exchanged bearer token");
        assert_ne!(presented, token, "capstan forwarded the inbound token");
        let (_, exchanged) = decode_jwt(presented);
        assert_eq!(exchanged["sub"], inbound["sub"], "{exchanged}");
        assert_eq!(exchanged["aud"], DOWNSTREAM, "{exchanged}");
        assert_eq!(exchanged["act"]["sub"], EXCHANGE_CLIENT.0, "{exchanged}");
    }
    assert!(idp.log_text().contains("token-exchange client=capstan"));
    assert!(
        !capstan.log_text().contains(&token),
        "the inbound token is in the log"
    );
}
