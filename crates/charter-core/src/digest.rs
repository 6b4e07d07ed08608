//! Keyed digests of server-generated secrets, and the master key they derive from.
//!
//! Client secrets, opaque tokens, refresh tokens and codes are high-entropy
//! values made by the server, so a keyed HMAC-SHA-256 digest is enough to
//! store them: it is fast (microseconds), and a stolen database is useless
//! without the server key. Argon2id is for human passwords only.

use aws_lc_rs::{aead, hkdf, hmac, rand};

/// 32 bytes from which every server key is derived (HKDF-SHA-256, one label per use).
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    #[error("the master key must be 32 bytes, base64 encoded (got {0} bytes)")]
    WrongLength(usize),
    #[error("the master key is not valid base64")]
    NotBase64,
    #[error("the operating system's random generator failed")]
    Random,
    #[error("a sealed value could not be opened: wrong master key or corrupted data")]
    Unseal,
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Result<Self, KeyMaterialError> {
        let mut b = [0u8; 32];
        rand::fill(&mut b).map_err(|_| KeyMaterialError::Random)?;
        Ok(Self(b))
    }

    pub fn from_base64(s: &str) -> Result<Self, KeyMaterialError> {
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()))
            .map_err(|_| KeyMaterialError::NotBase64)?;
        let arr: [u8; 32] = v.as_slice().try_into().map_err(|_| KeyMaterialError::WrongLength(v.len()))?;
        Ok(Self(arr))
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    fn derive(&self, label: &'static [u8]) -> [u8; 32] {
        // HKDF-SHA-256 expanding 32 bytes cannot fail (the limit is 255 * 32 bytes);
        // should it ever, fall back to HMAC(master, label), never to a constant.
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"charter");
        let prk = salt.extract(&self.0);
        let info = [label];
        let mut out = [0u8; 32];
        let expanded = prk.expand(&info, hkdf::HKDF_SHA256).and_then(|okm| okm.fill(&mut out));
        if expanded.is_err() {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.0), label);
            out.copy_from_slice(tag.as_ref());
        }
        out
    }

    /// The key of the digests of secrets and tokens.
    pub fn digest_key(&self) -> DigestKey {
        DigestKey(hmac::Key::new(hmac::HMAC_SHA256, &self.derive(b"charter/digest/v1")))
    }

    /// The key that seals private signing keys at rest.
    pub fn sealing_key(&self) -> SealingKey {
        SealingKey(self.derive(b"charter/seal/v1"))
    }
}

/// HMAC-SHA-256 with the server key.
#[derive(Clone)]
pub struct DigestKey(hmac::Key);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey([redacted])")
    }
}

impl DigestKey {
    pub fn digest(&self, value: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.0, value);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Constant-time comparison of `value`'s digest against a stored digest.
    pub fn verify(&self, value: &[u8], stored: &[u8; 32]) -> bool {
        hmac::verify(&self.0, value, stored).is_ok()
    }
}

/// AES-256-GCM with a key derived from the master key.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl SealingKey {
    /// Seals `plaintext`, bound to `context` (e.g. a key id): nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeyMaterialError> {
        let key = aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::AES_256_GCM, &self.0).map_err(|_| KeyMaterialError::Random)?,
        );
        let mut nonce = [0u8; aead::NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| KeyMaterialError::Random)?;
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(context), &mut buf)
            .map_err(|_| KeyMaterialError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyMaterialError> {
        if sealed.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return Err(KeyMaterialError::Unseal);
        }
        let key = aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::AES_256_GCM, &self.0).map_err(|_| KeyMaterialError::Unseal)?,
        );
        let (nonce, body) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyMaterialError::Unseal)?;
        let mut buf = body.to_vec();
        let plain = key
            .open_in_place(nonce, aead::Aad::from(context), &mut buf)
            .map_err(|_| KeyMaterialError::Unseal)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_verifies_only_the_same_value() {
        let k = MasterKey::from_bytes([7; 32]).digest_key();
        let d = k.digest(b"secret-value");
        assert!(k.verify(b"secret-value", &d));
        assert!(!k.verify(b"secret-valuf", &d));
        let other = MasterKey::from_bytes([8; 32]).digest_key();
        assert!(!other.verify(b"secret-value", &d));
    }

    #[test]
    fn seal_round_trip_and_context_binding() {
        let s = MasterKey::from_bytes([1; 32]).sealing_key();
        let sealed = s.seal(b"kid-1", b"private").unwrap_or_default();
        assert_eq!(s.open(b"kid-1", &sealed).ok(), Some(b"private".to_vec()));
        assert!(s.open(b"kid-2", &sealed).is_err());
        assert!(MasterKey::from_bytes([2; 32]).sealing_key().open(b"kid-1", &sealed).is_err());
        assert!(s.open(b"kid-1", &sealed[..5]).is_err());
    }

    #[test]
    fn master_key_base64() {
        let k = MasterKey::from_bytes([3; 32]);
        let again = MasterKey::from_base64(&k.to_base64()).map(|m| m.to_base64()).ok();
        assert_eq!(again, Some(k.to_base64()));
        assert!(matches!(MasterKey::from_base64("AAAA"), Err(KeyMaterialError::WrongLength(3))));
    }
}
