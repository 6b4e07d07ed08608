//! The HTML pages end users see, rendered with askama and localized with Fluent.

use crate::i18n::{Lang, LANGUAGES};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// A link to the same page in another language.
pub struct LangLink {
    pub code: &'static str,
    pub name: String,
    pub href: String,
    pub current: bool,
}

/// Links to `path` with `lang` set to each language (other query parameters kept).
pub fn language_links(lang: Lang, path: &str, query: &[(String, String)]) -> Vec<LangLink> {
    LANGUAGES
        .iter()
        .map(|code| {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in query.iter().filter(|(k, _)| k != "lang") {
                ser.append_pair(k, v);
            }
            ser.append_pair("lang", code);
            let l = Lang::negotiate(Some(code), None);
            LangLink { code, name: l.t("lang-name", &[]), href: format!("{path}?{}", ser.finish()), current: l == lang }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub lang: Lang,
    pub langs: Vec<LangLink>,
    pub csrf: String,
    pub next: String,
    pub username: String,
    pub error: Option<String>,
}

/// One permission on the consent page.
pub struct ScopeLine {
    pub name: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub lang: Lang,
    pub langs: Vec<LangLink>,
    pub title: String,
    pub owner_line: String,
    pub intro: String,
    pub scopes: Vec<ScopeLine>,
    pub filters: Vec<String>,
    pub signed_in: String,
    pub csrf: String,
    pub hidden: Vec<(String, String)>,
}

/// One application on the user's page of authorized applications.
pub struct AuthorizedApp {
    pub client_id: String,
    pub name: String,
    pub owner_line: String,
    pub granted: String,
    pub scopes: Vec<ScopeLine>,
}

#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage {
    pub lang: Lang,
    pub langs: Vec<LangLink>,
    pub csrf: String,
    pub apps: Vec<AuthorizedApp>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub lang: Lang,
    pub langs: Vec<LangLink>,
    pub message: String,
}

macro_rules! localized {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn t(&self, id: &str) -> String {
                self.lang.t(id, &[])
            }
        }
    )*};
}
localized!(LoginPage, ConsentPage, ErrorPage, AppsPage);

/// Renders a page with `status`, never cached, never framed by another site.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            let h = r.headers_mut();
            crate::oauth_response::no_store(h);
            h.insert(axum::http::header::X_FRAME_OPTIONS, axum::http::HeaderValue::from_static("DENY"));
            h.insert(
                axum::http::header::CONTENT_SECURITY_POLICY,
                axum::http::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http:; frame-ancestors 'none'"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// An error page: for requests that must not be redirected anywhere.
pub fn error(status: StatusCode, lang: Lang, langs: Vec<LangLink>, message: String) -> Response {
    render(status, &ErrorPage { lang, langs, message })
}
