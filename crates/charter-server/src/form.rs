//! The extractor of protocol requests: a bounded form body and the headers that matter.

use crate::oauth_response::ErrorResponse;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use charter_core::error::OAuthError;
use charter_core::request::FormParams;
use std::net::SocketAddr;

/// A parsed `application/x-www-form-urlencoded` protocol request.
pub struct ProtocolForm {
    pub params: FormParams,
    pub authorization: Option<String>,
    pub x_token_type: Option<String>,
    pub source: Option<String>,
}

pub enum FormRejection {
    TooLarge(Option<String>),
    OAuth(OAuthError, Option<String>),
}

impl FormRejection {
    /// The OAuth error this rejection answers with.
    pub fn error(&self) -> OAuthError {
        match self {
            FormRejection::TooLarge(_) => OAuthError::invalid_request("the request body is too large"),
            FormRejection::OAuth(e, _) => e.clone(),
        }
    }

    /// The client address, when known.
    pub fn source(&self) -> Option<String> {
        match self {
            FormRejection::TooLarge(s) | FormRejection::OAuth(_, s) => s.clone(),
        }
    }
}

impl IntoResponse for FormRejection {
    fn into_response(self) -> Response {
        match self {
            FormRejection::TooLarge(_) => {
                let body = OAuthError::invalid_request("the request body is too large").body();
                let mut r = (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response();
                crate::oauth_response::no_store(r.headers_mut());
                r
            }
            FormRejection::OAuth(e, _) => ErrorResponse(e).into_response(),
        }
    }
}

impl FromRequest<AppState> for ProtocolForm {
    type Rejection = FormRejection;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.settings.max_body_bytes;
        let source = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let oauth = |e: OAuthError| FormRejection::OAuth(e, source.clone());
        let headers = req.headers();
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(oauth(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")));
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(FormRejection::TooLarge(source.clone()));
        }
        let mut auth = headers.get_all(header::AUTHORIZATION).iter();
        let authorization = match (auth.next(), auth.next()) {
            (Some(_), Some(_)) => {
                return Err(oauth(OAuthError::invalid_request("the Authorization header is repeated")))
            }
            (Some(v), None) => Some(
                v.to_str()
                    .map_err(|_| oauth(OAuthError::invalid_client("the Authorization header is not ASCII")))?
                    .to_owned(),
            ),
            _ => None,
        };
        let x_token_type = headers.get("x-token-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
            if is_length_limit(&e) {
                FormRejection::TooLarge(source.clone())
            } else {
                FormRejection::OAuth(OAuthError::invalid_request("the request body could not be read"), source.clone())
            }
        })?;
        let params = FormParams::parse(&body).map_err(|e| FormRejection::OAuth(e, source.clone()))?;
        Ok(ProtocolForm { params, authorization, x_token_type, source })
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}
