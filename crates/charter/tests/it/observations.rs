//! Observations from resource servers, the access report and the retrofit of legacy applications.

use crate::both_backends;
use crate::helpers::*;
use charter_server::admin::{catalogue, observations};
use serde_json::json;

async fn catalogue_scopes(app: &TestApp) {
    let s = app.store.as_ref();
    catalogue::create_resource(s, &app.actor(), "catalog", "discovery", "Course catalogue", vec![]).await.unwrap();
    catalogue::create_scope(s, &app.actor(), "catalog:read", "Read the course catalogue", false, Default::default()).await.unwrap();
    catalogue::create_resource(s, &app.actor(), "enrollments", "lms", "Enrollments", vec![]).await.unwrap();
    catalogue::create_scope(s, &app.actor(), "enrollments:read", "Read enrollments", false, Default::default()).await.unwrap();
}

fn decision(client: &str, route: &str, held: &[&str], all: &[&str], any: &[&str], decision: &str, count: u64) -> serde_json::Value {
    json!({
        "at": 0, "client_id": client, "method": "GET", "route": route,
        "scopes_held": held, "required_all": all, "required_any": any,
        "mode": "report-only", "decision": decision,
        "reason": if decision == "allow" { "ok" } else { "missing_scope" }, "count": count,
    })
}

async fn bearer_post(app: &TestApp, token: Option<&str>, body: serde_json::Value) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = app.http.post(app.url("/api/v1/observations")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.json().await.unwrap_or(serde_json::Value::Null))
}

both_backends!(report_only_observations_make_a_report_and_a_minimal_retrofit, |app: TestApp| async move {
    catalogue_scopes(&app).await;
    let legacy = app.client("legacy", |s| s.scopes = vec!["grades:read".into()]).await;
    let rs = app.client("catalogue-rs", |s| s.scopes = vec!["charter:report charter:introspect".into()]).await;
    let (_, b) = app.token(&rs, &[("scope", "charter:report")]).await;
    let report_token = b["access_token"].as_str().unwrap().to_owned();
    let batch = json!({
        "service": "course-catalogue",
        "decisions": [
            decision("legacy", "/api/courses", &["read"], &["catalog:read"], &[], "would_deny", 5),
            decision("legacy", "/api/courses/{course_id}", &["read"], &["catalog:read"], &[], "would_deny", 2),
            decision("legacy", "/api/users/{username}/enrollments", &["read"], &["enrollments:read"], &[], "would_deny", 1),
            decision("legacy", "/api/progress", &["read"], &[], &["enrollments:read", "grades:read"], "allow", 3),
        ],
        "dropped": 0,
    });
    let (s, _, body) = bearer_post(&app, Some(&report_token), batch).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body, json!({"accepted": 11}));
    // The legacy app's token is introspected by the resource server: an observation too.
    let (_, b) = app.token(&legacy, &[]).await;
    assert_eq!(app.introspect(&rs, b["access_token"].as_str().unwrap()).await["active"], true);

    // The report, through the API, with an admin token.
    let admin = app.client("ops", |s| s.scopes = vec!["charter:admin".into()]).await;
    let (_, b) = app.token(&admin, &[("scope", "charter:admin")]).await;
    let admin_token = b["access_token"].as_str().unwrap().to_owned();
    let rep: serde_json::Value = app.http.get(app.url("/api/v1/applications/legacy/access-report")).bearer_auth(&admin_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(rep["requests"], 11);
    assert_eq!(rep["would_deny"], 8);
    assert_eq!(rep["scopes_required"], json!(["catalog:read", "enrollments:read", "grades:read"]));
    let routes: Vec<&str> = rep["routes"].as_array().unwrap().iter().map(|r| r["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["/api/courses", "/api/courses/{course_id}", "/api/progress", "/api/users/{username}/enrollments"]);
    assert_eq!(rep["routes"][0]["reporter"], "catalogue-rs");
    assert_eq!(rep["routes"][0]["refusals"]["missing_scope"], 5);
    assert_eq!(rep["introspections"][0]["reporter"], "catalogue-rs");
    assert_eq!(rep["introspections"][0]["active"], 1);

    // The proposal is exactly the minimal set: catalog:read and enrollments:read (which also meets the any-of).
    let p = observations::proposal(app.store.as_ref(), "legacy", charter_core::time::UnixTime(0), app.actor().now).await.unwrap();
    assert_eq!(p.proposed, vec!["catalog:read", "enrollments:read"]);
    assert_eq!(p.added, vec!["catalog:read", "enrollments:read"]);
    assert_eq!(p.removed, vec!["grades:read"]);
    let via_api: serde_json::Value = app.http.get(app.url("/api/v1/applications/legacy/retrofit")).bearer_auth(&admin_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(via_api["proposed"], json!(["catalog:read", "enrollments:read"]));
    // Applied on confirmation, and audited.
    let view = observations::apply(app.store.as_ref(), &app.actor(), &p).await.unwrap();
    assert_eq!(view.allowed_scopes, vec!["catalog:read", "enrollments:read"]);
    let (s, b) = app.token(&legacy, &[("scope", "catalog:read enrollments:read")]).await;
    assert_eq!(s, 200, "{b}");
    let events = app.store.audit_events(&charter_store::AuditQuery { action_prefix: Some("application.retrofitted".into()), limit: 5, ..Default::default() }).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.detail["added"], json!(["catalog:read", "enrollments:read"]));
    // A stale proposal is refused.
    assert!(observations::apply(app.store.as_ref(), &app.actor(), &p).await.is_err());
});

both_backends!(observations_need_a_token_with_the_report_scope, |app: TestApp| async move {
    let batch = json!({"service": "x", "decisions": [decision("a", "/r", &[], &["x:read"], &[], "deny", 1)]});
    let (s, h, _) = bearer_post(&app, None, batch.clone()).await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Bearer realm=\"charter\"");
    let (s, h, b) = bearer_post(&app, Some("not-a-token"), batch.clone()).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_token")));
    assert!(h["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let plain = app.client("plain", |_| {}).await;
    let (_, t) = app.token(&plain, &[]).await;
    let (s, h, b) = bearer_post(&app, t["access_token"].as_str(), batch.clone()).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("insufficient_scope")));
    assert!(h["www-authenticate"].to_str().unwrap().contains("scope=\"charter:report\""));
    // With the scope: malformed batches are 400 with a reason.
    let rs = app.client("rs", |s| s.scopes = vec!["charter:report".into()]).await;
    let (_, t) = app.token(&rs, &[("scope", "charter:report")]).await;
    let token = t["access_token"].as_str().unwrap();
    let (s, _, b) = bearer_post(&app, Some(token), json!({"nope": 1})).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    let bad = json!({"service": "x", "decisions": [decision("a", "", &[], &[], &[], "deny", 1)]});
    let (s, _, b) = bearer_post(&app, Some(token), bad).await;
    assert_eq!(s, 400, "{b}");
    let (s, _, _) = bearer_post(&app, Some(token), batch).await;
    assert_eq!(s, 202);
    // The admin API needs charter:admin.
    let r = app.http.get(app.url("/api/v1/applications/rs/access-report")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
});

both_backends!(refusals_before_authentication_are_audited, |app: TestApp| async move {
    let (s, _, _) = app.post_form("/oauth2/token", None, &[("client_id", "who"), ("scope", "read")]).await;
    assert_eq!(s, 400);
    let r = app.http.post(app.url("/oauth2/token")).header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = app.http.post(app.url("/oauth2/token")).header("content-type", "application/x-www-form-urlencoded").body(vec![b'a'; 70_000]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let (s, _, _) = app.post_form("/oauth2/token", None, &[("grant_type", "client_credentials")]).await;
    assert_eq!(s, 401);
    let events = app.store.audit_events(&charter_store::AuditQuery { action_prefix: Some("token.refused".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[3].event.client_id.as_deref(), Some("who"));
    assert_eq!(events[3].event.detail["error"], "invalid_request");
    assert!(events.iter().all(|e| e.event.source.as_deref() == Some("127.0.0.1")));
});
