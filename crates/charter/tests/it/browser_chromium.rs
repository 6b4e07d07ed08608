//! The whole delegated-access flow in headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test.sh`): sign in, consent, code, token,
//! userinfo; denial; the switch to Arabic with a right-to-left page; revoking from the
//! authorized-applications page. Screenshots of the consent page in each language are
//! kept in `target/artifacts/`.

use crate::helpers::*;
use charter_server::admin::accounts;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use oauth2::PkceCodeChallenge;
use serde_json::json;
use std::process::{Child, Command, Stdio};

struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is needed for the browser tests: apt-get install chromium chromium-driver (scripts/test.sh does)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Driver { child, port, _profile: tempfile::tempdir().unwrap() }
}

async fn browser(driver: &Driver, accept_language: &str) -> Browser {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=900,900",
                format!("--user-data-dir={}", driver._profile.path().join(accept_language).display()),
                format!("--lang={accept_language}"),
            ],
            "prefs": { "intl": { "accept_languages": accept_language } }
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("Chromium could not be started through chromedriver")
}

fn artifacts() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn fill(b: &Browser, id: &str, text: &str) {
    b.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap();
}

async fn click(b: &Browser, id: &str) {
    b.find(Locator::Id(id)).await.unwrap().click().await.unwrap();
}

async fn html_attr(b: &Browser, attr: &str) -> String {
    b.execute(&format!("return document.documentElement.getAttribute('{attr}')"), vec![]).await.unwrap().as_str().unwrap_or("").to_owned()
}

/// The text of `main` once it satisfies `ok` (a click's navigation may still be under way).
async fn main_text_when(b: &Browser, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = b.find(Locator::Css("main")).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    last
}

async fn url_when(b: &Browser, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = b.current_url().await.unwrap().to_string();
        if ok(&last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    last
}

fn query(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_in_headless_chromium() {
    let app = spawn_app(Backend::Sqlite).await;
    // The application's redirect URI is Charter's own /healthz on loopback: the browser lands
    // there with the code in the address bar, where the test reads it.
    let callback = app.url("/healthz");
    accounts::create_user(
        app.store.as_ref(),
        &app.actor(),
        accounts::NewUser {
            username: "amira".into(),
            email: Some("amira@example.org".into()),
            full_name: Some("Amira Haddad".into()),
            is_staff: false,
            password: Some("correct horse battery".into()),
        },
    )
    .await
    .unwrap();
    let cb = callback.clone();
    let _ = app
        .client("study-buddy", move |s| {
            s.name = "Study Buddy".into();
            s.client_type = Some("public".into());
            s.grant_types = vec!["authorization_code".into()];
            s.redirect_uris = vec![cb];
            s.scopes = vec!["grades:read openid".into()];
            s.filters = vec!["content_org:MITx".into()];
        })
        .await;
    let driver = start_driver().await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let authorize = format!(
        "{}?response_type=code&client_id=study-buddy&redirect_uri={}&scope=openid%20profile%20grades%3Aread&state=xyz&code_challenge={}&code_challenge_method=S256",
        app.url("/oauth2/authorize"),
        form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>(),
        challenge.as_str()
    );

    // Sign in and consent, in English; screenshots of the consent page in every language.
    let b = browser(&driver, "en").await;
    b.goto(&authorize).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/login"));
    fill(&b, "username", "amira").await;
    fill(&b, "password", "correct horse battery").await;
    click(&b, "sign-in").await;
    let body = main_text_when(&b, |t| t.contains("Study Buddy wants")).await;
    assert!(body.contains("Study Buddy wants to access your account"), "{body}");
    assert!(body.contains("Retrieve your grades for your enrolled courses"), "{body}");
    assert!(body.contains("only for courses of MITx"), "{body}");
    for lang in ["en", "es", "fr", "ar"] {
        b.goto(&format!("{authorize}&lang={lang}")).await.unwrap();
        assert_eq!(html_attr(&b, "lang").await, lang);
        std::fs::write(artifacts().join(format!("consent-{lang}.png")), b.screenshot().await.unwrap()).unwrap();
    }
    // The switch to Arabic, from the page's own link: a right-to-left page.
    b.goto(&format!("{authorize}&lang=en")).await.unwrap();
    b.find(Locator::Css("a[hreflang=ar]")).await.unwrap().click().await.unwrap();
    main_text_when(&b, |t| t.contains("يريد")).await;
    assert_eq!(html_attr(&b, "dir").await, "rtl");
    let arabic = b.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert!(arabic.contains("يريد"), "{arabic}");
    let direction = b.execute("return getComputedStyle(document.body).direction", vec![]).await.unwrap();
    assert_eq!(direction, json!("rtl"));

    // Approve: back at the application with the code and the state.
    click(&b, "approve").await;
    let landed = url_when(&b, |u| u.starts_with(&callback)).await;
    assert!(landed.starts_with(&callback), "{landed}");
    assert_eq!(query(&landed, "state").as_deref(), Some("xyz"));
    let code = query(&landed, "code").unwrap();
    let (s, _, tok) = app
        .post_form("/oauth2/token", None, &[("grant_type", "authorization_code"), ("client_id", "study-buddy"), ("code", &code), ("redirect_uri", &callback), ("code_verifier", verifier.secret())])
        .await;
    assert_eq!(s, 200, "{tok}");
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let info: serde_json::Value = app.http.get(app.url("/oauth2/userinfo")).bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["preferred_username"], "amira");

    // Revoke from the authorized-applications page: the token stops at once.
    b.goto(&app.url("/account/applications?lang=en")).await.unwrap();
    let page = main_text_when(&b, |t| t.contains("Study Buddy")).await;
    assert!(page.contains("Study Buddy"), "{page}");
    b.find(Locator::Css("section[data-client-id=study-buddy] button.revoke")).await.unwrap().click().await.unwrap();
    let page = main_text_when(&b, |t| t.contains("No application has access")).await;
    assert!(page.contains("No application has access"), "{page}");
    let rs = app.resource_server("rs").await;
    assert_eq!(app.introspect(&rs, &access).await, json!({"active": false}));

    // Denial: the application is told access_denied.
    b.goto(&format!("{authorize}&lang=en")).await.unwrap();
    main_text_when(&b, |t| t.contains("Study Buddy wants")).await;
    click(&b, "deny").await;
    let landed = url_when(&b, |u| u.contains("error=")).await;
    assert_eq!(query(&landed, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&landed, "state").as_deref(), Some("xyz"));
    b.close().await.unwrap();

    // A Spanish browser gets the Spanish page from Accept-Language alone.
    let es = browser(&driver, "es").await;
    es.goto(&authorize).await.unwrap();
    fill(&es, "username", "amira").await;
    fill(&es, "password", "correct horse battery").await;
    click(&es, "sign-in").await;
    main_text_when(&es, |t| t.contains("quiere acceder")).await;
    assert_eq!(html_attr(&es, "lang").await, "es");
    let h1 = es.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(h1, "Study Buddy quiere acceder a tu cuenta");
    es.close().await.unwrap();
}
