//! Pulling a component: from the cache when its digest is held (no registry needed), else the
//! manifest by digest and its one layer from the registry, each checked against its digest and
//! stored in the cache. A pinned reference whose tag now resolves elsewhere is refused. The
//! signature check runs once the manifest digest is known, before the component is returned.

use std::path::PathBuf;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::cache::{self, BlobCache};
use super::{
    DistributionError, DistributionSettings, OciReference, credentials, layout, signature,
};

/// The component `reference` names, from the cache or the registry, once its signature is
/// checked against `signature_keys` (the manifest's) or the server's trust policy.
pub async fn fetch(
    settings: &DistributionSettings,
    reference: &OciReference,
    signature_keys: &[PathBuf],
) -> Result<Vec<u8>, DistributionError> {
    let cache = BlobCache::new(&settings.cache_dir);
    if let Some(digest) = reference.digest()
        && let Some(wasm) = cached(&cache, digest)?
    {
        verify(settings, signature_keys, reference, digest).await?;
        return Ok(wasm);
    }
    let puller = Puller::new(settings, reference)?;
    let digest = puller.digest().await?;
    verify(settings, signature_keys, reference, &digest).await?;
    match cached(&cache, &digest)? {
        Some(wasm) => Ok(wasm),
        None => puller.pull(&cache, &digest).await,
    }
}

/// The signature seam, after the digest is known and before anything compiles the component:
/// the manifest `digest` must carry a cosign signature by a key that applies (see
/// [`signature`](super::signature)). The component's bytes need no check of their own: the
/// signed manifest names the layer's digest, and every blob is checked against its digest.
pub async fn verify(
    settings: &DistributionSettings,
    signature_keys: &[PathBuf],
    reference: &OciReference,
    digest: &str,
) -> Result<(), DistributionError> {
    signature::check(settings, signature_keys, reference, digest).await
}

/// The component of the manifest `digest` if the cache holds both (each checked again).
fn cached(cache: &BlobCache, digest: &str) -> Result<Option<Vec<u8>>, DistributionError> {
    let Some(manifest) = cache.read(digest)? else {
        return Ok(None);
    };
    let layer = layout::component_layer(&manifest)?;
    cache.read(&layer.digest)
}

/// A client for one reference's registry, with its credentials.
struct Puller<'a> {
    reference: &'a OciReference,
    client: Client,
    auth: RegistryAuth,
}

impl<'a> Puller<'a> {
    fn new(
        settings: &DistributionSettings,
        reference: &'a OciReference,
    ) -> Result<Self, DistributionError> {
        Ok(Self {
            client: client(settings),
            auth: credentials::auth_for(reference.registry())?,
            reference,
        })
    }

    /// The manifest digest to pull: the pinned one, after checking that the tag (if written)
    /// still points at it; else what the tag points at now.
    async fn digest(&self) -> Result<String, DistributionError> {
        let pinned = self.reference.digest();
        if let (Some(pinned), None) = (pinned, self.reference.tag()) {
            return Ok(pinned.to_owned());
        }
        let current = self
            .client
            .fetch_manifest_digest(&self.reference.at_tag(), &self.auth)
            .await
            .map_err(|error| self.failed(&error))?;
        match pinned {
            Some(pinned) if pinned != current => Err(DistributionError::TagMoved {
                tag: self.reference.tag().unwrap_or("latest").to_owned(),
                pinned: pinned.to_owned(),
                current,
            }),
            _ => {
                tracing::info!(reference = %self.reference, digest = %current, "resolved the tag");
                Ok(current)
            }
        }
    }

    /// Pulls the manifest `digest` and its component, checks both and stores them.
    async fn pull(&self, cache: &BlobCache, digest: &str) -> Result<Vec<u8>, DistributionError> {
        let image: Reference = self.reference.at_digest(digest);
        let (manifest, _) = self
            .client
            .pull_manifest_raw(&image, &self.auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|error| self.failed(&error))?;
        cache::verify(
            &format!("the manifest of {}", self.reference),
            digest,
            &manifest,
        )?;
        let layer = layout::component_layer(&manifest)?;
        let mut wasm = Vec::with_capacity(usize::try_from(layer.size).unwrap_or_default());
        self.client
            .pull_blob(&image, &layer, &mut wasm)
            .await
            .map_err(|error| self.failed(&error))?;
        cache::verify(
            &format!("the component layer of {}", self.reference),
            &layer.digest,
            &wasm,
        )?;
        cache.store(&layer.digest, &wasm)?;
        cache.store(digest, &manifest)?;
        tracing::info!(reference = %self.reference, digest, "pulled plugin component");
        Ok(wasm)
    }

    fn failed(&self, error: &oci_client::errors::OciDistributionError) -> DistributionError {
        registry_error(self.reference.registry(), error)
    }
}

/// A client reaching `settings.insecure_registries` over plain HTTP and the rest over HTTPS.
pub(super) fn client(settings: &DistributionSettings) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(settings.insecure_registries.clone()),
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(60)),
        ..ClientConfig::default()
    })
}

/// A registry failure as the operator reads it: digest failures are named as such.
pub(super) fn registry_error(
    registry: &str,
    error: &oci_client::errors::OciDistributionError,
) -> DistributionError {
    use oci_client::errors::{DigestError, OciDistributionError};
    match error {
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            DistributionError::DigestMismatch {
                what: format!("content from registry {registry}"),
                expected: expected.clone(),
                actual: actual.clone(),
            }
        }
        other => DistributionError::Registry {
            registry: registry.to_owned(),
            message: error_chain(other),
        },
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
