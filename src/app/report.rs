//! The metrics for one service+env or for every one in the store, over a
//! window, with bands: the store loads the facts, [`crate::metrics::compute`]
//! turns them into reports.

use chrono::{DateTime, Duration, Utc};

use crate::metrics::{BandTable, Report, ReportInput, Window, compute, earliest_cause};
use crate::settings::defaults;
use crate::store::{ReadTx, ReportFacts, Store};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// One service, or every service+env in the store.
    pub service: Option<String>,
    /// The environment; with a service and none given, `production`; without
    /// a service, a filter.
    pub env: Option<String>,
    /// Only the services of this team: those whose latest successful
    /// deployment in the env names it (`deploy --team`).
    pub team: Option<String>,
    pub window: Window,
    pub attribution_window: Duration,
    pub bands: BandTable,
    pub now: DateTime<Utc>,
}

/// The window `[since, until)`: `since`, else `until - span`.
pub fn window(
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    span: Duration,
) -> Result<Window> {
    let since = since.unwrap_or(until - span);
    if since >= until {
        return Err(Error::usage_hint(
            format!(
                "--since ({}) is not before --until ({})",
                crate::time::format_time(since),
                crate::time::format_time(until)
            ),
            "give a --since earlier than --until; the window is [since, until)",
        ));
    }
    Ok(Window { since, until })
}

/// One report per service+env asked for, on one snapshot. A service (or
/// its env) with no event at all in the store is [`Error::NoInput`] naming
/// the known ones, closest first (SPEC §4): a typo never reads as "no data".
pub fn reports(store: &mut dyn Store, req: &ReportRequest) -> Result<Vec<Report>> {
    let shown = store.describe();
    let mut reports = Vec::new();
    store.read(&mut |tx| {
        reports.clear();
        for (service, env) in targets(tx, req, &shown)? {
            let from = earliest_cause(req.window.since, req.attribution_window);
            let facts = tx.report_facts(&service, &env, req.window, from)?;
            reports.push(report_of(
                req,
                &service,
                &env,
                &facts,
                &facts.lead_times,
                req.window,
            ));
        }
        Ok(())
    })?;
    Ok(reports)
}

/// The (service, env) pairs `req` asks for: its service (in its env, else
/// production), or every pair in the store (filtered by its env). A
/// service or env with no event at all is [`Error::NoInput`] (SPEC §4).
/// `report` and `series` (the dashboard) both target through here.
pub(crate) fn targets(
    tx: &dyn ReadTx,
    req: &ReportRequest,
    shown: &str,
) -> Result<Vec<(String, String)>> {
    let pairs = match (&req.service, &req.env) {
        (Some(service), env) => {
            let env = env.as_deref().unwrap_or(defaults::ENV);
            require_service(tx, service, Some(env), shown, false)?;
            vec![(service.clone(), env.to_string())]
        }
        (None, env) => {
            let pairs = tx.service_envs()?;
            if let Some(env) = env {
                known_env(&pairs, env, shown)?;
            }
            pairs
                .into_iter()
                .filter(|(_, e)| env.as_ref().is_none_or(|want| want == e))
                .collect()
        }
    };
    match &req.team {
        Some(team) => of_team(tx, pairs, team, req.now, shown),
        None => Ok(pairs),
    }
}

/// The team of a service in an env: what its latest successful deployment
/// names (`deploy --team`), as the dashboards' `dora_services` view has it.
pub(crate) fn team_of(
    tx: &dyn ReadTx,
    service: &str,
    env: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some(latest) = tx.previous_success(service, env, now)? else {
        return Ok(None);
    };
    Ok(tx.deployment(&latest.id)?.and_then(|d| d.team))
}

/// The pairs whose team is `team`; none is [`Error::NoInput`] naming the
/// teams the pairs have, closest first.
fn of_team(
    tx: &dyn ReadTx,
    pairs: Vec<(String, String)>,
    team: &str,
    now: DateTime<Utc>,
    shown: &str,
) -> Result<Vec<(String, String)>> {
    let mut kept = Vec::new();
    let mut teams = Vec::new();
    for (service, env) in pairs {
        match team_of(tx, &service, &env, now)? {
            Some(t) if t == team => kept.push((service, env)),
            Some(t) => teams.push(t),
            None => {}
        }
    }
    if !kept.is_empty() {
        return Ok(kept);
    }
    let known = closest_first(teams.iter().map(String::as_str).collect(), team);
    Err(Error::NoInput {
        message: match known.as_slice() {
            [] => format!("no service of team '{team}' in {shown}: no deployment there names a team"),
            known => format!(
                "no service of team '{team}' in {shown}; known teams: {}",
                known.join(", ")
            ),
        },
        hint: Some(
            "check --team (DORAMETER_TEAM, or `team` in .dorameter.toml); a service's team is the one its latest deployment names (deploy --team)"
                .into(),
        ),
    })
}

/// The report of one service+env over `window` from its facts: the
/// deployments and incidents the store loaded and the lead-time samples of
/// `window`. A series' points are computed from the same [`input`] (with
/// the failure marks worked out once), so a point is exactly the report of
/// its bucket.
pub(crate) fn report_of(
    req: &ReportRequest,
    service: &str,
    env: &str,
    facts: &ReportFacts,
    lead_times: &[i64],
    window: Window,
) -> Report {
    compute(&input(req, service, env, facts, lead_times, window))
}

/// What [`compute`] takes for one service+env of `req` over `window` (the
/// API's breakdown and exposition compute from the same input).
pub(crate) fn input<'a>(
    req: &'a ReportRequest,
    service: &'a str,
    env: &'a str,
    facts: &'a ReportFacts,
    lead_times: &'a [i64],
    window: Window,
) -> ReportInput<'a> {
    ReportInput {
        service,
        env,
        deployments: &facts.deployments,
        known: facts.first_deployment.is_some(),
        incidents: &facts.incidents,
        lead_times,
        window,
        attribution_window: req.attribution_window,
        bands: &req.bands,
        now: req.now,
    }
}

/// `Ok` when the store holds any event of `service` (a deployment, an
/// incident or a test run), or no event at all when `empty_ok`; else
/// [`Error::NoInput`] naming the services it knows, closest first (SPEC §4).
/// With `env`: a service whose deployments and incidents are all in other
/// envs is the same error, naming them (a service known only from test runs
/// has no env yet, and passes).
pub fn require_service(
    tx: &dyn ReadTx,
    service: &str,
    env: Option<&str>,
    store: &str,
    empty_ok: bool,
) -> Result<()> {
    known(
        &tx.service_envs()?,
        &tx.test_services()?,
        service,
        env,
        store,
        empty_ok,
    )
}

/// How to fix an env that names no event.
const ENV_HINT: &str =
    "check --env (DORAMETER_ENV, `env` in .dorameter.toml, or the CI's environment)";

/// [`require_service`] over the store's (service, env) pairs and the
/// services with test runs.
fn known(
    pairs: &[(String, String)],
    tested: &[String],
    service: &str,
    env: Option<&str>,
    store: &str,
    empty_ok: bool,
) -> Result<()> {
    if let Some(env) = env {
        let envs: Vec<&str> = pairs
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, e)| e.as_str())
            .collect();
        if !envs.is_empty() && !envs.contains(&env) {
            return Err(Error::NoInput {
                message: format!(
                    "no events for service '{service}' in env '{env}' in {store}; known envs of {service}: {}",
                    closest_first(envs, env).join(", ")
                ),
                hint: Some(ENV_HINT.to_string()),
            });
        }
    }
    let names: Vec<&str> = pairs
        .iter()
        .map(|(s, _)| s.as_str())
        .chain(tested.iter().map(String::as_str))
        .collect();
    if names.contains(&service) || (empty_ok && names.is_empty()) {
        return Ok(());
    }
    let message = format!("no events for service '{service}' in {store}");
    let (message, hint) = match closest_first(names, service).as_slice() {
        [] => (
            message,
            "record a deployment, an incident or a test run first, or check --store (DORAMETER_STORE)",
        ),
        known => (
            format!("{message}; known: {}", known.join(", ")),
            "check --service (DORAMETER_SERVICE, or `service` in .dorameter.toml)",
        ),
    };
    Err(Error::NoInput {
        message,
        hint: Some(hint.into()),
    })
}

/// `Ok` when the store is empty or holds an event in `env`; else the envs
/// it does know, closest first.
fn known_env(pairs: &[(String, String)], env: &str, store: &str) -> Result<()> {
    if pairs.is_empty() || pairs.iter().any(|(_, e)| e == env) {
        return Ok(());
    }
    let envs = pairs.iter().map(|(_, e)| e.as_str()).collect();
    Err(Error::NoInput {
        message: format!(
            "no events in env '{env}' in {store}; known envs: {}",
            closest_first(envs, env).join(", ")
        ),
        hint: Some(ENV_HINT.into()),
    })
}

/// `names` sorted by edit distance to `to`, then by name; at most 10.
pub(crate) fn closest_first<'a>(mut names: Vec<&'a str>, to: &str) -> Vec<&'a str> {
    // Cached: each name's distance once (a store's deployment ids are many).
    names.sort_by_cached_key(|n| (edit_distance(n, to), *n));
    names.dedup();
    names.truncate(10);
    names
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_services_and_envs_name_the_closest_known_first() {
        let pairs = vec![
            ("api".to_string(), "production".to_string()),
            ("payments-api".to_string(), "production".to_string()),
            ("payments-api".to_string(), "staging".to_string()),
        ];
        assert!(known(&pairs, &[], "payments-api", Some("staging"), "s", false).is_ok());
        let e = known(
            &pairs,
            &[],
            "paymnets-api",
            Some("production"),
            "sqlite:x",
            false,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::NO_INPUT);
        assert_eq!(
            e.to_string(),
            "no events for service 'paymnets-api' in sqlite:x; known: payments-api, api"
        );
        let e = known(&pairs, &[], "payments-api", Some("prod"), "s", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("known envs of payments-api: production, staging"),
            "{e}"
        );
        assert!(known_env(&pairs, "staging", "s").is_ok() && known_env(&[], "x", "s").is_ok());
        let e = known_env(&pairs, "prod", "s").unwrap_err().to_string();
        assert!(e.ends_with("known envs: production, staging"), "{e}");
        let e = known(&[], &[], "api", Some("production"), "s", false).unwrap_err();
        assert!(e.hint().unwrap().contains("record a deployment"), "{e}");
        // Test runs are events too; an empty store passes when asked to.
        let tested = ["web".to_string()];
        assert!(known(&pairs, &tested, "web", Some("production"), "s", false).is_ok());
        assert!(known(&[], &[], "api", Some("production"), "s", true).is_ok());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
