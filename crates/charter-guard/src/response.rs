//! What a refused request is answered: RFC 6750 §3 for tokens and scopes.

use crate::error::TokenError;
use crate::requirement::Denial;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The answer to a request that is (or, in report-only mode, would have been) refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    /// The `WWW-Authenticate` value, when the refusal is about the token or its scopes.
    pub www_authenticate: Option<String>,
    pub body: serde_json::Value,
}

fn q(realm: &str) -> String {
    format!("Bearer realm=\"{realm}\"")
}

impl Refusal {
    pub(crate) fn token(realm: &str, e: TokenError) -> Refusal {
        match e {
            // RFC 6750 §3.1: no error code when the request carried no token.
            TokenError::Missing => Refusal {
                status: 401,
                www_authenticate: Some(q(realm)),
                body: json!({"error": "unauthorized", "error_description": e.description()}),
            },
            TokenError::Ambiguous => Refusal {
                status: 400,
                www_authenticate: Some(format!(
                    "{}, error=\"invalid_request\", error_description=\"{}\"",
                    q(realm),
                    e.description()
                )),
                body: json!({"error": "invalid_request", "error_description": e.description()}),
            },
            _ => Refusal {
                status: 401,
                www_authenticate: Some(format!(
                    "{}, error=\"invalid_token\", error_description=\"{}\"",
                    q(realm),
                    e.description()
                )),
                body: json!({"error": "invalid_token", "error_description": e.description()}),
            },
        }
    }

    pub(crate) fn unavailable() -> Refusal {
        Refusal {
            status: 503,
            www_authenticate: None,
            body: json!({"error": "temporarily_unavailable", "error_description": "access tokens cannot be verified right now"}),
        }
    }

    pub(crate) fn denial(realm: &str, d: &Denial, required_all: &[String], required_any: &[String]) -> Refusal {
        match d {
            Denial::MissingScope { missing_all, missing_any } => {
                let mut needed: Vec<&str> = missing_all.iter().map(String::as_str).collect();
                needed.extend(missing_any.iter().map(String::as_str));
                let description = if needed.is_empty() {
                    "this resource declares no scope a restricted application could hold".to_owned()
                } else if missing_any.is_empty() {
                    format!("the access token lacks the scopes: {}", missing_all.join(" "))
                } else if missing_all.is_empty() {
                    format!("the access token holds none of the scopes: {}", missing_any.join(" "))
                } else {
                    format!(
                        "the access token lacks the scopes: {}; and holds none of: {}",
                        missing_all.join(" "),
                        missing_any.join(" ")
                    )
                };
                // Scope tokens (RFC 6749 §3.3) contain neither quotes nor backslashes.
                let scope_attr: String = needed.join(" ").chars().filter(|c| *c != '"' && *c != '\\').collect();
                let desc_attr: String = description.chars().filter(|c| *c != '"' && *c != '\\').collect();
                Refusal {
                    status: 403,
                    www_authenticate: Some(format!(
                        "{}, error=\"insufficient_scope\", error_description=\"{desc_attr}\", scope=\"{scope_attr}\"",
                        q(realm)
                    )),
                    body: json!({
                        "error": "insufficient_scope",
                        "error_description": description,
                        "missing_scopes": missing_all,
                        "missing_any_of": missing_any,
                        "required_all": required_all,
                        "required_any": required_any,
                    }),
                }
            }
            Denial::ContentOrg { org } => {
                let (filter, description) = match org {
                    Some(o) => (format!("content_org:{o}"), format!("no content_org filter of the access token names {o}")),
                    None => (
                        "content_org".to_owned(),
                        "the requested course key is not valid, so no content_org filter can match it".to_owned(),
                    ),
                };
                Refusal {
                    status: 403,
                    www_authenticate: None,
                    body: json!({
                        "error": "access_denied",
                        "reason": d.reason(),
                        "filter": filter,
                        "error_description": description,
                    }),
                }
            }
            Denial::User { requested } => Refusal {
                status: 403,
                www_authenticate: None,
                body: json!({
                    "error": "access_denied",
                    "reason": d.reason(),
                    "filter": "user:me",
                    "error_description": format!("the access token's user filter does not allow user {requested}"),
                }),
            },
            Denial::MissingParam(p) => Refusal {
                status: 500,
                www_authenticate: None,
                body: json!({
                    "error": "server_error",
                    "error_description": format!("the route has no path parameter '{p}' for its requirement"),
                }),
            },
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::FORBIDDEN);
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(w) = self.www_authenticate.and_then(|w| HeaderValue::from_str(&w).ok()) {
            h.insert(header::WWW_AUTHENTICATE, w);
        }
        if self.status == 503 {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        r
    }
}
