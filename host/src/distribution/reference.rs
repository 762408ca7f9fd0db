//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]` references as manifests write them: a digest
//! is required unless the manifest allows a floating tag, and credentials are refused (they come
//! from the environment, never from a manifest).

use std::fmt;

use oci_client::Reference;

use super::DistributionError;

const SCHEME: &str = "oci://";

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    text: String,
    reference: Reference,
}

impl OciReference {
    /// Whether `text` is meant as an OCI reference (starts with `oci://`).
    pub fn is_oci(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// Parses `text`; without a `@sha256:` digest it is refused unless `allow_floating_tag`.
    pub fn parse(text: &str, allow_floating_tag: bool) -> Result<Self, DistributionError> {
        let reference = parse_any(text)?;
        if reference.digest().is_none() && !allow_floating_tag {
            return Err(DistributionError::Reference(format!(
                "`{text}` names no digest, so the registry decides what runs; pin it as `{text}@sha256:…` (`capstan plugin push` prints the reference), or set `allow_floating_tag = true` to run whatever the tag points at"
            )));
        }
        Ok(Self {
            text: text.to_owned(),
            reference,
        })
    }

    /// The registry as written (`HOST[:PORT]`).
    pub fn registry(&self) -> &str {
        self.reference.resolve_registry()
    }

    /// The pinned manifest digest, if any.
    pub fn digest(&self) -> Option<&str> {
        self.reference.digest()
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.reference.tag()
    }

    /// The same repository at `digest`.
    pub(super) fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.reference.registry().to_owned(),
            self.reference.repository().to_owned(),
            digest.to_owned(),
        )
    }

    /// The same repository at the tag (`latest` when none is written).
    pub(super) fn at_tag(&self) -> Reference {
        Reference::with_tag(
            self.reference.registry().to_owned(),
            self.reference.repository().to_owned(),
            self.tag().unwrap_or("latest").to_owned(),
        )
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses `oci://…` (or a bare reference, as `capstan plugin push` accepts), refusing user
/// information and digests other than sha256.
pub(super) fn parse_any(text: &str) -> Result<Reference, DistributionError> {
    let bare = text.strip_prefix(SCHEME).unwrap_or(text);
    let host = bare.split('/').next().unwrap_or_default();
    if host.contains('@') {
        return Err(DistributionError::Reference(format!(
            "`{}` carries credentials; remove them: registry credentials come from CAPSTAN_REGISTRY_USERNAME/CAPSTAN_REGISTRY_PASSWORD or a docker config file, never from a manifest",
            redact_user_info(text)
        )));
    }
    if !bare.contains('/') {
        return Err(DistributionError::Reference(format!(
            "`{text}` names no registry; write oci://REGISTRY/REPOSITORY:TAG@sha256:DIGEST"
        )));
    }
    let reference: Reference = bare.parse().map_err(|error| {
        DistributionError::Reference(format!(
            "`{text}` is not a valid OCI reference ({error}); write oci://REGISTRY/REPOSITORY:TAG@sha256:DIGEST"
        ))
    })?;
    if let Some(digest) = reference.digest() {
        check_digest(digest).map_err(DistributionError::Reference)?;
    }
    Ok(reference)
}

/// A `sha256:` digest of 64 lowercase hex digits.
pub fn check_digest(digest: &str) -> Result<(), String> {
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    match hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        true => Ok(()),
        false => Err(format!(
            "`{digest}` is not a sha256 digest; write sha256: and 64 lowercase hex digits"
        )),
    }
}

fn redact_user_info(text: &str) -> String {
    let bare = text.strip_prefix(SCHEME).unwrap_or(text);
    match bare.split_once('@') {
        Some((_, rest)) => format!("{SCHEME}…@{rest}"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_digest_is_required_unless_a_floating_tag_is_allowed() {
        let pinned = format!("oci://127.0.0.1:5000/plugins/echo:v1@{DIGEST}");
        let parsed = OciReference::parse(&pinned, false).unwrap();
        assert_eq!(parsed.digest(), Some(DIGEST));
        assert_eq!(parsed.tag(), Some("v1"));
        assert_eq!(parsed.registry(), "127.0.0.1:5000");
        let by_digest = format!("oci://127.0.0.1:5000/plugins/echo@{DIGEST}");
        assert!(OciReference::parse(&by_digest, false).is_ok());
        let floating = "oci://127.0.0.1:5000/plugins/echo:v1";
        let error = OciReference::parse(floating, false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("allow_floating_tag"), "{error}");
        assert!(OciReference::parse(floating, true).is_ok());
    }

    #[test]
    fn credentials_in_a_reference_are_refused_without_echoing_them() {
        let text = format!("oci://admin:hunter2@registry.test/plugins/echo@{DIGEST}");
        let error = OciReference::parse(&text, false).unwrap_err().to_string();
        assert!(error.contains("CAPSTAN_REGISTRY_USERNAME"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn digests_other_than_sha256_and_references_without_a_registry_are_refused() {
        let short = "oci://registry.test/plugins/echo@sha256:abc";
        assert!(OciReference::parse(short, false).is_err());
        assert!(OciReference::parse("oci://echo", true).is_err());
    }
}
