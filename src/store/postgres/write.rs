//! Inserts and upserts: the `WriteTx` half of the PostgreSQL store. Test
//! results go through the buffer of `batch`.

use chrono::{DateTime, Utc};

use super::tx::{Tx, get, ms};
use crate::event::{Deployment, DeploymentStatus, Incident, TestRun};
use crate::junit::Entry;
use crate::store::results::to_sql_count;
use crate::store::{StoreError, WriteTx};

const INSERT_DEPLOYMENT: &str = "INSERT INTO deployments (id, service, env, repository_url, sha, previous_sha, started_at,
        finished_at, status, kind, version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from,
        lead_time_note, clamped_changes, truncated, recorded_at, ref_name)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::text::jsonb, $17, $18, $19, $20, $21, $22)
    ON CONFLICT (id) DO NOTHING
    RETURNING seq";

const INSERT_CHANGES: &str =
    "INSERT INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
    SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
    ON CONFLICT DO NOTHING";

const INSERT_REMEDIATIONS: &str =
    "INSERT INTO remediations (deployment_seq, target_id, reason, commit_sha)
    SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
    ON CONFLICT DO NOTHING";

/// A deployment recorded after later ones takes its commits' samples from
/// them: the commits count at the first deployment that shipped them.
const TAKE_SAMPLES_FROM_LATER: &str = "DELETE FROM changes c USING deployments d
    WHERE c.sha = ANY($4::text[]) AND d.seq = c.deployment_seq
    AND d.service = $1 AND d.env = $2 AND d.status = 'success' AND d.finished_at > $3";

/// The other half: the deployment just inserted keeps no commit an earlier
/// successful deployment shipped (see the SQLite store).
const DROP_SAMPLES_SHIPPED_EARLIER: &str = "DELETE FROM changes c WHERE c.deployment_seq = $1 AND (
        EXISTS (SELECT 1 FROM changes e JOIN deployments ed ON ed.seq = e.deployment_seq
            WHERE e.sha = c.sha AND e.deployment_seq <> $1 AND ed.service = $2 AND ed.env = $3
            AND ed.status = 'success' AND ed.finished_at < $4)
        OR EXISTS (SELECT 1 FROM deployments ed WHERE ed.sha = c.sha AND ed.service = $2
            AND ed.env = $3 AND ed.status = 'success' AND ed.finished_at < $4))";

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
                &d.ref_name,
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
            let commits: Vec<Option<&str>> =
                d.remediates.iter().map(|r| r.commit.as_deref()).collect();
            self.query(
                INSERT_REMEDIATIONS,
                &[&seq, &targets, &reasons, &commits],
                context,
            )?;
        }
        if d.status == DeploymentStatus::Success {
            // Each commit counts once (SPEC §3): see the SQLite store.
            let shipped: Vec<&str> = d
                .changes
                .iter()
                .map(|c| c.sha.as_str())
                .chain([d.sha.as_str()])
                .collect();
            self.query(
                TAKE_SAMPLES_FROM_LATER,
                &[&d.service, &d.env, &ms(d.finished_at), &shipped],
                context,
            )?;
            self.query(
                DROP_SAMPLES_SHIPPED_EARLIER,
                &[&seq, &d.service, &d.env, &ms(d.finished_at)],
                context,
            )?;
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
        self.buffer_result(run_seq, e)
    }
}
