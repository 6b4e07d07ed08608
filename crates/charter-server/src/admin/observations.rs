//! The access report and the retrofit of allowed scopes from observed use.

use super::applications::{self, ApplicationChange};
use super::{audit, Actor, AdminError, AdminResult};
use charter_core::access_report::{build_report, propose_retrofit, AccessReport, RetrofitProposal};
use charter_core::scope::ScopeSet;
use charter_core::scope_policy::ScopePolicy;
use charter_core::time::UnixTime;
use charter_store::{ObservationQuery, Store};

/// The window of a report: `[since, until]`, by default the last 30 days.
pub fn window(since: Option<i64>, until: Option<i64>, now: UnixTime) -> AdminResult<(UnixTime, UnixTime)> {
    let until = until.map(UnixTime).unwrap_or(now);
    let since = since.map(UnixTime).unwrap_or(until.minus(30 * 86_400));
    if since > until {
        return Err(AdminError::Invalid("since must not be after until".into()));
    }
    Ok((since, until))
}

pub async fn report(store: &dyn Store, client_id: &str, since: UnixTime, until: UnixTime) -> AdminResult<AccessReport> {
    applications::load(store, client_id).await?;
    let rows = store.observations(&ObservationQuery { client_id: client_id.to_owned(), since, until }).await?;
    Ok(build_report(client_id, since, until, &rows))
}

pub async fn proposal(store: &dyn Store, client_id: &str, since: UnixTime, until: UnixTime) -> AdminResult<RetrofitProposal> {
    let app = applications::load(store, client_id).await?;
    let rows = store.observations(&ObservationQuery { client_id: client_id.to_owned(), since, until }).await?;
    let policy = ScopePolicy::from_catalogue(&store.scopes().await?);
    Ok(propose_retrofit(client_id, since, until, &app.allowed_scopes, &policy.known, &policy.defaults, &rows))
}

/// Applies a proposal the operator confirmed: the allowed scopes become exactly
/// the proposed ones. Refused when a proposed scope is not in the catalogue, or
/// when the application's scopes changed since the proposal was made.
pub async fn apply(store: &dyn Store, actor: &Actor, p: &RetrofitProposal) -> AdminResult<applications::ApplicationView> {
    if !p.unknown_scopes.is_empty() {
        return Err(AdminError::Invalid(format!(
            "not in the scope catalogue: {} (create them first with `charter scope create`)",
            p.unknown_scopes.join(" ")
        )));
    }
    let app = applications::load(store, &p.client_id).await?;
    let current: Vec<String> = app.allowed_scopes.to_vec();
    if current != p.current {
        return Err(AdminError::Conflict("the application's scopes changed since the proposal; make it again".into()));
    }
    let proposed = ScopeSet::parse_space_separated(&p.proposed.join(" ")).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let change = ApplicationChange { scopes: Some(proposed.to_vec()), ..Default::default() };
    let view = applications::update(store, actor, &p.client_id, change).await?;
    audit(
        store,
        actor,
        "application.retrofitted",
        Some(&p.client_id),
        None,
        serde_json::json!({
            "since": p.since, "until": p.until, "observed_requests": p.observed_requests,
            "added": p.added, "removed": p.removed, "proposed": p.proposed,
        }),
    )
    .await?;
    Ok(view)
}
