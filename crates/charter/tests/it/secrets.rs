//! Client secrets: stored as keyed digests, several live at once, rotated with overlap.

use crate::both_backends;
use crate::helpers::*;
use charter_server::admin::secrets;

both_backends!(rotation_keeps_both_secrets_valid_until_the_old_one_expires, |app: TestApp| async move {
    let old = app.client("rotsec", |_| {}).await;
    assert_eq!(app.token(&old, &[]).await.0, 200);
    let created = secrets::rotate(app.store.as_ref(), &app.actor(), "rotsec", 600, &app.master.digest_key()).await.unwrap();
    let new = Client { client_id: "rotsec".into(), secret: created.client_secret.clone() };
    assert_ne!(new.secret, old.secret);
    assert_eq!(app.token(&old, &[]).await.0, 200, "old secret valid during the overlap");
    assert_eq!(app.token(&new, &[]).await.0, 200, "new secret valid at once");
    app.clock.advance(601);
    let (s, b) = app.token(&old, &[]).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")), "old secret expired");
    assert_eq!(app.token(&new, &[]).await.0, 200);
    let listed = secrets::list(app.store.as_ref(), "rotsec", app.actor().now).await.unwrap();
    assert_eq!(listed.iter().filter(|s| s.live).count(), 1);
});

both_backends!(a_revoked_secret_stops_at_once_and_secrets_are_stored_as_digests, |app: TestApp| async move {
    let c = app.client("revsec", |_| {}).await;
    let stored = app.store.list_secrets("revsec").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].digest, app.master.digest_key().digest(c.secret.as_bytes()));
    assert!(!stored[0].digest.windows(8).any(|w| c.secret.as_bytes().windows(8).any(|x| x == w)));
    secrets::revoke(app.store.as_ref(), &app.actor(), "revsec", &stored[0].id).await.unwrap();
    assert_eq!(app.token(&c, &[]).await.0, 401);
});

both_backends!(a_secret_with_an_expiry_stops_when_it_expires, |app: TestApp| async move {
    let c = app.client("expsec", |s| s.secret_expires_in = Some(100)).await;
    assert_eq!(app.token(&c, &[]).await.0, 200);
    app.clock.advance(100);
    assert_eq!(app.token(&c, &[]).await.0, 401);
});
