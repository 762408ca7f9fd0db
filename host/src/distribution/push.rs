//! `capstan plugin push`: publishing a component in the Wasm artifact layout under a tag, and
//! answering the digest reference a manifest should pin.

use std::path::Path;

use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;

use super::pull::{client, registry_error};
use super::{DistributionError, DistributionSettings, cache, credentials, layout, reference};

/// Pushes the component `file` to `target` (`[oci://]REGISTRY/REPOSITORY:TAG`) and returns
/// `target@sha256:…`, the reference to write in a manifest.
pub async fn push(
    settings: &DistributionSettings,
    file: &Path,
    target: &str,
) -> Result<String, DistributionError> {
    let image = reference::parse_any(target)?;
    if image.digest().is_some() {
        return Err(DistributionError::Reference(format!(
            "`{target}` already names a digest; push to a tag (REGISTRY/REPOSITORY:TAG) and capstan prints the digest"
        )));
    }
    let wasm = std::fs::read(file).map_err(|error| {
        DistributionError::Io(format!("cannot read {}: {error}", file.display()))
    })?;
    if !wasm.starts_with(b"\0asm") {
        return Err(DistributionError::Io(format!(
            "{} is not a WebAssembly component; build the plugin for wasm32-wasip2 and push its .wasm",
            file.display()
        )));
    }
    let artifact = layout::artifact(&wasm);
    let manifest = serde_json::to_vec(&artifact.manifest).expect("a manifest serialises");
    let digest = cache::sha256(&manifest);
    let client = client(settings);
    let auth = credentials::auth_for(image.resolve_registry())?;
    let failed = |error| registry_error(image.resolve_registry(), &error);
    client
        .store_auth_if_needed(image.resolve_registry(), &auth)
        .await;
    let layer = &artifact.manifest.layers[0].digest;
    client
        .push_blob(&image, wasm, layer)
        .await
        .map_err(failed)?;
    let config_digest = &artifact.manifest.config.digest;
    client
        .push_blob(&image, artifact.config, config_digest)
        .await
        .map_err(failed)?;
    let content_type = http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
    client
        .push_manifest_raw(&image, manifest, content_type)
        .await
        .map_err(failed)?;
    Ok(format!("{target}@{digest}"))
}

/// `capstan plugin push FILE REF`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The component (`.wasm`) to publish.
    file: std::path::PathBuf,
    /// Where: `[oci://]REGISTRY/REPOSITORY:TAG`. Credentials come from
    /// CAPSTAN_REGISTRY_USERNAME/CAPSTAN_REGISTRY_PASSWORD or a docker config file.
    reference: String,
    /// A registry (HOST:PORT) to reach over plain HTTP; repeatable.
    #[arg(
        long = "insecure-registry",
        env = "CAPSTAN_INSECURE_REGISTRIES",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    insecure_registries: Vec<String>,
}

/// Pushes and prints the digest reference on stdout.
pub async fn run(args: PushArgs) -> Result<std::process::ExitCode, DistributionError> {
    let settings = DistributionSettings {
        insecure_registries: args.insecure_registries,
        ..DistributionSettings::default()
    };
    let pinned = push(&settings, &args.file, &args.reference).await?;
    println!("{pinned}");
    Ok(std::process::ExitCode::SUCCESS)
}
