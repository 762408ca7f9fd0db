//! `capstan-fakes`: serves the demo data set from a fake Argo CD API and a fake Kubernetes API on
//! loopback until Ctrl-C, for trying capstan and its GitOps plugins without a cluster
//! (`demo/plugins/*.toml` point at the default addresses).
//!
//! ```text
//! capstan-fakes --argocd 127.0.0.1:18080 --kube 127.0.0.1:18081
//! ```

use std::net::SocketAddr;

use anyhow::{Result, bail};
use capstan_tests::fakes::{FakeServer, argocd, demo, kube};
use clap::Parser;

/// Serve the demo data set from fake Argo CD and Kubernetes APIs on loopback until Ctrl-C.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where the fake Argo CD API listens (loopback only).
    #[arg(long, default_value = "127.0.0.1:18080", value_parser = loopback)]
    argocd: SocketAddr,

    /// Serve the Argo CD API under this path, like `argocd-server --rootpath` (e.g. `/argocd`).
    #[arg(long, default_value = "")]
    argocd_base_path: String,

    /// Where the fake Kubernetes API (Argo Rollouts and Flux objects) listens (loopback only).
    #[arg(long, default_value = "127.0.0.1:18081", value_parser = loopback)]
    kube: SocketAddr,
}

/// Parses a socket address and refuses anything but loopback.
fn loopback(text: &str) -> Result<SocketAddr> {
    let addr: SocketAddr = text.parse()?;
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address; the fakes only listen on 127.0.0.0/8 or [::1]");
    }
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let argocd = argocd::serve_on(
        args.argocd,
        demo::argocd().with_base_path(&args.argocd_base_path),
    )
    .await?;
    let kube = kube::serve_on(args.kube, demo::cluster()).await?;
    println!("fake Argo CD API:     {}", argocd.base_url());
    println!("fake Kubernetes API:  {}", kube.base_url());
    println!("serving the demo data set; Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    report("Argo CD", &argocd);
    report("Kubernetes", &kube);
    argocd.shutdown().await;
    kube.shutdown().await;
    Ok(())
}

/// Prints how many requests a fake served and every contract violation it saw.
fn report(name: &str, server: &FakeServer) {
    let violations = server.violations();
    println!(
        "{name}: {} request(s), {} contract violation(s)",
        server.requests().len(),
        violations.len()
    );
    for violation in violations {
        println!("  {violation}");
    }
}
