//! The router: every route Charter serves, in one place.

mod api;
mod browser;
mod catalogue;
mod discovery;
mod health;
mod oauth;

use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub fn router(state: AppState) -> Router {
    crate::metrics::install();
    let issuer_path = issuer_path(&state.settings.tokens.issuer);
    let mut r = Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/access_token", post(oauth::access_token))
        .route("/oauth2/authorize", get(browser::authorize).post(browser::decide))
        .route("/login", get(browser::login_page).post(browser::login))
        .route("/oauth2/userinfo", get(oauth::userinfo).post(oauth::userinfo))
        .route("/account/applications", get(browser::authorized_apps))
        .route("/account/applications/revoke", post(browser::revoke_app))
        .route("/logout", post(browser::logout))
        .route("/oauth2/access_token/", post(oauth::access_token))
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/oauth2/revoke_token", post(oauth::revoke))
        .route("/oauth2/revoke_token/", post(oauth::revoke))
        .route("/oauth2/scopes", get(catalogue::scopes))
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route(
            charter_wire::OBSERVATIONS_PATH,
            post(api::post_observations).layer(axum::extract::DefaultBodyLimit::max(api::MAX_OBSERVATION_BODY)),
        )
        .route("/api/v1/applications/{client_id}/access-report", get(api::access_report))
        .route("/api/v1/applications/{client_id}/retrofit", get(api::retrofit));
    if let Some(p) = issuer_path {
        // RFC 8414 §3: the well-known path is inserted before the issuer's path;
        // OpenID Connect Discovery appends it to the issuer.
        r = r
            .route(&format!("/.well-known/oauth-authorization-server{p}"), get(discovery::metadata))
            .route(&format!("{p}/.well-known/openid-configuration"), get(discovery::metadata));
    }
    r.route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One span per request at DEBUG (method, path, status, latency). Bodies and
        // headers are never logged, so neither are the secrets they carry.
        .layer(
            TraceLayer::new_for_http()
                // Method and path only: a query string could carry a secret from a misbehaving client.
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(CatchPanicLayer::custom(|_| {
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": "server_error"}))).into_response()
        }))
        .with_state(state)
}

/// `/oauth2` for an issuer `https://host/oauth2`; `None` for an issuer without a path.
fn issuer_path(issuer: &str) -> Option<String> {
    let rest = issuer.split_once("://")?.1;
    let path = rest.find('/').map(|i| &rest[i..])?.trim_end_matches('/');
    (!path.is_empty() && path.starts_with('/') && !path.contains(['?', '#', ' '])).then(|| path.to_owned())
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "not_found"})))
}

async fn method_not_allowed() -> impl IntoResponse {
    let body = charter_core::OAuthError::invalid_request("this endpoint does not accept this HTTP method").body();
    (StatusCode::METHOD_NOT_ALLOWED, Json(body))
}
