//! The guard: verifies tokens, applies requirements and modes, logs and reports every decision.

use crate::claims::Claims;
use crate::config::{ConfigError, GuardConfig, Policy};
use crate::error::{AuthError, TokenError};
use crate::issuer::{Issuer, Refetch};
use crate::report::{event_time, Event, Holder, ReportError, Reporter, ReporterStats};
use crate::requirement::{PathParams, Requirement};
use crate::response::Refusal;
use crate::{Decision, Mode};
use axum::extract::MatchedPath;
use axum::http::{header, HeaderMap, Method};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Longest token accepted.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The route template a decision is about (never the concrete path).
#[derive(Debug, Clone)]
pub enum Route {
    Matched(MatchedPath),
    Shared(Arc<str>),
    Static(&'static str),
}

impl Route {
    pub fn as_str(&self) -> &str {
        match self {
            Route::Matched(m) => m.as_str(),
            Route::Shared(s) => s,
            Route::Static(s) => s,
        }
    }
}

/// A request, as far as the guard needs it (for use outside axum too).
pub struct CheckRequest<'a> {
    pub headers: &'a HeaderMap,
    pub method: &'a Method,
    pub route: Route,
    pub params: &'a dyn PathParams,
}

/// What the guard decided for one request.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub mode: Mode,
    /// `Deny`: answer with [`Verdict::refusal`]. `Allow` or `WouldDeny`: let the request through.
    pub decision: Decision,
    /// `ok`, `no_token`, `invalid_token`, `expired_token`, `missing_scope`,
    /// `content_org_mismatch`, `user_mismatch`, `missing_path_param`,
    /// `invalid_path_param`, `verification_unavailable`; `off` when the route's
    /// (or the application's) mode is off.
    pub reason: &'static str,
    /// The verified claims, when the token was valid.
    pub claims: Option<Arc<Claims>>,
    /// The answer the refusal is (or, in report-only mode, would have been).
    pub refusal: Option<Refusal>,
}

#[derive(Debug, Clone)]
struct Modes {
    default: Mode,
    clients: HashMap<String, Mode>,
}

pub(crate) struct Inner {
    pub issuer: Arc<Issuer>,
    modes: RwLock<Arc<Modes>>,
    reporter: Option<Reporter>,
    policy: Policy,
}

/// Token enforcement for one resource server. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Guard {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard").field("issuer", &self.inner.issuer.cfg.issuer).finish()
    }
}

/// The token in `Authorization: Bearer …` or `Authorization: JWT …` (Open edX).
/// `Ok(None)` when there is no such header (another scheme counts as none).
pub fn token_from_headers(headers: &HeaderMap) -> Result<Option<&str>, TokenError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(TokenError::Ambiguous);
    }
    let value = value.to_str().map_err(|_| TokenError::Malformed)?;
    let Some((scheme, rest)) = value.split_once(' ') else { return Ok(None) };
    if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt")) {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    // RFC 6750 §2.1 b64token.
    let body = token.trim_end_matches('=');
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)) {
        return Err(TokenError::Malformed);
    }
    Ok(Some(token))
}

impl Guard {
    /// Starts a guard: checks the configuration, spawns the key refresher and the
    /// reporter, and tries a first load of the issuer's keys (a failure is logged,
    /// not returned: the keys are fetched again when needed; see [`Guard::ready`]).
    pub async fn start(config: GuardConfig) -> Result<Guard, ConfigError> {
        config.validate()?;
        config.warn_plain_http();
        tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.http_timeout.min(Duration::from_secs(5)))
            .timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let modes = Modes { default: config.mode, clients: config.client_modes.clone() };
        let policy = config.policy;
        let creds = match (&config.client_id, &config.client_secret) {
            (Some(i), Some(s)) if config.report.enabled => Some((i.clone(), s.clone())),
            _ => None,
        };
        let static_keys = config.static_jwks.is_some();
        let refresh_every = config.jwks_refresh_interval;
        let retry_every = config.kid_refetch_interval;
        let issuer = Arc::new(Issuer::new(Arc::new(config), http).map_err(ConfigError::Invalid)?);
        let reporter = creds.map(|(i, s)| Reporter::start(issuer.clone(), i, s));
        let inner = Arc::new(Inner { issuer: issuer.clone(), modes: RwLock::new(Arc::new(modes)), reporter, policy });
        if !static_keys {
            let _ = issuer.refresh_keys(Refetch::Scheduled, 0).await;
            tokio::spawn(refresher(Arc::downgrade(&issuer), refresh_every, retry_every));
        }
        Ok(Guard { inner })
    }

    /// Loads the issuer's keys now if they are not loaded (for readiness checks).
    pub async fn ready(&self) -> Result<(), AuthError> {
        let set = self.inner.issuer.keys();
        if set.loaded {
            return Ok(());
        }
        self.inner.issuer.refresh_keys(Refetch::Scheduled, set.generation).await.map(|_| ())
    }

    pub fn config(&self) -> &GuardConfig {
        &self.inner.issuer.cfg
    }

    /// Changes the default mode of every route that does not set its own.
    pub fn set_mode(&self, mode: Mode) {
        self.update_modes(|m| m.default = mode);
    }

    /// Sets (`Some`) or clears (`None`) an application's own mode.
    pub fn set_client_mode(&self, client_id: &str, mode: Option<Mode>) {
        self.update_modes(|m| match mode {
            Some(mode) => {
                m.clients.insert(client_id.to_owned(), mode);
            }
            None => {
                m.clients.remove(client_id);
            }
        });
    }

    fn update_modes(&self, f: impl FnOnce(&mut Modes)) {
        let mut guard = match self.inner.modes.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut m = (**guard).clone();
        f(&mut m);
        *guard = Arc::new(m);
    }

    fn modes(&self) -> Arc<Modes> {
        match self.inner.modes.read() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Verifies a token (a JWT locally, an opaque token by introspection). A token
    /// that is neither a JWT nor shaped like Charter's opaque tokens is malformed.
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::token(TokenError::TooLong));
        }
        if token.bytes().filter(|b| *b == b'.').count() == 2 {
            self.inner.issuer.verify_jwt(token).await
        } else {
            self.inner.issuer.introspect(token).await
        }
    }

    /// Verifies the request's token and applies `requirement` in the effective mode;
    /// logs the decision and queues it for Charter.
    pub async fn check(&self, requirement: &Arc<Requirement>, req: CheckRequest<'_>) -> Verdict {
        let modes = self.modes();
        let route_mode = requirement.mode.unwrap_or(modes.default);
        if route_mode == Mode::Off {
            return Verdict { mode: Mode::Off, decision: Decision::Allow, reason: "off", claims: None, refusal: None };
        }
        let realm = &self.inner.issuer.cfg.realm;
        let verified = match token_from_headers(req.headers) {
            Ok(Some(t)) => self.verify(t).await,
            Ok(None) => Err(AuthError::token(TokenError::Missing)),
            Err(e) => Err(AuthError::token(e)),
        };
        let (holder, outcome) = match verified {
            Ok(claims) => {
                let outcome = match requirement.evaluate(&claims, req.params, self.inner.policy) {
                    Ok(()) => Ok(()),
                    Err(d) => Err((d.reason(), Refusal::denial(realm, &d, &requirement.all, &requirement.any))),
                };
                (Holder::Verified(claims), outcome)
            }
            Err(e) => {
                let refusal = match &e {
                    AuthError::Token { error, .. } => Refusal::token(realm, *error),
                    AuthError::Unavailable(_) => Refusal::unavailable(),
                };
                let reason = e.reason();
                let holder = match e {
                    AuthError::Token { client_id: Some(c), .. } => Holder::Known(c),
                    _ => Holder::Unknown,
                };
                (holder, Err((reason, refusal)))
            }
        };
        let client_id = match &holder {
            Holder::Verified(c) => c.client_id.as_deref(),
            Holder::Known(c) => Some(c.as_str()),
            Holder::Unknown => None,
        };
        let mode = client_id.and_then(|c| modes.clients.get(c).copied()).unwrap_or(route_mode);
        let claims = match &holder {
            Holder::Verified(c) => Some(c.clone()),
            _ => None,
        };
        if mode == Mode::Off {
            // The application is off (a route that is off returned above, unread): its
            // token was authentic, so the decision is logged; it is never reported.
            log_decision(client_id.unwrap_or(""), &req, &holder, requirement, mode, Decision::Allow, "off");
            return Verdict { mode, decision: Decision::Allow, reason: "off", claims, refusal: None };
        }
        let (decision, reason, refusal) = match outcome {
            Ok(()) => (Decision::Allow, "ok", None),
            Err((reason, refusal)) => {
                (if mode == Mode::Enforce { Decision::Deny } else { Decision::WouldDeny }, reason, Some(refusal))
            }
        };
        log_decision(client_id.unwrap_or(""), &req, &holder, requirement, mode, decision, reason);
        // Charter's report is per application: a decision about no known application
        // (no token, a forged one, a token naming no client_id) is logged but not sent.
        let known = client_id.is_some();
        if let (Some(r), true) = (&self.inner.reporter, known) {
            r.record(Event {
                at: event_time(),
                holder,
                method: req.method.clone(),
                route: req.route,
                requirement: requirement.clone(),
                mode,
                decision,
                reason,
            });
        }
        Verdict { mode, decision, reason, claims, refusal }
    }

    /// Sends the pending decisions now (e.g. at shutdown); returns how many were delivered.
    pub async fn flush(&self) -> Result<u64, ReportError> {
        match &self.inner.reporter {
            Some(r) => r.flush().await,
            None => Err(ReportError::Disabled),
        }
    }

    /// The reporter's counters (all zero when reporting is off).
    pub fn reporter_stats(&self) -> ReporterStats {
        self.inner.reporter.as_ref().map(|r| r.counters.snapshot()).unwrap_or_default()
    }

    /// How many times the JWK set was fetched, and introspection called (for tests and metrics).
    pub fn fetch_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.inner.issuer.jwks_fetches.load(Ordering::Relaxed),
            self.inner.issuer.introspections.load(Ordering::Relaxed),
        )
    }
}

async fn refresher(issuer: Weak<Issuer>, every: Duration, retry: Duration) {
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        let Some(i) = issuer.upgrade() else { return };
        let generation = i.keys().generation;
        wait = match i.refresh_keys(Refetch::Scheduled, generation).await {
            Ok(_) => every,
            Err(_) => retry.min(every),
        };
    }
}

struct Joined<'a>(&'a [String]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}

pub(crate) fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Enforce => "enforce",
        Mode::ReportOnly => "report-only",
        Mode::Off => "off",
    }
}

pub(crate) fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
        Decision::WouldDeny => "would_deny",
    }
}

/// One structured shape for every decision (target `charter_guard::decision`).
fn log_decision(
    client_id: &str,
    req: &CheckRequest<'_>,
    holder: &Holder,
    requirement: &Requirement,
    mode: Mode,
    decision: Decision,
    reason: &'static str,
) {
    let held: &[String] = match holder {
        Holder::Verified(c) => &c.scopes,
        _ => &[],
    };
    tracing::info!(
        target: "charter_guard::decision",
        client_id,
        method = %req.method,
        route = req.route.as_str(),
        scopes_held = %Joined(held),
        required_all = %Joined(&requirement.all),
        required_any = %Joined(&requirement.any),
        mode = mode_str(mode),
        decision = decision_str(decision),
        reason,
        "access decision"
    );
}
