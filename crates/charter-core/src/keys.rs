//! Signing keys: generation, sealing at rest, the published set, and rotation.
//!
//! Rotation follows Open edX's rule, automated: a new key is published in the
//! JWKS first (`activates_at` in the future), signs only from `activates_at`
//! on, and the key it replaces stays published until every token it signed
//! has expired (its successor's `activates_at` + the longest token lifetime).

use crate::digest::{KeyMaterialError, SealingKey};
use crate::time::UnixTime;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self as sig, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

crate::client::string_enum!(
    /// JWS algorithms Charter signs with. Open edX verifiers accept only RS256 and RS512.
    SigningAlgorithm { RS256 => "RS256", RS512 => "RS512", ES256 => "ES256", EdDSA => "EdDSA" }
);

impl SigningAlgorithm {
    pub fn jwt_algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            SigningAlgorithm::RS512 => jsonwebtoken::Algorithm::RS512,
            SigningAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            SigningAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key '{0}' could not be parsed")]
    Parse(String),
    #[error("signing failed")]
    Sign,
    #[error(transparent)]
    Material(#[from] KeyMaterialError),
    #[error("no signing key is active; run `charter keys rotate` or restart to create one")]
    NoActiveKey,
}

enum Pair {
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair),
    Ed(sig::Ed25519KeyPair),
}

/// A signing key as stored: the private half sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub sealed_private: Vec<u8>,
    pub public_jwk: String,
    pub created_at: UnixTime,
    /// Signs from this time on (until a later key activates).
    pub activates_at: UnixTime,
    /// Withdrawn by an operator: neither signs nor is published.
    pub retired_at: Option<UnixTime>,
}

/// A key ready to sign, with its public JWK and precomputed JWS header.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retired_at: Option<UnixTime>,
    pair: Pair,
    jwk: serde_json::Value,
    /// base64url of `{"alg":…,"kid":…,"typ":"JWT"}`.
    header_b64: String,
    decoding: jsonwebtoken::DecodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

fn pkcs8_of(alg: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    match alg {
        SigningAlgorithm::RS256 | SigningAlgorithm::RS512 => {
            let kp = sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
            let der = kp.as_der().map_err(|_| KeyError::Generate)?;
            Ok(der.as_ref().to_vec())
        }
        SigningAlgorithm::ES256 => {
            let doc = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generate)?;
            Ok(doc.as_ref().to_vec())
        }
        SigningAlgorithm::EdDSA => {
            let doc = sig::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
            Ok(doc.as_ref().to_vec())
        }
    }
}

impl SigningKey {
    /// Makes a new key and its sealed, storable form.
    pub fn generate(
        alg: SigningAlgorithm,
        sealing: &SealingKey,
        now: UnixTime,
        activates_at: UnixTime,
    ) -> Result<(SigningKey, StoredKey), KeyError> {
        let kid = crate::secret::generate_hex_id()?;
        let pkcs8 = pkcs8_of(alg)?;
        let key = SigningKey::from_pkcs8(&kid, alg, &pkcs8, now, activates_at, None)?;
        let stored = StoredKey {
            kid: kid.clone(),
            alg,
            sealed_private: sealing.seal(kid.as_bytes(), &pkcs8)?,
            public_jwk: key.jwk.to_string(),
            created_at: now,
            activates_at,
            retired_at: None,
        };
        Ok((key, stored))
    }

    /// Opens a stored key with the sealing key.
    pub fn open(stored: &StoredKey, sealing: &SealingKey) -> Result<SigningKey, KeyError> {
        let pkcs8 = sealing.open(stored.kid.as_bytes(), &stored.sealed_private)?;
        SigningKey::from_pkcs8(
            &stored.kid,
            stored.alg,
            &pkcs8,
            stored.created_at,
            stored.activates_at,
            stored.retired_at,
        )
    }

    fn from_pkcs8(
        kid: &str,
        alg: SigningAlgorithm,
        pkcs8: &[u8],
        created_at: UnixTime,
        activates_at: UnixTime,
        retired_at: Option<UnixTime>,
    ) -> Result<SigningKey, KeyError> {
        let bad = || KeyError::Parse(kid.to_owned());
        let (pair, jwk, decoding) = match alg {
            SigningAlgorithm::RS256 | SigningAlgorithm::RS512 => {
                let kp = sig::RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| bad())?;
                let public = kp.public_key();
                let n = B64.encode(public.modulus().big_endian_without_leading_zero());
                let e = B64.encode(public.exponent().big_endian_without_leading_zero());
                let decoding = jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).map_err(|_| bad())?;
                let jwk = serde_json::json!({"kty": "RSA", "use": "sig", "alg": alg.as_str(), "kid": kid, "n": n, "e": e});
                (Pair::Rsa(kp), jwk, decoding)
            }
            SigningAlgorithm::ES256 => {
                let kp = sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| bad())?;
                let point = kp.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(bad());
                }
                let x = B64.encode(&point[1..33]);
                let y = B64.encode(&point[33..65]);
                let decoding = jsonwebtoken::DecodingKey::from_ec_components(&x, &y).map_err(|_| bad())?;
                let jwk = serde_json::json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256", "x": x, "y": y});
                (Pair::Ec(kp), jwk, decoding)
            }
            SigningAlgorithm::EdDSA => {
                let kp = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| bad())?;
                let x = B64.encode(kp.public_key().as_ref());
                let decoding = jsonwebtoken::DecodingKey::from_ed_components(&x).map_err(|_| bad())?;
                let jwk = serde_json::json!({"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": kid, "crv": "Ed25519", "x": x});
                (Pair::Ed(kp), jwk, decoding)
            }
        };
        let header = serde_json::json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"});
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg,
            created_at,
            activates_at,
            retired_at,
            pair,
            jwk,
            header_b64: B64.encode(header.to_string()),
            decoding,
        })
    }

    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }

    pub fn decoding_key(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding
    }

    /// Signs `message` with the parsed key pair (parsed once, at load).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Rsa(kp) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let mut out = vec![0u8; kp.public_modulus_len()];
                let enc: &'static dyn sig::RsaEncoding = match self.alg {
                    SigningAlgorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    _ => &sig::RSA_PKCS1_SHA256,
                };
                kp.sign(enc, &rng, message, &mut out).map_err(|_| KeyError::Sign)?;
                Ok(out)
            }
            Pair::Ec(kp) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                kp.sign(&rng, message).map(|s| s.as_ref().to_vec()).map_err(|_| KeyError::Sign)
            }
            Pair::Ed(kp) => Ok(kp.sign(message).as_ref().to_vec()),
        }
    }
}

/// All keys this node knows, ordered by activation.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    pub fn new(mut keys: Vec<SigningKey>) -> Self {
        keys.sort_by(|a, b| a.activates_at.cmp(&b.activates_at).then(a.created_at.cmp(&b.created_at)));
        Self { keys: keys.into_iter().map(Arc::new).collect() }
    }

    pub fn keys(&self) -> &[Arc<SigningKey>] {
        &self.keys
    }

    /// Keys not retired. A retirement takes effect at once on every node, whatever their clocks say.
    fn live(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.keys.iter().filter(|k| k.retired_at.is_none())
    }

    /// The key that signs at `now`: the latest whose activation has come.
    pub fn signer(&self, now: UnixTime) -> Option<&Arc<SigningKey>> {
        self.live().filter(|k| k.activates_at <= now).last()
    }

    /// When the key stopped signing: the activation of the next live key in
    /// ring order (keys activating in the same second are ordered, not merged).
    fn superseded_at(&self, key: &SigningKey, now: UnixTime) -> Option<UnixTime> {
        let live: Vec<&Arc<SigningKey>> = self.live().collect();
        let pos = live.iter().position(|k| k.kid == key.kid)?;
        live.get(pos + 1).map(|next| next.activates_at).filter(|a| *a <= now)
    }

    /// The keys to publish at `now`: the pending ones, the signer, and every
    /// superseded key that may still have unexpired tokens out there.
    pub fn published(&self, now: UnixTime, max_token_ttl: i64) -> Vec<&Arc<SigningKey>> {
        let signer = self.signer(now).map(|k| k.kid.clone());
        self.live()
            .filter(|k| {
                if k.activates_at > now || Some(&k.kid) == signer.as_ref() {
                    return true;
                }
                match self.superseded_at(k, now) {
                    Some(at) => at.plus(max_token_ttl) > now,
                    None => false,
                }
            })
            .collect()
    }

    /// The JWKS document (RFC 7517 §5).
    pub fn jwks(&self, now: UnixTime, max_token_ttl: i64) -> serde_json::Value {
        let keys: Vec<&serde_json::Value> = self.published(now, max_token_ttl).into_iter().map(|k| k.jwk()).collect();
        serde_json::json!({ "keys": keys })
    }

    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Where a new key sits in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Pending,
    Signing,
    PublishedForVerification,
    Unpublished,
    Retired,
}

impl KeyRing {
    pub fn state(&self, kid: &str, now: UnixTime, max_token_ttl: i64) -> Option<KeyState> {
        let key = self.find(kid)?;
        if key.retired_at.is_some() {
            return Some(KeyState::Retired);
        }
        if key.activates_at > now {
            return Some(KeyState::Pending);
        }
        if self.signer(now).is_some_and(|s| s.kid == kid) {
            return Some(KeyState::Signing);
        }
        if self.published(now, max_token_ttl).iter().any(|k| k.kid == kid) {
            Some(KeyState::PublishedForVerification)
        } else {
            Some(KeyState::Unpublished)
        }
    }
}

impl FromStr for KeyState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(KeyState::Pending),
            "signing" => Ok(KeyState::Signing),
            "published" => Ok(KeyState::PublishedForVerification),
            "unpublished" => Ok(KeyState::Unpublished),
            "retired" => Ok(KeyState::Retired),
            _ => Err(format!("unknown key state {s}")),
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyState::Pending => "pending",
            KeyState::Signing => "signing",
            KeyState::PublishedForVerification => "published",
            KeyState::Unpublished => "unpublished",
            KeyState::Retired => "retired",
        })
    }
}

/// The public set in the form Open edX's `JWT_PUBLIC_SIGNING_JWK_SET` setting takes
/// (a JSON string of `{"keys": [...]}` with RSA keys only: its verifiers accept no other).
pub fn openedx_jwk_set(ring: &KeyRing, now: UnixTime, max_token_ttl: i64) -> serde_json::Value {
    let keys: Vec<&serde_json::Value> = ring
        .published(now, max_token_ttl)
        .into_iter()
        .filter(|k| matches!(k.alg, SigningAlgorithm::RS256 | SigningAlgorithm::RS512))
        .map(|k| k.jwk())
        .collect();
    serde_json::json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::MasterKey;

    fn sealing() -> SealingKey {
        MasterKey::from_bytes([9; 32]).sealing_key()
    }

    #[test]
    fn every_algorithm_round_trips_through_storage() {
        for alg in SigningAlgorithm::ALL {
            let (k, stored) = SigningKey::generate(*alg, &sealing(), UnixTime(0), UnixTime(0))
                .unwrap_or_else(|e| unreachable!("{e}"));
            let again = SigningKey::open(&stored, &sealing()).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(k.jwk(), again.jwk());
            assert!(!stored.sealed_private.windows(8).any(|w| k.sign(b"x").is_ok() && w == b"PRIVATE "));
            assert!(SigningKey::open(&stored, &MasterKey::from_bytes([1; 32]).sealing_key()).is_err());
        }
    }

    #[test]
    fn keys_activating_in_the_same_second_are_all_published() {
        let s = sealing();
        let (a, _) = SigningKey::generate(SigningAlgorithm::EdDSA, &s, UnixTime(10), UnixTime(10)).unwrap_or_else(|_| unreachable!());
        let (b, _) = SigningKey::generate(SigningAlgorithm::EdDSA, &s, UnixTime(10), UnixTime(10)).unwrap_or_else(|_| unreachable!());
        let ring = KeyRing::new(vec![a, b]);
        assert_eq!(ring.published(UnixTime(10), 3600).len(), 2);
        assert_eq!(ring.published(UnixTime(3609), 3600).len(), 2);
        assert_eq!(ring.published(UnixTime(3610), 3600).len(), 1);
    }

    #[test]
    fn rotation_publishes_first_and_keeps_old_until_tokens_expire() {
        let s = sealing();
        let (a, _) = SigningKey::generate(SigningAlgorithm::EdDSA, &s, UnixTime(0), UnixTime(0)).unwrap_or_else(|_| unreachable!());
        let (b, _) = SigningKey::generate(SigningAlgorithm::EdDSA, &s, UnixTime(100), UnixTime(200)).unwrap_or_else(|_| unreachable!());
        let (akid, bkid) = (a.kid.clone(), b.kid.clone());
        let ring = KeyRing::new(vec![b, a]);
        let ttl = 3600;
        // Before the new key activates: old signs, both published.
        assert_eq!(ring.signer(UnixTime(150)).map(|k| k.kid.clone()), Some(akid.clone()));
        assert_eq!(ring.published(UnixTime(150), ttl).len(), 2);
        assert_eq!(ring.state(&bkid, UnixTime(150), ttl), Some(KeyState::Pending));
        // After: new signs, old still published for verification.
        assert_eq!(ring.signer(UnixTime(200)).map(|k| k.kid.clone()), Some(bkid.clone()));
        assert_eq!(ring.state(&akid, UnixTime(3799), ttl), Some(KeyState::PublishedForVerification));
        // Once every token of the old key has expired, it is no longer published.
        assert_eq!(ring.published(UnixTime(3800), ttl).len(), 1);
        assert_eq!(ring.state(&akid, UnixTime(3800), ttl), Some(KeyState::Unpublished));
    }
}
