//! Human passwords: Argon2id, computed off the async threads.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The hash of a random password nobody knows, made once: a login naming an
/// unknown account is checked against it, so it costs the same time as one
/// naming a real account.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        let secret = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(secret.as_str().as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must be 8 to 1024 characters")]
    Weak,
    #[error("hashing failed")]
    Hash,
}

pub async fn hash(password: String) -> Result<String, PasswordError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(PasswordError::Weak);
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| PasswordError::Hash)
    })
    .await
    .map_err(|_| PasswordError::Hash)?
}

/// Whether `password` matches `hash` (or, with no hash, spends the same time and says no).
pub async fn verify(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (stored, real) = match &hash {
            Some(h) => (h.as_str(), true),
            None => (dummy_hash(), false),
        };
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}
