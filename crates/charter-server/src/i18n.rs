//! Localization with Fluent: English, Spanish, French and Arabic (right to left).
//!
//! The language comes from an explicit choice (`?lang=`, kept in a cookie) or
//! from `Accept-Language`, negotiated against the languages Charter has.
//! A message missing in a language falls back to English.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::OnceLock;
use unic_langid::LanguageIdentifier;

/// The languages Charter speaks, English first (the fallback).
pub const LANGUAGES: &[&str] = &["en", "es", "fr", "ar"];

fn source(lang: &str) -> &'static str {
    match lang {
        "es" => include_str!("../locales/es/charter.ftl"),
        "fr" => include_str!("../locales/fr/charter.ftl"),
        "ar" => include_str!("../locales/ar/charter.ftl"),
        _ => include_str!("../locales/en/charter.ftl"),
    }
}

struct Bundles(Vec<(&'static str, FluentBundle<FluentResource>)>);

fn bundles() -> &'static Bundles {
    static B: OnceLock<Bundles> = OnceLock::new();
    B.get_or_init(|| {
        let mut out = Vec::new();
        for lang in LANGUAGES {
            let Ok(id) = lang.parse::<LanguageIdentifier>() else { continue };
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No Unicode isolation marks around arguments: the pages set `dir` themselves.
            bundle.set_use_isolating(false);
            match FluentResource::try_new(source(lang).to_owned()) {
                Ok(res) => {
                    if let Err(errors) = bundle.add_resource(res) {
                        tracing::error!(lang, ?errors, "duplicate messages in a Fluent file");
                    }
                }
                Err((_, errors)) => tracing::error!(lang, ?errors, "a Fluent file does not parse"),
            }
            out.push((*lang, bundle));
        }
        Bundles(out)
    })
}

/// A language Charter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang(&'static str);

impl Lang {
    pub const EN: Lang = Lang("en");

    pub fn code(self) -> &'static str {
        self.0
    }

    /// `rtl` for Arabic, `ltr` otherwise.
    pub fn dir(self) -> &'static str {
        if self.0 == "ar" {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// An explicit choice if it is one of ours, else the best match for `Accept-Language`.
    pub fn negotiate(explicit: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = explicit.and_then(|e| LANGUAGES.iter().find(|l| l.eq_ignore_ascii_case(e.trim()))) {
            return Lang(l);
        }
        let requested = fluent_langneg::accepted_languages::parse(accept_language.unwrap_or(""));
        let available: Vec<fluent_langneg::LanguageIdentifier> = LANGUAGES.iter().filter_map(|l| l.parse().ok()).collect();
        let default = fluent_langneg::LanguageIdentifier::default();
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            Some(&default),
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        chosen
            .first()
            .and_then(|id| LANGUAGES.iter().find(|l| **l == id.language.as_str()))
            .map(|l| Lang(l))
            .unwrap_or(Lang::EN)
    }

    /// The message `id`, formatted with `args`, in this language or else in English.
    pub fn t(self, id: &str, args: &[(&str, &str)]) -> String {
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, *v);
        }
        for lang in [self.0, "en"] {
            let Some((_, bundle)) = bundles().0.iter().find(|(l, _)| *l == lang) else { continue };
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = vec![];
                return bundle.format_pattern(pattern, Some(&fargs), &mut errors).into_owned();
            }
        }
        id.to_owned()
    }

    /// Whether this language has its own message `id` (no fallback).
    pub fn has(self, id: &str) -> bool {
        bundles().0.iter().any(|(l, b)| *l == self.0 && b.has_message(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_and_fallback() {
        assert_eq!(Lang::negotiate(None, Some("fr-CA,fr;q=0.9,en;q=0.5")).code(), "fr");
        assert_eq!(Lang::negotiate(None, Some("de-DE,de;q=0.9")).code(), "en");
        assert_eq!(Lang::negotiate(Some("ar"), Some("es")).code(), "ar");
        assert_eq!(Lang::negotiate(Some("xx"), Some("es-MX")).code(), "es");
        assert_eq!(Lang::negotiate(None, None).code(), "en");
        assert_eq!(Lang("ar").dir(), "rtl");
        assert_eq!(Lang("es").t("consent-title", &[("app", "Acme")]), "Acme quiere acceder a tu cuenta");
        assert_eq!(Lang("fr").t("no-such-message", &[]), "no-such-message");
    }

    #[test]
    fn every_language_has_every_english_message() {
        let en = source("en");
        for lang in LANGUAGES {
            for line in en.lines().filter(|l| l.contains(" = ")) {
                let id = line.split(" = ").next().unwrap_or("").trim();
                assert!(Lang(lang).has(id), "{lang} lacks {id}");
            }
        }
    }
}
