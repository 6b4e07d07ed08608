//! `spawn_app()`: the real server on port 0, over a fresh database.

use charter_core::digest::MasterKey;
use charter_server::admin::{accounts, applications, Actor};
use charter_server::{AppState, Clock, ManualClock, ServerSettings};
use charter_store::Store;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the test body once per backend: `both_backends!(name, |app| async move { … })`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                // A fresh database, dropped afterwards whether the test passed or not.
                charter_store::testing::with_fresh_postgres(|url| async move {
                    let app = $crate::helpers::spawn_node(
                        $crate::helpers::Backend::Postgres,
                        &url,
                        $crate::helpers::test_master_key(),
                        $crate::helpers::test_settings(),
                        charter_server::ManualClock::default(),
                        None,
                    )
                    .await;
                    ($body)(app).await;
                })
                .await;
            }
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub master: MasterKey,
    pub http: reqwest::Client,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

pub async fn database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("charter.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => (charter_store::testing::fresh_postgres_url().await, None),
    }
}

pub fn test_master_key() -> MasterKey {
    MasterKey::from_bytes([42; 32])
}

pub fn test_settings() -> ServerSettings {
    let mut s = ServerSettings { signing_alg: charter_core::keys::SigningAlgorithm::RS256, ..Default::default() };
    s.tokens.issuer = "http://charter.test/oauth2".into();
    s.tokens.audience = "lms-key".into();
    s
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, test_settings()).await
}

pub async fn spawn_app_with(backend: Backend, settings: ServerSettings) -> TestApp {
    let (url, dir) = database(backend).await;
    spawn_node(backend, &url, test_master_key(), settings, ManualClock::default(), dir).await
}

/// Starts a server over an existing database (another node of the same deployment).
pub async fn spawn_node(
    backend: Backend,
    url: &str,
    master: MasterKey,
    settings: ServerSettings,
    clock: ManualClock,
    dir: Option<tempfile::TempDir>,
) -> TestApp {
    let store = charter_store::open(url).await.unwrap();
    store.migrate().await.unwrap();
    let actor = Actor { name: "test".into(), now: clock.now() };
    charter_server::admin::catalogue::seed_openedx_defaults(store.as_ref(), &actor).await.unwrap();
    let state = AppState::start(store.clone(), &master, settings, Arc::new(clock.clone())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = state.clone();
    tokio::spawn(async move {
        let _ = charter_server::serve(listener, serving, std::future::pending()).await;
    });
    TestApp {
        base: format!("http://{addr}"),
        store,
        clock,
        master,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        backend,
        _dir: dir,
    }
}

pub struct Client {
    pub client_id: String,
    pub secret: String,
}

impl TestApp {
    pub fn actor(&self) -> Actor {
        Actor { name: "cli:test".into(), now: self.clock.now() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A service user and a confidential client_credentials application.
    pub async fn client(&self, client_id: &str, configure: impl FnOnce(&mut applications::ApplicationSpec)) -> Client {
        let owner = format!("svc-{client_id}");
        if self.store.account_by_username(&owner).await.unwrap().is_none() {
            accounts::create_service_user(
                self.store.as_ref(),
                &self.actor(),
                accounts::NewServiceUser {
                    username: owner.clone(),
                    email: Some(format!("{owner}@example.com")),
                    full_name: Some("Service Account".into()),
                },
            )
            .await
            .unwrap();
        }
        let mut spec = applications::ApplicationSpec {
            client_id: Some(client_id.into()),
            name: format!("App {client_id}"),
            owner,
            ..Default::default()
        };
        configure(&mut spec);
        let created = applications::create(self.store.as_ref(), &self.actor(), spec, &self.master.digest_key())
            .await
            .unwrap();
        Client { client_id: client_id.into(), secret: created.secret.map(|s| s.client_secret).unwrap_or_default() }
    }

    /// A resource server: a confidential application allowed to introspect others' tokens.
    pub async fn resource_server(&self, client_id: &str) -> Client {
        self.client(client_id, |s| s.scopes = vec!["charter:introspect".into()]).await
    }

    /// POSTs a form with HTTP Basic credentials; returns status, headers and JSON body.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    pub async fn token(&self, c: &Client, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let (s, _, b) = self.post_form("/oauth2/token", Some((&c.client_id, &c.secret)), &form).await;
        (s, b)
    }

    pub async fn introspect(&self, caller: &Client, token: &str) -> Value {
        let (s, _, b) = self
            .post_form("/oauth2/introspect", Some((&caller.client_id, &caller.secret)), &[("token", token)])
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.http.get(self.url(path)).send().await.unwrap().json().await.unwrap()
    }
}

/// Verifies a JWT against the JWKS the server publishes, as a resource server would.
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> Result<Value, String> {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or_else(|| format!("kid {kid} not published"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&["http://charter.test/oauth2"]);
    v.set_audience(&["lms-key"]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
}

/// Verifies with every published key in order, ignoring `kid`: how edx-drf-extensions does it.
pub async fn verify_like_openedx(app: &TestApp, token: &str) -> bool {
    let jwks: jsonwebtoken::jwk::JwkSet = app.get_json("/.well-known/jwks.json").await.pipe(|v| serde_json::from_value(v).unwrap());
    for jwk in &jwks.keys {
        let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else { continue };
        for alg in [jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::RS512] {
            let mut v = jsonwebtoken::Validation::new(alg);
            v.set_issuer(&["http://charter.test/oauth2"]);
            v.set_audience(&["lms-key"]);
            v.leeway = 0;
            if jsonwebtoken::decode::<Value>(token, &key, &v).is_ok() {
                return true;
            }
        }
    }
    false
}

pub trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}
