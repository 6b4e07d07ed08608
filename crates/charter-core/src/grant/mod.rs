//! One handler per grant. Each takes an authenticated client, the request
//! and `now`, and decides an [`AccessGrant`] or an RFC 6749 error. None of
//! them does I/O: the caller loads what they need and stores what they decide.

pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use crate::client::{Account, Application, GrantType, TokenFormat};
use crate::filter::Filter;
use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// Which endpoint the request came to: the standard one, or Open edX's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/oauth2/token`: the application's preferred format unless `token_type=jwt`.
    Standard,
    /// `/oauth2/access_token`: opaque `Bearer` unless `token_type=jwt` (Open edX).
    OpenEdx,
}

/// What the client asked for with `token_type` / `X-Token-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedTokenType {
    Unspecified,
    Jwt,
}

impl RequestedTokenType {
    /// Open edX: the form parameter `token_type` (case-insensitive), or else the header `X-Token-Type`.
    pub fn from_request(form_value: Option<&str>, header_value: Option<&str>) -> Self {
        match form_value.or(header_value) {
            Some(v) if v.eq_ignore_ascii_case("jwt") => RequestedTokenType::Jwt,
            _ => RequestedTokenType::Unspecified,
        }
    }
}

/// The `token_type` of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseTokenType {
    Bearer,
    /// Open edX answers `"JWT"` when a JWT was asked for with `token_type=jwt`.
    Jwt,
}

impl ResponseTokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseTokenType::Bearer => "Bearer",
            ResponseTokenType::Jwt => "JWT",
        }
    }
}

/// What a grant handler decided: everything needed to mint the token.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub application: Application,
    /// The user the token acts for (for client_credentials, the owning service user).
    pub subject: Account,
    pub scopes: ScopeSet,
    pub filters: Vec<Filter>,
    pub grant_type: GrantType,
    pub format: TokenFormat,
    pub response_type: ResponseTokenType,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

/// The token format for a request (see [`Endpoint`] and [`RequestedTokenType`]).
pub fn choose_format(
    app: &Application,
    endpoint: Endpoint,
    requested: RequestedTokenType,
) -> (TokenFormat, ResponseTokenType) {
    match (requested, endpoint) {
        (RequestedTokenType::Jwt, _) => (TokenFormat::Jwt, ResponseTokenType::Jwt),
        (RequestedTokenType::Unspecified, Endpoint::OpenEdx) => (TokenFormat::Opaque, ResponseTokenType::Bearer),
        (RequestedTokenType::Unspecified, Endpoint::Standard) => (app.token_format, ResponseTokenType::Bearer),
    }
}

/// Every filter of the application, plus `user:me` when its grant is not client-credentials.
pub fn token_filters(app: &Application) -> Vec<Filter> {
    let mut f = app.filters.clone();
    if app.primary_grant() != GrantType::ClientCredentials && !f.contains(&Filter::UserMe) {
        f.push(Filter::UserMe);
    }
    f.sort();
    f
}
