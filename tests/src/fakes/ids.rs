//! Stable fake identifiers (commit SHAs, UIDs) derived from names, so fixtures and the answers
//! built from them are identical on every run.

/// A stable 64-bit FNV-1a hash.
pub(crate) fn fake_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A 40-hex-digit commit SHA derived from `seed`.
pub(crate) fn fake_sha(seed: &str) -> String {
    let parts: Vec<String> = (0..3)
        .map(|round| format!("{:016x}", fake_hash(&format!("{round}:{seed}"))))
        .collect();
    parts.concat()[..40].to_owned()
}

/// A UUID-shaped id derived from `seed`.
pub(crate) fn fake_uid(seed: &str) -> String {
    let hex = fake_sha(seed);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_ids_are_stable_and_well_formed() {
        assert_eq!(fake_sha("a"), fake_sha("a"));
        assert_ne!(fake_sha("a"), fake_sha("b"));
        assert_eq!(fake_sha("a").len(), 40);
        assert_eq!(fake_uid("a").len(), 36);
    }
}
