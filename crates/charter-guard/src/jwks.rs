//! The issuer's public keys, parsed once per fetch, and JWT verification.
//!
//! The algorithms a key verifies are decided by the key (its JWK `alg`, or its
//! `kty`/`crv`), never by the token: a token whose header names another
//! algorithm is refused before any cryptography. An RSA key without `alg` (as in
//! Open edX's JWK sets) verifies RS256, RS384 and RS512 (the LMS signs RS512),
//! never PS*, HS*, ES* or `none`. Symmetric (`oct`) keys are never loaded, so no
//! token can be checked as an HMAC over a public key.

use crate::claims::{split_scope, Claims, JwtClaims, TokenSource};
use crate::error::TokenError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// Most keys read from one JWK set.
const MAX_KEYS: usize = 64;

/// What an RSA key without `alg` verifies.
const RSA_PKCS1: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

/// One verification key, ready to use: parsed once, shared by reference.
pub(crate) struct VerifyKey {
    pub kid: Option<String>,
    /// The algorithms this key verifies (one, unless an RSA key without `alg`).
    pub algs: Vec<Algorithm>,
    decoding: DecodingKey,
    validation: Validation,
}

impl VerifyKey {
    pub fn verifies(&self, alg: Algorithm) -> bool {
        self.algs.contains(&alg)
    }
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey").field("kid", &self.kid).field("algs", &self.algs).finish()
    }
}

/// The keys of one fetch of the JWK set.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    all: Vec<Arc<VerifyKey>>,
    /// Incremented on each replacement (lets a waiter see that someone else refreshed).
    pub generation: u64,
    /// Whether any fetch ever succeeded (or keys were given statically).
    pub loaded: bool,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(rename = "use", default)]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl KeySet {
    /// Parses a JWK set. Keys that cannot verify signatures here (symmetric,
    /// encryption-only, unknown algorithms, malformed) are skipped with a warning.
    pub fn parse(json: &[u8], generation: u64) -> Result<KeySet, String> {
        let raw: RawSet = serde_json::from_slice(json).map_err(|e| format!("not a JWK set: {e}"))?;
        let mut set = KeySet { generation, loaded: true, ..Default::default() };
        for v in raw.keys.into_iter().take(MAX_KEYS) {
            match serde_json::from_value::<RawKey>(v).map_err(|e| e.to_string()).and_then(key_of) {
                Ok(k) => {
                    let k = Arc::new(k);
                    if let Some(kid) = &k.kid {
                        set.by_kid.insert(kid.clone(), k.clone());
                    }
                    set.all.push(k);
                }
                Err(e) => tracing::warn!(target: "charter_guard", error = %e, "skipping a key of the issuer's JWK set"),
            }
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn find(&self, kid: &str) -> Option<&Arc<VerifyKey>> {
        self.by_kid.get(kid)
    }

    /// Keys that verify `alg` (for tokens without a `kid`, as Open edX's verifiers try every key).
    pub fn with_alg(&self, alg: Algorithm) -> impl Iterator<Item = &Arc<VerifyKey>> {
        self.all.iter().filter(move |k| k.verifies(alg))
    }
}

fn key_of(k: RawKey) -> Result<VerifyKey, String> {
    if k.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(format!("key {:?} is not for signatures", k.kid));
    }
    let req = |v: &Option<String>, what: &str| v.clone().ok_or_else(|| format!("{} key without {what}", k.kty));
    let named = k.alg.as_deref().map(|a| Algorithm::from_str(a).map_err(|_| format!("unsupported alg {a}")));
    let named = named.transpose()?;
    let (algs, decoding) = match k.kty.as_str() {
        "RSA" => {
            let algs = match named {
                Some(
                    a @ (Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512),
                ) => vec![a],
                Some(a) => return Err(format!("an RSA key cannot verify {a:?}")),
                // Open edX publishes RSA keys without `alg` (and the LMS signs RS512).
                None => RSA_PKCS1.to_vec(),
            };
            let key =
                DecodingKey::from_rsa_components(&req(&k.n, "n")?, &req(&k.e, "e")?).map_err(|e| e.to_string())?;
            (algs, key)
        }
        "EC" => {
            let by_curve = match k.crv.as_deref() {
                Some("P-256") => Algorithm::ES256,
                Some("P-384") => Algorithm::ES384,
                other => return Err(format!("unsupported curve {other:?}")),
            };
            if named.is_some_and(|a| a != by_curve) {
                return Err(format!("EC key's alg {named:?} does not match its curve"));
            }
            let key = DecodingKey::from_ec_components(&req(&k.x, "x")?, &req(&k.y, "y")?).map_err(|e| e.to_string())?;
            (vec![by_curve], key)
        }
        "OKP" => {
            if k.crv.as_deref() != Some("Ed25519") {
                return Err(format!("unsupported curve {:?}", k.crv));
            }
            if named.is_some_and(|a| a != Algorithm::EdDSA) {
                return Err("an Ed25519 key verifies EdDSA only".into());
            }
            let key = DecodingKey::from_ed_components(&req(&k.x, "x")?).map_err(|e| e.to_string())?;
            (vec![Algorithm::EdDSA], key)
        }
        other => return Err(format!("key type {other} is not accepted")),
    };
    // Only the signature (and the algorithm) is checked by jsonwebtoken; the claims
    // are checked by the guard, which then knows which claim was wrong.
    let mut validation = Validation::new(algs[0]);
    validation.algorithms = algs.clone();
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    Ok(VerifyKey { kid: k.kid, algs, decoding, validation })
}

/// What the claims must say, besides the signature.
pub(crate) struct ClaimRules<'a> {
    pub issuer: &'a str,
    pub audience: Option<&'a str>,
    pub leeway: i64,
    pub max_major_version: u32,
    pub now: i64,
}

/// The header fields the guard reads before choosing a key.
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

pub(crate) fn header(token: &str) -> Result<Header, TokenError> {
    let h = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    Ok(Header { alg: h.alg, kid: h.kid })
}

/// Checks the signature with `key` (whose algorithm must be the header's), then the claims.
pub(crate) fn verify_with(
    token: &str,
    header_alg: Algorithm,
    key: &VerifyKey,
    rules: &ClaimRules<'_>,
) -> Result<Claims, (TokenError, Option<String>)> {
    if !key.verifies(header_alg) {
        return Err((TokenError::AlgorithmMismatch, None));
    }
    let data = jsonwebtoken::decode::<JwtClaims>(token, &key.decoding, &key.validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        let err = match e.kind() {
            K::InvalidSignature => TokenError::BadSignature,
            K::InvalidAlgorithm | K::InvalidAlgorithmName => TokenError::AlgorithmMismatch,
            K::Json(_) => TokenError::BadClaims,
            _ => TokenError::Malformed,
        };
        (err, None)
    })?;
    check_claims(data.claims, rules)
}

/// From here on the signature is good: errors carry the (authentic) client id, for reports.
///
/// A token in Open edX's format (it carries `version`, as Charter's and the LMS's
/// do) must also carry `iat` and `preferred_username`, as edx-drf-extensions
/// requires. `client_id` is optional: the LMS's own JWTs carry none.
fn check_claims(c: JwtClaims, rules: &ClaimRules<'_>) -> Result<Claims, (TokenError, Option<String>)> {
    let client = c.client_id.clone();
    let fail = |e: TokenError| Err((e, client.clone()));
    let Some(exp) = c.exp else { return fail(TokenError::MissingClaim("exp")) };
    if rules.now > exp.saturating_add(rules.leeway) {
        return fail(TokenError::Expired);
    }
    if c.nbf.is_some_and(|nbf| nbf > rules.now.saturating_add(rules.leeway)) {
        return fail(TokenError::NotYetValid);
    }
    if c.iss.as_deref() != Some(rules.issuer) {
        return fail(TokenError::WrongIssuer);
    }
    if let Some(aud) = rules.audience {
        if !c.aud.iter().any(|a| a == aud) {
            return fail(TokenError::WrongAudience);
        }
    }
    if let Some(v) = &c.version {
        let major = v.split('.').next().and_then(|m| m.parse::<u32>().ok());
        if major.is_none_or(|m| m > rules.max_major_version) {
            return fail(TokenError::UnsupportedVersion);
        }
    }
    if c.version.is_some() {
        if c.iat.is_none() {
            return fail(TokenError::MissingClaim("iat"));
        }
        if c.preferred_username.is_none() {
            return fail(TokenError::MissingClaim("preferred_username"));
        }
    }
    let scopes = match c.scopes {
        Some(s) => s,
        None => split_scope(c.scope.as_deref()),
    };
    Ok(Claims {
        client_id: c.client_id,
        scopes,
        filters: c.filters,
        is_restricted: c.is_restricted,
        preferred_username: c.preferred_username,
        sub: c.sub,
        iss: c.iss.unwrap_or_default(),
        aud: c.aud,
        exp,
        iat: c.iat,
        jti: c.jti,
        grant_type: c.grant_type,
        email: c.email,
        user_id: c.user_id,
        version: c.version,
        source: TokenSource::Jwt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_typed_by_the_key() {
        let set = KeySet::parse(
            br#"{"keys":[
                {"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"},
                {"kty":"EC","crv":"P-256","alg":"RS256","kid":"bad","x":"AA","y":"AA"},
                {"kty":"RSA","use":"enc","kid":"enc","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","alg":"none","kid":"none","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","alg":"RS512","kid":"r","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"r2","n":"AQAB","e":"AQAB"}
            ]}"#,
            1,
        )
        .unwrap_or_default();
        assert_eq!(set.len(), 2);
        assert!(set.find("h").is_none() && set.find("bad").is_none() && set.find("enc").is_none());
        assert_eq!(set.find("r").map(|k| k.algs.clone()), Some(vec![Algorithm::RS512]));
        // An RSA key without alg (Open edX): the RSA PKCS#1 family, nothing else.
        let r2 = set.find("r2").map(|k| k.algs.clone()).unwrap_or_default();
        assert_eq!(r2, vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512]);
        assert_eq!(set.with_alg(Algorithm::RS512).count(), 2);
        assert_eq!(set.with_alg(Algorithm::RS384).count(), 1);
        for alg in [Algorithm::PS256, Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
            assert_eq!(set.with_alg(alg).count(), 0, "{alg:?}");
        }
        assert!(KeySet::parse(b"[]", 1).is_err());
    }

    #[test]
    fn open_edx_claims() {
        let rules = ClaimRules { issuer: "i", audience: None, leeway: 0, max_major_version: 1, now: 100 };
        let check = |v: &serde_json::Value| {
            let c: JwtClaims = serde_json::from_value(v.clone()).unwrap_or_else(|_| unreachable!());
            check_claims(c, &rules).map(|c| c.client_id).map_err(|(e, _)| e)
        };
        // The LMS's own JWTs carry no client_id.
        let lms =
            serde_json::json!({"iss": "i", "exp": 200, "iat": 90, "version": "1.2.0", "preferred_username": "alice"});
        assert_eq!(check(&lms), Ok(None));
        let mut charter = lms.clone();
        charter["client_id"] = "partner".into();
        assert_eq!(check(&charter), Ok(Some("partner".to_owned())));
        // Open edX format (it has `version`): iat and preferred_username are required.
        for (claim, name) in [("iat", "iat"), ("preferred_username", "preferred_username")] {
            let mut t = lms.clone();
            t.as_object_mut().map(|o| o.remove(claim));
            assert_eq!(check(&t), Err(TokenError::MissingClaim(name)), "{claim}");
        }
        // Without `version` (RFC 9068 style) they are optional.
        assert_eq!(check(&serde_json::json!({"iss": "i", "exp": 200})), Ok(None));
    }
}
