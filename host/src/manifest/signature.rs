//! A manifest's `[signature]` table: the public keys whose cosign signature an `oci://`
//! component must carry before it is compiled.
//!
//! ```toml
//! [signature]
//! key  = "cosign.pub"                  # relative to this manifest
//! keys = ["release.pub", "backup.pub"] # or several: any one of them may have signed
//! ```
//!
//! Keyless signatures (a certificate identity and issuer) are not supported yet and are refused
//! by name rather than ignored.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ManifestError, problem};

/// The `[signature]` table as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSignature {
    key: Option<PathBuf>,
    #[serde(default)]
    keys: Vec<PathBuf>,
    identity: Option<String>,
    issuer: Option<String>,
    trust_root: Option<PathBuf>,
}

/// The public key files of `raw`, resolved against `folder`; `oci` tells whether the component
/// comes from a registry (only such components carry signatures).
pub(super) fn keys(
    path: &Path,
    folder: &Path,
    raw: Option<&RawSignature>,
    oci: bool,
) -> Result<Vec<PathBuf>, ManifestError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let field = Some("signature");
    if !oci {
        return Err(problem(
            path,
            field,
            "applies to oci:// components only; pin a local component with `sha256` instead",
        ));
    }
    if raw.identity.is_some() || raw.issuer.is_some() || raw.trust_root.is_some() {
        return Err(problem(
            path,
            field,
            "keyless signatures (certificate identity, issuer, trust root) are not supported yet; sign with a key pair (`capstan plugin keygen`, `capstan plugin sign --key`, or cosign's) and name its public key: key = \"cosign.pub\"",
        ));
    }
    let keys: Vec<PathBuf> = raw
        .key
        .iter()
        .chain(&raw.keys)
        .map(|key| folder.join(key))
        .collect();
    if keys.is_empty() {
        return Err(problem(
            path,
            field,
            "names no key; write key = \"cosign.pub\" (a path relative to this manifest)",
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use crate::manifest::Manifest;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parse(extra: &str) -> Result<Manifest, String> {
        let text = format!("component = \"oci://registry.test/p/echo@{DIGEST}\"\n{extra}");
        Manifest::parse(std::path::Path::new("/plugins/echo.toml"), &text, 256 << 20)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn signature_keys_resolve_against_the_manifest_folder_and_are_watched() {
        let manifest = parse("[signature]\nkey = \"cosign.pub\"\nkeys = [\"keys/b.pub\"]").unwrap();
        let expected: [std::path::PathBuf; 2] =
            ["/plugins/cosign.pub", "/plugins/keys/b.pub"].map(Into::into);
        assert_eq!(manifest.signature_keys, expected);
        assert!(expected.iter().all(|key| manifest.files.contains(key)));
        assert!(parse("").unwrap().signature_keys.is_empty());
    }

    #[test]
    fn signature_keyless_empty_or_local_signature_tables_are_refused() {
        let error =
            parse("[signature]\nidentity = \"ci@example.com\"\nissuer = \"https://issuer\"")
                .unwrap_err();
        assert!(
            error.contains("keyless") && error.contains("not supported yet"),
            "{error}"
        );
        let error = parse("[signature]").unwrap_err();
        assert!(error.contains("names no key"), "{error}");
        let local = Manifest::parse(
            std::path::Path::new("/plugins/echo.toml"),
            "component = \"echo.wasm\"\n[signature]\nkey = \"cosign.pub\"",
            256 << 20,
        )
        .unwrap_err()
        .to_string();
        assert!(local.contains("oci:// components only"), "{local}");
    }
}
