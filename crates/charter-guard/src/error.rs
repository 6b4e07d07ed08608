//! Why a token was not accepted.

/// Why a presented token is not valid (answered with 401 `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the request carries no access token")]
    Missing,
    #[error("the request carries more than one Authorization header")]
    Ambiguous,
    #[error("the access token is malformed")]
    Malformed,
    #[error("the access token is too long")]
    TooLong,
    #[error("the access token is signed by an unknown key")]
    UnknownKey,
    #[error("the access token's algorithm is not its key's")]
    AlgorithmMismatch,
    #[error("the access token's signature is invalid")]
    BadSignature,
    #[error("the access token's claims are malformed")]
    BadClaims,
    #[error("the access token lacks the {0} claim")]
    MissingClaim(&'static str),
    #[error("the access token expired")]
    Expired,
    #[error("the access token is not valid yet")]
    NotYetValid,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is meant for another audience")]
    WrongAudience,
    #[error("the access token's version is not supported")]
    UnsupportedVersion,
    #[error("the access token is not active")]
    Inactive,
    #[error("opaque access tokens are not accepted here")]
    OpaqueNotAccepted,
    #[error("the token is not an access token")]
    NotAccessToken,
}

impl TokenError {
    /// The `reason` reported to Charter.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Missing => "no_token",
            TokenError::Expired => "expired_token",
            _ => "invalid_token",
        }
    }

    /// A fixed description, safe in a quoted header parameter.
    pub fn description(&self) -> &'static str {
        match self {
            TokenError::Missing => "the request carries no access token",
            TokenError::Ambiguous => "the request carries more than one Authorization header",
            TokenError::Malformed => "the access token is malformed",
            TokenError::TooLong => "the access token is too long",
            TokenError::UnknownKey => "the access token is signed by an unknown key",
            TokenError::AlgorithmMismatch => "the access token's algorithm is not its key's",
            TokenError::BadSignature => "the access token's signature is invalid",
            TokenError::BadClaims => "the access token's claims are malformed",
            TokenError::MissingClaim(_) => "the access token lacks a required claim",
            TokenError::Expired => "the access token expired",
            TokenError::NotYetValid => "the access token is not valid yet",
            TokenError::WrongIssuer => "the access token was issued by another issuer",
            TokenError::WrongAudience => "the access token is meant for another audience",
            TokenError::UnsupportedVersion => "the access token's version is not supported",
            TokenError::Inactive => "the access token is not active",
            TokenError::OpaqueNotAccepted => "opaque access tokens are not accepted here",
            TokenError::NotAccessToken => "the token is not an access token",
        }
    }
}

/// Why a token could not be checked, or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is not valid. `client_id` is set when the signature was good
    /// (e.g. an expired token), so the application is known for reports.
    #[error("{error}")]
    Token { error: TokenError, client_id: Option<String> },
    /// Charter could not be reached for keys or introspection (answered with 503).
    #[error("cannot verify tokens now: {0}")]
    Unavailable(String),
}

impl AuthError {
    pub(crate) fn token(error: TokenError) -> Self {
        AuthError::Token { error, client_id: None }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Token { error, .. } => error.reason(),
            AuthError::Unavailable(_) => "verification_unavailable",
        }
    }
}
