//! Scope names: `resource:action` (OEP-4) or a registered legacy name.
//!
//! A [`ScopeName`] that exists is well formed. Whether it is *known* (in the
//! catalogue) is decided by [`crate::scope_policy`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The Open edX scopes that have no colon. They are the only colon-less names accepted.
pub const LEGACY_SCOPES: &[&str] = &["read", "write", "email", "profile", "user_id", "openid"];

/// The standard actions. Others are accepted only when declared on the resource.
pub const STANDARD_ACTIONS: &[&str] = &["read", "write"];

const MAX_PART: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeNameError {
    #[error("scope name is empty")]
    Empty,
    #[error("scope name is longer than 65 characters")]
    TooLong,
    #[error("scope '{0}' has no ':'; only the legacy scopes (read, write, email, profile, user_id, openid) may omit the action")]
    NotResourceAction(String),
    #[error("scope '{0}' has more than one ':'; the form is resource:action")]
    TooManyColons(String),
    #[error("scope '{0}': resource and action must each be 1 to 32 characters of a-z, 0-9 and '_', starting with a letter")]
    BadCharacters(String),
}

/// A syntactically valid scope name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ScopeName(String);

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PART
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl ScopeName {
    pub fn parse(s: &str) -> Result<Self, ScopeNameError> {
        if s.is_empty() {
            return Err(ScopeNameError::Empty);
        }
        if s.len() > 2 * MAX_PART + 1 {
            return Err(ScopeNameError::TooLong);
        }
        match s.split_once(':') {
            None => {
                if LEGACY_SCOPES.contains(&s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(ScopeNameError::NotResourceAction(printable(s)))
                }
            }
            Some((resource, action)) => {
                if action.contains(':') {
                    return Err(ScopeNameError::TooManyColons(printable(s)));
                }
                if valid_part(resource) && valid_part(action) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(ScopeNameError::BadCharacters(printable(s)))
                }
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_legacy(&self) -> bool {
        !self.0.contains(':')
    }

    /// `("catalog", "read")` for `catalog:read`; `None` for a legacy scope.
    pub fn parts(&self) -> Option<(&str, &str)> {
        self.0.split_once(':')
    }
}

/// A value echoed in an error message: bounded and stripped of control characters.
pub(crate) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScopeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopeName::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An ordered set of scope names, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(BTreeSet<ScopeName>);

impl ScopeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the RFC 6749 §3.3 form: names separated by single spaces.
    pub fn parse_space_separated(s: &str) -> Result<Self, ScopeNameError> {
        s.split(' ').filter(|p| !p.is_empty()).map(ScopeName::parse).collect()
    }

    pub fn contains(&self, s: &ScopeName) -> bool {
        self.0.contains(s)
    }
    pub fn contains_str(&self, s: &str) -> bool {
        self.0.iter().any(|n| n.as_str() == s)
    }
    pub fn insert(&mut self, s: ScopeName) {
        self.0.insert(s);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &ScopeName> {
        self.0.iter()
    }
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.union(&other.0).cloned().collect())
    }
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.intersection(&other.0).cloned().collect())
    }
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.difference(&other.0).cloned().collect())
    }
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().map(|s| s.0.clone()).collect()
    }
    /// Space-joined, the RFC 6749 `scope` form.
    pub fn to_space_separated(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(s.as_str());
        }
        out
    }
}

impl FromIterator<ScopeName> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = ScopeName>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_space_separated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_resource_action_and_legacy() {
        assert!(ScopeName::parse("catalog:read").is_ok());
        assert!(ScopeName::parse("grades:read").is_ok());
        assert!(ScopeName::parse("shopping_cart:write").is_ok());
        assert!(ScopeName::parse("profile").is_ok());
        assert!(ScopeName::parse("user_id").is_ok());
        assert!(ScopeName::parse("read").unwrap_or_else(|_| unreachable!()).is_legacy());
    }

    #[test]
    fn refuses_bad_names_with_reason() {
        assert_eq!(ScopeName::parse(""), Err(ScopeNameError::Empty));
        assert!(matches!(ScopeName::parse("catalog"), Err(ScopeNameError::NotResourceAction(_))));
        assert!(matches!(ScopeName::parse("a:b:c"), Err(ScopeNameError::TooManyColons(_))));
        assert!(matches!(ScopeName::parse("Catalog:read"), Err(ScopeNameError::BadCharacters(_))));
        assert!(matches!(ScopeName::parse("catalog:"), Err(ScopeNameError::BadCharacters(_))));
        assert!(matches!(ScopeName::parse(":read"), Err(ScopeNameError::BadCharacters(_))));
        assert!(matches!(ScopeName::parse("cat-alog:read"), Err(ScopeNameError::BadCharacters(_))));
        assert!(matches!(ScopeName::parse("1cat:read"), Err(ScopeNameError::BadCharacters(_))));
        let msg = ScopeName::parse("catalog").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("resource:action") || msg.contains("legacy"), "{msg}");
    }

    #[test]
    fn set_parse_and_join() {
        let s = ScopeSet::parse_space_separated("write catalog:read  read").unwrap_or_default();
        assert_eq!(s.to_space_separated(), "catalog:read read write");
        assert!(ScopeSet::parse_space_separated("ok:read bad").is_err());
    }
}
