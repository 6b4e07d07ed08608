//! Refresh tokens: rotation on every use, reuse detection, narrowing, revocation.

use crate::both_backends;
use crate::helpers::*;
use charter_server::admin::accounts;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, RefreshToken, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse, TokenUrl};
use serde_json::json;

async fn setup(app: &TestApp) -> Client {
    accounts::create_user(
        app.store.as_ref(),
        &app.actor(),
        accounts::NewUser {
            username: "rita".into(),
            email: Some("rita@example.org".into()),
            full_name: None,
            is_staff: false,
            password: Some("correct horse battery".into()),
        },
    )
    .await
    .unwrap();
    app.client("mobile", |s| {
        s.client_type = Some("public".into());
        s.grant_types = vec!["password".into(), "refresh_token".into()];
        s.scopes = vec!["grades:read certificates:read".into()];
        s.token_format = Some("opaque".into());
    })
    .await
}

async fn password_tokens(app: &TestApp, scope: &str) -> serde_json::Value {
    let (s, _, b) = app
        .post_form(
            "/oauth2/token",
            None,
            &[("grant_type", "password"), ("client_id", "mobile"), ("username", "rita"), ("password", "correct horse battery"), ("scope", scope)],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn refresh(app: &TestApp, token: &str, scope: Option<&str>) -> (u16, serde_json::Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("client_id", "mobile"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let (s, _, b) = app.post_form("/oauth2/token", None, &form).await;
    (s, b)
}

both_backends!(rotation_with_a_real_client_library, |app: TestApp| async move {
    let _ = setup(&app).await;
    let client = BasicClient::new(ClientId::new("mobile".into())).set_token_uri(TokenUrl::new(app.url("/oauth2/token")).unwrap());
    let first = client
        .exchange_password(&ResourceOwnerUsername::new("rita".into()), &ResourceOwnerPassword::new("correct horse battery".into()))
        .add_scope(Scope::new("grades:read".into()))
        .request_async(&app.http)
        .await
        .unwrap();
    let r1 = first.refresh_token().unwrap().clone();
    let second = client.exchange_refresh_token(&r1).request_async(&app.http).await.unwrap();
    let r2 = second.refresh_token().unwrap().clone();
    assert_ne!(r1.secret(), r2.secret(), "rotated on use");
    assert_eq!(second.scopes().unwrap()[0].as_str(), "grades:read");
    // The rotated token is refused, and the library sees invalid_grant.
    let err = client.exchange_refresh_token(&r1).request_async(&app.http).await.unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    // …and the reuse revoked the whole family: the newest refresh token and the access tokens too.
    let err = client.exchange_refresh_token(&RefreshToken::new(r2.secret().clone())).request_async(&app.http).await.unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    let rs = app.resource_server("rs").await;
    assert_eq!(app.introspect(&rs, second.access_token().secret()).await, json!({"active": false}));
});

both_backends!(refresh_may_narrow_never_widen, |app: TestApp| async move {
    let _ = setup(&app).await;
    let b = password_tokens(&app, "grades:read certificates:read").await;
    let r = b["refresh_token"].as_str().unwrap().to_owned();
    let (s, b) = refresh(&app, &r, Some("grades:read")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "grades:read");
    // The family keeps the original scopes: the next refresh may ask for both again…
    let r = b["refresh_token"].as_str().unwrap().to_owned();
    let (s, b) = refresh(&app, &r, Some("grades:read certificates:read")).await;
    assert_eq!(s, 200, "{b}");
    // …but never for more.
    let r = b["refresh_token"].as_str().unwrap().to_owned();
    let (s, b) = refresh(&app, &r, Some("grades:read tpa:read")).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
    // A refused request does not consume the token.
    let (s, _) = refresh(&app, &r, None).await;
    assert_eq!(s, 200);
});

both_backends!(refresh_tokens_are_bound_to_their_client_and_revocable, |app: TestApp| async move {
    let _ = setup(&app).await;
    let b = password_tokens(&app, "grades:read").await;
    let access = b["access_token"].as_str().unwrap().to_owned();
    let r = b["refresh_token"].as_str().unwrap().to_owned();
    // Stored only as a digest of its secret half.
    let (id, _) = charter_core::token::split_opaque(&r).unwrap();
    assert!(app.store.refresh_token_by_id(id).await.unwrap().is_some());
    // Another client cannot use it.
    let other = app.client("other", |s| s.grant_types = vec!["client_credentials".into(), "refresh_token".into()]).await;
    let (s, _, e) = app.post_form("/oauth2/token", Some((&other.client_id, &other.secret)), &[("grant_type", "refresh_token"), ("refresh_token", &r)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // A forged secret half is refused.
    let forged = format!("{id}{}", "A".repeat(43));
    assert_eq!(refresh(&app, &forged, None).await.0, 400);
    // RFC 7009: revoking the refresh token revokes the access tokens of its grant.
    let rs = app.resource_server("rs").await;
    assert_eq!(app.introspect(&rs, &access).await["active"], true);
    let (s, _, _) = app.post_form("/oauth2/revoke", None, &[("client_id", "mobile"), ("token", &r), ("token_type_hint", "refresh_token")]).await;
    assert_eq!(s, 200);
    assert_eq!(app.introspect(&rs, &access).await, json!({"active": false}));
    let (s, e) = refresh(&app, &r, None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // Expiry.
    let b = password_tokens(&app, "grades:read").await;
    app.clock.advance(30 * 86_400);
    let (s, e) = refresh(&app, b["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
});
