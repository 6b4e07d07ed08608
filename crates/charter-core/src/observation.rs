//! Observations of access: what resource servers decided (reported by them) and
//! which tokens they introspected (seen by Charter). They feed the access
//! report and the retrofit proposal (OEP-4: "understand current access
//! patterns" before enforcing scopes on existing applications).

use crate::time::UnixTime;
use charter_wire::{Decision, Mode};
use serde::{Deserialize, Serialize};

/// Where an observation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationSource {
    /// A decision reported by a resource server's enforcement library.
    Decision,
    /// A token introspected at Charter by a resource server.
    Introspection,
}

impl ObservationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ObservationSource::Decision => "decision",
            ObservationSource::Introspection => "introspection",
        }
    }
}

/// One stored observation (possibly standing for `count` identical ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub at: UnixTime,
    pub source: ObservationSource,
    /// The resource server that reported or introspected (its client id).
    pub reporter: String,
    /// The application whose token was used.
    pub client_id: String,
    pub method: String,
    /// Route template (`/api/courses/{course_id}`), or `introspection`.
    pub route: String,
    /// Sorted, space-separated.
    pub scopes_held: String,
    pub required_all: String,
    pub required_any: String,
    pub mode: Mode,
    pub decision: Decision,
    pub reason: String,
    pub count: u64,
}

/// Limits on what a reporter may send (bounded storage per batch).
pub const MAX_FIELD_LEN: usize = 200;
pub const MAX_SCOPES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decision {index}: {reason}")]
pub struct InvalidDecision {
    pub index: usize,
    pub reason: String,
}

fn sorted_joined(v: &[String]) -> String {
    let mut v: Vec<&str> = v.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// Turns a reported batch into observations, refusing malformed entries.
pub fn from_batch(
    batch: &charter_wire::ObservationBatch,
    reporter: &str,
    now: UnixTime,
) -> Result<Vec<Observation>, InvalidDecision> {
    if batch.decisions.len() > charter_wire::MAX_DECISIONS_PER_BATCH {
        return Err(InvalidDecision {
            index: charter_wire::MAX_DECISIONS_PER_BATCH,
            reason: format!("at most {} decisions per batch", charter_wire::MAX_DECISIONS_PER_BATCH),
        });
    }
    batch
        .decisions
        .iter()
        .enumerate()
        .map(|(index, d)| {
            let bad = |reason: &str| InvalidDecision { index, reason: reason.to_owned() };
            let text_ok = |s: &str| !s.is_empty() && s.len() <= MAX_FIELD_LEN && !s.chars().any(char::is_control);
            if !text_ok(&d.client_id) || !text_ok(&d.method) || !text_ok(&d.route) || !text_ok(&d.reason) {
                return Err(bad("client_id, method, route and reason must be 1 to 200 printable characters"));
            }
            let scopes = [&d.scopes_held, &d.required_all, &d.required_any];
            if scopes.iter().any(|v| v.len() > MAX_SCOPES || v.iter().any(|s| !text_ok(s) || s.contains(' '))) {
                return Err(bad("scope lists hold at most 64 names without spaces"));
            }
            if d.count == 0 || d.count > 1_000_000 {
                return Err(bad("count must be 1 to 1000000"));
            }
            // A reporter's clock may be off; never store a time in the future.
            let at = if d.at > now.0 || d.at <= 0 { now } else { UnixTime(d.at) };
            Ok(Observation {
                at,
                source: ObservationSource::Decision,
                reporter: reporter.to_owned(),
                client_id: d.client_id.clone(),
                method: d.method.to_ascii_uppercase(),
                route: d.route.clone(),
                scopes_held: sorted_joined(&d.scopes_held),
                required_all: sorted_joined(&d.required_all),
                required_any: sorted_joined(&d.required_any),
                mode: d.mode,
                decision: d.decision,
                reason: d.reason.clone(),
                count: d.count,
            })
        })
        .collect()
}
