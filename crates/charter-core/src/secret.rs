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
