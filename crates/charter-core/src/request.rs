//! Parsing of `application/x-www-form-urlencoded` protocol requests.
//!
//! RFC 6749 §3.1: parameters sent without a value are treated as omitted, and
//! parameters must not be included more than once (a repeat is `invalid_request`).

use crate::error::OAuthError;
use std::collections::BTreeMap;

/// The longest parameter value accepted (a JWT access token fits comfortably).
pub const MAX_VALUE_LEN: usize = 16 * 1024;
/// The most distinct parameters accepted in one request.
pub const MAX_PARAMS: usize = 64;

/// Form parameters, each present at most once, empty values dropped.
/// `Debug` shows the names only: values may be secrets or tokens.
#[derive(Default, Clone)]
pub struct FormParams(BTreeMap<String, String>);

impl std::fmt::Debug for FormParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl FormParams {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if k.is_empty() {
                continue;
            }
            if map.contains_key(k.as_ref()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is repeated (RFC 6749 section 3.2)",
                    crate::scope::printable(&k)
                )));
            }
            if v.len() > MAX_VALUE_LEN {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is too long",
                    crate::scope::printable(&k)
                )));
            }
            if map.len() >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if v.is_empty() {
                // Present but empty counts as omitted, but still counts for repetition.
                map.insert(k.into_owned(), String::new());
                continue;
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        Ok(Self(map))
    }

    /// The value of `name`, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Every parameter with a value, in name order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of a parameter the request cannot go without.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing required parameter '{name}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OAuthErrorCode;

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let e = FormParams::parse(b"grant_type=client_credentials&scope=a&scope=b").err();
        assert_eq!(e.map(|e| e.code), Some(OAuthErrorCode::InvalidRequest));
        let e = FormParams::parse(b"scope=&scope=x").err();
        assert_eq!(e.map(|e| e.code), Some(OAuthErrorCode::InvalidRequest));
    }

    #[test]
    fn empty_is_absent_and_decoding_works() {
        let p = FormParams::parse(b"a=&b=x+y%21").unwrap_or_default();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("x y!"));
        assert!(p.require("a").is_err());
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        let p = FormParams::parse(b"a=%FF%FE&b=\xff").unwrap_or_default();
        assert!(p.get("a").is_some());
    }
}
