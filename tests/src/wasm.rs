//! Distinct versions of a compiled plugin for reload tests and benchmarks.
//!
//! A WebAssembly component may carry custom sections anywhere between its other sections, and
//! the runtime ignores them. Appending one with a tag gives a component that behaves exactly like
//! the plugin but hashes differently: to capstan it is a new version that it must load (and
//! compile, unless it saw the same tag before).

use crate::paths;

/// The compiled `plugin` (e.g. "probe") with a custom section `capstan-test-tag` holding `tag`.
pub fn tagged(plugin: &str, tag: &str) -> Vec<u8> {
    let mut wasm = std::fs::read(paths::plugin(plugin)).expect("reading a compiled plugin");
    append_custom_section(&mut wasm, "capstan-test-tag", tag.as_bytes());
    wasm
}

fn append_custom_section(wasm: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    wasm.push(0); // custom section id
    leb128(wasm, body.len());
    wasm.extend_from_slice(&body);
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_length_prefixed() {
        let mut wasm = Vec::new();
        append_custom_section(&mut wasm, "n", &[7; 200]);
        assert_eq!(wasm[..5], [0, 0xca, 0x01, 1, b'n']);
        assert_eq!(wasm.len(), 1 + 2 + 202);
    }
}
