//! Audit events for every token issued or refused and every revocation; metrics and health.

use crate::both_backends;
use crate::helpers::*;
use charter_store::AuditQuery;

both_backends!(every_token_issued_refused_and_revoked_is_audited, |app: TestApp| async move {
    let c = app.client("audited", |s| s.scopes = vec!["grades:read".into()]).await;
    let (_, b) = app.token(&c, &[("scope", "grades:read")]).await;
    let token = b["access_token"].as_str().unwrap().to_owned();
    let (s, _) = app.token(&c, &[("scope", "certificates:read")]).await;
    assert_eq!(s, 400);
    let (s, _, _) = app.post_form("/oauth2/token", Some(("audited", "wrong")), &[("grant_type", "client_credentials")]).await;
    assert_eq!(s, 401);
    let (s, _, _) = app.post_form("/oauth2/revoke", Some((&c.client_id, &c.secret)), &[("token", &token)]).await;
    assert_eq!(s, 200);
    // The events were durable before each response: read them straight from the database.
    let events = app
        .store
        .audit_events(&AuditQuery { client_id: Some("audited".into()), limit: 100, ..Default::default() })
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.event.action.as_str()).collect();
    assert_eq!(&actions[..4], ["token.revoked", "token.refused", "token.refused", "token.issued"], "{actions:?}");
    let issued = &events[3].event;
    assert_eq!(issued.scopes.as_deref(), Some("grades:read"));
    assert_eq!(issued.account.as_deref(), Some("svc-audited"));
    assert_eq!(issued.source.as_deref(), Some("127.0.0.1"));
    assert_eq!(issued.actor, "client:audited");
    let refused_scope = &events[2].event;
    assert_eq!(refused_scope.detail["error"], "invalid_scope");
    let refused_client = &events[1].event;
    assert_eq!(refused_client.detail["error"], "invalid_client");
    assert_eq!(refused_client.detail["reason"], "wrong_secret");
    // No secret anywhere in the audit log.
    for e in &events {
        let text = serde_json::to_string(&e.event).unwrap();
        assert!(!text.contains(&c.secret) && !text.contains(&token));
    }
    // Admin changes are audited too.
    let admin = app.store.audit_events(&AuditQuery { action_prefix: Some("application.".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert!(admin.iter().any(|e| e.event.action == "application.created" && e.event.client_id.as_deref() == Some("audited")));
});

both_backends!(metrics_and_health, |app: TestApp| async move {
    let c = app.client("metered", |_| {}).await;
    assert_eq!(app.token(&c, &[]).await.0, 200);
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("charter_tokens_total"), "{text}");
    assert!(text.contains("charter_http_requests_total"), "{text}");
    assert!(text.contains("charter_http_request_duration_seconds"), "{text}");
    assert!(text.contains(r#"route="/oauth2/token""#), "{text}");
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["backend"], if app.backend == Backend::Sqlite { "sqlite" } else { "postgres" });
});

both_backends!(discovery_documents, |app: TestApp| async move {
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/oauth2", "/.well-known/openid-configuration", "/oauth2/.well-known/openid-configuration"] {
        let md = app.get_json(path).await;
        assert_eq!(md["issuer"], "http://charter.test/oauth2", "{path}");
        assert!(md["token_endpoint"].as_str().unwrap().ends_with("/oauth2/token"));
        assert!(md["introspection_endpoint"].as_str().unwrap().ends_with("/oauth2/introspect"));
        assert!(md["revocation_endpoint"].as_str().unwrap().ends_with("/oauth2/revoke"));
        assert!(md["jwks_uri"].as_str().unwrap().ends_with("/.well-known/jwks.json"));
        assert_eq!(md["token_endpoint_auth_methods_supported"], serde_json::json!(["client_secret_basic", "client_secret_post"]));
        assert_eq!(md["grant_types_supported"], serde_json::json!(["authorization_code", "client_credentials", "password", "refresh_token"]));
    }
});
