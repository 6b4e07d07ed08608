//! RFC 7662 token introspection, decided from what the store holds.

use crate::client::Status;
use crate::token::AccessTokenRecord;
use crate::time::UnixTime;
use serde::Serialize;

/// What the store returns for a token: the record and the state of what it depends on.
#[derive(Debug, Clone)]
pub struct TokenState {
    pub record: AccessTokenRecord,
    pub application_status: Status,
    pub restricted: bool,
    pub account_status: Status,
    pub username: String,
    pub subject: String,
}

/// RFC 7662 §2.2 response. Inactive tokens answer `{"active": false}` and nothing else.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<ActiveDetails>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActiveDetails {
    pub scope: String,
    pub client_id: String,
    pub username: String,
    pub token_type: &'static str,
    pub exp: i64,
    pub iat: i64,
    pub sub: String,
    pub aud: String,
    pub iss: String,
    pub jti: String,
    pub filters: Vec<String>,
    pub is_restricted: bool,
}

impl IntrospectionResponse {
    pub fn inactive() -> Self {
        Self { active: false, details: None }
    }
}

/// Why a token is inactive (for logs and observations, never for the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Unknown,
    Revoked,
    Expired,
    ApplicationNotActive,
    AccountNotActive,
}

pub fn decide(
    state: Option<&TokenState>,
    issuer: &str,
    audience: &str,
    now: UnixTime,
) -> Result<IntrospectionResponse, Inactive> {
    let s = state.ok_or(Inactive::Unknown)?;
    let r = &s.record;
    // Revoked is revoked, whatever the clocks of the node that revoked and of this one say.
    if r.revoked_at.is_some() {
        return Err(Inactive::Revoked);
    }
    if r.expires_at <= now {
        return Err(Inactive::Expired);
    }
    if s.application_status != Status::Active {
        return Err(Inactive::ApplicationNotActive);
    }
    if s.account_status != Status::Active {
        return Err(Inactive::AccountNotActive);
    }
    Ok(IntrospectionResponse {
        active: true,
        details: Some(ActiveDetails {
            scope: r.scopes.to_space_separated(),
            client_id: r.client_id.clone(),
            username: s.username.clone(),
            token_type: "Bearer",
            exp: r.expires_at.0,
            iat: r.issued_at.0,
            sub: s.subject.clone(),
            aud: audience.to_owned(),
            iss: issuer.to_owned(),
            jti: r.id.clone(),
            filters: r.filters.iter().map(|f| f.to_string()).collect(),
            is_restricted: s.restricted,
        }),
    })
}
