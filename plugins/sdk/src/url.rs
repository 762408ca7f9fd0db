//! Building URLs from untrusted names: every value percent-encoded so it stays inside its own
//! path segment or query value (a name like `../projects/default` can never reach another
//! endpoint).

use crate::ToolError;

/// `text` as one path segment, percent-encoded. `.` and `..` are refused: percent-encoding
/// cannot keep them in place, since URL parsing decodes `%2E` and resolves dot segments.
pub fn segment(text: &str) -> Result<String, ToolError> {
    match text {
        "." | ".." => Err(ToolError::new(format!(
            "`{text}` cannot be a name: it would climb the URL path; pass the object's real name"
        ))),
        _ => Ok(encode(text)),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a value can never add a
/// path segment, a query parameter or a fragment.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_their_segment() {
        assert_eq!(
            encode("../projects/x?y=1#z"),
            "..%2Fprojects%2Fx%3Fy%3D1%23z"
        );
        assert_eq!(
            encode("env=prod,team in (a)"),
            "env%3Dprod%2Cteam%20in%20%28a%29"
        );
        assert_eq!(encode("grüße"), "gr%C3%BC%C3%9Fe");
        assert_eq!(segment("a.b").unwrap(), "a.b");
        assert_eq!(segment("...").unwrap(), "...");
    }

    #[test]
    fn dot_segments_are_refused() {
        for dots in [".", ".."] {
            let error = segment(dots).unwrap_err();
            assert!(error.message().contains("cannot be a name"), "{error}");
        }
    }
}
