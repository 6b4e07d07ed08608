//! Sending decisions to Charter, without ever making a request wait.
//!
//! Requests `try_send` one small event into a bounded channel (a full channel
//! drops the event and counts it). One task (off the request path) aggregates
//! identical decisions (`count`) in a map of at most `max_pending` distinct
//! decisions (at most [`MAX_DECISIONS_PER_BATCH`]) and hands each batch to a
//! second task, which POSTs them. A batch that
//! cannot be delivered is dropped and counted, and the count travels in the
//! `dropped` field of the next batch that is delivered. Nothing is retried or
//! queued without bound.

use crate::claims::Claims;
use crate::issuer::{now_unix, read_limited, Issuer};
use crate::requirement::Requirement;
use crate::Route;
use axum::http::Method;
use charter_wire::{
    Decision, DecisionRecord, Mode, ObservationBatch, ObservationReceipt, MAX_DECISIONS_PER_BATCH, OBSERVATIONS_PATH,
    REPORT_SCOPE,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Who presented the token, as far as is known.
#[derive(Debug, Clone)]
pub(crate) enum Holder {
    Verified(Arc<Claims>),
    /// The signature was good but a claim was not (e.g. expired).
    Known(String),
    Unknown,
}

/// One decision, as it leaves the request path (cheap to build: shared parts only).
#[derive(Debug)]
pub(crate) struct Event {
    pub at: i64,
    pub holder: Holder,
    pub method: Method,
    pub route: Route,
    pub requirement: Arc<Requirement>,
    pub mode: Mode,
    pub decision: Decision,
    pub reason: &'static str,
}

/// What makes two decisions the same record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    client_id: String,
    method: String,
    route: String,
    scopes_held: Vec<String>,
    required_all: Vec<String>,
    required_any: Vec<String>,
    mode: Mode,
    decision: Decision,
    reason: &'static str,
}

/// Charter refuses a batch holding a field longer than this, or a list longer than [`MAX_LIST`].
const MAX_FIELD: usize = 200;
const MAX_LIST: usize = 64;
/// Charter refuses a record counting more than this.
const MAX_COUNT: u64 = 1_000_000;

fn clip(s: &str) -> &str {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn scope_ok(s: &&String) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD && !s.chars().any(|c| c == ' ' || c.is_control())
}

fn scopes(v: &[String]) -> impl Iterator<Item = &String> {
    v.iter().filter(scope_ok).take(MAX_LIST)
}

/// The application and scopes of an event, as reported.
fn holder_view(e: &Event) -> (&str, &[String]) {
    match &e.holder {
        Holder::Verified(c) => (clip(c.client_id.as_deref().unwrap_or("")), &c.scopes),
        Holder::Known(id) => (clip(id), &[]),
        Holder::Unknown => ("", &[]),
    }
}

impl Key {
    fn of(e: &Event) -> Key {
        let (client_id, held) = holder_view(e);
        Key {
            client_id: client_id.to_owned(),
            method: e.method.as_str().to_owned(),
            route: clip(e.route.as_str()).to_owned(),
            scopes_held: scopes(held).cloned().collect(),
            required_all: scopes(&e.requirement.all).cloned().collect(),
            required_any: scopes(&e.requirement.any).cloned().collect(),
            mode: e.mode,
            decision: e.decision,
            reason: e.reason,
        }
    }

    fn record(self, at: i64, count: u64) -> DecisionRecord {
        DecisionRecord {
            at,
            client_id: self.client_id,
            method: self.method,
            route: self.route,
            scopes_held: self.scopes_held,
            required_all: self.required_all,
            required_any: self.required_any,
            mode: self.mode,
            decision: self.decision,
            reason: self.reason.to_owned(),
            count,
        }
    }
}

/// Distinct decisions waiting for the next batch, with their first time and count.
#[derive(Default)]
struct Pending {
    records: HashMap<Key, (i64, u64)>,
}

impl Pending {
    /// Counts `e`; `false` when it is new and `max` distinct decisions are already held.
    fn add(&mut self, e: &Event, max: usize) -> bool {
        let key = Key::of(e);
        if let Some((_, n)) = self.records.get_mut(&key) {
            *n += 1;
            return true;
        }
        if self.records.len() >= max {
            return false;
        }
        self.records.insert(key, (e.at, 1));
        true
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn take(&mut self) -> Vec<(Key, i64, u64)> {
        self.records.drain().map(|(k, (at, n))| (k, at, n)).collect()
    }
}

/// The reporter's counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent_batches: AtomicU64,
    sent_decisions: AtomicU64,
    failed_batches: AtomicU64,
    dropped_total: AtomicU64,
    /// Dropped since the last delivered batch: goes out in the next batch's `dropped`.
    dropped_unreported: AtomicU64,
}

/// What the reporter has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReporterStats {
    /// Batches Charter accepted.
    pub sent_batches: u64,
    /// Decisions (counting aggregated ones) in those batches.
    pub sent_decisions: u64,
    /// Batches that could not be delivered (and were dropped).
    pub failed_batches: u64,
    /// Decisions dropped since start: channel full, too many pending, or undeliverable.
    pub dropped_total: u64,
    /// Dropped decisions not yet told to Charter.
    pub dropped_unreported: u64,
}

impl Counters {
    fn drop_n(&self, n: u64) {
        self.dropped_total.fetch_add(n, Ordering::Relaxed);
        self.dropped_unreported.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ReporterStats {
        ReporterStats {
            sent_batches: self.sent_batches.load(Ordering::Relaxed),
            sent_decisions: self.sent_decisions.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            dropped_total: self.dropped_total.load(Ordering::Relaxed),
            dropped_unreported: self.dropped_unreported.load(Ordering::Relaxed),
        }
    }
}

/// Why a flush did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("reporting is off (no client credentials, or disabled)")]
    Disabled,
    #[error("the reporter has stopped")]
    Stopped,
    #[error("the reporter is busy: the batch was dropped")]
    Busy,
    #[error("Charter did not take the batch: {0}")]
    Delivery(String),
}

/// Pause between two drains of the event channel (at most 100 wake-ups a second).
const DRAIN_PAUSE: Duration = Duration::from_millis(10);

enum Control {
    Flush(oneshot::Sender<Result<u64, ReportError>>),
}

struct Batch {
    records: Vec<DecisionRecord>,
    ack: Option<oneshot::Sender<Result<u64, ReportError>>>,
}

/// The request side of the reporter.
pub(crate) struct Reporter {
    tx: mpsc::Sender<Event>,
    ctl: mpsc::Sender<Control>,
    pub counters: Arc<Counters>,
}

impl Reporter {
    pub fn start(issuer: Arc<Issuer>, client_id: String, client_secret: String) -> Reporter {
        let cfg = issuer.cfg.report.clone();
        let (tx, rx) = mpsc::channel(cfg.channel_capacity);
        let (ctl, ctl_rx) = mpsc::channel(8);
        let (batch_tx, batch_rx) = mpsc::channel(2);
        let counters = Arc::new(Counters::default());
        let service = cfg.service_name.clone().unwrap_or_else(|| client_id.clone());
        let url = cfg.url.clone().unwrap_or_else(|| format!("{}{OBSERVATIONS_PATH}", issuer.base()));
        tokio::spawn(aggregate(rx, ctl_rx, batch_tx, counters.clone(), cfg.max_pending, cfg.flush_interval));
        let sender = Sender { issuer, client_id, client_secret, service, url, counters: counters.clone(), token: None };
        tokio::spawn(sender.run(batch_rx));
        Reporter { tx, ctl, counters }
    }

    /// Never waits: a full channel drops the decision and counts it.
    pub fn record(&self, event: Event) {
        if self.tx.try_send(event).is_err() {
            self.counters.drop_n(1);
        }
    }

    /// Sends what is pending now; returns the number of decisions delivered.
    pub async fn flush(&self) -> Result<u64, ReportError> {
        let (ack, done) = oneshot::channel();
        self.ctl.send(Control::Flush(ack)).await.map_err(|_| ReportError::Stopped)?;
        done.await.map_err(|_| ReportError::Stopped)?
    }
}

async fn aggregate(
    mut rx: mpsc::Receiver<Event>,
    mut ctl: mpsc::Receiver<Control>,
    batches: mpsc::Sender<Batch>,
    counters: Arc<Counters>,
    max_pending: usize,
    every: Duration,
) {
    let mut pending = Pending::default();
    // Reaching `max_pending` distinct decisions sends a batch at once.
    let full = max_pending.clamp(1, MAX_DECISIONS_PER_BATCH);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let add = |pending: &mut Pending, e: Event| {
        if !pending.add(&e, full) {
            counters.drop_n(1);
        }
    };
    let flush = |pending: &mut Pending, ack: Option<oneshot::Sender<Result<u64, ReportError>>>| {
        if pending.is_empty() && counters.dropped_unreported.load(Ordering::Relaxed) == 0 {
            if let Some(a) = ack {
                let _ = a.send(Ok(0));
            }
            return;
        }
        let taken = pending.take();
        let mut records: Vec<DecisionRecord> = Vec::with_capacity(taken.len());
        for (k, at, mut n) in taken {
            while n > MAX_COUNT {
                records.push(k.clone().record(at, MAX_COUNT));
                n -= MAX_COUNT;
            }
            records.push(k.record(at, n));
        }
        records.sort_by_key(|r| r.at);
        let mut chunks: Vec<Vec<DecisionRecord>> = Vec::new();
        while records.len() > MAX_DECISIONS_PER_BATCH {
            let rest = records.split_off(MAX_DECISIONS_PER_BATCH);
            chunks.push(std::mem::replace(&mut records, rest));
        }
        chunks.push(records);
        let last = chunks.len() - 1;
        let mut ack = ack;
        for (i, records) in chunks.into_iter().enumerate() {
            let n: u64 = records.iter().map(|r| r.count).sum();
            let batch = Batch { records, ack: if i == last { ack.take() } else { None } };
            if let Err(e) = batches.try_send(batch) {
                // The sender is still busy with earlier batches: drop this one.
                counters.drop_n(n);
                counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                let b = match e {
                    mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => b,
                };
                if let Some(a) = b.ack {
                    let _ = a.send(Err(ReportError::Busy));
                }
            }
        }
    };
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(e) => {
                    add(&mut pending, e);
                    while let Ok(e) = rx.try_recv() {
                        add(&mut pending, e);
                        if pending.len() >= full {
                            flush(&mut pending, None);
                        }
                    }
                    if pending.len() >= full {
                        flush(&mut pending, None);
                    }
                    // Let events gather in the channel: waking this task for each
                    // one would cost every request a cross-thread wake-up.
                    tokio::time::sleep(DRAIN_PAUSE).await;
                }
                None => {
                    flush(&mut pending, None);
                    break;
                }
            },
            _ = tick.tick() => flush(&mut pending, None),
            c = ctl.recv() => match c {
                Some(Control::Flush(ack)) => {
                    while let Ok(e) = rx.try_recv() {
                        add(&mut pending, e);
                        if pending.len() >= full {
                            flush(&mut pending, None);
                        }
                    }
                    flush(&mut pending, Some(ack));
                }
                None => {}
            },
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

struct Sender {
    issuer: Arc<Issuer>,
    client_id: String,
    client_secret: String,
    service: String,
    url: String,
    counters: Arc<Counters>,
    token: Option<(String, Instant)>,
}

impl Sender {
    async fn run(mut self, mut rx: mpsc::Receiver<Batch>) {
        while let Some(batch) = rx.recv().await {
            let n: u64 = batch.records.iter().map(|r| r.count).sum();
            let dropped = self.counters.dropped_unreported.swap(0, Ordering::Relaxed);
            let body = ObservationBatch { service: self.service.clone(), decisions: batch.records, dropped };
            let result = self.send(&body).await;
            let outcome = match result {
                Ok(()) => {
                    self.counters.sent_batches.fetch_add(1, Ordering::Relaxed);
                    self.counters.sent_decisions.fetch_add(n, Ordering::Relaxed);
                    Ok(n)
                }
                Err(e) => {
                    // Undelivered: drop it, and tell Charter next time.
                    self.counters.dropped_unreported.fetch_add(dropped, Ordering::Relaxed);
                    self.counters.drop_n(n);
                    self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(target: "charter_guard", error = %e, decisions = n, "dropped a batch of decisions");
                    Err(ReportError::Delivery(e))
                }
            };
            if let Some(a) = batch.ack {
                let _ = a.send(outcome);
            }
        }
    }

    async fn token(&mut self) -> Result<String, String> {
        if let Some((t, until)) = &self.token {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let eps = self.issuer.endpoints().await.map_err(|e| e.to_string())?;
        let url = eps.token.clone().unwrap_or_else(|| format!("{}/oauth2/token", self.issuer.base()));
        let resp = self
            .issuer
            .http
            .post(&url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", REPORT_SCOPE)])
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = read_limited(resp, 4096).await.unwrap_or_default();
            return Err(format!("{url}: HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        let body = read_limited(resp, 64 * 1024).await?;
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))?;
        // Renewed at 80% of its life.
        let life = t.expires_in.unwrap_or(300).clamp(1, 86_400) as u64;
        let until = Instant::now() + Duration::from_millis(life * 800);
        self.token = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    async fn send(&mut self, body: &ObservationBatch) -> Result<(), String> {
        let token = self.token().await?;
        let resp = self
            .issuer
            .http
            .post(&self.url)
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.token = None;
        }
        if !status.is_success() {
            let text = read_limited(resp, 4096).await.unwrap_or_default();
            return Err(format!("{}: HTTP {status}: {}", self.url, String::from_utf8_lossy(&text)));
        }
        // The receipt is informative; a 2xx is delivery.
        if let Ok(b) = read_limited(resp, 4096).await {
            if let Ok(r) = serde_json::from_slice::<ObservationReceipt>(&b) {
                tracing::debug!(target: "charter_guard", accepted = r.accepted, "Charter took a batch");
            }
        }
        Ok(())
    }
}

pub(crate) fn event_time() -> i64 {
    now_unix()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::TokenSource;

    fn event(client: &str, scopes: &[&str], route: &'static str, decision: Decision) -> Event {
        let claims = Claims {
            client_id: Some(client.into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            filters: vec![],
            is_restricted: false,
            preferred_username: None,
            sub: None,
            iss: "i".into(),
            aud: vec![],
            exp: 0,
            iat: None,
            jti: None,
            grant_type: None,
            email: None,
            user_id: None,
            version: None,
            source: TokenSource::Jwt,
        };
        Event {
            at: 7,
            holder: Holder::Verified(Arc::new(claims)),
            method: Method::GET,
            route: Route::Static(route),
            requirement: Arc::new(Requirement::scopes_all(["catalog:read"])),
            mode: Mode::ReportOnly,
            decision,
            reason: "ok",
        }
    }

    #[test]
    fn identical_decisions_are_counted_once() {
        let mut p = Pending::default();
        for _ in 0..3 {
            assert!(p.add(&event("a", &["read"], "/x", Decision::Allow), 10));
        }
        assert!(p.add(&event("a", &["read", "write"], "/x", Decision::Allow), 10));
        assert!(p.add(&event("a", &["read"], "/y", Decision::Allow), 10));
        assert!(p.add(&event("b", &["read"], "/x", Decision::Allow), 10));
        assert!(p.add(&event("a", &["read"], "/x", Decision::WouldDeny), 10));
        assert_eq!(p.len(), 5);
        // A scope that Charter would refuse (a space) is left out of the record.
        assert!(p.add(&event("a", &["read", "bad scope"], "/x", Decision::Allow), 10));
        assert_eq!(p.len(), 5);
        let mut counts: Vec<u64> = p.take().into_iter().map(|(_, _, n)| n).collect();
        counts.sort_unstable();
        assert_eq!(counts, vec![1, 1, 1, 1, 4]);
        assert!(p.is_empty());
        // Bounded: a new decision beyond `max` is refused, a known one still counted.
        assert!(p.add(&event("a", &[], "/x", Decision::Allow), 1));
        assert!(!p.add(&event("b", &[], "/x", Decision::Allow), 1));
        assert!(p.add(&event("a", &[], "/x", Decision::Allow), 1));
    }
}
