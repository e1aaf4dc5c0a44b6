//! Queries: the `ReadTx` half of the SQLite store.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::store::Tx;
use crate::event::{Change, Deployment, Incident, LeadTimeNote, Remediation, StringEnum, TestRun};
use crate::junit::TestHistory;
use crate::metrics::{DeploymentFact, IncidentFact, Window};
use crate::store::{
    DeploymentRef, FlakyAtSha, PullCommits, ReadTx, ReportFacts, SourcesState, StoreError,
    StoredResult, TestResult,
};
use crate::time::{from_millis, to_millis};

// Planner note: without ANALYZE statistics SQLite prefers the wide
// (service, env, status, …) index even where a sha pins one or two rows, so
// sha-keyed queries disable it with unary `+` on the other columns.

pub(super) const REF_COLUMNS: &str = "id, sha, finished_at, kind, seq";

/// The earliest successful deployment that deployed ?3 or shipped it as a change.
const DEPLOYMENT_SHIPPING: &str = "SELECT id, sha, finished_at, kind, seq FROM (
    SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE sha = ?3 AND +service = ?1 AND +env = ?2 AND +status = 'success'
    UNION ALL
    SELECT d.id, d.sha, d.finished_at, d.kind, d.seq FROM changes c CROSS JOIN deployments d ON d.seq = c.deployment_seq
    WHERE c.sha = ?3 AND +d.service = ?1 AND +d.env = ?2 AND +d.status = 'success'
) ORDER BY finished_at, seq LIMIT 1";

/// Lead times of the changes of successful deployments of service ?1, env
/// ?2 that finished in [?3, ?4). Each commit counts once (SPEC §3): `deploy`
/// stores only commits new to the service+env, and recording an earlier
/// deployment late takes its commits from the later ones (`insert_deployment`).
const REPORT_LEAD_TIMES: &str = "SELECT c.lead_time_seconds FROM deployments d JOIN changes c ON c.deployment_seq = d.seq
    WHERE d.service = ?1 AND d.env = ?2 AND d.status = 'success' AND d.finished_at >= ?3 AND d.finished_at < ?4";

/// Whether any deployment, incident or test run names service ?1.
const HAS_SERVICE: &str = "SELECT EXISTS (SELECT 1 FROM deployments WHERE service = ?1)
    OR EXISTS (SELECT 1 FROM incident_services WHERE service = ?1)
    OR EXISTS (SELECT 1 FROM test_runs WHERE service = ?1)";

/// The latest successful deployment of sha ?3 at or before ?4.
const LAST_SUCCESS_OF_SHA: &str = "SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE sha = ?3 AND +service = ?1 AND +env = ?2 AND +status = 'success' AND +finished_at <= ?4
    ORDER BY finished_at DESC, seq DESC LIMIT 1";

/// A stored test result from the seven columns from `at` on: outcome,
/// attempts, failures, passes, flaky, duration, message.
pub(super) fn result_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<TestResult> {
    Ok(TestResult::from_columns(
        &r.get::<_, String>(at)?,
        r.get(at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        r.get(at + 4)?,
        r.get(at + 5)?,
        r.get(at + 6)?,
    ))
}

fn to_ref(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentRef> {
    Ok(DeploymentRef {
        id: r.get(0)?,
        sha: r.get(1)?,
        finished_at: from_millis(r.get(2)?),
        kind: StringEnum::from_stored(&r.get::<_, String>(3)?),
        seq: r.get(4)?,
    })
}

impl ReadTx for Tx<'_> {
    fn previous_success(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {REF_COLUMNS} FROM deployments WHERE service = ?1 AND env = ?2 AND status = 'success'
                 AND finished_at <= ?3 ORDER BY finished_at DESC, seq DESC LIMIT 1"
            ))
            .and_then(|mut stmt| stmt.query_row(params![service, env, to_millis(at)], to_ref))
            .optional()
            .map_err(self.err("find the previous deployment"))
    }

    fn last_success_of_sha(
        &self,
        service: &str,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.conn
            .prepare_cached(LAST_SUCCESS_OF_SHA)
            .and_then(|mut stmt| stmt.query_row(params![service, env, sha, to_millis(at)], to_ref))
            .optional()
            .map_err(self.err("find earlier deployments of the sha"))
    }

    fn successes_after(
        &self,
        service: &str,
        env: &str,
        after: &DeploymentRef,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REF_COLUMNS} FROM deployments WHERE service = ?1 AND env = ?2 AND status = 'success'
                 AND (finished_at > ?3 OR (finished_at = ?3 AND seq > ?4)) AND finished_at <= ?5
                 ORDER BY finished_at, seq"
            ))
            .map_err(self.err("list later deployments"))?;
        let rows = stmt
            .query_map(
                params![
                    service,
                    env,
                    to_millis(after.finished_at),
                    after.seq,
                    to_millis(at)
                ],
                to_ref,
            )
            .map_err(self.err("list later deployments"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err("list later deployments"))
    }

    fn successes_before(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REF_COLUMNS} FROM deployments WHERE service = ?1 AND env = ?2 AND status = 'success'
                 AND finished_at <= ?3 ORDER BY finished_at DESC, seq DESC LIMIT ?4"
            ))
            .map_err(self.err("list earlier deployments"))?;
        let rows = stmt
            .query_map(params![service, env, to_millis(at), limit as i64], to_ref)
            .map_err(self.err("list earlier deployments"))?;
        let mut out: Vec<DeploymentRef> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("list earlier deployments"))?;
        out.reverse();
        Ok(out)
    }

    fn deployment_shipping(
        &self,
        service: &str,
        env: &str,
        sha: &str,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        // Two index lookups (deployed sha; shipped change) rather than one OR
        // that would defeat both indexes.
        self.conn
            .prepare_cached(DEPLOYMENT_SHIPPING)
            .and_then(|mut stmt| stmt.query_row(params![service, env, sha], to_ref))
            .optional()
            .map_err(self.err("find the deployment that shipped a commit"))
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let err = self.err("read a deployment");
        let row = self
            .conn
            .query_row(
                "SELECT seq, id, service, env, repository_url, sha, previous_sha, started_at, finished_at, status, kind,
                        version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from, lead_time_note,
                        clamped_changes, truncated, ref_name
                 FROM deployments WHERE id = ?1",
                [id],
                |r| {
                    let tags: String = r.get(16)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        Deployment {
                            id: r.get(1)?,
                            service: r.get(2)?,
                            env: r.get(3)?,
                            repository_url: r.get(4)?,
                            sha: r.get(5)?,
                            previous_sha: r.get(6)?,
                            started_at: from_millis(r.get(7)?),
                            finished_at: from_millis(r.get(8)?),
                            status: StringEnum::from_stored(&r.get::<_, String>(9)?),
                            kind: StringEnum::from_stored(&r.get::<_, String>(10)?),
                            version: r.get(11)?,
                            ref_name: r.get(21)?,
                            team: r.get(12)?,
                            pipeline_id: r.get(13)?,
                            pipeline_url: r.get(14)?,
                            deployed_by: r.get(15)?,
                            tags: serde_json::from_str::<BTreeMap<String, String>>(&tags).unwrap_or_default(),
                            lead_time_from: StringEnum::from_stored(&r.get::<_, String>(17)?),
                            lead_time_note: r.get::<_, Option<String>>(18)?.and_then(|s| s.parse().ok()),
                            clamped_changes: r.get(19)?,
                            truncated: r.get(20)?,
                            changes: Vec::new(),
                            remediates: Vec::new(),
                        },
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let Some((seq, mut d)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sha, authored_at, committed_at, lead_time_seconds FROM changes WHERE deployment_seq = ?1")
            .map_err(self.err("read changes"))?;
        d.changes = stmt
            .query_map([seq], |r| {
                Ok(Change {
                    sha: r.get(0)?,
                    authored_at: from_millis(r.get(1)?),
                    committed_at: from_millis(r.get(2)?),
                    lead_time_seconds: r.get(3)?,
                })
            })
            .map_err(self.err("read changes"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("read changes"))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT target_id, reason, commit_sha FROM remediations WHERE deployment_seq = ?1 ORDER BY target_id")
            .map_err(self.err("read remediations"))?;
        d.remediates = stmt
            .query_map([seq], |r| {
                Ok(Remediation {
                    deployment_id: r.get(0)?,
                    reason: StringEnum::from_stored(&r.get::<_, String>(1)?),
                    commit: r.get(2)?,
                })
            })
            .map_err(self.err("read remediations"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("read remediations"))?;
        Ok(Some(d))
    }

    fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT seq, id, env, started_at, detected_at, resolved_at, severity, title, cause, deployment_id, deployment_sha
                 FROM incidents WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        Incident {
                            id: r.get(1)?,
                            services: Vec::new(),
                            env: r.get(2)?,
                            started_at: from_millis(r.get(3)?),
                            detected_at: r.get::<_, Option<i64>>(4)?.map(from_millis),
                            resolved_at: r.get::<_, Option<i64>>(5)?.map(from_millis),
                            severity: r.get(6)?,
                            title: r.get(7)?,
                            cause: StringEnum::from_stored(&r.get::<_, String>(8)?),
                            deployment_id: r.get(9)?,
                            deployment_sha: r.get(10)?,
                        },
                    ))
                },
            )
            .optional()
            .map_err(self.err("read an incident"))?;
        let Some((seq, mut i)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT service FROM incident_services WHERE incident_seq = ?1 ORDER BY service",
            )
            .map_err(self.err("read incident services"))?;
        i.services = stmt
            .query_map([seq], |r| r.get(0))
            .map_err(self.err("read incident services"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("read incident services"))?;
        Ok(Some(i))
    }

    fn service_envs(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT service, env FROM deployments
                 UNION SELECT s.service, i.env FROM incident_services s JOIN incidents i ON i.seq = s.incident_seq
                 ORDER BY 1, 2",
            )
            .map_err(self.err("list services"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err("list services"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err("list services"))
    }

    fn test_services(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT service FROM test_runs ORDER BY 1")
            .map_err(self.err("list services with test runs"))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err("list services with test runs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err("list services with test runs"))
    }

    fn has_service(&self, service: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(HAS_SERVICE)
            .and_then(|mut stmt| stmt.query_row([service], |r| r.get(0)))
            .map_err(self.err("look up the service"))
    }

    fn lead_times(&self, service: &str, env: &str, window: Window) -> Result<Vec<i64>, StoreError> {
        let err = || self.err("load lead times");
        let mut stmt = self.conn.prepare_cached(REPORT_LEAD_TIMES).map_err(err())?;
        let mut rows = stmt
            .query(params![
                service,
                env,
                to_millis(window.since),
                to_millis(window.until)
            ])
            .map_err(err())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(err())? {
            out.push(r.get(0).map_err(err())?);
        }
        Ok(out)
    }

    fn lead_time_histogram(
        &self,
        service: &str,
        env: &str,
        bounds: &[f64],
    ) -> Result<crate::store::Histogram, StoreError> {
        let err = || self.err("count lead times");
        // SQLite reads `$1` as a named parameter bound by position too.
        let sql = crate::store::lead_time_histogram_sql(bounds);
        let n = bounds.len();
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_row(params![service, env], |r| {
                    let mut at_most = Vec::with_capacity(n);
                    for i in 0..n {
                        at_most.push(r.get::<_, i64>(i)?.max(0) as u64);
                    }
                    Ok(crate::store::Histogram {
                        at_most,
                        sum: r.get::<_, i64>(n)? as f64,
                        count: r.get::<_, i64>(n + 1)?.max(0) as u64,
                    })
                })
            })
            .map_err(err())
    }

    fn flaky_at_sha(
        &self,
        service: &str,
        sha: &str,
        limit: usize,
    ) -> Result<Vec<FlakyAtSha>, StoreError> {
        let err = || self.err("load this commit's flaky tests");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.classname, r.name, sum(r.attempts), sum(r.failures)
                 FROM test_runs t JOIN test_results r ON r.run_seq = t.seq
                 WHERE t.service = ?1 AND t.sha = ?2 AND r.flaky
                 GROUP BY r.classname, r.name ORDER BY r.classname, r.name LIMIT ?3",
            )
            .map_err(err())?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![service, sha, limit]).map_err(err())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(err())? {
            out.push(FlakyAtSha {
                classname: r.get(0).map_err(err())?,
                name: r.get(1).map_err(err())?,
                attempts: r.get::<_, i64>(2).map_err(err())?.max(0) as u64,
                failures: r.get::<_, i64>(3).map_err(err())?.max(0) as u64,
            });
        }
        Ok(out)
    }

    fn test_run(&self, id: &str) -> Result<Option<TestRun>, StoreError> {
        self.test_run_row(id)
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
        let context = "list a commit's test runs";
        let mut stmt = self
            .conn
            .prepare_cached(crate::store::list_sql::TEST_RUNS_AT)
            .map_err(self.err(context))?;
        let rows = stmt
            .query_map([service, sha], |r| r.get(0))
            .map_err(self.err(context))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err(context))
    }

    fn test_results(&self, run_id: &str) -> Result<Vec<StoredResult>, StoreError> {
        let err = || self.err("read a test run's results");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.classname, r.name, r.outcome, r.attempts, r.failures, r.passes, r.flaky, r.duration, r.message
                 FROM test_runs t JOIN test_results r ON r.run_seq = t.seq
                 WHERE t.id = ?1 ORDER BY r.classname, r.name",
            )
            .map_err(err())?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(StoredResult {
                    classname: r.get(0)?,
                    name: r.get(1)?,
                    result: result_at(r, 2)?,
                })
            })
            .map_err(err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(err())
    }

    fn test_history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError> {
        self.history(service, window, infra_percent)
    }

    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM cursors WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read an import cursor"))
    }

    fn sources_state(&self) -> Result<SourcesState, StoreError> {
        const WHAT: &str = "read the cursors and the cached pull request commits";
        let cursors = self
            .conn
            .prepare("SELECT source, value FROM cursors ORDER BY source")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.err(WHAT))?;
        let shas = self
            .conn
            .prepare("SELECT sha FROM pull_commits ORDER BY sha")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(self.err(WHAT))?;
        Ok(SourcesState {
            cursors,
            pull_commits: self.pull_commits(&shas)?,
        })
    }

    fn pull_commits(&self, shas: &[String]) -> Result<Vec<PullCommits>, StoreError> {
        const WHAT: &str = "read the cached pull request commits";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT forge, number, commits FROM pull_commits WHERE sha = ?1")
            .map_err(self.err(WHAT))?;
        let mut out = Vec::new();
        for sha in shas {
            let row = stmt
                .query_row([sha], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .optional()
                .map_err(self.err(WHAT))?;
            if let Some((forge, number, commits)) = row {
                out.push(PullCommits {
                    sha: sha.clone(),
                    forge,
                    number: number.map(|n| n as u64),
                    commits: serde_json::from_str(&commits).map_err(|e| StoreError::Corrupt {
                        path: self.path.to_string(),
                        source: Box::new(e),
                    })?,
                });
            }
        }
        Ok(out)
    }

    fn report_facts(
        &self,
        service: &str,
        env: &str,
        window: Window,
        from: DateTime<Utc>,
    ) -> Result<ReportFacts, StoreError> {
        let err = || self.err("load report data");
        let mut facts = ReportFacts::default();
        let from = to_millis(from);
        facts.first_deployment = self
            .conn
            .prepare_cached(
                "SELECT MIN(finished_at) FROM deployments WHERE service = ?1 AND env = ?2",
            )
            .and_then(|mut s| s.query_row(params![service, env], |r| r.get::<_, Option<i64>>(0)))
            .map_err(err())?
            .map(from_millis);

        let mut remediates: HashMap<i64, Vec<String>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.deployment_seq, r.target_id FROM remediations r JOIN deployments d ON d.seq = r.deployment_seq
                 WHERE d.service = ?1 AND d.env = ?2 AND d.finished_at >= ?3",
            )
            .map_err(err())?;
        let mut rows = stmt.query(params![service, env, from]).map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            remediates
                .entry(r.get(0).map_err(err())?)
                .or_default()
                .push(r.get(1).map_err(err())?);
        }

        let mut stmt = self
            .conn
            .prepare("SELECT seq, id, finished_at, status, kind, lead_time_note FROM deployments WHERE service = ?1 AND env = ?2 AND finished_at >= ?3")
            .map_err(err())?;
        let mut rows = stmt.query(params![service, env, from]).map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            let seq: i64 = r.get(0).map_err(err())?;
            let status: String = r.get(3).map_err(err())?;
            facts.deployments.push(DeploymentFact {
                id: r.get(1).map_err(err())?,
                finished_at: from_millis(r.get(2).map_err(err())?),
                success: status == "success",
                kind: StringEnum::from_stored(&r.get::<_, String>(4).map_err(err())?),
                remediates: remediates.remove(&seq).unwrap_or_default(),
                history_missing: r
                    .get::<_, Option<String>>(5)
                    .map_err(err())?
                    .and_then(|n| n.parse::<LeadTimeNote>().ok())
                    .is_some_and(LeadTimeNote::history_missing),
            });
        }

        facts.lead_times = self.lead_times(service, env, window)?;

        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.id, i.started_at, i.resolved_at, i.cause, i.deployment_id, i.deployment_sha
                 FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq
                 WHERE s.service = ?1 AND i.env = ?2",
            )
            .map_err(err())?;
        let mut rows = stmt.query(params![service, env]).map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            let by_id: Option<String> = r.get(4).map_err(err())?;
            let by_sha: Option<String> = r.get(5).map_err(err())?;
            // Only incidents linked by sha need a lookup: resolving it inside
            // the query would scan every deployment for every incident.
            let explicit_deployment = match (&by_id, &by_sha) {
                (Some(id), _) => Some(id.clone()),
                (None, Some(sha)) => self.deployment_shipping(service, env, sha)?.map(|d| d.id),
                (None, None) => None,
            };
            facts.incidents.push(IncidentFact {
                id: r.get(0).map_err(err())?,
                started_at: from_millis(r.get(1).map_err(err())?),
                resolved_at: r.get::<_, Option<i64>>(2).map_err(err())?.map(from_millis),
                cause: StringEnum::from_stored(&r.get::<_, String>(3).map_err(err())?),
                explicit_unmatched: explicit_deployment.is_none()
                    && (by_id.is_some() || by_sha.is_some()),
                explicit_deployment,
            });
        }
        Ok(facts)
    }
}

const TEST_RUN_COLUMNS: &str = "id, service, sha, run_id, run_attempt, job, recorded_at, files, tests, runs, passed, failed, errored, skipped, flaky";

fn to_test_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<TestRun> {
    Ok(TestRun {
        id: r.get(0)?,
        service: r.get(1)?,
        sha: r.get(2)?,
        run_id: r.get(3)?,
        run_attempt: r.get(4)?,
        job: r.get(5)?,
        recorded_at: from_millis(r.get(6)?),
        files: r.get(7)?,
        tests: r.get(8)?,
        runs: r.get(9)?,
        passed: r.get(10)?,
        failed: r.get(11)?,
        errored: r.get(12)?,
        skipped: r.get(13)?,
        flaky: r.get(14)?,
    })
}

impl Tx<'_> {
    /// The first column of every row of `sql`, a query without parameters.
    fn ids(&self, sql: &str, context: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err(context))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err(context))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err(context))
    }

    fn test_run_row(&self, id: &str) -> Result<Option<TestRun>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {TEST_RUN_COLUMNS} FROM test_runs WHERE id = ?1"),
                [id],
                to_test_run,
            )
            .optional()
            .map_err(self.err("read a test run"))
    }

    fn history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError> {
        let err = || self.err("load test history");
        // Per test and sha first (for same-sha evidence), then per test.
        let mut stmt = self
            .conn
            .prepare(
                "WITH runs AS (
                    SELECT seq, sha, recorded_at FROM test_runs
                    WHERE service = ?1 AND recorded_at >= ?2 AND recorded_at < ?3
                      AND NOT (tests > 0 AND (failed + errored) * 100.0 > tests * ?4)
                 ), per_sha AS (
                    SELECT r.classname, r.name, t.sha,
                           count(*) AS runs,
                           sum(r.outcome IN ('failed', 'errored')) AS failed_runs,
                           sum(r.flaky) AS retried_runs,
                           max(r.outcome = 'passed') AS passed_any,
                           max(r.outcome IN ('failed', 'errored')) AS failed_any,
                           min(t.recorded_at) AS first_seen,
                           max(t.recorded_at) AS last_seen
                    FROM runs t JOIN test_results r ON r.run_seq = t.seq
                    WHERE r.outcome != 'skipped'
                    GROUP BY r.classname, r.name, t.sha
                 )
                 SELECT classname, name, sum(runs), sum(failed_runs), sum(retried_runs),
                        sum(sha IS NOT NULL AND passed_any AND failed_any), min(first_seen), max(last_seen)
                 FROM per_sha GROUP BY classname, name ORDER BY classname, name",
            )
            .map_err(err())?;
        let rows = stmt
            .query_map(
                params![
                    service,
                    to_millis(window.since),
                    to_millis(window.until),
                    infra_percent
                ],
                |r| {
                    Ok(TestHistory {
                        classname: r.get(0)?,
                        name: r.get(1)?,
                        runs: r.get(2)?,
                        failed_runs: r.get(3)?,
                        retried_runs: r.get(4)?,
                        mixed_shas: r.get(5)?,
                        first_seen: from_millis(r.get(6)?),
                        last_seen: from_millis(r.get(7)?),
                    })
                },
            )
            .map_err(err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(err())
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::store::{Access, SqliteStore};

    /// Regression: sha lookups scanned every deployment of the service (the
    /// planner preferred the timeline index), which made `report` over 100k
    /// deployments with sha-linked incidents take minutes.
    #[test]
    fn sha_lookups_use_the_sha_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db"), Access::ReadWrite).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = stmt
                .query_map(params!["api", "production", "abc", 0i64], |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
        };
        let p = plan(&DEPLOYMENT_SHIPPING.replace("?3 AND", "?3 AND ?4 = ?4 AND"));
        assert!(
            p.contains("deployments_sha")
                && p.contains("changes_sha")
                && !p.contains("deployments_timeline"),
            "{p}"
        );
        let p = plan(LAST_SUCCESS_OF_SHA);
        assert!(
            p.contains("deployments_sha") && !p.contains("deployments_timeline"),
            "{p}"
        );
    }
}
