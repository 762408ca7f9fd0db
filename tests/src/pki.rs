//! A throwaway test CA for the HTTPS [`Upstream`](crate::upstream::Upstream)s, so TLS tests
//! need no fixture files and no network.
//!
//! 1. [`Pki::new`] (or [`Pki::for_server`] with other names) generates a CA, a server
//!    certificate and a client certificate, and writes each as PEM into a folder of its own,
//!    which lives as long as the `Pki`.
//! 2. Point capstan at the files with [`Pki::file`] (`tls = { ca_file = ... }`, or
//!    `client_cert`/`client_key` for mutual TLS).
//! 3. Start an upstream with [`Builder::tls`](crate::upstream::Builder::tls) or
//!    [`Builder::mutual_tls`](crate::upstream::Builder::mutual_tls); it presents the server
//!    certificate and, for mutual TLS, accepts only client certificates this CA signed.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// A test CA with a server certificate and a client certificate, all written as PEM files:
/// `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>),
}

impl Pki {
    /// A CA whose server certificate is for `127.0.0.1`.
    pub fn new() -> Self {
        Self::for_server(&["127.0.0.1"])
    }

    /// A CA whose server certificate is for `names` (DNS names or IP addresses).
    pub fn for_server(names: &[&str]) -> Self {
        crate::install_crypto_provider();
        let dir = tempfile::tempdir().expect("creating a PKI folder");
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem)
                .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        };
        let (ca, issuer) = certificate_authority();
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
        let sans = names.iter().map(|name| (*name).to_owned()).collect();
        let server = leaf("server", sans, ExtendedKeyUsagePurpose::ServerAuth);
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

    /// A server configuration presenting the server certificate; with
    /// `require_client_cert` it completes only handshakes that show a client certificate
    /// signed by this CA.
    pub(crate) fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
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

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// A self-signed CA certificate and the issuer that signs leaves with it.
fn certificate_authority() -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("generating the CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "capstan test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = params.self_signed(&key).expect("signing the CA");
    (ca, Issuer::new(params, key))
}
