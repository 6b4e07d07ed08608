//! An example resource server: a small course catalogue behind charter-guard.
//!
//! ```sh
//! export CATALOGUE_CLIENT_SECRET=…    # from the environment, not the command line (visible in `ps`)
//! course-catalogue --issuer http://127.0.0.1:8000/oauth2 --audience lms-key \
//!     --client-id catalogue-rs --mode report-only
//! ```
//!
//! Give `--audience`: without it, a token Charter issued for another service is accepted here.
//!
//! | Route | Requires |
//! |---|---|
//! | `GET /api/courses` | `catalog:read` |
//! | `GET /api/courses/{course_id}` | `catalog:read`; restricted applications: a `content_org` filter for the course's org |
//! | `GET /api/users/{username}/enrollments` | `enrollments:read`; a `user:me` filter must be `{username}` |
//! | `GET /healthz` | nothing |

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use charter_guard::{course_key_org, Guard, GuardConfig, Mode, Policy, ReportConfig, Requirement, VerifiedToken};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Enforce,
    ReportOnly,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    /// Scopes and filters bind restricted applications only (edx-drf-extensions).
    Openedx,
    /// Every token needs the route's scopes (OEP-4 least privilege).
    Strict,
}

/// A course catalogue protected by Charter's access tokens.
#[derive(Debug, Parser)]
#[command(name = "course-catalogue", version)]
struct Args {
    /// The issuer tokens must name (`iss`).
    #[arg(long, env = "CATALOGUE_ISSUER")]
    issuer: String,
    /// Where this service reaches Charter (default: the issuer's origin).
    #[arg(long, env = "CHARTER_URL")]
    charter_url: Option<String>,
    /// The audience tokens must name (`aud`). Without it the audience is not checked
    /// (a warning is logged): tokens issued for other services are accepted.
    #[arg(long, env = "CATALOGUE_AUDIENCE")]
    audience: Option<String>,
    #[arg(long, env = "CATALOGUE_LISTEN", default_value = "127.0.0.1:8100")]
    listen: String,
    /// This service's own application: introspects opaque tokens and reports decisions.
    #[arg(long, env = "CATALOGUE_CLIENT_ID")]
    client_id: Option<String>,
    /// This service's client secret. Prefer the environment variable: a value given
    /// on the command line is visible to every user of the machine (`ps`, /proc).
    #[arg(long, env = "CATALOGUE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    #[arg(long, env = "CATALOGUE_MODE", value_enum, default_value = "enforce")]
    mode: ModeArg,
    #[arg(long, env = "CATALOGUE_POLICY", value_enum, default_value = "strict")]
    policy: PolicyArg,
    /// Reach the endpoints named in Charter's metadata at --charter-url instead.
    #[arg(long)]
    rebase_endpoints: bool,
    /// Seconds between batches of decisions sent to Charter.
    #[arg(long, env = "CATALOGUE_FLUSH_SECS", default_value_t = 10)]
    flush_secs: u64,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

struct Course {
    id: &'static str,
    title: &'static str,
}

const COURSES: &[Course] = &[
    Course { id: "course-v1:MITx+6.002x+2024_T1", title: "Circuits and Electronics" },
    Course { id: "course-v1:MITx+6.00.1x+2024_T2", title: "Introduction to Computer Science and Programming Using Python" },
    Course { id: "course-v1:HarvardX+CS50x+2024", title: "CS50's Introduction to Computer Science" },
    Course { id: "course-v1:edX+DemoX+Demo_Course", title: "edX Demonstration Course" },
];

const ENROLLMENTS: &[(&str, &[&str])] = &[
    ("alice", &["course-v1:MITx+6.002x+2024_T1", "course-v1:HarvardX+CS50x+2024"]),
    ("bob", &["course-v1:edX+DemoX+Demo_Course"]),
    ("legacy-reports", &["course-v1:edX+DemoX+Demo_Course"]),
];

fn course_json(c: &Course) -> serde_json::Value {
    json!({"id": c.id, "org": course_key_org(c.id), "title": c.title})
}

async fn list_courses(token: Option<VerifiedToken>) -> Json<serde_json::Value> {
    Json(json!({
        "courses": COURSES.iter().map(course_json).collect::<Vec<_>>(),
        "viewer": token.map(|t| t.client_id_or_unknown().to_owned()),
    }))
}

async fn course(Path(course_id): Path<String>) -> Response {
    match COURSES.iter().find(|c| c.id == course_id) {
        Some(c) => Json(course_json(c)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not_found", "course_id": course_id}))).into_response(),
    }
}

async fn enrollments(Path(username): Path<String>) -> Json<serde_json::Value> {
    let list: &[&str] = ENROLLMENTS.iter().find(|(u, _)| *u == username).map(|(_, l)| *l).unwrap_or(&[]);
    Json(json!({"username": username, "enrollments": list}))
}

fn router(guard: &Guard) -> Router {
    Router::new()
        .route("/api/courses", get(list_courses).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]))))
        .route(
            "/api/courses/{course_id}",
            get(course).route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).content_org_param("course_id"))),
        )
        .route(
            "/api/users/{username}/enrollments",
            get(enrollments)
                .route_layer(guard.require(Requirement::scopes_all(["enrollments:read"]).user_param("username"))),
        )
        .route("/healthz", get(|| async { "ok" }))
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
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let matches = Args::command().get_matches();
    let secret_on_command_line = matches.value_source("client_secret") == Some(ValueSource::CommandLine);
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if args.json_logs {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        tracing_subscriber::fmt().with_ansi(ansi).with_env_filter(filter).init();
    }
    if secret_on_command_line {
        tracing::warn!("--client-secret is visible to other users of this machine: prefer CATALOGUE_CLIENT_SECRET");
    }
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("course-catalogue: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut cfg = GuardConfig::new(&args.issuer)
        .mode(match args.mode {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::ReportOnly => Mode::ReportOnly,
            ModeArg::Off => Mode::Off,
        })
        .policy(match args.policy {
            PolicyArg::Openedx => Policy::OpenEdx,
            PolicyArg::Strict => Policy::Strict,
        })
        .rebase_endpoints(args.rebase_endpoints)
        .report(ReportConfig {
            service_name: Some("course-catalogue".into()),
            flush_interval: Duration::from_secs(args.flush_secs.max(1)),
            ..Default::default()
        });
    if let Some(u) = &args.charter_url {
        cfg = cfg.charter_url(u);
    }
    match &args.audience {
        Some(a) => cfg = cfg.audience(a),
        None => tracing::warn!(
            "no --audience: tokens are accepted whatever their `aud`, including those Charter issued for other services"
        ),
    }
    match (&args.client_id, &args.client_secret) {
        (Some(id), Some(secret)) => cfg = cfg.client_credentials(id, secret),
        (None, None) => {
            tracing::warn!("no --client-id and client secret: opaque tokens are refused and decisions are not reported")
        }
        _ => return Err("give both --client-id and the client secret (CATALOGUE_CLIENT_SECRET)".into()),
    }
    let guard = Guard::start(cfg).await.map_err(|e| e.to_string())?;
    if let Err(e) = guard.ready().await {
        tracing::warn!(error = %e, "Charter's keys are not loaded yet; they will be fetched on demand");
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await.map_err(|e| format!("{}: {e}", args.listen))?;
    tracing::info!(listen = %args.listen, mode = ?args.mode, policy = ?args.policy, "course catalogue listening");
    axum::serve(listener, router(&guard))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    match guard.flush().await {
        Ok(n) => tracing::info!(decisions = n, "sent the last decisions to Charter"),
        Err(e) => tracing::info!(error = %e, "no last batch sent"),
    }
    Ok(())
}
