//! What the handlers call: load, decide with the engine, commit.

pub mod bearer;
pub mod browser;
pub mod client_auth;
pub mod introspect;
pub mod lookup;
pub mod password;
pub mod revoke;
pub mod token;
