//! Configuration: defaults, then a TOML file, then `CHARTER_*` environment
//! variables, then command-line flags. Zero configuration works.

use charter_core::digest::MasterKey;
use charter_server::ServerSettings;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// (No `Debug`: it may hold the master key and a database password.)
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `sqlite://path/to/charter.db` (default `data/charter.db`) or `postgres://…`.
    pub database_url: String,
    /// Address to listen on.
    pub listen: String,
    /// Base64 of 32 bytes. Without it, a key file is used (made on first start).
    pub master_key: Option<String>,
    /// Where the master key file lives; default: beside the SQLite database, or `./charter.key`.
    pub master_key_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    /// A `tracing` filter, e.g. `info,charter_server=debug`.
    pub log_filter: String,
    pub server: ServerSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/charter.db".into(),
            listen: "127.0.0.1:8000".into(),
            master_key: None,
            master_key_file: None,
            log_format: "text".into(),
            log_filter: "info".into(),
            server: ServerSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("master key: {0}")]
    MasterKey(String),
}

impl Config {
    /// Loads from `file` (if given, or `charter.toml` if it exists), then the environment.
    /// Nested keys use `__` in the environment: `CHARTER_SERVER__TOKENS__ISSUER`.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) if !f.exists() => {
                return Err(ConfigError::Invalid(format!("configuration file {} does not exist", f.display())))
            }
            Some(f) => fig = fig.merge(Toml::file(f)),
            None if Path::new("charter.toml").exists() => fig = fig.merge(Toml::file("charter.toml")),
            None => {}
        }
        fig = fig.merge(Env::prefixed("CHARTER_").split("__"));
        let cfg: Config = fig.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.server.tokens;
        if t.access_token_ttl <= 0 || t.access_token_ttl > 86_400 * 30 {
            return Err(ConfigError::Invalid("server.tokens.access_token_ttl must be 1 s to 30 days".into()));
        }
        if !(t.issuer.starts_with("https://") || t.issuer.starts_with("http://")) {
            return Err(ConfigError::Invalid("server.tokens.issuer must be an http(s) URL".into()));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid("server.max_body_bytes must be at least 1024".into()));
        }
        if self.server.key_rotation_delay < 0 {
            return Err(ConfigError::Invalid("server.key_rotation_delay must not be negative".into()));
        }
        Ok(())
    }

    /// The SQLite database file, if the URL names one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let u = &self.database_url;
        if u.starts_with("postgres://") || u.starts_with("postgresql://") {
            return None;
        }
        let p = u.strip_prefix("sqlite://").or_else(|| u.strip_prefix("sqlite:")).unwrap_or(u);
        let p = p.split('?').next().unwrap_or(p);
        (!p.is_empty() && p != ":memory:").then(|| PathBuf::from(p))
    }

    /// Makes the SQLite database's folder if needed.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        if let Some(dir) = self.sqlite_path().as_deref().and_then(Path::parent) {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| ConfigError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        Ok(())
    }

    fn key_file(&self) -> PathBuf {
        if let Some(f) = &self.master_key_file {
            return f.clone();
        }
        match self.sqlite_path() {
            Some(db) => {
                let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "charter".into());
                name.push(".master.key");
                db.with_file_name(name)
            }
            None => PathBuf::from("charter.key"),
        }
    }

    /// The master key: from configuration, or from the key file (made with
    /// owner-only permissions on first use).
    pub fn master_key(&self) -> Result<MasterKey, ConfigError> {
        if let Some(k) = &self.master_key {
            return MasterKey::from_base64(k).map_err(|e| ConfigError::MasterKey(e.to_string()));
        }
        let path = self.key_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_base64(&text)
                .map_err(|e| ConfigError::MasterKey(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(&path),
            Err(e) => Err(ConfigError::MasterKey(format!("cannot read {}: {e}", path.display()))),
        }
    }
}

fn create_key_file(path: &Path) -> Result<MasterKey, ConfigError> {
    use std::io::Write;
    let key = MasterKey::generate().map_err(|e| ConfigError::MasterKey(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ConfigError::MasterKey(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let write = |opts: &std::fs::OpenOptions| -> std::io::Result<()> {
        let mut f = opts.open(path)?;
        f.write_all(key.to_base64().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    };
    match write(&opts) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "made a new master key file; back it up: without it, stored keys and secrets cannot be used");
            Ok(key)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::MasterKey(e.to_string()))?;
            MasterKey::from_base64(&text).map_err(|e| ConfigError::MasterKey(e.to_string()))
        }
        Err(e) => Err(ConfigError::MasterKey(format!("cannot write {}: {e}", path.display()))),
    }
}
