//! Server-generated secret values: client secrets, opaque tokens, refresh tokens, codes.

use aws_lc_rs::rand;
use base64::Engine;

/// 32 random bytes, base64url without padding (43 characters, 256 bits of entropy).
pub fn generate_secret() -> Result<String, crate::digest::KeyMaterialError> {
    let mut b = [0u8; 32];
    rand::fill(&mut b).map_err(|_| crate::digest::KeyMaterialError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A random identifier of 16 bytes as 32 lowercase hex characters (Open edX's anonymous `sub`).
pub fn generate_hex_id() -> Result<String, crate::digest::KeyMaterialError> {
    let mut b = [0u8; 16];
    rand::fill(&mut b).map_err(|_| crate::digest::KeyMaterialError::Random)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A printable client id: 20 random bytes, base64url (27 characters).
pub fn generate_client_id() -> Result<String, crate::digest::KeyMaterialError> {
    let mut b = [0u8; 20];
    rand::fill(&mut b).map_err(|_| crate::digest::KeyMaterialError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A 32-hex-character id that sorts by creation time: 4 bytes of `now` (seconds),
/// then 12 random bytes. Token ids are written at high rates; ids that grow with
/// time land at the end of the database index instead of on random pages.
pub fn generate_ordered_id(now: crate::time::UnixTime) -> Result<String, crate::digest::KeyMaterialError> {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&(now.0.clamp(0, u32::MAX as i64) as u32).to_be_bytes());
    rand::fill(&mut b[4..]).map_err(|_| crate::digest::KeyMaterialError::Random)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::UnixTime;

    #[test]
    fn ordered_ids_sort_by_time_and_differ() {
        let a = generate_ordered_id(UnixTime(1_800_000_000)).unwrap_or_default();
        let b = generate_ordered_id(UnixTime(1_800_000_001)).unwrap_or_default();
        let c = generate_ordered_id(UnixTime(1_800_000_001)).unwrap_or_default();
        assert_eq!(a.len(), 32);
        assert!(a < b && a < c && b != c);
    }
}
