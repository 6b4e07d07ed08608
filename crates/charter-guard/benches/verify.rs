//! The hot path: bare `jsonwebtoken::decode` vs the guard's verify + scope check,
//! and the guard's full check in enforce vs report-only mode.
//!
//! `cargo bench -p charter-guard --bench verify` (add `-- --quick` for a shorter run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use charter_guard::{CheckRequest, Guard, GuardConfig, Mode, NoParams, Policy, ReportConfig, Requirement, Route};
use criterion::{black_box, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

struct Case {
    name: &'static str,
    signer: Signer,
    alg: Algorithm,
}

fn bare(token: &str, key: &DecodingKey, v: &Validation) {
    let d = jsonwebtoken::decode::<serde::de::IgnoredAny>(token, key, v).unwrap();
    black_box(d);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let cases = [
        Case { name: "RS256", signer: Signer::rsa("rs", "RS256"), alg: Algorithm::RS256 },
        Case { name: "ES256", signer: Signer::es256("es"), alg: Algorithm::ES256 },
    ];
    let requirement = Arc::new(Requirement::scopes_all(["catalog:read"]));
    let mut summary = Vec::new();
    for case in &cases {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(case.signer.jwk()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(case.alg);
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[ISSUER]);
        let token = case.signer.sign(&claims("partner", &["catalog:read", "read"], &["content_org:MITx"], true));
        let guard = rt
            .block_on(Guard::start(
                GuardConfig::new(ISSUER).audience(AUDIENCE).static_jwks(jwks(&[&case.signer])).no_reporting(),
            ))
            .unwrap();
        let verify_and_check = || {
            rt.block_on(async {
                let claims = guard.verify(&token).await.unwrap();
                requirement.evaluate(&claims, &NoParams, Policy::OpenEdx).unwrap();
                black_box(claims);
            })
        };
        let mut g = c.benchmark_group(case.name);
        g.bench_function("bare jsonwebtoken::decode", |b| b.iter(|| bare(&token, &key, &v)));
        g.bench_function("guard verify + scope check", |b| b.iter(verify_and_check));
        g.finish();
        let n = 400;
        let time = |f: &mut dyn FnMut()| {
            for _ in 0..50 {
                f();
            }
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        };
        let bare_ns = time(&mut || bare(&token, &key, &v));
        let guard_ns = time(&mut || verify_and_check());
        summary.push(format!(
            "{}: bare decode {:.1} µs, guard verify+scope {:.1} µs, ratio {:.3}",
            case.name,
            bare_ns / 1000.0,
            guard_ns / 1000.0,
            guard_ns / bare_ns
        ));
    }

    // The full check (token from the header, mode, decision log, report event).
    let signer = &cases[0].signer;
    let allowed = signer.sign(&claims("partner", &["catalog:read"], &[], true));
    let denied = signer.sign(&claims("legacy", &["read"], &[], true));
    let mut results = Vec::new();
    for mode in [Mode::Enforce, Mode::ReportOnly] {
        // Reporting on, towards nowhere: events are aggregated, never sent during the bench.
        let mut cfg = GuardConfig::new(ISSUER)
            .audience(AUDIENCE)
            .static_jwks(jwks(&[signer]))
            .client_credentials("bench", "bench")
            .mode(mode)
            .report(ReportConfig { flush_interval: Duration::from_secs(3600), ..Default::default() });
        cfg.token_endpoint = Some("http://127.0.0.1:9/token".into());
        cfg.introspection_endpoint = Some("http://127.0.0.1:9/introspect".into());
        cfg.report.url = Some("http://127.0.0.1:9/api/v1/observations".into());
        let guard = rt.block_on(Guard::start(cfg)).unwrap();
        let mode_name = if mode == Mode::Enforce { "enforce" } else { "report-only" };
        let mut g = c.benchmark_group(format!("check/{mode_name}"));
        for (what, token) in [("allowed", &allowed), ("missing scope", &denied)] {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
            let run = || {
                rt.block_on(async {
                    let v = guard
                        .check(
                            &requirement,
                            CheckRequest {
                                headers: &h,
                                method: &axum::http::Method::GET,
                                route: Route::Static("/api/courses"),
                                params: &NoParams,
                            },
                        )
                        .await;
                    black_box(v);
                })
            };
            g.bench_function(what, |b| b.iter(run));
            let t = Instant::now();
            for _ in 0..400 {
                run();
            }
            results.push((mode_name, what, t.elapsed().as_nanos() as f64 / 400.0));
        }
        g.finish();
    }
    c.final_summary();
    println!("\n== summary (plain timing loops, 400 iterations) ==");
    for s in summary {
        println!("{s}");
    }
    for (mode, what, ns) in &results {
        println!("RS256 full check, {mode:<11} {what:<13}: {:.1} µs", ns / 1000.0);
    }
}
