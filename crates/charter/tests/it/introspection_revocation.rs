//! RFC 7662 introspection and RFC 7009 revocation; suspension seen at once.

use crate::both_backends;
use crate::helpers::*;
use charter_core::client::Status;
use charter_server::admin::applications;
use serde_json::json;

both_backends!(introspection_of_opaque_and_jwt_tokens, |app: TestApp| async move {
    let rs = app.resource_server("resource-server").await;
    let c = app.client("intro", |s| s.scopes = vec!["grades:read".into()]).await;
    for format in ["opaque", "jwt"] {
        let (_, b) = app.token(&c, &[("scope", "grades:read"), ("token_type", if format == "jwt" { "jwt" } else { "" })]).await;
        let (_, b) = if format == "opaque" {
            let c2 = app.client(&format!("intro-{format}"), |s| { s.scopes = vec!["grades:read".into()]; s.token_format = Some("opaque".into()); }).await;
            app.token(&c2, &[("scope", "grades:read")]).await
        } else {
            (200, b)
        };
        let token = b["access_token"].as_str().unwrap();
        let i = app.introspect(&rs, token).await;
        assert_eq!(i["active"], true, "{format}: {i}");
        assert_eq!(i["scope"], "grades:read");
        assert!(i["client_id"].as_str().unwrap().starts_with("intro"));
        assert_eq!(i["token_type"], "Bearer");
        assert_eq!(i["iss"], "http://charter.test/oauth2");
        assert!(i["exp"].as_i64().unwrap() > i["iat"].as_i64().unwrap());
        assert!(i["username"].as_str().unwrap().starts_with("svc-intro"));
    }
    assert_eq!(app.introspect(&rs, "not-a-token").await, json!({"active": false}));
    assert_eq!(app.introspect(&rs, "a.b.c").await, json!({"active": false}));
});

both_backends!(introspection_requires_an_authenticated_confidential_client, |app: TestApp| async move {
    let (s, h, b) = app.post_form("/oauth2/introspect", None, &[("token", "x")]).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    assert!(h.contains_key("www-authenticate"));
    let (s, _, b) = app.post_form("/oauth2/introspect", Some(("nobody", "nothing")), &[("token", "x")]).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let rs = app.resource_server("rs").await;
    let (s, _, b) = app.post_form("/oauth2/introspect", Some((&rs.client_id, &rs.secret)), &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
});

both_backends!(expired_tokens_are_inactive, |app: TestApp| async move {
    let rs = app.resource_server("rs").await;
    let c = app.client("exp", |s| s.token_format = Some("opaque".into())).await;
    let (_, b) = app.token(&c, &[]).await;
    let opaque = b["access_token"].as_str().unwrap().to_owned();
    let (_, b) = app.token(&c, &[("token_type", "jwt")]).await;
    let jwt = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&rs, &opaque).await["active"], true);
    app.clock.advance(3600);
    assert_eq!(app.introspect(&rs, &opaque).await, json!({"active": false}));
    assert_eq!(app.introspect(&rs, &jwt).await, json!({"active": false}));
});

both_backends!(revocation_is_seen_at_introspection_at_once, |app: TestApp| async move {
    let rs = app.resource_server("rs").await;
    let c = app.client("rev", |s| s.token_format = Some("opaque".into())).await;
    for (path, format) in [("/oauth2/revoke", "opaque"), ("/oauth2/revoke_token", "jwt"), ("/oauth2/revoke_token/", "opaque")] {
        let (_, b) = app.token(&c, &[("token_type", if format == "jwt" { "jwt" } else { "" })]).await;
        let token = b["access_token"].as_str().unwrap().to_owned();
        assert_eq!(app.introspect(&rs, &token).await["active"], true);
        let (s, h, _) = app.post_form(path, Some((&c.client_id, &c.secret)), &[("token", &token), ("token_type_hint", "access_token")]).await;
        assert_eq!(s, 200);
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(app.introspect(&rs, &token).await, json!({"active": false}), "{path} {format}");
        // Revoking again, or revoking garbage, is still 200 (RFC 7009 section 2.2).
        assert_eq!(app.post_form(path, Some((&c.client_id, &c.secret)), &[("token", &token)]).await.0, 200);
        assert_eq!(app.post_form(path, Some((&c.client_id, &c.secret)), &[("token", "garbage")]).await.0, 200);
    }
    // Another client may not revoke this client's token; it is told nothing (200, as for an unknown token).
    let (_, b) = app.token(&c, &[]).await;
    let token = b["access_token"].as_str().unwrap().to_owned();
    let (s, _, _) = app.post_form("/oauth2/revoke", Some((&rs.client_id, &rs.secret)), &[("token", &token)]).await;
    assert_eq!(s, 200);
    assert_eq!(app.introspect(&rs, &token).await["active"], true);
    // Revocation requires client authentication.
    let (s, _, b) = app.post_form("/oauth2/revoke", None, &[("token", &token)]).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
});

both_backends!(suspension_stops_every_token_at_once_and_reactivation_restores, |app: TestApp| async move {
    let rs = app.resource_server("rs").await;
    let c = app.client("susp", |s| s.token_format = Some("opaque".into())).await;
    let (_, b) = app.token(&c, &[]).await;
    let opaque = b["access_token"].as_str().unwrap().to_owned();
    let (_, b) = app.token(&c, &[("token_type", "jwt")]).await;
    let jwt = b["access_token"].as_str().unwrap().to_owned();
    applications::set_status(app.store.as_ref(), &app.actor(), "susp", Status::Suspended).await.unwrap();
    assert_eq!(app.introspect(&rs, &opaque).await, json!({"active": false}));
    assert_eq!(app.introspect(&rs, &jwt).await, json!({"active": false}));
    applications::set_status(app.store.as_ref(), &app.actor(), "susp", Status::Active).await.unwrap();
    assert_eq!(app.introspect(&rs, &opaque).await["active"], true);
    assert_eq!(app.introspect(&rs, &jwt).await["active"], true);
    // Revocation is for good: tokens stay dead, and the application cannot come back.
    applications::set_status(app.store.as_ref(), &app.actor(), "susp", Status::Revoked).await.unwrap();
    assert_eq!(app.introspect(&rs, &opaque).await, json!({"active": false}));
    assert!(applications::set_status(app.store.as_ref(), &app.actor(), "susp", Status::Active).await.is_err());
    assert_eq!(app.token(&c, &[]).await.0, 401);
});

both_backends!(only_resource_servers_see_other_applications_tokens, |app: TestApp| async move {
    let c = app.client("owner-app", |s| s.scopes = vec!["grades:read".into()]).await;
    let other = app.client("nosy", |_| {}).await;
    let rs = app.resource_server("rs").await;
    let (_, b) = app.token(&c, &[("scope", "grades:read")]).await;
    let token = b["access_token"].as_str().unwrap().to_owned();
    // An ordinary application learns nothing about another application's token…
    assert_eq!(app.introspect(&other, &token).await, json!({"active": false}));
    // …but may introspect its own, and a resource server (charter:introspect) may introspect any.
    assert_eq!(app.introspect(&c, &token).await["active"], true);
    assert_eq!(app.introspect(&rs, &token).await["active"], true);
});

both_backends!(a_revoked_account_stays_revoked, |app: TestApp| async move {
    use charter_server::admin::accounts;
    let c = app.client("acct", |_| {}).await;
    accounts::set_status(app.store.as_ref(), &app.actor(), "svc-acct", Status::Revoked).await.unwrap();
    assert!(accounts::set_status(app.store.as_ref(), &app.actor(), "svc-acct", Status::Active).await.is_err());
    assert_eq!(app.token(&c, &[]).await.0, 401);
});
