//! Compact JWS (RFC 7515 §7.1) signing and verification of Charter's own tokens.
//!
//! Signing uses the key pair parsed once at load; `jsonwebtoken::encode`
//! re-parses the private key DER on every call, which for RSA costs more than
//! the signature itself. Verification goes through `jsonwebtoken`, with the
//! algorithm taken from Charter's key, never from the token header.

use crate::keys::{KeyError, KeyRing, SigningKey};
use crate::time::UnixTime;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub fn sign_compact<T: Serialize>(key: &SigningKey, claims: &T) -> Result<String, KeyError> {
    let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
    let header = key.header_b64();
    let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
    out.push_str(header);
    out.push('.');
    B64.encode_string(&payload, &mut out);
    let signature = key.sign(out.as_bytes())?;
    out.push('.');
    B64.encode_string(&signature, &mut out);
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a JWT")]
    Malformed,
    #[error("signed by an unknown key")]
    UnknownKey,
    #[error("bad signature or claims")]
    Invalid,
    #[error("expired")]
    Expired,
}

/// Verifies a JWT issued by Charter against `ring` and returns its claims.
/// `exp` is checked against `now` with no leeway.
pub fn verify_own<T: DeserializeOwned>(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    now: UnixTime,
    exp_of: impl Fn(&T) -> i64,
) -> Result<T, VerifyError> {
    if token.len() > 16 * 1024 || token.split('.').count() != 3 {
        return Err(VerifyError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
    let key = ring.find(&kid).ok_or(VerifyError::UnknownKey)?;
    if key.retired_at.is_some() {
        // A withdrawn (e.g. compromised) key vouches for nothing.
        return Err(VerifyError::Invalid);
    }
    if header.alg != key.alg.jwt_algorithm() {
        return Err(VerifyError::Invalid);
    }
    let mut v = jsonwebtoken::Validation::new(key.alg.jwt_algorithm());
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.set_issuer(&[issuer]);
    let data = jsonwebtoken::decode::<T>(token, key.decoding_key(), &v).map_err(|_| VerifyError::Invalid)?;
    if exp_of(&data.claims) <= now.0 {
        return Err(VerifyError::Expired);
    }
    Ok(data.claims)
}
