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

/// Why a login (the sign-in page or the password grant) failed.
#[derive(Debug)]
pub enum LoginError {
    /// Too many recent failures for this account or client address.
    Throttled,
    /// Unknown account or wrong password (not told apart).
    Invalid,
    Unavailable(charter_store::StoreError),
}

/// Checks a username (or email) and password, throttled per account and per client address
/// (`charter_core::login_throttle`); a failure is counted. Returns the account whatever its
/// status: callers decide what a disabled account may do.
pub async fn check_login(
    state: &crate::state::AppState,
    username: &str,
    password: &str,
    client_ip: Option<std::net::IpAddr>,
    now: charter_core::time::UnixTime,
) -> Result<charter_core::client::Account, LoginError> {
    use charter_core::login_throttle;
    let source = client_ip.map(super::browser::throttle_source).unwrap_or_else(|| "unknown".into());
    let found = state.store.login_account(username).await.map_err(LoginError::Unavailable)?;
    // One counter per account, whether it was named by username or by email.
    let key = match &found {
        Some((a, _)) => a.username.to_lowercase(),
        None => username.to_lowercase(),
    };
    let (by_account, by_source) = state
        .store
        .login_failures_since(&key, &source, now.minus(login_throttle::WINDOW))
        .await
        .map_err(LoginError::Unavailable)?;
    if !login_throttle::allowed(by_account, by_source) {
        metrics::counter!("charter_login_throttled_total").increment(1);
        return Err(LoginError::Throttled);
    }
    let (account, hash) = match found {
        Some((a, h)) => (Some(a), h),
        None => (None, None),
    };
    match account {
        Some(a) if verify(password.to_owned(), hash).await => Ok(a),
        _ => {
            state.store.record_login_failure(now, &key, &source).await.map_err(LoginError::Unavailable)?;
            Err(LoginError::Invalid)
        }
    }
}
