//! Named API keys for machines: a TOML file of `[[key]]` entries, each a name, the hex SHA-256
//! of the key (the key itself is never stored) and groups. The file is checked for changes at
//! most once a second (modification time, length, inode: a Kubernetes secret's `..data` flip
//! counts); a broken file keeps the previous keys serving and says why in the log.
//!
//! ```toml
//! [[key]]
//! name = "ci-deployer"   # the caller's subject
//! sha256 = "9f86d0…"     # `capstan key new` prints the key and this entry
//! groups = ["ci"]
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::caller::{Caller, CallerKind};

/// The shortest key accepted: shorter bearers are never looked up.
pub const MIN_KEY_LEN: usize = 32;

/// How often, at most, the file's metadata is checked.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The prefix of generated keys.
pub const KEY_PREFIX: &str = "capstan_";

/// A keys file that cannot be used; never contains a key.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file cannot be read.
    #[error("cannot read the API keys file {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not the expected TOML.
    #[error(
        "the API keys file is not valid: {0}; write `[[key]]` entries with `name`, `sha256` and `groups`"
    )]
    Syntax(String),
    /// An entry is unusable.
    #[error("the API key `{name}` {problem}")]
    Entry {
        /// The entry's name.
        name: String,
        /// What is wrong.
        problem: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    key: Vec<KeyFileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    name: String,
    sha256: String,
    #[serde(default)]
    groups: Vec<String>,
}

/// One key's principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The subject.
    pub name: String,
    /// Its groups.
    pub groups: Vec<String>,
}

/// The keys of one version of the file, by SHA-256.
#[derive(Debug, Default)]
pub struct KeySet {
    by_hash: HashMap<[u8; 32], KeyEntry>,
}

impl KeySet {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, KeysError> {
        let file: KeysFile =
            toml::from_str(text).map_err(|error| KeysError::Syntax(error.message().to_owned()))?;
        let mut by_hash = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for entry in file.key {
            let problem = |problem| KeysError::Entry {
                name: entry.name.clone(),
                problem,
            };
            if entry.name.trim().is_empty() {
                return Err(problem("has an empty name; name the machine that uses it"));
            }
            let hash = parse_hex(&entry.sha256).ok_or_else(|| {
                problem("has a `sha256` that is not 64 hex digits; `capstan key new` prints one")
            })?;
            if !names.insert(entry.name.clone()) {
                return Err(problem("appears twice; give each key its own name"));
            }
            let key = KeyEntry {
                name: entry.name.clone(),
                groups: entry.groups,
            };
            if by_hash.insert(hash, key).is_some() {
                return Err(problem(
                    "has the same key as another entry; generate one per machine",
                ));
            }
        }
        Ok(Self { by_hash })
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The entry `presented` is the key of, if any; short keys never match.
    pub fn find(&self, presented: &str) -> Option<&KeyEntry> {
        if presented.len() < MIN_KEY_LEN {
            return None;
        }
        self.by_hash.get(&sha256(presented))
    }
}

/// The keys file, reloaded when it changes.
pub struct ApiKeys {
    path: PathBuf,
    keys: ArcSwap<KeySet>,
    check: Mutex<Check>,
}

struct Check {
    at: Instant,
    seen: Option<Fingerprint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl ApiKeys {
    /// Loads `path`; at start a broken file is an error.
    pub fn load(path: &Path) -> Result<Self, KeysError> {
        let seen = fingerprint(path);
        let keys = read(path)?;
        tracing::info!(file = %path.display(), keys = keys.len(), "API keys loaded");
        Ok(Self {
            path: path.to_path_buf(),
            keys: ArcSwap::from_pointee(keys),
            check: Mutex::new(Check {
                at: Instant::now(),
                seen,
            }),
        })
    }

    /// The caller `presented` authenticates as, if it is one of the keys.
    pub fn authenticate(&self, presented: &str) -> Option<Caller> {
        self.refresh();
        let keys = self.keys.load();
        let entry = keys.find(presented)?;
        Some(Caller {
            subject: entry.name.clone(),
            name: None,
            groups: entry.groups.clone(),
            client_id: None,
            scopes: Vec::new(),
            kind: CallerKind::ApiKey,
            token: None,
        })
    }

    /// Re-reads the file if its metadata changed, at most once per [`CHECK_INTERVAL`]; a
    /// broken file keeps the previous keys.
    pub fn refresh(&self) {
        let Ok(mut check) = self.check.try_lock() else {
            return;
        };
        if check.at.elapsed() < CHECK_INTERVAL {
            return;
        }
        check.at = Instant::now();
        let now = fingerprint(&self.path);
        if now == check.seen {
            return;
        }
        check.seen = now;
        match read(&self.path) {
            Ok(keys) => {
                tracing::info!(file = %self.path.display(), keys = keys.len(), "API keys reloaded");
                self.keys.store(Arc::new(keys));
            }
            Err(error) => tracing::warn!(
                file = %self.path.display(),
                "{error}; the previous API keys keep working until the file is fixed"
            ),
        }
    }
}

fn read(path: &Path) -> Result<KeySet, KeysError> {
    let text = std::fs::read_to_string(path).map_err(|error| KeysError::Unreadable {
        path: path.to_path_buf(),
        error,
    })?;
    KeySet::parse(&text)
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Fingerprint {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

/// The SHA-256 of `key`.
pub fn sha256(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The lowercase hex SHA-256 of `key`, as the keys file holds it.
pub fn sha256_hex(key: &str) -> String {
    sha256(key)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(hash)
}

/// A fresh key: `capstan_` and 32 random bytes in unpadded base64url.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(format!("{KEY_PREFIX}{encoded}"))
}

/// The keys file entry for `key`, named `name`, in `groups`.
pub fn entry(name: &str, groups: &[String], key: &str) -> String {
    let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
    let groups: Vec<String> = groups.iter().map(|group| quoted(group)).collect();
    format!(
        "[[key]]\nname = {}\nsha256 = \"{}\"\ngroups = [{}]\n",
        quoted(name),
        sha256_hex(key),
        groups.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "capstan_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

    #[test]
    fn a_listed_key_finds_its_entry_and_others_do_not() {
        let keys = KeySet::parse(&entry("ci-deployer", &["ci".into()], KEY)).unwrap();
        assert_eq!(
            keys.find(KEY),
            Some(&KeyEntry {
                name: "ci-deployer".into(),
                groups: vec!["ci".into()]
            })
        );
        assert_eq!(keys.find(&format!("{KEY}x")), None);
    }

    #[test]
    fn short_keys_never_match_even_when_listed() {
        let short = "capstan_tooshort";
        let keys = KeySet::parse(&entry("weak", &[], short)).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.find(short), None);
    }

    #[test]
    fn broken_entries_say_what_to_fix_without_any_key() {
        let error = |text: &str| KeySet::parse(text).unwrap_err().to_string();
        let hash = sha256_hex(KEY);
        let short_hash = error("[[key]]\nname = \"a\"\nsha256 = \"abc\"\n");
        assert!(short_hash.contains("64 hex digits"), "{short_hash}");
        let twice = error(&format!(
            "[[key]]\nname = \"a\"\nsha256 = \"{hash}\"\n[[key]]\nname = \"b\"\nsha256 = \"{hash}\"\n"
        ));
        assert!(twice.contains("same key"), "{twice}");
        let unknown = error("[[key]]\nname = \"a\"\nkey = \"secret\"\n");
        assert!(unknown.contains("[[key]]"), "{unknown}");
    }

    #[test]
    fn generated_keys_are_long_prefixed_and_distinct() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert!(a.starts_with(KEY_PREFIX) && a.len() >= MIN_KEY_LEN + KEY_PREFIX.len());
        assert_ne!(a, b);
    }

    #[test]
    fn the_file_is_reread_when_it_changes_and_a_broken_one_keeps_the_old_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        std::fs::write(&path, entry("one", &[], KEY)).unwrap();
        let keys = ApiKeys::load(&path).unwrap();
        assert_eq!(keys.authenticate(KEY).unwrap().subject, "one");
        let other = format!("{KEY}-other");
        std::fs::write(&path, entry("two", &[], &other)).unwrap();
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(50));
        assert!(keys.authenticate(KEY).is_none());
        assert_eq!(keys.authenticate(&other).unwrap().subject, "two");
        std::fs::write(&path, "[[key]]\nname = ").unwrap();
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(50));
        assert_eq!(keys.authenticate(&other).unwrap().subject, "two");
    }
}
