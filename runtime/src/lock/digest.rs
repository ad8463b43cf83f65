//! Component digests. A component's bytes are hashed and compared with the pin before anything
//! compiles them: [`Verified`] is the only way to hand bytes to the engine.

use sha2::{Digest as _, Sha256};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("{0:?} is not a digest (expected sha256:<64 hex digits>)")]
    Malformed(String),
    #[error(
        "sha256 mismatch for {what}: drivers.lock pins {expected}, the bytes are {actual}; \
         refusing to compile or run it (if the change is intended, review it and run 'lo drivers lock')"
    )]
    Mismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
}

impl Digest {
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Malformed(text.into()))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::Malformed(text.into()));
        }
        Ok(Digest(format!("sha256:{}", hex.to_ascii_lowercase())))
    }

    /// The hex part, used as a cache key.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:ab12cd34…` for messages.
    pub fn short(&self) -> String {
        format!("sha256:{}…", &self.hex()[..12])
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn sha256_of(bytes: &[u8]) -> Digest {
    Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
}

/// Component bytes whose digest has been computed (and, when pinned, matched).
#[derive(Clone)]
pub struct Verified {
    bytes: Arc<[u8]>,
    digest: Digest,
    pinned: bool,
}

impl Verified {
    /// Checks `bytes` against the pinned digest.
    pub fn against(
        bytes: Arc<[u8]>,
        expected: &Digest,
        what: &str,
    ) -> Result<Verified, DigestError> {
        let actual = sha256_of(&bytes);
        if &actual != expected {
            return Err(DigestError::Mismatch {
                what: what.into(),
                expected: expected.clone(),
                actual,
            });
        }
        Ok(Verified {
            bytes,
            digest: actual,
            pinned: true,
        })
    }

    /// Bytes that nothing pins (a built-in driver without a lock entry): only hashed.
    pub fn unpinned(bytes: Arc<[u8]>) -> Verified {
        let digest = sha256_of(&bytes);
        Verified {
            bytes,
            digest,
            pinned: false,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    pub fn pinned(&self) -> bool {
        self.pinned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_mismatch() {
        let empty = sha256_of(b"");
        assert_eq!(
            empty.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let err = Verified::against(Arc::from(&b"x"[..]), &empty, "kind k3s")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&empty.to_string()) && err.contains(&sha256_of(b"x").to_string()),
            "{err}"
        );
    }

    #[test]
    fn parse_normalises_case_and_rejects_junk() {
        let upper = format!("sha256:{}", "AB".repeat(32));
        assert_eq!(Digest::parse(&upper).unwrap().hex(), "ab".repeat(32));
        assert!(Digest::parse("sha256:xyz").is_err());
        assert!(Digest::parse(&"a".repeat(64)).is_err());
    }
}
