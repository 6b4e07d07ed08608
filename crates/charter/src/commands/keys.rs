//! `charter keys`.

use super::{actor, open_store, CommandError};
use crate::cli::KeysCmd;
use crate::config::Config;
use crate::output::{opt, print};
use charter_core::keys::SigningAlgorithm;
use charter_server::admin::{keys, AdminError};
use charter_server::Clock;

pub async fn run(config: &Config, cmd: KeysCmd, json: bool) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    let store = store.as_ref();
    let sealing = config.master_key()?.sealing_key();
    let now = charter_server::SystemClock.now();
    let ttl = config.server.max_token_ttl();
    match cmd {
        KeysCmd::List => {
            let all = keys::list(store, &sealing, now, ttl).await?;
            print(json, &all, |v| {
                v.iter()
                    .map(|k| format!("{}  {:<6} {:<12} activates={} retired={}", k.kid, k.alg, k.state, k.activates_at, opt(&k.retired_at)))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCmd::Rotate { alg, delay } => {
            let alg: SigningAlgorithm = match alg {
                Some(a) => a.parse().map_err(AdminError::Invalid)?,
                None => config.server.signing_alg,
            };
            let delay = delay.unwrap_or(config.server.key_rotation_delay);
            let k = keys::rotate(store, &actor("cli"), &sealing, alg, delay).await?;
            print(json, &k, |k| {
                format!(
                    "new key {} ({}) is published now and signs from {} (in {delay} s); the previous key stays published until its tokens expire",
                    k.kid, k.alg, k.activates_at
                )
            });
        }
        KeysCmd::Export { openedx } => {
            let set = keys::export(store, &sealing, now, ttl, openedx).await?;
            if openedx && set["keys"].as_array().is_none_or(|k| k.is_empty()) {
                return Err(CommandError::Other(
                    "no RSA key is published: Open edX verifiers accept only RS256/RS512; run `charter keys rotate --alg RS256`".into(),
                ));
            }
            if openedx {
                // The setting takes the JWK set as a JSON string.
                let as_string = serde_json::to_string(&set).map_err(|e| CommandError::Other(e.to_string()))?;
                if json {
                    println!("{}", serde_json::json!({ "JWT_PUBLIC_SIGNING_JWK_SET": as_string }));
                } else {
                    println!("JWT_AUTH:\n  JWT_PUBLIC_SIGNING_JWK_SET: '{as_string}'");
                }
            } else {
                println!("{}", serde_json::to_string_pretty(&set).map_err(|e| CommandError::Other(e.to_string()))?);
            }
        }
        KeysCmd::Retire { kid } => {
            let successor = keys::retire(store, &actor("cli"), &sealing, &kid).await?;
            let out = serde_json::json!({"retired": kid, "successor": successor.as_ref().map(|k| k.kid.clone())});
            print(json, &out, |_| match &successor {
                Some(k) => format!("retired key {kid}; it was signing, so key {} ({}) signs from now on", k.kid, k.alg),
                None => format!("retired key {kid}"),
            });
        }
    }
    Ok(())
}
