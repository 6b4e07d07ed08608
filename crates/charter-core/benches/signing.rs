//! Signing one access token with each algorithm, as the token endpoint does,
//! beside `jsonwebtoken::encode` (which re-parses the private key every call),
//! and verifying one.
//!
//! Run: `cargo bench -p charter-core --bench signing`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use charter_core::claims::AccessTokenClaims;
use charter_core::digest::MasterKey;
use charter_core::jws::sign_compact;
use charter_core::keys::{SigningAlgorithm, SigningKey};
use charter_core::time::UnixTime;
use criterion::{criterion_group, criterion_main, Criterion};

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "http://127.0.0.1:8000/oauth2".into(),
        sub: "0123456789abcdef0123456789abcdef".into(),
        aud: "lms-key".into(),
        exp: 1_800_003_600,
        iat: 1_800_000_000,
        jti: "fedcba9876543210fedcba9876543210".into(),
        client_id: "demo-app".into(),
        scope: "grades:read user_id".into(),
        scopes: vec!["grades:read".into(), "user_id".into()],
        filters: vec!["content_org:MITx".into()],
        is_restricted: false,
        version: "1.2.0".into(),
        preferred_username: "demo-service".into(),
        grant_type: "client-credentials".into(),
        email_verified: true,
        user_id: Some(1),
        email: None,
        name: None,
        given_name: None,
        family_name: None,
        administrator: None,
        superuser: None,
    }
}

fn bench(c: &mut Criterion) {
    let sealing = MasterKey::from_bytes([5; 32]).sealing_key();
    let claims = claims();
    let mut g = c.benchmark_group("sign_access_token");
    for alg in SigningAlgorithm::ALL {
        let (key, stored) = SigningKey::generate(*alg, &sealing, UnixTime(0), UnixTime(0)).unwrap();
        g.bench_function(format!("charter/{alg}"), |b| b.iter(|| sign_compact(&key, &claims).unwrap()));
        if matches!(alg, SigningAlgorithm::RS256 | SigningAlgorithm::ES256 | SigningAlgorithm::EdDSA) {
            // What `jsonwebtoken::encode` costs with the same key (DER parsed on every call).
            let pkcs8 = sealing.open(stored.kid.as_bytes(), &stored.sealed_private).unwrap();
            let enc = match alg {
                // jsonwebtoken wants the RSA key as PKCS#1 DER: take it out of the PKCS#8 once.
                SigningAlgorithm::RS256 => Some(jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(&pkcs8))),
                SigningAlgorithm::ES256 => Some(jsonwebtoken::EncodingKey::from_ec_der(&pkcs8)),
                _ => Some(jsonwebtoken::EncodingKey::from_ed_der(&pkcs8)),
            };
            if let Some(enc) = enc {
                let mut header = jsonwebtoken::Header::new(alg.jwt_algorithm());
                header.kid = Some(key.kid.clone());
                g.bench_function(format!("jsonwebtoken_encode/{alg}"), |b| {
                    b.iter(|| jsonwebtoken::encode(&header, &claims, &enc).unwrap())
                });
            }
        }
        let token = sign_compact(&key, &claims).unwrap();
        let mut v = jsonwebtoken::Validation::new(alg.jwt_algorithm());
        v.validate_exp = false;
        v.set_audience(&["lms-key"]);
        g.bench_function(format!("verify/{alg}"), |b| {
            b.iter(|| jsonwebtoken::decode::<AccessTokenClaims>(&token, key.decoding_key(), &v).unwrap())
        });
    }
    g.finish();
}

/// Verifying a client secret: a keyed digest compared in constant time (what the
/// token endpoint does), against Argon2id (what it would cost with a password hash).
fn secrets(c: &mut Criterion) {
    let key = MasterKey::from_bytes([3; 32]).digest_key();
    let secret = charter_core::secret::generate_secret().unwrap();
    let stored = key.digest(secret.as_bytes());
    let mut g = c.benchmark_group("verify_client_secret");
    g.bench_function("hmac_sha256_digest", |b| b.iter(|| assert!(key.verify(secret.as_bytes(), &stored))));
    g.finish();
}

criterion_group!(benches, bench, secrets);
criterion_main!(benches);

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (DER).
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    fn read(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = der[0];
        let (len, hdr) = if der[1] < 0x80 {
            (der[1] as usize, 2)
        } else {
            let n = (der[1] & 0x7f) as usize;
            (der[2..2 + n].iter().fold(0usize, |a, b| (a << 8) | *b as usize), 2 + n)
        };
        (tag, &der[hdr..hdr + len], &der[hdr + len..])
    }
    let (_, info, _) = read(der);
    let (_, _version, rest) = read(info);
    let (_, _alg, rest) = read(rest);
    let (tag, key, _) = read(rest);
    assert_eq!(tag, 0x04);
    key.to_vec()
}
