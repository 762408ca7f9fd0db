//! Cosign's key files: the public key (`cosign.pub`, a PEM `PUBLIC KEY`) that verifies, and the
//! encrypted private key (`cosign.key`, a PEM `ENCRYPTED SIGSTORE PRIVATE KEY`, or `ENCRYPTED
//! COSIGN PRIVATE KEY` from older cosign) that signs. The private key is a PKCS#8 ECDSA P-256
//! key sealed with NaCl secretbox under a key derived from the password by scrypt, as
//! `cosign generate-key-pair` writes it; keys made by either tool work with both.
//!
//! Only ECDSA P-256 keys are supported (what cosign generates). Problems never quote a key or a
//! password.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer as _};
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use serde::{Deserialize, Serialize};

/// The PEM label `cosign generate-key-pair` writes.
const PRIVATE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label older cosign releases wrote.
const OLD_PRIVATE_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// scrypt's cost `N` as cosign writes it, and the other one it accepts.
const SCRYPT_N: u32 = 32768;
const SCRYPT_N_HIGH: u32 = 65536;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// Why a key file cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file is not a key capstan can use.
    #[error(
        "{}: {problem}; use a key pair made by `capstan plugin keygen` or `cosign generate-key-pair` (ECDSA P-256)",
        path.display()
    )]
    Format {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The private key does not open with the password.
    #[error(
        "{}: cannot be decrypted with the password in COSIGN_PASSWORD; set COSIGN_PASSWORD to the password the key was made with",
        path.display()
    )]
    Password {
        /// The key file.
        path: PathBuf,
    },
}

/// A public key that verifies signatures, with the file it came from.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// The file.
    pub path: PathBuf,
    key: VerifyingKey,
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (ECDSA P-256).
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| io(path, &error))?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_public_key_pem(text.trim()).map_err(|error| {
            format_error(
                path,
                format!("is not a PEM ECDSA P-256 public key ({error})"),
            )
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            key,
        })
    }

    /// Whether `signature` (base64 of an ASN.1 DER ECDSA signature, as cosign stores it) signs
    /// `payload` with this key.
    pub fn verifies(&self, payload: &[u8], signature: &str) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        let Ok(der) = BASE64.decode(signature.trim()) else {
            return false;
        };
        let Ok(signature) = Signature::from_der(&der) else {
            return false;
        };
        self.key.verify(payload, &signature).is_ok()
    }
}

/// A private key that signs.
pub struct PrivateKey {
    key: SigningKey,
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> Self {
        loop {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut()).expect("the operating system's random source");
            if let Ok(key) = SigningKey::from_slice(bytes.as_ref()) {
                return Self { key };
            }
        }
    }

    /// Reads cosign's encrypted private key and opens it with `password`.
    pub fn read(path: &Path, password: &[u8]) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| io(path, &error))?;
        Self::decrypt(path, &text, password)
    }

    fn decrypt(path: &Path, text: &str, password: &[u8]) -> Result<Self, KeyError> {
        let (label, sealed) = pem::decode_vec(text.trim().as_bytes())
            .map_err(|error| format_error(path, format!("is not a PEM file ({error})")))?;
        if label != PRIVATE_LABEL && label != OLD_PRIVATE_LABEL {
            return Err(format_error(
                path,
                format!("is a PEM `{label}`, not cosign's `{PRIVATE_LABEL}`"),
            ));
        }
        let sealed: Sealed = serde_json::from_slice(&sealed).map_err(|error| {
            format_error(path, format!("is not cosign's encrypted key ({error})"))
        })?;
        let der = sealed.open(path, password)?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|error| {
            format_error(path, format!("holds no ECDSA P-256 private key ({error})"))
        })?;
        Ok(Self { key })
    }

    /// Cosign's encrypted PEM of this key under `password`.
    pub fn encrypted_pem(&self, password: &[u8]) -> String {
        let der = self
            .key
            .to_pkcs8_der()
            .expect("a P-256 key encodes as PKCS#8");
        let sealed = Sealed::seal(der.as_bytes(), password);
        let json = serde_json::to_vec(&sealed).expect("the sealed key serialises");
        pem::encode_string(PRIVATE_LABEL, LineEnding::LF, &json).expect("PEM encodes")
    }

    /// The PEM `PUBLIC KEY` of this key.
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key encodes")
    }

    /// Base64 of the ASN.1 DER ECDSA signature of `payload` (SHA-256), as cosign stores it.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: Signature = self.key.sign(payload);
        BASE64.encode(signature.to_der().as_bytes())
    }
}

/// Cosign's sealed private key (the JSON inside the PEM).
#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "base64_bytes")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "base64_bytes")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "base64_bytes")]
    nonce: Vec<u8>,
}

impl Sealed {
    fn seal(plaintext: &[u8], password: &[u8]) -> Self {
        let mut salt = vec![0u8; 32];
        let mut nonce = vec![0u8; 24];
        getrandom::fill(&mut salt).expect("the operating system's random source");
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let params = ScryptParams {
            n: SCRYPT_N,
            r: SCRYPT_R,
            p: SCRYPT_P,
        };
        let key = derive(&params, &salt, password).expect("cosign's scrypt parameters are valid");
        let ciphertext = secretbox(&key)
            .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), plaintext)
            .expect("secretbox seals");
        Self {
            kdf: Kdf {
                name: "scrypt".into(),
                params,
                salt,
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce,
            },
            ciphertext,
        }
    }

    fn open(&self, path: &Path, password: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
        let params = &self.kdf.params;
        let known = self.kdf.name == "scrypt"
            && self.cipher.name == "nacl/secretbox"
            && [SCRYPT_N, SCRYPT_N_HIGH].contains(&params.n)
            && (params.r, params.p) == (SCRYPT_R, SCRYPT_P)
            && self.cipher.nonce.len() == 24;
        if !known {
            return Err(format_error(
                path,
                "uses a key derivation or cipher cosign does not write (scrypt N=32768 or 65536, r=8, p=1 and nacl/secretbox)",
            ));
        }
        let key = derive(params, &self.kdf.salt, password)
            .ok_or_else(|| format_error(path, "has invalid scrypt parameters"))?;
        secretbox(&key)
            .decrypt(
                crypto_secretbox::Nonce::from_slice(&self.cipher.nonce),
                self.ciphertext.as_slice(),
            )
            .map(zeroize::Zeroizing::new)
            .map_err(|_| KeyError::Password {
                path: path.to_path_buf(),
            })
    }
}

fn derive(
    params: &ScryptParams,
    salt: &[u8],
    password: &[u8],
) -> Option<zeroize::Zeroizing<[u8; 32]>> {
    let log_n = u8::try_from(params.n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, params.r, params.p).ok()?;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut()).ok()?;
    Some(key)
}

#[allow(deprecated)]
fn secretbox(key: &[u8; 32]) -> crypto_secretbox::XSalsa20Poly1305 {
    crypto_secretbox::XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key))
}

/// Bytes as standard base64 with padding, as Go's JSON encodes `[]byte`.
pub(super) mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

fn io(path: &Path, error: &std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

fn format_error(path: &Path, problem: impl Into<String>) -> KeyError {
    KeyError::Format {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_a_generated_key_round_trips_through_cosign_files() {
        let key = PrivateKey::generate();
        let pem = key.encrypted_pem(b"correct horse");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let path = Path::new("cosign.key");
        let opened = PrivateKey::decrypt(path, &pem, b"correct horse").unwrap();
        let public = PublicKey::parse(Path::new("cosign.pub"), &key.public_pem()).unwrap();
        let signature = opened.sign(b"payload");
        assert!(public.verifies(b"payload", &signature));
        assert!(!public.verifies(b"other payload", &signature));
        assert!(!public.verifies(b"payload", "not base64!"));
        let error = PrivateKey::decrypt(path, &pem, b"wrong")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("COSIGN_PASSWORD"), "{error}");
        assert!(!error.contains("wrong"), "{error}");
    }

    #[test]
    fn signature_a_key_made_by_cosign_opens() {
        // Written by `cosign generate-key-pair` with an empty password (N = 65536).
        let key = PrivateKey::decrypt(Path::new("cosign.key"), COSIGN_KEY, b"")
            .expect("cosign's key opens");
        let public = PublicKey::parse(Path::new("cosign.pub"), &key.public_pem()).unwrap();
        assert!(public.verifies(b"payload", &key.sign(b"payload")));
    }

    #[test]
    fn signature_other_public_keys_are_refused_by_name() {
        let error = PublicKey::parse(
            Path::new("rsa.pub"),
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("rsa.pub") && error.contains("keygen"),
            "{error}"
        );
    }

    const COSIGN_KEY: &str = include_str!("testdata/cosign-empty-password.key");
}
