//! Token enforcement for Rust resource servers in front of Charter.
//!
//! ```ignore
//! use charter_guard::{Guard, GuardConfig, Mode, Requirement, VerifiedToken};
//!
//! let guard = Guard::start(
//!     GuardConfig::new("https://auth.example.org/oauth2")
//!         .audience("lms-key")
//!         .client_credentials("catalogue", secret)   // introspection and reporting
//!         .mode(Mode::ReportOnly),
//! )
//! .await?;
//! let app = Router::new()
//!     .route("/api/courses/{course_id}", get(course)
//!         .route_layer(guard.require(Requirement::scopes_all(["catalog:read"]).content_org_param("course_id"))));
//! async fn course(token: VerifiedToken) -> String { token.client_id_or_unknown().to_owned() }
//! ```
//!
//! * JWTs are verified against the issuer's JWKS (found through its RFC 8414
//!   metadata), cached, fetched again for an unknown `kid` at most once per
//!   `kid_refetch_interval`, and refreshed in the background. The algorithm
//!   comes from the key, never from the token.
//! * Opaque tokens (only those shaped like Charter's) are introspected with this
//!   service's own client credentials, a few at a time; answers are cached briefly
//!   (bounded in size and time, keyed by the token's SHA-256).
//! * Each route declares a [`Requirement`]: scopes (all-of, any-of) and Open
//!   edX's `content_org` and `user:me` filters, under a [`Policy`].
//! * Each decision is logged (`charter_guard::decision`) and reported to
//!   Charter in batches, without ever delaying a request.
//!
//! See `docs/enforcement.md`.

mod claims;
mod config;
mod error;
mod guard;
mod issuer;
mod jwks;
mod layer;
mod report;
mod requirement;
mod response;

pub use charter_wire::{Decision, Mode};
pub use claims::{Claims, TokenSource, VerifiedToken};
pub use config::{ConfigError, GuardConfig, Policy, ReportConfig};
pub use error::{AuthError, TokenError};
pub use guard::{token_from_headers, CheckRequest, Guard, Route, Verdict};
pub use layer::{NoVerifiedToken, Require, RequireLayer};
pub use report::{ReportError, ReporterStats};
pub use requirement::{course_key_org, Denial, NoParams, PathParams, Requirement};
pub use response::Refusal;
