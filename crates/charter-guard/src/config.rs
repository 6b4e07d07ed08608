//! How a guard is configured.

use crate::Mode;
use std::collections::HashMap;
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
    /// Distinct (aggregated) decisions held before the next batch. Beyond this,
    /// decisions are dropped and counted.
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
            max_pending: 5000,
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
    /// At most one JWKS fetch for an unknown `kid` per this interval.
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
    /// Opaque tokens: how long an introspection answer is reused, and how many are kept.
    pub introspection_cache_ttl: Duration,
    pub introspection_cache_capacity: u64,
    /// Refuse JWTs whose `version` claim has a higher major number (Open edX: 1).
    pub max_jwt_major_version: u32,
    /// The realm in `WWW-Authenticate`.
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

impl GuardConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !(self.issuer.starts_with("https://") || self.issuer.starts_with("http://")) || split_url(&self.issuer).is_none()
        {
            return bad("the issuer must be an http(s) URL");
        }
        if let Some(u) = &self.charter_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) || split_url(u).is_none() {
                return bad("charter_url must be an http(s) URL");
            }
        }
        if self.leeway > Duration::from_secs(300) {
            return bad("the leeway must be at most 300 s");
        }
        if self.client_id.is_some() != self.client_secret.is_some() {
            return bad("give both the client id and the client secret, or neither");
        }
        if self.report.channel_capacity == 0 || self.report.max_pending == 0 {
            return bad("the report channel and pending sizes must be at least 1");
        }
        if self.report.flush_interval.is_zero() || self.jwks_refresh_interval.is_zero() {
            return bad("the flush and refresh intervals must be positive");
        }
        if self.realm.contains(['"', '\\']) {
            return bad("the realm must not contain quotes or backslashes");
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
}
