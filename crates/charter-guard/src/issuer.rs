//! Everything the guard asks Charter: metadata, keys, introspection.

use crate::claims::{split_scope, Claims, IntrospectionClaims, TokenSource};
use crate::config::{is_http_url, split_url, warn_if_plain_http, GuardConfig};
use crate::error::{AuthError, TokenError};
use crate::jwks::{self, ClaimRules, KeySet, VerifyKey};
use moka::future::Cache;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Largest metadata, JWKS or introspection document read.
const MAX_DOCUMENT: usize = 256 * 1024;

/// How long a cache miss waits for an introspection slot before answering 503.
const INTROSPECTION_SLOT_WAIT: Duration = Duration::from_millis(500);

/// Charter's opaque access tokens: 32 lowercase hex characters (the token's id),
/// then 43 base64url characters (its secret).
const OPAQUE_ID_LEN: usize = 32;
const OPAQUE_SECRET_LEN: usize = 43;

/// Whether `token` has the shape of Charter's opaque access tokens. Anything else
/// is refused unread: it is never sent to Charter nor cached.
pub(crate) fn is_opaque_token(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() == OPAQUE_ID_LEN + OPAQUE_SECRET_LEN
        && b[..OPAQUE_ID_LEN].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        && b[OPAQUE_ID_LEN..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
}

/// The introspection cache's key: the token's SHA-256, so that no token is held in memory.
fn cache_key(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(d.as_ref());
    key
}

/// A window after a failure to reach Charter during which it is not asked again.
struct FailFast {
    origin: Instant,
    /// Milliseconds after `origin` until which Charter is not asked.
    until_ms: AtomicU64,
    window: Duration,
}

impl FailFast {
    fn new(window: Duration) -> Self {
        Self { origin: Instant::now(), until_ms: AtomicU64::new(0), window }
    }

    fn is_open(&self) -> bool {
        (self.origin.elapsed().as_millis() as u64) < self.until_ms.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        let until = (self.origin.elapsed() + self.window).as_millis() as u64;
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Endpoints {
    pub jwks_uri: Option<String>,
    pub introspection: Option<String>,
    pub token: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    introspection_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
}

/// An introspection answer, as cached.
#[derive(Debug)]
enum Introspected {
    Active(Arc<Claims>),
    Inactive,
    /// Active, but not something this guard accepts (e.g. not an access token).
    Refused {
        error: TokenError,
        client_id: Option<String>,
    },
}

#[derive(Default)]
struct RefreshState {
    /// The last fetch made for an unknown `kid` (scheduled loads do not count).
    last_kid_refetch: Option<Instant>,
}

/// Why keys are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refetch {
    /// A token named a key we do not have: rate limited.
    UnknownKid,
    /// The periodic refresh, or the first load: not rate limited.
    Scheduled,
}

pub(crate) struct Issuer {
    pub http: reqwest::Client,
    pub cfg: Arc<GuardConfig>,
    base: String,
    endpoints: RwLock<Option<Arc<Endpoints>>>,
    /// One metadata fetch at a time.
    discovery: tokio::sync::Mutex<()>,
    discovery_down: FailFast,
    keys: RwLock<Arc<KeySet>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Keyed by the token's SHA-256.
    cache: Cache<[u8; 32], Arc<Introspected>>,
    /// Bounds the introspections in flight (cache misses).
    introspection_slots: Semaphore,
    introspection_down: FailFast,
    pub jwks_fetches: AtomicU64,
    pub introspections: AtomicU64,
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub(crate) async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err("response too large".into());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if buf.len() + chunk.len() > limit {
            return Err("response too large".into());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

impl Issuer {
    pub fn new(cfg: Arc<GuardConfig>, http: reqwest::Client) -> Result<Issuer, String> {
        let mut keys = KeySet::default();
        if let Some(j) = &cfg.static_jwks {
            keys = KeySet::parse(j.as_bytes(), 1)?;
            if keys.len() == 0 {
                return Err("the static JWK set holds no usable key".into());
            }
        }
        let cache = Cache::builder()
            .max_capacity(cfg.introspection_cache_capacity)
            .time_to_live(cfg.introspection_cache_ttl.max(Duration::from_millis(1)))
            .build();
        Ok(Issuer {
            http,
            base: cfg.base_url(),
            endpoints: RwLock::new(None),
            discovery: tokio::sync::Mutex::new(()),
            discovery_down: FailFast::new(cfg.fail_fast_window),
            keys: RwLock::new(Arc::new(keys)),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            cache,
            introspection_slots: Semaphore::new(cfg.max_concurrent_introspections),
            introspection_down: FailFast::new(cfg.fail_fast_window),
            jwks_fetches: AtomicU64::new(0),
            introspections: AtomicU64::new(0),
            cfg,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn rules(&self) -> ClaimRules<'_> {
        ClaimRules {
            issuer: &self.cfg.issuer,
            audience: self.cfg.audience.as_deref(),
            leeway: self.cfg.leeway.as_secs() as i64,
            max_major_version: self.cfg.max_jwt_major_version,
            now: now_unix(),
        }
    }

    pub fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_keys(&self, set: KeySet) {
        let set = Arc::new(set);
        match self.keys.write() {
            Ok(mut k) => *k = set,
            Err(p) => *p.into_inner() = set,
        }
    }

    fn rebase(&self, url: String) -> String {
        if !self.cfg.rebase_endpoints {
            return url;
        }
        match split_url(&url) {
            Some((origin, _)) => format!("{}{}", self.base, &url[origin.len()..]),
            None => url,
        }
    }

    /// The endpoints: from the metadata (read once), with the configured overrides.
    pub async fn endpoints(&self) -> Result<Arc<Endpoints>, AuthError> {
        if let Some(e) = self.endpoints.read().ok().and_then(|e| e.clone()) {
            return Ok(e);
        }
        let cfg = &self.cfg;
        let all_given = (cfg.jwks_uri.is_some() || cfg.static_jwks.is_some())
            && cfg.introspection_endpoint.is_some()
            && cfg.token_endpoint.is_some();
        // A failing Charter is not asked again within the fail-fast window.
        let down = || AuthError::Unavailable("the issuer's metadata was unavailable moments ago".into());
        if !all_given && self.discovery_down.is_open() {
            return Err(down());
        }
        let _one_at_a_time = self.discovery.lock().await;
        if let Some(e) = self.endpoints.read().ok().and_then(|e| e.clone()) {
            return Ok(e);
        }
        let mut found = Endpoints::default();
        if !all_given {
            if self.discovery_down.is_open() {
                return Err(down());
            }
            match self.fetch_metadata().await.and_then(|md| self.endpoints_of(md)) {
                Ok(f) => found = f,
                Err(e) => {
                    self.discovery_down.trip();
                    tracing::warn!(target: "charter_guard", error = %e, "cannot read the issuer's metadata");
                    return Err(AuthError::Unavailable(e));
                }
            }
        }
        if let Some(u) = &cfg.jwks_uri {
            found.jwks_uri = Some(u.clone());
        }
        if let Some(u) = &cfg.introspection_endpoint {
            found.introspection = Some(u.clone());
        }
        if let Some(u) = &cfg.token_endpoint {
            found.token = Some(u.clone());
        }
        let found = Arc::new(found);
        if let Ok(mut e) = self.endpoints.write() {
            *e = Some(found.clone());
        }
        Ok(found)
    }

    /// The endpoints the metadata names that the configuration does not set: each
    /// must be an http(s) URL (or the metadata is refused), and plain http to
    /// another machine is warned about.
    fn endpoints_of(&self, md: Metadata) -> Result<Endpoints, String> {
        let cfg = &self.cfg;
        let take = |what: &str, given: bool, named: Option<String>| -> Result<Option<String>, String> {
            let Some(u) = named.filter(|_| !given) else { return Ok(None) };
            if !is_http_url(&u) {
                return Err(format!("the issuer's metadata names a {what} that is not an http(s) URL: {u:?}"));
            }
            let u = self.rebase(u);
            warn_if_plain_http(what, &u);
            Ok(Some(u))
        };
        let jwks_given = cfg.static_jwks.is_some() || cfg.jwks_uri.is_some();
        Ok(Endpoints {
            jwks_uri: take("jwks_uri", jwks_given, md.jwks_uri)?,
            introspection: take(
                "introspection_endpoint",
                cfg.introspection_endpoint.is_some(),
                md.introspection_endpoint,
            )?,
            token: take("token_endpoint", cfg.token_endpoint.is_some(), md.token_endpoint)?,
        })
    }

    async fn fetch_metadata(&self) -> Result<Metadata, String> {
        let issuer_path = split_url(&self.cfg.issuer).map(|(_, p)| p).unwrap_or("");
        let mut urls = vec![format!("{}/.well-known/oauth-authorization-server{issuer_path}", self.base)];
        if !issuer_path.is_empty() {
            urls.push(format!("{}/.well-known/oauth-authorization-server", self.base));
        }
        let mut last = String::new();
        for url in urls {
            let resp = self.http.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                last = format!("{url}: 404");
                continue;
            }
            if !resp.status().is_success() {
                return Err(format!("{url}: HTTP {}", resp.status()));
            }
            let body = read_limited(resp, MAX_DOCUMENT).await.map_err(|e| format!("{url}: {e}"))?;
            let md: Metadata = serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))?;
            // RFC 8414 §3.3: the metadata must be the issuer's own.
            if md.issuer != self.cfg.issuer {
                return Err(format!("{url} describes issuer {:?}, not {:?}", md.issuer, self.cfg.issuer));
            }
            return Ok(md);
        }
        Err(last)
    }

    /// Fetches the JWK set again, once for all waiters. Returns the key set now in force.
    pub async fn refresh_keys(&self, why: Refetch, seen_generation: u64) -> Result<Arc<KeySet>, AuthError> {
        if self.cfg.static_jwks.is_some() {
            return Ok(self.keys());
        }
        let mut st = self.refresh.lock().await;
        let current = self.keys();
        if current.generation != seen_generation {
            // Someone refreshed while we waited.
            return Ok(current);
        }
        if why == Refetch::UnknownKid {
            if st.last_kid_refetch.is_some_and(|t| t.elapsed() < self.cfg.kid_refetch_interval) {
                return Ok(current);
            }
            st.last_kid_refetch = Some(Instant::now());
        }
        match self.fetch_keys(current.generation + 1).await {
            Ok(set) => {
                tracing::debug!(target: "charter_guard", keys = set.len(), ?why, "loaded the issuer's keys");
                self.set_keys(set);
                Ok(self.keys())
            }
            Err(e) => {
                tracing::warn!(target: "charter_guard", error = %e, ?why, "cannot fetch the issuer's keys");
                Err(AuthError::Unavailable(e))
            }
        }
    }

    async fn fetch_keys(&self, generation: u64) -> Result<KeySet, String> {
        let eps = self.endpoints().await.map_err(|e| e.to_string())?;
        let url = eps.jwks_uri.as_deref().ok_or("the issuer's metadata names no jwks_uri")?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            if resp.status() == reqwest::StatusCode::NOT_FOUND && self.cfg.jwks_uri.is_none() {
                // The keys moved: read the metadata again next time.
                if let Ok(mut e) = self.endpoints.write() {
                    *e = None;
                }
            }
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let body = read_limited(resp, MAX_DOCUMENT).await.map_err(|e| format!("{url}: {e}"))?;
        let set = KeySet::parse(&body, generation).map_err(|e| format!("{url}: {e}"))?;
        if set.len() == 0 {
            // Keep the keys in force rather than refuse every token.
            return Err(format!("{url}: the JWK set holds no usable key"));
        }
        Ok(set)
    }

    /// Verifies a JWT against the cached keys; an unknown `kid` fetches the keys
    /// again (at most once per `kid_refetch_interval`).
    pub async fn verify_jwt(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        let header = jwks::header(token).map_err(AuthError::token)?;
        let set = self.keys();
        match self.verify_in(&set, token, &header) {
            Some(r) => r,
            None => {
                let set = match self.refresh_keys(Refetch::UnknownKid, set.generation).await {
                    Ok(s) => s,
                    Err(e) if !set.loaded => return Err(e),
                    Err(_) => set,
                };
                if !set.loaded {
                    return Err(AuthError::Unavailable("the issuer's keys are not loaded".into()));
                }
                self.verify_in(&set, token, &header).unwrap_or(Err(AuthError::token(TokenError::UnknownKey)))
            }
        }
    }

    /// `None`: no key for this token in `set`.
    fn verify_in(&self, set: &KeySet, token: &str, h: &jwks::Header) -> Option<Result<Arc<Claims>, AuthError>> {
        let rules = self.rules();
        let one = |key: &VerifyKey| {
            jwks::verify_with(token, h.alg, key, &rules)
                .map(Arc::new)
                .map_err(|(error, client_id)| AuthError::Token { error, client_id })
        };
        match &h.kid {
            Some(kid) => set.find(kid).map(|k| one(k)),
            None => {
                // No kid: try the keys of the header's algorithm, as Open edX's verifiers do.
                let mut last = None;
                for k in set.with_alg(h.alg) {
                    match one(k) {
                        Ok(c) => return Some(Ok(c)),
                        Err(e) => last = Some(Err(e)),
                    }
                }
                last
            }
        }
    }

    /// Resolves an opaque token at the introspection endpoint, through the cache.
    /// Only tokens of the shape of Charter's are sent (others are malformed), and
    /// only a few introspections run at once.
    pub async fn introspect(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        if !is_opaque_token(token) {
            return Err(AuthError::token(TokenError::Malformed));
        }
        let (Some(id), Some(secret)) = (&self.cfg.client_id, &self.cfg.client_secret) else {
            return Err(AuthError::token(TokenError::OpaqueNotAccepted));
        };
        let answer = self
            .cache
            .try_get_with(cache_key(token), self.fetch_introspection(token, id, secret))
            .await
            .map_err(|e| (*e).clone())?;
        match &*answer {
            Introspected::Inactive => Err(AuthError::token(TokenError::Inactive)),
            Introspected::Refused { error, client_id } => {
                Err(AuthError::Token { error: *error, client_id: client_id.clone() })
            }
            Introspected::Active(c) => {
                let r = self.rules();
                let err = |error| Err(AuthError::Token { error, client_id: c.client_id.clone() });
                if r.now > c.exp.saturating_add(r.leeway) {
                    return err(TokenError::Expired);
                }
                if c.iss != r.issuer {
                    return err(TokenError::WrongIssuer);
                }
                // As for JWTs: with an audience configured, the answer must name it.
                if let Some(aud) = r.audience {
                    if !c.aud.iter().any(|a| a == aud) {
                        return err(TokenError::WrongAudience);
                    }
                }
                Ok(c.clone())
            }
        }
    }

    async fn fetch_introspection(&self, token: &str, id: &str, secret: &str) -> Result<Arc<Introspected>, AuthError> {
        let down = || AuthError::Unavailable("introspection failed moments ago".into());
        if self.introspection_down.is_open() {
            return Err(down());
        }
        // A flood of distinct tokens must neither flood Charter nor queue without end.
        let Ok(Ok(_slot)) = tokio::time::timeout(INTROSPECTION_SLOT_WAIT, self.introspection_slots.acquire()).await
        else {
            tracing::debug!(target: "charter_guard", "too many introspections in flight");
            return Err(AuthError::Unavailable("too many introspections in flight".into()));
        };
        if self.introspection_down.is_open() {
            return Err(down());
        }
        let eps = self.endpoints().await?;
        let url = eps
            .introspection
            .as_deref()
            .ok_or_else(|| AuthError::Unavailable("the issuer names no introspection endpoint".into()))?;
        self.introspections.fetch_add(1, Ordering::Relaxed);
        let unavailable = |e: String| {
            self.introspection_down.trip();
            tracing::warn!(target: "charter_guard", error = %e, "introspection failed");
            AuthError::Unavailable(e)
        };
        let resp = self
            .http
            .post(url)
            .basic_auth(id, Some(secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| unavailable(format!("{url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("{url}: HTTP {}", resp.status())));
        }
        let body = read_limited(resp, MAX_DOCUMENT).await.map_err(|e| unavailable(format!("{url}: {e}")))?;
        let i: IntrospectionClaims =
            serde_json::from_slice(&body).map_err(|e| unavailable(format!("{url}: {e}")))?;
        if !i.active {
            return Ok(Arc::new(Introspected::Inactive));
        }
        // RFC 7662 §2.2: Charter answers `Bearer`; a refresh token (or anything else) is not accepted.
        let access = |t: &str| t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("access_token");
        if i.token_type.as_deref().is_some_and(|t| !access(t)) {
            let refused = Introspected::Refused { error: TokenError::NotAccessToken, client_id: i.client_id };
            return Ok(Arc::new(refused));
        }
        if i.nbf.is_some_and(|nbf| nbf > now_unix() + self.cfg.leeway.as_secs() as i64) {
            return Ok(Arc::new(Introspected::Inactive));
        }
        Ok(Arc::new(Introspected::Active(Arc::new(Claims {
            client_id: i.client_id,
            scopes: split_scope(i.scope.as_deref()),
            filters: i.filters,
            is_restricted: i.is_restricted,
            preferred_username: i.username,
            sub: i.sub,
            iss: i.iss.unwrap_or_else(|| self.cfg.issuer.clone()),
            aud: i.aud,
            exp: i.exp.unwrap_or(i64::MAX),
            iat: i.iat,
            jti: i.jti,
            grant_type: None,
            email: None,
            user_id: None,
            version: None,
            source: TokenSource::Introspection,
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_shaped_like_charters_are_introspected() {
        let id = "0123456789abcdef0123456789abcdef";
        let secret = "Aa0-_".repeat(8) + "xyz";
        assert_eq!(secret.len(), 43);
        assert!(is_opaque_token(&format!("{id}{secret}")));
        assert!(!is_opaque_token(&format!("{id}{secret}x")));
        assert!(!is_opaque_token(&format!("{id}{}", &secret[1..])));
        assert!(!is_opaque_token(&format!("{}{secret}", id.to_uppercase())));
        assert!(!is_opaque_token(&format!("{id}{}=", &secret[1..])));
        assert!(!is_opaque_token(&format!("{id}{}.", &secret[1..])));
        assert!(!is_opaque_token(&"x".repeat(75)));
        assert!(!is_opaque_token(""));
        // The cache holds digests, not tokens.
        let k = cache_key("abc");
        assert_eq!(k[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[tokio::test]
    async fn the_fail_fast_window_closes() {
        let f = FailFast::new(Duration::from_millis(50));
        assert!(!f.is_open());
        f.trip();
        assert!(f.is_open());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(!f.is_open());
        let never = FailFast::new(Duration::ZERO);
        never.trip();
        assert!(!never.is_open());
    }
}
