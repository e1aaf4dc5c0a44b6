//! Inserts and upserts: the `WriteTx` half of the PostgreSQL store. Test
//! results go through the buffer of `batch`.

use chrono::{DateTime, Utc};

use super::tx::{Tx, get, ms};
use crate::event::{Deployment, Incident, TestRun};
use crate::junit::Entry;
use crate::store::results::to_sql_count;
use crate::store::{PullCommits, StoreError, WriteTx};

/// See [`insert_deployment_sql`].
const INSERT_DEPLOYMENT: &str = insert_deployment_sql!();

const UPSERT_INCIDENT: &str =
    "INSERT INTO incidents (id, env, started_at, detected_at, resolved_at, severity, title, cause,
        deployment_id, deployment_sha, recorded_at, updated_at, service)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
    ON CONFLICT (id) DO UPDATE SET env = excluded.env, started_at = excluded.started_at,
        detected_at = excluded.detected_at, resolved_at = excluded.resolved_at,
        severity = excluded.severity, title = excluded.title, cause = excluded.cause,
        deployment_id = excluded.deployment_id, deployment_sha = excluded.deployment_sha,
        updated_at = excluded.updated_at, service = excluded.service
    RETURNING seq";

const INSERT_TEST_RUN: &str =
    "INSERT INTO test_runs (id, service, sha, run_id, run_attempt, job, recorded_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING seq";

const UPDATE_TEST_RUN_COUNTS: &str =
    "UPDATE test_runs SET files = $2, tests = $3, runs = $4, passed = $5, failed = $6,
        errored = $7, skipped = $8, flaky = $9 WHERE seq = $1";

impl WriteTx for Tx<'_> {
    fn insert_deployment(&mut self, d: &Deployment) -> Result<bool, StoreError> {
        self.wrote();
        let tags = serde_json::to_string(&d.tags).unwrap_or_else(|_| "{}".into());
        // The deployed commit counts as shipped too (see `taken`).
        let shipped: Vec<&str> = d
            .changes
            .iter()
            .map(|c| c.sha.as_str())
            .chain([d.sha.as_str()])
            .collect();
        let shas: Vec<&str> = d.changes.iter().map(|c| c.sha.as_str()).collect();
        let authored: Vec<DateTime<Utc>> = d.changes.iter().map(|c| ms(c.authored_at)).collect();
        let committed: Vec<DateTime<Utc>> = d.changes.iter().map(|c| ms(c.committed_at)).collect();
        let lead: Vec<i64> = d.changes.iter().map(|c| c.lead_time_seconds).collect();
        let targets: Vec<&str> = d
            .remediates
            .iter()
            .map(|r| r.deployment_id.as_str())
            .collect();
        let reasons: Vec<&str> = d.remediates.iter().map(|r| r.reason.as_str()).collect();
        let commits: Vec<Option<&str>> = d.remediates.iter().map(|r| r.commit.as_deref()).collect();
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
                &d.ref_name,
                &shipped,
                &shas,
                &authored,
                &committed,
                &lead,
                &targets,
                &reasons,
                &commits,
            ],
            "record the deployment",
        )?;
        if row.is_some() {
            self.recorded();
        }
        Ok(row.is_some())
    }

    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        self.wrote();
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
                // The first service: seed 001's one-service shape of an
                // incident (`dora_compat.incidents`); incident_services
                // keeps them all.
                &i.services.first(),
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
        self.wrote();
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
        self.wrote();
        self.flush()?;
        self.query(
            UPDATE_TEST_RUN_COUNTS,
            &[
                &run_seq,
                &to_sql_count(run.files),
                &to_sql_count(run.tests),
                &to_sql_count(run.runs),
                &to_sql_count(run.passed),
                &to_sql_count(run.failed),
                &to_sql_count(run.errored),
                &to_sql_count(run.skipped),
                &to_sql_count(run.flaky),
            ],
            "record the test run counts",
        )?;
        Ok(())
    }

    fn begin_file(&mut self) -> Result<(), StoreError> {
        self.wrote();
        self.flush()?;
        self.exec("SAVEPOINT junit_file", "start a file")
    }

    fn end_file(&mut self, keep: bool) -> Result<(), StoreError> {
        if keep {
            self.flush()?;
            self.exec("RELEASE junit_file", "finish a file")
        } else {
            // What is still buffered belongs to the file being dropped.
            self.discard_pending();
            self.exec(
                "ROLLBACK TO junit_file; RELEASE junit_file",
                "finish a file",
            )
        }
    }

    fn add_test_entry(&mut self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        // Not `wrote`: a test run's entries follow its `insert_test_run`,
        // which did; this is the hot path of a 160 MB report.
        self.buffer_result(run_seq, e)
    }

    fn set_cursor(&mut self, source: &str, value: &str) -> Result<(), StoreError> {
        self.wrote();
        self.query(
            "INSERT INTO cursors (source, value) VALUES ($1, $2)
             ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = now()",
            &[&source, &value],
            "store an import cursor",
        )
        .map(|_| ())
    }

    fn set_pull_commits(&mut self, p: &PullCommits) -> Result<(), StoreError> {
        self.wrote();
        let commits = serde_json::to_string(&p.commits).unwrap_or_else(|_| "[]".into());
        let number = p.number.map(|n| n as i64);
        self.query(
            "INSERT INTO pull_commits (sha, forge, number, commits) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sha) DO UPDATE SET forge = excluded.forge, number = excluded.number,
               commits = excluded.commits, fetched_at = now()",
            &[&p.sha, &p.forge, &number, &commits],
            "store a pull request's commits",
        )
        .map(|_| ())
    }
}
