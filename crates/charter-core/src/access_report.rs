//! The access report and the retrofit proposal, from aggregated observations.

use crate::observation::ObservationSource;
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use charter_wire::{Decision, Mode};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Observations grouped by everything but time, as the store returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationSummary {
    pub source: ObservationSource,
    pub reporter: String,
    pub method: String,
    pub route: String,
    pub scopes_held: String,
    pub required_all: String,
    pub required_any: String,
    pub mode: Mode,
    pub decision: Decision,
    pub reason: String,
    pub count: u64,
    pub first_at: UnixTime,
    pub last_at: UnixTime,
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RouteUsage {
    /// The resource server that reported (its client id).
    pub reporter: String,
    pub method: String,
    pub route: String,
    pub requests: u64,
    pub allowed: u64,
    pub denied: u64,
    pub would_deny: u64,
    pub scopes_held: Vec<String>,
    /// Scopes every request of this route required.
    pub required_all: Vec<String>,
    /// Distinct any-of requirements (one of each list was required).
    pub required_any: Vec<Vec<String>>,
    pub modes: Vec<Mode>,
    /// Counts of refusal reasons (would-be or real).
    pub refusals: BTreeMap<String, u64>,
    pub first_at: i64,
    pub last_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IntrospectionUsage {
    pub reporter: String,
    pub requests: u64,
    pub active: u64,
    pub inactive: u64,
    pub scopes_held: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccessReport {
    pub client_id: String,
    pub since: i64,
    pub until: i64,
    pub requests: u64,
    pub denied: u64,
    pub would_deny: u64,
    /// Every scope the application's tokens carried.
    pub scopes_held: Vec<String>,
    /// Every scope some route required.
    pub scopes_required: Vec<String>,
    pub routes: Vec<RouteUsage>,
    pub introspections: Vec<IntrospectionUsage>,
}

pub fn build_report(client_id: &str, since: UnixTime, until: UnixTime, rows: &[ObservationSummary]) -> AccessReport {
    let mut routes: BTreeMap<(String, String, String), RouteUsage> = BTreeMap::new();
    let mut intro: BTreeMap<String, IntrospectionUsage> = BTreeMap::new();
    let mut held_all = BTreeSet::new();
    let mut required_all_scopes = BTreeSet::new();
    let (mut requests, mut denied, mut would_deny) = (0, 0, 0);
    for r in rows {
        held_all.extend(words(&r.scopes_held).map(str::to_owned));
        match r.source {
            ObservationSource::Introspection => {
                let u = intro.entry(r.reporter.clone()).or_insert_with(|| IntrospectionUsage {
                    reporter: r.reporter.clone(),
                    requests: 0,
                    active: 0,
                    inactive: 0,
                    scopes_held: vec![],
                });
                u.requests += r.count;
                if r.decision == Decision::Allow {
                    u.active += r.count;
                } else {
                    u.inactive += r.count;
                }
                for s in words(&r.scopes_held) {
                    if !u.scopes_held.iter().any(|x| x == s) {
                        u.scopes_held.push(s.to_owned());
                    }
                }
                u.scopes_held.sort();
            }
            ObservationSource::Decision => {
                requests += r.count;
                let key = (r.route.clone(), r.method.clone(), r.reporter.clone());
                let u = routes.entry(key).or_insert_with(|| RouteUsage {
                    reporter: r.reporter.clone(),
                    method: r.method.clone(),
                    route: r.route.clone(),
                    requests: 0,
                    allowed: 0,
                    denied: 0,
                    would_deny: 0,
                    scopes_held: vec![],
                    required_all: vec![],
                    required_any: vec![],
                    modes: vec![],
                    refusals: BTreeMap::new(),
                    first_at: r.first_at.0,
                    last_at: r.last_at.0,
                });
                u.requests += r.count;
                match r.decision {
                    Decision::Allow => u.allowed += r.count,
                    Decision::Deny => {
                        u.denied += r.count;
                        denied += r.count;
                        *u.refusals.entry(r.reason.clone()).or_default() += r.count;
                    }
                    Decision::WouldDeny => {
                        u.would_deny += r.count;
                        would_deny += r.count;
                        *u.refusals.entry(r.reason.clone()).or_default() += r.count;
                    }
                }
                let mut held: BTreeSet<String> = u.scopes_held.drain(..).collect();
                held.extend(words(&r.scopes_held).map(str::to_owned));
                u.scopes_held = held.into_iter().collect();
                let mut all: BTreeSet<String> = u.required_all.drain(..).collect();
                all.extend(words(&r.required_all).map(str::to_owned));
                required_all_scopes.extend(all.iter().cloned());
                u.required_all = all.into_iter().collect();
                let any: Vec<String> = words(&r.required_any).map(str::to_owned).collect();
                required_all_scopes.extend(any.iter().cloned());
                if !any.is_empty() && !u.required_any.contains(&any) {
                    u.required_any.push(any);
                    u.required_any.sort();
                }
                if !u.modes.contains(&r.mode) {
                    u.modes.push(r.mode);
                }
                u.first_at = u.first_at.min(r.first_at.0);
                u.last_at = u.last_at.max(r.last_at.0);
            }
        }
    }
    AccessReport {
        client_id: client_id.to_owned(),
        since: since.0,
        until: until.0,
        requests,
        denied,
        would_deny,
        scopes_held: held_all.into_iter().collect(),
        scopes_required: required_all_scopes.into_iter().collect(),
        routes: routes.into_values().collect(),
        introspections: intro.into_values().collect(),
    }
}

/// The smallest allowed-scope list that would have refused none of the observed requests.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RetrofitProposal {
    pub client_id: String,
    pub since: i64,
    pub until: i64,
    /// Requests (reported decisions) the proposal covers.
    pub observed_requests: u64,
    pub current: Vec<String>,
    pub proposed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Required scopes that are not in the catalogue: they cannot be allowed until created.
    pub unknown_scopes: Vec<String>,
    /// False when the any-of requirements were too many for an exhaustive search and a greedy choice was made.
    pub exact: bool,
}

/// Most candidate scopes searched exhaustively for any-of requirements.
const EXACT_SEARCH_LIMIT: usize = 16;

/// Computes the proposal. `defaults` are available to every application
/// anyway, so they never need to be in its allowed list.
pub fn propose_retrofit(
    client_id: &str,
    since: UnixTime,
    until: UnixTime,
    current: &ScopeSet,
    known: &ScopeSet,
    defaults: &ScopeSet,
    rows: &[ObservationSummary],
) -> RetrofitProposal {
    let is_default = |s: &str| defaults.contains_str(s);
    let mut mandatory: BTreeSet<String> = BTreeSet::new();
    let mut groups: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    let mut observed = 0;
    for r in rows.iter().filter(|r| r.source == ObservationSource::Decision && r.mode != Mode::Off) {
        observed += r.count;
        mandatory.extend(words(&r.required_all).filter(|s| !is_default(s)).map(str::to_owned));
        let g: BTreeSet<String> = words(&r.required_any).map(str::to_owned).collect();
        if !g.is_empty() && !g.iter().any(|s| is_default(s)) {
            groups.insert(g);
        }
    }
    // Any-of requirements already met by the mandatory scopes need nothing more.
    let open: Vec<&BTreeSet<String>> = groups.iter().filter(|g| g.is_disjoint(&mandatory)).collect();
    let (extra, exact) = hitting_set(&open, current);
    let proposed: BTreeSet<String> = mandatory.union(&extra).cloned().collect();
    let current_v: BTreeSet<String> = current.iter().map(|s| s.as_str().to_owned()).collect();
    RetrofitProposal {
        client_id: client_id.to_owned(),
        since: since.0,
        until: until.0,
        observed_requests: observed,
        added: proposed.difference(&current_v).cloned().collect(),
        removed: current_v.difference(&proposed).cloned().collect(),
        unknown_scopes: proposed.iter().filter(|s| !known.contains_str(s)).cloned().collect(),
        current: current_v.into_iter().collect(),
        proposed: proposed.into_iter().collect(),
        exact,
    }
}

/// A smallest set of scopes meeting every group, preferring scopes the application already has.
fn hitting_set(groups: &[&BTreeSet<String>], current: &ScopeSet) -> (BTreeSet<String>, bool) {
    if groups.is_empty() {
        return (BTreeSet::new(), true);
    }
    // Candidates ordered: already held first, then by name; the search keeps the first best.
    let mut candidates: Vec<&String> = groups.iter().flat_map(|g| g.iter()).collect::<BTreeSet<_>>().into_iter().collect();
    candidates.sort_by_key(|s| (!current.contains_str(s), (*s).clone()));
    let hits = |chosen: &[&String]| groups.iter().all(|g| chosen.iter().any(|c| g.contains(*c)));
    if candidates.len() <= EXACT_SEARCH_LIMIT {
        for size in 1..=candidates.len() {
            if let Some(set) = first_combination(&candidates, size, &hits) {
                return (set.into_iter().cloned().collect(), true);
            }
        }
    }
    // Greedy: repeatedly take the scope meeting the most open groups.
    let mut chosen: Vec<&String> = Vec::new();
    while !hits(&chosen) {
        let best = candidates
            .iter()
            .filter(|c| !chosen.contains(c))
            .max_by_key(|c| groups.iter().filter(|g| g.contains(**c) && !chosen.iter().any(|x| g.contains(*x))).count());
        match best {
            Some(b) => chosen.push(b),
            None => break,
        }
    }
    (chosen.into_iter().cloned().collect(), false)
}

fn first_combination<'a>(
    items: &[&'a String],
    size: usize,
    ok: &impl Fn(&[&'a String]) -> bool,
) -> Option<Vec<&'a String>> {
    let mut idx: Vec<usize> = (0..size).collect();
    loop {
        let pick: Vec<&String> = idx.iter().map(|i| items[*i]).collect();
        if ok(&pick) {
            return Some(pick);
        }
        // Next combination in lexicographic order of indices.
        let mut i = size;
        loop {
            if i == 0 {
                return None;
            }
            i -= 1;
            if idx[i] < items.len() - size + i {
                idx[i] += 1;
                for j in i + 1..size {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(route: &str, held: &str, all: &str, any: &str, decision: Decision, count: u64) -> ObservationSummary {
        ObservationSummary {
            source: ObservationSource::Decision,
            reporter: "catalogue-rs".into(),
            method: "GET".into(),
            route: route.into(),
            scopes_held: held.into(),
            required_all: all.into(),
            required_any: any.into(),
            mode: Mode::ReportOnly,
            decision,
            reason: if decision == Decision::Allow { "ok".into() } else { "missing_scope".into() },
            count,
            first_at: UnixTime(100),
            last_at: UnixTime(200),
        }
    }

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse_space_separated(s).unwrap_or_default()
    }

    #[test]
    fn proposal_is_the_minimal_set() {
        let rows = vec![
            row("/api/courses", "read", "catalog:read", "", Decision::WouldDeny, 5),
            row("/api/users/{username}/enrollments", "read", "enrollments:read", "", Decision::WouldDeny, 2),
            // Either scope would do; grades:read is also required elsewhere, so it suffices.
            row("/api/progress", "read", "", "grades:read certificates:read", Decision::WouldDeny, 1),
            row("/api/grades", "read", "grades:read", "", Decision::WouldDeny, 1),
            // Defaults need not be allowed.
            row("/api/me", "read", "read", "", Decision::Allow, 3),
        ];
        let known = set("catalog:read enrollments:read grades:read certificates:read read write email profile tpa:read");
        let defaults = set("read write email profile");
        let p = propose_retrofit("legacy", UnixTime(0), UnixTime(300), &set("tpa:read grades:read"), &known, &defaults, &rows);
        assert_eq!(p.proposed, vec!["catalog:read", "enrollments:read", "grades:read"]);
        assert_eq!(p.added, vec!["catalog:read", "enrollments:read"]);
        assert_eq!(p.removed, vec!["tpa:read"]);
        assert!(p.exact);
        assert_eq!(p.observed_requests, 12);
        assert!(p.unknown_scopes.is_empty());
    }

    #[test]
    fn any_of_prefers_a_scope_already_held_and_covers_several_groups() {
        let rows = vec![
            row("/a", "", "", "x:read y:read", Decision::WouldDeny, 1),
            row("/b", "", "", "y:read z:read", Decision::WouldDeny, 1),
            row("/c", "", "", "q:read z:read", Decision::WouldDeny, 1),
        ];
        // {y, z} or {y, q}…: two are needed; z is already allowed, so {y, z}? z covers b and c, then a needs x or y.
        let p = propose_retrofit("c", UnixTime(0), UnixTime(1), &set("x:read z:read"), &set(""), &set(""), &rows);
        assert_eq!(p.proposed, vec!["x:read", "z:read"]);
        assert!(p.removed.is_empty());
        assert_eq!(p.unknown_scopes, vec!["x:read", "z:read"]);
    }

    #[test]
    fn report_sums_routes_and_introspections() {
        let mut intro = row("introspection", "catalog:read", "", "", Decision::Allow, 4);
        intro.source = ObservationSource::Introspection;
        let rows = vec![
            row("/api/courses", "read", "catalog:read", "", Decision::WouldDeny, 5),
            row("/api/courses", "catalog:read", "catalog:read", "", Decision::Allow, 2),
            intro,
        ];
        let r = build_report("legacy", UnixTime(0), UnixTime(300), &rows);
        assert_eq!((r.requests, r.would_deny, r.denied), (7, 5, 0));
        assert_eq!(r.routes.len(), 1);
        assert_eq!(r.routes[0].requests, 7);
        assert_eq!(r.routes[0].scopes_held, vec!["catalog:read", "read"]);
        assert_eq!(r.routes[0].refusals.get("missing_scope"), Some(&5));
        assert_eq!(r.introspections[0].active, 4);
        assert_eq!(r.scopes_required, vec!["catalog:read"]);
    }
}
