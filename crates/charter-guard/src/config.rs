//! How a guard is configured.

use crate::Mode;
use charter_wire::MAX_DECISIONS_PER_BATCH;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Which tokens the scope and filter requirements bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// edx-drf-extensions' semantics: scopes and filters bind only tokens of
    /// restricted applications (`is_restricted: true`); an unrestricted token acts
    /// as its user and passes the scope and filter checks.
    #[default]
    OpenEdx,
    /// OEP-4's least privilege: every token must hold the route's scopes.
    /// Restricted tokens are held to the filters as under [`Policy::OpenEdx`];
    /// an unrestricted token is held to the filters it carries (a `content_org`
    /// filter, if it has any, must match; a `user` filter, if it has one, must match).
    Strict,
}

/// Where decisions are sent, and how much the reporter may hold.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// Send decisions to Charter. Without client credentials nothing is sent
    /// (decisions are still logged).
    pub enabled: bool,
    /// The reporting service's name in batches (default: the client id).
    pub service_name: Option<String>,
    /// Where batches go (default: `{charter_url}/api/v1/observations`).
    pub url: Option<String>,
    /// Decisions waiting between requests and the aggregator. When full,
    /// decisions are dropped and counted; a request never waits.
    pub channel_capacity: usize,
    /// Distinct (aggregated) decisions held before the next batch: reaching it
    /// sends a batch at once. At most 1000 (Charter's limit per batch). Decisions
    /// beyond it (while the sender is busy) are dropped and counted.
    pub max_pending: usize,
    /// How often a batch is sent.
    pub flush_interval: Duration,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            service_name: None,
            url: None,
            channel_capacity: 4096,
            max_pending: MAX_DECISIONS_PER_BATCH,
            flush_interval: Duration::from_secs(10),
        }
    }
}

/// A guard's configuration. Start from [`GuardConfig::new`] with the expected issuer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GuardConfig {
    /// The `iss` tokens must carry, and the issuer whose metadata is read.
    pub issuer: String,
    /// The base URL this service reaches Charter at (default: the issuer's
    /// origin). Metadata is read from
    /// `{charter_url}/.well-known/oauth-authorization-server{issuer path}`.
    pub charter_url: Option<String>,
    /// The `aud` tokens must carry (one of). `None`: the audience is not checked.
    pub audience: Option<String>,
    /// This service's own client credentials: for introspection and reporting.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Default mode of every route.
    pub mode: Mode,
    /// Modes for particular applications (by client id), over the route's mode.
    pub client_modes: HashMap<String, Mode>,
    pub policy: Policy,
    /// Allowed clock skew for `exp` and `nbf`. Default 5 s; at most 300 s.
    pub leeway: Duration,
    /// At most one JWKS fetch for an unknown `kid` per this interval (at least 1 s).
    pub kid_refetch_interval: Duration,
    /// The JWKS is fetched again in the background this often.
    pub jwks_refresh_interval: Duration,
    /// A static JWK set (JSON) instead of fetching the issuer's. Open edX's
    /// `JWT_PUBLIC_SIGNING_JWK_SET` value works here.
    pub static_jwks: Option<String>,
    /// Overrides of the endpoints found in the metadata.
    pub jwks_uri: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    /// Keep the paths of the endpoints the metadata names but reach them at
    /// `charter_url`'s scheme, host and port (when the metadata's public URLs are
    /// not reachable from this service, e.g. inside a cluster).
    pub rebase_endpoints: bool,
    /// Opaque tokens: how long an introspection answer is reused (at most 300 s), and how many are kept.
    pub introspection_cache_ttl: Duration,
    pub introspection_cache_capacity: u64,
    /// Introspection requests in flight at once (cache misses). A request that
    /// finds none free within a short wait is answered 503 rather than queued.
    pub max_concurrent_introspections: usize,
    /// After Charter failed to answer (metadata or introspection), it is not asked
    /// again for this long: requests needing it are answered 503 at once. At most 60 s.
    pub fail_fast_window: Duration,
    /// Refuse JWTs whose `version` claim has a higher major number (Open edX: 1).
    pub max_jwt_major_version: u32,
    /// The realm in `WWW-Authenticate`: printable ASCII (spaces allowed), no `"` or `\`.
    pub realm: String,
    /// Timeout of every request to Charter.
    pub http_timeout: Duration,
    pub report: ReportConfig,
}

impl GuardConfig {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            charter_url: None,
            audience: None,
            client_id: None,
            client_secret: None,
            mode: Mode::Enforce,
            client_modes: HashMap::new(),
            policy: Policy::OpenEdx,
            leeway: Duration::from_secs(5),
            kid_refetch_interval: Duration::from_secs(10),
            jwks_refresh_interval: Duration::from_secs(300),
            static_jwks: None,
            jwks_uri: None,
            introspection_endpoint: None,
            token_endpoint: None,
            rebase_endpoints: false,
            introspection_cache_ttl: Duration::from_secs(10),
            introspection_cache_capacity: 10_000,
            max_concurrent_introspections: 8,
            fail_fast_window: Duration::from_secs(5),
            max_jwt_major_version: 1,
            realm: "charter".into(),
            http_timeout: Duration::from_secs(5),
            report: ReportConfig::default(),
        }
    }

    pub fn charter_url(mut self, url: impl Into<String>) -> Self {
        self.charter_url = Some(url.into());
        self
    }

    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    pub fn client_credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(secret.into());
        self
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub fn client_mode(mut self, client_id: impl Into<String>, mode: Mode) -> Self {
        self.client_modes.insert(client_id.into(), mode);
        self
    }

    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    pub fn kid_refetch_interval(mut self, d: Duration) -> Self {
        self.kid_refetch_interval = d;
        self
    }

    pub fn jwks_refresh_interval(mut self, d: Duration) -> Self {
        self.jwks_refresh_interval = d;
        self
    }

    pub fn static_jwks(mut self, jwks_json: impl Into<String>) -> Self {
        self.static_jwks = Some(jwks_json.into());
        self
    }

    pub fn rebase_endpoints(mut self, yes: bool) -> Self {
        self.rebase_endpoints = yes;
        self
    }

    pub fn introspection_cache(mut self, ttl: Duration, capacity: u64) -> Self {
        self.introspection_cache_ttl = ttl;
        self.introspection_cache_capacity = capacity;
        self
    }

    pub fn max_concurrent_introspections(mut self, n: usize) -> Self {
        self.max_concurrent_introspections = n;
        self
    }

    pub fn fail_fast_window(mut self, d: Duration) -> Self {
        self.fail_fast_window = d;
        self
    }

    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    pub fn report(mut self, report: ReportConfig) -> Self {
        self.report = report;
        self
    }

    /// Turns reporting to Charter off (decisions are still logged).
    pub fn no_reporting(mut self) -> Self {
        self.report.enabled = false;
        self
    }
}

/// A configuration the guard cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("the guard needs a Tokio runtime: start it from async code")]
    NoRuntime,
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// `scheme://host[:port]` of a URL (no trailing slash), and its path (no trailing slash).
pub(crate) fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest_at = url.find("://")? + 3;
    let rest = &url[rest_at..];
    let path_at = rest.find(['/', '?', '#']).map(|i| rest_at + i).unwrap_or(url.len());
    let origin = &url[..path_at];
    let path = url[path_at..].split(['?', '#']).next().unwrap_or("").trim_end_matches('/');
    (rest_at < path_at).then_some((origin, path))
}

/// Whether `url` is an `http://` or `https://` URL with a host.
pub(crate) fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && split_url(url).is_some_and(|(o, _)| !host_of(o).is_empty())
}

/// The host of `scheme://[userinfo@]host[:port]` (an IPv6 address without its brackets).
fn host_of(origin: &str) -> &str {
    let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or(origin);
    let host_port = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host_port.split(':').next().unwrap_or("")
}

/// Whether `url` is plain `http://` to a host other than this machine.
pub(crate) fn plain_http_remote(url: &str) -> bool {
    let Some((origin, _)) = split_url(url).filter(|_| url.starts_with("http://")) else { return false };
    let host = host_of(origin);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    !loopback
}

/// Logs a warning when `url` sends tokens or credentials in clear to another machine.
pub(crate) fn warn_if_plain_http(what: &str, url: &str) {
    if plain_http_remote(url) {
        tracing::warn!(
            target: "charter_guard",
            what,
            url,
            "plain http to a host other than this machine: tokens and credentials cross the network unencrypted"
        );
    }
}

impl GuardConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !is_http_url(&self.issuer) {
            return bad("the issuer must be an http(s) URL");
        }
        if self.charter_url.as_deref().is_some_and(|u| !is_http_url(u)) {
            return bad("charter_url must be an http(s) URL");
        }
        let endpoints = [&self.jwks_uri, &self.introspection_endpoint, &self.token_endpoint, &self.report.url];
        if endpoints.iter().any(|u| u.as_deref().is_some_and(|u| !is_http_url(u))) {
            return bad("every endpoint must be an http(s) URL");
        }
        if self.leeway > Duration::from_secs(300) {
            return bad("the leeway must be at most 300 s");
        }
        if self.kid_refetch_interval < Duration::from_secs(1) {
            return bad("kid_refetch_interval must be at least 1 s");
        }
        if self.introspection_cache_ttl > Duration::from_secs(300) {
            return bad("the introspection cache TTL must be at most 300 s");
        }
        if self.max_concurrent_introspections == 0 {
            return bad("max_concurrent_introspections must be at least 1");
        }
        if self.fail_fast_window > Duration::from_secs(60) {
            return bad("fail_fast_window must be at most 60 s");
        }
        if self.client_id.is_some() != self.client_secret.is_some() {
            return bad("give both the client id and the client secret, or neither");
        }
        if self.report.channel_capacity == 0 || self.report.max_pending == 0 {
            return bad("the report channel and pending sizes must be at least 1");
        }
        if self.report.max_pending > MAX_DECISIONS_PER_BATCH {
            return bad("report.max_pending must be at most 1000 (Charter's limit per batch)");
        }
        if self.report.flush_interval.is_zero() || self.jwks_refresh_interval.is_zero() {
            return bad("the flush and refresh intervals must be positive");
        }
        // A quoted-string in WWW-Authenticate: printable ASCII, no quote, no backslash.
        if !self.realm.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
            return bad("the realm must be printable ASCII without quotes or backslashes");
        }
        #[cfg(not(feature = "rustls"))]
        {
            let urls = [Some(&self.issuer), self.charter_url.as_ref()];
            let https_needed = match &self.charter_url {
                Some(u) => u.starts_with("https://"),
                None => urls.iter().flatten().any(|u| u.starts_with("https://")),
            } || [&self.jwks_uri, &self.introspection_endpoint, &self.token_endpoint, &self.report.url]
                .iter()
                .any(|u| u.as_deref().is_some_and(|u| u.starts_with("https://")));
            if https_needed {
                return bad("reaching Charter over https needs charter-guard's `rustls` feature");
            }
        }
        Ok(())
    }

    /// Warns about every configured URL that is plain http to another machine.
    pub(crate) fn warn_plain_http(&self) {
        warn_if_plain_http("issuer", &self.issuer);
        if let Some(u) = &self.charter_url {
            warn_if_plain_http("charter_url", u);
        }
        let endpoints = [
            ("jwks_uri", &self.jwks_uri),
            ("introspection_endpoint", &self.introspection_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("report.url", &self.report.url),
        ];
        for (what, u) in endpoints {
            if let Some(u) = u {
                warn_if_plain_http(what, u);
            }
        }
    }

    /// The base URL Charter is reached at.
    pub(crate) fn base_url(&self) -> String {
        match &self.charter_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => split_url(&self.issuer).map(|(o, _)| o.to_owned()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(split_url("http://charter.test/oauth2"), Some(("http://charter.test", "/oauth2")));
        assert_eq!(split_url("http://127.0.0.1:80/"), Some(("http://127.0.0.1:80", "")));
        assert_eq!(split_url("https://a.b"), Some(("https://a.b", "")));
        assert_eq!(split_url("https://"), None);
        let c = GuardConfig::new("http://charter.test/oauth2");
        assert_eq!(c.base_url(), "http://charter.test");
        assert!(c.validate().is_ok());
        assert!(GuardConfig::new("charter").validate().is_err());
        assert!(GuardConfig::new("http://a/").leeway(Duration::from_secs(301)).validate().is_err());
    }

    #[test]
    fn settings_are_checked() {
        let ok = || GuardConfig::new("http://charter.test/oauth2");
        assert!(ok().kid_refetch_interval(Duration::from_millis(999)).validate().is_err());
        assert!(ok().kid_refetch_interval(Duration::from_secs(1)).validate().is_ok());
        assert!(ok().introspection_cache(Duration::from_secs(301), 10).validate().is_err());
        assert!(ok().introspection_cache(Duration::from_secs(300), 10).validate().is_ok());
        assert!(ok().max_concurrent_introspections(0).validate().is_err());
        assert!(ok().fail_fast_window(Duration::from_secs(61)).validate().is_err());
        assert!(ok().realm("Course catalogue").validate().is_ok());
        for realm in ["a\"b", "a\\b", "caf\u{e9}", "a\nb", "a\tb", "a\u{7f}"] {
            assert!(ok().realm(realm).validate().is_err(), "{realm:?}");
        }
        let report = |max_pending| ReportConfig { max_pending, ..Default::default() };
        assert!(ok().report(report(1000)).validate().is_ok());
        assert!(ok().report(report(1001)).validate().is_err());
        let mut c = ok();
        c.jwks_uri = Some("file:///etc/jwks.json".into());
        assert!(c.validate().is_err());
    }

    #[test]
    fn plain_http_to_another_host_is_spotted() {
        for url in [
            "http://charter.test/oauth2",
            "http://10.0.0.1:8000",
            "http://user@example.org/",
            "http://[2001:db8::1]:80/",
        ] {
            assert!(plain_http_remote(url), "{url}");
        }
        for url in [
            "https://charter.test/oauth2",
            "http://localhost:8000/oauth2",
            "http://LOCALHOST",
            "http://127.0.0.1:8000",
            "http://127.1.2.3/",
            "http://[::1]:8000/x",
            "http://u:p@127.0.0.1/",
        ] {
            assert!(!plain_http_remote(url), "{url}");
        }
        assert!(is_http_url("http://a"));
        assert!(!is_http_url("http://:80/"));
        assert!(!is_http_url("ftp://a/"));
        assert!(!is_http_url("javascript:alert(1)"));
    }
}
