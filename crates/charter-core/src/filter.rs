//! Open edX filters: `type:value` strings that narrow what a token's scopes reach.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("filter '{0}' is not of the form type:value")]
    NoColon(String),
    #[error("filter '{0}' has a second ':'; Open edX resource servers split on every colon and would fail")]
    SecondColon(String),
    #[error("filter type '{0}' is unknown; known types are content_org, user, tpa_provider")]
    UnknownType(String),
    #[error("filter '{0}': the user filter only takes the value 'me'")]
    UserNotMe(String),
    #[error("filter '{0}': the value must be 1 to 32 printable characters without spaces or commas")]
    BadValue(String),
}

/// A valid filter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Filter {
    /// `content_org:<org>`: only content of this organisation.
    ContentOrg(String),
    /// `user:me`: only the token's own user.
    UserMe,
    /// `tpa_provider:<id>`: only users linked to this third-party auth provider.
    TpaProvider(String),
}

impl Filter {
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        let shown = crate::scope::printable(s);
        let (kind, value) = s.split_once(':').ok_or_else(|| FilterError::NoColon(shown.clone()))?;
        if value.contains(':') {
            return Err(FilterError::SecondColon(shown));
        }
        let value_ok = !value.is_empty()
            && value.len() <= 32
            && value.chars().all(|c| c.is_ascii_graphic() && c != ',');
        match kind {
            "user" if value == "me" => Ok(Filter::UserMe),
            "user" => Err(FilterError::UserNotMe(shown)),
            "content_org" if value_ok => Ok(Filter::ContentOrg(value.to_owned())),
            "tpa_provider" if value_ok => Ok(Filter::TpaProvider(value.to_owned())),
            "content_org" | "tpa_provider" => Err(FilterError::BadValue(shown)),
            other => Err(FilterError::UnknownType(crate::scope::printable(other))),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::ContentOrg(o) => write!(f, "content_org:{o}"),
            Filter::UserMe => f.write_str("user:me"),
            Filter::TpaProvider(p) => write!(f, "tpa_provider:{p}"),
        }
    }
}

impl Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Filter::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses a list of filters separated by spaces or commas.
pub fn parse_filters(s: &str) -> Result<Vec<Filter>, FilterError> {
    let mut out: Vec<Filter> = s
        .split([' ', ','])
        .filter(|p| !p.is_empty())
        .map(Filter::parse)
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_filters() {
        assert_eq!(Filter::parse("content_org:MITx"), Ok(Filter::ContentOrg("MITx".into())));
        assert_eq!(Filter::parse("user:me"), Ok(Filter::UserMe));
        assert_eq!(Filter::parse("tpa_provider:saml-ubc"), Ok(Filter::TpaProvider("saml-ubc".into())));
        assert_eq!(Filter::parse("content_org:MITx").map(|f| f.to_string()), Ok("content_org:MITx".into()));
    }

    #[test]
    fn refuses_second_colon_and_unknown() {
        assert!(matches!(Filter::parse("content_org:a:b"), Err(FilterError::SecondColon(_))));
        assert!(matches!(Filter::parse("org:MITx"), Err(FilterError::UnknownType(_))));
        assert!(matches!(Filter::parse("user:bob"), Err(FilterError::UserNotMe(_))));
        assert!(matches!(Filter::parse("content_org:"), Err(FilterError::BadValue(_))));
        assert!(matches!(Filter::parse("MITx"), Err(FilterError::NoColon(_))));
    }
}
