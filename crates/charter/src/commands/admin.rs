//! Administration commands: service users, applications, secrets, scopes, resources, audit.

use super::{actor, open_store, CommandError};
use crate::cli::{AccountCmd, AppCmd, AuditArgs, Command, ResourceCmd, ScopeCmd, SecretCmd, UserCmd};
use crate::config::Config;
use crate::output::{opt, print};
use charter_core::client::{AccountKind, Status};
use charter_server::admin::{accounts, applications, catalogue, observations, secrets, AdminError};
use charter_server::Clock;
use charter_store::{AuditQuery, Store};
use std::collections::BTreeMap;

pub async fn run(config: &Config, cmd: Command, json: bool) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    let store = store.as_ref();
    match cmd {
        Command::ServiceUser(c) => account(store, c, json).await,
        Command::User(c) => user(store, c, json).await,
        Command::App(c) => app(config, store, c, json).await,
        Command::Secret(c) => secret(config, store, c, json).await,
        Command::Scope(c) => scope(store, c, json).await,
        Command::Resource(c) => resource(store, c, json).await,
        Command::Audit(a) => audit(store, a, json).await,
        Command::Report(r) => report(store, r, json).await,
        Command::Serve(_) | Command::Migrate | Command::Keys(_) => Err(CommandError::Other("not an admin command".into())),
    }
}

fn account_line(a: &accounts::AccountView) -> String {
    format!("{:<6} {:<24} {:<9} {:<8} {}", a.id, a.username, a.status, a.kind, opt(&a.email))
}

async fn account(store: &dyn Store, cmd: AccountCmd, json: bool) -> Result<(), CommandError> {
    let actor = actor("cli");
    let view = match cmd {
        AccountCmd::Create { username, email, name } => {
            accounts::create_service_user(store, &actor, accounts::NewServiceUser { username, email, full_name: name }).await?
        }
        AccountCmd::List => {
            let all = accounts::list(store, Some(AccountKind::Service)).await?;
            print(json, &all, |v| v.iter().map(account_line).collect::<Vec<_>>().join("\n"));
            return Ok(());
        }
        AccountCmd::Show { username } => accounts::get(store, &username).await?,
        AccountCmd::Suspend { username } => accounts::set_status(store, &actor, &username, Status::Suspended).await?,
        AccountCmd::Activate { username } => accounts::set_status(store, &actor, &username, Status::Active).await?,
        AccountCmd::Revoke { username } => accounts::set_status(store, &actor, &username, Status::Revoked).await?,
    };
    print(json, &view, account_line);
    Ok(())
}

fn app_text(a: &applications::ApplicationView) -> String {
    let grants: Vec<&str> = a.grant_types.iter().map(|g| g.as_str()).collect();
    format!(
        "client_id:      {}\nname:           {}\nowner:          {}\nstatus:         {}\ntype:           {}\ngrants:         {}\nscopes:         {}\nfilters:        {}\nrestricted:     {}\ntoken format:   {}\nredirect URIs:  {}",
        a.client_id,
        a.name,
        a.owner,
        a.status,
        a.client_type,
        grants.join(" "),
        a.allowed_scopes.join(" "),
        a.filters.join(" "),
        a.restricted,
        a.token_format,
        a.redirect_uris.join(" "),
    )
}

async fn app(config: &Config, store: &dyn Store, cmd: AppCmd, json: bool) -> Result<(), CommandError> {
    let actor = actor("cli");
    let view = match cmd {
        AppCmd::Create(c) => {
            let digest = config.master_key()?.digest_key();
            let spec = applications::ApplicationSpec {
                client_id: c.client_id,
                name: c.name,
                owner: c.owner,
                client_type: c.client_type,
                grant_types: c.grants,
                redirect_uris: c.redirect_uris,
                scopes: c.scopes,
                filters: c.filters,
                restricted: c.restricted,
                token_format: c.token_format,
                skip_authorization: c.skip_authorization,
                secret_expires_in: c.secret_expires_in,
            };
            let created = applications::create(store, &actor, spec, &digest).await?;
            print(json, &created, |c| {
                let mut s = app_text(&c.application);
                if let Some(sec) = &c.secret {
                    s.push_str(&format!(
                        "\nclient_secret:  {}\n(the secret is shown only now; store it safely)",
                        sec.client_secret
                    ));
                }
                s
            });
            return Ok(());
        }
        AppCmd::List { owner } => {
            let all = applications::list(store, owner.as_deref()).await?;
            print(json, &all, |v| {
                v.iter()
                    .map(|a| format!("{:<28} {:<10} {:<12} {:<24} {}", a.client_id, a.status, a.token_format, a.owner, a.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            return Ok(());
        }
        AppCmd::Show { client_id } => applications::get(store, &client_id).await?,
        AppCmd::Update(u) => {
            let change = applications::ApplicationChange {
                name: u.name,
                scopes: u.scopes,
                add_scopes: u.add_scopes,
                remove_scopes: u.remove_scopes,
                filters: u.filters,
                restricted: u.restricted,
                token_format: u.token_format,
                grant_types: u.grants,
                redirect_uris: u.redirect_uris,
                skip_authorization: u.skip_authorization,
            };
            applications::update(store, &actor, &u.client_id, change).await?
        }
        AppCmd::Suspend { client_id } => applications::set_status(store, &actor, &client_id, Status::Suspended).await?,
        AppCmd::Activate { client_id } => applications::set_status(store, &actor, &client_id, Status::Active).await?,
        AppCmd::Revoke { client_id } => applications::set_status(store, &actor, &client_id, Status::Revoked).await?,
        AppCmd::Retrofit { client_id, since, until, apply, yes } => {
            return retrofit(store, &client_id, since, until, apply, yes, json).await;
        }
    };
    print(json, &view, app_text);
    Ok(())
}

async fn secret(config: &Config, store: &dyn Store, cmd: SecretCmd, json: bool) -> Result<(), CommandError> {
    let actor = actor("cli");
    let shown = |c: &secrets::CreatedSecret| {
        format!(
            "client_id:     {}\nsecret_id:     {}\nclient_secret: {}\nexpires_at:    {}\n(the secret is shown only now)",
            c.client_id,
            c.secret_id,
            c.client_secret,
            opt(&c.expires_at)
        )
    };
    match cmd {
        SecretCmd::Add { client_id, expires_in, label } => {
            let digest = config.master_key()?.digest_key();
            let c = secrets::issue_secret(store, &actor, &client_id, expires_in, label, &digest).await?;
            print(json, &c, shown);
        }
        SecretCmd::Rotate { client_id, overlap } => {
            let digest = config.master_key()?.digest_key();
            let c = secrets::rotate(store, &actor, &client_id, overlap, &digest).await?;
            print(json, &c, shown);
        }
        SecretCmd::List { client_id } => {
            let all = secrets::list(store, &client_id, charter_server::SystemClock.now()).await?;
            print(json, &all, |v| {
                v.iter()
                    .map(|s| {
                        format!(
                            "{}  live={:<5} created={} expires={} revoked={} {}",
                            s.secret_id,
                            s.live,
                            s.created_at,
                            opt(&s.expires_at),
                            opt(&s.revoked_at),
                            opt(&s.label)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SecretCmd::Revoke { client_id, secret_id } => {
            secrets::revoke(store, &actor, &client_id, &secret_id).await?;
            print(json, &serde_json::json!({"revoked": secret_id}), |_| format!("revoked secret {secret_id}"));
        }
        SecretCmd::Expire { client_id, secret_id, in_seconds } => {
            secrets::expire(store, &actor, &client_id, &secret_id, in_seconds).await?;
            print(json, &serde_json::json!({"secret_id": secret_id, "expires_in": in_seconds}), |_| {
                format!("secret {secret_id} expires in {in_seconds} s")
            });
        }
    }
    Ok(())
}

async fn scope(store: &dyn Store, cmd: ScopeCmd, json: bool) -> Result<(), CommandError> {
    let actor = actor("cli");
    match cmd {
        ScopeCmd::Create { name, description, default, translations } => {
            let mut t = BTreeMap::new();
            for tr in translations {
                let (lang, text) = tr
                    .split_once('=')
                    .ok_or_else(|| AdminError::Invalid(format!("translation '{tr}' is not LANG=TEXT")))?;
                t.insert(lang.trim().to_owned(), text.trim().to_owned());
            }
            let s = catalogue::create_scope(store, &actor, &name, &description, default, t).await?;
            print(json, &s, |s| format!("saved scope {} — {}", s.name, s.description));
        }
        ScopeCmd::List => {
            let all = store.scopes().await?;
            print(json, &all, |v| {
                v.iter()
                    .map(|s| format!("{:<28} {:<8} {}", s.name, if s.is_default { "default" } else { "" }, s.description))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ScopeCmd::Delete { name } => {
            catalogue::delete_scope(store, &actor, &name).await?;
            print(json, &serde_json::json!({"deleted": name}), |_| format!("deleted scope {name}"));
        }
    }
    Ok(())
}

async fn resource(store: &dyn Store, cmd: ResourceCmd, json: bool) -> Result<(), CommandError> {
    match cmd {
        ResourceCmd::Create { name, service, description, actions } => {
            let r = catalogue::create_resource(store, &actor("cli"), &name, &service, &description, actions).await?;
            print(json, &r, |r| format!("saved resource {} (service {})", r.name, r.service));
        }
        ResourceCmd::List => {
            let all = store.resources().await?;
            print(json, &all, |v| {
                v.iter()
                    .map(|r| format!("{:<20} {:<16} {}", r.name, r.service, r.description))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

async fn audit(store: &dyn Store, a: AuditArgs, json: bool) -> Result<(), CommandError> {
    let events = store
        .audit_events(&AuditQuery {
            client_id: a.client_id,
            action_prefix: a.action,
            since: None,
            until: None,
            limit: a.limit.clamp(1, 10_000),
        })
        .await?;
    let events: Vec<_> = events.into_iter().map(|e| serde_json::json!({"seq": e.seq, "event": e.event})).collect();
    print(json, &events, |v| {
        v.iter()
            .map(|e| {
                let ev = &e["event"];
                format!(
                    "{} {} {:<22} {:<8} actor={} client={} account={} scopes={} source={}",
                    e["seq"], ev["at"], ev["action"].as_str().unwrap_or(""), ev["outcome"].as_str().unwrap_or(""),
                    ev["actor"].as_str().unwrap_or(""), ev["client_id"].as_str().unwrap_or("-"),
                    ev["account"].as_str().unwrap_or("-"), ev["scopes"].as_str().unwrap_or("-"), ev["source"].as_str().unwrap_or("-"),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn report(store: &dyn Store, r: crate::cli::ReportArgs, json: bool) -> Result<(), CommandError> {
    let (since, until) = observations::window(r.since, r.until, charter_server::SystemClock.now())?;
    let rep = observations::report(store, &r.client_id, since, until).await?;
    print(json, &rep, |rep| {
        let mut out = format!(
            "access report of {} from {} to {}\n{} requests observed, {} denied, {} would have been denied\nscopes held:     {}\nscopes required: {}\n",
            rep.client_id, rep.since, rep.until, rep.requests, rep.denied, rep.would_deny,
            rep.scopes_held.join(" "), rep.scopes_required.join(" "),
        );
        for u in &rep.routes {
            let any: Vec<String> = u.required_any.iter().map(|g| format!("any of ({})", g.join(" "))).collect();
            out.push_str(&format!(
                "  {:<6} {:<40} {:>6} req  {:>5} denied  {:>5} would-deny  held [{}]  requires [{}{}{}]  via {}\n",
                u.method, u.route, u.requests, u.denied, u.would_deny, u.scopes_held.join(" "), u.required_all.join(" "),
                if any.is_empty() || u.required_all.is_empty() { "" } else { " " }, any.join(" "), u.reporter,
            ));
        }
        for i in &rep.introspections {
            out.push_str(&format!(
                "  introspected by {}: {} times ({} active, {} inactive), scopes [{}]\n",
                i.reporter, i.requests, i.active, i.inactive, i.scopes_held.join(" ")
            ));
        }
        out.trim_end().to_owned()
    });
    Ok(())
}

async fn retrofit(
    store: &dyn Store,
    client_id: &str,
    since: Option<i64>,
    until: Option<i64>,
    apply: bool,
    yes: bool,
    json: bool,
) -> Result<(), CommandError> {
    let (since, until) = observations::window(since, until, charter_server::SystemClock.now())?;
    let p = observations::proposal(store, client_id, since, until).await?;
    print(json, &p, |p| {
        let mut out = format!(
            "retrofit of {} from {} observed requests ({} to {}){}:\n",
            p.client_id, p.observed_requests, p.since, p.until, if p.exact { "" } else { " (greedy: too many alternatives for an exact search)" }
        );
        for s in &p.proposed {
            out.push_str(&format!("  {} {s}\n", if p.added.contains(s) { "+" } else { " " }));
        }
        for s in &p.removed {
            out.push_str(&format!("  - {s}\n"));
        }
        if p.added.is_empty() && p.removed.is_empty() {
            out.push_str("  (no change)\n");
        }
        if !p.unknown_scopes.is_empty() {
            out.push_str(&format!("not in the catalogue yet: {}\n", p.unknown_scopes.join(" ")));
        }
        out.trim_end().to_owned()
    });
    if !apply {
        return Ok(());
    }
    if !yes && !confirm("Apply this allowed-scope list?")? {
        return Err(CommandError::Other("not applied".into()));
    }
    let view = observations::apply(store, &actor("cli"), &p).await?;
    if !json {
        println!("applied: {} now allows [{}]", view.client_id, view.allowed_scopes.join(" "));
    }
    Ok(())
}

fn confirm(question: &str) -> Result<bool, CommandError> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Other("confirmation needed: run in a terminal, or pass --yes".into()));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CommandError::Other(e.to_string()))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn read_password() -> Result<String, CommandError> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CommandError::Other(e.to_string()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn user(store: &dyn Store, cmd: UserCmd, json: bool) -> Result<(), CommandError> {
    let actor = actor("cli");
    let view = match cmd {
        UserCmd::Create { username, email, name, staff, password_stdin } => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            accounts::create_user(store, &actor, accounts::NewUser { username, email, full_name: name, is_staff: staff, password }).await?
        }
        UserCmd::SetPassword { username } => {
            accounts::set_password(store, &actor, &username, read_password()?).await?;
            accounts::get(store, &username).await?
        }
        UserCmd::List => {
            let all = accounts::list(store, Some(AccountKind::User)).await?;
            print(json, &all, |v| v.iter().map(account_line).collect::<Vec<_>>().join("\n"));
            return Ok(());
        }
        UserCmd::Show { username } => accounts::get(store, &username).await?,
        UserCmd::Suspend { username } => accounts::set_status(store, &actor, &username, Status::Suspended).await?,
        UserCmd::Activate { username } => accounts::set_status(store, &actor, &username, Status::Active).await?,
        UserCmd::Revoke { username } => accounts::set_status(store, &actor, &username, Status::Revoked).await?,
    };
    print(json, &view, account_line);
    Ok(())
}
