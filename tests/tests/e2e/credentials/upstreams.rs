//! Recording upstreams for the credential tests, over plain HTTP or HTTPS, and the test CA
//! that signs their certificates (and the client certificates mutual TLS asks for).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse as _;
use axum::routing::any;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One request an upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request path.
    pub path: String,
    /// Every header, as received.
    pub headers: HeaderMap,
}

impl Seen {
    /// Every value of header `name`, in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().expect("an ASCII header").to_owned())
            .collect()
    }
}

/// A loopback upstream that records every request. Paths listed as redirects answer `302`
/// to their location; every other path answers `200 upstream says hi`.
pub struct Upstream {
    /// `http[s]://127.0.0.1:<port>`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// A plain HTTP upstream.
    pub async fn http() -> Self {
        Self::redirecting(&[]).await
    }

    /// A plain HTTP upstream that redirects each `(path, location)`.
    pub async fn redirecting(redirects: &[(&str, String)]) -> Self {
        let (listener, seen, app) = Self::parts(redirects).await;
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen }
    }

    /// An HTTPS upstream presenting `pki`'s server certificate; with `require_client_cert`
    /// it completes only handshakes that show a client certificate signed by `pki`'s CA.
    pub async fn https(pki: &Pki, require_client_cert: bool) -> Self {
        let (listener, seen, app) = Self::parts(&[]).await;
        let url = format!("https://{}", listener.local_addr().expect("local address"));
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config(require_client_cert)));
        tokio::spawn(serve_tls(listener, acceptor, app));
        Self { url, seen }
    }

    async fn parts(redirects: &[(&str, String)]) -> (TcpListener, Arc<Mutex<Vec<Seen>>>, Router) {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let redirects: Arc<HashMap<String, String>> = Arc::new(
            redirects
                .iter()
                .map(|(path, to)| ((*path).to_owned(), to.clone()))
                .collect(),
        );
        let record = seen.clone();
        let app = Router::new().fallback(any(move |uri: Uri, headers: HeaderMap| {
            let path = uri.path().to_owned();
            record.lock().expect("recorder lock").push(Seen {
                path: path.clone(),
                headers,
            });
            let location = redirects.get(&path).cloned();
            async move {
                match location {
                    Some(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
                    None => "upstream says hi".into_response(),
                }
            }
        }));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding an upstream");
        (listener, seen, app)
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("recorder lock").clone()
    }

    /// The one request received so far; panics unless there is exactly one.
    pub fn only_request(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "expected exactly one request: {seen:#?}");
        seen.into_iter().next().expect("one request")
    }
}

/// Serves `app` over TLS, one task per connection; failed handshakes (an untrusted server
/// certificate on the client's side, a missing client certificate on ours) end the connection.
async fn serve_tls(listener: TcpListener, acceptor: TlsAcceptor, app: Router) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                .await;
        });
    }
}

/// A test CA with a server certificate for `127.0.0.1` and a client certificate, all written
/// as PEM files into a folder of their own.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>),
}

impl Pki {
    /// Generates the CA and both certificates.
    pub fn new() -> Self {
        capstan_tests::install_crypto_provider();
        let dir = tempfile::tempdir().expect("creating a PKI folder");
        let ca_key = KeyPair::generate().expect("generating the CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "capstan test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).expect("signing the CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let write = |name: &str, pem: &str| std::fs::write(dir.path().join(name), pem).unwrap();
        write("ca.pem", &ca.pem());

        let leaf = |name: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("generating a key");
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).expect("signing a leaf");
            write(&format!("{name}.pem"), &cert.pem());
            write(&format!("{name}.key"), &key.serialize_pem());
            (
                cert.der().clone(),
                PrivatePkcs8KeyDer::from(key.serialize_der()),
            )
        };
        let server = leaf(
            "server",
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        leaf("client", Vec::new(), ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            dir,
            ca: ca.der().clone(),
            server,
        }
    }

    /// The path of one of the PEM files: `ca.pem`, `server.{pem,key}`, `client.{pem,key}`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA certificate as PEM.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.file("ca.pem")).expect("reading the CA")
    }

    fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let builder = rustls::ServerConfig::builder();
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.clone()).expect("adding the test CA");
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .expect("a client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let (cert, key) = &self.server;
        builder
            .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key.clone_key()))
            .expect("the server certificate and key")
    }
}
