//! One module per group of commands.

mod admin;
mod keys;
mod serve;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use charter_server::admin::{Actor, AdminError};
use charter_store::{Store, StoreError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("{0}")]
    Other(String),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => 78,
            CommandError::Admin(AdminError::Invalid(_)) => 65,
            CommandError::Admin(AdminError::NotFound(_)) => 66,
            CommandError::Admin(AdminError::Conflict(_)) => 73,
            _ => 1,
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(u) = &cli.database_url {
        config.database_url = u.clone();
    }
    match cli.command {
        Command::Serve(args) => serve::serve(config, args).await,
        Command::Migrate => {
            init_logs(&config, false);
            let store = open_store(&config).await?;
            println!("schema of the {} database is up to date", store.backend());
            Ok(())
        }
        Command::Keys(cmd) => {
            init_logs(&config, false);
            keys::run(&config, cmd, cli.json).await
        }
        other => {
            init_logs(&config, false);
            admin::run(&config, other, cli.json).await
        }
    }
}

/// Opens and migrates the store, and loads the default catalogue into an empty one.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, CommandError> {
    config.prepare_data_dir()?;
    let store = charter_store::open(&config.database_url).await?;
    store.migrate().await?;
    charter_server::admin::catalogue::seed_openedx_defaults(store.as_ref(), &actor("system")).await?;
    Ok(store)
}

pub fn actor(kind: &str) -> Actor {
    use charter_server::Clock;
    let name = if kind == "cli" {
        format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()))
    } else {
        kind.to_owned()
    };
    Actor { name, now: charter_server::SystemClock.now() }
}

pub fn init_logs(config: &Config, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json || config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
