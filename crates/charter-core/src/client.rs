//! Applications (OAuth clients), their owners and their credentials, as the engine sees them.

use crate::filter::Filter;
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A client identifier: 1 to 100 printable ASCII characters (the Open edX column is 100 wide).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 100 {
            return Err("client_id must be 1 to 100 characters".into());
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("client_id must be printable ASCII without spaces".into());
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for ClientId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ClientId::parse(&s)
    }
}
impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}
impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!(
                        concat!("'{}' is not a valid ", stringify!($name), "; expected one of: {}"),
                        crate::scope::printable(s),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// RFC 6749 §2.1 client types.
    ClientType { Confidential => "confidential", Public => "public" }
);

string_enum!(
    /// Grant types, by their RFC names. Open edX's hyphenated names are accepted too.
    GrantType {
        ClientCredentials => "client_credentials" | "client-credentials",
        AuthorizationCode => "authorization_code" | "authorization-code",
        RefreshToken => "refresh_token" | "refresh-token",
        Password => "password",
    }
);

impl GrantType {
    /// The name Open edX stores and puts in the JWT `grant_type` claim.
    pub fn openedx_name(self) -> &'static str {
        match self {
            GrantType::ClientCredentials => "client-credentials",
            GrantType::AuthorizationCode => "authorization-code",
            GrantType::RefreshToken => "refresh-token",
            GrantType::Password => "password",
        }
    }
}

string_enum!(
    /// How an application's access tokens are issued when the request does not say.
    TokenFormat { Jwt => "jwt", Opaque => "opaque" }
);

string_enum!(
    /// Lifecycle of an application or account.
    Status { Active => "active", Suspended => "suspended", Revoked => "revoked" }
);

string_enum!(
    /// What kind of account owns applications or delegates access.
    AccountKind { Service => "service", User => "user" }
);

/// An absolute `https` URI (or `http` on a loopback host), without a fragment (RFC 6749 §3.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(s: &str) -> Result<Self, String> {
        let shown = crate::scope::printable(s);
        if s.len() > 2000 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("redirect URI '{shown}' is too long or contains spaces"));
        }
        if s.contains('#') {
            return Err(format!("redirect URI '{shown}' must not contain a fragment"));
        }
        let rest = if let Some(r) = s.strip_prefix("https://") {
            r
        } else if let Some(r) = s.strip_prefix("http://") {
            let host = r.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
            if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
                return Err(format!("redirect URI '{shown}' must use https (http only on localhost)"));
            }
            r
        } else if let Some((scheme, r)) = s.split_once(":/") {
            // Private-use schemes of native apps (RFC 8252 §7.1), e.g. com.example.app:/callback
            if !scheme.contains('.') || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)) {
                return Err(format!("redirect URI '{shown}' must be https, loopback http, or a reverse-domain private scheme"));
            }
            r
        } else {
            return Err(format!("redirect URI '{shown}' is not an absolute URI"));
        };
        if rest.is_empty() {
            return Err(format!("redirect URI '{shown}' has no host"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for RedirectUri {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        RedirectUri::parse(&s)
    }
}
impl From<RedirectUri> for String {
    fn from(r: RedirectUri) -> String {
        r.0
    }
}

/// The owner of applications, or a user delegating access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Integer id, as Open edX numbers its users (the `user_id` claim).
    pub id: i64,
    pub username: String,
    pub kind: AccountKind,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub status: Status,
    /// 32 hex characters: the stable anonymous id used as the JWT `sub`.
    pub anonymous_id: String,
    pub created_at: UnixTime,
}

/// An application, as the engine needs it to decide a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: String,
    pub client_id: ClientId,
    pub name: String,
    pub owner_id: i64,
    pub client_type: ClientType,
    /// Allowed grants; the first is the application's primary grant (Open edX has one per application).
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<RedirectUri>,
    pub allowed_scopes: ScopeSet,
    pub filters: Vec<Filter>,
    /// Open edX "restricted application": a third party whose tokens scopes and filters bind.
    pub restricted: bool,
    pub token_format: TokenFormat,
    pub skip_authorization: bool,
    pub status: Status,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl Application {
    pub fn primary_grant(&self) -> GrantType {
        self.grant_types.first().copied().unwrap_or(GrantType::ClientCredentials)
    }
    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }
}

/// A stored client secret: only its keyed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret {
    pub id: String,
    pub digest: [u8; 32],
    pub label: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl ClientSecret {
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// Everything needed to authenticate a client and decide its request, loaded in one read.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub application: Application,
    pub owner: Account,
    pub secrets: Vec<ClientSecret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_type_accepts_openedx_names() {
        assert_eq!("client-credentials".parse::<GrantType>(), Ok(GrantType::ClientCredentials));
        assert_eq!("authorization_code".parse::<GrantType>(), Ok(GrantType::AuthorizationCode));
        assert!("implicit".parse::<GrantType>().is_err());
        assert_eq!(GrantType::ClientCredentials.openedx_name(), "client-credentials");
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(RedirectUri::parse("https://app.example.com/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost:8080/cb").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/oauth").is_ok());
        assert!(RedirectUri::parse("http://evil.example.com/cb").is_err());
        assert!(RedirectUri::parse("https://app.example.com/cb#frag").is_err());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
        assert!(RedirectUri::parse("/relative").is_err());
    }

    #[test]
    fn client_id_rules() {
        assert!(ClientId::parse("demo-service").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse(&"x".repeat(101)).is_err());
    }
}
