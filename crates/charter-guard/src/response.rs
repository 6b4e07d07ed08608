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

/// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
fn scope_token_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// RFC 6750 §3 `scope`: a set of scopes that would be enough for the route, i.e.
/// every all-of scope and the first any-of scope. `None` when there is none.
fn scope_attribute(required_all: &[String], required_any: &[String]) -> Option<String> {
    let scopes: Vec<&str> =
        required_all.iter().chain(required_any.first()).map(String::as_str).filter(|s| scope_token_ok(s)).collect();
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// RFC 6750 §3 `error_description`: %x20-21 / %x23-5B / %x5D-7E.
fn description_attribute(d: &str) -> String {
    d.chars().filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\').collect()
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
                let description = if missing_all.is_empty() && missing_any.is_empty() {
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
                // The header names what would be enough; the body says what is missing.
                let mut www = format!(
                    "{}, error=\"insufficient_scope\", error_description=\"{}\"",
                    q(realm),
                    description_attribute(&description)
                );
                if let Some(scope) = scope_attribute(required_all, required_any) {
                    www.push_str(&format!(", scope=\"{scope}\""));
                }
                Refusal {
                    status: 403,
                    www_authenticate: Some(www),
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
            Denial::InvalidParam(p) => Refusal {
                status: 400,
                www_authenticate: None,
                body: json!({
                    "error": "invalid_request",
                    "reason": d.reason(),
                    "error_description": format!("the path parameter '{p}' is not validly encoded"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_scope_attribute_names_what_would_be_enough() {
        let all = strings(&["a", "b"]);
        let any = strings(&["x", "y"]);
        let d = Denial::MissingScope { missing_all: strings(&["b"]), missing_any: any.clone() };
        let r = Refusal::denial("charter", &d, &all, &any);
        let w = r.www_authenticate.unwrap_or_default();
        assert!(w.ends_with(r#", scope="a b x""#), "{w}");
        // The details stay in the body.
        assert_eq!(r.body["missing_scopes"], json!(["b"]));
        assert_eq!(r.body["missing_any_of"], json!(["x", "y"]));
        assert_eq!(
            (r.body["required_all"].clone(), r.body["required_any"].clone()),
            (json!(["a", "b"]), json!(["x", "y"]))
        );
        // Any-of only: its first scope.
        let d = Denial::MissingScope { missing_all: vec![], missing_any: any.clone() };
        let w = Refusal::denial("charter", &d, &[], &any).www_authenticate.unwrap_or_default();
        assert!(w.ends_with(r#", scope="x""#), "{w}");
        // An empty declared requirement: no scope attribute at all.
        let d = Denial::MissingScope { missing_all: vec![], missing_any: vec![] };
        let w = Refusal::denial("charter", &d, &[], &[]).www_authenticate.unwrap_or_default();
        assert!(!w.contains("scope=\""), "{w}");
        // Scopes that cannot be written in the header are left out of it; the header stays valid.
        let odd = strings(&["caf\u{e9}", "a\"b", "ok"]);
        let d = Denial::MissingScope { missing_all: odd.clone(), missing_any: vec![] };
        let w = Refusal::denial("charter", &d, &odd, &[]).www_authenticate.unwrap_or_default();
        assert!(w.ends_with(r#", scope="ok""#), "{w}");
        assert!(HeaderValue::from_str(&w).is_ok(), "{w}");
    }

    #[test]
    fn an_undecodable_path_parameter_is_a_bad_request() {
        let r = Refusal::denial("charter", &Denial::InvalidParam("course_id".into()), &[], &[]);
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")));
        let r = Refusal::denial("charter", &Denial::MissingParam("course_id".into()), &[], &[]);
        assert_eq!(r.status, 500);
    }
}
