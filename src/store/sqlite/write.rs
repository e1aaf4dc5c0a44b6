//! Inserts and upserts: the `WriteTx` half of the SQLite store.

use chrono::Utc;
use rusqlite::params;

use super::store::Tx;
use crate::event::{Deployment, DeploymentStatus, Incident, TestRun};
use crate::junit::{Entry, Tally};
use crate::store::results::{TestResult, to_sql_count};
use crate::store::{PullCommits, StoreError, WriteTx};
use crate::time::to_millis;

impl Tx<'_> {
    /// Whether a successful deployment of `d`'s service+env finished after
    /// (`later`) or before it: one index probe.
    fn any_success(&self, d: &Deployment, later: bool) -> Result<bool, StoreError> {
        let sql = if later {
            "SELECT EXISTS (SELECT 1 FROM deployments WHERE service = ?1 AND env = ?2
             AND status = 'success' AND finished_at > ?3)"
        } else {
            "SELECT EXISTS (SELECT 1 FROM deployments WHERE service = ?1 AND env = ?2
             AND status = 'success' AND finished_at < ?3)"
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_row(params![d.service, d.env, to_millis(d.finished_at)], |r| {
                    r.get(0)
                })
            })
            .map_err(self.err("count each commit once"))
    }

    /// Each commit counts once, at the first deployment that shipped it
    /// (SPEC §3), whatever order deployments are inserted in. For `d`, just
    /// inserted as `seq`, two halves, each skipped after one index probe
    /// when no successful deployment finished on that side of it:
    ///
    /// - a deployment recorded after later ones (out of order, a backfilled
    ///   tag, a bulk load latest first) takes its commits' samples from
    ///   them;
    /// - it keeps no commit an earlier one shipped. `deploy` leaves those
    ///   out already; a deployment recorded from a stale view (two jobs at
    ///   once on the git store, a spooled write) may not have.
    fn count_each_commit_once(&mut self, seq: i64, d: &Deployment) -> Result<(), StoreError> {
        let err = || self.err("count each commit once");
        let at = to_millis(d.finished_at);
        if self.any_success(d, true)? {
            // One statement for all of `d`'s commits: by the sha first (a
            // few rows each), then each row's deployment by its key.
            self.conn
                .prepare_cached(
                    "DELETE FROM changes WHERE deployment_seq <> ?4
                     AND sha IN (SELECT sha FROM changes WHERE deployment_seq = ?4 UNION SELECT ?5)
                     AND EXISTS (SELECT 1 FROM deployments d WHERE d.seq = changes.deployment_seq
                        AND d.service = ?1 AND d.env = ?2 AND d.status = 'success' AND d.finished_at > ?3)",
                )
                .and_then(|mut stmt| stmt.execute(params![d.service, d.env, at, seq, d.sha]))
                .map_err(err())?;
        }
        if self.any_success(d, false)? {
            self.conn
                .prepare_cached(
                    // By the sha first (a few rows), never along the service's
                    // timeline (every earlier deployment, per commit: what
                    // SQLite's planner, which has no statistics, chose):
                    // `CROSS JOIN` fixes the order, `+` keeps the timeline
                    // index out, as the read queries do.
                    "DELETE FROM changes WHERE deployment_seq = ?1 AND (
                        EXISTS (SELECT 1 FROM changes e CROSS JOIN deployments ed ON ed.seq = e.deployment_seq
                            WHERE e.sha = changes.sha AND e.deployment_seq <> ?1 AND +ed.service = ?2
                            AND +ed.env = ?3 AND +ed.status = 'success' AND +ed.finished_at < ?4)
                        OR EXISTS (SELECT 1 FROM deployments ed WHERE ed.sha = changes.sha
                            AND +ed.service = ?2 AND +ed.env = ?3 AND +ed.status = 'success'
                            AND +ed.finished_at < ?4))",
                )
                .and_then(|mut stmt| stmt.execute(params![seq, d.service, d.env, at]))
                .map_err(err())?;
        }
        Ok(())
    }
}

impl WriteTx for Tx<'_> {
    fn insert_deployment(&mut self, d: &Deployment) -> Result<bool, StoreError> {
        let err = || self.err("record the deployment");
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO deployments (id, service, env, repository_url, sha, previous_sha, started_at, finished_at,
                    status, kind, version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from,
                    lead_time_note, clamped_changes, truncated, recorded_at, ref_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
                 ON CONFLICT (id) DO NOTHING",
            )
            .map_err(err())?
            .execute(params![
                d.id,
                d.service,
                d.env,
                d.repository_url,
                d.sha,
                d.previous_sha,
                to_millis(d.started_at),
                to_millis(d.finished_at),
                d.status.as_str(),
                d.kind.as_str(),
                d.version,
                d.team,
                d.pipeline_id,
                d.pipeline_url,
                d.deployed_by,
                serde_json::to_string(&d.tags).unwrap_or_else(|_| "{}".into()),
                d.lead_time_from.as_str(),
                d.lead_time_note.map(|n| n.as_str()),
                d.clamped_changes,
                d.truncated,
                to_millis(Utc::now()),
                d.ref_name,
            ])
            .map_err(err())?;
        if inserted == 0 {
            return Ok(false);
        }
        let seq = self.conn.last_insert_rowid();
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(err())?;
        for c in &d.changes {
            stmt.execute(params![
                seq,
                c.sha,
                to_millis(c.authored_at),
                to_millis(c.committed_at),
                c.lead_time_seconds
            ])
            .map_err(err())?;
        }
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO remediations (deployment_seq, target_id, reason, commit_sha) VALUES (?1, ?2, ?3, ?4)")
            .map_err(err())?;
        for r in &d.remediates {
            stmt.execute(params![seq, r.deployment_id, r.reason.as_str(), r.commit])
                .map_err(err())?;
        }
        if d.status == DeploymentStatus::Success {
            self.count_each_commit_once(seq, d)?;
        }
        Ok(true)
    }

    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        let err = || self.err("record the incident");
        let now = to_millis(Utc::now());
        let seq: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO incidents (id, env, started_at, detected_at, resolved_at, severity, title, cause,
                    deployment_id, deployment_sha, recorded_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
                 ON CONFLICT (id) DO UPDATE SET env = excluded.env, started_at = excluded.started_at,
                    detected_at = excluded.detected_at, resolved_at = excluded.resolved_at,
                    severity = excluded.severity, title = excluded.title, cause = excluded.cause,
                    deployment_id = excluded.deployment_id, deployment_sha = excluded.deployment_sha,
                    updated_at = excluded.updated_at
                 RETURNING seq",
            )
            .map_err(err())?
            .query_row(
                params![
                    i.id,
                    i.env,
                    to_millis(i.started_at),
                    i.detected_at.map(to_millis),
                    i.resolved_at.map(to_millis),
                    i.severity,
                    i.title,
                    i.cause.as_str(),
                    i.deployment_id,
                    i.deployment_sha,
                    now,
                ],
                |r| r.get(0),
            )
            .map_err(err())?;
        self.conn
            .prepare_cached("DELETE FROM incident_services WHERE incident_seq = ?1")
            .map_err(err())?
            .execute([seq])
            .map_err(err())?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO incident_services (service, incident_seq) VALUES (?1, ?2)",
            )
            .map_err(err())?;
        for s in &i.services {
            stmt.execute(params![s, seq]).map_err(err())?;
        }
        Ok(())
    }

    fn insert_test_run(&mut self, run: &TestRun) -> Result<Option<i64>, StoreError> {
        let inserted = self
            .conn
            .execute(
                "INSERT INTO test_runs (id, service, sha, run_id, run_attempt, job, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                params![
                    run.id,
                    run.service,
                    run.sha,
                    run.run_id,
                    run.run_attempt,
                    run.job,
                    to_millis(run.recorded_at)
                ],
            )
            .map_err(self.err("record the test run"))?;
        Ok((inserted > 0).then(|| self.conn.last_insert_rowid()))
    }

    fn update_test_run_counts(&mut self, run_seq: i64, run: &TestRun) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE test_runs SET files = ?2, tests = ?3, runs = ?4, passed = ?5, failed = ?6, errored = ?7,
                    skipped = ?8, flaky = ?9 WHERE seq = ?1",
                params![run_seq, run.files, run.tests, run.runs, run.passed, run.failed, run.errored, run.skipped, run.flaky],
            )
            .map_err(self.err("record the test run counts"))?;
        Ok(())
    }

    fn begin_file(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("SAVEPOINT junit_file")
            .map_err(self.err("start a file"))
    }

    fn end_file(&mut self, keep: bool) -> Result<(), StoreError> {
        let sql = if keep {
            "RELEASE junit_file"
        } else {
            "ROLLBACK TO junit_file; RELEASE junit_file"
        };
        self.conn
            .execute_batch(sql)
            .map_err(self.err("finish a file"))
    }

    fn add_test_entry(&mut self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        let t = Tally::of(e.attempts);
        // The message is bound borrowed: no allocation per test on the hot path.
        if self.put_result(INSERT_RESULT, run_seq, e, &t, e.time(), e.message)? == 0 {
            self.merge_test_result(run_seq, e)?;
        }
        Ok(())
    }

    fn set_cursor(&mut self, source: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO cursors (source, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![source, value, to_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(self.err("store an import cursor"))
    }

    fn set_pull_commits(&mut self, p: &PullCommits) -> Result<(), StoreError> {
        let commits = serde_json::to_string(&p.commits).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "INSERT INTO pull_commits (sha, forge, number, commits, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sha) DO UPDATE SET forge = excluded.forge, number = excluded.number,
                   commits = excluded.commits, fetched_at = excluded.fetched_at",
                params![p.sha, p.forge, p.number.map(|n| n as i64), commits, to_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(self.err("store a pull request's commits"))
    }
}

/// A new test of the run; nothing when the run already holds it.
const INSERT_RESULT: &str = "INSERT INTO test_results (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
     ON CONFLICT (run_seq, classname, name) DO NOTHING";
/// The merged row of a test the run already held (same parameters).
const UPDATE_RESULT: &str =
    "UPDATE test_results SET outcome = ?4, attempts = ?5, failures = ?6, passes = ?7, flaky = ?8,
        duration = ?9, message = ?10
     WHERE run_seq = ?1 AND classname = ?2 AND name = ?3";

impl Tx<'_> {
    /// Runs `sql` (`INSERT_RESULT` or `UPDATE_RESULT`) for one test's row.
    fn put_result(
        &self,
        sql: &str,
        run_seq: i64,
        e: &Entry<'_>,
        t: &Tally,
        duration: Option<f64>,
        message: Option<&str>,
    ) -> Result<usize, StoreError> {
        let err = || self.err("record a test result");
        self.conn
            .prepare_cached(sql)
            .map_err(err())?
            .execute(params![
                run_seq,
                e.classname,
                e.name,
                t.outcome.as_str(),
                to_sql_count(t.attempts),
                to_sql_count(t.failures),
                to_sql_count(t.passes),
                t.flaky,
                duration,
                message
            ])
            .map_err(err())
    }

    /// The run already holds this test: merges the entry into its row.
    fn merge_test_result(&self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        let mut row = self
            .conn
            .prepare_cached(
                "SELECT outcome, attempts, failures, passes, flaky, duration, message FROM test_results
                 WHERE run_seq = ?1 AND classname = ?2 AND name = ?3",
            )
            .map_err(self.err("record a test result"))?
            .query_row(params![run_seq, e.classname, e.name], |r| {
                super::read::result_at(r, 0)
            })
            .map_err(self.err("record a test result"))?;
        row.merge(TestResult::of(e));
        let message = row.message.as_deref();
        self.put_result(UPDATE_RESULT, run_seq, e, &row.tally, row.duration, message)?;
        Ok(())
    }
}
