//! The `charter` binary, as an operator uses it.

use tokio::io::AsyncBufReadExt;
use std::process::{Command, Stdio};

fn charter(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_charter"))
        .current_dir(dir)
        .env_remove("CHARTER_CONFIG")
        .env("CHARTER_DATABASE_URL", format!("sqlite://{}", dir.join("db/charter.db").display()))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn operator_workflow_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = charter(d, &["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = charter(d, &["service-user", "create", "partner", "--email", "p@example.com", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["username"], "partner");
    let (code, _, err) = charter(d, &["service-user", "create", "partner"]);
    assert_eq!(code, 73, "duplicate username: {err}");
    assert!(err.contains("taken"), "{err}");
    let (code, out, err) = charter(
        d,
        &["app", "create", "--name", "Partner app", "--owner", "partner", "--client-id", "partner-app", "--scope", "grades:read", "--filter", "content_org:MITx", "--restricted", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let created = json(&out);
    assert_eq!(created["application"]["client_id"], "partner-app");
    assert_eq!(created["application"]["filters"], serde_json::json!(["content_org:MITx"]));
    assert_eq!(created["application"]["restricted"], true);
    let secret = created["secret"]["client_secret"].as_str().unwrap().to_owned();
    // The master key file was made beside the database, owner-only.
    let key = d.join("db/charter.db.master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(secret.len() >= 43);
    // The secret is never shown again.
    let (_, out, _) = charter(d, &["app", "show", "partner-app", "--json"]);
    assert!(!out.contains(&secret));
    let (_, out, _) = charter(d, &["secret", "list", "partner-app", "--json"]);
    assert!(!out.contains(&secret));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    // Bad names are refused with a reason.
    let (code, _, err) = charter(d, &["scope", "create", "Catalog:Read", "--description", "x"]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("a-z"), "{err}");
    let (code, _, err) = charter(d, &["app", "update", "partner-app", "--filter", "content_org:a:b"]);
    assert_eq!(code, 65, "{err}");
    let (code, _, err) = charter(d, &["app", "show", "nope"]);
    assert_eq!(code, 66, "{err}");
    // Resources and scopes.
    let (code, _, err) = charter(d, &["resource", "create", "catalog", "--service", "discovery", "--description", "Course catalogue"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = charter(d, &["scope", "create", "catalog:read", "--description", "Read the catalogue", "--translation", "fr=Lire le catalogue"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = charter(d, &["app", "update", "partner-app", "--add-scope", "catalog:read", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["allowed_scopes"], serde_json::json!(["catalog:read", "grades:read"]));
    // Keys: list, rotate, export for Open edX.
    let (code, out, err) = charter(d, &["keys", "rotate", "--delay", "0", "--json"]);
    assert_eq!(code, 0, "{err}");
    let kid = json(&out)["kid"].as_str().unwrap().to_owned();
    let (_, out, _) = charter(d, &["keys", "list", "--json"]);
    assert!(json(&out).as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str() && k["state"] == "signing"));
    let (code, out, _) = charter(d, &["keys", "export", "--openedx", "--json"]);
    assert_eq!(code, 0);
    let setting = json(&out)["JWT_PUBLIC_SIGNING_JWK_SET"].as_str().unwrap().to_owned();
    let set = json(&setting);
    assert!(set["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str() && k["kty"] == "RSA"));
    // Suspend, then the audit trail shows every change.
    let (code, out, _) = charter(d, &["app", "suspend", "partner-app", "--json"]);
    assert_eq!((code, json(&out)["status"].as_str()), (0, Some("suspended")));
    let (_, out, _) = charter(d, &["audit", "--client-id", "partner-app", "--json"]);
    let actions: Vec<String> = json(&out).as_array().unwrap().iter().map(|e| e["event"]["action"].as_str().unwrap().to_owned()).collect();
    for a in ["application.created", "secret.created", "application.updated", "application.suspended"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_gives_credentials_that_get_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_charter"))
        .current_dir(dir.path())
        .env_remove("CHARTER_CONFIG")
        .env("CHARTER_DATABASE_URL", format!("sqlite://{}", dir.path().join("charter.db").display()))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut reader = tokio::io::BufReader::new(stdout).lines();
    while let Some(line) = tokio::time::timeout(std::time::Duration::from_secs(60), reader.next_line()).await.unwrap().unwrap() {
        let done = line.contains("curl");
        lines.push(line);
        if done {
            break;
        }
    }
    let secret = lines.iter().find_map(|l| l.trim().strip_prefix("client_secret:")).unwrap().trim().to_owned();
    let curl = lines.iter().find(|l| l.contains("curl")).unwrap();
    let base = curl.split_whitespace().last().unwrap().trim_end_matches("/oauth2/token").to_owned();
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth("demo-app", Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "grades:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "grades:read");
    // Graceful stop on SIGTERM.
    #[cfg(unix)]
    {
        let pid = child.id().unwrap();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status:?}");
    }
}
