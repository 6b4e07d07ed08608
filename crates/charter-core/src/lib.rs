//! Charter's protocol engine.
//!
//! Everything here is pure: no HTTP, no database, no clock. Time is always a
//! parameter ([`time::UnixTime`]), randomness comes from the operating system
//! through `aws-lc-rs`. The HTTP server and the store are wired around this
//! crate by the `charter` binary.

pub mod audit;
pub mod browser;
pub mod claims;
pub mod client;
pub mod client_auth;
pub mod config;
pub mod digest;
pub mod error;
pub mod filter;
pub mod grant;
pub mod introspection;
pub mod jws;
pub mod keys;
pub mod login_throttle;
pub mod metadata;
pub mod observation;
pub mod access_report;
pub mod refresh;
pub mod request;
pub mod scope;
pub mod scope_policy;
pub mod secret;
pub mod time;
pub mod token;

pub use error::{OAuthError, OAuthErrorCode};
