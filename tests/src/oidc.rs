//! A real OpenID provider for end-to-end tests of capstan's OAuth support: `oidc-provider` on
//! Node (`tests/oidc/provider.mjs`) on loopback, and helpers that get tokens from it over plain
//! HTTP the way real clients do (client credentials, authorization code + PKCE through the
//! provider's headless login, RFC 8693 token exchange).
//!
//! `./dev test` installs Node 22 and the provider's npm dependencies before running the tests;
//! without them [`IdentityProvider::start`] fails and says so. The provider exits when the test
//! process does (it watches its standard input), so one provider can serve a whole test module
//! from a `static`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::paths;

/// Where the test clients' authorization codes are sent; nothing listens there, the helpers
/// read the code from the redirect.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The client that exchanges tokens (as capstan would): `(client_id, client_secret)`.
pub const EXCHANGE_CLIENT: (&str, &str) = ("capstan", "capstan-secret");
/// The scope the provider's resources accept unless started otherwise.
pub const MCP_SCOPE: &str = "mcp:tools";

/// The provider's users, with their groups (the `groups` claim of their tokens).
pub const USERS: &[(&str, &[&str])] = &[("alice", &["developers"]), ("bob", &["sre"])];
/// The groups of tokens issued to the test clients themselves (client credentials).
pub const SERVICE_GROUPS: &[&str] = &["automation"];

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The algorithm an access token is signed with; each has its own pre-registered test client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSA PKCS#1 v1.5 with SHA-256 (the default).
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// All of them.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The JOSE name (`alg` header).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// The pre-registered test client whose access tokens use this algorithm; its secret is
    /// `<client_id>-secret`.
    pub fn client_id(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "capstan-tests",
            SigningAlg::Es256 => "capstan-tests-es256",
            SigningAlg::EdDsa => "capstan-tests-eddsa",
        }
    }
}

/// An OAuth error response (RFC 6749 §5.2), or a failure to get any answer.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// HTTP status (0 when the request itself failed).
    pub status: u16,
    /// The `error` code, e.g. `invalid_grant`.
    pub error: String,
    /// The `error_description`, if any.
    pub description: String,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (HTTP {}): {}",
            self.error, self.status, self.description
        )
    }
}

impl std::error::Error for OAuthError {}

/// A running provider; killed when dropped.
pub struct IdentityProvider {
    child: Child,
    _stdin: ChildStdin,
    issuer: String,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl IdentityProvider {
    /// Starts the provider on a free loopback port, issuing JWT access tokens for `resources`
    /// (more can be added with [`allow_resource`](Self::allow_resource)), and waits until it
    /// listens.
    ///
    /// # Panics
    ///
    /// When Node 22 or the provider's npm dependencies are not installed (run `./dev test`,
    /// which installs both), or when the provider does not start.
    pub fn start(resources: &[&str]) -> Self {
        let node = node();
        let dir = paths::repo_root().join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the OpenID provider's npm dependencies are not installed in {}: run `./dev test` \
             (it runs `npm ci` there with Node 22)",
            dir.display()
        );
        let log_dir = tempfile::tempdir().expect("creating a log folder");
        let log = log_dir.path().join("provider.log");
        let file = std::fs::File::create(&log).expect("creating the provider log");
        let mut command = Command::new(&node);
        command
            .current_dir(&dir)
            .arg("provider.mjs")
            .arg("--port")
            .arg("0");
        for resource in resources {
            command.arg("--resource").arg(resource);
        }
        let mut child = command
            .env_remove("OIDC_PORT")
            .stdin(Stdio::piped())
            .stdout(file.try_clone().expect("duplicating the log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", node.display()));
        let stdin = child.stdin.take().expect("the provider's stdin");
        let mut provider = Self {
            child,
            _stdin: stdin,
            issuer: String::new(),
            log,
            _log_dir: log_dir,
        };
        provider.issuer = provider.wait_listening(Duration::from_secs(60));
        provider
    }

    fn wait_listening(&mut self, limit: Duration) -> String {
        let started = Instant::now();
        while started.elapsed() < limit {
            let text = self.log_text();
            if let Some(line) = text
                .lines()
                .find(|line| line.starts_with("listening http://"))
            {
                return line["listening ".len()..].trim().to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the OpenID provider exited ({status}); its output:\n{text}\n\
                     (run `./dev test` to install Node 22 and its dependencies)"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the OpenID provider did not start in {limit:?}; its output:\n{}",
            self.log_text()
        );
    }

    /// The issuer URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A URL on the provider, e.g. `url("/jwks")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Everything the provider printed so far (one line per login and per token exchange).
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Lets the provider issue tokens for one more resource (or exchange audience).
    pub async fn allow_resource(&self, resource: &str) {
        self.admin(
            "/admin/resources",
            &serde_json::json!({ "resource": resource }),
        )
        .await;
    }

    /// Replaces the signing keys with new ones (new `kid`s, published first in the JWKS; the
    /// old ones stay published). Returns the new kids.
    pub async fn rotate_keys(&self) -> Vec<String> {
        let answer = self.admin("/admin/rotate", &Value::Null).await;
        strings(&answer["kids"])
    }

    /// A JWT access token signed with the provider's current key, shaped like the ones its
    /// token endpoint issues, with the fields of `request` (all optional): `sub` (default
    /// alice), `aud` (default the first resource), `scope`, `groups` (default the user's),
    /// `ttl` in seconds (negative: already expired), `alg`, `client_id`, and `claims` (an
    /// object merged into the payload last). For expiry and claim-shape tests.
    pub async fn mint(&self, request: Value) -> String {
        let answer = self.admin("/admin/token", &request).await;
        answer["access_token"]
            .as_str()
            .expect("the minted token")
            .to_owned()
    }

    async fn admin(&self, path: &str, body: &Value) -> Value {
        let response = crate::http_client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {path} on the OpenID provider: {error}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// An access token for `resource` from the client-credentials grant of the test client
    /// that signs with `alg` (`sub` is that client's id, groups [`SERVICE_GROUPS`]); `scope`
    /// may be empty.
    pub async fn client_credentials_token(
        &self,
        resource: &str,
        scope: &str,
        alg: SigningAlg,
    ) -> Result<String, OAuthError> {
        let mut form = vec![("grant_type", "client_credentials"), ("resource", resource)];
        if !scope.is_empty() {
            form.push(("scope", scope));
        }
        let client = alg.client_id();
        let answer = self.token_request(client, &secret(client), &form).await?;
        access_token(&answer)
    }

    /// An access token for `resource` issued to `user` (alice or bob) through authorization
    /// code + PKCE (S256): the authorization request, the provider's headless login and
    /// consent, the redirect with the code, and the token request, all over plain HTTP.
    pub async fn user_token(
        &self,
        user: &str,
        resource: &str,
        scopes: &str,
    ) -> Result<String, OAuthError> {
        let client = SigningAlg::Rs256.client_id();
        let (verifier, challenge) = pkce_pair();
        let state = URL_SAFE_NO_PAD.encode(&Sha256::digest(verifier.as_bytes())[..12]);
        let query = form_encode(&[
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scopes),
            ("resource", resource),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", &state),
        ]);
        let redirect = self
            .authorize(&self.url(&format!("/auth?{query}")), user)
            .await?;
        let code = code_from_redirect(&redirect, &state)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
            ("resource", resource),
        ];
        let answer = self.token_request(client, &secret(client), &form).await?;
        access_token(&answer)
    }

    /// Follows the authorization request's redirects like a browser, logging `user` in at the
    /// interaction; returns the final redirect to [`REDIRECT_URI`].
    async fn authorize(&self, start: &str, user: &str) -> Result<String, OAuthError> {
        let http = no_redirect_client();
        let mut jar = Jar::default();
        let mut next = start.to_owned();
        for _ in 0..10 {
            if next.starts_with(REDIRECT_URI) {
                return Ok(next);
            }
            let response = http
                .get(&next)
                .header("cookie", jar.header())
                .send()
                .await
                .map_err(transport_error)?;
            jar.update(response.headers());
            let status = response.status();
            let Some(location) = response.headers().get("location") else {
                let body = response.text().await.unwrap_or_default();
                return Err(error_from(status.as_u16(), &body));
            };
            let location = location.to_str().unwrap_or_default();
            let mut target = url::Url::parse(&next)
                .and_then(|base| base.join(location))
                .map_err(|error| oauth_error(0, "bad_redirect", &error.to_string()))?;
            if target.path().starts_with("/interaction/") {
                target.query_pairs_mut().append_pair("login", user);
            }
            next = target.to_string();
        }
        Err(oauth_error(0, "too_many_redirects", &next))
    }

    /// RFC 8693: exchanges `subject_token` (an access token of this provider) for one with
    /// `aud` = `audience` (which must be a resource the provider was told about), as
    /// [`EXCHANGE_CLIENT`]; the new token has the same `sub` and `groups` and
    /// `act: {"sub": "capstan"}`. A bad subject token gets `invalid_grant`.
    pub async fn exchange(
        &self,
        subject_token: &str,
        audience: &str,
    ) -> Result<String, OAuthError> {
        let form = [
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", subject_token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("audience", audience),
        ];
        let (id, secret) = EXCHANGE_CLIENT;
        let answer = self.token_request(id, secret, &form).await?;
        access_token(&answer)
    }

    /// POSTs `form` to the token endpoint with HTTP Basic client authentication.
    async fn token_request(
        &self,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, OAuthError> {
        let response = crate::http_client()
            .post(self.url("/token"))
            .basic_auth(client_id, Some(client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(form))
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(transport_error)?;
        if status != 200 {
            return Err(error_from(status, &body));
        }
        serde_json::from_str(&body)
            .map_err(|error| oauth_error(status, "bad_json", &error.to_string()))
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Node 22 that `./dev` installs: `$CAPSTAN_TEST_NODE`, else
/// `target/tools/node22/node_modules/.bin/node`.
///
/// # Panics
///
/// When neither exists; the message says to run `./dev test`.
pub fn node() -> PathBuf {
    let node = std::env::var_os("CAPSTAN_TEST_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::repo_root().join("target/tools/node22/node_modules/.bin/node"));
    assert!(
        node.is_file(),
        "Node 22 is not installed at {}: run `./dev test` (it installs Node 22 from npm and the \
         OpenID provider's dependencies), or point CAPSTAN_TEST_NODE at a Node 22 binary",
        node.display()
    );
    node
}

/// The decoded header and payload of a JWT, unverified: `(header, payload)`.
///
/// # Panics
///
/// When `token` is not three base64url JSON parts.
pub fn decode_jwt(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = |name: &str| -> Value {
        let text = parts.next().unwrap_or_else(|| panic!("a JWT has a {name}"));
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .unwrap_or_else(|error| panic!("the JWT {name} is not base64url: {error}"));
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|error| panic!("the JWT {name} is not JSON: {error}"))
    };
    let header = part("header");
    let payload = part("payload");
    (header, payload)
}

/// `token` with its signature changed in its first character, which always
/// carries six bits of the signature (the last carries as few as two, so
/// changing it may leave the signature the same to a lenient decoder).
///
/// # Panics
///
/// When `token` has no signature part.
pub fn tamper_signature(token: &str) -> String {
    let signature = token.rfind('.').expect("a JWS has a signature") + 1;
    let flipped = if token[signature..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    format!(
        "{}{flipped}{}",
        &token[..signature],
        &token[signature + 1..]
    )
}

/// The groups of a provider user.
pub fn groups_of(user: &str) -> Vec<String> {
    USERS
        .iter()
        .find(|(name, _)| *name == user)
        .map(|(_, groups)| groups.iter().map(|g| (*g).to_owned()).collect())
        .unwrap_or_default()
}

fn secret(client_id: &str) -> String {
    format!("{client_id}-secret")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn access_token(answer: &Value) -> Result<String, OAuthError> {
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| oauth_error(200, "no_access_token", &answer.to_string()))
}

/// A PKCE verifier and its S256 challenge. The verifier only needs to be unguessable by an
/// attacker these tests do not have; std's randomly keyed hasher and the clock are enough.
fn pkce_pair() -> (String, String) {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut seed = Vec::new();
    for _ in 0..4 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        seed.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    let verifier = URL_SAFE_NO_PAD.encode(Sha256::digest(&seed));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn code_from_redirect(redirect: &str, state: &str) -> Result<String, OAuthError> {
    let url = url::Url::parse(redirect)
        .map_err(|error| oauth_error(0, "bad_redirect", &error.to_string()))?;
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(error) = query.get("error") {
        let description = query.get("error_description").cloned().unwrap_or_default();
        return Err(oauth_error(0, error, &description));
    }
    if query.get("state").map(String::as_str) != Some(state) {
        return Err(oauth_error(0, "state_mismatch", redirect));
    }
    query
        .get("code")
        .cloned()
        .ok_or_else(|| oauth_error(0, "no_code", redirect))
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn no_redirect_client() -> reqwest::Client {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building an HTTP client")
}

fn error_from(status: u16, body: &str) -> OAuthError {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match json["error"].as_str() {
        Some(error) => oauth_error(
            status,
            error,
            json["error_description"].as_str().unwrap_or_default(),
        ),
        None => oauth_error(status, "unexpected_response", body),
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> OAuthError {
    OAuthError {
        status,
        error: error.to_owned(),
        description: description.to_owned(),
    }
}

fn transport_error(error: reqwest::Error) -> OAuthError {
    oauth_error(0, "transport", &error.to_string())
}

/// Cookies by name, for one user agent talking to one provider (paths are ignored: every
/// cookie goes with every request, which the provider does not mind).
#[derive(Default)]
struct Jar {
    cookies: BTreeMap<String, String>,
}

impl Jar {
    fn update(&mut self, headers: &http::HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = text
                .to_ascii_lowercase()
                .contains("expires=thu, 01 jan 1970");
            if value.is_empty() || expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_pairs_are_fresh_and_the_challenge_is_s256_of_the_verifier() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.len(), 43);
        assert_eq!(
            challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        );
        assert_ne!(pkce_pair().0, verifier);
    }

    #[test]
    fn the_code_comes_from_a_redirect_with_the_right_state() {
        let redirect = format!("{REDIRECT_URI}?code=abc&state=s1&iss=http%3A%2F%2F127.0.0.1");
        assert_eq!(code_from_redirect(&redirect, "s1").unwrap(), "abc");
        assert_eq!(
            code_from_redirect(&redirect, "s2").unwrap_err().error,
            "state_mismatch"
        );
        let denied = format!("{REDIRECT_URI}?error=access_denied&error_description=no&state=s1");
        let error = code_from_redirect(&denied, "s1").unwrap_err();
        assert_eq!(
            (error.error.as_str(), error.description.as_str()),
            ("access_denied", "no")
        );
    }

    #[test]
    fn the_jar_keeps_set_cookies_and_drops_cleared_ones() {
        let mut jar = Jar::default();
        let mut headers = http::HeaderMap::new();
        headers.append(
            "set-cookie",
            "_interaction=one; path=/interaction/x; httponly"
                .parse()
                .unwrap(),
        );
        headers.append("set-cookie", "_session=two; path=/".parse().unwrap());
        jar.update(&headers);
        assert_eq!(jar.header(), "_interaction=one; _session=two");
        let mut cleared = http::HeaderMap::new();
        cleared.append(
            "set-cookie",
            "_interaction=; path=/interaction/x; expires=Thu, 01 Jan 1970 00:00:00 GMT"
                .parse()
                .unwrap(),
        );
        jar.update(&cleared);
        assert_eq!(jar.header(), "_session=two");
    }
}
