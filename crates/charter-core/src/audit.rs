//! Audit events: who did what, when, to which application, with which scopes, from where.

use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: UnixTime,
    /// Who acted: `client:<client_id>`, `cli:<os user>`, `system`.
    pub actor: String,
    /// What happened, dotted: `token.issued`, `token.refused`, `token.revoked`, `application.created`, …
    pub action: String,
    pub outcome: Outcome,
    pub client_id: Option<String>,
    pub account: Option<String>,
    pub scopes: Option<String>,
    /// The client address, when the event came from a request.
    pub source: Option<String>,
    /// Anything else worth keeping; never a secret.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(at: UnixTime, actor: impl Into<String>, action: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            at,
            actor: actor.into(),
            action: action.into(),
            outcome,
            client_id: None,
            account: None,
            scopes: None,
            source: None,
            detail: serde_json::Value::Null,
        }
    }
    pub fn client(mut self, c: impl Into<String>) -> Self {
        self.client_id = Some(c.into());
        self
    }
    pub fn account(mut self, a: impl Into<String>) -> Self {
        self.account = Some(a.into());
        self
    }
    pub fn scopes(mut self, s: impl Into<String>) -> Self {
        self.scopes = Some(s.into());
        self
    }
    pub fn source(mut self, s: Option<String>) -> Self {
        self.source = s;
        self
    }
    pub fn detail(mut self, d: serde_json::Value) -> Self {
        self.detail = d;
        self
    }
}
