//! What of a call's arguments may go into an audit record: values under secret-sounding names
//! and values that look like credentials (JWTs, `Bearer …`, PEM blocks, URLs with user info) are
//! replaced by `"[redacted]"`, long strings are shortened, and a record's arguments never exceed
//! [`MAX_ARGUMENTS_BYTES`] of JSON.

use serde_json::{Map, Value, json};

/// The largest serialized size of the arguments in one record.
pub const MAX_ARGUMENTS_BYTES: usize = 2048;

/// Longest string kept whole; longer ones keep their head and say how long they were.
const MAX_STRING_CHARS: usize = 256;

const REDACTED: &str = "[redacted]";

/// Name fragments that mark a value as secret, compared without case, `-` or `_`.
const SECRET_NAMES: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "apikey",
    "credential",
    "privatekey",
    "cookie",
];

/// The arguments as they may be recorded.
pub fn arguments(arguments: &Value) -> Value {
    let cleaned = clean(arguments);
    let size = serde_json::to_string(&cleaned).map_or(usize::MAX, |text| text.len());
    if size <= MAX_ARGUMENTS_BYTES {
        return cleaned;
    }
    json!({ "truncated": true, "bytes": size, "keys": top_level_keys(&cleaned) })
}

fn clean(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let kept = if secret_name(key) {
                        Value::String(REDACTED.into())
                    } else {
                        clean(value)
                    };
                    (key.clone(), kept)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(clean).collect()),
        Value::String(text) if looks_like_a_credential(text) => Value::String(REDACTED.into()),
        Value::String(text) if text.chars().count() > MAX_STRING_CHARS => {
            let head: String = text.chars().take(MAX_STRING_CHARS).collect();
            Value::String(format!("{head}… ({} characters)", text.chars().count()))
        }
        other => other.clone(),
    }
}

fn secret_name(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_NAMES.iter().any(|name| folded.contains(name))
}

fn looks_like_a_credential(text: &str) -> bool {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    lower.starts_with("bearer ")
        || lower.starts_with("basic ")
        || trimmed.contains("-----BEGIN")
        || looks_like_a_jwt(trimmed)
        || has_user_info(trimmed)
}

fn looks_like_a_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && text.starts_with("eyJ")
        && parts.iter().all(|part| {
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

fn has_user_info(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| !url.username().is_empty() || url.password().is_some())
}

fn top_level_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map.keys().take(16).cloned().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_credential_values_are_redacted_the_rest_kept() {
        let recorded = arguments(&json!({
            "applicationName": "payments-api",
            "prune": true,
            "revision": "4f2a9c0d1e2b3a4f5c6d7e8f9a0b1c2d3e4f5a6b",
            "githubToken": "ghp_abc",
            "client-secret": "s3cr3t",
            "headers": [{"value": "Bearer abc.def"}],
            "kubeconfig": "-----BEGIN CERTIFICATE-----\nMIIB...",
            "repo": "https://user:pw@git.example.com/x.git",
            "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
        }));
        assert_eq!(recorded["applicationName"], "payments-api");
        assert_eq!(recorded["prune"], true);
        assert_eq!(
            recorded["revision"],
            "4f2a9c0d1e2b3a4f5c6d7e8f9a0b1c2d3e4f5a6b"
        );
        for key in ["githubToken", "client-secret", "kubeconfig", "repo", "jwt"] {
            assert_eq!(recorded[key], REDACTED, "{key}");
        }
        assert_eq!(recorded["headers"][0]["value"], REDACTED);
    }

    #[test]
    fn long_strings_are_shortened_and_large_arguments_summarised() {
        let long = "x".repeat(1000);
        let shortened = arguments(&json!({ "note": long }));
        let note = shortened["note"].as_str().unwrap();
        assert!(note.ends_with("(1000 characters)"), "{note}");
        let many: Map<String, Value> = (0..100)
            .map(|i| (format!("k{i}"), Value::String("y".repeat(200))))
            .collect();
        let summary = arguments(&Value::Object(many));
        assert_eq!(summary["truncated"], true);
        assert!(summary["bytes"].as_u64().unwrap() > MAX_ARGUMENTS_BYTES as u64);
        assert_eq!(summary["keys"].as_array().unwrap().len(), 16);
    }
}
