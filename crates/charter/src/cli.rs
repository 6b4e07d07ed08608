//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "charter", version, about = "Charter: an OAuth 2 authorization server for least-privilege applications (Open edX OEP-4)")]
pub struct Cli {
    /// TOML configuration file (default: ./charter.toml when it exists).
    #[arg(long, global = true, env = "CHARTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://… (overrides the configuration).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Create or migrate the database schema, then exit.
    Migrate,
    /// Service users: accounts for server-to-server integrations.
    #[command(subcommand, name = "service-user")]
    ServiceUser(AccountCmd),
    /// End users: people who log in and delegate access to applications.
    #[command(subcommand)]
    User(UserCmd),
    /// Applications (OAuth clients).
    #[command(subcommand, name = "app")]
    App(AppCmd),
    /// Client secrets of an application.
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Scopes of the published catalogue.
    #[command(subcommand)]
    Scope(ScopeCmd),
    /// Resources (groups of scopes owned by a service).
    #[command(subcommand)]
    Resource(ResourceCmd),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Read the audit log.
    Audit(AuditArgs),
    /// The access report of an application: routes used, scopes held and required, would-be denials.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long)]
    pub client_id: String,
    /// Start of the window, unix seconds (default: 30 days before --until).
    #[arg(long)]
    pub since: Option<i64>,
    /// End of the window, unix seconds (default: now).
    #[arg(long)]
    pub until: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides the configuration).
    #[arg(long)]
    pub listen: Option<String>,
    /// Make sure a demo service user and application exist, and print fresh demo credentials.
    #[arg(long)]
    pub demo: bool,
    /// Log as JSON.
    #[arg(long)]
    pub json_logs: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create a service user.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    List,
    Show { username: String },
    Suspend { username: String },
    Activate { username: String },
    Revoke { username: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an end user.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        staff: bool,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password, read from standard input (one line).
    SetPassword { username: String },
    List,
    Show { username: String },
    Suspend { username: String },
    Activate { username: String },
    Revoke { username: String },
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Register an application; prints its client id and (once) its secret.
    Create(AppCreate),
    List {
        #[arg(long)]
        owner: Option<String>,
    },
    Show { client_id: String },
    /// Change an application's scopes, filters, format, grants…
    Update(AppUpdate),
    /// Stop the application and every token it holds, until reactivated.
    Suspend { client_id: String },
    Activate { client_id: String },
    /// Stop the application for good and revoke all its tokens.
    Revoke { client_id: String },
    /// Propose the smallest allowed-scope list that would have refused none of the
    /// application's observed requests, as a diff; apply it when confirmed.
    Retrofit {
        client_id: String,
        #[arg(long)]
        since: Option<i64>,
        #[arg(long)]
        until: Option<i64>,
        /// Apply the proposal (asks for confirmation unless --yes).
        #[arg(long)]
        apply: bool,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct AppCreate {
    #[arg(long)]
    pub name: String,
    /// The owning service user (or user).
    #[arg(long)]
    pub owner: String,
    /// Choose the client id (default: random).
    #[arg(long)]
    pub client_id: Option<String>,
    /// confidential (default) or public.
    #[arg(long = "type")]
    pub client_type: Option<String>,
    /// Allowed grant (repeatable): client_credentials, authorization_code, refresh_token, password.
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Allowed scope (repeatable, or space/comma separated).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Filter (repeatable): content_org:<org>, user:me, tpa_provider:<id>.
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Open edX restricted application: scopes and filters bind its tokens.
    #[arg(long)]
    pub restricted: bool,
    /// jwt (default) or opaque.
    #[arg(long)]
    pub token_format: Option<String>,
    /// Skip the consent page for users (trusted application).
    #[arg(long)]
    pub skip_authorization: bool,
    /// Seconds until the first secret expires.
    #[arg(long)]
    pub secret_expires_in: Option<i64>,
}

#[derive(Debug, Args)]
pub struct AppUpdate {
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the allowed scopes (repeatable). Use --scope '' to clear.
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    #[arg(long = "add-scope")]
    pub add_scopes: Vec<String>,
    #[arg(long = "remove-scope")]
    pub remove_scopes: Vec<String>,
    /// Replace the filters (repeatable).
    #[arg(long = "filter")]
    pub filters: Option<Vec<String>>,
    #[arg(long)]
    pub restricted: Option<bool>,
    #[arg(long)]
    pub token_format: Option<String>,
    #[arg(long = "grant")]
    pub grants: Option<Vec<String>>,
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Option<Vec<String>>,
    #[arg(long)]
    pub skip_authorization: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Add a secret (shown once).
    Add {
        client_id: String,
        #[arg(long)]
        expires_in: Option<i64>,
        #[arg(long)]
        label: Option<String>,
    },
    List { client_id: String },
    /// Revoke a secret at once.
    Revoke { client_id: String, secret_id: String },
    /// Make a secret expire after a delay.
    Expire {
        client_id: String,
        secret_id: String,
        /// Seconds from now.
        #[arg(long = "in", default_value_t = 0)]
        in_seconds: i64,
    },
    /// Add a new secret and make every other live one expire after the overlap.
    Rotate {
        client_id: String,
        /// Seconds the old secrets stay valid.
        #[arg(long, default_value_t = 86_400)]
        overlap: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScopeCmd {
    /// Create or update a scope (resource:action; the resource must exist).
    Create {
        name: String,
        #[arg(long)]
        description: String,
        /// Granted when a request names no scope, available to every application.
        #[arg(long)]
        default: bool,
        /// A translated description, as LANG=TEXT (repeatable).
        #[arg(long = "translation")]
        translations: Vec<String>,
    },
    List,
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ResourceCmd {
    Create {
        name: String,
        /// The service that owns the resource.
        #[arg(long)]
        service: String,
        #[arg(long, default_value = "")]
        description: String,
        /// An action beyond read and write (repeatable; should be the exception).
        #[arg(long = "action")]
        actions: Vec<String>,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    List,
    /// Publish a new key now; sign with it after the delay.
    Rotate {
        /// RS256, RS512, ES256 or EdDSA (default: the configured algorithm).
        #[arg(long)]
        alg: Option<String>,
        /// Seconds before the new key signs (default: server.key_rotation_delay).
        #[arg(long)]
        delay: Option<i64>,
    },
    /// Print the published public keys.
    Export {
        /// In the form Open edX's JWT_PUBLIC_SIGNING_JWK_SET setting takes.
        #[arg(long)]
        openedx: bool,
    },
    /// Withdraw a key at once (it stops signing and is no longer published).
    Retire { kid: String },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long)]
    pub client_id: Option<String>,
    /// e.g. `token.` or `application.`
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}
