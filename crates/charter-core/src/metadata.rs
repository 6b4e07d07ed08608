//! RFC 8414 authorization server metadata.

use crate::keys::SigningAlgorithm;

/// `base` is the public URL of the server (scheme, host, port), without a trailing slash.
pub fn authorization_server_metadata(
    issuer: &str,
    base: &str,
    algs: &[SigningAlgorithm],
    scopes: &[&str],
) -> serde_json::Value {
    let algs: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["authorization_code", "client_credentials", "password", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "response_types_supported": ["code"],
        "scopes_supported": scopes,
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "access_token_signing_alg_values_supported": algs,
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "id_token_signing_alg_values_supported": algs,
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
            "preferred_username", "name", "given_name", "family_name", "email", "email_verified"],
        "service_documentation": format!("{base}/oauth2/scopes"),
    })
}
