//! What a route requires of a token, and the Open edX permission rules.

use crate::claims::Claims;
use crate::config::Policy;
use crate::Mode;

/// What a route requires of the token presented to it.
///
/// ```ignore
/// Requirement::scopes_all(["catalog:read"]).content_org_param("course_id")
/// Requirement::scopes_any(["enrollments:read", "enrollments:write"]).user_param("username")
/// Requirement::authenticated()          // a valid token, nothing more
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requirement {
    pub(crate) all: Vec<String>,
    pub(crate) any: Vec<String>,
    /// A scope requirement was declared (an empty one denies, as `JwtHasScope` does).
    pub(crate) scoped: bool,
    pub(crate) content_org_param: Option<String>,
    pub(crate) user_param: Option<String>,
    pub(crate) mode: Option<Mode>,
}

impl Requirement {
    /// Only a valid token: no scope, no filter.
    pub fn authenticated() -> Self {
        Self::default()
    }

    /// Every one of these scopes. An empty list denies restricted applications
    /// (Open edX's `JwtHasScope` with no `required_scopes`).
    pub fn scopes_all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::default().and_all(scopes)
    }

    /// At least one of these scopes.
    pub fn scopes_any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::default().and_any(scopes)
    }

    /// Adds scopes that are all required.
    pub fn and_all<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scoped = true;
        for s in scopes {
            let s = s.into();
            if !self.all.contains(&s) {
                self.all.push(s);
            }
        }
        self
    }

    /// Adds scopes of which at least one is required.
    pub fn and_any<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scoped = true;
        for s in scopes {
            let s = s.into();
            if !self.any.contains(&s) {
                self.any.push(s);
            }
        }
        self
    }

    /// `JwtHasContentOrgFilterForRequestedCourse`: the course key in this path
    /// parameter must belong to an org named by a `content_org` filter of the token.
    pub fn content_org_param(mut self, param: impl Into<String>) -> Self {
        self.content_org_param = Some(param.into());
        self
    }

    /// `JwtHasUserFilterForRequestedUser`: when the token has a `user` filter
    /// (`user:me`: the token's own `preferred_username`), the username in this path
    /// parameter must be that user.
    pub fn user_param(mut self, param: impl Into<String>) -> Self {
        self.user_param = Some(param.into());
        self
    }

    /// This route's mode, over the guard's default (an application's own mode still wins, unless this is `Off`).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn required_all(&self) -> &[String] {
        &self.all
    }

    pub fn required_any(&self) -> &[String] {
        &self.any
    }

    pub(crate) fn needs_params(&self) -> bool {
        self.content_org_param.is_some() || self.user_param.is_some()
    }

    /// Decides whether `claims` meet this requirement under `policy`.
    /// Allocates only when refusing.
    pub fn evaluate(&self, claims: &Claims, params: &dyn PathParams, policy: Policy) -> Result<(), Denial> {
        let bound = claims.is_restricted || policy == Policy::Strict;
        if !bound {
            // Open edX: an unrestricted application acts as its user.
            return Ok(());
        }
        if self.scoped {
            let all_ok = self.all.iter().all(|s| claims.has_scope(s));
            let any_ok = self.any.is_empty() || self.any.iter().any(|s| claims.has_scope(s));
            let declared = !(self.all.is_empty() && self.any.is_empty());
            if !(declared && all_ok && any_ok) {
                let missing_all = self.all.iter().filter(|s| !claims.has_scope(s)).cloned().collect();
                let missing_any = if any_ok { Vec::new() } else { self.any.clone() };
                return Err(Denial::MissingScope { missing_all, missing_any });
            }
        }
        let param = |p: &String| {
            params.get(p).ok_or_else(|| {
                if params.undecodable(p) {
                    Denial::InvalidParam(p.clone())
                } else {
                    Denial::MissingParam(p.clone())
                }
            })
        };
        if let Some(p) = &self.content_org_param {
            let filtered = claims.is_restricted || claims.content_orgs().next().is_some();
            if filtered {
                let key = param(p)?;
                let Some(org) = course_key_org(key) else {
                    return Err(Denial::ContentOrg { org: None });
                };
                if !claims.content_orgs().any(|o| o == org) {
                    return Err(Denial::ContentOrg { org: Some(org.to_owned()) });
                }
            }
        }
        if let Some(p) = &self.user_param {
            if let Some(filter) = claims.user_filter() {
                let requested = param(p)?;
                let allowed = if filter == "me" { claims.preferred_username.as_deref() } else { Some(filter) };
                if allowed != Some(requested) {
                    return Err(Denial::User { requested: requested.to_owned() });
                }
            }
        }
        Ok(())
    }
}

/// Why a verified token does not meet a route's requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Scopes the token lacks: every missing all-of scope, and the any-of list when none of it is held.
    /// Both empty: the route declared an empty scope requirement, which denies.
    MissingScope { missing_all: Vec<String>, missing_any: Vec<String> },
    /// No `content_org` filter names the course's org (`None`: the parameter is not a course key).
    ContentOrg { org: Option<String> },
    /// The `user` filter does not allow the requested user.
    User { requested: String },
    /// The route has no such path parameter (a mistake in the service).
    MissingParam(String),
    /// The request's path parameter could not be decoded (e.g. invalid percent-encoding).
    InvalidParam(String),
}

impl Denial {
    /// The `reason` reported to Charter.
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::MissingScope { .. } => "missing_scope",
            Denial::ContentOrg { .. } => "content_org_mismatch",
            Denial::User { .. } => "user_mismatch",
            Denial::MissingParam(_) => "missing_path_param",
            Denial::InvalidParam(_) => "invalid_path_param",
        }
    }
}

/// The matched route's path parameters.
pub trait PathParams: Sync {
    fn get(&self, name: &str) -> Option<&str>;

    /// Whether the request's parameter `name` is there but could not be decoded
    /// (answered 400, where a parameter the route does not declare is a 500).
    fn undecodable(&self, _name: &str) -> bool {
        false
    }
}

impl PathParams for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

impl<const N: usize> PathParams for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        PathParams::get(self.as_slice(), name)
    }
}

impl PathParams for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl PathParams for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        std::collections::HashMap::get(self, name).map(String::as_str)
    }
}

impl PathParams for axum::extract::RawPathParams {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// No path parameters.
pub struct NoParams;

impl PathParams for NoParams {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }
}

/// The request's path parameters could not be decoded (axum refuses them all
/// when one holds invalid percent-encoding): every one is undecodable.
pub(crate) struct UndecodableParams;

impl PathParams for UndecodableParams {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }

    fn undecodable(&self, _: &str) -> bool {
        true
    }
}

/// A part of a course key: opaque-keys' `[\w\-~.:]+` (`\w` as Python's: letters,
/// digits, `_`).
fn key_part_ok(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "_-~.:".contains(c))
}

/// The org of an Open edX course key: `course-v1:ORG+COURSE+RUN` (optionally
/// followed by `+branch@…` and `+version@…`), `ccx-v1:ORG+COURSE+RUN+ccx@N`, or
/// the old `ORG/COURSE/RUN`. `None` if it is not one (as opaque-keys would refuse it).
pub fn course_key_org(key: &str) -> Option<&str> {
    let (rest, markers): (&str, &[&str]) = if let Some(r) = key.strip_prefix("course-v1:") {
        (r, &["branch", "version"])
    } else if let Some(r) = key.strip_prefix("ccx-v1:") {
        (r, &["branch", "version", "ccx"])
    } else {
        let mut parts = key.split('/');
        let (org, course, run) = (parts.next()?, parts.next()?, parts.next()?);
        let ok = parts.next().is_none() && key_part_ok(org) && key_part_ok(course) && key_part_ok(run);
        return ok.then_some(org);
    };
    let mut parts = rest.split('+');
    let (org, course, run) = (parts.next()?, parts.next()?, parts.next()?);
    if !(key_part_ok(org) && key_part_ok(course) && key_part_ok(run)) {
        return None;
    }
    // Then at most one of each marker, in opaque-keys' order.
    let mut next_marker = 0;
    for part in parts {
        let (name, value) = part.split_once('@')?;
        let at = markers.iter().skip(next_marker).position(|m| *m == name)? + next_marker;
        let value_ok = match name {
            "version" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_hexdigit()),
            "ccx" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            _ => key_part_ok(value),
        };
        if !value_ok {
            return None;
        }
        next_marker = at + 1;
    }
    if markers.contains(&"ccx") && next_marker != markers.len() {
        // A CCX key names its CCX.
        return None;
    }
    Some(org)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::TokenSource;

    fn claims(scopes: &[&str], filters: &[&str], restricted: bool) -> Claims {
        Claims {
            client_id: Some("c".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            filters: filters.iter().map(|s| s.to_string()).collect(),
            is_restricted: restricted,
            preferred_username: Some("alice".into()),
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
        }
    }

    #[test]
    fn course_keys() {
        assert_eq!(course_key_org("course-v1:MITx+6.002x+2024_T1"), Some("MITx"));
        assert_eq!(course_key_org("course-v1:edX+DemoX+Demo~Course-1.a:b"), Some("edX"));
        assert_eq!(course_key_org("course-v1:MITx+6.002x+2024_T1+branch@draft"), Some("MITx"));
        assert_eq!(course_key_org("course-v1:MITx+6.002x+2024_T1+version@519665f6223ebd6980884f2b"), Some("MITx"));
        assert_eq!(course_key_org("course-v1:MITx+a+b+branch@published+version@abc123"), Some("MITx"));
        assert_eq!(course_key_org("course-v1:Université+a+b"), Some("Université"));
        assert_eq!(course_key_org("ccx-v1:edX+DemoX+Demo_Course+ccx@3"), Some("edX"));
        assert_eq!(course_key_org("MITx/6.002x/2012_Fall"), Some("MITx"));
        for bad in [
            "MITx",
            "course-v1:MITx",
            "course-v1:MITx+6.002x",
            "course-v1:MITx+6.002x+",
            "course-v1:MITx+6.002x+2024_T1+extra",
            "course-v1:MITx+6.002x+2024_T1+more+parts",
            "course-v1:MITx+6.002x+2024_T1+ccx@3",
            "course-v1:MITx+a+b+version@xyz",
            "course-v1:MITx+a+b+version@abc+branch@draft",
            "course-v1:MITx+a+b+branch@x+branch@y",
            "course-v1:MI%54x+a+b",
            "course-v1:MITx+a b+c",
            "course-v1:MITx+a/b+c",
            "ccx-v1:edX+DemoX+Demo_Course",
            "ccx-v1:edX+DemoX+Demo_Course+ccx@x",
            "block-v1:MITx+a+b",
            "a/b/c/d",
            "a/b",
            "MI%54x/a/b",
            "MITx//b",
            "",
        ] {
            assert_eq!(course_key_org(bad), None, "{bad}");
        }
    }

    #[test]
    fn scopes() {
        let r = Requirement::scopes_all(["a", "b"]);
        let p = NoParams;
        assert!(r.evaluate(&claims(&["a", "b", "c"], &[], true), &p, Policy::OpenEdx).is_ok());
        let e = r.evaluate(&claims(&["a"], &[], true), &p, Policy::OpenEdx);
        assert_eq!(e, Err(Denial::MissingScope { missing_all: vec!["b".into()], missing_any: vec![] }));
        // Unrestricted acts as its user, unless strict.
        assert!(r.evaluate(&claims(&[], &[], false), &p, Policy::OpenEdx).is_ok());
        assert!(r.evaluate(&claims(&[], &[], false), &p, Policy::Strict).is_err());
        let any = Requirement::scopes_any(["x", "y"]);
        assert!(any.evaluate(&claims(&["y"], &[], true), &p, Policy::OpenEdx).is_ok());
        assert!(any.evaluate(&claims(&["z"], &[], true), &p, Policy::OpenEdx).is_err());
        // An empty declared requirement denies; authenticated() does not check scopes.
        let empty: [&str; 0] = [];
        assert!(Requirement::scopes_all(empty).evaluate(&claims(&["a"], &[], true), &p, Policy::OpenEdx).is_err());
        assert!(Requirement::authenticated().evaluate(&claims(&[], &[], true), &p, Policy::Strict).is_ok());
    }

    #[test]
    fn filters() {
        let r = Requirement::authenticated().content_org_param("course_id");
        let mit = [("course_id", "course-v1:MITx+6.002x+2024_T1")];
        let harv = [("course_id", "course-v1:HarvardX+CS50+2024")];
        let c = claims(&[], &["content_org:MITx"], true);
        assert!(r.evaluate(&c, &mit, Policy::OpenEdx).is_ok());
        assert_eq!(r.evaluate(&c, &harv, Policy::OpenEdx), Err(Denial::ContentOrg { org: Some("HarvardX".into()) }));
        // A restricted token without content_org filters is refused.
        assert!(r.evaluate(&claims(&[], &[], true), &mit, Policy::OpenEdx).is_err());
        // Strict: an unrestricted token is bound by the filters it carries only.
        assert!(r.evaluate(&claims(&[], &[], false), &harv, Policy::Strict).is_ok());
        assert!(r.evaluate(&claims(&[], &["content_org:MITx"], false), &harv, Policy::Strict).is_err());

        let u = Requirement::authenticated().user_param("username");
        let me = claims(&[], &["user:me"], true);
        assert!(u.evaluate(&me, &[("username", "alice")], Policy::OpenEdx).is_ok());
        assert_eq!(u.evaluate(&me, &[("username", "bob")], Policy::OpenEdx), Err(Denial::User { requested: "bob".into() }));
        // No user filter: nothing to enforce (edx-drf-extensions).
        assert!(u.evaluate(&claims(&[], &[], true), &[("username", "bob")], Policy::OpenEdx).is_ok());
        assert_eq!(u.evaluate(&me, &NoParams, Policy::OpenEdx), Err(Denial::MissingParam("username".into())));
        assert_eq!(u.evaluate(&me, &UndecodableParams, Policy::OpenEdx), Err(Denial::InvalidParam("username".into())));
    }
}
