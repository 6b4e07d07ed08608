//! Charter's integration tests: one binary; every test spawns the real server
//! on port 0 with a fresh database (a temporary SQLite file, or a fresh
//! PostgreSQL database on the local server).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod audit_and_metrics;
mod authorization_code;
mod browser_chromium;
mod cli;
mod guard;
mod hostile_input;
mod introspection_revocation;
mod keys;
mod multi_node;
mod observations;
mod openedx;
mod password_grant;
mod refresh_tokens;
mod scopes;
mod secrets;
mod token;
