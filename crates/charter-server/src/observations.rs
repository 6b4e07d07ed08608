//! Introspection observations, aggregated in memory and flushed through the journal.
//!
//! Introspection is on the hot path (tens of thousands per second); writing a
//! row per call would cost more than the call. Identical observations
//! (same minute, caller, application, scopes, outcome) are counted in memory
//! and written every few seconds and at shutdown. They are statistics for the
//! access report: a crash loses at most the last few seconds of counts.

use charter_core::observation::{Observation, ObservationSource};
use charter_core::time::UnixTime;
use charter_wire::{Decision, Mode};
use std::collections::HashMap;
use std::sync::Mutex;

/// Most distinct observations held between flushes; beyond, they are counted and dropped.
pub const MAX_PENDING: usize = 10_000;

#[derive(Hash, PartialEq, Eq)]
struct Key {
    minute: i64,
    reporter: String,
    client_id: String,
    scopes: String,
    active: bool,
}

#[derive(Default)]
pub struct ObservationBuffer {
    pending: Mutex<HashMap<Key, u64>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl ObservationBuffer {
    pub fn record_introspection(&self, now: UnixTime, reporter: &str, client_id: &str, scopes: &str, active: bool) {
        let key = Key {
            minute: now.0 - now.0.rem_euclid(60),
            reporter: reporter.to_owned(),
            client_id: client_id.to_owned(),
            scopes: scopes.to_owned(),
            active,
        };
        let mut map = match self.pending.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let len = map.len();
        match map.get_mut(&key) {
            Some(n) => *n += 1,
            None if len < MAX_PENDING => {
                map.insert(key, 1);
            }
            None => {
                self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                metrics::counter!("charter_observations_dropped_total").increment(1);
            }
        }
    }

    /// Takes everything pending, as observations to store.
    pub fn drain(&self) -> Vec<Observation> {
        let map = match self.pending.lock() {
            Ok(mut m) => std::mem::take(&mut *m),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        map.into_iter()
            .map(|(k, count)| Observation {
                at: UnixTime(k.minute),
                source: ObservationSource::Introspection,
                reporter: k.reporter,
                client_id: k.client_id,
                method: "POST".into(),
                route: "introspection".into(),
                scopes_held: k.scopes,
                required_all: String::new(),
                required_any: String::new(),
                mode: Mode::Enforce,
                decision: if k.active { Decision::Allow } else { Decision::Deny },
                reason: if k.active { "active".into() } else { "inactive".into() },
                count,
            })
            .collect()
    }
}
