//! The CNCF Wasm OCI artifact layout (as `wkg oci push` publishes it): an OCI image manifest
//! whose config has media type `application/vnd.wasm.config.v0+json` and whose only layer is
//! the component, media type `application/wasm`.

use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};

use super::DistributionError;
use super::cache::sha256;

/// The config media type of a Wasm artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the component layer.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The largest component pulled.
pub const MAX_COMPONENT_BYTES: i64 = 256 << 20;

/// The artifact of one component: its image manifest and config blob.
pub struct Artifact {
    /// The image manifest.
    pub manifest: OciImageManifest,
    /// The config blob.
    pub config: Vec<u8>,
}

/// The artifact publishing `wasm`.
pub fn artifact(wasm: &[u8]) -> Artifact {
    let layer_digest = sha256(wasm);
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
    });
    let config = serde_json::to_vec(&config).expect("a JSON value serialises");
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config: descriptor(CONFIG_MEDIA_TYPE, &config),
        layers: vec![descriptor(LAYER_MEDIA_TYPE, wasm)],
        ..OciImageManifest::default()
    };
    Artifact { manifest, config }
}

fn descriptor(media_type: &str, bytes: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: sha256(bytes),
        size: bytes.len() as i64,
        ..OciDescriptor::default()
    }
}

/// The component layer of a pulled image manifest, refusing anything but the Wasm layout.
pub fn component_layer(bytes: &[u8]) -> Result<OciDescriptor, DistributionError> {
    let manifest: OciImageManifest = serde_json::from_slice(bytes).map_err(|error| {
        DistributionError::Layout(format!(
            "the artifact's manifest is not an OCI image manifest ({error})"
        ))
    })?;
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(DistributionError::Layout(format!(
            "the artifact's config is `{}`, not a Wasm component's",
            manifest.config.media_type
        )));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(DistributionError::Layout(format!(
            "the artifact has {} layers, not one component",
            manifest.layers.len()
        )));
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        return Err(DistributionError::Layout(format!(
            "the artifact's layer is `{}`, not `{LAYER_MEDIA_TYPE}`",
            layer.media_type
        )));
    }
    if !(0..=MAX_COMPONENT_BYTES).contains(&layer.size) {
        return Err(DistributionError::Layout(format!(
            "the component layer says it is {} bytes; capstan pulls components of up to 256 MiB",
            layer.size
        )));
    }
    super::reference::check_digest(&layer.digest).map_err(DistributionError::Layout)?;
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_round_trips_to_its_component_layer() {
        let artifact = artifact(b"\0asm component");
        let bytes = serde_json::to_vec(&artifact.manifest).unwrap();
        let layer = component_layer(&bytes).unwrap();
        assert_eq!(layer.digest, sha256(b"\0asm component"));
        assert_eq!(artifact.manifest.config.digest, sha256(&artifact.config));
    }

    #[test]
    fn other_layouts_are_refused() {
        let mut artifact = artifact(b"x");
        artifact.manifest.layers[0].media_type = "application/vnd.oci.image.layer.v1.tar".into();
        let bytes = serde_json::to_vec(&artifact.manifest).unwrap();
        let error = component_layer(&bytes).unwrap_err().to_string();
        assert!(error.contains("capstan plugin push"), "{error}");
    }
}
