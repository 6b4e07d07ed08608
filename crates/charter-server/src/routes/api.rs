//! Charter's JSON API: observations from resource servers, access reports.

use crate::admin::observations;
use crate::services::bearer::{authorize, BearerError};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use charter_core::observation::from_batch;
use charter_core::scope_policy::ADMIN_SCOPE;
use charter_core::time::UnixTime;
use charter_store::WriteBatch;
use charter_wire::{ObservationBatch, ObservationReceipt, REPORT_SCOPE};
use serde::Deserialize;

/// Largest observation batch body accepted (1000 decisions fit).
pub const MAX_OBSERVATION_BODY: usize = 1024 * 1024;

fn bad_request(description: impl Into<String>) -> Response {
    let body = charter_core::OAuthError::invalid_request(description).body();
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `POST /api/v1/observations`: a batch of access decisions from a resource server.
pub async fn post_observations(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match authorize(&state, &headers, REPORT_SCOPE).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let batch: ObservationBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("the body is not an observation batch: {e}")),
    };
    let now = state.clock.now();
    let observations = match from_batch(&batch, &token.record.client_id, now) {
        Ok(o) => o,
        Err(e) => return bad_request(e.to_string()),
    };
    if batch.dropped > 0 {
        metrics::counter!("charter_observations_dropped_by_reporters_total").increment(batch.dropped);
        tracing::warn!(reporter = %token.record.client_id, dropped = batch.dropped, "a resource server dropped decisions it could not send");
    }
    let accepted: u64 = observations.iter().map(|o| o.count).sum();
    if let Err(e) = state.journal.commit(WriteBatch { observations, ..Default::default() }).await {
        tracing::error!(error = %e, "observations could not be stored");
        return BearerError::Unavailable.into_response();
    }
    metrics::counter!("charter_observations_total", "source" => "decision").increment(accepted);
    (StatusCode::ACCEPTED, Json(ObservationReceipt { accepted })).into_response()
}

#[derive(Deserialize)]
pub struct Window {
    since: Option<i64>,
    until: Option<i64>,
}

fn admin_error(e: crate::admin::AdminError) -> Response {
    use crate::admin::AdminError;
    let (status, code) = match &e {
        AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AdminError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        AdminError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        AdminError::Store(_) | AdminError::Crypto(_) => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
    };
    let description = match status {
        StatusCode::SERVICE_UNAVAILABLE => "the server cannot reach its storage".to_owned(),
        _ => e.to_string(),
    };
    (status, Json(serde_json::json!({"error": code, "error_description": description}))).into_response()
}

/// `GET /api/v1/applications/{client_id}/access-report?since=&until=` (scope `charter:admin`).
pub async fn access_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Query(w): Query<Window>,
) -> Response {
    admin_read(&state, &headers, w, |store, since, until| async move {
        observations::report(store, &client_id, since, until).await
    })
    .await
}

/// `GET /api/v1/applications/{client_id}/retrofit?since=&until=`: the proposal (applied from the CLI).
pub async fn retrofit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Query(w): Query<Window>,
) -> Response {
    admin_read(&state, &headers, w, |store, since, until| async move {
        observations::proposal(store, &client_id, since, until).await
    })
    .await
}

/// An administrative read over a window of observations: authorize, flush this
/// node's pending observations, read, answer JSON.
async fn admin_read<'a, T, F, Fut>(state: &'a AppState, headers: &HeaderMap, w: Window, read: F) -> Response
where
    T: serde::Serialize,
    F: FnOnce(&'a dyn charter_store::Store, UnixTime, UnixTime) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::admin::AdminError>>,
{
    if let Err(e) = authorize(state, headers, ADMIN_SCOPE).await {
        return e.into_response();
    }
    state.flush_observations().await;
    let (since, until) = match observations::window(w.since, w.until, state.clock.now()) {
        Ok(x) => x,
        Err(e) => return admin_error(e),
    };
    match read(state.store.as_ref(), since, until).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => admin_error(e),
    }
}
