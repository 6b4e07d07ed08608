//! RFC 8414 metadata, OpenID discovery, and the JWKS.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use charter_core::metadata::authorization_server_metadata;

pub async fn metadata(State(state): State<AppState>) -> Response {
    if let Err(e) = state.refresh().await {
        return unavailable(e);
    }
    let now = state.clock.now();
    let keys = state.keys();
    let mut algs: Vec<_> = keys.ring.published(now, state.settings.max_token_ttl()).iter().map(|k| k.alg).collect();
    algs.sort();
    algs.dedup();
    let catalogue = state.catalogue();
    let scopes: Vec<&str> = catalogue.scopes.iter().map(|s| s.name.as_str()).collect();
    let doc = authorization_server_metadata(&state.settings.tokens.issuer, &state.settings.public_url, &algs, &scopes);
    Json(doc).into_response()
}

/// The published keys. Always read fresh against the database's key revision,
/// so a key rotated in by any node is published by every node at once.
pub async fn jwks(State(state): State<AppState>) -> Response {
    if let Err(e) = state.refresh().await {
        return unavailable(e);
    }
    let now = state.clock.now();
    let doc = state.keys().ring.jwks(now, state.settings.max_token_ttl());
    let mut r = Json(doc).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    r
}

pub(super) fn unavailable(e: charter_store::StoreError) -> Response {
    crate::oauth_response::ErrorResponse(crate::oauth_response::unavailable(&e)).into_response()
}
