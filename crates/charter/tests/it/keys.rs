//! Key rotation: publish first, sign later, keep the old key until its tokens expire.

use crate::both_backends;
use crate::helpers::*;
use charter_core::keys::SigningAlgorithm;
use charter_server::admin::keys;

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn published(app: &TestApp) -> Vec<String> {
    let jwks = app.get_json("/.well-known/jwks.json").await;
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

both_backends!(rotation_publishes_first_signs_later_and_keeps_both_valid, |app: TestApp| async move {
    let c = app.client("rot", |_| {}).await;
    let (_, b) = app.token(&c, &[]).await;
    let old_token = b["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid(&old_token);
    assert_eq!(published(&app).await, vec![old_kid.clone()]);

    let sealing = app.master.sealing_key();
    let new = keys::rotate(app.store.as_ref(), &app.actor(), &sealing, SigningAlgorithm::RS512, 600).await.unwrap();
    // Published at once, not yet signing.
    let p = published(&app).await;
    assert!(p.contains(&new.kid) && p.contains(&old_kid), "{p:?}");
    let (_, b) = app.token(&c, &[]).await;
    assert_eq!(kid(b["access_token"].as_str().unwrap()), old_kid);

    // After the delay the new key signs; both tokens verify during the overlap.
    app.clock.advance(601);
    let (_, b) = app.token(&c, &[]).await;
    let new_token = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid(&new_token), new.kid);
    assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().alg, jsonwebtoken::Algorithm::RS512);
    assert!(verify_with_jwks(&app, &new_token).await.is_ok());
    assert!(verify_with_jwks(&app, &old_token).await.is_ok());
    assert!(verify_like_openedx(&app, &old_token).await && verify_like_openedx(&app, &new_token).await);
    let rs = app.resource_server("rs").await;
    assert_eq!(app.introspect(&rs, &new_token).await["active"], true);

    // Once every token of the old key has expired, it is withdrawn.
    app.clock.advance(3600);
    assert_eq!(published(&app).await, vec![new.kid.clone()]);
    // Metadata lists the algorithms in use.
    let md = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(md["access_token_signing_alg_values_supported"], serde_json::json!(["RS512"]));
});

both_backends!(retired_key_is_withdrawn_at_once, |app: TestApp| async move {
    let c = app.client("ret", |_| {}).await;
    let sealing = app.master.sealing_key();
    app.clock.advance(1);
    let new = keys::rotate(app.store.as_ref(), &app.actor(), &sealing, SigningAlgorithm::ES256, 0).await.unwrap();
    let (_, b) = app.token(&c, &[("token_type", "jwt")]).await;
    let token = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid(&token), new.kid);
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().alg, jsonwebtoken::Algorithm::ES256);
    assert!(verify_with_jwks(&app, &token).await.is_ok());
    let successor = keys::retire(app.store.as_ref(), &app.actor(), &sealing, &new.kid).await.unwrap().unwrap();
    assert!(!published(&app).await.contains(&new.kid));
    assert_eq!(app.introspect(&c, &token).await["active"], false);
    // The retired key was signing: a successor of the same algorithm signs at once, not an older key.
    let (s, b) = app.token(&c, &[("token_type", "jwt")]).await;
    assert_eq!(s, 200);
    let t = b["access_token"].as_str().unwrap();
    assert_eq!(kid(t), successor.kid);
    assert_eq!(jsonwebtoken::decode_header(t).unwrap().alg, jsonwebtoken::Algorithm::ES256);
    // Retiring a key that no longer signs makes no successor.
    let first = published(&app).await.into_iter().find(|k| *k != successor.kid).unwrap();
    assert!(keys::retire(app.store.as_ref(), &app.actor(), &sealing, &first).await.unwrap().is_none());
});

both_backends!(every_algorithm_signs_verifiable_tokens, |app: TestApp| async move {
    let c = app.client("algs", |_| {}).await;
    let sealing = app.master.sealing_key();
    for alg in SigningAlgorithm::ALL {
        app.clock.advance(1);
        let k = keys::rotate(app.store.as_ref(), &app.actor(), &sealing, *alg, 0).await.unwrap();
        let (_, b) = app.token(&c, &[]).await;
        let token = b["access_token"].as_str().unwrap();
        assert_eq!(kid(token), k.kid, "{alg}");
        verify_with_jwks(&app, token).await.unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
});
