//! `charter serve`.

use super::{actor, init_logs, open_store, CommandError};
use crate::cli::ServeArgs;
use crate::config::Config;
use charter_server::admin::{accounts, applications, secrets, AdminError};
use charter_core::keys::SigningAlgorithm;
use charter_server::{AppState, Clock, SystemClock};
use charter_store::Store;
use std::sync::Arc;

pub async fn serve(mut config: Config, args: ServeArgs) -> Result<(), CommandError> {
    if let Some(l) = args.listen {
        config.listen = l;
    }
    init_logs(&config, args.json_logs);
    // Metadata names endpoints under public_url; left at its default, follow the
    // configured issuer's origin (an issuer https://auth.example.org/oauth2 is
    // served at https://auth.example.org).
    if config.server.public_url == charter_server::ServerSettings::default().public_url {
        if let Some(origin) = origin_of(&config.server.tokens.issuer) {
            config.server.public_url = origin;
        }
    }
    if !matches!(config.server.signing_alg, SigningAlgorithm::RS256 | SigningAlgorithm::RS512) {
        tracing::warn!(alg = %config.server.signing_alg, "Open edX resource servers (edx-drf-extensions) verify only RS256/RS512 tokens");
    }
    let store = open_store(&config).await?;
    let master = config.master_key()?;
    let state = AppState::start(store.clone(), &master, config.server.clone(), Arc::new(SystemClock))
        .await
        .map_err(|e| CommandError::Other(format!("cannot start: {e}")))?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| CommandError::Other(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| CommandError::Other(e.to_string()))?;
    if args.demo {
        demo(store.as_ref(), &state, &format!("http://{addr}")).await?;
    }
    tokio::spawn(maintenance(store.clone()));
    tracing::info!(%addr, backend = store.backend(), issuer = %config.server.tokens.issuer, "charter is listening");
    charter_server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| CommandError::Other(e.to_string()))
}

/// Purges access tokens that expired more than an hour ago, every ten minutes.
async fn maintenance(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let before = SystemClock.now().minus(3600);
        match store.purge_expired_tokens(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged expired access tokens"),
            Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

const DEMO_USER: &str = "demo-service";
const DEMO_APP: &str = "demo-app";
const DEMO_LEARNER: &str = "demo-learner";
const DEMO_WEB: &str = "demo-web";

/// Makes sure the demo service user and application exist, replaces the demo
/// secret, and prints how to get a token.
async fn demo(store: &dyn Store, state: &AppState, base: &str) -> Result<(), CommandError> {
    let actor = actor("demo");
    if store.account_by_username(DEMO_USER).await?.is_none() {
        accounts::create_service_user(
            store,
            &actor,
            accounts::NewServiceUser {
                username: DEMO_USER.into(),
                email: Some("demo-service@example.com".into()),
                full_name: Some("Demo Service".into()),
            },
        )
        .await?;
    }
    if store.application(DEMO_APP).await?.is_none() {
        let spec = applications::ApplicationSpec {
            client_id: Some(DEMO_APP.into()),
            name: "Demo application".into(),
            owner: DEMO_USER.into(),
            scopes: vec!["grades:read certificates:read user_id".into()],
            ..Default::default()
        };
        applications::create(store, &actor, spec, &state.digest_key).await?;
    }
    for s in store.list_secrets(DEMO_APP).await? {
        if s.revoked_at.is_none() {
            secrets::revoke(store, &actor, DEMO_APP, &s.id).await?;
        }
    }
    let created = secrets::issue_secret(store, &actor, DEMO_APP, None, Some("demo".into()), &state.digest_key)
        .await
        .map_err(|e: AdminError| CommandError::Admin(e))?;
    let secret = created.client_secret;
    // An end user and a browser application, for the delegated-access flow.
    let learner_password = charter_core::secret::generate_secret().map_err(|e| CommandError::Other(e.to_string()))?;
    if store.account_by_username(DEMO_LEARNER).await?.is_none() {
        accounts::create_user(
            store,
            &actor,
            accounts::NewUser {
                username: DEMO_LEARNER.into(),
                email: Some("demo-learner@example.com".into()),
                full_name: Some("Demo Learner".into()),
                is_staff: false,
                password: None,
            },
        )
        .await?;
    }
    accounts::set_password(store, &actor, DEMO_LEARNER, learner_password.clone()).await?;
    let callback = format!("{base}/healthz");
    if store.application(DEMO_WEB).await?.is_none() {
        let spec = applications::ApplicationSpec {
            client_id: Some(DEMO_WEB.into()),
            name: "Demo web application".into(),
            owner: DEMO_USER.into(),
            client_type: Some("public".into()),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec![callback.clone()],
            scopes: vec!["grades:read openid".into()],
            ..Default::default()
        };
        applications::create(store, &actor, spec, &state.digest_key).await?;
    }
    let (verifier, challenge) = charter_core::browser::pkce_pair().map_err(|e| CommandError::Other(e.to_string()))?;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    println!("Charter demo application (this secret is shown once; a new one is made at each --demo start):");
    println!("  client_id:     {DEMO_APP}");
    println!("  client_secret: {secret}");
    println!("Get a token:");
    println!("  curl -s -u {DEMO_APP}:{secret} -d grant_type=client_credentials -d scope=grades:read {base}/oauth2/token");
    println!();
    println!("Delegated access in a browser: sign in as {DEMO_LEARNER} / {learner_password} at");
    println!(
        "  {base}/oauth2/authorize?response_type=code&client_id={DEMO_WEB}&redirect_uri={}&scope=openid%20profile%20grades%3Aread&state=demo&code_challenge={challenge}&code_challenge_method=S256",
        enc(&callback)
    );
    println!("then exchange the code from the address bar:");
    println!(
        "  curl -s -d grant_type=authorization_code -d client_id={DEMO_WEB} --data-urlencode redirect_uri={callback} -d code_verifier={verifier} -d code=<code> {base}/oauth2/token"
    );
    println!("Your authorized applications: {base}/account/applications");
    Ok(())
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}
