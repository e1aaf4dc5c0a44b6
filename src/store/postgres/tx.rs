//! Queries and writes inside one PostgreSQL transaction: the same semantics
//! as the SQLite store's, statement for statement, with two differences
//! that only change speed:
//!
//! - `report_facts` resolves incidents linked by sha in the incident query
//!   itself (a LATERAL lookup), not with a round trip per incident.
//! - `add_test_entry` buffers results and writes them in batches of
//!   [`BATCH`] rows with one `INSERT … SELECT FROM unnest(…) ON CONFLICT`.
//!   Entries of one test met twice inside a batch are merged in memory by
//!   the same rules the upsert applies (all of them associative), so each
//!   batch touches a row at most once, as PostgreSQL requires.
//!
//! Planner note: sha-keyed lookups write `service || ''` (and env, status)
//! so the planner cannot pick the wide timeline index and filter it for a
//! sha, which before statistics exist it otherwise may (SQLite's store has
//! the same trick with unary `+`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use super::PostgresStore;
use crate::event::{Change, Deployment, Incident, LeadTimeNote, Remediation, StringEnum, TestRun};
use crate::junit::{Entry, Outcome, TestHistory};
use crate::metrics::{DeploymentFact, IncidentFact, Window};
use crate::store::{DeploymentRef, FlakyAtSha, ReadTx, ReportFacts, StoreError, WriteTx};
use crate::time::{from_millis, to_millis};

/// Test results written per statement.
const BATCH: usize = 5_000;

type Param<'a> = &'a (dyn ToSql + Sync);

/// Whole milliseconds, as the SQLite store keeps instants: both stores then
/// compare, order and return identical values.
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    from_millis(to_millis(t))
}

pub struct Tx<'a> {
    store: &'a PostgresStore,
    pending: RefCell<Pending>,
    /// Test runs created in this transaction: nobody else can have written
    /// their results.
    fresh_runs: RefCell<HashSet<i64>>,
    /// Hashes of the result keys written in this transaction. A key whose
    /// hash is absent (and whose run is fresh) cannot exist yet, so it is a
    /// plain INSERT; anything else takes the upsert. A hash collision or a
    /// file rolled back only sends a row down the (correct, slower) upsert.
    written: RefCell<HashSet<u64>>,
}

/// Test results not yet written, merged per (run, classname, name).
#[derive(Default)]
struct Pending {
    index: HashMap<(i64, String, String), usize>,
    rows: Vec<ResultRow>,
}

struct ResultRow {
    run_seq: i64,
    classname: String,
    name: String,
    outcome: Outcome,
    attempts: i64,
    failures: i64,
    passes: i64,
    flaky: bool,
    duration: Option<f64>,
    message: Option<String>,
}

impl ResultRow {
    /// The upsert's rules: see `FLUSH_RESULTS`.
    fn merge(&mut self, new: ResultRow) {
        self.flaky = self.flaky || new.flaky || (self.failures > 0 && new.passes > 0);
        self.attempts += new.attempts;
        self.failures += new.failures;
        self.passes += new.passes;
        if new.outcome != Outcome::Skipped {
            self.outcome = new.outcome;
        }
        if let Some(d) = new.duration {
            self.duration = Some(self.duration.unwrap_or(0.0) + d);
        }
        if new.message.is_some() {
            self.message = new.message;
        }
    }
}

impl<'a> Tx<'a> {
    pub fn new(store: &'a PostgresStore) -> Tx<'a> {
        Tx {
            store,
            pending: RefCell::new(Pending::default()),
            fresh_runs: RefCell::new(HashSet::new()),
            written: RefCell::new(HashSet::new()),
        }
    }

    fn err(&self, context: &str) -> impl FnOnce(tokio_postgres::Error) -> StoreError + use<> {
        self.store.err(context)
    }

    /// Runs a cached prepared statement.
    fn query(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        context: &str,
    ) -> Result<Vec<Row>, StoreError> {
        let store = self.store;
        let cached = store.statements.borrow().get(sql).cloned();
        let stmt = match cached {
            Some(s) => s,
            None => {
                let s = store
                    .rt
                    .block_on(store.client.prepare(sql))
                    .map_err(self.err(context))?;
                store.statements.borrow_mut().insert(sql, s.clone());
                s
            }
        };
        store
            .rt
            .block_on(store.client.query(&stmt, params))
            .map_err(self.err(context))
    }

    fn query_opt(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        context: &str,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params, context)?.into_iter().next())
    }

    fn exec(&self, sql: &str, context: &str) -> Result<(), StoreError> {
        self.store.exec(sql, context)
    }

    /// Writes the buffered test results: new keys with a plain INSERT,
    /// keys that may exist with the merging upsert.
    pub fn flush(&self) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut *self.pending.borrow_mut()).rows;
        if rows.is_empty() {
            return Ok(());
        }
        let (mut new, mut merge) = (Columns::default(), Columns::default());
        {
            let fresh = self.fresh_runs.borrow();
            let mut written = self.written.borrow_mut();
            for r in rows {
                let key = key_hash(r.run_seq, &r.classname, &r.name);
                let known = !written.insert(key) || !fresh.contains(&r.run_seq);
                if known { merge.push(r) } else { new.push(r) }
            }
        }
        for (sql, columns) in [(INSERT_RESULTS, new), (FLUSH_RESULTS, merge)] {
            if columns.run_seq.is_empty() {
                continue;
            }
            let c = &columns;
            self.query(
                sql,
                &[
                    &c.run_seq,
                    &c.classname,
                    &c.name,
                    &c.outcome,
                    &c.attempts,
                    &c.failures,
                    &c.passes,
                    &c.flaky,
                    &c.duration,
                    &c.message,
                ],
                "record test results",
            )?;
        }
        Ok(())
    }
}

fn key_hash(run_seq: i64, classname: &str, name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (run_seq, classname, name).hash(&mut h);
    h.finish()
}

/// Test results as the arrays `unnest` takes.
#[derive(Default)]
struct Columns {
    run_seq: Vec<i64>,
    classname: Vec<String>,
    name: Vec<String>,
    outcome: Vec<&'static str>,
    attempts: Vec<i64>,
    failures: Vec<i64>,
    passes: Vec<i64>,
    flaky: Vec<bool>,
    duration: Vec<Option<f64>>,
    message: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, r: ResultRow) {
        self.run_seq.push(r.run_seq);
        self.classname.push(r.classname);
        self.name.push(r.name);
        self.outcome.push(r.outcome.as_str());
        self.attempts.push(r.attempts);
        self.failures.push(r.failures);
        self.passes.push(r.passes);
        self.flaky.push(r.flaky);
        self.duration.push(r.duration);
        self.message.push(r.message);
    }
}

/// Results whose key cannot exist yet: no conflict handling to pay for.
const INSERT_RESULTS: &str = "INSERT INTO test_results
        (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::boolean[], $9::float8[], $10::text[])";

/// The per-result merge of the SQLite store, for a batch of distinct keys.
const FLUSH_RESULTS: &str = "INSERT INTO test_results AS t
        (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::boolean[], $9::float8[], $10::text[])
    ON CONFLICT (run_seq, classname, name) DO UPDATE SET
        flaky = t.flaky OR excluded.flaky OR (t.failures > 0 AND excluded.passes > 0),
        attempts = t.attempts + excluded.attempts,
        failures = t.failures + excluded.failures,
        passes = t.passes + excluded.passes,
        outcome = CASE WHEN excluded.outcome = 'skipped' THEN t.outcome ELSE excluded.outcome END,
        duration = CASE WHEN excluded.duration IS NULL THEN t.duration ELSE coalesce(t.duration, 0) + excluded.duration END,
        message = coalesce(excluded.message, t.message)";

fn get<'r, T: FromSql<'r>>(row: &'r Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(|e| StoreError::Query {
        context: format!("read column {i} of a result"),
        source: Box::new(e),
    })
}

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
        WHERE c.sha = $3 AND d.service = $1 AND d.env = $2 AND d.status = 'success'
    ) x ORDER BY finished_at, seq LIMIT 1";

const DEPLOYMENT: &str = "SELECT seq, id, service, env, repository_url, sha, previous_sha, started_at, finished_at, status,
        kind, version, team, pipeline_id, pipeline_url, deployed_by, tags::text, lead_time_from, lead_time_note,
        clamped_changes, truncated
    FROM deployments WHERE id = $1";

const INCIDENT: &str = "SELECT seq, id, env, started_at, detected_at, resolved_at, severity, title, cause, deployment_id,
        deployment_sha
    FROM incidents WHERE id = $1";

const SERVICE_ENVS: &str = "SELECT service, env FROM deployments
    UNION SELECT s.service, i.env FROM incident_services s JOIN incidents i ON i.seq = s.incident_seq
    ORDER BY 1, 2";

const REPORT_REMEDIATIONS: &str = "SELECT r.deployment_seq, r.target_id
    FROM remediations r JOIN deployments d ON d.seq = r.deployment_seq
    WHERE d.service = $1 AND d.env = $2 ORDER BY r.deployment_seq, r.target_id";

const REPORT_DEPLOYMENTS: &str = "SELECT seq, id, finished_at, status, kind FROM deployments
    WHERE service = $1 AND env = $2 ORDER BY seq";

/// One array rather than a row per change: a million rows cost far more to
/// send and decode than one array of a million integers.
const REPORT_LEAD_TIMES: &str = "SELECT coalesce(array_agg(c.lead_time_seconds), '{}')
    FROM deployments d JOIN changes c ON c.deployment_seq = d.seq
    WHERE d.service = $1 AND d.env = $2 AND d.status = 'success' AND d.finished_at >= $3 AND d.finished_at < $4";

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
              AND d.service = $1 AND d.env = $2 AND d.status = 'success'
        ) x ORDER BY x.finished_at, x.seq LIMIT 1
    ) ship ON true
    WHERE s.service = $1 AND i.env = $2
    ORDER BY i.seq";

const TEST_RUN: &str = "SELECT id, service, sha, run_id, run_attempt, job, recorded_at, files, tests, runs, passed, failed,
        errored, skipped, flaky
    FROM test_runs WHERE id = $1";

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

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl ReadTx for Tx<'_> {
    fn previous_success(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.query_opt(
            PREVIOUS_SUCCESS,
            &[&service, &env, &ms(at)],
            "find the previous deployment",
        )?
        .as_ref()
        .map(to_ref)
        .transpose()
    }

    fn last_success_of_sha(
        &self,
        service: &str,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.query_opt(
            LAST_SUCCESS_OF_SHA,
            &[&service, &env, &sha, &ms(at)],
            "find earlier deployments of the sha",
        )?
        .as_ref()
        .map(to_ref)
        .transpose()
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
        self.query_opt(
            DEPLOYMENT_SHIPPING,
            &[&service, &env, &sha],
            "find the deployment that shipped a commit",
        )?
        .as_ref()
        .map(to_ref)
        .transpose()
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let Some(r) = self.query_opt(DEPLOYMENT, &[&id], "read a deployment")? else {
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
            "SELECT target_id, reason FROM remediations WHERE deployment_seq = $1 ORDER BY target_id",
            &[&seq],
            "read remediations",
        )?;
        d.remediates = rows
            .iter()
            .map(|r| {
                Ok(Remediation {
                    deployment_id: get(r, 0)?,
                    reason: StringEnum::from_stored(get(r, 1)?),
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

    fn report_facts(
        &self,
        service: &str,
        env: &str,
        window: Window,
    ) -> Result<ReportFacts, StoreError> {
        let context = "load report data";
        let mut facts = ReportFacts::default();

        let mut remediates: HashMap<i64, Vec<String>> = HashMap::new();
        for r in self.query(REPORT_REMEDIATIONS, &[&service, &env], context)? {
            remediates.entry(get(&r, 0)?).or_default().push(get(&r, 1)?);
        }

        for r in self.query(REPORT_DEPLOYMENTS, &[&service, &env], context)? {
            let seq: i64 = get(&r, 0)?;
            let status: &str = get(&r, 3)?;
            facts.deployments.push(DeploymentFact {
                id: get(&r, 1)?,
                finished_at: get(&r, 2)?,
                success: status == "success",
                kind: StringEnum::from_stored(get(&r, 4)?),
                remediates: remediates.remove(&seq).unwrap_or_default(),
            });
        }

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
            files: u64_of(get(&r, 7)?),
            tests: u64_of(get(&r, 8)?),
            runs: u64_of(get(&r, 9)?),
            passed: u64_of(get(&r, 10)?),
            failed: u64_of(get(&r, 11)?),
            errored: u64_of(get(&r, 12)?),
            skipped: u64_of(get(&r, 13)?),
            flaky: u64_of(get(&r, 14)?),
        }))
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
                    runs: u64_of(get(r, 2)?),
                    failed_runs: u64_of(get(r, 3)?),
                    retried_runs: u64_of(get(r, 4)?),
                    mixed_shas: u64_of(get(r, 5)?),
                    first_seen: get(r, 6)?,
                    last_seen: get(r, 7)?,
                })
            })
            .collect()
    }
}

const INSERT_DEPLOYMENT: &str = "INSERT INTO deployments (id, service, env, repository_url, sha, previous_sha, started_at,
        finished_at, status, kind, version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from,
        lead_time_note, clamped_changes, truncated, recorded_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::text::jsonb, $17, $18, $19, $20, $21)
    ON CONFLICT (id) DO NOTHING
    RETURNING seq";

const INSERT_CHANGES: &str =
    "INSERT INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
    SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
    ON CONFLICT DO NOTHING";

const INSERT_REMEDIATIONS: &str = "INSERT INTO remediations (deployment_seq, target_id, reason)
    SELECT $1, * FROM unnest($2::text[], $3::text[])
    ON CONFLICT DO NOTHING";

const UPSERT_INCIDENT: &str =
    "INSERT INTO incidents (id, env, started_at, detected_at, resolved_at, severity, title, cause,
        deployment_id, deployment_sha, recorded_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
    ON CONFLICT (id) DO UPDATE SET env = excluded.env, started_at = excluded.started_at,
        detected_at = excluded.detected_at, resolved_at = excluded.resolved_at,
        severity = excluded.severity, title = excluded.title, cause = excluded.cause,
        deployment_id = excluded.deployment_id, deployment_sha = excluded.deployment_sha,
        updated_at = excluded.updated_at
    RETURNING seq";

const INSERT_TEST_RUN: &str =
    "INSERT INTO test_runs (id, service, sha, run_id, run_attempt, job, recorded_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING seq";

const UPDATE_TEST_RUN_COUNTS: &str =
    "UPDATE test_runs SET files = $2, tests = $3, runs = $4, passed = $5, failed = $6,
        errored = $7, skipped = $8, flaky = $9 WHERE seq = $1";

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl WriteTx for Tx<'_> {
    fn insert_deployment(&mut self, d: &Deployment) -> Result<bool, StoreError> {
        let context = "record the deployment";
        let tags = serde_json::to_string(&d.tags).unwrap_or_else(|_| "{}".into());
        let row = self.query_opt(
            INSERT_DEPLOYMENT,
            &[
                &d.id,
                &d.service,
                &d.env,
                &d.repository_url,
                &d.sha,
                &d.previous_sha,
                &ms(d.started_at),
                &ms(d.finished_at),
                &d.status.as_str(),
                &d.kind.as_str(),
                &d.version,
                &d.team,
                &d.pipeline_id,
                &d.pipeline_url,
                &d.deployed_by,
                &tags,
                &d.lead_time_from.as_str(),
                &d.lead_time_note.map(|n| n.as_str()),
                &i64::from(d.clamped_changes),
                &d.truncated,
                &ms(Utc::now()),
            ],
            context,
        )?;
        let Some(row) = row else {
            return Ok(false);
        };
        let seq: i64 = get(&row, 0)?;
        if !d.changes.is_empty() {
            let shas: Vec<&str> = d.changes.iter().map(|c| c.sha.as_str()).collect();
            let authored: Vec<DateTime<Utc>> =
                d.changes.iter().map(|c| ms(c.authored_at)).collect();
            let committed: Vec<DateTime<Utc>> =
                d.changes.iter().map(|c| ms(c.committed_at)).collect();
            let lead: Vec<i64> = d.changes.iter().map(|c| c.lead_time_seconds).collect();
            self.query(
                INSERT_CHANGES,
                &[&seq, &shas, &authored, &committed, &lead],
                context,
            )?;
        }
        if !d.remediates.is_empty() {
            let targets: Vec<&str> = d
                .remediates
                .iter()
                .map(|r| r.deployment_id.as_str())
                .collect();
            let reasons: Vec<&str> = d.remediates.iter().map(|r| r.reason.as_str()).collect();
            self.query(INSERT_REMEDIATIONS, &[&seq, &targets, &reasons], context)?;
        }
        Ok(true)
    }

    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        let context = "record the incident";
        let row = self.query_opt(
            UPSERT_INCIDENT,
            &[
                &i.id,
                &i.env,
                &ms(i.started_at),
                &i.detected_at.map(ms),
                &i.resolved_at.map(ms),
                &i.severity,
                &i.title,
                &i.cause.as_str(),
                &i.deployment_id,
                &i.deployment_sha,
                &ms(Utc::now()),
            ],
            context,
        )?;
        let Some(row) = row else {
            return Err(StoreError::Query {
                context: context.into(),
                source: "the upsert returned no row".into(),
            });
        };
        let seq: i64 = get(&row, 0)?;
        self.query(
            "DELETE FROM incident_services WHERE incident_seq = $1",
            &[&seq],
            context,
        )?;
        if !i.services.is_empty() {
            self.query(
                "INSERT INTO incident_services (service, incident_seq) SELECT s, $2 FROM unnest($1::text[]) AS s
                 ON CONFLICT DO NOTHING",
                &[&i.services, &seq],
                context,
            )?;
        }
        Ok(())
    }

    fn insert_test_run(&mut self, run: &TestRun) -> Result<Option<i64>, StoreError> {
        let row = self.query_opt(
            INSERT_TEST_RUN,
            &[
                &run.id,
                &run.service,
                &run.sha,
                &run.run_id,
                &run.run_attempt,
                &run.job,
                &ms(run.recorded_at),
            ],
            "record the test run",
        )?;
        let seq = row.map(|r| get::<i64>(&r, 0)).transpose()?;
        if let Some(seq) = seq {
            self.fresh_runs.borrow_mut().insert(seq);
        }
        Ok(seq)
    }

    fn update_test_run_counts(&mut self, run_seq: i64, run: &TestRun) -> Result<(), StoreError> {
        self.flush()?;
        self.query(
            UPDATE_TEST_RUN_COUNTS,
            &[
                &run_seq,
                &i64_of(run.files),
                &i64_of(run.tests),
                &i64_of(run.runs),
                &i64_of(run.passed),
                &i64_of(run.failed),
                &i64_of(run.errored),
                &i64_of(run.skipped),
                &i64_of(run.flaky),
            ],
            "record the test run counts",
        )?;
        Ok(())
    }

    fn begin_file(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.exec("SAVEPOINT junit_file", "start a file")
    }

    fn end_file(&mut self, keep: bool) -> Result<(), StoreError> {
        if keep {
            self.flush()?;
            self.exec("RELEASE junit_file", "finish a file")
        } else {
            // What is still buffered belongs to the file being dropped.
            *self.pending.borrow_mut() = Pending::default();
            self.exec(
                "ROLLBACK TO junit_file; RELEASE junit_file",
                "finish a file",
            )
        }
    }

    fn add_test_entry(&mut self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        let attempts = e.attempts.len() as i64;
        let failures = e.attempts.iter().filter(|o| o.is_failure()).count() as i64;
        let passes = e.attempts.iter().filter(|o| **o == Outcome::Passed).count() as i64;
        let last = e
            .attempts
            .iter()
            .rev()
            .copied()
            .find(|o| *o != Outcome::Skipped)
            .unwrap_or(Outcome::Skipped);
        let first_failure = e.attempts.iter().position(|o| o.is_failure());
        let last_pass = e.attempts.iter().rposition(|o| *o == Outcome::Passed);
        let flaky = matches!((first_failure, last_pass), (Some(f), Some(p)) if p > f);
        let row = ResultRow {
            run_seq,
            classname: e.classname.to_string(),
            name: e.name.to_string(),
            outcome: last,
            attempts,
            failures,
            passes,
            flaky,
            duration: e.time(),
            message: e.message.map(str::to_string),
        };
        let full = {
            let mut pending = self.pending.borrow_mut();
            let key = (run_seq, row.classname.clone(), row.name.clone());
            match pending.index.get(&key) {
                Some(&i) => pending.rows[i].merge(row),
                None => {
                    let i = pending.rows.len();
                    pending.rows.push(row);
                    pending.index.insert(key, i);
                }
            }
            pending.rows.len() >= BATCH
        };
        if full { self.flush() } else { Ok(()) }
    }
}
