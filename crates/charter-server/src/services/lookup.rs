//! Finding an access token from what a caller presents: a JWT of ours or an opaque value.

use crate::oauth_response::unavailable;
use crate::state::AppState;
use charter_core::claims::AccessTokenClaims;
use charter_core::error::OAuthError;
use charter_core::introspection::TokenState;
use charter_core::jws::{verify_own, VerifyError};
use charter_core::time::UnixTime;
use charter_core::token::{opaque_secret_matches, split_opaque};

/// The stored state of the presented token, if it is one of ours.
///
/// A JWT must carry a valid signature of one of our keys before its `jti` is
/// looked up; an unknown `kid` makes this node check the database for keys it
/// has not loaded yet (a key rotated in on another node), once.
pub async fn find_token(state: &AppState, token: &str, now: UnixTime) -> Result<Option<TokenState>, OAuthError> {
    if token.len() > 16 * 1024 {
        return Ok(None);
    }
    if token.bytes().filter(|b| *b == b'.').count() == 2 {
        let issuer = state.settings.tokens.issuer.as_str();
        let verify = |ring: &charter_core::keys::KeyRing| {
            // Expiry is decided from the stored record; here only the signature and issuer.
            verify_own::<AccessTokenClaims>(ring, token, issuer, now, |_| i64::MAX)
        };
        let mut claims = verify(&state.keys().ring);
        if claims == Err(VerifyError::UnknownKey) {
            state.refresh().await.map_err(|e| unavailable(&e))?;
            claims = verify(&state.keys().ring);
        }
        return match claims {
            Ok(c) => state.store.token_by_id(&c.jti).await.map_err(|e| unavailable(&e)),
            Err(_) => Ok(None),
        };
    }
    let Some((id, secret)) = split_opaque(token) else {
        return Ok(None);
    };
    let found = state.store.token_by_id(id).await.map_err(|e| unavailable(&e))?;
    Ok(found.filter(|s| opaque_secret_matches(&s.record, secret, &state.digest_key)))
}
