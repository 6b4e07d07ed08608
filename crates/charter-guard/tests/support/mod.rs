//! Test keys and token minting (shared by the tests and the bench).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};

pub const ISSUER: &str = "http://issuer.test/oauth2";
pub const AUDIENCE: &str = "lms-key";

enum Kind {
    Rsa(sig::RsaKeyPair, &'static dyn sig::RsaEncoding),
    Ec(sig::EcdsaKeyPair),
    Ed(sig::Ed25519KeyPair),
}

pub struct Signer {
    pub kid: String,
    pub alg: &'static str,
    kind: Kind,
}

impl Signer {
    pub fn rsa(kid: &str, alg: &'static str) -> Signer {
        let kp = sig::RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let enc: &'static dyn sig::RsaEncoding = if alg == "RS512" { &sig::RSA_PKCS1_SHA512 } else { &sig::RSA_PKCS1_SHA256 };
        Signer { kid: kid.into(), alg, kind: Kind::Rsa(kp, enc) }
    }

    pub fn es256(kid: &str) -> Signer {
        let doc = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let kp = sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
        Signer { kid: kid.into(), alg: "ES256", kind: Kind::Ec(kp) }
    }

    pub fn eddsa(kid: &str) -> Signer {
        let doc = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let kp = sig::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        Signer { kid: kid.into(), alg: "EdDSA", kind: Kind::Ed(kp) }
    }

    pub fn jwk(&self) -> Value {
        match &self.kind {
            Kind::Rsa(kp, _) => {
                let p = kp.public_key();
                let n = B64.encode(p.modulus().big_endian_without_leading_zero());
                let e = B64.encode(p.exponent().big_endian_without_leading_zero());
                json!({"kty": "RSA", "use": "sig", "alg": self.alg, "kid": self.kid, "n": n, "e": e})
            }
            Kind::Ec(kp) => {
                let pt = kp.public_key().as_ref();
                json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256",
                       "x": B64.encode(&pt[1..33]), "y": B64.encode(&pt[33..65])})
            }
            Kind::Ed(kp) => {
                json!({"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": self.kid, "crv": "Ed25519",
                       "x": B64.encode(kp.public_key().as_ref())})
            }
        }
    }

    pub fn raw_sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.kind {
            Kind::Rsa(kp, enc) => {
                let mut out = vec![0u8; kp.public_modulus_len()];
                kp.sign(*enc, &rng, message, &mut out).unwrap();
                out
            }
            Kind::Ec(kp) => kp.sign(&rng, message).unwrap().as_ref().to_vec(),
            Kind::Ed(kp) => kp.sign(message).as_ref().to_vec(),
        }
    }

    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let mut out = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let s = self.raw_sign(out.as_bytes());
        out.push('.');
        out.push_str(&B64.encode(s));
        out
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"}), claims)
    }
}

pub fn jwks(signers: &[&Signer]) -> String {
    json!({"keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>()}).to_string()
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims like Charter's, for a client_credentials token.
pub fn claims(client_id: &str, scopes: &[&str], filters: &[&str], restricted: bool) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "sub": "0123456789abcdef0123456789abcdef", "aud": AUDIENCE,
        "exp": now + 600, "iat": now, "jti": "j1", "client_id": client_id,
        "scope": scopes.join(" "), "scopes": scopes, "filters": filters, "is_restricted": restricted,
        "version": "1.2.0", "preferred_username": format!("svc-{client_id}"),
        "grant_type": "client-credentials", "email_verified": true
    })
}
