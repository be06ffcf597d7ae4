//! Ed25519 keys: a writer signs the records it publishes, readers list the keys they trust.
//!
//! Written as Nix binary caches write theirs: `name:base64`, the secret key's text holding the
//! 32-byte seed and the public key's the 32-byte public key. The name travels in each record, so
//! a reader finds the key that should have signed it (several writers, key rotation).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SecureRandom as _;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

/// Why a key's text is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not `name:base64` with a valid name.
    #[error(
        "invalid {what} `{shown}`: expected NAME:BASE64, NAME made of 1 to 64 ASCII letters, digits, \
         `.`, `_` or `-` (generate a pair with `cairn cache keygen NAME`)"
    )]
    Format {
        /// Which kind of key.
        what: &'static str,
        /// The text, or only its name for a secret key.
        shown: String,
    },
    /// The base64 does not hold 32 bytes.
    #[error("the {what} `{name}` does not hold 32 bytes of base64")]
    Length {
        /// Which kind of key.
        what: &'static str,
        /// The key's name.
        name: String,
    },
    /// The system's random source failed.
    #[error("cannot generate a key: the system's random source failed")]
    Random,
}

/// A writer's secret key. Its `Debug` shows only the name.
pub struct SigningKey {
    name: String,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses `name:base64-of-the-32-byte-seed` (`CAIRN_REMOTE_SIGNING_KEY`). An error names
    /// the key, never its secret.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        const WHAT: &str = "signing key";
        let text = text.trim();
        // The text may be a secret pasted without its name: only a valid name is shown.
        let (name, encoded) = split(text).ok_or_else(|| KeyError::Format {
            what: WHAT,
            shown: text
                .split_once(':')
                .map(|(name, _)| name)
                .filter(|name| valid_name(name))
                .unwrap_or("(not shown)")
                .to_owned(),
        })?;
        let seed = decode32(encoded).ok_or_else(|| KeyError::Length {
            what: WHAT,
            name: name.to_owned(),
        })?;
        Self::from_seed(name, seed)
    }

    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        if !valid_name(name) {
            return Err(KeyError::Format {
                what: "key name",
                shown: name.to_owned(),
            });
        }
        let mut seed = [0_u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| KeyError::Random)?;
        Self::from_seed(name, seed)
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyError::Length {
            what: "signing key",
            name: name.to_owned(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            seed,
            pair,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The secret key's text, `name:base64`: what [`SigningKey::parse`] reads.
    pub fn to_secret_text(&self) -> String {
        format!("{}:{}", self.name, STANDARD.encode(self.seed))
    }

    /// The public key readers list in `CAIRN_REMOTE_TRUSTED_KEYS`.
    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0_u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey {
            name: self.name.clone(),
            bytes,
        }
    }

    /// The base64 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(message).as_ref())
    }
}

/// A public key: a name and 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    bytes: [u8; 32],
}

impl PublicKey {
    /// Parses `name:base64-of-the-32-byte-key`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        const WHAT: &str = "trusted public key";
        let (name, encoded) = split(text).ok_or_else(|| KeyError::Format {
            what: WHAT,
            shown: text.to_owned(),
        })?;
        let bytes = decode32(encoded).ok_or_else(|| KeyError::Length {
            what: WHAT,
            name: name.to_owned(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            bytes,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `signature` (base64) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.bytes)
            .verify(message, &signature)
            .is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, STANDARD.encode(self.bytes))
    }
}

/// The keys a reader trusts; a record signed by any other key is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    /// Parses keys separated by whitespace or commas (`CAIRN_REMOTE_TRUSTED_KEYS`).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let keys = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|part| !part.is_empty())
            .map(PublicKey::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// Adds `key` (a writer trusts its own key).
    pub fn insert(&mut self, key: PublicKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a trusted key named `name` signed `message` with `signature`.
    pub fn verifies(&self, name: &str, message: &[u8], signature: &str) -> bool {
        self.keys
            .iter()
            .filter(|key| key.name == name)
            .any(|key| key.verifies(message, signature))
    }
}

/// Whether `name` can name a key: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn split(text: &str) -> Option<(&str, &str)> {
    let (name, encoded) = text.split_once(':')?;
    valid_name(name).then_some((name, encoded))
}

fn decode32(encoded: &str) -> Option<[u8; 32]> {
    STANDARD.decode(encoded).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_and_message() {
        let key = SigningKey::generate("ci-1").unwrap();
        let other = SigningKey::generate("ci-1").unwrap();
        let again = SigningKey::parse(&key.to_secret_text()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let signature = key.sign(b"record");
        let trusted = TrustedKeys::parse(&format!(" {} ,", key.public_key())).unwrap();
        assert!(trusted.verifies("ci-1", b"record", &signature));
        assert!(!trusted.verifies("ci-1", b"recorD", &signature));
        assert!(!trusted.verifies("ci-2", b"record", &signature));
        assert!(!trusted.verifies("ci-1", b"record", &other.sign(b"record")));
        assert!(!trusted.verifies("ci-1", b"record", "not base64!"));
    }

    #[test]
    fn bad_keys_are_named_without_their_secret() {
        let error = SigningKey::parse("ci:c2VjcmV0").unwrap_err().to_string();
        assert!(
            error.contains("`ci`") && !error.contains("c2VjcmV0"),
            "{error}"
        );
        let error = SigningKey::parse("no colon secret")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("secret"), "{error}");
        assert!(PublicKey::parse("../x:AAAA").is_err());
        assert!(SigningKey::generate("bad name").is_err());
        assert!(format!("{:?}", SigningKey::generate("k").unwrap()).contains("\"k\""));
    }
}
