//! Scope rules as Open edX has them, and the published catalogue.

use crate::both_backends;
use crate::helpers::*;

both_backends!(requested_scopes_must_be_allowed_and_are_never_trimmed, |app: TestApp| async move {
    let c = app.client("scoped", |s| s.scopes = vec!["grades:read".into()]).await;
    let (s, b) = app.token(&c, &[("scope", "grades:read read")]).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "grades:read read");
    let (s, b) = app.token(&c, &[("scope", "grades:read certificates:read")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
    assert!(b["error_description"].as_str().unwrap().contains("certificates:read"));
    let (s, b) = app.token(&c, &[("scope", "nosuch:read")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
    let (s, b) = app.token(&c, &[("scope", "Bad Scope")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
});

both_backends!(no_scope_gives_the_defaults_plus_user_id_when_allowed, |app: TestApp| async move {
    let c = app.client("defaults", |_| {}).await;
    let (_, b) = app.token(&c, &[]).await;
    assert_eq!(b["scope"], "email profile read write");
    let c = app.client("withuid", |s| s.scopes = vec!["user_id".into()]).await;
    let (_, b) = app.token(&c, &[]).await;
    assert_eq!(b["scope"], "email profile read user_id write");
});

both_backends!(catalogue_is_published_and_changes_are_seen_at_once, |app: TestApp| async move {
    use charter_server::admin::catalogue;
    let cat = app.get_json("/oauth2/scopes").await;
    let names: Vec<&str> = cat["scopes"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for n in ["read", "write", "email", "profile", "user_id", "grades:read", "certificates:read", "tpa:read"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let grades = cat["scopes"].as_array().unwrap().iter().find(|s| s["name"] == "grades:read").unwrap();
    assert_eq!(grades["service"], "lms");
    assert_eq!(grades["description"], "Retrieve your grades for your enrolled courses");
    // A service adds a resource and a scope; the next token request may use it.
    catalogue::create_resource(app.store.as_ref(), &app.actor(), "catalog", "discovery", "Course catalogue", vec![]).await.unwrap();
    let mut tr = std::collections::BTreeMap::new();
    tr.insert("es".to_string(), "Leer el catálogo de cursos".to_string());
    catalogue::create_scope(app.store.as_ref(), &app.actor(), "catalog:read", "Read the course catalogue", false, tr).await.unwrap();
    let c = app.client("cat", |s| s.scopes = vec!["catalog:read".into()]).await;
    let (s, b) = app.token(&c, &[("scope", "catalog:read")]).await;
    assert_eq!(s, 200, "{b}");
    let cat = app.get_json("/oauth2/scopes").await;
    let entry = cat["scopes"].as_array().unwrap().iter().find(|s| s["name"] == "catalog:read").unwrap();
    assert_eq!(entry["service"], "discovery");
    assert_eq!(entry["translations"]["es"], "Leer el catálogo de cursos");
    // Deleting the scope makes it unavailable at once, even though the application still lists it.
    catalogue::delete_scope(app.store.as_ref(), &app.actor(), "catalog:read").await.unwrap();
    let (s, b) = app.token(&c, &[("scope", "catalog:read")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
});

both_backends!(bad_scope_and_filter_names_are_refused_with_a_reason, |app: TestApp| async move {
    use charter_server::admin::{applications, catalogue, AdminError};
    let e = catalogue::create_scope(app.store.as_ref(), &app.actor(), "catalog", "x", false, Default::default()).await.unwrap_err();
    assert!(matches!(&e, AdminError::Invalid(m) if m.contains("resource:action") || m.contains("legacy")), "{e}");
    let e = catalogue::create_scope(app.store.as_ref(), &app.actor(), "nosuch:read", "x", false, Default::default()).await.unwrap_err();
    assert!(matches!(&e, AdminError::Invalid(m) if m.contains("nosuch")), "{e}");
    let e = catalogue::create_scope(app.store.as_ref(), &app.actor(), "grades:delete", "x", false, Default::default()).await.unwrap_err();
    assert!(matches!(&e, AdminError::Invalid(m) if m.contains("not declared")), "{e}");
    let spec = applications::ApplicationSpec {
        name: "bad".into(),
        owner: "nobody".into(),
        ..Default::default()
    };
    assert!(matches!(applications::create(app.store.as_ref(), &app.actor(), spec, &app.master.digest_key()).await, Err(AdminError::NotFound(_))));
    let _ = app.client("f", |_| {}).await;
    let change = applications::ApplicationChange { filters: Some(vec!["content_org:a:b".into()]), ..Default::default() };
    let e = applications::update(app.store.as_ref(), &app.actor(), "f", change).await.unwrap_err();
    assert!(matches!(&e, AdminError::Invalid(m) if m.contains("second ':'")), "{e}");
    let change = applications::ApplicationChange { scopes: Some(vec!["unknown:read".into()]), ..Default::default() };
    assert!(matches!(applications::update(app.store.as_ref(), &app.actor(), "f", change).await, Err(AdminError::Invalid(_))));
});
