//! Several Charter processes on one PostgreSQL database.

use crate::helpers::*;
use charter_core::client::Status;
use charter_core::keys::SigningAlgorithm;
use charter_server::admin::{applications, keys};
use charter_server::ManualClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_agree() {
    charter_store::testing::with_fresh_postgres(|url| async move { two_nodes(&url).await }).await;
}

async fn two_nodes(url: &str) {
    let a = spawn_node(Backend::Postgres, url, test_master_key(), test_settings(), ManualClock::default(), None).await;
    let b = spawn_node(Backend::Postgres, url, test_master_key(), test_settings(), ManualClock::default(), None).await;
    let rs = a.resource_server("rs").await;
    let c = a.client("shared", |s| s.token_format = Some("opaque".into())).await;
    // A token issued by node A is active at node B.
    let (_, t) = a.token(&c, &[]).await;
    let token = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(b.introspect(&rs, &token).await["active"], true);
    // Revoked at node B: inactive at node A at once.
    let (s, _, _) = b.post_form("/oauth2/revoke", Some((&c.client_id, &c.secret)), &[("token", &token)]).await;
    assert_eq!(s, 200);
    assert_eq!(a.introspect(&rs, &token).await["active"], false);
    // Suspension by an operator is seen by both nodes at once.
    let (_, t) = b.token(&c, &[("token_type", "jwt")]).await;
    let jwt = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(a.introspect(&rs, &jwt).await["active"], true);
    applications::set_status(a.store.as_ref(), &a.actor(), "shared", Status::Suspended).await.unwrap();
    assert_eq!(a.introspect(&rs, &jwt).await["active"], false);
    assert_eq!(b.introspect(&rs, &jwt).await["active"], false);
    assert_eq!(b.token(&c, &[]).await.0, 401);
    applications::set_status(a.store.as_ref(), &a.actor(), "shared", Status::Active).await.unwrap();
    // A key rotated in by an operator is published by both nodes at once, and
    // once it signs, tokens from either node verify at the other.
    let k = keys::rotate(a.store.as_ref(), &a.actor(), &a.master.sealing_key(), SigningAlgorithm::EdDSA, 0).await.unwrap();
    for node in [&a, &b] {
        let jwks = node.get_json("/.well-known/jwks.json").await;
        assert!(jwks["keys"].as_array().unwrap().iter().any(|j| j["kid"] == k.kid.as_str()));
    }
    a.clock.advance(1);
    b.clock.advance(1);
    let (_, t) = b.token(&c, &[("token_type", "jwt")]).await;
    let jwt = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jsonwebtoken::decode_header(&jwt).unwrap().kid.as_deref(), Some(k.kid.as_str()));
    assert_eq!(a.introspect(&rs, &jwt).await["active"], true);
}
