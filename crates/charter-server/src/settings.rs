//! Server settings, filled by the binary from file, environment and flags.

use charter_core::config::TokenSettings;
use charter_core::keys::SigningAlgorithm;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// The URL clients reach this server at, without a trailing slash (for metadata).
    pub public_url: String,
    /// Request bodies larger than this are refused with 413 before being read whole.
    pub max_body_bytes: usize,
    /// Algorithm of keys made at first start and by rotation.
    pub signing_alg: SigningAlgorithm,
    /// Seconds between publishing a new key and signing with it.
    pub key_rotation_delay: i64,
    /// Requests queued for the journal before callers wait.
    pub journal_queue: usize,
    /// Accept the PKCE method `plain` (RFC 7636 §4.2 allows refusing it; off by default).
    pub allow_plain_pkce: bool,
    pub tokens: TokenSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8000".into(),
            max_body_bytes: 64 * 1024,
            signing_alg: SigningAlgorithm::RS256,
            key_rotation_delay: 3600,
            journal_queue: 8192,
            allow_plain_pkce: false,
            tokens: TokenSettings::default(),
        }
    }
}

impl ServerSettings {
    /// The longest any token may live: how long a replaced key stays published.
    pub fn max_token_ttl(&self) -> i64 {
        self.tokens.access_token_ttl.max(0)
    }
}
