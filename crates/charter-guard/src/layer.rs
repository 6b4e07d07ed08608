//! Axum integration: a route layer per requirement, and the claims extractor.

use crate::claims::VerifiedToken;
use crate::guard::{CheckRequest, Guard, Route};
use crate::requirement::{NoParams, PathParams, Requirement, UndecodableParams};
use crate::response::Refusal;
use crate::Decision;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, MatchedPath, OptionalFromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

impl Guard {
    /// A layer enforcing `requirement`, for `Router::route_layer` or
    /// `MethodRouter::route_layer` (it reads the matched route and its parameters,
    /// which exist only after routing).
    pub fn require(&self, requirement: Requirement) -> RequireLayer {
        RequireLayer { guard: self.clone(), requirement: Arc::new(requirement) }
    }
}

#[derive(Clone)]
pub struct RequireLayer {
    guard: Guard,
    requirement: Arc<Requirement>,
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;
    fn layer(&self, inner: S) -> Require<S> {
        Require { inner, guard: self.guard.clone(), requirement: self.requirement.clone() }
    }
}

#[derive(Clone)]
pub struct Require<S> {
    inner: S,
    guard: Guard,
    requirement: Arc<Requirement>,
}

impl<S> Service<Request> for Require<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was made ready serves this request (tower's usual dance).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let guard = self.guard.clone();
        let requirement = self.requirement.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let route = match parts.extensions.get::<MatchedPath>() {
                Some(m) => Route::Matched(m.clone()),
                None => Route::Static("<unmatched>"),
            };
            let raw = if requirement.needs_params() {
                Some(RawPathParams::from_request_parts(&mut parts, &()).await)
            } else {
                None
            };
            let params: &dyn PathParams = match &raw {
                Some(Ok(p)) => p,
                // A parameter with invalid percent-encoding: the request is bad (400).
                Some(Err(RawPathParamsRejection::InvalidUtf8InPathParam(_))) => &UndecodableParams,
                // Not routed, or the route has no parameters: the requirement names
                // a parameter the route lacks (500).
                _ => &NoParams,
            };
            let verdict = guard
                .check(&requirement, CheckRequest { headers: &parts.headers, method: &parts.method, route, params })
                .await;
            if verdict.decision == Decision::Deny {
                let refusal = verdict.refusal.unwrap_or_else(Refusal::unavailable);
                return Ok(refusal.into_response());
            }
            if let Some(c) = verdict.claims {
                parts.extensions.insert(VerifiedToken(c));
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

/// Extracting [`VerifiedToken`] without a guard layer (or on a route in `off`
/// mode, or with an invalid token let through by report-only mode).
#[derive(Debug, Clone, Copy)]
pub struct NoVerifiedToken;

impl IntoResponse for NoVerifiedToken {
    fn into_response(self) -> Response {
        Refusal {
            status: 401,
            www_authenticate: Some("Bearer".into()),
            body: serde_json::json!({"error": "unauthorized", "error_description": "no verified access token"}),
        }
        .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedToken {
    type Rejection = NoVerifiedToken;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<VerifiedToken>().cloned().ok_or(NoVerifiedToken)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedToken {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<VerifiedToken>().cloned())
    }
}
