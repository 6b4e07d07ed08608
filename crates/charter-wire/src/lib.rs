//! The JSON that crosses between Charter and resource servers, apart from OAuth's own.
//!
//! A resource server (with `charter-guard`, or any language) sends its access
//! decisions to Charter in batches: `POST /api/v1/observations`, authenticated
//! with a Bearer access token of its own that carries the scope
//! [`REPORT_SCOPE`]. Charter answers `202` with [`ObservationReceipt`].

use serde::{Deserialize, Serialize};

/// The scope a resource server's token needs to send observations.
pub const REPORT_SCOPE: &str = "charter:report";

/// The path Charter takes batches at.
pub const OBSERVATIONS_PATH: &str = "/api/v1/observations";

/// Most decisions accepted in one batch.
pub const MAX_DECISIONS_PER_BATCH: usize = 1000;

/// What the resource server's enforcement decided (or would have decided).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let through, and enforcement would have let it through.
    Allow,
    /// Refused (enforce mode).
    Deny,
    /// Let through only because the route or application is in report-only mode.
    WouldDeny,
}

/// The mode the route (or application) was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    ReportOnly,
    Off,
}

/// One access decision, or `count` identical ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Unix seconds.
    pub at: i64,
    /// The application whose token was presented.
    pub client_id: String,
    pub method: String,
    /// The route template, never the concrete path: `/api/courses/{course_id}`.
    pub route: String,
    /// Scopes the token carried.
    pub scopes_held: Vec<String>,
    /// Every one of these was required.
    #[serde(default)]
    pub required_all: Vec<String>,
    /// At least one of these was required (empty: no any-of requirement).
    #[serde(default)]
    pub required_any: Vec<String>,
    pub mode: Mode,
    pub decision: Decision,
    /// Why it was (or would have been) refused: `missing_scope`, `content_org_mismatch`,
    /// `user_mismatch`, …; `ok` when allowed.
    pub reason: String,
    #[serde(default = "one")]
    pub count: u64,
}

fn one() -> u64 {
    1
}

/// A batch of decisions from one resource server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationBatch {
    /// The reporting service's name (its client id is taken from its token).
    pub service: String,
    pub decisions: Vec<DecisionRecord>,
    /// Decisions the reporter dropped since its last successful batch (Charter was down or the buffer was full).
    #[serde(default)]
    pub dropped: u64,
}

/// Charter's answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationReceipt {
    pub accepted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_wire_names() {
        let d = DecisionRecord {
            at: 1,
            client_id: "c".into(),
            method: "GET".into(),
            route: "/api/courses".into(),
            scopes_held: vec![],
            required_all: vec!["catalog:read".into()],
            required_any: vec![],
            mode: Mode::ReportOnly,
            decision: Decision::WouldDeny,
            reason: "missing_scope".into(),
            count: 1,
        };
        let v = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(v["mode"], "report-only");
        assert_eq!(v["decision"], "would_deny");
        let back: DecisionRecord = serde_json::from_value(v).unwrap_or_else(|_| unreachable!());
        assert_eq!(back, d);
    }
}
