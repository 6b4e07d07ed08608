//! Liveness, readiness and metrics.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// The process can serve: its database answers and a key signs.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.store.ping().await;
    let signer = state.keys().ring.signer(state.clock.now()).is_some();
    if !state.journal.is_alive() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "reason": "journal writer stopped"})));
    }
    match (db, signer) {
        (Ok(()), true) => (StatusCode::OK, Json(serde_json::json!({"status": "ready", "backend": state.store.backend()}))),
        (Err(e), _) => {
            tracing::warn!(error = %e, "not ready: storage");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "reason": "storage"})))
        }
        (Ok(()), false) => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "reason": "no signing key"}))),
    }
}

pub async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render())
}
