//! What a HelmRelease deployed, read from Helm's storage Secret
//! `sh.helm.release.v1.<name>.v<version>` (in `status.storageNamespace`) as `flux tree` reads
//! it: the Secret's `release` value is base64 text of a gzip stream of the release JSON, whose
//! `manifest` is the rendered YAML. Only each object's kind, name and namespace leave this
//! module; the release's values (which may hold secrets) never do.

use capstan_sdk::Value;

/// Largest release JSON inflated (Helm's own limit on a Secret is 1 MiB compressed).
const MAX_RELEASE: usize = 16 << 20;

/// Kinds without a namespace, which keep none when the manifest gives none.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
];

/// One object of a rendered manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
}

/// The objects of the release stored in `secret` (a Helm storage Secret), with namespaces
/// filled in from `namespace` (the release's) where the manifest leaves them out.
pub(crate) fn objects(secret: &Value, namespace: &str) -> Result<Vec<Object>, String> {
    let encoded = secret["data"]["release"]
        .as_str()
        .ok_or("the Secret has no `release` value; is it a Helm storage Secret?")?;
    let helm_text = base64(encoded.as_bytes())?;
    let compressed = base64(&helm_text)?;
    let json = match compressed.get(..2) {
        Some([0x1f, 0x8b]) => gunzip(&compressed)?,
        _ => compressed,
    };
    let release: Value = capstan_sdk::serde_json::from_slice(&json)
        .map_err(|e| format!("the release is not JSON: {e}"))?;
    let manifest = release["manifest"].as_str().unwrap_or_default();
    Ok(parse_manifest(manifest, namespace))
}

/// The objects of a multi-document YAML manifest as Helm renders it (top-level `apiVersion`
/// and `kind`, `name` and `namespace` under `metadata`).
pub(crate) fn parse_manifest(manifest: &str, namespace: &str) -> Vec<Object> {
    manifest
        .split("\n---")
        .filter_map(|document| parse_document(document, namespace))
        .collect()
}

fn parse_document(document: &str, namespace: &str) -> Option<Object> {
    let (mut api_version, mut kind, mut name, mut object_namespace) = (None, None, None, None);
    let mut in_metadata = false;
    for line in document.lines() {
        let top_level = !line.starts_with(' ') && !line.starts_with('#');
        if top_level {
            in_metadata = line.trim_end() == "metadata:";
        }
        let field = |key: &str| -> Option<String> {
            let value = line
                .trim_start()
                .strip_prefix(key)?
                .strip_prefix(':')?
                .trim();
            Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned()).filter(|v| !v.is_empty())
        };
        if top_level {
            api_version = api_version.or_else(|| field("apiVersion"));
            kind = kind.or_else(|| field("kind"));
        } else if in_metadata && line.starts_with("  ") && !line.starts_with("   ") {
            name = name.or_else(|| field("name"));
            object_namespace = object_namespace.or_else(|| field("namespace"));
        }
    }
    let kind = kind?;
    let namespace = match object_namespace {
        Some(namespace) => Some(namespace),
        None if CLUSTER_SCOPED.contains(&kind.as_str()) => None,
        None => Some(namespace.to_owned()),
    };
    Some(Object {
        api_version: api_version.unwrap_or_default(),
        kind,
        name: name?,
        namespace,
    })
}

/// Standard base64 (RFC 4648) with optional padding; whitespace is skipped.
fn base64(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in text {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return Err("the release is not base64".into()),
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// The payload of a gzip stream (RFC 1952) of one member.
fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "the release is not a valid gzip stream".to_owned();
    if data.len() < 18 || data[2] != 8 {
        return Err(bad());
    }
    let flags = data[3];
    let mut at = 10;
    if flags & 4 != 0 {
        let extra = usize::from(*data.get(at).ok_or_else(bad)?)
            | usize::from(*data.get(at + 1).ok_or_else(bad)?) << 8;
        at += 2 + extra;
    }
    for flag in [8, 16] {
        if flags & flag != 0 {
            at += data
                .get(at..)
                .ok_or_else(bad)?
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(bad)?
                + 1;
        }
    }
    if flags & 2 != 0 {
        at += 2;
    }
    inflate(data.get(at..).ok_or_else(bad)?)
}

/// Reads bits least significant first, as deflate packs them.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
    bit: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        let byte = *self
            .data
            .get(self.at)
            .ok_or("the release's deflate stream ends early")?;
        let bit = u32::from(byte >> self.bit) & 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.at += 1;
        }
        Ok(bit)
    }

    fn bits(&mut self, count: u32) -> Result<u32, String> {
        (0..count).try_fold(0, |value, index| Ok(value | self.bit()? << index))
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Self {
        let mut counts = [0u16; 16];
        lengths
            .iter()
            .for_each(|&length| counts[usize::from(length)] += 1);
        counts[0] = 0;
        let mut symbols = Vec::with_capacity(lengths.len());
        for length in 1..16u8 {
            for (symbol, _) in lengths.iter().enumerate().filter(|(_, l)| **l == length) {
                symbols.push(symbol as u16);
            }
        }
        Self { counts, symbols }
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for length in 1..16 {
            code |= bits.bit()? as i32;
            let count = i32::from(self.counts[length]);
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("the release's deflate stream has an invalid code".into())
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order code length code lengths come in.
const CODE_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Raw deflate (RFC 1951).
fn inflate(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut bits = Bits {
        data,
        at: 0,
        bit: 0,
    };
    let mut out = Vec::new();
    loop {
        let last = bits.bit()? == 1;
        match bits.bits(2)? {
            0 => stored(&mut bits, &mut out)?,
            1 => {
                let mut lengths = [8u8; 288];
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                compressed(
                    &mut bits,
                    &mut out,
                    &Huffman::new(&lengths),
                    &Huffman::new(&[5; 30]),
                )?;
            }
            2 => {
                let (literals, distances) = dynamic_codes(&mut bits)?;
                compressed(&mut bits, &mut out, &literals, &distances)?;
            }
            _ => return Err("the release's deflate stream has an invalid block".into()),
        }
        if out.len() > MAX_RELEASE {
            return Err("the release is larger than 16 MiB".into());
        }
        if last {
            return Ok(out);
        }
    }
}

fn stored(bits: &mut Bits<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    if bits.bit != 0 {
        bits.bit = 0;
        bits.at += 1;
    }
    let header = bits
        .data
        .get(bits.at..bits.at + 4)
        .ok_or("the release's stored block ends early")?;
    let length = usize::from(u16::from_le_bytes([header[0], header[1]]));
    bits.at += 4;
    let block = bits
        .data
        .get(bits.at..bits.at + length)
        .ok_or("the release's stored block ends early")?;
    out.extend_from_slice(block);
    bits.at += length;
    Ok(())
}

fn dynamic_codes(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman), String> {
    let literals = bits.bits(5)? as usize + 257;
    let distances = bits.bits(5)? as usize + 1;
    let code_lengths = bits.bits(4)? as usize + 4;
    let mut order = [0u8; 19];
    for &index in CODE_ORDER.iter().take(code_lengths) {
        order[index] = bits.bits(3)? as u8;
    }
    let code = Huffman::new(&order);
    let mut lengths = Vec::with_capacity(literals + distances);
    while lengths.len() < literals + distances {
        let symbol = code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => (
                *lengths
                    .last()
                    .ok_or("the release's code lengths start with a repeat")?,
                3 + bits.bits(2)?,
            ),
            17 => (0, 3 + bits.bits(3)?),
            _ => (0, 11 + bits.bits(7)?),
        };
        lengths.extend(std::iter::repeat_n(value, repeat as usize));
    }
    if lengths.len() != literals + distances {
        return Err("the release's code lengths overflow".into());
    }
    Ok((
        Huffman::new(&lengths[..literals]),
        Huffman::new(&lengths[literals..]),
    ))
}

fn compressed(
    bits: &mut Bits<'_>,
    out: &mut Vec<u8>,
    literals: &Huffman,
    distances: &Huffman,
) -> Result<(), String> {
    loop {
        let symbol = usize::from(literals.decode(bits)?);
        match symbol {
            0..=255 => out.push(symbol as u8),
            256 => return Ok(()),
            _ => {
                let index = symbol - 257;
                let base = *LENGTH_BASE
                    .get(index)
                    .ok_or("the release has an invalid length")?;
                let length =
                    usize::from(base) + bits.bits(u32::from(LENGTH_EXTRA[index]))? as usize;
                let index = usize::from(distances.decode(bits)?);
                let base = *DISTANCE_BASE
                    .get(index)
                    .ok_or("the release has an invalid distance")?;
                let distance =
                    usize::from(base) + bits.bits(u32::from(DISTANCE_EXTRA[index]))? as usize;
                let start = out
                    .len()
                    .checked_sub(distance)
                    .ok_or("the release refers before its start")?;
                for offset in 0..length {
                    out.push(out[start + offset]);
                }
                if out.len() > MAX_RELEASE {
                    return Err("the release is larger than 16 MiB".into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_sdk::json;

    /// A Helm storage Secret's `release` value: base64 of Helm's base64 of a gzip (dynamic
    /// Huffman blocks) of a release with a Service, a Deployment and a ClusterRole.
    pub(crate) const RELEASE: &str = "SDRzSUFBQUFBQUFDQTRXU01XL0RJQkNGL3dxaWE0M1ZERlhydFYyeVZVM1ZpZVVDbHdRWkh3aHdwRFRLZnkvR1R0Skdsc0xHNDNIZnU0TWpKK2lRTjR4N3B3MXRISDlrUllvZTFLMit4eENObzZ3dThxNm9EVHZ5bUNEMWNmQnE5TllkVVBOVFBsYzdDS2tZT2t5Z0lVSFp6UEN1ZGZtemVCVUxmaXIzSFczTWRpU2dDcGkrWEl2RnRPc3BZVmdVU2dka05oZ0hFSytxU3RJRFc3aytLR3pZUktnVGR0NUN3bGhIREh1alVCeWdzNUxBbSsrUjNMRDlrNlRXa0c3WWF2UklPcWR1SkRFMnBMNVVIQVFMYTdTeG5ERUczb3UyWDJNZ3pCaGhYSDNqang1VjhhYUR6L3FiN1dQdVlQa2g2VzdtY2FZZFVwcUpuY0d4dm1aL3YzanZ4Yjg4OFd6SUNUNTE5Ni9Tc01acVprc3VvSjVhK0pzcXJFRUo2TlBPQmZNREtXdWlmU2xqdVVhZFJ2RHA3UHlvNWZtRFZBRkJZNUJjRWovOUFqQ0p5bEN2QWdBQQ==";

    fn object(api_version: &str, kind: &str, name: &str, namespace: Option<&str>) -> Object {
        Object {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(str::to_owned),
        }
    }

    #[test]
    fn a_storage_secret_decodes_to_its_objects() {
        let secret = json!({"data": {"release": RELEASE}});
        assert_eq!(
            objects(&secret, "podinfo"),
            Ok(vec![
                object("v1", "Service", "podinfo", Some("podinfo")),
                object("apps/v1", "Deployment", "podinfo", Some("podinfo")),
                object(
                    "rbac.authorization.k8s.io/v1",
                    "ClusterRole",
                    "podinfo-reader",
                    None
                ),
            ])
        );
    }

    #[test]
    fn broken_secrets_say_what_is_wrong() {
        assert!(
            objects(&json!({"data": {}}), "x")
                .unwrap_err()
                .contains("no `release`")
        );
        assert!(objects(&json!({"data": {"release": "!!"}}), "x").is_err());
        let truncated = &RELEASE[..RELEASE.len() / 2];
        assert!(objects(&json!({"data": {"release": truncated}}), "x").is_err());
    }

    #[test]
    fn stored_blocks_inflate_too() {
        let stored = [0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'];
        assert_eq!(inflate(&stored), Ok(b"abc".to_vec()));
    }
}
