//! `capstan plugin sign` and `capstan plugin keygen`: signing a pushed component the way
//! `cosign sign --key` does (a simple signing payload layer, its signature in an annotation,
//! appended to the image at `REPO:sha256-HEX.sig`), and writing a cosign key pair
//! (`cosign.key`, encrypted with `COSIGN_PASSWORD`, and `cosign.pub`). Keys made by
//! `cosign generate-key-pair` sign and verify the same way.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use oci_client::manifest::{
    IMAGE_CONFIG_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest,
};

use super::keys::{KeyError, PrivateKey};
use super::pull::registry_error;
use super::signature::SignatureError;
use super::signature::{PAYLOAD_MEDIA_TYPE, Payload, SIGNATURE_ANNOTATION, SignatureStore};
use super::{DistributionError, DistributionSettings, cache, reference};

/// The variable holding the private key's password, as cosign reads it.
pub const PASSWORD_VAR: &str = "COSIGN_PASSWORD";
/// The config blob of a signature image (as sigstore's clients write it).
const CONFIG: &[u8] = b"{}";

/// Signs the component `target` (`[oci://]REGISTRY/REPOSITORY[:TAG]@sha256:…`) with `key` and
/// returns the signature image it was added to.
pub async fn sign(
    settings: &DistributionSettings,
    key: &PrivateKey,
    target: &str,
) -> Result<String, DistributionError> {
    let image = reference::parse_any(target)?;
    let Some(digest) = image.digest().map(str::to_owned) else {
        return Err(DistributionError::Reference(format!(
            "`{target}` names no digest; sign what a manifest pins: REF@sha256:… as `capstan plugin push` prints it"
        )));
    };
    let store = SignatureStore::for_image(settings, &image, &digest)?;
    let failed = |error| registry_error(&store.registry, &error);
    let current = store
        .client
        .fetch_manifest_digest(&image, &store.auth)
        .await
        .map_err(failed)?;
    if current != digest {
        return Err(DistributionError::Reference(format!(
            "the registry answers {current} for `{target}`; sign a digest the registry holds"
        )));
    }
    let payload = serde_json::to_vec(&Payload::new(&store.repository, &digest))
        .expect("a payload serialises");
    let layer = OciDescriptor {
        media_type: PAYLOAD_MEDIA_TYPE.to_owned(),
        digest: cache::sha256(&payload),
        size: payload.len() as i64,
        annotations: Some([(SIGNATURE_ANNOTATION.to_owned(), key.sign(&payload))].into()),
        ..OciDescriptor::default()
    };
    let mut layers = match store.manifest().await? {
        Some(existing) => existing.layers,
        None => Vec::new(),
    };
    let signed_already = layers
        .iter()
        .any(|l| l.digest == layer.digest && l.annotations == layer.annotations);
    if !signed_already {
        layers.push(layer.clone());
    }
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config: OciDescriptor {
            media_type: IMAGE_CONFIG_MEDIA_TYPE.to_owned(),
            digest: cache::sha256(CONFIG),
            size: CONFIG.len() as i64,
            ..OciDescriptor::default()
        },
        layers,
        ..OciImageManifest::default()
    };
    let client = &store.client;
    client
        .store_auth_if_needed(&store.registry, &store.auth)
        .await;
    client
        .push_blob(&store.tag, payload, &layer.digest)
        .await
        .map_err(failed)?;
    client
        .push_blob(&store.tag, CONFIG.to_vec(), &manifest.config.digest)
        .await
        .map_err(failed)?;
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let content_type = http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
    client
        .push_manifest_raw(&store.tag, bytes, content_type)
        .await
        .map_err(failed)?;
    Ok(store.tag_text())
}

/// Writes `PREFIX.key` (encrypted with `password`) and `PREFIX.pub`, refusing to overwrite.
pub fn keygen(prefix: &Path, password: &[u8]) -> Result<(PathBuf, PathBuf), KeyError> {
    let private = with_suffix(prefix, ".key");
    let public = with_suffix(prefix, ".pub");
    for path in [&private, &public] {
        if path.exists() {
            return Err(KeyError::Io {
                path: path.clone(),
                message: "already exists; remove it or choose another --output-prefix".into(),
            });
        }
    }
    let key = PrivateKey::generate();
    write_new(&private, key.encrypted_pem(password).as_bytes(), 0o600)?;
    write_new(&public, key.public_pem().as_bytes(), 0o644)?;
    Ok((private, public))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut path = prefix.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|error| KeyError::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
}

/// The password in `COSIGN_PASSWORD` (possibly empty).
fn password() -> Result<zeroize::Zeroizing<Vec<u8>>, DistributionError> {
    use std::os::unix::ffi::OsStringExt as _;
    std::env::var_os(PASSWORD_VAR)
        .map(|value| zeroize::Zeroizing::new(value.into_vec()))
        .ok_or_else(|| {
            DistributionError::Io(format!(
                "set {PASSWORD_VAR} to the private key's password (empty for none), as for cosign"
            ))
        })
}

/// `capstan plugin sign --key cosign.key REF@sha256:…`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The component to sign: `[oci://]REGISTRY/REPOSITORY[:TAG]@sha256:…`, as
    /// `capstan plugin push` prints it.
    reference: String,
    /// Cosign's encrypted private key (`capstan plugin keygen` or `cosign generate-key-pair`);
    /// its password comes from COSIGN_PASSWORD.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// A registry (HOST:PORT) to reach over plain HTTP; repeatable.
    #[arg(
        long = "insecure-registry",
        env = "CAPSTAN_INSECURE_REGISTRIES",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    insecure_registries: Vec<String>,
}

/// `capstan plugin keygen [--output-prefix cosign]`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key (encrypted with COSIGN_PASSWORD) and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    output_prefix: PathBuf,
}

/// Signs and prints the signature image on stdout.
pub async fn run_sign(args: SignArgs) -> Result<std::process::ExitCode, DistributionError> {
    let password = password()?;
    let key = PrivateKey::read(&args.key, &password).map_err(SignatureError::Key)?;
    let settings = DistributionSettings {
        insecure_registries: args.insecure_registries,
        ..DistributionSettings::default()
    };
    let signatures = sign(&settings, &key, &args.reference).await?;
    println!("{signatures}");
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes the key pair and prints where.
pub fn run_keygen(args: &KeygenArgs) -> Result<std::process::ExitCode, DistributionError> {
    let password = password()?;
    let (private, public) = keygen(&args.output_prefix, &password).map_err(SignatureError::Key)?;
    println!(
        "Private key written to {}\nPublic key written to {}",
        private.display(),
        public.display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_keygen_writes_a_pair_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("cosign");
        let (private, public) = keygen(&prefix, b"pw").unwrap();
        let key = PrivateKey::read(&private, b"pw").unwrap();
        let public = super::super::keys::PublicKey::read(&public).unwrap();
        assert!(public.verifies(b"x", &key.sign(b"x")));
        let error = keygen(&prefix, b"pw").unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
    }
}
