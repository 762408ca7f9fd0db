//! Cosign signatures of pulled components, checked after the pull and before the compile.
//!
//! Cosign stores the signatures of the artifact `REPO@sha256:HEX` as the layers of an image at
//! the tag `REPO:sha256-HEX.sig`: each layer is a "simple signing" JSON payload naming the
//! signed manifest digest, and its annotation `dev.cosignproject.cosign/signature` holds the
//! base64 ECDSA signature of the payload. A component is accepted when one such payload names
//! its digest and its signature verifies with one of the keys that apply.
//!
//! The keys that apply are the manifest's `[signature]` keys when it names any, else the
//! server's trusted keys (`--trusted-key`). When no key applies the component runs unsigned,
//! unless the server requires signatures (`--require-signatures`), which refuses it.
//!
//! Verified signatures are kept beside the plugin cache and verified again at every load, so a
//! cached component needs no registry; when they do not verify, the registry is asked.
//!
//! Only the `.sig` tag is read (what `cosign sign --key` writes by default up to cosign 2, and
//! with `--new-bundle-format=false`); Sigstore bundles attached as OCI referrers, transparency
//! log entries and keyless (certificate) signatures are not checked.

use std::path::PathBuf;

use oci_client::manifest::{IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};

use super::keys::{KeyError, PublicKey};
use super::pull::{client, registry_error};
use super::{DistributionError, DistributionSettings, OciReference, cache, credentials};

/// The media type of a cosign simple signing payload layer.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of a cosign container image signature.
const PAYLOAD_TYPE: &str = "cosign container image signature";
/// The most signature layers read from one `.sig` image.
const MAX_SIGNATURES: usize = 64;
/// The largest payload read.
const MAX_PAYLOAD_BYTES: i64 = 64 << 10;

/// The server-wide trust policy of `oci://` components.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Public keys (cosign PEM) trusted for every component whose manifest names none.
    pub trusted_keys: Vec<PathBuf>,
    /// Whether an `oci://` component to which no key applies is refused.
    pub require_signatures: bool,
}

/// Why a component's signature is refused; every message names the artifact and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignatureError {
    /// Signatures are required but no key applies.
    #[error(
        "signatures are required (require_signatures) but no key applies to {reference}; name the signer's public key in the manifest (`[signature] key = \"cosign.pub\"`) or on the server (--trusted-key)"
    )]
    NoKey {
        /// The component.
        reference: String,
    },
    /// No signature is stored for the digest.
    #[error(
        "no signature found at {signatures}; sign the component (`capstan plugin sign --key cosign.key REF@{digest}` or `cosign sign --key`) or remove the key requirement"
    )]
    Unsigned {
        /// The signature image (`REPO:sha256-HEX.sig`).
        signatures: String,
        /// The component's digest.
        digest: String,
    },
    /// Signatures for the digest exist, but none verifies with a key that applies.
    #[error(
        "{digest} is signed, but by no trusted key ({count} signature(s) at {signatures} checked against {keys}); sign it with a trusted key or trust the signer's public key"
    )]
    Untrusted {
        /// The component's digest.
        digest: String,
        /// The signature image.
        signatures: String,
        /// How many signatures named the digest.
        count: usize,
        /// The key files tried.
        keys: String,
    },
    /// The signatures stored for the digest sign another digest.
    #[error(
        "the signatures at {signatures} are for another digest ({signed}), not {digest}; someone copied another artifact's signatures: do not run it, and sign the digest you mean to run"
    )]
    OtherDigest {
        /// The component's digest.
        digest: String,
        /// The signature image.
        signatures: String,
        /// The digest the signatures name.
        signed: String,
    },
    /// A key file cannot be used.
    #[error("{0}")]
    Key(#[from] KeyError),
}

/// The simple signing payload cosign signs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    critical: Critical,
    optional: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Identity {
    docker_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Image {
    docker_manifest_digest: String,
}

impl Payload {
    /// The payload signing `digest` of `repository` (`REGISTRY/REPOSITORY`).
    pub fn new(repository: &str, digest: &str) -> Self {
        Self {
            critical: Critical {
                identity: Identity {
                    docker_reference: repository.to_owned(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_owned(),
                },
                kind: PAYLOAD_TYPE.to_owned(),
            },
            optional: None,
        }
    }

    fn digest(&self) -> Option<&str> {
        (self.critical.kind == PAYLOAD_TYPE).then_some(&self.critical.image.docker_manifest_digest)
    }
}

/// The public key files that apply to a component whose manifest names `manifest_keys`.
fn applicable<'a>(policy: &'a TrustPolicy, manifest_keys: &'a [PathBuf]) -> &'a [PathBuf] {
    match manifest_keys.is_empty() {
        true => &policy.trusted_keys,
        false => manifest_keys,
    }
}

/// Checks that the manifest `digest` of `reference` carries a signature by a key that applies
/// (see the module docs); `Ok` without contacting the registry when no key applies.
pub async fn check(
    settings: &DistributionSettings,
    manifest_keys: &[PathBuf],
    reference: &OciReference,
    digest: &str,
) -> Result<(), DistributionError> {
    let paths = applicable(&settings.trust, manifest_keys);
    if paths.is_empty() {
        return match settings.trust.require_signatures {
            true => Err(SignatureError::NoKey {
                reference: reference.to_string(),
            }
            .into()),
            false => Ok(()),
        };
    }
    let keys = paths
        .iter()
        .map(|path| PublicKey::read(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(SignatureError::from)?;
    let kept = KeptSignatures::new(settings);
    if judge(&keys, digest, "", &kept.read(digest)).is_ok() {
        tracing::debug!(%reference, digest, "verified the component's kept signature");
        return Ok(());
    }
    let store = SignatureStore::new(settings, reference, digest)?;
    let signatures = store.signatures().await?;
    judge(&keys, digest, &store.tag_text(), &signatures)?;
    kept.write(digest, &signatures);
    tracing::info!(%reference, digest, "verified the component's signature");
    Ok(())
}

/// The signatures of digests verified before, kept beside the plugin cache
/// (`signatures/sha256/<hex>.json`) so that a cached component needs no registry. They are
/// verified again at every use: a changed file can only fail, and then the registry is asked.
struct KeptSignatures {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Kept {
    #[serde(with = "super::keys::base64_bytes")]
    payload: Vec<u8>,
    signature: String,
}

impl KeptSignatures {
    fn new(settings: &DistributionSettings) -> Self {
        Self {
            dir: settings.cache_dir.join("signatures").join("sha256"),
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join(format!("{hex}.json"))
    }

    /// What is kept for `digest`; nothing when the file is missing or unreadable.
    fn read(&self, digest: &str) -> Vec<Signed> {
        let kept: Vec<Kept> = std::fs::read(self.path(digest))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        kept.into_iter()
            .take(MAX_SIGNATURES)
            .map(|k| Signed {
                payload: k.payload,
                signature: k.signature,
            })
            .collect()
    }

    /// Keeps `signatures` for `digest`; a failure is logged, the next load asks the registry.
    fn write(&self, digest: &str, signatures: &[Signed]) {
        let kept: Vec<Kept> = signatures
            .iter()
            .map(|s| Kept {
                payload: s.payload.clone(),
                signature: s.signature.clone(),
            })
            .collect();
        let bytes = serde_json::to_vec(&kept).expect("signatures serialise");
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| tempfile::NamedTempFile::new_in(&self.dir))
            .and_then(|mut file| {
                std::io::Write::write_all(&mut file, &bytes)?;
                file.persist(self.path(digest)).map_err(|e| e.error)?;
                Ok(())
            });
        if let Err(error) = written {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot keep a verified signature");
        }
    }
}

/// One signature layer as read: its payload and its signature annotation.
pub(super) struct Signed {
    pub(super) payload: Vec<u8>,
    pub(super) signature: String,
}

/// Accepts when a payload naming `digest` verifies with one of `keys`, else names why not.
fn judge(
    keys: &[PublicKey],
    digest: &str,
    tag: &str,
    signatures: &[Signed],
) -> Result<(), SignatureError> {
    let named: Vec<(&Signed, Option<String>)> = signatures
        .iter()
        .map(|signed| {
            let payload: Option<Payload> = serde_json::from_slice(&signed.payload).ok();
            (signed, payload.and_then(|p| p.digest().map(str::to_owned)))
        })
        .collect();
    let ours: Vec<&Signed> = named
        .iter()
        .filter(|(_, named)| named.as_deref() == Some(digest))
        .map(|(signed, _)| *signed)
        .collect();
    if ours.iter().any(|signed| {
        keys.iter()
            .any(|k| k.verifies(&signed.payload, &signed.signature))
    }) {
        return Ok(());
    }
    if !ours.is_empty() {
        let keys = keys
            .iter()
            .map(|key| key.path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SignatureError::Untrusted {
            digest: digest.to_owned(),
            signatures: tag.to_owned(),
            count: ours.len(),
            keys,
        });
    }
    match named.iter().find_map(|(_, named)| named.clone()) {
        Some(signed) => Err(SignatureError::OtherDigest {
            digest: digest.to_owned(),
            signatures: tag.to_owned(),
            signed,
        }),
        None => Err(SignatureError::Unsigned {
            signatures: tag.to_owned(),
            digest: digest.to_owned(),
        }),
    }
}

/// The `.sig` image of one artifact in its registry.
pub(super) struct SignatureStore {
    pub(super) client: Client,
    pub(super) auth: RegistryAuth,
    pub(super) registry: String,
    /// `REGISTRY/REPOSITORY` of the artifact.
    pub(super) repository: String,
    /// The `REPO:sha256-HEX.sig` image.
    pub(super) tag: Reference,
}

impl SignatureStore {
    /// The signature image of `digest` in `reference`'s repository.
    pub(super) fn new(
        settings: &DistributionSettings,
        reference: &OciReference,
        digest: &str,
    ) -> Result<Self, DistributionError> {
        Self::for_image(settings, &reference.at_digest(digest), digest)
    }

    /// The signature image of `digest` in `image`'s repository.
    pub(super) fn for_image(
        settings: &DistributionSettings,
        image: &Reference,
        digest: &str,
    ) -> Result<Self, DistributionError> {
        let registry = image.resolve_registry().to_owned();
        let tag = Reference::with_tag(
            image.registry().to_owned(),
            image.repository().to_owned(),
            format!("{}.sig", digest.replace(':', "-")),
        );
        Ok(Self {
            client: client(settings),
            auth: credentials::auth_for(&registry)?,
            repository: format!("{}/{}", image.registry(), image.repository()),
            registry,
            tag,
        })
    }

    /// `REGISTRY/REPOSITORY:sha256-HEX.sig`.
    pub(super) fn tag_text(&self) -> String {
        self.tag.whole()
    }

    /// The `.sig` image's manifest, or `None` when there is none.
    pub(super) async fn manifest(&self) -> Result<Option<OciImageManifest>, DistributionError> {
        let accepted = [OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE];
        let bytes = match self
            .client
            .pull_manifest_raw(&self.tag, &self.auth, &accepted)
            .await
        {
            Ok((bytes, _)) => bytes,
            Err(error) if not_found(&error) => return Ok(None),
            Err(error) => return Err(registry_error(&self.registry, &error)),
        };
        let manifest = serde_json::from_slice(&bytes).map_err(|error| {
            DistributionError::Layout(format!(
                "the signature image {} is not an image manifest ({error})",
                self.tag_text()
            ))
        })?;
        Ok(Some(manifest))
    }

    /// Every signature layer of the `.sig` image (none when there is no image).
    async fn signatures(&self) -> Result<Vec<Signed>, DistributionError> {
        let Some(manifest) = self.manifest().await? else {
            return Ok(Vec::new());
        };
        let mut signatures = Vec::new();
        for layer in manifest.layers.iter().take(MAX_SIGNATURES) {
            let signature = layer
                .annotations
                .as_ref()
                .and_then(|a| a.get(SIGNATURE_ANNOTATION));
            let readable = layer.media_type == PAYLOAD_MEDIA_TYPE
                && (0..=MAX_PAYLOAD_BYTES).contains(&layer.size)
                && super::reference::check_digest(&layer.digest).is_ok();
            let (Some(signature), true) = (signature, readable) else {
                continue;
            };
            let mut payload = Vec::new();
            self.client
                .pull_blob(&self.tag, layer, &mut payload)
                .await
                .map_err(|error| registry_error(&self.registry, &error))?;
            cache::verify("a signature payload", &layer.digest, &payload)?;
            signatures.push(Signed {
                payload,
                signature: signature.clone(),
            });
        }
        Ok(signatures)
    }
}

/// Whether a registry answer means "no such manifest".
fn not_found(error: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::{OciDistributionError, OciErrorCode};
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::keys::PrivateKey;
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const TAG: &str = "registry.test/p/echo:sha256-0123.sig";

    fn signed(key: &PrivateKey, digest: &str) -> Signed {
        let payload = serde_json::to_vec(&Payload::new("registry.test/p/echo", digest)).unwrap();
        Signed {
            signature: key.sign(&payload),
            payload,
        }
    }

    fn public(key: &PrivateKey, name: &str) -> PublicKey {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, key.public_pem()).unwrap();
        let mut public = PublicKey::read(&path).unwrap();
        public.path = Path::new(name).to_path_buf();
        public
    }

    #[test]
    fn signature_by_a_trusted_key_for_the_digest_is_accepted() {
        let key = PrivateKey::generate();
        let other = PrivateKey::generate();
        let keys = [public(&other, "other.pub"), public(&key, "cosign.pub")];
        let signatures = [signed(&other, OTHER), signed(&key, DIGEST)];
        assert!(judge(&keys, DIGEST, TAG, &signatures).is_ok());
    }

    #[test]
    fn signature_refusals_name_what_failed() {
        let key = PrivateKey::generate();
        let stranger = PrivateKey::generate();
        let keys = [public(&key, "cosign.pub")];
        let error = judge(&keys, DIGEST, TAG, &[]).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("no signature found at {TAG}")),
            "{error}"
        );
        let error = judge(&keys, DIGEST, TAG, &[signed(&stranger, DIGEST)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("signed, but by no trusted key") && error.contains("cosign.pub"),
            "{error}"
        );
        let error = judge(&keys, DIGEST, TAG, &[signed(&key, OTHER)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("for another digest") && error.contains(OTHER),
            "{error}"
        );
        let mut forged = signed(&key, DIGEST);
        forged.payload = serde_json::to_vec(&Payload::new("registry.test/p/echo", OTHER)).unwrap();
        let error = judge(&keys, OTHER, TAG, &[forged]).unwrap_err().to_string();
        assert!(error.contains("no trusted key"), "{error}");
    }

    #[test]
    fn signature_keys_of_the_manifest_replace_the_servers() {
        let policy = TrustPolicy {
            trusted_keys: vec!["server.pub".into()],
            require_signatures: false,
        };
        assert_eq!(applicable(&policy, &[]), [PathBuf::from("server.pub")]);
        let own = [PathBuf::from("own.pub")];
        assert_eq!(applicable(&policy, &own), own);
    }
}
