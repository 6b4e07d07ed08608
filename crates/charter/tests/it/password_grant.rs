//! The password grant (Open edX mobile apps), for applications configured for it.

use crate::both_backends;
use crate::helpers::*;
use charter_server::admin::accounts;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse, TokenUrl};
use serde_json::json;

async fn learner(app: &TestApp, username: &str, password: &str) -> charter_core::client::Account {
    accounts::create_user(
        app.store.as_ref(),
        &app.actor(),
        accounts::NewUser {
            username: username.into(),
            email: Some(format!("{username}@example.org")),
            full_name: Some("Ada Lovelace".into()),
            is_staff: false,
            password: Some(password.into()),
        },
    )
    .await
    .unwrap();
    app.store.account_by_username(username).await.unwrap().unwrap()
}

async fn mobile_app(app: &TestApp) -> Client {
    // Open edX's mobile apps are public clients configured for the password grant.
    app.client("mobile", |s| {
        s.client_type = Some("public".into());
        s.grant_types = vec!["password".into()];
        s.redirect_uris = vec![];
        s.scopes = vec!["grades:read".into()];
    })
    .await
}

both_backends!(password_grant_by_username_or_email_gives_openedx_tokens, |app: TestApp| async move {
    let user = learner(&app, "ada", "correct horse battery").await;
    let _ = mobile_app(&app).await;
    // A real OAuth client library, as a public client.
    let client = BasicClient::new(ClientId::new("mobile".into())).set_token_uri(TokenUrl::new(app.url("/oauth2/token")).unwrap());
    let tok = client
        .exchange_password(&ResourceOwnerUsername::new("ada".into()), &ResourceOwnerPassword::new("correct horse battery".into()))
        .add_scope(Scope::new("grades:read".into()))
        .add_scope(Scope::new("email".into()))
        .request_async(&app.http)
        .await
        .unwrap();
    let claims = verify_with_jwks(&app, tok.access_token().secret()).await.unwrap();
    assert_eq!(claims["sub"], user.anonymous_id);
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["grant_type"], "password");
    assert_eq!(claims["filters"], json!(["user:me"]));
    assert_eq!(claims["scopes"], json!(["email", "grades:read", "user_id"]));
    assert_eq!(claims["user_id"], user.id);
    assert_eq!(claims["email"], "ada@example.org");
    // By email, on Open edX's endpoint with token_type=jwt.
    let (s, _, b) = app
        .post_form(
            "/oauth2/access_token",
            None,
            &[("grant_type", "password"), ("client_id", "mobile"), ("username", "ADA@example.org"), ("password", "correct horse battery"), ("token_type", "jwt")],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "JWT");
});

both_backends!(password_failures_are_uniform_audited_and_throttled, |app: TestApp| async move {
    let _ = learner(&app, "grace", "correct horse battery").await;
    let _ = mobile_app(&app).await;
    let attempt = |user: &'static str, pw: &'static str| {
        let app = &app;
        async move {
            app.post_form("/oauth2/token", None, &[("grant_type", "password"), ("client_id", "mobile"), ("username", user), ("password", pw)]).await
        }
    };
    let (s, _, wrong) = attempt("grace", "wrong password").await;
    let (_, _, unknown) = attempt("nobody", "wrong password").await;
    assert_eq!(s, 400);
    assert_eq!(wrong["error"], "invalid_grant");
    assert_eq!(wrong, unknown, "an unknown user and a wrong password look the same");
    let events = app.store.audit_events(&charter_store::AuditQuery { action_prefix: Some("token.refused".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(events[1].event.account.as_deref(), Some("grace"));
    // Five failures lock the account for the window: even the right password is refused.
    for _ in 0..4 {
        attempt("grace", "wrong password").await;
    }
    let (s, _, b) = attempt("grace", "correct horse battery").await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("too many"), "{b}");
    // After the window, the right password works again.
    app.clock.advance(charter_core::login_throttle::WINDOW + 1);
    let (s, _, b) = attempt("grace", "correct horse battery").await;
    assert_eq!(s, 200, "{b}");
});

both_backends!(password_grant_only_for_configured_applications_and_active_accounts, |app: TestApp| async move {
    use charter_core::client::Status;
    let _ = learner(&app, "linus", "correct horse battery").await;
    let svc = app.client("svc-only", |_| {}).await;
    let (s, _, b) = app
        .post_form("/oauth2/token", Some((&svc.client_id, &svc.secret)), &[("grant_type", "password"), ("username", "linus"), ("password", "correct horse battery")])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unauthorized_client")));
    let _ = mobile_app(&app).await;
    accounts::set_status(app.store.as_ref(), &app.actor(), "linus", Status::Suspended).await.unwrap();
    let (s, _, b) = app
        .post_form("/oauth2/token", None, &[("grant_type", "password"), ("client_id", "mobile"), ("username", "linus"), ("password", "correct horse battery")])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _, b) = app.post_form("/oauth2/token", None, &[("grant_type", "password"), ("client_id", "mobile"), ("username", "linus")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    // Weak passwords are refused when set.
    let e = accounts::set_password(app.store.as_ref(), &app.actor(), "linus", "short".into()).await;
    assert!(e.is_err());
});
