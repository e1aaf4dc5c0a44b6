//! Queries: the `ReadTx` half of the PostgreSQL store. One difference from
//! SQLite's, for speed only: `report_facts` resolves incidents linked by sha
//! in the incident query itself (a LATERAL lookup), not with a round trip
//! per incident.
//!
//! Planner note: sha-keyed lookups write `service || ''` (and env, status)
//! so the planner cannot pick the wide timeline index and filter it for a
//! sha, which before statistics exist it otherwise may (SQLite's store has
//! the same trick with unary `+`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::tx::{Param, Tx, get, ms};
use crate::event::{Change, Deployment, Incident, LeadTimeNote, Remediation, StringEnum, TestRun};
use crate::junit::TestHistory;
use crate::metrics::{DeploymentFact, IncidentFact, Window};
use crate::store::results::from_sql_count;
use crate::store::{
    Ahead, DeploymentRef, FlakyAtSha, PullCommits, ReadTx, ReportFacts, SourcesState, StoreError,
    StoredResult, TestResult,
};

fn to_ref(r: &Row) -> Result<DeploymentRef, StoreError> {
    Ok(DeploymentRef {
        id: get(r, 0)?,
        sha: get(r, 1)?,
        finished_at: get(r, 2)?,
        kind: StringEnum::from_stored(get(r, 3)?),
        seq: get(r, 4)?,
    })
}

fn refs(rows: Vec<Row>) -> Result<Vec<DeploymentRef>, StoreError> {
    rows.iter().map(to_ref).collect()
}

const PREVIOUS_SUCCESS: &str = "SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE service = $1 AND env = $2 AND status = 'success' AND finished_at <= $3
    ORDER BY finished_at DESC, seq DESC LIMIT 1";

const LAST_SUCCESS_OF_SHA: &str = "SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE sha = $3 AND service || '' = $1 AND env || '' = $2 AND status || '' = 'success' AND finished_at <= $4
    ORDER BY finished_at DESC, seq DESC LIMIT 1";

const SUCCESSES_AFTER: &str = "SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE service = $1 AND env = $2 AND status = 'success'
      AND (finished_at > $3 OR (finished_at = $3 AND seq > $4)) AND finished_at <= $5
    ORDER BY finished_at, seq";

const SUCCESSES_BEFORE: &str = "SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE service = $1 AND env = $2 AND status = 'success' AND finished_at <= $3
    ORDER BY finished_at DESC, seq DESC LIMIT $4";

/// The earliest successful deployment that deployed $3 or shipped it as a change.
const DEPLOYMENT_SHIPPING: &str = "SELECT id, sha, finished_at, kind, seq FROM (
        SELECT id, sha, finished_at, kind, seq FROM deployments
        WHERE sha = $3 AND service || '' = $1 AND env || '' = $2 AND status || '' = 'success'
        UNION ALL
        SELECT d.id, d.sha, d.finished_at, d.kind, d.seq FROM changes c JOIN deployments d ON d.seq = c.deployment_seq
        WHERE c.sha = $3 AND d.service || '' = $1 AND d.env || '' = $2 AND d.status || '' = 'success'
    ) x ORDER BY finished_at, seq LIMIT 1";

const DEPLOYMENT: &str = "SELECT seq, id, service, env, repository_url, sha, previous_sha, started_at, finished_at, status,
        kind, version, team, pipeline_id, pipeline_url, deployed_by, tags::text, lead_time_from, lead_time_note,
        clamped_changes, truncated, ref_name
    FROM deployments WHERE id = $1";

const INCIDENT: &str = "SELECT seq, id, env, started_at, detected_at, resolved_at, severity, title, cause, deployment_id,
        deployment_sha
    FROM incidents WHERE id = $1";

const SERVICE_ENVS: &str = "SELECT service, env FROM deployments
    UNION SELECT s.service, i.env FROM incident_services s JOIN incidents i ON i.seq = s.incident_seq
    ORDER BY 1, 2";

const REPORT_REMEDIATIONS: &str = "SELECT r.deployment_seq, r.target_id
    FROM remediations r JOIN deployments d ON d.seq = r.deployment_seq
    WHERE d.service = $1 AND d.env = $2 AND d.finished_at >= $3
    ORDER BY r.deployment_seq, r.target_id";

const REPORT_DEPLOYMENTS: &str =
    "SELECT seq, id, finished_at, status, kind, lead_time_note FROM deployments
    WHERE service = $1 AND env = $2 AND finished_at >= $3 ORDER BY seq";

const FIRST_DEPLOYMENT: &str =
    "SELECT MIN(finished_at) FROM deployments WHERE service = $1 AND env = $2";

/// One array rather than a row per change: a million rows cost far more to
/// send and decode than one array of a million integers.
/// Each commit counts once (SPEC §3): see the SQLite store's query.
const REPORT_LEAD_TIMES: &str = "SELECT coalesce(array_agg(c.lead_time_seconds), '{}')
    FROM deployments d JOIN changes c ON c.deployment_seq = d.seq
    WHERE d.service = $1 AND d.env = $2 AND d.status = 'success' AND d.finished_at >= $3 AND d.finished_at < $4";

const HAS_SERVICE: &str = "SELECT EXISTS (SELECT 1 FROM deployments WHERE service = $1)
    OR EXISTS (SELECT 1 FROM incident_services WHERE service = $1)
    OR EXISTS (SELECT 1 FROM test_runs WHERE service = $1)";

/// Flaky tests of one commit's stored test runs (`flaky_at_sha`).
const FLAKY_AT_SHA: &str =
    "SELECT r.classname, r.name, sum(r.attempts)::bigint, sum(r.failures)::bigint
    FROM test_runs t JOIN test_results r ON r.run_seq = t.seq
    WHERE t.service = $1 AND t.sha = $2 AND r.flaky
    GROUP BY r.classname, r.name ORDER BY r.classname, r.name LIMIT $3";

/// Incidents of the service+env, with the deployment that shipped the sha of
/// those linked by sha (resolved here, in one statement).
const REPORT_INCIDENTS: &str = "SELECT i.id, i.started_at, i.resolved_at, i.cause, i.deployment_id, i.deployment_sha, ship.id
    FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq
    LEFT JOIN LATERAL (
        SELECT x.id FROM (
            SELECT d.id, d.finished_at, d.seq FROM deployments d
            WHERE i.deployment_id IS NULL AND d.sha = i.deployment_sha
              AND d.service || '' = $1 AND d.env || '' = $2 AND d.status || '' = 'success'
            UNION ALL
            SELECT d.id, d.finished_at, d.seq FROM changes c JOIN deployments d ON d.seq = c.deployment_seq
            WHERE i.deployment_id IS NULL AND c.sha = i.deployment_sha
              AND d.service || '' = $1 AND d.env || '' = $2 AND d.status || '' = 'success'
        ) x ORDER BY x.finished_at, x.seq LIMIT 1
    ) ship ON true
    WHERE s.service = $1 AND i.env = $2
    ORDER BY i.seq";

const TEST_RUN: &str = "SELECT id, service, sha, run_id, run_attempt, job, recorded_at, files, tests, runs, passed, failed,
        errored, skipped, flaky
    FROM test_runs WHERE id = $1";

/// One test run's stored results (`test_results`).
const TEST_RESULTS: &str =
    "SELECT r.classname, r.name, r.outcome, r.attempts, r.failures, r.passes, r.flaky,
        r.duration, r.message
    FROM test_runs t JOIN test_results r ON r.run_seq = t.seq
    WHERE t.id = $1 ORDER BY r.classname, r.name";

/// Per test and sha first (for same-sha evidence), then per test.
const TEST_HISTORY: &str = "WITH runs AS (
        SELECT seq, sha, recorded_at FROM test_runs
        WHERE service = $1 AND recorded_at >= $2 AND recorded_at < $3
          AND NOT (tests > 0 AND (failed + errored) * 100.0::float8 > tests * $4::float8)
    ), per_sha AS (
        SELECT r.classname, r.name, t.sha,
               count(*) AS runs,
               count(*) FILTER (WHERE r.outcome IN ('failed', 'errored')) AS failed_runs,
               count(*) FILTER (WHERE r.flaky) AS retried_runs,
               bool_or(r.outcome = 'passed') AS passed_any,
               bool_or(r.outcome IN ('failed', 'errored')) AS failed_any,
               min(t.recorded_at) AS first_seen,
               max(t.recorded_at) AS last_seen
        FROM runs t JOIN test_results r ON r.run_seq = t.seq
        WHERE r.outcome <> 'skipped'
        GROUP BY r.classname, r.name, t.sha
    )
    SELECT classname, name, sum(runs)::bigint, sum(failed_runs)::bigint, sum(retried_runs)::bigint,
           count(*) FILTER (WHERE sha IS NOT NULL AND passed_any AND failed_any), min(first_seen), max(last_seen)
    FROM per_sha GROUP BY classname, name ORDER BY classname, name";

/// A question's parameters, owned (a time rounded as stored).
type Owned<'q> = Vec<Box<dyn ToSql + Sync + 'q>>;

fn borrowed<'a>(params: &'a Owned<'_>) -> Vec<Param<'a>> {
    params.iter().map(|p| p.as_ref() as Param<'_>).collect()
}

/// The statement that answers `q`, its parameters, and what it is for.
fn statement<'q>(q: &Ahead<'q>) -> (&'static str, Owned<'q>, &'static str) {
    match *q {
        Ahead::Deployment(id) => (DEPLOYMENT, vec![Box::new(id)], "read a deployment"),
        Ahead::HasService(service) => (HAS_SERVICE, vec![Box::new(service)], "look up the service"),
        Ahead::PreviousSuccess { service, env, at } => (
            PREVIOUS_SUCCESS,
            vec![Box::new(service), Box::new(env), Box::new(ms(at))],
            "find the previous deployment",
        ),
        Ahead::LastSuccessOfSha {
            service,
            env,
            sha,
            at,
        } => (
            LAST_SUCCESS_OF_SHA,
            vec![
                Box::new(service),
                Box::new(env),
                Box::new(sha),
                Box::new(ms(at)),
            ],
            "find earlier deployments of the sha",
        ),
        Ahead::DeploymentShipping { service, env, sha } => (
            DEPLOYMENT_SHIPPING,
            vec![Box::new(service), Box::new(env), Box::new(sha)],
            "find the deployment that shipped a commit",
        ),
    }
}

impl Tx<'_> {
    /// The rows answering `q`: read ahead, else queried now.
    fn ask(&self, q: Ahead<'_>) -> Result<Vec<Row>, StoreError> {
        if let Some(rows) = self.answered(&q) {
            return Ok(rows);
        }
        let (sql, params, context) = statement(&q);
        self.query(sql, &borrowed(&params), context)
    }

    fn ask_ref(&self, q: Ahead<'_>) -> Result<Option<DeploymentRef>, StoreError> {
        self.ask(q)?.first().map(to_ref).transpose()
    }
}

impl ReadTx for Tx<'_> {
    fn read_ahead(&self, questions: &[Ahead<'_>]) -> Result<(), StoreError> {
        let statements: Vec<_> = questions.iter().map(statement).collect();
        let queries: Vec<(&'static str, Vec<Param<'_>>)> = statements
            .iter()
            .map(|(sql, params, _)| (*sql, borrowed(params)))
            .collect();
        let answers = self.query_together(&queries, "read ahead")?;
        *self.ahead.borrow_mut() = questions
            .iter()
            .map(|q| format!("{q:?}"))
            .zip(answers)
            .collect();
        Ok(())
    }

    fn previous_success(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.ask_ref(Ahead::PreviousSuccess { service, env, at })
    }

    fn last_success_of_sha(
        &self,
        service: &str,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.ask_ref(Ahead::LastSuccessOfSha {
            service,
            env,
            sha,
            at,
        })
    }

    fn successes_after(
        &self,
        service: &str,
        env: &str,
        after: &DeploymentRef,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        refs(self.query(
            SUCCESSES_AFTER,
            &[&service, &env, &ms(after.finished_at), &after.seq, &ms(at)],
            "list later deployments",
        )?)
    }

    fn successes_before(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out = refs(self.query(
            SUCCESSES_BEFORE,
            &[&service, &env, &ms(at), &limit],
            "list earlier deployments",
        )?)?;
        out.reverse();
        Ok(out)
    }

    fn deployment_shipping(
        &self,
        service: &str,
        env: &str,
        sha: &str,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.ask_ref(Ahead::DeploymentShipping { service, env, sha })
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let Some(r) = self.ask(Ahead::Deployment(id))?.into_iter().next() else {
            return Ok(None);
        };
        let seq: i64 = get(&r, 0)?;
        let tags: String = get(&r, 16)?;
        let mut d = Deployment {
            id: get(&r, 1)?,
            service: get(&r, 2)?,
            env: get(&r, 3)?,
            repository_url: get(&r, 4)?,
            sha: get(&r, 5)?,
            previous_sha: get(&r, 6)?,
            started_at: get(&r, 7)?,
            finished_at: get(&r, 8)?,
            status: StringEnum::from_stored(get(&r, 9)?),
            kind: StringEnum::from_stored(get(&r, 10)?),
            version: get(&r, 11)?,
            ref_name: get(&r, 21)?,
            team: get(&r, 12)?,
            pipeline_id: get(&r, 13)?,
            pipeline_url: get(&r, 14)?,
            deployed_by: get(&r, 15)?,
            tags: serde_json::from_str::<BTreeMap<String, String>>(&tags).unwrap_or_default(),
            lead_time_from: StringEnum::from_stored(get(&r, 17)?),
            lead_time_note: get::<Option<String>>(&r, 18)?
                .and_then(|s| s.parse::<LeadTimeNote>().ok()),
            clamped_changes: u32::try_from(get::<i64>(&r, 19)?).unwrap_or(u32::MAX),
            truncated: get(&r, 20)?,
            changes: Vec::new(),
            remediates: Vec::new(),
        };
        // sha order, as the primary key of SQLite's table gives.
        let rows = self.query(
            "SELECT sha, authored_at, committed_at, lead_time_seconds FROM changes WHERE deployment_seq = $1 ORDER BY sha",
            &[&seq],
            "read changes",
        )?;
        d.changes = rows
            .iter()
            .map(|r| {
                Ok(Change {
                    sha: get(r, 0)?,
                    authored_at: get(r, 1)?,
                    committed_at: get(r, 2)?,
                    lead_time_seconds: get(r, 3)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let rows = self.query(
            "SELECT target_id, reason, commit_sha FROM remediations WHERE deployment_seq = $1 ORDER BY target_id",
            &[&seq],
            "read remediations",
        )?;
        d.remediates = rows
            .iter()
            .map(|r| {
                Ok(Remediation {
                    deployment_id: get(r, 0)?,
                    reason: StringEnum::from_stored(get(r, 1)?),
                    commit: get(r, 2)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(d))
    }

    fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let Some(r) = self.query_opt(INCIDENT, &[&id], "read an incident")? else {
            return Ok(None);
        };
        let seq: i64 = get(&r, 0)?;
        let mut i = Incident {
            id: get(&r, 1)?,
            services: Vec::new(),
            env: get(&r, 2)?,
            started_at: get(&r, 3)?,
            detected_at: get(&r, 4)?,
            resolved_at: get(&r, 5)?,
            severity: get(&r, 6)?,
            title: get(&r, 7)?,
            cause: StringEnum::from_stored(get(&r, 8)?),
            deployment_id: get(&r, 9)?,
            deployment_sha: get(&r, 10)?,
        };
        let rows = self.query(
            "SELECT service FROM incident_services WHERE incident_seq = $1 ORDER BY service",
            &[&seq],
            "read incident services",
        )?;
        i.services = rows.iter().map(|r| get(r, 0)).collect::<Result<_, _>>()?;
        Ok(Some(i))
    }

    fn service_envs(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.query(SERVICE_ENVS, &[], "list services")?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .collect()
    }

    fn test_services(&self) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT DISTINCT service FROM test_runs ORDER BY 1",
            &[],
            "list services with test runs",
        )?
        .iter()
        .map(|r| get(r, 0))
        .collect()
    }

    fn has_service(&self, service: &str) -> Result<bool, StoreError> {
        match self.ask(Ahead::HasService(service))?.first() {
            Some(r) => get(r, 0),
            None => Ok(false),
        }
    }

    fn report_facts(
        &self,
        service: &str,
        env: &str,
        window: Window,
        from: DateTime<Utc>,
    ) -> Result<ReportFacts, StoreError> {
        let context = "load report data";
        let mut facts = ReportFacts::default();
        if let Some(r) = self
            .query(FIRST_DEPLOYMENT, &[&service, &env], context)?
            .first()
        {
            facts.first_deployment = get(r, 0)?;
        }

        let mut remediates: HashMap<i64, Vec<String>> = HashMap::new();
        for r in self.query(REPORT_REMEDIATIONS, &[&service, &env, &from], context)? {
            remediates.entry(get(&r, 0)?).or_default().push(get(&r, 1)?);
        }

        // Streamed: all-time facts (`/metrics`) are every deployment.
        self.query_each(REPORT_DEPLOYMENTS, &[&service, &env, &from], context, |r| {
            let seq: i64 = get(&r, 0)?;
            let status: &str = get(&r, 3)?;
            facts.deployments.push(DeploymentFact {
                id: get(&r, 1)?,
                finished_at: get(&r, 2)?,
                success: status == "success",
                kind: StringEnum::from_stored(get(&r, 4)?),
                remediates: remediates.remove(&seq).unwrap_or_default(),
                history_missing: get::<Option<&str>>(&r, 5)?
                    .and_then(|n| n.parse::<LeadTimeNote>().ok())
                    .is_some_and(LeadTimeNote::history_missing),
            });
            Ok(())
        })?;

        facts.lead_times = self.lead_times(service, env, window)?;

        for r in self.query(REPORT_INCIDENTS, &[&service, &env], context)? {
            let by_id: Option<String> = get(&r, 4)?;
            let by_sha: Option<String> = get(&r, 5)?;
            let shipped: Option<String> = get(&r, 6)?;
            let explicit_deployment = match (&by_id, &by_sha) {
                (Some(id), _) => Some(id.clone()),
                (None, Some(_)) => shipped,
                (None, None) => None,
            };
            facts.incidents.push(IncidentFact {
                id: get(&r, 0)?,
                started_at: get(&r, 1)?,
                resolved_at: get(&r, 2)?,
                cause: StringEnum::from_stored(get(&r, 3)?),
                explicit_unmatched: explicit_deployment.is_none()
                    && (by_id.is_some() || by_sha.is_some()),
                explicit_deployment,
            });
        }
        Ok(facts)
    }

    fn lead_times(&self, service: &str, env: &str, window: Window) -> Result<Vec<i64>, StoreError> {
        let rows = self.query(
            REPORT_LEAD_TIMES,
            &[&service, &env, &ms(window.since), &ms(window.until)],
            "load lead times",
        )?;
        match rows.first() {
            Some(r) => get(r, 0),
            None => Ok(Vec::new()),
        }
    }

    fn lead_time_histogram(
        &self,
        service: &str,
        env: &str,
        bounds: &[f64],
    ) -> Result<crate::store::Histogram, StoreError> {
        let sql = crate::store::lead_time_histogram_sql(bounds);
        let context = "count lead times";
        let rows = self.query_dynamic(&sql, &[&service, &env], context)?;
        let Some(r) = rows.first() else {
            return Ok(crate::store::Histogram::default());
        };
        let n = bounds.len();
        let mut at_most = Vec::with_capacity(n);
        for i in 0..n {
            at_most.push(get::<i64>(r, i)?.max(0) as u64);
        }
        Ok(crate::store::Histogram {
            at_most,
            sum: get::<i64>(r, n)? as f64,
            count: get::<i64>(r, n + 1)?.max(0) as u64,
        })
    }

    fn flaky_at_sha(
        &self,
        service: &str,
        sha: &str,
        limit: usize,
    ) -> Result<Vec<FlakyAtSha>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query(
            FLAKY_AT_SHA,
            &[&service, &sha, &limit],
            "load this commit's flaky tests",
        )?
        .iter()
        .map(|r| {
            Ok(FlakyAtSha {
                classname: get(r, 0)?,
                name: get(r, 1)?,
                attempts: get::<i64>(r, 2)?.max(0) as u64,
                failures: get::<i64>(r, 3)?.max(0) as u64,
            })
        })
        .collect()
    }

    fn test_run(&self, id: &str) -> Result<Option<TestRun>, StoreError> {
        let Some(r) = self.query_opt(TEST_RUN, &[&id], "read a test run")? else {
            return Ok(None);
        };
        Ok(Some(TestRun {
            id: get(&r, 0)?,
            service: get(&r, 1)?,
            sha: get(&r, 2)?,
            run_id: get(&r, 3)?,
            run_attempt: get(&r, 4)?,
            job: get(&r, 5)?,
            recorded_at: get(&r, 6)?,
            files: from_sql_count(get(&r, 7)?),
            tests: from_sql_count(get(&r, 8)?),
            runs: from_sql_count(get(&r, 9)?),
            passed: from_sql_count(get(&r, 10)?),
            failed: from_sql_count(get(&r, 11)?),
            errored: from_sql_count(get(&r, 12)?),
            skipped: from_sql_count(get(&r, 13)?),
            flaky: from_sql_count(get(&r, 14)?),
        }))
    }

    fn deployment_ids(&self) -> Result<Vec<String>, StoreError> {
        self.ids(crate::store::list_sql::DEPLOYMENT_IDS, "list deployments")
    }

    fn incident_ids(&self) -> Result<Vec<String>, StoreError> {
        self.ids(crate::store::list_sql::INCIDENT_IDS, "list incidents")
    }

    fn test_run_ids(&self) -> Result<Vec<String>, StoreError> {
        self.ids(crate::store::list_sql::TEST_RUN_IDS, "list test runs")
    }

    fn test_runs_at(&self, service: &str, sha: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            crate::store::list_sql::TEST_RUNS_AT,
            &[&service, &sha],
            "list a commit's test runs",
        )?
        .iter()
        .map(|r| get(r, 0))
        .collect()
    }

    fn test_results(&self, run_id: &str) -> Result<Vec<StoredResult>, StoreError> {
        // Inside a write transaction, results may still be buffered.
        self.flush()?;
        self.query(TEST_RESULTS, &[&run_id], "read a test run's results")?
            .iter()
            .map(|r| {
                Ok(StoredResult {
                    classname: get(r, 0)?,
                    name: get(r, 1)?,
                    result: TestResult::from_columns(
                        get(r, 2)?,
                        get(r, 3)?,
                        get(r, 4)?,
                        get(r, 5)?,
                        get(r, 6)?,
                        get(r, 7)?,
                        get(r, 8)?,
                    ),
                })
            })
            .collect()
    }

    fn test_history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError> {
        // Inside a write transaction, results may still be buffered.
        self.flush()?;
        let rows = self.query(
            TEST_HISTORY,
            &[
                &service,
                &ms(window.since),
                &ms(window.until),
                &infra_percent,
            ],
            "load test history",
        )?;
        rows.iter()
            .map(|r| {
                Ok(TestHistory {
                    classname: get(r, 0)?,
                    name: get(r, 1)?,
                    runs: from_sql_count(get(r, 2)?),
                    failed_runs: from_sql_count(get(r, 3)?),
                    retried_runs: from_sql_count(get(r, 4)?),
                    mixed_shas: from_sql_count(get(r, 5)?),
                    first_seen: get(r, 6)?,
                    last_seen: get(r, 7)?,
                })
            })
            .collect()
    }

    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.query_opt(
            "SELECT value FROM cursors WHERE source = $1",
            &[&source],
            "read an import cursor",
        )?
        .map(|r| get(&r, 0))
        .transpose()
    }

    fn sources_state(&self) -> Result<SourcesState, StoreError> {
        let cursors = self
            .query(
                "SELECT source, value FROM cursors ORDER BY source",
                &[],
                "read the cursors",
            )?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let shas = self
            .query(
                "SELECT sha FROM pull_commits ORDER BY sha",
                &[],
                "read the cached pull request commits",
            )?
            .iter()
            .map(|r| get(r, 0))
            .collect::<Result<Vec<String>, StoreError>>()?;
        let mut pulls = self.pull_commits(&shas)?;
        pulls.sort_by(|a, b| a.sha.cmp(&b.sha));
        Ok(SourcesState {
            cursors,
            pull_commits: pulls,
        })
    }

    fn pull_commits(&self, shas: &[String]) -> Result<Vec<PullCommits>, StoreError> {
        let rows = self.query(
            "SELECT sha, forge, number, commits FROM pull_commits WHERE sha = ANY($1)",
            &[&shas],
            "read the cached pull request commits",
        )?;
        rows.iter()
            .map(|r| {
                let commits: String = get(r, 3)?;
                Ok(PullCommits {
                    sha: get(r, 0)?,
                    forge: get(r, 1)?,
                    number: get::<Option<i64>>(r, 2)?.map(|n| n as u64),
                    commits: serde_json::from_str(&commits).map_err(|e| StoreError::Query {
                        context: "read the cached pull request commits".into(),
                        source: Box::new(e),
                    })?,
                })
            })
            .collect()
    }
}

impl Tx<'_> {
    /// The first column of every row of `sql`, a query without parameters.
    fn ids(&self, sql: &'static str, context: &str) -> Result<Vec<String>, StoreError> {
        self.query(sql, &[], context)?
            .iter()
            .map(|r| get(r, 0))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::event::{Change, DeploymentKind, DeploymentStatus, LeadTimeFrom};
    use crate::store::testing::with_postgres_store;

    fn deployment(id: &str, sha: &str, finished_at: DateTime<Utc>, changes: &[&str]) -> Deployment {
        Deployment {
            id: id.into(),
            service: "api".into(),
            env: "production".into(),
            repository_url: None,
            sha: sha.into(),
            previous_sha: None,
            started_at: finished_at,
            finished_at,
            status: DeploymentStatus::Success,
            kind: DeploymentKind::Planned,
            version: None,
            ref_name: None,
            team: None,
            pipeline_id: None,
            pipeline_url: None,
            deployed_by: None,
            tags: BTreeMap::new(),
            lead_time_from: LeadTimeFrom::Author,
            lead_time_note: None,
            clamped_changes: 0,
            truncated: false,
            changes: changes
                .iter()
                .map(|sha| Change {
                    sha: (*sha).into(),
                    authored_at: finished_at - Duration::hours(1),
                    committed_at: finished_at - Duration::hours(1),
                    lead_time_seconds: 3600,
                })
                .collect(),
            remediates: Vec::new(),
        }
    }

    fn id(d: Option<DeploymentRef>) -> Option<String> {
        d.map(|d| d.id)
    }

    /// Read ahead, each answer is the one asked directly; a write makes
    /// every answer not yet taken stale, so it is asked again.
    #[test]
    fn answers_read_ahead_are_the_direct_ones_until_a_write() {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
        let (service, env) = ("api", "production");
        with_postgres_store(|store| {
            store
                .write(&mut |tx| {
                    tx.read_ahead(&[
                        Ahead::Deployment("d1"),
                        Ahead::HasService(service),
                        Ahead::PreviousSuccess {
                            service,
                            env,
                            at: t,
                        },
                    ])?;
                    assert!(tx.deployment("d1")?.is_none());
                    tx.insert_deployment(&deployment("d1", "s1", t - Duration::hours(2), &["c1"]))?;
                    assert!(tx.has_service(service)?, "answered before the write");
                    assert_eq!(id(tx.previous_success(service, env, t)?), Some("d1".into()));

                    let questions = [
                        Ahead::Deployment("d1"),
                        Ahead::PreviousSuccess {
                            service,
                            env,
                            at: t,
                        },
                        Ahead::LastSuccessOfSha {
                            service,
                            env,
                            sha: "s1",
                            at: t,
                        },
                        Ahead::DeploymentShipping {
                            service,
                            env,
                            sha: "c1",
                        },
                        Ahead::HasService("web"),
                    ];
                    tx.read_ahead(&questions)?;
                    assert_eq!(tx.deployment("d1")?.map(|d| d.changes.len()), Some(1));
                    assert_eq!(id(tx.previous_success(service, env, t)?), Some("d1".into()));
                    assert_eq!(
                        id(tx.last_success_of_sha(service, env, "s1", t)?),
                        Some("d1".into())
                    );
                    assert_eq!(
                        id(tx.deployment_shipping(service, env, "c1")?),
                        Some("d1".into())
                    );
                    assert!(!tx.has_service("web")?);
                    // Taken once: asked again, it is queried (and still right).
                    assert_eq!(id(tx.previous_success(service, env, t)?), Some("d1".into()));

                    tx.read_ahead(&questions)?;
                    tx.insert_deployment(&deployment("d2", "s2", t - Duration::hours(1), &["c2"]))?;
                    assert_eq!(id(tx.previous_success(service, env, t)?), Some("d2".into()));
                    Ok(())
                })
                .expect("the write transaction");
        });
    }
}
