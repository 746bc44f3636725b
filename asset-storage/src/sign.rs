//! Signed, expiring URLs for the local backend: HMAC-SHA256 over the method, the key, the
//! expiry and any fixed parameters, checked in constant time by the media service.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit as _, Mac as _};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The secret behind local signed URLs.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// A key from a secret of at least 32 bytes (`MEDIA_SIGNING_KEY`).
    ///
    /// # Errors
    /// A shorter secret.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<SigningKey, crate::Error> {
        let s = secret.as_ref();
        if s.len() < 32 {
            return Err(crate::Error::Config(
                "MEDIA_SIGNING_KEY must be at least 32 bytes (e.g. `openssl rand -base64 48`)"
                    .into(),
            ));
        }
        Ok(SigningKey(s.to_vec()))
    }

    /// A random key: signed URLs stop working when the process ends, and other instances
    /// cannot check them. For development only.
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn random() -> Result<SigningKey, crate::Error> {
        let mut k = vec![0u8; 32];
        getrandom::fill(&mut k)
            .map_err(|e| crate::Error::Config(format!("the system's random source failed: {e}")))?;
        Ok(SigningKey(k))
    }

    fn mac(&self, parts: &[&str]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for p in parts {
            // Length-prefixed, so no two part lists sign the same bytes.
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p.as_bytes());
        }
        mac
    }

    /// The signature of `parts`, base64url without padding.
    pub fn sign(&self, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(parts).finalize().into_bytes())
    }

    /// Whether `signature` is that of `parts` (constant time).
    pub fn verify(&self, parts: &[&str], signature: &str) -> bool {
        let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.mac(parts).verify_slice(&sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_every_part() {
        let k = SigningKey::new([7u8; 32]).unwrap();
        let s = k.sign(&["GET", "private/a/b.pdf", "100"]);
        assert!(k.verify(&["GET", "private/a/b.pdf", "100"], &s));
        assert!(!k.verify(&["GET", "private/a/b.pdf", "101"], &s));
        assert!(!k.verify(&["GET", "private/a/c.pdf", "100"], &s));
        assert!(!k.verify(&["PUT", "private/a/b.pdf", "100"], &s));
        assert!(!k.verify(&["GET", "private/a/b.pd", "f100"], &s));
        let other = SigningKey::new([8u8; 32]).unwrap();
        assert!(!other.verify(&["GET", "private/a/b.pdf", "100"], &s));
        assert!(!k.verify(&["GET", "private/a/b.pdf", "100"], "not base64!"));
        assert!(SigningKey::new("short").is_err());
    }
}
