//! The public scope catalogue: every scope, its resource, owning service and descriptions.

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub async fn scopes(State(state): State<AppState>) -> Response {
    if let Err(e) = state.refresh().await {
        return super::discovery::unavailable(e);
    }
    let cat = state.catalogue();
    let scopes: Vec<_> = cat
        .scopes
        .iter()
        .map(|s| {
            let (resource, action) = match s.name.parts() {
                Some((r, a)) => (Some(r), Some(a)),
                None => (None, None),
            };
            let service = resource.and_then(|r| cat.resources.iter().find(|x| x.name == r)).map(|r| r.service.as_str());
            json!({
                "name": s.name,
                "resource": resource,
                "action": action,
                "service": service,
                "legacy": s.name.is_legacy(),
                "default": s.is_default,
                "description": s.description,
                "translations": s.translations,
            })
        })
        .collect();
    Json(json!({ "resources": cat.resources, "scopes": scopes })).into_response()
}
