use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database could not be reached or the operation failed; the message never holds a secret.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value no longer parses (e.g. a scope name stored by hand).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(db.message().to_owned()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}
